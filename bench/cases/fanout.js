'use strict';
// One producer -> 2 and -> 4 consumer processes on a 2-core machine: shmring's consumers use a backoff idle
// strategy (spin 100 empty polls, then sleep on the ring's futex until the producer publishes) and a back-pressured
// producer spins 100 times, then sleeps ~50 µs, so spinners do not oversubscribe the cores.
const { warmFor, naturalStrategy } = require('./throughput');

const CONTENDERS = ['shmring', 'shmring-broadcast', 'postMessage-batch', 'unix-socket'];

module.exports = {
  id: 'fanout',
  scenario: 'throughput',
  measure: 'throughput',
  title: 'Throughput, 1 producer → N consumers (fan-out)',
  prose:
    'As above with every message delivered to each of N consumer processes (postMessage: N worker threads); ' +
    'msgs/s counts messages per consumer (the slowest one). "backoff": a consumer spins 100 empty polls, then ' +
    'sleeps on the ring\'s futex (`sub.waitSync(1)`) until the producer publishes; a back-pressured producer spins ' +
    '100 times, then sleeps ~50 µs. So 2 cores are not oversubscribed by spinners.',
  points(profile) {
    const payloadBytes = 32;
    return (profile.quick ? [2] : [2, 4]).map((consumers) => ({
      payloadBytes,
      consumers,
      rounds: 1,
      params: { durationMs: profile.quick ? 100 : 300, warm: warmFor(payloadBytes, profile.quick) / 2 },
      runs: CONTENDERS.map((contender) => ({ contender, strategy: naturalStrategy(contender, 'backoff') })),
      ref: { shmring: () => 'shmring|backoff', c: () => null },
    }));
  },
};
