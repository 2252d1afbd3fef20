import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'earn-sandbox',
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60000,
  },
});
