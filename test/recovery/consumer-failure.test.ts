/**
 * Reliable mode when a consumer fails: a dead one (SIGKILL) is reaped through its kernel lock, a stalled one
 * (SIGSTOP) is evicted after `evictionTimeoutMs` of blocking the producer, and neither costs the other consumers a
 * message.
 *
 * Acceptable outcomes:
 * - while a live consumer blocks it, the producer only ever gets BACK_PRESSURED (never overwrites unread data);
 * - after the blocker is SIGKILLed, an offer succeeds before a generous deadline, stats.reapedConsumers === 1 and
 *   stats.evictedConsumers === 0;
 * - a SIGSTOPped blocker is evicted no sooner than evictionTimeoutMs after the producer first found itself blocked
 *   (a lower bound; there is no upper bound but the deadline), stats.evictedConsumers === 1; once continued, its
 *   next poll throws ERR_SHMRING_EVICTED, nothing else;
 * - a consumer that keeps up, or was idle (nothing to read) for longer than the timeout, is never evicted and
 *   receives every message exactly once, in order, intact: one run [tag 1, 0, N - 1] and no errors.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/errors';
import {
  OfferResult,
  Publication,
  Subscription,
  ringInfo,
  type ReliablePublication,
  type ReliableSubscription,
} from '../../lib/index';
import * as L from '../../lib/layout';
import { closeAfterTest, sleep, startChild, thrown, uniqueName, waitFor } from '../helpers/ring-env';
import { messages, offerRange, type DoneReport } from './helpers';
import { prng } from '../fixtures/ring/sequence';

const SEED = 0xdead;
const CAPACITY = 8 * 1024;

/** Offers seq `from`, `from + 1`... until the first BACK_PRESSURED; returns the next seq not yet sent. */
function fillUntilBackPressured(pub: ReliablePublication, from: number): number {
  for (let seq = from; seq < from + 10_000; seq++) {
    const result = pub.offer(messages.makeMessage(SEED, 1, seq));
    if (result === OfferResult.BACK_PRESSURED) return seq;
    expect(result).toBeGreaterThan(0);
  }
  throw new Error('the ring never filled: no consumer is holding the producer back');
}

/** Retries the offer of `seq` until it succeeds (yielding between tries); returns when it did, in Date.now() ms. */
async function offerUntilAccepted(pub: ReliablePublication, seq: number, timeoutMs: number): Promise<number> {
  const message = messages.makeMessage(SEED, 1, seq);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = pub.offer(message);
    if (result >= 0) return Date.now();
    expect(result).toBe(OfferResult.BACK_PRESSURED);
    if (Date.now() > deadline) throw new Error(`seq ${seq} still BACK_PRESSURED after ${timeoutMs} ms`);
    await sleep(1);
  }
}

function consumerOf(ring: string, style: string) {
  return startChild('recovery/consumer.js', { ring, seed: SEED, style });
}

describe('ReliablePublication with a consumer killed by SIGKILL', () => {
  it('reaps the dead consumer so the producer can go on, and the surviving consumer misses nothing', async () => {
    const ring = uniqueName('reap');
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY }));
    const victim = consumerOf(ring, 'idle');
    const survivor = consumerOf(ring, 'iterate');
    await Promise.all([victim.report('joined'), survivor.report('joined')]);

    let next = fillUntilBackPressured(pub, 0);
    // The victim lives and reads nothing: the producer stays back-pressured (default eviction timeout is 10 s).
    const until = Date.now() + 200;
    while (Date.now() < until) {
      expect(pub.offer(messages.makeMessage(SEED, 1, next))).toBe(OfferResult.BACK_PRESSURED);
      await sleep(5);
    }
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 0 });

    victim.signal('SIGKILL');
    expect(await victim.exit(5_000)).toEqual({ code: null, signal: 'SIGKILL' });
    await offerUntilAccepted(pub, next++, 5_000);
    expect(pub.stats).toEqual({ reapedConsumers: 1, evictedConsumers: 0 });
    expect(ringInfo(ring).consumers.map((c) => c.pid)).toEqual([survivor.pid]);

    const total = 1_000;
    await offerRange(pub, SEED, 1, next, total);
    pub.close();
    const done = await survivor.report<DoneReport>('done');
    expect(done).toEqual(expect.objectContaining({ count: total, runs: [[1, 0, total - 1]], errors: [] }));
    expect(pub.stats.evictedConsumers).toBe(0);
  });
});

/** Writes -1 over the high word of slot `slot`'s position, as a scribbling process (or a dying one) would. */
function corruptSlotPosition(pub: ReliablePublication, slot: number): void {
  const i32 = new Int32Array(pub.memory.buffer);
  Atomics.store(i32, L.int32Index(L.consumerSlotOffset(slot) + L.SLOT_POSITION_OFFSET) + 1, -1);
}

describe('ReliablePublication with a consumer slot whose position is garbage', () => {
  it('reaps the slot of a dead consumer whatever its words say, and never throws from offer', async () => {
    const ring = uniqueName('reap-corrupt');
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY }));
    const victim = consumerOf(ring, 'idle');
    await victim.report('joined');
    victim.signal('SIGKILL');
    expect(await victim.exit(5_000)).toEqual({ code: null, signal: 'SIGKILL' });
    corruptSlotPosition(pub, 0);
    // Several rings' worth: the producer must get past the dead slot, not throw ERR_SHMRING_CORRUPT on every offer.
    const total = (4 * CAPACITY) / 64;
    await offerRange(pub, SEED, 1, 0, total, 5_000);
    expect(pub.stats).toEqual({ reapedConsumers: 1, evictedConsumers: 0 });
    expect(ringInfo(ring).consumers).toEqual([]);
  });

  it('evicts a live consumer whose position is garbage after evictionTimeoutMs, and never throws from offer', async () => {
    const ring = uniqueName('evict-corrupt');
    const evictionTimeoutMs = 100;
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY, evictionTimeoutMs }));
    const sub = closeAfterTest(Subscription.open(ring) as ReliableSubscription);
    corruptSlotPosition(pub, sub.slot);
    const total = (4 * CAPACITY) / 64;
    await offerRange(pub, SEED, 1, 0, total, 5_000);
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 1 });
    expect(thrown(() => sub.poll(() => undefined)).code).toBe(ErrorCode.EVICTED);
  });
});

describe('ReliablePublication with a consumer stopped by SIGSTOP', () => {
  it('evicts it after evictionTimeoutMs; its next poll throws ERR_SHMRING_EVICTED; the idle one is kept', async () => {
    const ring = uniqueName('evict');
    const evictionTimeoutMs = 300;
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY, evictionTimeoutMs }));
    const staller = consumerOf(ring, 'wait');
    const keeper = consumerOf(ring, 'wait');
    await Promise.all([staller.report('joined'), keeper.report('joined')]);

    let next = 50;
    await offerRange(pub, SEED, 1, 0, next);
    await waitFor('both consumers to read everything', () =>
      ringInfo(ring).consumers.every((c) => c.position === pub.position),
    );
    staller.signal('SIGSTOP');
    // The keeper keeps up, then sits idle with nothing to read: it never blocks the producer.
    next = fillUntilBackPressured(pub, next);
    const blockedAt = Date.now();
    const acceptedAt = await offerUntilAccepted(pub, next++, 10_000);
    expect(acceptedAt - blockedAt).toBeGreaterThanOrEqual(evictionTimeoutMs - 5);
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 1 });
    const consumers = ringInfo(ring).consumers;
    expect(consumers.find((c) => c.pid === staller.pid)).toMatchObject({ state: 'evicted', alive: true });
    expect(consumers.find((c) => c.pid === keeper.pid)).toMatchObject({ state: 'active', alive: true });

    const total = next + 300;
    await offerRange(pub, SEED, 1, next, total);
    staller.signal('SIGCONT');
    expect(await staller.report('error')).toMatchObject({ code: 'ERR_SHMRING_EVICTED' });
    pub.close();
    const done = await keeper.report<DoneReport>('done');
    expect(done).toEqual(expect.objectContaining({ count: total, runs: [[1, 0, total - 1]], errors: [] }));
    expect(pub.stats.evictedConsumers).toBe(1);
  });

  it('never lets an evicted consumer write into the ring, even where its lapped position reads 0', async () => {
    const ring = uniqueName('evict-lapped');
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY, evictionTimeoutMs: 100 }));
    const staller = consumerOf(ring, 'wait');
    await staller.report('joined');
    await offerRange(pub, SEED, 1, 0, 20);
    await waitFor('the consumer to read everything', () => ringInfo(ring).consumers[0]?.position === pub.position);
    const stalledAt = pub.position;
    staller.signal('SIGSTOP');
    // Flood with zero-filled payloads of varied lengths until the producer has evicted the consumer, lapped its
    // position, and that position lies inside a record's payload: the word there reads 0, like an empty slot.
    const i32 = new Int32Array(pub.memory.buffer);
    const wordIndex = (ringInfo(ring).dataOffset + (stalledAt & (CAPACITY - 1))) >> 2;
    const random = prng(SEED);
    const deadline = Date.now() + 10_000;
    const lapped = (): boolean => pub.stats.evictedConsumers === 1 && pub.position > stalledAt + CAPACITY;
    while (!(lapped() && Atomics.load(i32, wordIndex) === 0)) {
      if (Date.now() > deadline) throw new Error(`no lapped zero word: ${JSON.stringify(pub.stats)}`);
      if (pub.offer(new Uint8Array(16 + (random() % 200))) < 0) await sleep(1);
    }
    staller.signal('SIGCONT');
    const reported = await staller.report('error', 5_000).catch((err: Error) => err);
    // Had it taken the 0 for an empty slot, it would have swapped in SLEEPING_MARK (-1) there: a corrupt payload.
    expect(Atomics.load(i32, wordIndex)).toBe(0);
    expect(reported).toMatchObject({ code: 'ERR_SHMRING_EVICTED' });
  });

  it('never evicts a consumer that was idle for longer than the timeout before the producer filled the ring', async () => {
    const ring = uniqueName('idle-kept');
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY, evictionTimeoutMs: 300 }));
    const idle = consumerOf(ring, 'wait');
    await idle.report('joined');
    await sleep(3 * 300); // idle: nothing to read, so not blocking anything
    // Now a burst of many ring's worth: the producer is back-pressured each time it laps the sleeping consumer.
    const total = 2_000;
    const backPressured = await offerRange(pub, SEED, 1, 0, total);
    expect(backPressured).toBeGreaterThan(0);
    pub.close();
    const done = await idle.report<DoneReport>('done');
    expect(done).toEqual(expect.objectContaining({ count: total, runs: [[1, 0, total - 1]], errors: [] }));
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 0 });
  });
});
