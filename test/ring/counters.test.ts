/**
 * The counters a ring keeps for operators (docs/FORMAT.md, "Counters line" and "Consumer slots"), word by word over a
 * heap `RingMemory`: the reliable producer's back-pressure events, evictions and reaps, a consumer's progress time,
 * the blocked-since time the producer keeps for the consumer holding it back, and the receiver table a broadcast
 * receiver may publish its laps and lost bytes in. Each is read where `ringInfo` reads it, from the header.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { binding } from '../../lib/binding';
import { BroadcastPublication } from '../../lib/broadcast-publication';
import { BroadcastSubscription } from '../../lib/broadcast-subscription';
import * as L from '../../lib/layout';
import { OfferResult } from '../../lib/offer-result';
import { ReliablePublication, type ProducerOptions } from '../../lib/reliable-publication';
import { ReliableSubscription } from '../../lib/reliable-subscription';
import { HeapRing, type HeapMemory } from '../helpers/heap-memory';

const CAPACITY = L.MIN_CAPACITY;
/** A 56-byte payload: 64-byte records, so a 4 KiB ring holds 63 of them (the slot after the last stays empty). */
const PAYLOAD = new Uint8Array(56).fill(5);
const RECORD = L.alignedRecordLength(L.recordLengthFor(PAYLOAD.length));

function producerOn(ring: HeapRing, options: ProducerOptions = {}): ReliablePublication {
  const memory = ring.memory();
  if (!memory.tryLock(L.PRODUCER_LOCK_BYTE, true)) throw new Error('producer lock is taken');
  return new ReliablePublication(memory, ring.descriptor, options);
}

function counter(ring: HeapRing, offset: number): number {
  return Number(ring.int64At(offset));
}

function slotField(ring: HeapRing, slot: number, fieldOffset: number): number {
  return Number(ring.int64At(L.consumerSlotOffset(slot) + fieldOffset));
}

/** Offers until refused; returns how many were accepted. */
function fill(pub: ReliablePublication): number {
  let accepted = 0;
  while (pub.offer(PAYLOAD) >= 0) accepted++;
  return accepted;
}

/**
 * Keeps offering (each refusal a back-pressure event) until one is accepted or `ms` passed; true if accepted. It
 * spins: a back-pressured producer looks at its consumers' liveness only once per 64 refused refreshes and 1 ms.
 */
function pushFor(pub: ReliablePublication, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pub.offer(PAYLOAD) >= 0) return true;
  }
  return false;
}

/** Keeps offering, refused, until `done()` (bounded: throws after 2 s). */
function pushUntil(pub: ReliablePublication, done: () => boolean, what: string): void {
  const deadline = Date.now() + 2000;
  while (!done()) {
    if (pub.offer(PAYLOAD) >= 0) throw new Error(`an offer was accepted before ${what}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within 2 s`);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the reliable producer counters', () => {
  it('counts each offer and claim refused with BACK_PRESSURED, and nothing while offers are accepted', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = new ReliableSubscription(ring.memory(), ring.descriptor, 'earliest');
    const pub = producerOn(ring);
    expect(fill(pub)).toBe(Math.floor((CAPACITY - L.HEADER_LENGTH) / RECORD));
    expect(counter(ring, L.BACK_PRESSURE_EVENTS_OFFSET)).toBe(1);
    expect(pub.offer(PAYLOAD)).toBe(OfferResult.BACK_PRESSURED);
    expect(pub.offerParts([PAYLOAD, PAYLOAD])).toBe(OfferResult.BACK_PRESSURED);
    expect(pub.tryClaim(PAYLOAD.length)).toBeNull();
    expect(counter(ring, L.BACK_PRESSURE_EVENTS_OFFSET)).toBe(4);
    sub.poll(() => undefined, 1000);
    for (let i = 0; i < 10; i++) expect(pub.offer(PAYLOAD)).toBeGreaterThan(0);
    expect(counter(ring, L.BACK_PRESSURE_EVENTS_OFFSET)).toBe(4);
    expect(counter(ring, L.EVICTED_CONSUMERS_OFFSET)).toBe(0);
    expect(counter(ring, L.REAPED_CONSUMERS_OFFSET)).toBe(0);
  });

  it('counts an eviction and a reap, and a producer that takes over continues from the counts it finds', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const stalled = new ReliableSubscription(ring.memory(), ring.descriptor, 'earliest');
    const first = producerOn(ring, { evictionTimeoutMs: 20 });
    fill(first);
    expect(pushFor(first, 2000)).toBe(true);
    expect(counter(ring, L.EVICTED_CONSUMERS_OFFSET)).toBe(1);
    expect(ring.slotState(stalled.slot)).toBe(L.SLOT_EVICTED);
    const refusals = counter(ring, L.BACK_PRESSURE_EVENTS_OFFSET);
    expect(refusals).toBeGreaterThan(1);
    (first.memory as HeapMemory).kill();

    const dead = new ReliableSubscription(ring.memory(), ring.descriptor, 'latest');
    const second = producerOn(ring);
    fill(second);
    (dead.memory as HeapMemory).kill();
    expect(pushFor(second, 2000)).toBe(true);
    expect(counter(ring, L.REAPED_CONSUMERS_OFFSET)).toBe(1);
    expect(counter(ring, L.EVICTED_CONSUMERS_OFFSET)).toBe(1);
    expect(counter(ring, L.BACK_PRESSURE_EVENTS_OFFSET)).toBeGreaterThan(refusals);
    // pub.stats stays this producer's own.
    expect(second.stats).toEqual({ reapedConsumers: 1, evictedConsumers: 0 });
  });

  it('starts again from 0 a counter another process left as garbage, instead of refusing to attach', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    ring.setInt32At(L.BACK_PRESSURE_EVENTS_OFFSET + 4, -1); // high word: no count is that large
    const sub = new ReliableSubscription(ring.memory(), ring.descriptor, 'earliest');
    const pub = producerOn(ring);
    fill(pub);
    expect(counter(ring, L.BACK_PRESSURE_EVENTS_OFFSET)).toBe(1);
    sub.close();
  });
});

describe('the blocked-since time of a consumer slot', () => {
  it('is set while the consumer holds the producer back without moving, reset when it moves, cleared after', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = new ReliableSubscription(ring.memory(), ring.descriptor, 'earliest');
    const pub = producerOn(ring);
    fill(pub);
    expect(slotField(ring, sub.slot, L.SLOT_BLOCKED_SINCE_OFFSET)).toBe(0);
    const before = Date.now();
    const blockedSince = (): number => slotField(ring, sub.slot, L.SLOT_BLOCKED_SINCE_OFFSET);
    pushUntil(pub, () => blockedSince() > 0, 'blocked-since time');
    const since = blockedSince();
    expect(since).toBeGreaterThanOrEqual(before);
    expect(since).toBeLessThanOrEqual(Date.now());

    // Moving on by one record is progress: the time starts again when the producer is held back once more.
    sub.poll(() => undefined, 1);
    expect(pub.offer(PAYLOAD)).toBeGreaterThan(0);
    expect(slotField(ring, sub.slot, L.SLOT_BLOCKED_SINCE_OFFSET)).toBe(0); // the refresh that let it in cleared it
    pushUntil(pub, () => blockedSince() > 0, 'blocked-since time after the move');
    expect(blockedSince()).toBeGreaterThanOrEqual(since);

    pub.close();
    expect(slotField(ring, sub.slot, L.SLOT_BLOCKED_SINCE_OFFSET)).toBe(0);
  });

  it('is cleared by a producer that attaches after one that died holding it', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = new ReliableSubscription(ring.memory(), ring.descriptor, 'earliest');
    const dead = producerOn(ring);
    fill(dead);
    pushUntil(dead, () => slotField(ring, sub.slot, L.SLOT_BLOCKED_SINCE_OFFSET) > 0, 'blocked-since time');
    (dead.memory as HeapMemory).kill();
    producerOn(ring);
    expect(slotField(ring, sub.slot, L.SLOT_BLOCKED_SINCE_OFFSET)).toBe(0);
  });
});

describe('the progress time of a consumer slot', () => {
  it('is noted at join, when a consumer that moved finds itself caught up 64 times, per capacity / 8 bytes consumed', () => {
    const clock = vi.spyOn(Date, 'now');
    // Poll's notes are gated by the monotonic clock (at most one per 100 ms): it moves with the wall clock here.
    const monotonic = vi.spyOn(binding(), 'monotonicMs');
    const at = (ms: number): void => {
      clock.mockReturnValue(ms);
      monotonic.mockReturnValue(ms);
    };
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    at(1000);
    const sub = new ReliableSubscription(ring.memory(), ring.descriptor, 'latest');
    const progress = (): number => slotField(ring, sub.slot, L.SLOT_PROGRESS_TIME_OFFSET);
    expect(progress()).toBe(1000);

    at(2000);
    for (let i = 0; i < 6; i++) pub.offer(PAYLOAD); // 384 bytes: less than capacity / 8
    expect(sub.poll(() => undefined, 2)).toBe(2); // behind
    expect(progress()).toBe(1000);
    expect(sub.poll(() => undefined, 1000)).toBe(4); // caught up: the 1st poll since join to find nothing
    for (let i = 2; i < 64; i++) expect(sub.poll(() => undefined, 1000)).toBe(0);
    expect(progress()).toBe(1000); // a consumer catching up every few messages must not read the clock each time
    expect(sub.poll(() => undefined, 1000)).toBe(0); // the 64th
    expect(progress()).toBe(2000);
    at(2500);
    for (let i = 0; i < 100; i++) expect(sub.poll(() => undefined, 1000)).toBe(0);
    expect(progress()).toBe(2000); // nothing moved since: nothing to note

    at(3000);
    for (let i = 0; i < 20; i++) pub.offer(PAYLOAD);
    const eighth = CAPACITY / 8 / RECORD;
    expect(sub.poll(() => undefined, eighth)).toBe(eighth); // capacity / 8 bytes consumed, still behind
    expect(progress()).toBe(3000);

    at(3050); // 50 ms after the last note: poll's notes wait (the wall clock allocates; it is read at most every 100 ms)
    for (let i = 0; i < 20; i++) pub.offer(PAYLOAD);
    expect(sub.poll(() => undefined, 1000)).toBeGreaterThan(0);
    for (let i = 0; i < 64; i++) sub.poll(() => undefined, 1000);
    expect(progress()).toBe(3000);
    at(3100);
    for (let i = 0; i < 64; i++) sub.poll(() => undefined, 1000);
    expect(progress()).toBe(3100);
    sub.close();
  });

  it('is noted by a consumer about to sleep after it moved (a wait, not a poll, found it caught up)', () => {
    const clock = vi.spyOn(Date, 'now');
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    clock.mockReturnValue(1000);
    const sub = new ReliableSubscription(ring.memory(), ring.descriptor, 'latest');
    clock.mockReturnValue(2000);
    pub.offer(PAYLOAD);
    expect(sub.poll(() => undefined, 1)).toBe(1); // stops at its limit, before it sees the empty slot
    expect(slotField(ring, sub.slot, L.SLOT_PROGRESS_TIME_OFFSET)).toBe(1000);
    clock.mockRestore();
    const before = Date.now();
    expect(sub.waitSync(100)).toBe(false);
    expect(slotField(ring, sub.slot, L.SLOT_PROGRESS_TIME_OFFSET)).toBeGreaterThanOrEqual(before);
    sub.close();
  });
});

describe('the broadcast receiver table', () => {
  function transmitterOn(ring: HeapRing): BroadcastPublication {
    const memory = ring.memory();
    if (!memory.tryLock(L.PRODUCER_LOCK_BYTE, true)) throw new Error('producer lock is taken');
    return new BroadcastPublication(memory, ring.descriptor);
  }

  it('has a slot for a receiver that publishes its counters: position, laps and lost bytes; freed at close', () => {
    const ring = new HeapRing({ capacity: CAPACITY, mode: 'broadcast' });
    const pub = transmitterOn(ring);
    const quiet = new BroadcastSubscription(ring.memory(), ring.descriptor, 'earliest');
    const seen = new BroadcastSubscription(ring.memory(), ring.descriptor, 'earliest', true);
    expect(quiet.slot).toBe(-1);
    expect(seen.slot).toBe(0);
    expect(ring.slotState(0)).toBe(L.SLOT_ACTIVE);
    expect(ring.int32At(L.consumerSlotOffset(0) + L.SLOT_PID_OFFSET)).toBe(process.pid);
    expect(ring.locks.has(L.CONSUMER_LOCK_BYTE_BASE)).toBe(true);

    for (let i = 0; i < 3; i++) pub.offer(PAYLOAD);
    expect(seen.poll(() => undefined, 100)).toBe(3);
    expect(ring.slotPosition(0)).toBe(3 * RECORD);
    expect(slotField(ring, 0, L.SLOT_LAPS_OFFSET)).toBe(0);

    for (let i = 0; i < 70; i++) pub.offer(PAYLOAD); // more than a ring: the receiver is lapped
    expect(seen.poll(() => undefined, 100)).toBe(1);
    expect(seen.lappedCount).toBe(1);
    expect(slotField(ring, 0, L.SLOT_LAPS_OFFSET)).toBe(1);
    expect(slotField(ring, 0, L.SLOT_LOST_BYTES_OFFSET)).toBe(seen.lostBytes);
    expect(seen.lostBytes).toBe(69 * RECORD);
    expect(ring.slotPosition(0)).toBe(73 * RECORD);

    seen.close();
    expect(ring.slotState(0)).toBe(L.SLOT_FREE);
    expect(ring.locks.has(L.CONSUMER_LOCK_BYTE_BASE)).toBe(false);
    quiet.close();
  });
});
