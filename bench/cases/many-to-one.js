'use strict';
// N producers -> one consumer (N = 1, 2, 4) at 32 B and 1 KiB: shmring's many-to-one ring (N producer processes
// offering into one ring, the consumer polling with the library's BackoffIdleStrategy), a Unix socket server with N
// client processes, and postMessage from N worker threads to the main thread. Throughput is the aggregate: every
// producer's messages after its warm-up, counted at the consumer.
const { warmFor } = require('./throughput');

const RUNS = [
  { contender: 'shmring-m2o', strategy: 'default' },
  { contender: 'unix-socket', strategy: 'epoll' },
  { contender: 'postMessage', strategy: 'event-loop' },
];

module.exports = {
  id: 'many-to-one',
  scenario: 'many-to-one',
  measure: 'throughput',
  title: 'Throughput, N producers → 1 consumer (many-to-one)',
  prose:
    'N producer processes send to one consumer process for a fixed time after a warm-up: shmring through one ' +
    'many-to-one ring (each producer `offer`s, backing off with `BackoffIdleStrategy` when the ring is full; the ' +
    "consumer runs `idle.idle(sub.poll(h, 256))` with the library's `new BackoffIdleStrategy()`), a Unix socket " +
    'server with N client processes (batched writes), postMessage from N worker threads to the main thread (one ' +
    'message per call, flow-controlled). Every producer numbers its messages and the consumer checks each ' +
    "producer's sequence apart. msgs/s = all producers' messages after their warm-up / time from the first " +
    'measured send to the last end marker. With N + 1 processes on 2 cores, N = 2 and 4 are oversubscribed.',
  points(profile) {
    const points = [];
    for (const payloadBytes of profile.quick ? [32] : [32, 1024]) {
      for (const producers of profile.quick ? [4] : [1, 2, 4]) {
        points.push({
          payloadBytes,
          consumers: 1,
          producers,
          // Two rounds by default: with N + 1 processes on 2 cores one round's ratio depends on who got descheduled.
          rounds: profile.quick ? 1 : 2,
          params: {
            producers,
            durationMs: profile.quick ? 100 : 250,
            warm: Math.ceil(warmFor(payloadBytes, profile.quick) / (2 * producers)),
          },
          runs: RUNS,
          ref: { shmring: () => 'shmring-m2o|default', c: () => null, socket: () => 'unix-socket|epoll' },
        });
      }
    }
    return points;
  },
};
