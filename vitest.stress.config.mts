import { defineConfig } from 'vitest/config';

// The stress suite (test/stress/, run by `npm run test:stress`): its own files, one at a time (each case loads both
// cores with its own child processes, and a call over 2 s counts as a hang), no per-test timeout shorter than a case.
export default defineConfig({
  test: {
    include: ['test/stress/**/*.stress.ts'],
    pool: 'forks',
    fileParallelism: false,
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
  },
});
