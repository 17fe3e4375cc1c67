/**
 * The broadcast ring's protocol (Agrona's broadcast buffer), word by word, in one thread over a heap `RingMemory`:
 * the trailer counters (tail-intent, tail, latest, read here with a BigInt64Array) and the order in which the
 * transmitter stores them around the record, padding at the wrap, and a receiver that is lapped: it must count the
 * lap and the bytes it lost, resume from `latest`, and never deliver a record that may have been overwritten
 * between its copy and its validation. The overwrite is made to happen at exactly that instant by running the
 * transmitter from inside the receiver's atomic load of tail-intent (test/helpers/atomics-log.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { binding } from '../../lib/binding';
import { BroadcastPublication } from '../../lib/broadcast-publication';
import { BroadcastSubscription } from '../../lib/broadcast-subscription';
import { ErrorCode } from '../../lib/errors';
import * as L from '../../lib/layout';
import { OfferResult } from '../../lib/offer-result';
import type { StartFrom } from '../../lib/subscription-base';
import { recordAtomics } from '../helpers/atomics-log';
import { HeapRing } from '../helpers/heap-memory';

const CAPACITY = L.MIN_CAPACITY;
const MAX_MESSAGE = L.maxMessageLengthFor(CAPACITY);
const CANARY = 0x7a7a7a7a;
const MAX_BROADCAST_TYPE_ID = 0x7fffffff;

/** Aligned length of a record carrying `payload` bytes. */
function recordLength(payload: number): number {
  return L.align(payload + L.HEADER_LENGTH, L.RECORD_ALIGNMENT);
}

/** A message carrying `seq` in its first 4 bytes, then a fill that depends on seq: any mix-up is visible. */
function message(seq: number, length = 56): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = i < 4 ? (seq >>> (8 * i)) & 0xff : (seq * 7 + i * 13) & 0xff;
  return bytes;
}

/** The seq of a delivered message after checking every byte against `message(seq, length)`. */
function checkedSeq(data: Uint8Array): number {
  const seq = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
  expect(data, `message seq=${seq}`).toEqual(message(seq, data.length));
  return seq;
}

interface Counters {
  tailIntent: bigint;
  tail: bigint;
  latest: bigint;
}

function counters(ring: HeapRing): Counters {
  const trailer = new BigInt64Array(ring.buffer, ring.dataOffset + CAPACITY, L.BROADCAST_TRAILER_LENGTH / 8);
  return {
    tailIntent: trailer[L.TAIL_INTENT_COUNTER_OFFSET / 8],
    tail: trailer[L.TAIL_COUNTER_OFFSET / 8],
    latest: trailer[L.LATEST_COUNTER_OFFSET / 8],
  };
}

function broadcastRing(): HeapRing {
  return new HeapRing({ capacity: CAPACITY, mode: 'broadcast' });
}

function transmitterOn(ring: HeapRing): BroadcastPublication {
  const memory = ring.memory();
  if (!memory.tryLock(L.PRODUCER_LOCK_BYTE, true)) throw new Error('producer lock is taken');
  return new BroadcastPublication(memory, ring.descriptor);
}

function receiverOn(ring: HeapRing, from: StartFrom = 'latest'): BroadcastSubscription {
  return new BroadcastSubscription(ring.memory(), ring.descriptor, from);
}

interface Received {
  data: Uint8Array;
  typeId: number;
}

function pollAll(sub: BroadcastSubscription, limit = 1000): Received[] {
  const got: Received[] = [];
  for (let i = 0; i < 1000; i++) {
    const n = sub.poll((buffer, offset, length, typeId) => {
      got.push({ data: buffer.slice(offset, offset + length), typeId });
    }, limit);
    if (n === 0 && !sub.hasData()) return got;
  }
  throw new Error('receiver still had data after 1000 polls');
}

function expectShmringError(fn: () => unknown, code: string, message: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an error to be thrown').toBeInstanceOf(Error);
  expect((thrown as { code?: string }).code).toBe(code);
  expect((thrown as Error).message).toBe(message);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('BroadcastPublication#offer', () => {
  it('stores tail-intent before it writes the record and latest, then tail (latest is a plain store, as in Agrona)', () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    expect(pub.offer(message(0, 20), 3)).toBe(32);
    ring.setDataWord(32, CANARY); // whatever an earlier lap left there
    const trailer = ring.dataOffset + CAPACITY;
    const latestAt = (): bigint => new BigInt64Array(ring.buffer)[(trailer + L.LATEST_COUNTER_OFFSET) / 8];
    const stores: Array<{
      counter: number;
      value: unknown;
      length: number;
      type: number;
      payload: Uint8Array;
      latest: bigint;
    }> = [];
    const log = recordAtomics(ring.buffer, (access) => {
      if (access.byteOffset >= trailer) {
        stores.push({
          counter: access.byteOffset - trailer,
          value: access.value,
          length: ring.lengthAt(32),
          type: ring.typeWordAt(32),
          payload: ring.payloadAt(32, 20),
          latest: latestAt(),
        });
      }
    });
    expect(pub.offer(message(1, 20), 3)).toBe(64);
    log.restore();
    expect(stores.map((s) => [s.counter, s.value])).toEqual([
      [L.TAIL_INTENT_COUNTER_OFFSET, 64],
      [L.TAIL_COUNTER_OFFSET, 64],
    ]);
    expect(stores[0].length).toBe(CANARY); // nothing of the record is written before tail-intent
    expect(stores[0].latest).toBe(0n);
    expect(stores[1].length).toBe(L.HEADER_LENGTH + 20);
    expect(stores[1].type).toBe(3);
    expect(stores[1].payload).toEqual(message(1, 20));
    expect(stores[1].latest).toBe(32n); // latest is in place before tail publishes the record
    // The record itself is made of plain stores: the counters are the only atomics.
    expect(log.within(ring.dataOffset, trailer)).toEqual([]);
  });

  it("keeps the trailer counters: tail-intent and tail at the end, latest at the last record's start", () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    expect(counters(ring)).toEqual({ tailIntent: 0n, tail: 0n, latest: 0n });
    expect(pub.offer(message(0, 13))).toBe(24);
    expect(counters(ring)).toEqual({ tailIntent: 24n, tail: 24n, latest: 0n });
    expect(ring.lengthAt(0)).toBe(21); // Agrona's length is not aligned
    expect(pub.offer(message(1, 0))).toBe(32);
    expect(counters(ring)).toEqual({ tailIntent: 32n, tail: 32n, latest: 24n });
    expect(pub.offerParts([message(2, 10).subarray(0, 4), message(2, 10).subarray(4)], 9)).toBe(56);
    expect(counters(ring)).toEqual({ tailIntent: 56n, tail: 56n, latest: 32n });
    expect(ring.payloadAt(32, 10)).toEqual(message(2, 10));
    expect(ring.typeWordAt(32)).toBe(9);
    // The reserved rest of the trailer stays zero.
    expect(
      ring.u8
        .subarray(ring.dataOffset + CAPACITY + 24, ring.dataOffset + CAPACITY + L.BROADCAST_TRAILER_LENGTH)
        .every((b) => b === 0),
    ).toBe(true);
  });

  it('pads to the end of the ring when a record would wrap; tail-intent covers padding and record', () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    while (pub.position < CAPACITY - 16) pub.offer(message(0, Math.min(56, CAPACITY - 16 - pub.position - 8)));
    expect(pub.position).toBe(CAPACITY - 16);
    ring.setDataWord(CAPACITY - 16 + L.TYPE_FIELD_OFFSET, CANARY);
    const trailer = ring.dataOffset + CAPACITY;
    const atIntent: number[] = [];
    const log = recordAtomics(ring.buffer, (access) => {
      if (access.byteOffset === trailer + L.TAIL_INTENT_COUNTER_OFFSET) atIntent.push(ring.typeWordAt(CAPACITY - 16));
    });
    expect(pub.offer(message(5, 20), 4)).toBe(CAPACITY + 32);
    log.restore();
    expect(atIntent).toEqual([CANARY]); // the padding is written after tail-intent announced it
    expect(ring.lengthAt(CAPACITY - 16)).toBe(16);
    expect(ring.typeWordAt(CAPACITY - 16)).toBe(L.BROADCAST_PADDING_TYPE);
    expect(ring.lengthAt(0)).toBe(28);
    expect(counters(ring)).toEqual({
      tailIntent: BigInt(CAPACITY + 32),
      tail: BigInt(CAPACITY + 32),
      latest: BigInt(CAPACITY),
    });
  });

  it('never waits for receivers: it laps them', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring);
    const pub = transmitterOn(ring);
    for (let i = 0; i < (10 * CAPACITY) / 64; i++) expect(pub.offer(message(i))).toBe((i + 1) * 64);
    expect(sub.position).toBe(0);
  });

  it('accepts messages up to capacity/8 and refuses longer ones with a RangeError', () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    expect(pub.maxMessageLength).toBe(MAX_MESSAGE);
    expect(() => pub.offer(new Uint8Array(MAX_MESSAGE + 1))).toThrow(
      new RangeError(
        `length must be at most maxMessageLength=${MAX_MESSAGE} (broadcast rings do not fragment): length=${MAX_MESSAGE + 1}`,
      ),
    );
    expect(() => pub.offerParts([new Uint8Array(MAX_MESSAGE), new Uint8Array(1)])).toThrow(RangeError);
    expect(pub.position).toBe(0);
    expect(pub.offer(new Uint8Array(MAX_MESSAGE))).toBe(recordLength(MAX_MESSAGE));
  });

  it("refuses type ids outside [1, 2^31 - 1] (Agrona's msgTypeId >= 1) with a RangeError", () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    for (const typeId of [0, -1, 2 ** 31, 1.5, Number.NaN]) {
      const expected = new RangeError(`typeId must be an integer in [1, ${MAX_BROADCAST_TYPE_ID}]: typeId=${typeId}`);
      expect(() => pub.offer(message(0), typeId), `typeId=${typeId}`).toThrow(expected);
      expect(() => pub.offerParts([message(0)], typeId), `typeId=${typeId}`).toThrow(expected);
    }
    expect(pub.position).toBe(0);
    expect(pub.offer(message(0), MAX_BROADCAST_TYPE_ID)).toBe(64);
    expect(ring.typeWordAt(0)).toBe(MAX_BROADCAST_TYPE_ID);
  });

  it('returns CLOSED after close; close marks the ring closed and wakes', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring);
    const pub = transmitterOn(ring);
    pub.offer(message(0));
    pub.close();
    expect(pub.offer(message(1))).toBe(OfferResult.CLOSED);
    expect(pub.offerParts([message(1)])).toBe(OfferResult.CLOSED);
    expect(counters(ring).tail).toBe(64n);
    expect(ring.int32At(L.PRODUCER_STATE_OFFSET)).toBe(L.PRODUCER_STATE_CLOSED);
    expect(ring.wakes).toEqual([L.WAKE_SEQUENCE_OFFSET]);
    expect(ring.locks.has(L.PRODUCER_LOCK_BYTE)).toBe(false);
    expect(sub.producerClosed).toBe(true);
    expect(sub.producerAlive).toBe(false);
    expectShmringError(() => pub.beginBatch(), ErrorCode.CLOSED, 'publication is closed');
  });
});

describe('BroadcastPublication#beginBatch and #commitBatch', () => {
  it('moves tail-intent per record but latest and tail once, at commitBatch', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    pub.beginBatch();
    pub.offer(message(0));
    pub.offer(message(1));
    expect(counters(ring)).toEqual({ tailIntent: 128n, tail: 0n, latest: 0n });
    expect(sub.hasData()).toBe(false);
    expect(pub.commitBatch()).toBe(128);
    expect(counters(ring)).toEqual({ tailIntent: 128n, tail: 128n, latest: 64n });
    expect(pollAll(sub).map((m) => checkedSeq(m.data))).toEqual([0, 1]);
  });

  it('refuses to open a batch twice or to commit one that is not open', () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    expectShmringError(() => pub.commitBatch(), ErrorCode.INVALID_STATE, 'no batch is open');
    pub.beginBatch();
    expectShmringError(() => pub.beginBatch(), ErrorCode.INVALID_STATE, 'a batch is already open');
    expect(pub.commitBatch()).toBe(0);
    expect(counters(ring)).toEqual({ tailIntent: 0n, tail: 0n, latest: 0n });
  });

  it('publishes an open batch on close', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    pub.beginBatch();
    pub.offer(message(0));
    pub.close();
    expect(pollAll(sub).map((m) => checkedSeq(m.data))).toEqual([0]);
  });
});

describe('BroadcastSubscription#poll', () => {
  it("starts at latest (and receives the latest record, as Agrona does); 'earliest' at 0 before the ring wraps", () => {
    const ring = broadcastRing();
    const pub = transmitterOn(ring);
    for (let i = 0; i < 3; i++) pub.offer(message(i));
    const latest = receiverOn(ring, 'latest');
    const earliest = receiverOn(ring, 'earliest');
    expect(latest.position).toBe(128);
    expect(earliest.position).toBe(0);
    pub.offer(message(3));
    expect(pollAll(latest).map((m) => checkedSeq(m.data))).toEqual([2, 3]);
    expect(pollAll(earliest).map((m) => checkedSeq(m.data))).toEqual([0, 1, 2, 3]);
    for (let i = 4; i < 70; i++) pub.offer(message(i));
    const late = receiverOn(ring, 'earliest'); // wrapped: nothing older than latest is safe
    expect(late.position).toBe(69 * 64);
  });

  it('delivers a copy (not the shared mapping) with the type id, and skips the padding', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    const calls: Array<[boolean, number, number, number]> = [];
    const seqs: number[] = [];
    for (let i = 0; i < 100; i++) {
      pub.offer(message(i, 8 + ((i * 37) % 200)), 1 + i);
      sub.poll((buffer, offset, length, typeId) => {
        calls.push([buffer.buffer === ring.buffer, offset, length, typeId]);
        seqs.push(checkedSeq(buffer.slice(offset, offset + length)));
      });
    }
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(calls.every(([shared, offset], i) => !shared && offset === 0 && calls[i][3] === i + 1)).toBe(true);
    expect(sub.lappedCount).toBe(0);
    expect(sub.lostBytes).toBe(0);
    expect(pub.position).toBeGreaterThan(CAPACITY); // it wrapped, padding included
  });

  it('counts a lap and the bytes lost, then resumes from latest', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    for (let i = 0; i < 70; i++) pub.offer(message(i));
    const got = pollAll(sub);
    expect(got.map((m) => checkedSeq(m.data))).toEqual([69]);
    expect(sub.lappedCount).toBe(1);
    expect(sub.lostBytes).toBe(69 * 64);
    expect(sub.position).toBe(70 * 64);
  });

  it('never delivers a record overwritten between its copy and its validation', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    for (let i = 0; i < 3; i++) pub.offer(message(i));
    const tailIntentHigh = ring.dataOffset + CAPACITY + L.TAIL_INTENT_COUNTER_OFFSET + 4;
    let sent = 3;
    let injected = 0;
    // The receiver loads tail-intent only to validate a record it has just copied: that is when we lap it.
    const log = recordAtomics(
      ring.buffer,
      (access) => {
        if (access.byteOffset === tailIntentHigh && injected === 0) {
          injected++;
          for (const end = sent + CAPACITY / 64; sent < end; sent++) pub.offer(message(sent));
        }
      },
      ['load'],
    );
    const seqs: number[] = [];
    const handler = (buffer: Uint8Array, offset: number, length: number): void => {
      seqs.push(checkedSeq(buffer.slice(offset, offset + length)));
    };
    expect(sub.poll(handler)).toBe(0); // seq 0 was copied intact, but could have been overwritten: discarded
    log.restore();
    expect(injected).toBe(1);
    expect(sub.lappedCount).toBe(1);
    expect(sub.lostBytes).toBe((sent - 1) * 64);
    while (sub.poll(handler) > 0);
    expect(seqs).toEqual([sent - 1]);
  });

  it('never delivers a record overwritten between the tail load and the header read', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    for (let i = 0; i < 3; i++) pub.offer(message(i));
    const tailHigh = ring.dataOffset + CAPACITY + L.TAIL_COUNTER_OFFSET + 4;
    let sent = 3;
    let injected = false;
    const log = recordAtomics(
      ring.buffer,
      (access) => {
        if (access.byteOffset === tailHigh && !injected) {
          injected = true;
          // Overwrite slot 0 with a record of another length and seq (a new lap's record at the same index).
          for (const end = sent + CAPACITY / 64; sent < end; sent++) pub.offer(message(sent, sent === 64 ? 100 : 56));
        }
      },
      ['load'],
    );
    const seqs: number[] = [];
    const handler = (buffer: Uint8Array, offset: number, length: number): void => {
      seqs.push(checkedSeq(buffer.slice(offset, offset + length)));
    };
    sub.poll(handler);
    log.restore();
    while (sub.poll(handler) > 0);
    expect(seqs).toEqual([sent - 1]);
    expect(sub.lappedCount).toBe(1);
  });

  it('discards the record and jumps to latest when tail-intent says it may be overwritten', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    for (let i = 0; i < 5; i++) pub.offer(message(i));
    ring.setCounter(L.TAIL_INTENT_COUNTER_OFFSET, 0 + CAPACITY); // a transmitter announced a lap past cursor 0
    const got = pollAll(sub);
    expect(got.map((m) => checkedSeq(m.data))).toEqual([4]);
    expect(sub.lappedCount).toBe(1);
    expect(sub.lostBytes).toBe(4 * 64);
  });

  it('takes a garbage header reached through an overwritten record of the same run for a lap, not corruption', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    for (let i = 0; i < 5; i++) pub.offer(message(i)); // 64-byte records at 0, 64, ..., 256
    // A transmitter lapping record 0 has announced itself past it and rewritten its length: the receiver's run now
    // steps from 0 to 32, into the middle of the old payload, where the word is no header at all. Position 32 itself
    // still looks intact (32 + capacity > tail-intent); only the run's start tells the truth.
    ring.setCounter(L.TAIL_INTENT_COUNTER_OFFSET, CAPACITY + 8);
    ring.setDataWord(0, L.HEADER_LENGTH + 20);
    ring.setDataWord(32, 3);
    const got = pollAll(sub);
    expect(got.map((m) => checkedSeq(m.data))).toEqual([4]);
    expect(sub.lappedCount).toBe(1);
  });

  it('refuses an impossible header that was not overwritten (ERR_SHMRING_CORRUPT) and reads nothing past the ring', () => {
    const cases: Array<[string, number, number, number]> = [
      // what, at, length, type
      ['too short', 0, 4, 1],
      ['negative', 0, -8, 1],
      ['past the end', CAPACITY - 16, 24, 1],
      ['near 2^31', 0, 0x7fffffff, 1],
      ['padding near 2^31', 0, 0x7fffffff, L.BROADCAST_PADDING_TYPE],
      ['longer than capacity/8', 0, MAX_MESSAGE + L.HEADER_LENGTH + 1, 1],
      ['type id 0', 0, 16, 0],
      ['padding short of the end', 0, 64, L.BROADCAST_PADDING_TYPE],
    ];
    for (const [what, at, length, type] of cases) {
      const ring = broadcastRing();
      ring.setDataWord(at, length);
      ring.setDataWord(at + L.TYPE_FIELD_OFFSET, type);
      ring.setCounter(L.TAIL_INTENT_COUNTER_OFFSET, at + 64);
      ring.setCounter(L.TAIL_COUNTER_OFFSET, at + 64);
      ring.setCounter(L.LATEST_COUNTER_OFFSET, at);
      const sub = receiverOn(ring, 'latest');
      expect(sub.position, what).toBe(at);
      let delivered = 0;
      expectShmringError(
        () => sub.poll(() => delivered++),
        ErrorCode.CORRUPT,
        `ring is corrupt: broadcast record length=${length}`,
      );
      expect(delivered, what).toBe(0);
      expect(sub.lappedCount, what).toBe(0);
    }
  });

  it('refuses a latest counter that does not move forward when it resynchronises', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    const pub = transmitterOn(ring);
    for (let i = 0; i < 70; i++) pub.offer(message(i));
    ring.setCounter(L.LATEST_COUNTER_OFFSET, 0);
    expectShmringError(
      () => sub.poll(() => undefined),
      ErrorCode.CORRUPT,
      'ring is corrupt: broadcast latest counter=0',
    );
  });

  it('returns within its budget however often a hostile ring makes it resynchronise', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring, 'earliest');
    // Every record impossible and "overwritten" (tail-intent far ahead); latest moves 8 bytes on at every read.
    ring.setCounter(L.TAIL_COUNTER_OFFSET, 1e12);
    ring.setCounter(L.TAIL_INTENT_COUNTER_OFFSET, 1e12);
    for (let index = 0; index < CAPACITY; index += 8) ring.setDataWord(index, 4);
    const latestHigh = ring.dataOffset + CAPACITY + L.LATEST_COUNTER_OFFSET + 4;
    const log = recordAtomics(
      ring.buffer,
      (access) => {
        if (access.byteOffset === latestHigh)
          ring.setCounter(L.LATEST_COUNTER_OFFSET, ring.counter(L.LATEST_COUNTER_OFFSET) + 8);
      },
      ['load'],
    );
    const limit = 10;
    expect(sub.poll(() => undefined, limit)).toBe(0);
    log.restore();
    expect(sub.lappedCount).toBeGreaterThan(0);
    expect(sub.lappedCount).toBeLessThanOrEqual(limit + 16);
    expect(sub.lostBytes).toBe(sub.position);
  });

  it('throws ERR_SHMRING_CLOSED from poll after close', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring);
    sub.close();
    sub.close();
    expectShmringError(() => sub.poll(() => undefined), ErrorCode.CLOSED, 'subscription is closed');
    expectShmringError(() => sub.waitSync(10), ErrorCode.CLOSED, 'subscription is closed');
  });
});

describe('BroadcastSubscription waiting', () => {
  it('requests a wake before it sleeps; the transmitter wakes once, only when a wake was requested', () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring);
    const pub = transmitterOn(ring);
    pub.offer(message(0));
    expect(ring.wakes).toEqual([]);
    expect(sub.waitSync(0)).toBe(true); // data: no sleep
    pollAll(sub);
    // waitSync lingers (a few sched_yields) before it requests a wake; on a loaded machine those can outlast a short
    // timeout: make them no-ops here, and try a few times, as the reliable tests' sleepOnce does.
    vi.spyOn(binding(), 'yieldThread').mockImplementation(() => undefined);
    for (let attempt = 0; attempt < 20 && ring.int32At(L.WAKE_REQUESTED_OFFSET) === 0; attempt++) {
      expect(sub.waitSync(5)).toBe(false);
    }
    expect(ring.int32At(L.WAKE_REQUESTED_OFFSET)).toBe(1); // left set: costs the transmitter one wake at most
    const sequence = ring.int32At(L.WAKE_SEQUENCE_OFFSET);
    pub.offer(message(1));
    expect(ring.wakes).toEqual([L.WAKE_SEQUENCE_OFFSET]);
    expect(ring.int32At(L.WAKE_SEQUENCE_OFFSET)).toBe(sequence + 1);
    expect(ring.int32At(L.WAKE_REQUESTED_OFFSET)).toBe(0); // cleared by the waker
    pub.offer(message(2)); // nobody asked again: no second wake
    expect(ring.wakes).toEqual([L.WAKE_SEQUENCE_OFFSET]);
  });

  it('a pending wait() resolves true on the next transmit', async () => {
    const ring = broadcastRing();
    const sub = receiverOn(ring);
    const pub = transmitterOn(ring);
    const waiting = sub.wait({ timeoutMs: 5000 });
    setTimeout(() => pub.offer(message(0)), 20);
    expect(await waiting).toBe(true);
    expect(pollAll(sub).map((m) => checkedSeq(m.data))).toEqual([0]);
    sub.close();
  });
});
