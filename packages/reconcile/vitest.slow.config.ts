import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The slow tests (a 2M-entry report larger than V8's longest string, the entry count at the
// contract's limit, a 1M-entry report rejected at entry 999,999): `pnpm test:slow` alone;
// `pnpm test` (scripts/test-all.mjs) runs them beside the suite, whose one worker (two cores,
// vitest uses cores - 1) would otherwise wait on them for about two minutes.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: { name: 'reconcile-slow', include: ['test/**/*.slow.ts'], testTimeout: 300_000, hookTimeout: 300_000, pool: 'forks' },
});
