/**
 * The reliable ring's memory protocol, word by word, in one thread over a heap `RingMemory` (test/helpers/
 * heap-memory.ts): what the producer writes and in which order (an atomic-store log taken at the instant each
 * atomic store is made), padding at the wrap, claims, batches, fragmentation, back-pressure, the sleeping mark,
 * joining, liveness, takeover, and hostile record words. Every constant comes from lib/layout.ts.
 */
import { Worker } from 'worker_threads';
import path from 'path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { binding } from '../../lib/binding';
import { ErrorCode } from '../../lib/errors';
import * as L from '../../lib/layout';
import { OfferResult } from '../../lib/offer-result';
import { ReliablePublication, type ProducerOptions } from '../../lib/reliable-publication';
import { ReliableSubscription } from '../../lib/reliable-subscription';
import type { StartFrom } from '../../lib/subscription-base';
import { recordAtomics, type AtomicAccess } from '../helpers/atomics-log';
import { HeapRing, type HeapMemory } from '../helpers/heap-memory';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const messages = require('../fixtures/ring/sequence.js') as typeof import('../fixtures/ring/sequence');

const CAPACITY = L.MIN_CAPACITY;
const TYPE_ID = 7;
const UNFRAGMENTED_TYPE_WORD = (typeId: number): number => typeId | (L.UNFRAGMENTED << L.FLAGS_SHIFT);
const CANARY = 0x7a7a7a7a;

/** Aligned length of a record carrying `payload` bytes. */
function recordLength(payload: number): number {
  return L.align(payload + L.HEADER_LENGTH, L.RECORD_ALIGNMENT);
}

/** `length` bytes of a pattern that differs per `seed`. */
function pattern(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 17 + 3) & 0xff;
  return bytes;
}

interface Received {
  data: Uint8Array;
  typeId: number;
}

/** Polls until a poll delivers nothing (bounded), copying each message. */
function drain(sub: ReliableSubscription, maxPolls = 10_000): Received[] {
  const got: Received[] = [];
  for (let i = 0; i < maxPolls; i++) {
    const n = sub.poll((buffer, offset, length, typeId) => {
      got.push({ data: buffer.slice(offset, offset + length), typeId });
    }, 100);
    if (n === 0 && !sub.hasData()) return got;
  }
  throw new Error(`consumer still had data after ${maxPolls} polls`);
}

function producerOn(ring: HeapRing, options: ProducerOptions = {}): ReliablePublication {
  const memory = ring.memory();
  if (!memory.tryLock(L.PRODUCER_LOCK_BYTE, true)) throw new Error('producer lock is taken');
  return new ReliablePublication(memory, ring.descriptor, options);
}

function consumerOn(ring: HeapRing, from: StartFrom = 'earliest'): ReliableSubscription {
  return new ReliableSubscription(ring.memory(), ring.descriptor, from);
}

/** Offers messages of `payload` bytes until the producer's tail is at data index `index` of the current lap. */
function advanceTo(pub: ReliablePublication, sub: ReliableSubscription, index: number): void {
  for (let guard = 0; (pub.position & (CAPACITY - 1)) !== index; guard++) {
    if (guard > 10_000) throw new Error(`could not reach index ${index}`);
    const toTarget = (index - (pub.position & (CAPACITY - 1)) + CAPACITY) & (CAPACITY - 1);
    const payload = Math.min(toTarget, 64) - L.HEADER_LENGTH;
    expect(pub.offer(pattern(payload), TYPE_ID)).toBeGreaterThanOrEqual(0);
    drain(sub);
  }
}

/**
 * Lets `sub` go to sleep on an empty ring once (waitSync with a short timeout) so it leaves its sleeping mark. The
 * linger's sched_yields are made no-ops: on a loaded machine each can hand the core away for milliseconds and eat
 * the short timeout before the consumer announces its sleep.
 */
function sleepOnce(ring: HeapRing, sub: ReliableSubscription): void {
  const yields = vi.spyOn(binding(), 'yieldThread').mockImplementation(() => undefined);
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      expect(sub.waitSync(5)).toBe(false); // announces, sleeps on the wake sequence, times out
      if (ring.lengthAt(sub.position) === L.SLEEPING_MARK) return;
    }
  } finally {
    yields.mockRestore();
  }
  throw new Error('the consumer never announced a sleep');
}

function expectShmringError(fn: () => unknown, code: string, message: string | RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an error to be thrown').toBeInstanceOf(Error);
  expect((thrown as { code?: string }).code).toBe(code);
  if (typeof message === 'string') expect((thrown as Error).message).toBe(message);
  else expect((thrown as Error).message).toMatch(message);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ReliablePublication#offer', () => {
  it("writes payload, type word and the next slot's zero before ONE atomic store of the length", () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    const message = pattern(20);
    const next = recordLength(20);
    ring.setDataWord(next, CANARY); // stale data from an earlier lap
    const dataStart = ring.dataOffset;
    const seen: Array<{ access: AtomicAccess; type: number; payload: Uint8Array; nextSlot: number }> = [];
    const log = recordAtomics(ring.buffer, (access) => {
      if (access.byteOffset >= dataStart && access.byteOffset < dataStart + CAPACITY) {
        seen.push({ access, type: ring.typeWordAt(0), payload: ring.payloadAt(0, 20), nextSlot: ring.lengthAt(next) });
      }
    });
    expect(pub.offer(message, TYPE_ID)).toBe(next);
    log.restore();

    expect(seen).toHaveLength(1);
    const [{ access, type, payload, nextSlot }] = seen;
    expect(access.byteOffset).toBe(dataStart + L.LENGTH_FIELD_OFFSET);
    expect(access.before).toBe(0);
    expect(access.value).toBe(L.HEADER_LENGTH + 20);
    expect(type).toBe(UNFRAGMENTED_TYPE_WORD(TYPE_ID));
    expect(payload).toEqual(message);
    expect(nextSlot).toBe(0);
    expect(ring.lengthAt(0)).toBe(L.HEADER_LENGTH + 20);
  });

  it('publishes the tail checkpoint before it reads any consumer position', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const checkpointOffset = L.TAIL_CHECKPOINT_OFFSET;
    const slotOffset = L.consumerSlotOffset(sub.slot) + L.SLOT_POSITION_OFFSET;
    const order: string[] = [];
    const log = recordAtomics(
      ring.buffer,
      (access) => {
        if (
          access.op === 'store' &&
          access.byteOffset >= checkpointOffset &&
          access.byteOffset < checkpointOffset + 8
        ) {
          order.push('store checkpoint');
        }
        if (access.op === 'load' && access.byteOffset >= slotOffset && access.byteOffset < slotOffset + 8) {
          if (order[order.length - 1] !== 'load position') order.push('load position');
        }
      },
      ['store', 'load'],
    );
    for (let i = 0; i < 100; i++) {
      expect(pub.offer(pattern(100), TYPE_ID)).toBeGreaterThanOrEqual(0);
      drain(sub);
    }
    log.restore();
    // Every refresh: checkpoint first, then the positions. The first refresh is at position 0 (limit 0).
    expect(order.length).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < order.length; i += 2) {
      expect(order.slice(i, i + 2)).toEqual(['store checkpoint', 'load position']);
    }
  });

  it('aligns records to 8 bytes; the length word counts the header but not the alignment', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    expect(pub.offer(pattern(13), TYPE_ID)).toBe(24);
    expect(pub.offer(pattern(0), TYPE_ID)).toBe(32);
    expect(pub.offer(pattern(16), TYPE_ID)).toBe(56);
    expect(ring.lengthAt(0)).toBe(21);
    expect(ring.lengthAt(24)).toBe(8);
    expect(ring.lengthAt(32)).toBe(24);
    expect(ring.lengthAt(56)).toBe(0);
  });

  it('writes nothing outside its records but zeros ahead of its tail, within the clean chunk (canaries)', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxConsumers: 2 });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    // Canaries everywhere in the data region except the first length word, which must read 0 (the tail slot).
    ring.u8.fill(0xa5, ring.dataOffset + 4, ring.dataOffset + CAPACITY);
    // ...and in the reserved header line and the unused space between the slots and the data region.
    ring.u8.fill(0xa5, 3 * L.LINE_LENGTH, L.CONSUMER_SLOTS_OFFSET);
    ring.u8.fill(0xa5, L.consumerSlotOffset(2), ring.dataOffset);
    const before = ring.u8.slice();
    const allowed = new Set<number>();
    const allow = (from: number, length: number): void => {
      for (let i = from; i < from + length; i++) allowed.add(i);
    };
    allow(L.TAIL_CHECKPOINT_OFFSET, 8);
    allow(L.PRODUCER_STATE_OFFSET, 4);
    allow(L.PRODUCER_EPOCH_OFFSET, 4);
    allow(L.PRODUCER_PID_OFFSET, 4);
    allow(L.consumerSlotOffset(sub.slot) + L.SLOT_POSITION_OFFSET, 8);
    let index = 0;
    for (const payload of [1, 7, 8, 9, 64, 100, 0]) {
      const position = pub.offer(pattern(payload, payload), TYPE_ID);
      expect(position).toBe(index + recordLength(payload));
      allow(ring.dataOffset + index, L.HEADER_LENGTH + payload); // not the alignment bytes after it
      index = position;
      allow(ring.dataOffset + index, 4); // the next slot's length word
    }
    expect(drain(sub)).toHaveLength(7);
    // Ahead of its tail the producer zeroes in bulk (cleanAhead), at most capacity / 8 bytes past the tail; what
    // it cleaned and records did not cover (alignment bytes) stays 0.
    const cleanEnd = ring.dataOffset + index + CAPACITY / 8 + L.HEADER_LENGTH;
    const changed: number[] = [];
    for (let i = 0; i < ring.u8.length; i++) {
      if (ring.u8[i] === before[i] || allowed.has(i)) continue;
      if (i >= ring.dataOffset && i < cleanEnd && ring.u8[i] === 0) continue;
      changed.push(i);
    }
    expect(changed).toEqual([]);
  });

  it('returns BACK_PRESSURED (a value, not an exception) while a live consumer is a ring behind, and recovers', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const payload = 64 - L.HEADER_LENGTH;
    // Room for (capacity - 8) bytes: the next slot's zero length must stay out of the consumer's record too.
    const fits = Math.floor((CAPACITY - L.HEADER_LENGTH) / 64);
    for (let i = 0; i < fits; i++) expect(pub.offer(pattern(payload, i), TYPE_ID)).toBe((i + 1) * 64);
    expect(pub.offer(pattern(payload), TYPE_ID)).toBe(OfferResult.BACK_PRESSURED);
    expect(pub.tryClaim(payload)).toBeNull();
    expect(pub.offerParts([pattern(payload)])).toBe(OfferResult.BACK_PRESSURED);
    expect(pub.position).toBe(fits * 64);
    expect(sub.poll(() => undefined, 1)).toBe(1);
    expect(pub.offer(pattern(payload), TYPE_ID)).toBe((fits + 1) * 64);
    const got = drain(sub);
    expect(got).toHaveLength(fits);
    expect(got[0].data).toEqual(pattern(payload, 1));
  });

  it('is never back-pressured while no consumer is registered', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    for (let i = 0; i < (10 * CAPACITY) / 64; i++) expect(pub.offer(pattern(56), TYPE_ID)).toBe((i + 1) * 64);
  });

  it('refuses a message longer than maxMessageLength with a RangeError naming both', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    const max = ring.descriptor.maxMessageLength;
    expect(max).toBe(L.maxMessageLengthFor(CAPACITY));
    expect(() => pub.offer(new Uint8Array(max + 1))).toThrow(
      new RangeError(`length must be an integer in [0, maxMessageLength=${max}]: length=${max + 1}`),
    );
    expect(() => pub.offerParts([new Uint8Array(max), new Uint8Array(1)])).toThrow(
      new RangeError(`length must be an integer in [0, maxMessageLength=${max}]: length=${max + 1}`),
    );
    expect(pub.position).toBe(0);
    expect(pub.offer(new Uint8Array(max))).toBe(recordLength(max));
  });

  it('refuses a type id outside [0, 2^24 - 2] with a RangeError', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    for (const typeId of [-1, L.MAX_TYPE_ID + 1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => pub.offer(pattern(4), typeId), `typeId=${typeId}`).toThrow(
        new RangeError(`typeId must be an integer in [0, ${L.MAX_TYPE_ID}]: typeId=${typeId}`),
      );
      expect(() => pub.offerParts([pattern(4)], typeId)).toThrow(RangeError);
      expect(() => pub.tryClaim(4, typeId)).toThrow(RangeError);
    }
    expect(pub.position).toBe(0);
    expect(pub.offer(pattern(4), 0)).toBe(16);
    expect(pub.offer(pattern(4), L.MAX_TYPE_ID)).toBe(32);
    expect(ring.typeWordAt(16)).toBe(UNFRAGMENTED_TYPE_WORD(L.MAX_TYPE_ID));
  });

  it('returns CLOSED after close and writes nothing', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: 64 });
    const pub = producerOn(ring);
    pub.close();
    expect(pub.isClosed).toBe(true);
    expect(pub.offer(pattern(8))).toBe(OfferResult.CLOSED);
    expect(pub.offer(pattern(500))).toBe(OfferResult.CLOSED); // the fragmenting path
    expect(pub.offerParts([pattern(8)])).toBe(OfferResult.CLOSED);
    expect(ring.lengthAt(0)).toBe(0);
    expectShmringError(() => pub.tryClaim(8), ErrorCode.CLOSED, 'publication is closed');
    expectShmringError(() => pub.beginBatch(), ErrorCode.CLOSED, 'publication is closed');
    pub.close(); // idempotent
  });
});

describe('ReliablePublication#tryClaim', () => {
  it('leaves the length 0 until commit, with the type word set and the next slot already zeroed', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    ring.setDataWord(32, CANARY);
    const claim = pub.tryClaim(20, 9);
    expect(claim).not.toBeNull();
    if (claim === null) return;
    expect(claim.isPending).toBe(true);
    expect(claim.offset).toBe(ring.dataOffset + L.HEADER_LENGTH);
    expect(claim.length).toBe(20);
    expect(claim.buffer.buffer).toBe(ring.buffer);
    expect(ring.lengthAt(0)).toBe(0);
    expect(ring.typeWordAt(0)).toBe(UNFRAGMENTED_TYPE_WORD(9));
    expect(ring.lengthAt(32)).toBe(0);
    expect(pub.position).toBe(32);
    claim.buffer.set(pattern(20, 9), claim.offset);
    expect(sub.hasData()).toBe(false);
    expect(sub.poll(() => undefined)).toBe(0);
    expect(sub.position).toBe(0);

    const log = recordAtomics(ring.buffer);
    claim.commit();
    log.restore();
    const dataStores = log.within(ring.dataOffset, ring.dataOffset + CAPACITY);
    expect(dataStores.map((a) => [a.byteOffset - ring.dataOffset, a.value])).toEqual([[0, 28]]);
    expect(claim.isPending).toBe(false);
    expect(drain(sub)).toEqual([{ data: pattern(20, 9), typeId: 9 }]);
  });

  it('claims zero bytes as a header-only record', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    pub.tryClaim(0)?.commit();
    expect(ring.lengthAt(0)).toBe(L.HEADER_LENGTH);
    expect(drain(sub)).toEqual([{ data: new Uint8Array(0), typeId: 1 }]);
  });

  it('pads to the end of the ring when a record would wrap, zeroing slot 0 before the padding is visible', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    advanceTo(pub, sub, CAPACITY - 16);
    expect(ring.lengthAt(0)).toBeGreaterThan(0); // the first lap's record is still there
    const seen: Array<{ at: number; value: unknown; slot0: number; paddingType: number }> = [];
    const log = recordAtomics(ring.buffer, (access) => {
      const at = access.byteOffset - ring.dataOffset;
      if (at >= 0 && at < CAPACITY) {
        seen.push({ at, value: access.value, slot0: ring.lengthAt(0), paddingType: ring.typeWordAt(CAPACITY - 16) });
      }
    });
    const claim = pub.tryClaim(20);
    log.restore();
    if (claim === null) throw new Error('back-pressured');
    // The padding record: type -1, length = bytes to the end, committed by itself; slot 0 already reads 0.
    expect(seen).toEqual([{ at: CAPACITY - 16, value: 16, slot0: 0, paddingType: L.PADDING_TYPE }]);
    expect(ring.lengthAt(CAPACITY - 16)).toBe(16);
    expect(claim.offset).toBe(ring.dataOffset + L.HEADER_LENGTH);
    expect(ring.lengthAt(0)).toBe(0);
    expect(ring.lengthAt(32)).toBe(0);
    expect(pub.position).toBe(CAPACITY + 32);
    // A consumer skips the padding, delivers nothing and waits at offset 0.
    expect(sub.poll(() => undefined)).toBe(0);
    expect(sub.position).toBe(CAPACITY);
    claim.buffer.set(pattern(20, 5), claim.offset);
    claim.commit();
    expect(drain(sub)).toEqual([{ data: pattern(20, 5), typeId: 1 }]);
    expect(sub.position).toBe(CAPACITY + 32);
  });

  it('refuses a second claim, an offer, offerParts and commitBatch while a claim is pending', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    const claim = pub.tryClaim(8);
    const pending = 'a claim is pending: commit() or abort() it first';
    expectShmringError(() => pub.tryClaim(8), ErrorCode.INVALID_STATE, pending);
    expectShmringError(() => pub.offer(pattern(8)), ErrorCode.INVALID_STATE, pending);
    expectShmringError(() => pub.offer(pattern(1000)), ErrorCode.INVALID_STATE, pending);
    expectShmringError(() => pub.offerParts([pattern(8)]), ErrorCode.INVALID_STATE, pending);
    pub.beginBatch();
    expectShmringError(() => pub.commitBatch(), ErrorCode.INVALID_STATE, pending);
    claim?.commit();
    expect(pub.commitBatch()).toBe(16);
    expect(pub.offer(pattern(8))).toBe(32);
  });

  it('refuses a length outside [0, maxFramePayload] with a RangeError', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: 64 });
    const pub = producerOn(ring);
    for (const length of [65, -1, 1.5, Number.NaN]) {
      expect(() => pub.tryClaim(length), `length=${length}`).toThrow(
        new RangeError(`length must be an integer in [0, maxFramePayload=64]: length=${length}`),
      );
    }
    expect(pub.tryClaim(64)?.length).toBe(64);
  });
});

describe('Claim#commit and Claim#abort', () => {
  it('refuses a second commit with ERR_SHMRING_CLAIM_NOT_PENDING and leaves the record as committed', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const claim = pub.tryClaim(8);
    if (claim === null) throw new Error('back-pressured');
    claim.commit();
    const done = 'claim is not pending: it was already committed or aborted';
    expectShmringError(() => claim.commit(), ErrorCode.CLAIM_NOT_PENDING, done);
    expectShmringError(() => claim.abort(), ErrorCode.CLAIM_NOT_PENDING, done);
    expect(ring.lengthAt(0)).toBe(16);
    expect(ring.typeWordAt(0)).toBe(UNFRAGMENTED_TYPE_WORD(1));
    expect(drain(sub)).toHaveLength(1);
  });

  it('turns an aborted claim into padding that consumers skip', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const claim = pub.tryClaim(20);
    if (claim === null) throw new Error('back-pressured');
    claim.buffer.set(pattern(20), claim.offset);
    claim.abort();
    expectShmringError(
      () => claim.commit(),
      ErrorCode.CLAIM_NOT_PENDING,
      'claim is not pending: it was already committed or aborted',
    );
    expect(ring.typeWordAt(0)).toBe(L.PADDING_TYPE);
    expect(ring.lengthAt(0)).toBe(28);
    expect(sub.hasData()).toBe(true);
    expect(sub.poll(() => undefined)).toBe(0);
    expect(sub.position).toBe(32);
    expect(pub.offer(pattern(3, 3), 4)).toBe(48);
    expect(drain(sub)).toEqual([{ data: pattern(3, 3), typeId: 4 }]);
  });
});

describe('ReliablePublication#beginBatch and #commitBatch', () => {
  it("keeps the first record's length 0 while later ones are written, then publishes all with one atomic store", () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const log = recordAtomics(ring.buffer);
    pub.beginBatch();
    expect(pub.offer(pattern(10, 1), TYPE_ID)).toBe(24);
    expect(pub.tryClaim(4)?.commit()).toBeUndefined();
    expect(pub.offerParts([pattern(3, 2), pattern(4, 3)], TYPE_ID)).toBe(56);
    expect(ring.lengthAt(0)).toBe(0);
    expect(ring.lengthAt(24)).toBe(12);
    expect(ring.lengthAt(40)).toBe(15);
    expect(ring.lengthAt(56)).toBe(0);
    expect(sub.poll(() => undefined)).toBe(0);
    expect(log.within(ring.dataOffset, ring.dataOffset + CAPACITY)).toEqual([]);

    const laterLengths: number[][] = [];
    const commitLog = recordAtomics(ring.buffer, (access) => {
      if (access.byteOffset >= ring.dataOffset) laterLengths.push([ring.lengthAt(24), ring.lengthAt(40)]);
    });
    expect(pub.commitBatch()).toBe(56);
    commitLog.restore();
    log.restore();
    expect(
      commitLog
        .within(ring.dataOffset, ring.dataOffset + CAPACITY)
        .map((a) => [a.byteOffset - ring.dataOffset, a.value]),
    ).toEqual([[0, 18]]);
    expect(laterLengths).toEqual([[12, 15]]);
    const got = drain(sub);
    expect(got.map((m) => m.data.length)).toEqual([10, 4, 7]);
  });

  it('lets a batch begin with the padding at the wrap (the padding is its first record)', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    advanceTo(pub, sub, CAPACITY - 16);
    pub.beginBatch();
    pub.offer(pattern(20, 1));
    pub.offer(pattern(20, 2));
    expect(ring.lengthAt(CAPACITY - 16)).toBe(0);
    expect(ring.typeWordAt(CAPACITY - 16)).toBe(L.PADDING_TYPE);
    expect(ring.lengthAt(0)).toBe(28);
    expect(sub.poll(() => undefined)).toBe(0);
    pub.commitBatch();
    expect(ring.lengthAt(CAPACITY - 16)).toBe(16);
    expect(drain(sub).map((m) => m.data)).toEqual([pattern(20, 1), pattern(20, 2)]);
  });

  it('refuses to open a batch twice or to commit one that is not open', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    expectShmringError(() => pub.commitBatch(), ErrorCode.INVALID_STATE, 'no batch is open');
    pub.beginBatch();
    expectShmringError(() => pub.beginBatch(), ErrorCode.INVALID_STATE, 'a batch is already open');
    expect(pub.commitBatch()).toBe(0); // an empty batch publishes nothing
    expect(ring.lengthAt(0)).toBe(0);
  });

  it('publishes an open batch on close', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    pub.beginBatch();
    pub.offer(pattern(5));
    pub.offer(pattern(6));
    pub.close();
    expect(drain(sub).map((m) => m.data.length)).toEqual([5, 6]);
    expect(sub.producerClosed).toBe(true);
  });
});

describe('ReliablePublication fragmentation', () => {
  const FRAME = 64;
  const flagsOf = (ring: HeapRing, index: number): number => ring.typeWordAt(index) >>> L.FLAGS_SHIFT;

  it('writes a message of exactly maxFramePayload as one unfragmented record', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: FRAME });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    expect(pub.offer(pattern(FRAME), TYPE_ID)).toBe(recordLength(FRAME));
    expect(flagsOf(ring, 0)).toBe(L.UNFRAGMENTED);
    expect(ring.lengthAt(0)).toBe(FRAME + L.HEADER_LENGTH);
    expect(drain(sub)).toEqual([{ data: pattern(FRAME), typeId: TYPE_ID }]);
  });

  it("splits maxFramePayload + 1 into two frames flagged BEGIN and END, committed by the first one's length", () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: FRAME });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const second = recordLength(FRAME);
    const seen: Array<[number, unknown, number]> = [];
    const log = recordAtomics(ring.buffer, (access) => {
      const at = access.byteOffset - ring.dataOffset;
      if (at >= 0 && at < CAPACITY) seen.push([at, access.value, ring.lengthAt(second)]);
    });
    expect(pub.offer(pattern(FRAME + 1), TYPE_ID)).toBe(second + recordLength(1));
    log.restore();
    // One atomic store, of the first frame's length, made when the second frame is already complete.
    expect(seen).toEqual([[0, FRAME + L.HEADER_LENGTH, 1 + L.HEADER_LENGTH]]);
    expect(ring.typeWordAt(0)).toBe(TYPE_ID | (L.BEGIN_FLAG << L.FLAGS_SHIFT));
    expect(ring.typeWordAt(second)).toBe(TYPE_ID | (L.END_FLAG << L.FLAGS_SHIFT));
    expect(ring.payloadAt(second, 1)).toEqual(pattern(FRAME + 1).subarray(FRAME));
    expect(drain(sub)).toEqual([{ data: pattern(FRAME + 1), typeId: TYPE_ID }]);
  });

  it('splits the largest message into full frames: BEGIN, middles without flags, END', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: FRAME });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const max = ring.descriptor.maxMessageLength;
    const frames = max / FRAME;
    expect(pub.offer(pattern(max, 4), TYPE_ID)).toBe(frames * recordLength(FRAME));
    const flags = Array.from({ length: frames }, (_, f) => flagsOf(ring, f * recordLength(FRAME)));
    expect(flags).toEqual([L.BEGIN_FLAG, ...Array<number>(frames - 2).fill(0), L.END_FLAG]);
    for (let f = 0; f < frames; f++) expect(ring.lengthAt(f * recordLength(FRAME))).toBe(FRAME + L.HEADER_LENGTH);
    const got = drain(sub);
    expect(got).toHaveLength(1);
    expect(got[0].data).toEqual(pattern(max, 4));
    expect(sub.droppedFragments).toBe(0);
  });

  it('gathers offerParts parts that straddle frame boundaries (empty parts included) into one message', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: FRAME });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const parts = [0, 30, 50, 0, 100, 1, 19, 0].map((n, i) => pattern(n, i + 1));
    const whole = new Uint8Array(200);
    let at = 0;
    for (const part of parts) {
      whole.set(part, at);
      at += part.length;
    }
    expect(pub.offerParts(parts, TYPE_ID)).toBe(3 * recordLength(FRAME) + recordLength(8));
    expect(ring.payloadAt(recordLength(FRAME), FRAME)).toEqual(whole.subarray(FRAME, 2 * FRAME));
    expect(drain(sub)).toEqual([{ data: whole, typeId: TYPE_ID }]);
    expect(pub.offerParts([], TYPE_ID)).toBeGreaterThan(0); // an empty message
    expect(drain(sub)).toEqual([{ data: new Uint8Array(0), typeId: TYPE_ID }]);
  });

  it('pads between fragments at the wrap and still reassembles the message', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: FRAME });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    advanceTo(pub, sub, CAPACITY - 2 * recordLength(FRAME) + 8); // two frames do not fit, one does
    const start = pub.position;
    expect(pub.offer(pattern(3 * FRAME, 6), TYPE_ID)).toBe(
      start + CAPACITY - (start & (CAPACITY - 1)) + 2 * recordLength(FRAME),
    );
    const firstIndex = start & (CAPACITY - 1);
    expect(flagsOf(ring, firstIndex)).toBe(L.BEGIN_FLAG);
    expect(ring.typeWordAt(firstIndex + recordLength(FRAME))).toBe(L.PADDING_TYPE);
    expect(flagsOf(ring, 0)).toBe(0);
    expect(flagsOf(ring, recordLength(FRAME))).toBe(L.END_FLAG);
    expect(drain(sub)).toEqual([{ data: pattern(3 * FRAME, 6), typeId: TYPE_ID }]);
  });

  it('writes every frame of a message or none: BACK_PRESSURED leaves the tail slot empty', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: FRAME });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    // Fill so that exactly two frames' worth of space is left before the consumer's limit.
    const room = 2 * recordLength(FRAME) + L.HEADER_LENGTH;
    while (CAPACITY - pub.position > room + 64) expect(pub.offer(pattern(56))).toBeGreaterThan(0);
    const rest = CAPACITY - pub.position - room;
    if (rest > 0) expect(pub.offer(pattern(rest - L.HEADER_LENGTH))).toBeGreaterThan(0);
    expect(CAPACITY - pub.position).toBe(room);
    const tail = pub.position;
    expect(pub.offer(pattern(3 * FRAME))).toBe(OfferResult.BACK_PRESSURED);
    expect(pub.position).toBe(tail);
    expect(ring.lengthAt(tail)).toBe(0);
    expect(pub.offer(pattern(2 * FRAME, 2))).toBe(tail + 2 * recordLength(FRAME));
    const got = drain(sub);
    expect(got[got.length - 1].data).toEqual(pattern(2 * FRAME, 2));
  });
});

describe('ReliableSubscription#poll', () => {
  it('stores its position once per poll, after the handler calls', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    for (let i = 0; i < 5; i++) pub.offer(pattern(8, i));
    const seenInHandler: number[] = [];
    const positionOffset = L.consumerSlotOffset(sub.slot) + L.SLOT_POSITION_OFFSET;
    const log = recordAtomics(ring.buffer);
    expect(sub.poll(() => seenInHandler.push(ring.slotPosition(sub.slot)), 3)).toBe(3);
    log.restore();
    expect(seenInHandler).toEqual([0, 0, 0]);
    expect(log.within(positionOffset, positionOffset + 8).map((a) => a.value)).toEqual([48]);
    expect(ring.slotPosition(sub.slot)).toBe(48);
    expect(sub.position).toBe(48);
    // A poll that finds nothing stores nothing.
    const idle = recordAtomics(ring.buffer);
    expect(sub.poll(() => undefined, 10)).toBe(2);
    expect(sub.poll(() => undefined, 10)).toBe(0);
    idle.restore();
    expect(idle.within(positionOffset, positionOffset + 8)).toHaveLength(1);
  });

  it('hands out the record in place (zero copy): the mapping, the payload offset and length, the type id', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    pub.offer(pattern(12), 99);
    const calls: Array<[ArrayBufferLike, number, number, number]> = [];
    sub.poll((buffer, offset, length, typeId) => calls.push([buffer.buffer, offset, length, typeId]));
    expect(calls).toEqual([[ring.buffer, ring.dataOffset + L.HEADER_LENGTH, 12, 99]]);
  });

  it('returns within its budget on a ring full of padding', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    for (let index = 0; index < CAPACITY; index += 8) {
      ring.setDataWord(index + L.TYPE_FIELD_OFFSET, L.PADDING_TYPE);
      ring.setDataWord(index, 8);
    }
    const sub = consumerOn(ring);
    const limit = 10;
    const started = process.hrtime.bigint();
    expect(sub.poll(() => undefined, limit)).toBe(0);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
    expect(sub.position).toBeGreaterThan(0);
    expect(sub.position).toBeLessThanOrEqual((limit + 16) * 8);
  });
});

describe('ReliableSubscription sleeping mark', () => {
  it('marks the empty slot -1 before sleeping; the commit that replaces the mark wakes the sleepers', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    pub.offer(pattern(8));
    drain(sub);
    expect(ring.wakes).toEqual([]);
    sleepOnce(ring, sub);
    expect(ring.lengthAt(16)).toBe(L.SLEEPING_MARK);
    expect(sub.hasData()).toBe(false);
    expect(sub.poll(() => undefined)).toBe(0); // the mark is "empty", not corruption
    const sequence = ring.int32At(L.WAKE_SEQUENCE_OFFSET);
    pub.offer(pattern(8, 2));
    expect(ring.lengthAt(16)).toBe(16);
    expect(ring.wakes).toEqual([L.WAKE_SEQUENCE_OFFSET]);
    expect(ring.int32At(L.WAKE_SEQUENCE_OFFSET)).toBe(sequence + 1);
    // No mark, no wake: the producer pays nothing per message while consumers are awake.
    pub.offer(pattern(8, 3));
    expect(ring.wakes).toEqual([L.WAKE_SEQUENCE_OFFSET]);
    expect(drain(sub)).toHaveLength(2);
  });

  it('wakes a consumer sleeping at the end of the ring when the padding is committed', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    advanceTo(pub, sub, CAPACITY - 16);
    sleepOnce(ring, sub);
    expect(ring.lengthAt(CAPACITY - 16)).toBe(L.SLEEPING_MARK);
    const wakes = ring.wakes.length;
    pub.offer(pattern(20));
    expect(ring.wakes.length).toBe(wakes + 1);
    expect(drain(sub)).toHaveLength(1);
  });

  it('wait() lingers a few event-loop turns first: a record committed meanwhile costs the producer no wake', async () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const waiting = sub.wait({ timeoutMs: 5000 });
    setImmediate(() => pub.offer(pattern(8))); // within the first turn of the linger
    expect(await waiting).toBe(true);
    expect(ring.lengthAt(0)).toBe(16); // never marked SLEEPING, so the commit found no mark
    expect(ring.wakes).toEqual([]);
    expect(drain(sub)).toHaveLength(1);
  });

  it('a pending wait() resolves true when the producer commits, false after a clean close', async () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const waiting = sub.wait({ timeoutMs: 5000 });
    setTimeout(() => pub.offer(pattern(8)), 20);
    expect(await waiting).toBe(true);
    expect(drain(sub)).toHaveLength(1);
    const closing = sub.wait({ timeoutMs: 5000 });
    setTimeout(() => pub.close(), 20);
    expect(await closing).toBe(false);
    expect(sub.producerClosed).toBe(true);
    sub.close();
  });

  it('messages() yields every message and ends at a clean close', async () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const produce = (async () => {
      for (let i = 0; i < 200; i++) {
        while (pub.offer(pattern(i % 50, i), i) < 0) await new Promise((r) => setTimeout(r, 1));
        if (i % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      pub.close();
    })();
    const got: number[] = [];
    for await (const message of sub.messages(8)) {
      expect(message.data).toEqual(pattern(message.typeId % 50, message.typeId));
      got.push(message.typeId);
    }
    await produce;
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('ReliableSubscription joining', () => {
  it("starts 'earliest' at the tail checkpoint and 'latest' at the first empty slot after it", () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    for (let i = 0; i < 3; i++) pub.offer(pattern(8, i));
    expect(ring.tailCheckpoint()).toBe(0);
    const earliest = consumerOn(ring, 'earliest');
    const latest = consumerOn(ring, 'latest');
    expect(earliest.position).toBe(0);
    expect(latest.position).toBe(48);
    pub.offer(pattern(8, 3));
    expect(drain(earliest).map((m) => m.data)).toEqual([0, 1, 2, 3].map((i) => pattern(8, i)));
    expect(drain(latest).map((m) => m.data)).toEqual([pattern(8, 3)]);
  });

  it('registers at the checkpoint and moves up to a checkpoint published while it registered', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    for (let i = 0; i < 40; i++) pub.offer(pattern(56, i)); // no consumer: limit refreshes move the checkpoint
    const stateOffset = L.consumerSlotOffset(0) + L.SLOT_STATE_OFFSET;
    let injected = false;
    const log = recordAtomics(ring.buffer, (access) => {
      // The instant the consumer marks its slot active, the producer (not seeing it yet) laps the ring.
      if (!injected && access.op === 'compareExchange' && access.byteOffset === stateOffset) {
        injected = true;
        for (let i = 0; i < 80; i++) expect(pub.offer(pattern(56, 100 + i))).toBeGreaterThan(0);
      }
    });
    const sub = consumerOn(ring, 'earliest');
    log.restore();
    expect(injected).toBe(true);
    const checkpoint = ring.tailCheckpoint();
    expect(checkpoint).toBeGreaterThan(40 * 64);
    expect(sub.position).toBe(checkpoint);
    expect(ring.slotPosition(sub.slot)).toBe(checkpoint);
    // Nothing from the checkpoint on can be overwritten before the consumer reads it.
    let more = 0;
    while (pub.offer(pattern(56, 1000 + more)) > 0) more++;
    expect(more).toBeGreaterThan(0);
    // The record at position k * 64 carries seq k (k < 40), 100 + (k - 40) (k < 120), then 1000 + (k - 120).
    const seqAt = (k: number): number => (k < 40 ? k : k < 120 ? 100 + k - 40 : 1000 + k - 120);
    const first = checkpoint / 64;
    const got = drain(sub);
    expect(got).toHaveLength(120 + more - first);
    got.forEach((m, k) => expect(m.data).toEqual(pattern(56, seqAt(first + k))));
  });

  it('delivers everything to each of two consumers; the slower one holds the producer back', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const fast = consumerOn(ring);
    const slow = consumerOn(ring);
    expect([fast.slot, slow.slot]).toEqual([0, 1]);
    const pub = producerOn(ring);
    const fastGot: Received[] = [];
    const slowGot: Received[] = [];
    let sent = 0;
    for (let round = 0; sent < 500 && round < 10_000; round++) {
      while (sent < 500 && pub.offer(pattern(sent % 90, sent), sent % 1000) >= 0) sent++;
      fastGot.push(...drain(fast));
      if (round % 3 === 0) slowGot.push(...drain(slow));
      expect(pub.position - slow.position).toBeLessThanOrEqual(CAPACITY);
    }
    slowGot.push(...drain(slow));
    for (const got of [fastGot, slowGot]) {
      expect(got).toHaveLength(500);
      got.forEach((m, i) => expect(m).toEqual({ data: pattern(i % 90, i), typeId: i % 1000 }));
    }
  });

  it('sees none of an open batch until commitBatch, even when it joins while the batch is open', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const first = consumerOn(ring);
    const pub = producerOn(ring);
    for (let i = 0; i < 10; i++) pub.offer(pattern(56, i));
    drain(first);
    pub.beginBatch();
    // Past the limit cached at position 0 (capacity): the producer refreshes it, and publishes a checkpoint,
    // in the middle of the batch.
    const checkpoints = new Set<number>();
    for (let i = 0; i < 60; i++) {
      expect(pub.offer(pattern(56, 10 + i))).toBeGreaterThan(0);
      checkpoints.add(ring.tailCheckpoint());
    }
    expect(checkpoints.size).toBe(2);
    expect(ring.tailCheckpoint()).toBe(640); // the batch's first record, not the tail at the refresh
    const joined = consumerOn(ring, 'earliest');
    expect(joined.hasData()).toBe(false);
    expect(joined.poll(() => undefined)).toBe(0);
    expect(first.poll(() => undefined)).toBe(0);
    pub.commitBatch();
    const expected = Array.from({ length: 60 }, (_, i) => pattern(56, 10 + i));
    expect(drain(first).map((m) => m.data)).toEqual(expected);
    expect(drain(joined).map((m) => m.data)).toEqual(expected);
  });

  it('keeps a batch larger than the ring from overwriting its own unpublished first record', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const pub = producerOn(ring);
    pub.beginBatch();
    let offered = 0;
    while (offered < (2 * CAPACITY) / 64 && pub.offer(pattern(56 - (offered % 2) * 8, offered)) >= 0) offered++;
    expect(offered * 60).toBeLessThan(CAPACITY); // back-pressured before it laps its own first record
    pub.commitBatch();
    const sub = consumerOn(ring, 'earliest');
    const got = drain(sub);
    expect(got).toHaveLength(offered);
    got.forEach((m, i) => expect(m.data).toEqual(pattern(56 - (i % 2) * 8, i)));
  });

  it('throws ERR_SHMRING_NO_CONSUMER_SLOT when every slot is held by a live consumer', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxConsumers: 2 });
    const a = consumerOn(ring);
    const b = consumerOn(ring);
    let memory: HeapMemory | null = null;
    expectShmringError(
      () => {
        memory = ring.memory();
        return new ReliableSubscription(memory, ring.descriptor, 'earliest');
      },
      ErrorCode.NO_CONSUMER_SLOT,
      'all consumer slots are taken by live consumers: maxConsumers=2',
    );
    expect((memory as HeapMemory | null)?.closed).toBe(true);
    a.close();
    expect(ring.slotState(a.slot)).toBe(L.SLOT_FREE);
    const c = consumerOn(ring);
    expect(c.slot).toBe(a.slot);
    expect(ring.slotState(c.slot)).toBe(L.SLOT_ACTIVE);
    expect(b.slot).toBe(1);
  });
});

describe('ReliablePublication liveness', () => {
  it('frees the slot of a dead consumer that holds it back and carries on', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const dead = consumerOn(ring);
    const pub = producerOn(ring);
    let sent = 0;
    while (pub.offer(pattern(56)) >= 0) sent++;
    expect(sent).toBe(Math.floor((CAPACITY - 8) / 64));
    (dead.memory as HeapMemory).kill();
    const deadline = Date.now() + 2000;
    while (pub.offer(pattern(56)) < 0 && Date.now() < deadline)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    expect(pub.stats).toEqual({ reapedConsumers: 1, evictedConsumers: 0 });
    expect(ring.slotState(dead.slot)).toBe(L.SLOT_FREE);
    expectShmringError(
      () => dead.poll(() => undefined),
      ErrorCode.EVICTED,
      'consumer slot was taken away (it was declared dead); messages may have been lost',
    );
  });

  it('evicts a live consumer that stalls past evictionTimeoutMs; its next poll throws ERR_SHMRING_EVICTED', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const stalled = consumerOn(ring);
    const pub = producerOn(ring, { evictionTimeoutMs: 30 });
    while (pub.offer(pattern(56)) >= 0);
    const blockedAt = Date.now();
    const deadline = blockedAt + 2000;
    while (pub.offer(pattern(56)) < 0 && Date.now() < deadline)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    expect(Date.now() - blockedAt).toBeGreaterThanOrEqual(30);
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 1 });
    expect(ring.slotState(stalled.slot)).toBe(L.SLOT_EVICTED);
    expectShmringError(
      () => stalled.poll(() => undefined),
      ErrorCode.EVICTED,
      'consumer was evicted by the producer after stalling past its eviction timeout; messages may have been lost',
    );
  });

  it('throws ERR_SHMRING_CLOSED from poll after close, and frees its slot and lock', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    sub.close();
    sub.close(); // idempotent
    expectShmringError(() => sub.poll(() => undefined), ErrorCode.CLOSED, 'subscription is closed');
    expectShmringError(() => sub.waitSync(10), ErrorCode.CLOSED, 'subscription is closed');
    expect(ring.slotState(sub.slot)).toBe(L.SLOT_FREE);
    expect(ring.locks.has(L.CONSUMER_LOCK_BYTE_BASE + sub.slot)).toBe(false);
  });
});

describe('ReliablePublication takeover and close', () => {
  it('continues after the last committed record; a claim the dead producer never committed is overwritten', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const dead = producerOn(ring);
    for (let i = 0; i < 3; i++) dead.offer(pattern(20, i));
    const claim = dead.tryClaim(40);
    claim?.buffer.set(pattern(40, 66), claim.offset);
    const claimedAt = 3 * 32;
    expect(ring.lengthAt(claimedAt)).toBe(0);
    (dead.memory as HeapMemory).kill();
    expect(ring.int32At(L.PRODUCER_STATE_OFFSET)).toBe(L.PRODUCER_STATE_ACTIVE);
    expect(sub.producerAlive).toBe(false);
    expect(sub.producerClosed).toBe(false);

    const next = producerOn(ring);
    expect(next.position).toBe(claimedAt);
    expect(ring.int32At(L.PRODUCER_EPOCH_OFFSET)).toBe(2);
    expect(sub.producerAlive).toBe(true);
    next.offer(pattern(8, 9));
    expect(drain(sub).map((m) => m.data)).toEqual([pattern(20, 0), pattern(20, 1), pattern(20, 2), pattern(8, 9)]);
  });

  it('leaves no hole a later producer would skip when closed with a claim pending', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const first = producerOn(ring);
    first.offer(pattern(8, 1));
    first.tryClaim(16);
    first.close();
    const second = producerOn(ring);
    second.offer(pattern(8, 2));
    expect(drain(sub).map((m) => m.data)).toEqual([pattern(8, 1), pattern(8, 2)]);
  });

  it('publishes the final checkpoint, marks the ring closed and wakes sleepers on close', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    pub.offer(pattern(8));
    const sequence = ring.int32At(L.WAKE_SEQUENCE_OFFSET);
    pub.close();
    expect(ring.tailCheckpoint()).toBe(16);
    expect(ring.int32At(L.PRODUCER_STATE_OFFSET)).toBe(L.PRODUCER_STATE_CLOSED);
    expect(ring.int32At(L.WAKE_SEQUENCE_OFFSET)).toBe(sequence + 1);
    expect(ring.wakes).toEqual([L.WAKE_SEQUENCE_OFFSET]);
    expect(ring.locks.has(L.PRODUCER_LOCK_BYTE)).toBe(false);
    expect(sub.producerClosed).toBe(true);
    expect(drain(sub)).toHaveLength(1);
    expect(sub.waitSync(1000)).toBe(false); // returns at once: closed and drained
  });
});

describe('ReliableSubscription on hostile record words', () => {
  const corruptLength = (value: number): string => `ring is corrupt: record length=${value}`;

  function ringWithRecord(length: number, typeWord: number, at = 0, options = {}) {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: 64, ...options });
    const sub = consumerOn(ring);
    if (at !== 0) {
      // Put the consumer at `at` with padding in front.
      ring.setDataWord(L.TYPE_FIELD_OFFSET, L.PADDING_TYPE);
      ring.setDataWord(0, at);
      expect(sub.poll(() => undefined)).toBe(0);
      expect(sub.position).toBe(at);
    }
    ring.setDataWord(at + L.TYPE_FIELD_OFFSET, typeWord);
    ring.setDataWord(at, length);
    return { ring, sub };
  }

  function expectCorruptAndStill(sub: ReliableSubscription, ring: HeapRing, message: string): void {
    const position = sub.position;
    const delivered: number[] = [];
    expectShmringError(() => sub.poll((_b, _o, length) => delivered.push(length)), ErrorCode.CORRUPT, message);
    expect(delivered).toEqual([]);
    expect(sub.position).toBe(position);
    expect(ring.slotPosition(sub.slot)).toBe(position);
  }

  it.each([-2, -8, -0x80000000])('refuses a negative length other than the sleeping mark: length=%i', (length) => {
    const { ring, sub } = ringWithRecord(length, UNFRAGMENTED_TYPE_WORD(1));
    // hasData() reports it, so that a waiting consumer polls and meets the error instead of spinning in wait().
    expect(sub.hasData()).toBe(true);
    expectCorruptAndStill(sub, ring, corruptLength(length));
  });

  it.each([1, 4, 7])('refuses a length shorter than the header: length=%i', (length) => {
    const { ring, sub } = ringWithRecord(length, UNFRAGMENTED_TYPE_WORD(1));
    expectCorruptAndStill(sub, ring, corruptLength(length));
  });

  it.each([
    [CAPACITY - 16, 24, UNFRAGMENTED_TYPE_WORD(1)],
    [CAPACITY - 16, 17, L.PADDING_TYPE],
    [0, CAPACITY + 8, L.PADDING_TYPE],
    [0, 0x7ffffff9, L.PADDING_TYPE],
    [0, 0x7fffffff, L.PADDING_TYPE],
    [0, 0x7fffffff, UNFRAGMENTED_TYPE_WORD(1)],
    [CAPACITY - 16, 0x7ffffff8, UNFRAGMENTED_TYPE_WORD(1)],
  ])('refuses a record longer than the bytes to the end: at=%i length=%i type=%i', (at, length, typeWord) => {
    const { ring, sub } = ringWithRecord(length, typeWord, at);
    expectCorruptAndStill(sub, ring, corruptLength(length));
  });

  it('refuses a record longer than maxFramePayload + header (padding may be longer)', () => {
    const { ring, sub } = ringWithRecord(64 + L.HEADER_LENGTH + 1, UNFRAGMENTED_TYPE_WORD(1));
    expectCorruptAndStill(sub, ring, corruptLength(73));
    const padded = ringWithRecord(1024, L.PADDING_TYPE);
    expect(padded.sub.poll(() => undefined)).toBe(0);
    expect(padded.sub.position).toBe(1024);
  });

  it.each([0x20, 0x01, 0xe0, 0x41 | 0x80, 0xff])('refuses record flags outside BEGIN|END: flags=%i', (flags) => {
    const typeWord = 5 | (flags << L.FLAGS_SHIFT);
    if (typeWord === L.PADDING_TYPE) return;
    const { ring, sub } = ringWithRecord(L.HEADER_LENGTH + 4, typeWord);
    const position = sub.position;
    expectShmringError(() => sub.poll(() => undefined), ErrorCode.CORRUPT, `ring is corrupt: record flags=${flags}`);
    void ring;
    void position;
  });

  it('drops fragments whose BEGIN it never saw, and a message whose END never came, and counts them', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: 64 });
    const sub = consumerOn(ring);
    const frames: Array<[number, number, number]> = [
      // payload, type id, flags
      [8, 3, 0],
      [8, 3, L.END_FLAG], // orphans
      [8, 4, L.BEGIN_FLAG],
      [8, 4, 0], // never ends: replaced by the next BEGIN
      [8, 5, L.BEGIN_FLAG],
      [8, 6, L.END_FLAG], // type id changes mid-message: the END is dropped, 5 never ends
      [8, 7, L.BEGIN_FLAG],
      [4, 7, L.END_FLAG],
    ];
    let index = 0;
    for (const [payload, typeId, flags] of frames) {
      ring.u8.set(pattern(payload, typeId), ring.dataOffset + index + L.HEADER_LENGTH);
      ring.setDataWord(index + L.TYPE_FIELD_OFFSET, typeId | (flags << L.FLAGS_SHIFT));
      ring.setDataWord(index, payload + L.HEADER_LENGTH);
      index += recordLength(payload);
    }
    const got = drain(sub);
    const expected = new Uint8Array(12);
    expected.set(pattern(8, 7));
    expected.set(pattern(4, 7), 8);
    expect(got).toEqual([{ data: expected, typeId: 7 }]);
    // 2 orphans, the unfinished type-4 and type-5 messages (one each, however many frames), the type-6 END.
    expect(sub.droppedFragments).toBe(5);
  });

  it('refuses fragments that add up to more than maxMessageLength', () => {
    const ring = new HeapRing({ capacity: CAPACITY, maxFramePayload: 64, maxMessageLength: 128 });
    const sub = consumerOn(ring);
    for (let f = 0; f < 3; f++) {
      const index = f * recordLength(64);
      ring.setDataWord(index + L.TYPE_FIELD_OFFSET, 1 | ((f === 0 ? L.BEGIN_FLAG : 0) << L.FLAGS_SHIFT));
      ring.setDataWord(index, 64 + L.HEADER_LENGTH);
    }
    expectShmringError(() => drain(sub), ErrorCode.CORRUPT, 'ring is corrupt: fragmented message length=192');
  });

  it("refuses to join 'latest' over records that never end", () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    for (let index = 0; index < CAPACITY; index += 8) {
      ring.setDataWord(index + L.TYPE_FIELD_OFFSET, L.PADDING_TYPE);
      ring.setDataWord(index, 8);
    }
    let memory: HeapMemory | null = null;
    expectShmringError(
      () => {
        memory = ring.memory();
        return new ReliableSubscription(memory, ring.descriptor, 'latest');
      },
      ErrorCode.CORRUPT,
      'ring is corrupt: records without end from checkpoint=0',
    );
    // The slot was given back.
    expect(ring.slotState(0)).toBe(L.SLOT_FREE);
    expect(ring.locks.size).toBe(0);
  });

  it('refuses a tail checkpoint with a negative high word', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    ring.setInt32At(L.TAIL_CHECKPOINT_OFFSET + 4, -1);
    expectShmringError(() => consumerOn(ring), ErrorCode.CORRUPT, 'ring is corrupt: position high word=-1');
    expect(ring.locks.size).toBe(0);
  });

  it('refuses a tail checkpoint that moves backwards while it joins', () => {
    const ring = new HeapRing({ capacity: CAPACITY });
    ring.setInt64At(L.TAIL_CHECKPOINT_OFFSET, 4096n);
    const stateOffset = L.consumerSlotOffset(0) + L.SLOT_STATE_OFFSET;
    const log = recordAtomics(ring.buffer, (access) => {
      if (access.byteOffset === stateOffset) ring.setInt64At(L.TAIL_CHECKPOINT_OFFSET, 1024n);
    });
    expectShmringError(() => consumerOn(ring), ErrorCode.CORRUPT, 'ring is corrupt: tail checkpoint=1024');
    log.restore();
    expect(ring.slotState(0)).toBe(L.SLOT_FREE);
  });
});

describe('walks over hostile lengths terminate', () => {
  const WORKER = path.resolve(__dirname, '..', 'fixtures', 'ring', 'heap-walk-worker.js');

  /** Runs a producer takeover or a 'latest' join over `buffer` in a worker that is terminated after 5 s. */
  function walkInWorker(ring: HeapRing, what: 'producer' | 'latest'): Promise<{ position?: number; code?: string }> {
    const worker = new Worker(WORKER, { workerData: { buffer: ring.buffer, descriptor: ring.descriptor, what } });
    return new Promise<{ position?: number; code?: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} walk did not return within 5 s`)), 5000);
      worker.once('message', (result: { position?: number; code?: string }) => {
        clearTimeout(timer);
        resolve(result);
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    }).finally(() => worker.terminate());
  }

  function ringWithHostileLength(length: number): HeapRing {
    const ring = new HeapRing({ capacity: CAPACITY });
    ring.setDataWord(0 + L.TYPE_FIELD_OFFSET, UNFRAGMENTED_TYPE_WORD(1));
    ring.setDataWord(0, 16);
    ring.setDataWord(16 + L.TYPE_FIELD_OFFSET, L.PADDING_TYPE);
    ring.setDataWord(16, length);
    return ring;
  }

  it.each([0x7fffffff, 0x7ffffff9, CAPACITY])('a new producer stops at an impossible length=%i', async (length) => {
    const result = await walkInWorker(ringWithHostileLength(length), 'producer');
    expect(result).toEqual({ position: 16 });
  });

  it.each([0x7fffffff, 0x7ffffff9, CAPACITY])("a 'latest' join refuses an impossible length=%i", async (length) => {
    const result = await walkInWorker(ringWithHostileLength(length), 'latest');
    expect(result).toEqual({ code: ErrorCode.CORRUPT });
  });
});

/*
 * The fast path (`offer`/`tryClaim` guarded by one compare against a precomputed end) against a model: a seeded mix
 * of offers of random lengths (some fragmented), claims committed or aborted, batches, back-pressure, wraps and
 * padding, with a consumer draining at random. Acceptable outcome: the consumer receives exactly what was committed,
 * in order, byte for byte, with its type id; aborted claims and back-pressured offers never appear.
 */
describe('ReliablePublication fast path against a model', () => {
  /** Numbers in [0, 1) from the fixtures' one seeded PRNG. */
  function prng(seed: number): () => number {
    const next = messages.prng(seed);
    return () => next() / 2 ** 32;
  }

  it.each([1, 2, 3, 4, 5])('delivers exactly the committed messages in order through every path (seed %i)', (seed) => {
    const random = prng(seed);
    const ring = new HeapRing({ capacity: CAPACITY });
    const sub = consumerOn(ring);
    const pub = producerOn(ring);
    const expected: Array<{ data: Uint8Array; typeId: number }> = [];
    const received: Received[] = [];
    const collect = (buffer: Uint8Array, offset: number, length: number, typeId: number): void => {
      received.push({ data: buffer.slice(offset, offset + length), typeId });
    };
    let batchOpen = false;
    let batched: Array<{ data: Uint8Array; typeId: number }> = [];
    let wraps = 0;
    let backPressured = 0;
    let lastIndex = 0;
    for (let step = 0; step < 4000; step++) {
      const r = random();
      const typeId = 1 + Math.floor(random() * 100);
      // Mostly small records (many per line, several wraps), sometimes one longer than a frame (fragmented).
      const length = random() < 0.03 ? Math.floor(random() * pub.maxMessageLength) : Math.floor(random() * 120);
      const data = pattern(length, step);
      if (r < 0.45) {
        const result = pub.offer(data, typeId);
        if (result >= 0) (batchOpen ? batched : expected).push({ data, typeId });
        else backPressured++;
      } else if (r < 0.7 && length <= pub.maxFramePayload) {
        const claim = pub.tryClaim(length, typeId);
        if (claim === null) {
          backPressured++;
        } else if (random() < 0.2) {
          claim.buffer.set(pattern(length, step + 1), claim.offset);
          claim.abort();
        } else {
          claim.buffer.set(data, claim.offset);
          claim.commit();
          (batchOpen ? batched : expected).push({ data, typeId });
        }
      } else if (r < 0.8) {
        if (batchOpen) {
          pub.commitBatch();
          expected.push(...batched);
          batched = [];
        } else {
          pub.beginBatch();
        }
        batchOpen = !batchOpen;
      } else if (r < 0.88) {
        sub.poll(collect, 1 + Math.floor(random() * 8));
      }
      const index = pub.position & (CAPACITY - 1);
      if (index < lastIndex) wraps++;
      lastIndex = index;
      if (!batchOpen) expect(received.length).toBeLessThanOrEqual(expected.length);
    }
    if (batchOpen) {
      pub.commitBatch();
      expected.push(...batched);
    }
    received.push(...drain(sub));
    // The mix really went through the paths it is meant to try.
    expect({ wraps: wraps > 10, backPressured: backPressured > 10 }).toEqual({ wraps: true, backPressured: true });
    expect(received.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      expect(received[i].typeId).toBe(expected[i].typeId);
      expect(received[i].data).toEqual(expected[i].data);
    }
  });
});
