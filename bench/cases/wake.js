'use strict';
// Wake-up latency of a consumer asleep on the ring's futex, one way: the sender (spinning until each intended send
// time, 250 µs apart so the consumer is surely asleep) writes the intended time into the message; the consumer
// records its wake-up time minus that. native-c is the raw cross-process FUTEX_WAIT/FUTEX_WAKE floor.
const { MIN_TREND_SAMPLES } = require('../saturation');

const RUNS = [
  { contender: 'native-c', strategy: 'futex' },
  { contender: 'shmring', strategy: 'futex' },
  { contender: 'shmring-async', strategy: 'async' },
];

module.exports = {
  id: 'wake',
  scenario: 'wake',
  measure: 'wake',
  title: 'Wake-up latency of a sleeping consumer (one way)',
  /**
   * The next attempt's params after a saturated run (the waiter fell behind): sends 4x further apart; null (stay
   * saturated) when too few samples would be left after the warm-up ones to judge a trend.
   */
  backOff(p) {
    const intervalNs = 4 * p.intervalNs;
    return (p.durationMs * 1e6) / intervalNs - p.warmSamples >= MIN_TREND_SAMPLES ? { intervalNs } : null;
  },
  prose:
    'The consumer sleeps (shmring: `sub.waitSync()` or `await sub.wait()`; native-c: a bare FUTEX_WAIT); the ' +
    'producer sends every 250 µs and the consumer records wake-up time - intended send time. native-c is the raw ' +
    'futex wake floor of this machine. A waiter that falls behind (latency climbing above the interval through the ' +
    'run, or a median above it) is re-run with sends 4× further apart, at most twice, then marked saturated.',
  points(profile) {
    return [
      {
        payloadBytes: 32,
        consumers: 1,
        rounds: 1,
        params: {
          intervalNs: 250_000,
          durationMs: profile.quick ? 150 : 1000,
          maxSamples: 100_000,
          warmSamples: 20,
        },
        runs: RUNS,
        ref: { shmring: () => 'shmring|futex', c: () => 'native-c|futex' },
      },
    ];
  },
};
