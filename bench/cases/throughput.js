'use strict';
// One producer process -> one consumer process, four payload sizes, every contender. Each round runs every
// contender once (rotated order); ratios are taken within a round, then the median over rounds is reported.
// The consumer's strategy is a dimension: every cross-process shmring variant runs with a busy-spinning consumer
// (`spin`: `for (;;) sub.poll(h, 256)`) and with the library's BackoffIdleStrategy at its defaults (`default`:
// `idle.idle(sub.poll(h, 256))`); native-c always spins (the reference), the others wait as their transport does.
const PAYLOADS = [32, 256, 1024, 65536];
const RING_VARIANTS = ['shmring', 'shmring-batch', 'shmring-claim', 'shmring-broadcast'];
const RUNS = [
  { contender: 'native-c', strategy: 'spin' },
  ...RING_VARIANTS.flatMap((contender) => ['spin', 'default'].map((strategy) => ({ contender, strategy }))),
  { contender: 'shmring-inproc', strategy: 'in-process' },
  { contender: 'postMessage', strategy: 'event-loop' },
  { contender: 'postMessage-batch', strategy: 'event-loop' },
  { contender: 'unix-socket', strategy: 'epoll' },
];

/** How a contender waits: the ring contenders as asked, the others as their transport does. */
function naturalStrategy(contender, ringStrategy) {
  if (contender.startsWith('postMessage')) return 'event-loop';
  if (contender === 'unix-socket') return 'epoll';
  if (contender === 'shmring-inproc') return 'in-process';
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
    "time from the first measured send to the consumer seeing the end marker. Strategy is the consumer's: `spin` " +
    "polls back to back (`sub.poll(h, 256)`), `default` is `idle.idle(sub.poll(h, 256))` with the library's " +
    '`new BackoffIdleStrategy()`; the producer spins when the ring is full. `shmring-inproc` offers and polls on one ' +
    'thread of one process (256 offers, then a poll of up to 256): the cost without crossing processes.',
  points(profile) {
    const payloads = profile.quick ? [32, 1024] : PAYLOADS;
    return payloads.map((payloadBytes) => ({
      payloadBytes,
      consumers: 1,
      rounds: profile.quick ? 1 : 4,
      params: { durationMs: profile.quick ? 100 : 250, warm: warmFor(payloadBytes, profile.quick) },
      runs: RUNS,
      ref: { shmring: () => 'shmring|spin', c: () => 'native-c|spin', socket: () => 'unix-socket|epoll' },
    }));
  },
  warmFor,
  naturalStrategy,
};
