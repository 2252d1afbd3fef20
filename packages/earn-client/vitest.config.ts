import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'earn-client',
    include: ['test/**/*.test.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    pool: 'threads',
  },
});
