'use strict';
// Ping-pong with one message in flight between two processes. The pinger sends at intended times
// t0 + i * interval (interval = max(2 µs, 4 x the median round trip of a 100 ms back-to-back warm-up)) and records
// reply time - intended send time, so a stall shows in every sample it delays (no coordinated omission).
// Busy-spin on both sides, and sleeping sides (futex: poll, then sleep until woken; async: `await sub.wait()`).
// shmring-m2o: a request/response pair, requests through a many-to-one ring, replies through a reliable ring.
// A run whose schedule still outran the contender (bench/saturation.js) is re-run with the interval floor at 4x the
// interval it used (bench/run.js, at most twice), then marked saturated.
const { MIN_TREND_SAMPLES } = require('../saturation');

const RUNS = [
  { contender: 'native-c', strategy: 'spin' },
  { contender: 'shmring', strategy: 'spin' },
  { contender: 'shmring-m2o', strategy: 'spin' },
  { contender: 'native-c', strategy: 'futex' },
  { contender: 'shmring', strategy: 'futex' },
  { contender: 'shmring-async', strategy: 'async' },
  { contender: 'postMessage', strategy: 'event-loop' },
  { contender: 'unix-socket', strategy: 'epoll' },
];

module.exports = {
  id: 'rtt',
  scenario: 'rtt',
  measure: 'rtt',
  title: 'Round-trip latency, one message in flight',
  /**
   * The next attempt's params after a saturated run `m`: an interval at least 4x the one that was outrun; null
   * (stay saturated) when so few round trips would fit in the run that no trend could be judged.
   */
  backOff(p, m) {
    const intervalFloorNs = Math.max(p.intervalFloorNs, Math.round(4 * m.intervalUs * 1000));
    return intervalFloorNs * MIN_TREND_SAMPLES <= p.durationMs * 1e6 ? { intervalFloorNs } : null;
  },
  prose:
    'Ping-pong between two processes (postMessage: main thread and a worker). Latency = reply received - intended ' +
    'send time, so stalls are not hidden by coordinated omission. Recorded in an HdrHistogram (3 digits). A run ' +
    'whose schedule outran the contender (fewer than 95 % of the scheduled sends, latency climbing above the ' +
    'interval and doubling from the first third of the run to the last, or a median above the interval) measured ' +
    'a queue, not latency: it is ' +
    're-run at 4× the interval, at most twice, and if still saturated it is marked so, with no percentiles (as is ' +
    'a run with fewer than 30 samples, too few to judge).',
  points(profile) {
    return (profile.quick ? [32] : [32, 1024]).map((payloadBytes) => ({
      payloadBytes,
      consumers: 1,
      rounds: 1,
      params: {
        warmMs: profile.quick ? 50 : 100,
        durationMs: profile.quick ? 150 : 500,
        intervalFloorNs: 2000,
        intervalMult: 4,
        maxSamples: 400_000,
      },
      runs: RUNS,
      ref: {
        shmring: (run) => (run.strategy === 'futex' || run.strategy === 'async' ? 'shmring|futex' : 'shmring|spin'),
        c: (run) => (run.strategy === 'futex' || run.strategy === 'async' ? 'native-c|futex' : 'native-c|spin'),
      },
    }));
  },
};
