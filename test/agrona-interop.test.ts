/**
 * Interop with Agrona's broadcast buffer (org.agrona.concurrent.broadcast), across processes, without Java: shmring's
 * broadcast mode against an independent C implementation of the format (test/interop/agrona_broadcast.h, written
 * from docs/interop-agrona.md, not from lib/), in both directions, through one /dev/shm file. Messages follow
 * the tests' one message format (test/fixtures/ring/sequence.js; test/interop/message.h is its C twin): seq at both
 * ends around a seeded body, so every receiver can check every message byte for byte.
 *
 * Acceptable outcomes (jcstress @Outcome style), for every receiver, C or Node:
 *   ACCEPTABLE              every message, in order, byte-exact (a receiver that keeps up).
 *   ACCEPTABLE_INTERESTING  messages lost, but only across a counted lap (lost > 0 implies lapped > 0); what is
 *                           delivered is still byte-exact and strictly increasing.
 *   FORBIDDEN               a corrupt message (its ends, a byte or its type id), a duplicated or reordered one, a Node
 *                           subscriber throwing on a well-formed ring, or never reaching the last message (once
 *                           the transmitter stops, every receiver catches up or jumps to `latest`).
 * Tests that make lapping certain (slowed receivers, the smallest ring) also require lapped > 0. Pacing is by sleeps
 * on a 2-core machine, so how many messages a receiver gets varies from run to run; the outcome class does not.
 *
 * Beyond delivery: a C process watches the writer's store order (no record byte before tail-intent; tail never past
 * tail-intent), a negative control shows the checks bite (a receiver that skips the after-copy validation does see
 * torn copies), positions cross 2^32, and the bytes a JVM reads are checked at their offsets.
 */
import * as fs from 'fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Publication,
  Subscription,
  createRing,
  ringInfo,
  type BroadcastSubscription,
  type RingInfo,
} from '../lib/index';
import {
  BROADCAST_TRAILER_LENGTH,
  CAPACITY_OFFSET,
  DATA_OFFSET_OFFSET,
  FILE_LENGTH_OFFSET,
  HEADER_LENGTH,
  LATEST_COUNTER_OFFSET,
  MAGIC,
  MAGIC_OFFSET,
  MIN_CAPACITY,
  MODE_BROADCAST,
  MODE_OFFSET,
  PAGE_LENGTH,
  RECORD_ALIGNMENT,
  TAIL_COUNTER_OFFSET,
  TAIL_INTENT_COUNTER_OFFSET,
  align,
} from '../lib/layout';
import { BroadcastVerifier, MIN_SELF_DESCRIBING_LENGTH, decodeSeq, encode, type Run } from './fixtures/ring/sequence';
import { assertPeersBuilt, reapPeers, startPeer, type PeerExit } from './interop/peers';
import { sleep } from './helpers/ring-env';

const SEED = 0x5eed;
const TYPE_ID = 7;
const PADDING_TYPE_ID = -1;

/** The run every peer sends and expects: broadcast, one type id, lengths in [minLength, maxLength]. */
function interopRun(minLength: number, maxLength: number): Run {
  return { mode: 'broadcast', seed: SEED, minLength, maxLength, typeId: TYPE_ID };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

let ringCounter = 0;
const createdRings: string[] = [];
const openSubscriptions: BroadcastSubscription[] = [];

/** A ring name unique to this process and test; unlinked in afterEach. */
function ringName(): string {
  const name = `shmring-interop-${process.pid}-${ringCounter++}`;
  createdRings.push(name);
  return name;
}

function openBroadcast(name: string, from: 'latest' | 'earliest' = 'latest'): BroadcastSubscription {
  const sub = Subscription.open(name, { from });
  if (sub.mode !== 'broadcast') throw new Error(`expected a broadcast ring: mode=${sub.mode}`);
  openSubscriptions.push(sub);
  return sub;
}

/** The region arguments the C peers take: PATH REGION_OFFSET CAPACITY. */
function regionArgs(info: RingInfo): Array<string | number> {
  if (info.path === null) throw new Error('ring has no path');
  return [info.path, info.dataOffset, info.capacity];
}

/** A Node-side receiver: poll → verifier (bytes and type id); throws from poll surface as test failures. */
function nodeReceiver(sub: BroadcastSubscription, expect: { minLength: number; maxLength: number }) {
  const verifier = new BroadcastVerifier(interopRun(expect.minLength, expect.maxLength));
  let maxLength = 0;
  const handler = (buffer: Uint8Array, offset: number, length: number, typeId: number) => {
    const last = verifier.last;
    verifier.accept(buffer, offset, length, typeId);
    if (verifier.last !== last) maxLength = Math.max(maxLength, length);
  };
  return {
    verifier,
    poll: (limit: number) => sub.poll(handler, limit),
    get maxLength() {
      return maxLength;
    },
    summary: () => {
      const v = verifier.summary();
      return {
        received: v.received - v.corrupt - v.duplicates - v.outOfOrder,
        lapped: sub.lappedCount,
        lostBySeqGap: v.lostBySeqGap,
        corrupt: v.corrupt,
        outOfOrder: v.outOfOrder + v.duplicates,
        lastSeq: v.last,
        reasons: v.reasons,
      };
    },
  };
}

/**
 * Checks the outcome class every receiver must be in (see the header comment). SHMRING_TEST_VERBOSE=1 prints
 * which outcome each receiver had.
 */
function expectAcceptable(
  r: { received: number; lapped: number; lostBySeqGap: number; corrupt: number; outOfOrder: number; lastSeq: number },
  count: number,
  label: string,
): void {
  const context = `${label}: ${JSON.stringify(r)}`;
  if (process.env.SHMRING_TEST_VERBOSE) console.log(context);
  expect(r.corrupt, context).toBe(0);
  expect(r.outOfOrder, context).toBe(0);
  expect(r.lastSeq, context).toBe(count - 1);
  if (r.lapped === 0) {
    expect(r.lostBySeqGap, context).toBe(0);
  }
}

function receiverSummary(exit: PeerExit) {
  const r = exit.result as Record<string, number>;
  return {
    received: r.received,
    lapped: r.lapped,
    lappedAfterCopy: r.lappedAfterCopy,
    lostBySeqGap: r.lostBySeqGap,
    corrupt: r.corrupt,
    outOfOrder: r.outOfOrder,
    lastSeq: r.lastSeq,
    code: exit.code,
    stderr: exit.stderr,
  };
}

beforeAll(() => {
  assertPeersBuilt();
});

afterEach(async () => {
  await reapPeers();
  for (const sub of openSubscriptions.splice(0)) sub.close();
  for (const name of createdRings.splice(0)) {
    try {
      Publication.unlink(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
});

describe('Agrona broadcast interop: C transmitter → Node subscribers', () => {
  it('delivers every message in order across many wraps; laps a slow subscriber without corrupting it', async () => {
    const name = ringName();
    const capacity = 1 << 20;
    const count = 40_000;
    const minLength = MIN_SELF_DESCRIBING_LENGTH;
    const maxLength = 1024;
    const info = createRing(name, { mode: 'broadcast', capacity });
    expect(info.producerAlive).toBe(false);
    const fast = nodeReceiver(openBroadcast(name), { minLength, maxLength });
    const slowSub = openBroadcast(name);
    const slow = nodeReceiver(slowSub, { minLength, maxLength });

    const transmitter = startPeer('agrona_transmitter', [
      ...regionArgs(info),
      count,
      '--seed',
      SEED,
      '--min-len',
      minLength,
      '--max-len',
      maxLength,
      '--type',
      TYPE_ID,
      '--rate-delay-us',
      250,
      '--burst',
      8,
    ]);
    const deadline = Date.now() + 40_000;
    let slowNextPoll = 0;
    while ((fast.verifier.last < count - 1 || slow.verifier.last < count - 1) && Date.now() < deadline) {
      const polled = fast.poll(256);
      // Slow while the transmitter runs (one message per 2 ms, far below its rate), then drains.
      if (!transmitter.running || Date.now() >= slowNextPoll) {
        slow.poll(transmitter.running ? 1 : 256);
        slowNextPoll = Date.now() + 2;
      }
      if (polled === 0) await sleep(1);
    }
    const sent = await transmitter.result(10_000);

    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.result.sent).toBe(count);
    expect(sent.result.paddingRecords as number).toBeGreaterThan(0);
    expect(sent.result.tail as number).toBeGreaterThan(10 * capacity);
    expectAcceptable(fast.summary(), count, 'fast subscriber');
    expectAcceptable(slow.summary(), count, 'slow subscriber');
    expect(slowSub.lappedCount, JSON.stringify(slow.summary())).toBeGreaterThan(0);
    expect(slow.summary().lostBySeqGap).toBeGreaterThan(0);
    expect(slowSub.lostBytes).toBeGreaterThan(0);
  }, 60_000);

  it('delivers the largest messages (capacity / 8) intact with a padding record at nearly every wrap', async () => {
    const name = ringName();
    const capacity = 64 * 1024;
    const count = 5_000;
    const minLength = MIN_SELF_DESCRIBING_LENGTH;
    const maxLength = capacity / 8;
    const info = createRing(name, { mode: 'broadcast', capacity });
    const sub = openBroadcast(name, 'earliest');
    const receiver = nodeReceiver(sub, { minLength, maxLength });

    const transmitter = startPeer('agrona_transmitter', [
      ...regionArgs(info),
      count,
      '--seed',
      SEED,
      '--min-len',
      minLength,
      '--max-len',
      maxLength,
      '--type',
      TYPE_ID,
      '--rate-delay-us',
      200,
      '--burst',
      2,
    ]);
    const deadline = Date.now() + 30_000;
    while (receiver.verifier.last < count - 1 && Date.now() < deadline) {
      // This ring holds ~16 messages (~2 ms of traffic): poll without sleeping (bounded by the deadline).
      if (receiver.poll(64) === 0) await yieldToEventLoop();
    }
    const sent = await transmitter.result(10_000);

    expect(sent.code, sent.stderr).toBe(0);
    // ~4 KiB average over a 64 KiB ring: hundreds of wraps, nearly each one with padding.
    expect(sent.result.paddingRecords as number).toBeGreaterThan(100);
    expectAcceptable(receiver.summary(), count, 'subscriber');
    expect(receiver.summary().received).toBeGreaterThan(0);
    expect(receiver.maxLength).toBeGreaterThan(maxLength - 1024);
  }, 60_000);

  it('never delivers a torn message while constantly lapped on the smallest ring', async () => {
    const name = ringName();
    const capacity = MIN_CAPACITY;
    const count = 200_000;
    const minLength = MIN_SELF_DESCRIBING_LENGTH;
    const maxLength = capacity / 8;
    const info = createRing(name, { mode: 'broadcast', capacity });
    const sub = openBroadcast(name);
    const receiver = nodeReceiver(sub, { minLength, maxLength });

    const transmitter = startPeer('agrona_transmitter', [
      ...regionArgs(info),
      count,
      '--seed',
      SEED,
      '--min-len',
      minLength,
      '--max-len',
      maxLength,
      '--type',
      TYPE_ID,
      '--rate-delay-us',
      100,
      '--burst',
      100,
    ]);
    const deadline = Date.now() + 30_000;
    while (receiver.verifier.last < count - 1 && Date.now() < deadline) {
      if (receiver.poll(64) === 0) await yieldToEventLoop();
    }
    const sent = await transmitter.result(10_000);

    expect(sent.code, sent.stderr).toBe(0);
    expectAcceptable(receiver.summary(), count, 'subscriber');
    expect(sub.lappedCount).toBeGreaterThan(0);
  }, 60_000);

  it('carries the highest seqs (up to 2^32 - 1, the format is uint32) byte-exact', async () => {
    const name = ringName();
    const info = createRing(name, { mode: 'broadcast', capacity: MIN_CAPACITY });
    const sub = openBroadcast(name, 'earliest');
    const firstSeq = 2 ** 32 - 6;
    const seen: number[] = [];
    const transmitter = startPeer('agrona_transmitter', [
      ...regionArgs(info),
      6,
      '--seed',
      SEED,
      '--max-len',
      64,
      '--type',
      TYPE_ID,
      '--start-seq',
      firstSeq,
    ]);
    const sent = await transmitter.result(10_000);
    expect(sent.code, sent.stderr).toBe(0);
    const verifier = new BroadcastVerifier(interopRun(MIN_SELF_DESCRIBING_LENGTH, 64));
    sub.poll((buffer, offset, length, typeId) => {
      verifier.accept(buffer, offset, length, typeId);
      seen.push(decodeSeq(buffer, offset, length));
    }, 100);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5].map((i) => firstSeq + i));
    expect(verifier.summary()).toMatchObject({ corrupt: 0, outOfOrder: 0, duplicates: 0, last: 2 ** 32 - 1 });
  });
});

describe('Agrona broadcast interop: Node Publication → C receivers', () => {
  it('delivers every message in order to a receiver that keeps up; laps slow ones without corruption', async () => {
    const name = ringName();
    const capacity = 1 << 20;
    const count = 40_000;
    const minLength = MIN_SELF_DESCRIBING_LENGTH;
    const maxLength = 1024;
    const pub = Publication.create(name, { mode: 'broadcast', capacity });
    try {
      const info = ringInfo(name);
      const common = [...regionArgs(info), '--count', count, '--timeout-ms', 40_000, '--type', TYPE_ID];
      const exact = ['--seed', SEED, '--min-len', minLength, '--max-len', maxLength];
      const fast = startPeer('agrona_receiver', [...common, ...exact]);
      const slow = startPeer('agrona_receiver', [...common, ...exact, '--rate-delay-us', 1000]);
      const tearing = startPeer('agrona_receiver', [...common, '--tear-delay-us', 300, '--rate-delay-us', 700]);
      for (const peer of [fast, slow, tearing]) await peer.waitForLine((line) => line.includes('"ready"'), 10_000);

      for (let seq = 0; seq < count; seq++) {
        const position = pub.offer(encode(interopRun(minLength, maxLength), seq), TYPE_ID);
        if (position < 0) throw new Error(`offer failed: seq=${seq} result=${position}`);
        if (seq % 16 === 15) await sleep(1);
      }
      expect(pub.position).toBeGreaterThan(10 * capacity);

      const fastResult = receiverSummary(await fast.result(45_000));
      const slowResult = receiverSummary(await slow.result(45_000));
      const tearingResult = receiverSummary(await tearing.result(45_000));
      expectAcceptable(fastResult, count, 'fast receiver');
      expect(fastResult.code).toBe(0);
      expectAcceptable(slowResult, count, 'slow receiver');
      expect(slowResult.lapped, JSON.stringify(slowResult)).toBeGreaterThan(0);
      expectAcceptable(tearingResult, count, 'tearing receiver');
      expect(tearingResult.lapped, JSON.stringify(tearingResult)).toBeGreaterThan(0);
    } finally {
      pub.close();
    }
  }, 90_000);

  it('discards copies overwritten mid-copy on the smallest ring (and without validate() they show)', async () => {
    const name = ringName();
    const capacity = MIN_CAPACITY;
    const count = 100_000;
    const minLength = MIN_SELF_DESCRIBING_LENGTH;
    const maxLength = capacity / 8;
    const pub = Publication.create(name, { mode: 'broadcast', capacity });
    try {
      const info = ringInfo(name);
      const common = [...regionArgs(info), '--count', count, '--timeout-ms', 20_000, '--type', TYPE_ID];
      const exact = ['--seed', SEED, '--min-len', minLength, '--max-len', maxLength];
      const validating = startPeer('agrona_receiver', [...common, ...exact, '--tear-delay-us', 100]);
      // Negative control: the same receiver without Agrona's after-copy validate() must see torn copies. This
      // proves the Node writer really overwrites records under a reader and that the checks above can fail.
      const control = startPeer('agrona_receiver', [
        ...common,
        ...exact,
        '--tear-delay-us',
        100,
        '--unsafe-skip-validate',
      ]);
      for (const peer of [validating, control]) await peer.waitForLine((line) => line.includes('"ready"'), 10_000);

      for (let seq = 0; seq < count; seq++) {
        pub.offer(encode(interopRun(minLength, maxLength), seq), TYPE_ID);
        if (seq % 256 === 255) await yieldToEventLoop();
      }

      const validated = receiverSummary(await validating.result(25_000));
      expectAcceptable(validated, count, 'validating receiver');
      expect(validated.lappedAfterCopy, JSON.stringify(validated)).toBeGreaterThan(0);
      const controlled = receiverSummary(await control.result(25_000));
      expect(controlled.corrupt, JSON.stringify(controlled)).toBeGreaterThan(0);
    } finally {
      pub.close();
    }
  }, 60_000);
});

describe("Agrona broadcast interop: positions crossing 2^32 (the counters' high word changes)", () => {
  /** Sets tail-intent, tail and latest of a ring nobody writes yet to `position` (8-byte LE stores via the file). */
  function presetCounters(info: RingInfo, position: number): void {
    const counters = Buffer.alloc(24);
    for (const offset of [TAIL_INTENT_COUNTER_OFFSET, TAIL_COUNTER_OFFSET, LATEST_COUNTER_OFFSET]) {
      counters.writeBigInt64LE(BigInt(position), offset);
    }
    const fd = fs.openSync(info.path!, 'r+');
    try {
      fs.writeSync(fd, counters, 0, counters.length, info.dataOffset + info.capacity + TAIL_INTENT_COUNTER_OFFSET);
    } finally {
      fs.closeSync(fd);
    }
  }

  function trailerTail(info: RingInfo): bigint {
    const fd = fs.openSync(info.path!, 'r');
    try {
      const counter = Buffer.alloc(8);
      fs.readSync(fd, counter, 0, 8, info.dataOffset + info.capacity + TAIL_COUNTER_OFFSET);
      return counter.readBigInt64LE(0);
    } finally {
      fs.closeSync(fd);
    }
  }

  const capacity = MIN_CAPACITY;
  const start = 2 ** 32 - 3 * capacity;
  const count = 400;
  const maxLength = capacity / 8;

  it('C transmitter → Node subscriber: reads 8-byte counters written in one store', async () => {
    const name = ringName();
    const info = createRing(name, { mode: 'broadcast', capacity });
    presetCounters(info, start);
    const sub = openBroadcast(name);
    expect(sub.position).toBe(start);
    const receiver = nodeReceiver(sub, { minLength: MIN_SELF_DESCRIBING_LENGTH, maxLength });
    const transmitter = startPeer('agrona_transmitter', [
      ...regionArgs(info),
      count,
      '--seed',
      SEED,
      '--max-len',
      maxLength,
      '--type',
      TYPE_ID,
      '--rate-delay-us',
      500,
    ]);
    const deadline = Date.now() + 20_000;
    while (receiver.verifier.last < count - 1 && Date.now() < deadline) {
      if (receiver.poll(64) === 0) await yieldToEventLoop();
    }
    const sent = await transmitter.result(10_000);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.result.tail as number).toBeGreaterThan(2 ** 32 + capacity);
    expectAcceptable(receiver.summary(), count, 'subscriber');
    expect(receiver.verifier.first).toBe(0);
    expect(sub.position).toBe(sent.result.tail);
  }, 60_000);

  it('Node Publication → C receiver and order checker: delivery and store order hold across it', async () => {
    const name = ringName();
    const info = createRing(name, { mode: 'broadcast', capacity });
    presetCounters(info, start);
    const pub = Publication.attach(name);
    try {
      expect(pub.position).toBe(start);
      const receiver = startPeer('agrona_receiver', [
        ...regionArgs(info),
        '--count',
        count,
        '--timeout-ms',
        20_000,
        '--type',
        TYPE_ID,
        '--seed',
        SEED,
        '--min-len',
        MIN_SELF_DESCRIBING_LENGTH,
        '--max-len',
        maxLength,
      ]);
      const checker = startPeer('agrona_order_checker', [...regionArgs(info), '--timeout-ms', 20_000]);
      for (const peer of [receiver, checker]) await peer.waitForLine((line) => line.includes('"ready"'), 10_000);
      for (let seq = 0; seq < count; seq++) {
        pub.offer(encode(interopRun(MIN_SELF_DESCRIBING_LENGTH, maxLength), seq), TYPE_ID);
        if (seq % 4 === 3) await sleep(1);
      }
      expect(pub.position).toBeGreaterThan(2 ** 32 + capacity);
      expect(trailerTail(info)).toBe(BigInt(pub.position));
      const got = receiverSummary(await receiver.result(25_000));
      expectAcceptable(got, count, 'C receiver');
      const watched = await checker.result(25_000);
      expect(watched.result.tailAheadOfIntent, JSON.stringify(watched.result)).toBe(0);
      expect(watched.result.intentAfterData, JSON.stringify(watched.result)).toBe(0);
    } finally {
      pub.close();
    }
  }, 60_000);
});

describe('Agrona broadcast interop: store order, watched by a C process', () => {
  /** Runs agrona_order_checker over `info` while `write` transmits; returns its verdict. */
  async function watch(info: RingInfo, write: () => Promise<void>) {
    const checker = startPeer('agrona_order_checker', [...regionArgs(info), '--timeout-ms', 20_000]);
    await checker.waitForLine((line) => line.includes('"ready"'), 10_000);
    await write();
    const exit = await checker.result(25_000);
    if (process.env.SHMRING_TEST_VERBOSE) console.log(JSON.stringify(exit.result));
    return exit;
  }

  it('a Node Publication raises tail-intent before it writes any record byte, and tail never passes it', async () => {
    const name = ringName();
    const capacity = MIN_CAPACITY;
    const pub = Publication.create(name, { mode: 'broadcast', capacity });
    try {
      const exit = await watch(ringInfo(name), async () => {
        for (let seq = 0; seq < 200_000; seq++) {
          pub.offer(encode(interopRun(MIN_SELF_DESCRIBING_LENGTH, capacity / 8), seq), TYPE_ID);
          if (seq % 1024 === 1023) await yieldToEventLoop();
        }
      });
      expect(exit.result.intentAfterData, JSON.stringify(exit.result)).toBe(0);
      expect(exit.result.tailAheadOfIntent, JSON.stringify(exit.result)).toBe(0);
      expect(exit.result.changesObserved as number, JSON.stringify(exit.result)).toBeGreaterThan(0);
      expect(exit.code, exit.stderr).toBe(0);
    } finally {
      pub.close();
    }
  }, 60_000);

  it('the C transmitter passes the same watch (the checker accepts a correct transmitter)', async () => {
    const name = ringName();
    const capacity = MIN_CAPACITY;
    const info = createRing(name, { mode: 'broadcast', capacity });
    const exit = await watch(info, async () => {
      const sent = await startPeer('agrona_transmitter', [
        ...regionArgs(info),
        200_000,
        '--seed',
        SEED,
        '--rate-delay-us',
        50,
        '--burst',
        200,
      ]).result(20_000);
      expect(sent.code, sent.stderr).toBe(0);
    });
    expect(exit.result.intentAfterData, JSON.stringify(exit.result)).toBe(0);
    expect(exit.result.tailAheadOfIntent, JSON.stringify(exit.result)).toBe(0);
    expect(exit.result.changesObserved as number, JSON.stringify(exit.result)).toBeGreaterThan(0);
    expect(exit.code, exit.stderr).toBe(0);
  }, 60_000);
});

describe('Agrona broadcast interop: layout written by a Node Publication', () => {
  it("writes Agrona's trailer counters, record headers and padding at the offsets a JVM reads", () => {
    const name = ringName();
    const capacity = MIN_CAPACITY;
    const maxLength = capacity / 8;
    const count = 40;
    const pub = Publication.create(name, { mode: 'broadcast', capacity });
    // Model of Agrona's transmitter: where each record and padding record must land.
    const records: Array<{ position: number; message: Uint8Array }> = [];
    const paddings: Array<{ position: number; length: number }> = [];
    let tail = 0;
    let latest = 0;
    try {
      for (let seq = 0; seq < count; seq++) {
        const message = encode(interopRun(MIN_SELF_DESCRIBING_LENGTH, maxLength), seq);
        const aligned = align(HEADER_LENGTH + message.length, RECORD_ALIGNMENT);
        const toEnd = capacity - (tail & (capacity - 1));
        if (toEnd < aligned) {
          paddings.push({ position: tail, length: toEnd });
          tail += toEnd;
        }
        records.push({ position: tail, message });
        latest = tail;
        tail += aligned;
        expect(pub.offer(message, TYPE_ID)).toBe(tail);
      }
    } finally {
      pub.close();
    }
    expect(tail).toBeGreaterThan(2 * capacity);
    expect(paddings.length).toBeGreaterThan(0);

    const info = ringInfo(name);
    const file = fs.readFileSync(info.path!);
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    // Header fields a JVM peer reads to find the region.
    expect(view.getUint32(MAGIC_OFFSET, true)).toBe(MAGIC);
    expect(view.getUint32(MODE_OFFSET, true)).toBe(MODE_BROADCAST);
    expect(view.getUint32(CAPACITY_OFFSET, true)).toBe(capacity);
    const dataOffset = view.getUint32(DATA_OFFSET_OFFSET, true);
    expect(dataOffset).toBe(info.dataOffset);
    expect(dataOffset % 8).toBe(0);
    expect(dataOffset % PAGE_LENGTH).toBe(0);
    expect(view.getUint32(FILE_LENGTH_OFFSET, true)).toBe(file.byteLength);
    expect(file.byteLength).toBeGreaterThanOrEqual(dataOffset + capacity + BROADCAST_TRAILER_LENGTH);

    // Trailer: int64 LE counters, the rest zero.
    const trailer = dataOffset + capacity;
    const tailIntent = view.getBigInt64(trailer + TAIL_INTENT_COUNTER_OFFSET, true);
    const tailCounter = view.getBigInt64(trailer + TAIL_COUNTER_OFFSET, true);
    const latestCounter = view.getBigInt64(trailer + LATEST_COUNTER_OFFSET, true);
    expect(tailCounter).toBe(BigInt(tail));
    expect(tailIntent).toBe(tailCounter); // quiescent: no transmit in flight
    expect(latestCounter).toBe(BigInt(latest));
    expect(latestCounter < tailCounter).toBe(true);
    const lastAligned = align(HEADER_LENGTH + records[records.length - 1].message.length, RECORD_ALIGNMENT);
    expect(tailCounter - latestCounter).toBe(BigInt(lastAligned));
    const rest = file.subarray(trailer + LATEST_COUNTER_OFFSET + 8, trailer + BROADCAST_TRAILER_LENGTH);
    expect(rest.every((byte) => byte === 0)).toBe(true);

    // Every record still in the ring (not yet overwritten): unaligned length, type, payload, 8-byte aligned start.
    const oldest = tail - capacity;
    let checked = 0;
    for (const { position, message } of records) {
      if (position < oldest) continue;
      const at = dataOffset + (position & (capacity - 1));
      expect(at % 8).toBe(0);
      expect(view.getInt32(at, true)).toBe(HEADER_LENGTH + message.length);
      expect(view.getInt32(at + 4, true)).toBe(TYPE_ID);
      expect(file.subarray(at + HEADER_LENGTH, at + HEADER_LENGTH + message.length).equals(message)).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    for (const { position, length } of paddings) {
      if (position < oldest) continue;
      const at = dataOffset + (position & (capacity - 1));
      expect(view.getInt32(at, true)).toBe(length);
      expect(view.getInt32(at + 4, true)).toBe(PADDING_TYPE_ID);
      expect(at + length).toBe(dataOffset + capacity);
    }
  });
});

describe('Agrona broadcast interop: the C peers (harness self-check)', () => {
  it('agree with each other on a plain file, with wraps and padding', async () => {
    const name = ringName();
    const path = `/dev/shm/${name}`;
    const regionOffset = PAGE_LENGTH;
    const capacity = 64 * 1024;
    const count = 20_000;
    fs.writeFileSync(path, Buffer.alloc(regionOffset + capacity + PAGE_LENGTH), { mode: 0o600 });
    const receiver = startPeer('agrona_receiver', [
      path,
      regionOffset,
      capacity,
      '--count',
      count,
      '--timeout-ms',
      20_000,
      '--seed',
      SEED,
      '--min-len',
      12,
      '--max-len',
      1024,
    ]);
    await receiver.waitForLine((line) => line.includes('"ready"'), 10_000);
    const transmitter = startPeer('agrona_transmitter', [
      path,
      regionOffset,
      capacity,
      count,
      '--seed',
      SEED,
      '--min-len',
      12,
      '--max-len',
      1024,
      '--rate-delay-us',
      100,
      '--burst',
      10,
    ]);
    const sent = await transmitter.result(20_000);
    const got = receiverSummary(await receiver.result(25_000));
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.result.paddingRecords as number).toBeGreaterThan(0);
    expectAcceptable(got, count, 'C receiver');
  }, 60_000);

  it('refuse a region the file cannot hold, a misaligned offset, a capacity not a power of two', async () => {
    const name = ringName();
    const path = `/dev/shm/${name}`;
    fs.writeFileSync(path, Buffer.alloc(2 * PAGE_LENGTH), { mode: 0o600 });
    const cases: Array<[Array<string | number>, RegExp]> = [
      [[path, PAGE_LENGTH, PAGE_LENGTH, 1], /file too short for the region: fileLength=8192 needed=8320/],
      [[path, 4, PAGE_LENGTH / 2, 1], /region offset must be 8-byte aligned: regionOffset=4/],
      [[path, 0, 3000, 1], /capacity must be a power of two: capacity=3000/],
    ];
    for (const [args, message] of cases) {
      const peer = startPeer('agrona_transmitter', args);
      const exit = await peer.exited;
      expect(exit.code).toBe(2);
      expect(peer.stderr).toMatch(message);
    }
  });
});
