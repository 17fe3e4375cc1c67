'use strict';
// GC check: a fixed count of 32-byte messages through shmring between two processes; both sides count the GCs
// (PerformanceObserver 'gc' entries) that started while they were sending / receiving. Must be 0.
module.exports = {
  id: 'gc',
  scenario: 'gc',
  runAs: 'throughput',
  measure: 'throughput',
  title: 'GC check: garbage collections while moving messages',
  prose:
    'A fixed number of 32-byte messages through shmring between two processes (after a warm-up of 1M); producer and ' +
    'consumer count the garbage collections that started meanwhile (PerformanceObserver "gc" entries; the ' +
    'consumer from the first message after the warm-up). Must be 0.',
  points(profile) {
    return [
      {
        payloadBytes: 32,
        consumers: 1,
        rounds: 1,
        params: {
          count: profile.quick ? 1_000_000 : 10_000_000,
          warm: profile.quick ? 200_000 : 1_000_000,
          durationMs: 0,
        },
        runs: [
          { contender: 'shmring', strategy: 'spin' },
          { contender: 'shmring-claim', strategy: 'spin' },
          { contender: 'shmring-batch', strategy: 'spin' },
          { contender: 'shmring-m2o', strategy: 'spin' },
        ],
        ref: { shmring: () => 'shmring|spin', c: () => null },
      },
    ];
  },
};
