'use strict';
// One producer -> 2 and -> 4 consumer processes on a 2-core machine, oversubscribed: shmring's consumers use the
// library's BackoffIdleStrategy with its defaults (`default`, as a user would), and a back-pressured producer spins
// 100 times, then sleeps ~50 µs, so spinners do not starve the processes that have work.
const { warmFor, naturalStrategy } = require('./throughput');

const CONTENDERS = ['shmring', 'shmring-broadcast', 'postMessage-batch', 'unix-socket'];

module.exports = {
  id: 'fanout',
  scenario: 'throughput',
  measure: 'throughput',
  title: 'Throughput, 1 producer → N consumers (fan-out)',
  prose:
    'As above with every message delivered to each of N consumer processes (postMessage: N worker threads); ' +
    'msgs/s counts messages per consumer (the slowest one). shmring consumers run `idle.idle(sub.poll(h, 256))` ' +
    "with the library's `new BackoffIdleStrategy()` (`default`); a back-pressured producer spins 100 times, then " +
    'sleeps ~50 µs. With 3 or 5 processes on 2 cores, how a waiting side gives up its core decides the result.',
  points(profile) {
    const payloadBytes = 32;
    return (profile.quick ? [2] : [2, 4]).map((consumers) => ({
      payloadBytes,
      consumers,
      rounds: 1,
      params: {
        durationMs: profile.quick ? 100 : 300,
        warm: warmFor(payloadBytes, profile.quick) / 2,
        producerIdle: 'backoff',
      },
      runs: CONTENDERS.map((contender) => ({ contender, strategy: naturalStrategy(contender, 'default') })),
      ref: { shmring: () => 'shmring|default', c: () => null, socket: () => 'unix-socket|epoll' },
    }));
  },
};
