#!/usr/bin/env node
// The package names are one setting: the npm scope. `node scripts/set-scope.mjs @yourcompany`
// renames `@earnbook/…` to `@yourcompany/…` in every file git tracks (manifests, imports,
// documents, scripts), then asks you to reinstall so the lockfile follows. Until the
// `@earnbook` scope is claimed on the public registry, a partner can publish the packages to
// its private registry under its own scope this way.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SCOPE_PATTERN = /^@[a-z0-9][a-z0-9._-]{0,213}$/;
const current = JSON.parse(readFileSync(join(ROOT, 'packages', 'ledger', 'package.json'), 'utf8')).name.split('/')[0];
const wanted = process.argv[2];
if (wanted === undefined || !SCOPE_PATTERN.test(wanted)) {
  console.error(`usage: node scripts/set-scope.mjs @scope   (now ${current}; a scope is @ then lowercase letters, digits, ".", "_" or "-")`);
  process.exit(2);
}
if (wanted === current) {
  console.log(`the scope is already ${current}`);
  process.exit(0);
}
const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((file) => file !== '' && file !== 'pnpm-lock.yaml');
let changed = 0;
for (const file of files) {
  const path = join(ROOT, file);
  const buffer = readFileSync(path);
  if (buffer.includes(0)) continue; // binary
  const text = buffer.toString('utf8');
  const next = text.split(`${current}/`).join(`${wanted}/`);
  if (next !== text) {
    writeFileSync(path, next);
    changed += 1;
  }
}
console.log(`renamed ${current}/ to ${wanted}/ in ${changed} files; now run: npx -y pnpm@10.34.8 install`);
