import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bff/test/**/*.test.ts', 'demo/test/**/*.test.ts', 'web/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests bind real servers on port 0; files run in parallel, tests within a file in order.
    pool: 'forks',
  },
});
