import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // the memory test calls gc() so that Dawn's native objects are collected between rounds
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
