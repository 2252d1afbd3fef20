#!/usr/bin/env node
// The `earnbook` command: runs src/main.ts through tsx's ESM loader (the workspace ships
// TypeScript sources, not a build).
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/main.ts', import.meta.url).href);
