'use strict';
// Ping-pong with one message in flight between two processes. The pinger sends at intended times
// t0 + i * interval (interval = max(2 µs, 4 x the median round trip of a 100 ms back-to-back warm-up)) and records
// reply time - intended send time, so a stall shows in every sample it delays (no coordinated omission).
// Busy-spin on both sides, and sleeping sides (futex: poll, then sleep until woken; async: `await sub.wait()`).
const RUNS = [
  { contender: 'native-c', strategy: 'spin' },
  { contender: 'shmring', strategy: 'spin' },
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
  prose:
    'Ping-pong between two processes (postMessage: main thread and a worker). Latency = reply received - intended ' +
    'send time, so stalls are not hidden by coordinated omission. Recorded in an HdrHistogram (3 digits).',
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
