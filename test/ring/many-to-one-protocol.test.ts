/**
 * The many-to-one protocol in one process, byte by byte: Agrona's record and trailer layout, the order of the stores
 * (test/helpers/atomics-log.ts: what a reader may see once each atomic lands must already be in memory), padding at
 * the wrap, back-pressure, claims, `unblock` in its two cases, the consumer lock and heartbeat, correlation ids, and
 * 64-bit counters crossing 2^32 with a 32-bit CAS. Constants come from lib/layout.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../lib/errors';
import {
  Publication,
  Subscription,
  createRing,
  ringInfo,
  type ManyToOnePublication,
  type ManyToOneSubscription,
} from '../../lib/index';
import * as L from '../../lib/layout';
import { OfferResult } from '../../lib/offer-result';
import { recordAtomics } from '../helpers/atomics-log';
import { closeAfterTest, expectShmringError, uniqueName } from '../helpers/ring-env';

const CAPACITY = 4096;
const TWO_POW_32 = 2 ** 32;

interface Ring {
  name: string;
  sub: ManyToOneSubscription;
  i32: Int32Array;
  trailer: number;
  data: number;
  join(): ManyToOnePublication;
}

function ring(tag: string, options: { unblockTimeoutMs?: number; capacity?: number } = {}): Ring {
  const name = uniqueName(tag);
  const sub = closeAfterTest(
    Subscription.create(name, { mode: 'many-to-one', capacity: options.capacity ?? CAPACITY, ...options }),
  );
  const info = ringInfo(name);
  const i32 = new Int32Array(sub.memory.buffer);
  return {
    name,
    sub,
    i32,
    data: info.dataOffset,
    trailer: info.dataOffset + info.capacity,
    join: () => {
      const pub = closeAfterTest(Publication.open(name));
      if (pub.mode !== 'many-to-one') throw new Error(`expected many-to-one: ${pub.mode}`);
      return pub;
    },
  };
}

function int64At(i32: Int32Array, byteOffset: number): number {
  return i32[(byteOffset >> 2) + 1] * TWO_POW_32 + (i32[byteOffset >> 2] >>> 0);
}

function setInt64(i32: Int32Array, byteOffset: number, value: number): void {
  i32[byteOffset >> 2] = (value % TWO_POW_32) | 0;
  i32[(byteOffset >> 2) + 1] = Math.floor(value / TWO_POW_32);
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function drain(sub: ManyToOneSubscription): Array<{ typeId: number; data: number[] }> {
  const got: Array<{ typeId: number; data: number[] }> = [];
  while (
    sub.poll(
      (buffer, offset, length, typeId) => got.push({ typeId, data: [...buffer.subarray(offset, offset + length)] }),
      100,
    ) > 0
  );
  return got;
}

describe('ManyToOnePublication#offer', () => {
  it("writes Agrona's record (length, type, payload) and moves the tail in the trailer", () => {
    const r = ring('m2o-record');
    const pub = r.join();
    expect(pub.offer(bytes(1, 2, 3), 42)).toBe(16);
    expect(r.i32[r.data >> 2]).toBe(L.HEADER_LENGTH + 3);
    expect(r.i32[(r.data >> 2) + 1]).toBe(42);
    expect([...new Uint8Array(r.sub.memory.buffer, r.data + L.HEADER_LENGTH, 3)]).toEqual([1, 2, 3]);
    expect(int64At(r.i32, r.trailer + L.TAIL_POSITION_OFFSET)).toBe(16);
    expect(pub.offer(bytes(9), 7)).toBe(32);
    expect(r.i32[(r.data + 16) >> 2]).toBe(9);
    expect(drain(r.sub)).toEqual([
      { typeId: 42, data: [1, 2, 3] },
      { typeId: 7, data: [9] },
    ]);
  });

  it('stores -length before any payload byte, and +length only after type and payload', () => {
    const r = ring('m2o-order');
    const pub = r.join();
    const lengthByte = r.data;
    const seen: Array<{ value: unknown; payload: number; type: number }> = [];
    const log = recordAtomics(pub.memory.buffer, (access) => {
      if (access.byteOffset !== lengthByte) return;
      seen.push({
        value: access.value,
        payload: new Uint8Array(r.sub.memory.buffer)[r.data + L.HEADER_LENGTH],
        type: r.i32[(r.data >> 2) + 1],
      });
    });
    pub.offer(bytes(0xab, 0xcd), 5);
    log.restore();
    expect(seen).toEqual([
      { value: -(L.HEADER_LENGTH + 2), payload: 0, type: 0 },
      { value: L.HEADER_LENGTH + 2, payload: 0xab, type: 5 },
    ]);
    // The claim: one CAS of the tail's low word, before the record is touched; the commit: a CAS of the length word
    // from -length (so a record the consumer released is left alone).
    const cas = log.accesses.filter((a) => a.op === 'compareExchange');
    expect(cas.map((a) => a.byteOffset)).toEqual([r.trailer + L.TAIL_POSITION_OFFSET, lengthByte]);
    expect(cas[0]).toMatchObject({ before: 0, value: 16 });
    expect(cas[1]).toMatchObject({ before: -(L.HEADER_LENGTH + 2), value: L.HEADER_LENGTH + 2 });
    expect(log.accesses.indexOf(cas[0])).toBe(0);
  });

  it('zeroes what the consumer read before the head moves past it', () => {
    const r = ring('m2o-zero');
    const pub = r.join();
    pub.offer(bytes(1, 2, 3, 4, 5, 6, 7, 8, 9), 3);
    let zeroedWhenHeadMoved = false;
    const log = recordAtomics(r.sub.memory.buffer, (access) => {
      if (access.byteOffset === r.trailer + L.HEAD_POSITION_OFFSET) {
        zeroedWhenHeadMoved = new Uint8Array(r.sub.memory.buffer, r.data, 24).every((b) => b === 0);
      }
    });
    expect(r.sub.poll(() => undefined)).toBe(1);
    log.restore();
    expect(zeroedWhenHeadMoved).toBe(true);
    expect(int64At(r.i32, r.trailer + L.HEAD_POSITION_OFFSET)).toBe(24);
  });

  it('pads to the end of the ring when a record would wrap, and writes the record at offset 0', () => {
    const r = ring('m2o-wrap');
    const pub = r.join();
    const payload = new Uint8Array(504); // 512-byte records
    for (let i = 0; i < 7; i++) expect(pub.offer(payload, 1)).toBeGreaterThan(0);
    expect(pub.offer(new Uint8Array(100), 1)).toBe(3584 + 112);
    expect(drain(r.sub)).toHaveLength(8);
    // 400 bytes left to the end: a 512-byte record pads them and goes to 0.
    expect(pub.offer(payload, 9)).toBe(4096 + 512);
    const paddingAt = r.data + 3696;
    expect(r.i32[paddingAt >> 2]).toBe(400);
    expect(r.i32[(paddingAt >> 2) + 1]).toBe(L.RING_BUFFER_PADDING_TYPE);
    expect(r.i32[r.data >> 2]).toBe(512);
    expect(drain(r.sub).map((m) => m.typeId)).toEqual([9]);
    expect(r.sub.position).toBe(4096 + 512);
  });

  it('refuses a full ring with BACK_PRESSURED (counted) and takes messages again once the consumer reads', () => {
    const r = ring('m2o-full');
    const pub = r.join();
    const payload = new Uint8Array(504);
    for (let i = 0; i < 8; i++) expect(pub.offer(payload, 1)).toBeGreaterThan(0);
    expect(pub.offer(bytes(1), 1)).toBe(OfferResult.BACK_PRESSURED);
    expect(pub.tryClaim(1, 1)).toBeNull();
    expect(pub.stats.backPressured).toBe(2);
    expect(r.sub.poll(() => undefined, 1)).toBe(1);
    expect(pub.offer(bytes(1), 1)).toBeGreaterThan(0);
    // The producer re-read the head and shared it through the head cache.
    expect(int64At(r.i32, r.trailer + L.HEAD_CACHE_POSITION_OFFSET)).toBe(512);
  });

  it('pads to the end but claims nothing when the start of the ring is still unread (as Agrona)', () => {
    const r = ring('m2o-wrap-full');
    const pub = r.join();
    for (let i = 0; i < 14; i++) pub.offer(new Uint8Array(248), 1); // 256-byte records up to 3584
    expect(r.sub.poll(() => undefined, 1)).toBe(1); // head at 256
    expect(pub.offer(new Uint8Array(100), 1)).toBe(3696);
    // 408 bytes fit in the ring (656 free) but not in the 400 to the end, nor before the head at 256.
    expect(pub.offer(new Uint8Array(400), 1)).toBe(OfferResult.BACK_PRESSURED);
    expect(int64At(r.i32, r.trailer + L.TAIL_POSITION_OFFSET)).toBe(4096);
    expect(r.i32[(r.data + 3696) >> 2]).toBe(400);
    expect(r.i32[(r.data + 3696 + 4) >> 2]).toBe(L.RING_BUFFER_PADDING_TYPE);
    expect(drain(r.sub)).toHaveLength(14);
    expect(r.sub.position).toBe(4096);
  });

  it('refuses bad type ids and lengths (RangeError) and returns CLOSED after close', () => {
    const r = ring('m2o-args');
    const pub = r.join();
    expect(() => pub.offer(bytes(1), 0)).toThrow('typeId must be an integer in [1, 2147483647]: typeId=0');
    expect(() => pub.offer(bytes(1), 1.5)).toThrow(RangeError);
    expect(() => pub.offer(new Uint8Array(CAPACITY / 8 + 1), 1)).toThrow(
      'length must be at most maxMessageLength=512 (many-to-one rings do not fragment): length=513',
    );
    expect(() => pub.tryClaim(-1, 1)).toThrow(RangeError);
    // Refused before anything is claimed: a claim left half-written would stop the consumer until its unblock.
    expect(() => pub.offerParts([{} as Uint8Array], 1)).toThrow(RangeError);
    expect(() => pub.offer({} as Uint8Array, 1)).toThrow(RangeError);
    expect(pub.producerPosition).toBe(0);
    expect(pub.offer(new Uint8Array(CAPACITY / 8), 1)).toBeGreaterThan(0);
    pub.close();
    expect(pub.offer(bytes(1), 1)).toBe(OfferResult.CLOSED);
    expectShmringError(() => pub.tryClaim(1, 1), ErrorCode.CLOSED, 'publication is closed');
  });
});

describe('ManyToOnePublication#tryClaim', () => {
  it('holds the consumer at a claimed record (negative length) until commit', () => {
    const r = ring('m2o-claim');
    const pub = r.join();
    const claim = pub.tryClaim(4, 11)!;
    expect(r.i32[r.data >> 2]).toBe(-12);
    expect(r.i32[(r.data >> 2) + 1]).toBe(11);
    pub.offer(bytes(5), 2); // behind the claim
    expect(r.sub.poll(() => undefined)).toBe(0);
    claim.buffer.set([1, 2, 3, 4], claim.offset);
    claim.commit();
    expect(drain(r.sub)).toEqual([
      { typeId: 11, data: [1, 2, 3, 4] },
      { typeId: 2, data: [5] },
    ]);
  });

  it('turns an aborted claim into padding the consumer skips; a second claim while one is pending is refused', () => {
    const r = ring('m2o-abort');
    const pub = r.join();
    const claim = pub.tryClaim(4, 11)!;
    expectShmringError(
      () => pub.tryClaim(4, 11),
      ErrorCode.INVALID_STATE,
      'a claim is pending: commit() or abort() it first',
    );
    claim.abort();
    expect(r.i32[(r.data >> 2) + 1]).toBe(L.RING_BUFFER_PADDING_TYPE);
    expectShmringError(
      () => claim.commit(),
      ErrorCode.CLAIM_NOT_PENDING,
      /claimed space was released|claim is not pending/,
    );
    pub.offer(bytes(5), 2);
    expect(drain(r.sub)).toEqual([{ typeId: 2, data: [5] }]);
  });
});

describe('ManyToOneSubscription#unblock', () => {
  it('turns a claim left uncommitted past unblockTimeoutMs into padding, counts it, and goes on', async () => {
    const r = ring('m2o-unblock', { unblockTimeoutMs: 50 });
    const stuck = r.join();
    const claim = stuck.tryClaim(20, 1)!;
    r.join().offer(bytes(7), 2);
    expect(r.sub.poll(() => undefined)).toBe(0);
    const deadline = Date.now() + 5000;
    const got: number[] = [];
    // A poll looks at the clock once per 1024 polls (Date.now() allocates); wait() looks each time it wakes.
    while (got.length === 0 && Date.now() < deadline) {
      for (let i = 0; i < 1024; i++) r.sub.poll((_b, _o, _l, typeId) => got.push(typeId));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(got).toEqual([2]);
    expect(r.sub.unblockedCount).toBe(1);
    // The stalled producer finds its claim released.
    expectShmringError(
      () => claim.commit(),
      ErrorCode.CLAIM_NOT_PENDING,
      /claimed space was released|claim is not pending/,
    );
  });

  it('unblocks about unblockTimeoutMs after the stall for a consumer that polls rarely (every 20 ms)', async () => {
    const r = ring('m2o-unblock-sparse', { unblockTimeoutMs: 100 });
    const stuck = r.join();
    stuck.tryClaim(20, 1);
    r.join().offer(bytes(7), 2);
    const started = Date.now();
    const got: number[] = [];
    // 100 polls in 2 s: far fewer than a busy consumer's 1024 between clock checks.
    while (got.length === 0 && Date.now() - started < 2000) {
      r.sub.poll((_b, _o, _l, typeId) => got.push(typeId));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(got).toEqual([2]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.sub.unblockedCount).toBe(1);
  });

  it('times a stall from when it first sees producers ahead, not from an earlier look at an empty ring', async () => {
    const r = ring('m2o-unblock-young', { unblockTimeoutMs: 1000 });
    const pub = r.join();
    for (let i = 0; i < 5; i++) {
      expect(r.sub.hasData()).toBe(false); // idle looks at an empty ring for longer than the timeout
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const claim = pub.tryClaim(4, 1)!;
    expect(r.sub.hasData()).toBe(false); // starts the timer
    expect(r.sub.hasData()).toBe(false); // a claim just made is not unblocked
    claim.commit();
    expect(drain(r.sub)).toHaveLength(1);
    expect(r.sub.unblockedCount).toBe(0);
  });

  it('pads a claim whose producer died before its first store up to the next record', () => {
    const r = ring('m2o-unblock-zero', { unblockTimeoutMs: 60_000 });
    const pub = r.join();
    // A producer that won the CAS for 32 bytes and died: the tail moved, nothing was written.
    setInt64(r.i32, r.trailer + L.TAIL_POSITION_OFFSET, 32);
    expect(r.sub.unblock()).toBe(false); // nothing after it yet: where it ends cannot be told
    pub.offer(bytes(1, 2), 3);
    expect(r.sub.unblock()).toBe(true);
    expect(r.i32[r.data >> 2]).toBe(32);
    expect(r.i32[(r.data >> 2) + 1]).toBe(L.RING_BUFFER_PADDING_TYPE);
    expect(drain(r.sub)).toEqual([{ typeId: 3, data: [1, 2] }]);
  });

  it('pads zeroes to the end of the ring when a producer died right after claiming across the end', () => {
    const r = ring('m2o-unblock-wrap', { unblockTimeoutMs: 60_000 });
    const pub = r.join();
    for (let i = 0; i < 7; i++) pub.offer(new Uint8Array(504), 1); // tail 3584
    expect(drain(r.sub)).toHaveLength(7);
    // A producer won the CAS for a 600-byte record across the end (512 bytes of padding + 600 at 0) and died.
    setInt64(r.i32, r.trailer + L.TAIL_POSITION_OFFSET, 4096 + 600);
    expect(r.sub.unblock()).toBe(true); // the padding it never wrote
    expect(r.i32[(r.data + 3584) >> 2]).toBe(512);
    expect(r.sub.poll(() => undefined)).toBe(0);
    expect(r.sub.position).toBe(4096);
    expect(r.sub.unblock()).toBe(false); // its record at 0: zeroes up to the tail, nothing after it yet
    pub.offer(bytes(9), 4);
    expect(r.sub.unblock()).toBe(true);
    expect(drain(r.sub)).toEqual([{ typeId: 4, data: [9] }]);
  });

  it('lets a producer that commits at the last moment win over unblock, and a released offer is sent again', () => {
    const r = ring('m2o-unblock-late', { unblockTimeoutMs: 60_000 });
    const pub = r.join();
    const claim = pub.tryClaim(4, 3)!;
    claim.commit();
    expect(r.sub.unblock()).toBe(false); // committed: nothing to unblock
    expect(drain(r.sub)).toHaveLength(1);
    // An offer whose record the consumer releases while it is being written goes out again.
    const log = recordAtomics(
      pub.memory.buffer,
      (access) => {
        if (access.op === 'compareExchange' && access.value === L.HEADER_LENGTH + 1 && pub.stats.releasedClaims === 0) {
          expect(r.sub.unblock()).toBe(true); // the consumer gives up on it just before the commit
        }
      },
      ['compareExchange'],
    );
    expect(pub.offer(bytes(7), 5)).toBeGreaterThan(0);
    log.restore();
    expect(pub.stats.releasedClaims).toBe(1);
    expect(drain(r.sub)).toEqual([{ typeId: 5, data: [7] }]);
  });

  it('does not pad over a claim that began while it scanned (the scan back finds it)', () => {
    const r = ring('m2o-unblock-race', { unblockTimeoutMs: 60_000 });
    const pub = r.join();
    setInt64(r.i32, r.trailer + L.TAIL_POSITION_OFFSET, 32);
    pub.offer(bytes(1, 2), 3);
    const log = recordAtomics(
      r.sub.memory.buffer,
      (access) => {
        // When the forward scan reaches the record at 32, a producer starts writing a record at 8.
        if (access.byteOffset === r.data + 32) r.i32[(r.data + 8) >> 2] = -24;
      },
      ['load'],
    );
    const unblocked = r.sub.unblock();
    log.restore();
    expect(unblocked).toBe(false);
    expect(r.i32[r.data >> 2]).toBe(0);
  });

  it('does nothing on an empty ring or a committed record', () => {
    const r = ring('m2o-unblock-none');
    expect(r.sub.unblock()).toBe(false);
    r.join().offer(bytes(1), 1);
    expect(r.sub.unblock()).toBe(false);
    expect(drain(r.sub)).toHaveLength(1);
  });
});

describe('many-to-one consumer', () => {
  it('is one: a second consumer is refused while it lives; after it closes the next takes over at its head', () => {
    const r = ring('m2o-consumer');
    const pub = r.join();
    pub.offer(bytes(1), 1);
    pub.offer(bytes(2), 1);
    expect(r.sub.poll(() => undefined, 1)).toBe(1);
    expectShmringError(
      () => Subscription.open(r.name),
      ErrorCode.NO_CONSUMER_SLOT,
      /another live process is the consumer of this many-to-one ring/,
    );
    expect(pub.consumerAlive).toBe(true);
    r.sub.close();
    expect(pub.consumerAlive).toBe(false);
    const next = closeAfterTest(Subscription.open(r.name)) as ManyToOneSubscription;
    expect(next.mode).toBe('many-to-one');
    expect(drain(next)).toEqual([{ typeId: 1, data: [2] }]);
  });

  it('writes the heartbeat (ms since the epoch) that producers read', () => {
    const before = Date.now();
    const r = ring('m2o-heartbeat');
    const pub = r.join();
    expect(pub.consumerHeartbeatTime).toBeGreaterThanOrEqual(before);
    expect(pub.consumerHeartbeatTime).toBeLessThanOrEqual(Date.now());
    expect(int64At(r.i32, r.trailer + L.CONSUMER_HEARTBEAT_OFFSET)).toBe(pub.consumerHeartbeatTime);
  });

  it('wakes from wait() when a producer commits, with no wake while it is awake', async () => {
    const r = ring('m2o-wait');
    const pub = r.join();
    const wake = vi.spyOn(pub.memory, 'wake');
    for (let i = 0; i < 100; i++) pub.offer(bytes(i), 1);
    expect(drain(r.sub)).toHaveLength(100);
    expect(wake).not.toHaveBeenCalled(); // nobody slept: no syscall
    const waiting = r.sub.wait({ timeoutMs: 5000 });
    setTimeout(() => {
      pub.offer(bytes(1), 1);
      pub.offer(bytes(2), 1);
    }, 30);
    expect(await waiting).toBe(true);
    expect(wake).toHaveBeenCalledTimes(1); // one wake per sleep, not per message
    expect(drain(r.sub)).toHaveLength(2);
  });

  it('is joined by Publication.open, which is Publication.attach on a reliable ring', () => {
    const name = uniqueName('m2o-open-reliable');
    createRing(name, { capacity: CAPACITY });
    const pub = closeAfterTest(Publication.open(name));
    expect(pub.mode).toBe('reliable');
    expectShmringError(() => Publication.open(name), ErrorCode.PRODUCER_EXISTS, /another live process is the producer/);
  });

  it('is made by createRing without a consumer, and refused by Subscription.create for other modes', () => {
    const name = uniqueName('m2o-create');
    const info = createRing(name, { mode: 'many-to-one', capacity: CAPACITY });
    expect(info).toMatchObject({ mode: 'many-to-one', maxConsumers: 1, maxMessageLength: CAPACITY / 8 });
    expect(info.fileLength).toBe(L.fileLengthFor(L.MODE_MANY_TO_ONE, CAPACITY, 1));
    expect(info.fileLength).toBeGreaterThanOrEqual(info.dataOffset + CAPACITY + L.RING_BUFFER_TRAILER_LENGTH);
    const pub = closeAfterTest(Publication.open(name));
    expect(pub.mode).toBe('many-to-one');
    expect(ringInfo(name).producerAlive).toBe(true);
    expect(() => Subscription.create(uniqueName('x'), { mode: 'reliable' } as never)).toThrow(
      'Subscription.create makes many-to-one rings: mode=reliable',
    );
    expect(() => createRing(uniqueName('x'), { mode: 'many-to-one', maxConsumers: 2 })).toThrow(
      'many-to-one rings have one consumer: maxConsumers=2',
    );
    expect(() => Publication.createAnonymous({ mode: 'many-to-one' } as never)).toThrow(TypeError);
  });

  it('refuses an impossible record length as corrupt without moving past it', () => {
    const r = ring('m2o-corrupt');
    r.i32[r.data >> 2] = 5000; // longer than the ring
    setInt64(r.i32, r.trailer + L.TAIL_POSITION_OFFSET, 64);
    expectShmringError(() => r.sub.poll(() => undefined), ErrorCode.CORRUPT, 'ring is corrupt: record length=5000');
    expect(r.sub.position).toBe(0);
  });
});

describe('many-to-one 64-bit counters', () => {
  it('claims across 2^32 (the low-word CAS, then one 8-byte CAS at the carry) and the consumer follows', () => {
    const r = ring('m2o-carry');
    const start = TWO_POW_32 - 808; // 50 records of 16 bytes, then 8 bytes of padding at the carry
    for (const offset of [L.TAIL_POSITION_OFFSET, L.HEAD_CACHE_POSITION_OFFSET, L.HEAD_POSITION_OFFSET]) {
      setInt64(r.i32, r.trailer + offset, start);
    }
    // The consumer made before the positions moved caches its head: a new one reads it from the trailer.
    r.sub.close();
    const sub = closeAfterTest(Subscription.open(r.name)) as ManyToOneSubscription;
    expect(sub.position).toBe(start);
    const pub = r.join();
    const log = recordAtomics(pub.memory.buffer, () => undefined, ['compareExchange']);
    const seen: number[] = [];
    let expected = start;
    for (let i = 0; i < 100; i++) {
      const end = pub.offer(Uint8Array.of(i, i + 1), 1);
      expect(end).toBeGreaterThan(expected);
      expected = end;
      sub.poll((buffer, offset) => seen.push(buffer[offset]), 100);
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    log.restore();
    const tailCas = log.within(r.trailer + L.TAIL_POSITION_OFFSET, r.trailer + L.TAIL_POSITION_OFFSET + 8);
    expect(tailCas).toHaveLength(100);
    expect(tailCas.filter((a) => typeof a.value === 'bigint').map((a) => a.value)).toEqual([BigInt(TWO_POW_32 + 16)]);
    const i32 = new Int32Array(pub.memory.buffer);
    expect(int64At(i32, r.trailer + L.TAIL_POSITION_OFFSET)).toBe(expected);
    expect(int64At(i32, r.trailer + L.HEAD_POSITION_OFFSET)).toBe(expected);
    expect(expected).toBeGreaterThan(TWO_POW_32);
    expect(sub.position).toBe(expected);
  });

  it('abandons a claim whose guess matched only the low word (the tail moved 4 GiB under a stopped producer)', async () => {
    const r = ring('m2o-aba', { unblockTimeoutMs: 0 });
    const pub = r.join();
    expect(pub.offer(bytes(1), 1)).toBe(16);
    expect(drain(r.sub)).toHaveLength(1);
    r.sub.close();
    // While `pub` was stopped, others moved 4 GiB through the ring: tail, head cache and head 2^32 further on.
    const i32 = new Int32Array(pub.memory.buffer);
    for (const offset of [L.TAIL_POSITION_OFFSET, L.HEAD_CACHE_POSITION_OFFSET, L.HEAD_POSITION_OFFSET]) {
      setInt64(i32, r.trailer + offset, TWO_POW_32 + 16);
    }
    const sub = closeAfterTest(Subscription.open(r.name, { unblockTimeoutMs: 0 })) as ManyToOneSubscription;
    // The guess (tail = 16) matches the low word: the claim lands at 2^32 + 16 unchecked, is left empty, and the
    // message is claimed again behind it.
    expect(pub.offer(bytes(2), 2)).toBe(TWO_POW_32 + 16 + 32);
    expect(pub.stats.abandonedClaims).toBe(1);
    expect(sub.poll(() => undefined)).toBe(0); // stuck at the empty claim until the unblock timer runs out
    const got: number[] = [];
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) {
      if (!(await sub.wait({ timeoutMs: 10 }))) continue;
      sub.poll((buffer, offset) => got.push(buffer[offset]));
    }
    expect(got).toEqual([2]);
    expect(sub.unblockedCount).toBe(1);
    expect(sub.position).toBe(TWO_POW_32 + 48);
  });

  it('hands out correlation ids with a fetch-and-add, across 2^32', () => {
    const r = ring('m2o-correlation');
    const [a, b] = [r.join(), r.join()];
    expect([a.nextCorrelationId(), b.nextCorrelationId(), a.nextCorrelationId()]).toEqual([0, 1, 2]);
    setInt64(r.i32, r.trailer + L.CORRELATION_COUNTER_OFFSET, TWO_POW_32 - 2);
    expect([a.nextCorrelationId(), b.nextCorrelationId(), a.nextCorrelationId()]).toEqual([
      TWO_POW_32 - 2,
      TWO_POW_32 - 1,
      TWO_POW_32,
    ]);
    expect(int64At(r.i32, r.trailer + L.CORRELATION_COUNTER_OFFSET)).toBe(TWO_POW_32 + 1);
  });
});
