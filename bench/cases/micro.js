'use strict';
// Micro benchmarks of the per-message calls with benchmark.js, in one fresh process (bench/micro/shmring.js).
module.exports = {
  id: 'micro',
  scenario: 'micro',
  runAs: 'micro',
  measure: 'micro',
  title: 'Micro: per-message calls (benchmark.js, one process)',
  prose:
    'benchmark.js suites of single calls in one process: producer and consumer of the same ring live in that ' +
    'process, so costs are without the cross-core cache-line traffic of the other tables.',
  points(profile) {
    return [
      {
        payloadBytes: 32,
        consumers: 0,
        rounds: 1,
        params: { maxTime: profile.quick ? 0.05 : 0.5, minSamples: profile.quick ? 5 : 20 },
        runs: [{ contender: 'shmring', strategy: 'in-process' }],
        ref: { shmring: () => null, c: () => null },
      },
    ];
  },
};
