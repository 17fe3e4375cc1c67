'use strict';
// One producer process -> one consumer process, four payload sizes, every contender. Each round runs every
// contender once (rotated order); ratios are taken within a round, then the median over rounds is reported.
const PAYLOADS = [32, 256, 1024, 65536];
const CONTENDERS = [
  'native-c',
  'shmring',
  'shmring-batch',
  'shmring-claim',
  'shmring-broadcast',
  'postMessage',
  'postMessage-batch',
  'unix-socket',
];

/** How a contender waits: the ring contenders as asked, the others as their transport does. */
function naturalStrategy(contender, ringStrategy) {
  if (contender.startsWith('postMessage')) return 'event-loop';
  if (contender === 'unix-socket') return 'epoll';
  return ringStrategy;
}

/** Warm-up messages (not measured): enough for the JIT to settle at every size. */
function warmFor(payloadBytes, quick) {
  const n = payloadBytes <= 256 ? 200_000 : payloadBytes <= 1024 ? 100_000 : 4_000;
  return quick ? Math.ceil(n / 4) : n;
}

module.exports = {
  id: 'throughput',
  scenario: 'throughput',
  measure: 'throughput',
  title: 'Throughput, 1 producer → 1 consumer',
  prose:
    'A producer process sends messages to a consumer process for a fixed time after a warm-up. Each message ' +
    'carries a sequence number at both ends that the consumer verifies. msgs/s = messages after the warm-up / ' +
    'time from the first measured send to the consumer seeing the end marker.',
  points(profile) {
    const payloads = profile.quick ? [32, 1024] : PAYLOADS;
    return payloads.map((payloadBytes) => ({
      payloadBytes,
      consumers: 1,
      rounds: profile.quick ? 1 : 4,
      params: { durationMs: profile.quick ? 100 : 250, warm: warmFor(payloadBytes, profile.quick) },
      runs: CONTENDERS.map((contender) => ({ contender, strategy: naturalStrategy(contender, 'spin') })),
      ref: { shmring: () => 'shmring|spin', c: () => 'native-c|spin' },
    }));
  },
  warmFor,
  naturalStrategy,
};
