/**
 * Writes `openapi.json` from the contract object in `src/contract/openapi.ts`, the one source.
 * A test fails when the file and the object differ.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderOpenApiJson } from '../src/contract/render.js';

const target = fileURLToPath(new URL('../openapi.json', import.meta.url));
writeFileSync(target, renderOpenApiJson());
console.log(`wrote ${target}`);
