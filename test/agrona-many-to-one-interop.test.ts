/**
 * Interop with Agrona's ManyToOneRingBuffer (org.agrona.concurrent.ringbuffer), across processes, without Java:
 * shmring's many-to-one mode against an independent C implementation of the format (test/interop/
 * agrona_ring_buffer.h, written from the format, not from lib/), whose producers claim with a full 64-bit CAS of the
 * tail while Node producers CAS its low word. Messages are test/fixtures/ring/sequence.js's (test/interop/message.h in
 * C: seq at both ends around a seeded body); each producer has its own type id and seed, so every consumer checks
 * every message byte for byte against its producer's run.
 *
 * Acceptable outcomes (jcstress @Outcome style), for every consumer, C or Node:
 *   ACCEPTABLE  every message of every producer, in that producer's order, exactly once, byte-exact.
 *   FORBIDDEN   anything else: a corrupt, lost, duplicated or reordered message, an unknown type id, a consumer
 *               timing out or throwing, duplicated correlation ids.
 * Positions start just below 2^32, so the tail's carry happens while C and Node producers contend for it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Publication, Subscription, createRing, type ManyToOneSubscription, type RingInfo } from '../lib/index';
import * as L from '../lib/layout';
import { OfferResult } from '../lib/offer-result';
import type { Run } from './fixtures/ring/sequence';
import * as sequence from './fixtures/ring/sequence';
import { pokeInt32 } from './helpers/ring-env';
import { assertPeersBuilt, reapPeers, startPeer } from './interop/peers';

const SEED = 0x5eed14;
const TWO_POW_32 = 2 ** 32;
const MIN_LENGTH = sequence.MIN_SELF_DESCRIBING_LENGTH;
const MAX_LENGTH = 200;

let ringCounter = 0;
const createdRings: string[] = [];
const closers: Array<{ close(): void }> = [];

function ringName(): string {
  const name = `shmring-m2o-interop-${process.pid}-${ringCounter++}`;
  createdRings.push(name);
  return name;
}

function regionArgs(info: RingInfo): Array<string | number> {
  if (info.path === null) throw new Error('ring has no path');
  return [info.path, info.dataOffset, info.capacity];
}

/** Moves tail, head cache and head (an empty ring) to `position`, and the correlation counter to `correlation`. */
function startAt(info: RingInfo, position: number, correlation: number): void {
  const trailer = info.dataOffset + info.capacity;
  const poke64 = (offset: number, value: number): void => {
    pokeInt32(info.path!, trailer + offset, (value % TWO_POW_32) | 0);
    pokeInt32(info.path!, trailer + offset + 4, Math.floor(value / TWO_POW_32));
  };
  for (const offset of [L.TAIL_POSITION_OFFSET, L.HEAD_CACHE_POSITION_OFFSET, L.HEAD_POSITION_OFFSET]) {
    poke64(offset, position);
  }
  poke64(L.CORRELATION_COUNTER_OFFSET, correlation);
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Producer `typeId`'s run: its seed, the interop length bounds, its type id on every message. */
function runOf(typeId: number, seed: number): Run {
  return { mode: 'broadcast', seed, minLength: MIN_LENGTH, maxLength: MAX_LENGTH, typeId };
}

/**
 * A Node producer in this process: offer, tryClaim+commit and offerParts in turn, yielding to the event loop every
 * 64 messages and whenever the ring is full. Takes a correlation id every 4th message; returns the ids.
 */
async function nodeProducer(name: string, typeId: number, seed: number, count: number): Promise<number[]> {
  const pub = Publication.open(name);
  if (pub.mode !== 'many-to-one') throw new Error(`expected many-to-one: ${pub.mode}`);
  closers.push(pub);
  const ids: number[] = [];
  const deadline = Date.now() + 40_000;
  for (let seq = 0; seq < count; seq++) {
    const message = sequence.encode(runOf(typeId, seed), seq);
    for (;;) {
      let sent: boolean;
      if (seq % 3 === 1) {
        const claim = pub.tryClaim(message.length, typeId);
        if (claim !== null) {
          claim.buffer.set(message, claim.offset);
          claim.commit();
        }
        sent = claim !== null;
      } else {
        const half = message.length >> 1;
        const result =
          seq % 3 === 0
            ? pub.offer(message, typeId)
            : pub.offerParts([message.subarray(0, half), message.subarray(half)], typeId);
        if (result !== OfferResult.BACK_PRESSURED && result < 0) throw new Error(`offer returned ${result}`);
        sent = result >= 0;
      }
      if (sent) break;
      if (Date.now() > deadline) throw new Error(`node producer ${typeId} timed out at seq=${seq}`);
      await yieldToEventLoop();
    }
    if (seq % 4 === 0) ids.push(pub.nextCorrelationId());
    if (seq % 64 === 63) await yieldToEventLoop();
  }
  pub.close();
  return ids;
}

/** A Node consumer of every producer in `seeds` (type id → seed), polled until each delivered `count` messages. */
async function nodeConsumer(sub: ManyToOneSubscription, seeds: Map<number, number>, count: number) {
  const verifiers = new Map(
    [...seeds].map(([typeId, seed]) => [typeId, new sequence.BroadcastVerifier(runOf(typeId, seed))]),
  );
  let unknownType = 0;
  const handler = (buffer: Uint8Array, offset: number, length: number, typeId: number): void => {
    const verifier = verifiers.get(typeId);
    if (verifier === undefined) unknownType++;
    else verifier.accept(buffer, offset, length, typeId);
  };
  const done = () => [...verifiers.values()].every((v) => v.last === count - 1);
  const deadline = Date.now() + 40_000;
  while (!done() && Date.now() < deadline) {
    if (sub.poll(handler, 128) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    else await yieldToEventLoop();
  }
  return { verifiers, unknownType };
}

function expectAllDelivered(result: Awaited<ReturnType<typeof nodeConsumer>>, count: number): void {
  expect(result.unknownType).toBe(0);
  for (const [typeId, v] of result.verifiers) {
    const r = v.summary();
    const summary = {
      typeId,
      received: r.received,
      corrupt: r.corrupt,
      duplicates: r.duplicates,
      lost: r.lostBySeqGap,
    };
    expect(summary, JSON.stringify({ ...summary, outOfOrder: r.outOfOrder, reasons: r.reasons })).toEqual({
      typeId,
      received: count,
      corrupt: 0,
      duplicates: 0,
      lost: 0,
    });
    expect([r.first, r.last, r.outOfOrder]).toEqual([0, count - 1, 0]);
  }
}

beforeAll(() => {
  assertPeersBuilt();
});

afterEach(async () => {
  await reapPeers();
  for (const closer of closers.splice(0)) closer.close();
  for (const name of createdRings.splice(0)) {
    try {
      Publication.unlink(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
});

describe('Agrona many-to-one interop', () => {
  it('C and Node producers into a Node consumer, all at once, across the 2^32 carry; correlation ids all distinct', async () => {
    const name = ringName();
    const capacity = 64 * 1024;
    const count = 20_000;
    const info = createRing(name, { mode: 'many-to-one', capacity });
    const correlationStart = TWO_POW_32 - 5000;
    startAt(info, TWO_POW_32 - 3 * capacity + 24, correlationStart);
    const sub = Subscription.open(name, { unblockTimeoutMs: 60_000 }) as ManyToOneSubscription;
    closers.push(sub);
    const seeds = new Map([1, 2, 3, 4].map((typeId) => [typeId, (SEED + typeId * 7919) >>> 0]));
    const cIds = 2000;
    const cProducers = [1, 2].map((typeId) =>
      startPeer('agrona_m2o_producer', [
        ...regionArgs(info),
        count,
        '--type',
        typeId,
        '--seed',
        seeds.get(typeId)!,
        '--min-len',
        MIN_LENGTH,
        '--max-len',
        MAX_LENGTH,
        '--timeout-ms',
        40_000,
        '--correlation-ids',
        cIds,
      ]),
    );
    const consumed = nodeConsumer(sub, seeds, count);
    const nodeIds = await Promise.all([3, 4].map((typeId) => nodeProducer(name, typeId, seeds.get(typeId)!, count)));
    const result = await consumed;
    const cExits = await Promise.all(cProducers.map((p) => p.result(20_000)));
    for (const exit of cExits) expect(exit.code, exit.stderr).toBe(0);
    expectAllDelivered(result, count);
    expect(sub.position).toBe(sub.producerPosition);
    expect(sub.position).toBeGreaterThan(TWO_POW_32);
    // Every id taken once: Node's ids are distinct, and all ids together are exactly start .. start + n - 1.
    const all = nodeIds.flat();
    expect(new Set(all).size).toBe(all.length);
    const n = all.length + 2 * cIds;
    const cSum = cExits.reduce((sum, e) => sum + (e.result.correlationSum as number), 0);
    const nodeSum = all.reduce((sum, id) => sum + id, 0);
    expect(nodeSum + cSum).toBe(n * correlationStart + (n * (n - 1)) / 2);
  }, 60_000);

  it('Node and C producers into a C consumer, all at once', async () => {
    const name = ringName();
    const capacity = 64 * 1024;
    const count = 20_000;
    const info = createRing(name, { mode: 'many-to-one', capacity });
    startAt(info, TWO_POW_32 - capacity - 40, 0);
    const seeds = new Map([1, 2, 3].map((typeId) => [typeId, (SEED ^ (typeId * 104729)) >>> 0]));
    const consumer = startPeer('agrona_m2o_consumer', [
      ...regionArgs(info),
      '--timeout-ms',
      40_000,
      ...[...seeds].flatMap(([typeId, seed]) => [
        '--producer',
        `${typeId}:${seed}:${count}:${MIN_LENGTH}:${MAX_LENGTH}`,
      ]),
    ]);
    await consumer.waitForLine((line) => line.includes('"ready"'), 10_000);
    const cProducer = startPeer('agrona_m2o_producer', [
      ...regionArgs(info),
      count,
      '--type',
      3,
      '--seed',
      seeds.get(3)!,
      '--min-len',
      MIN_LENGTH,
      '--max-len',
      MAX_LENGTH,
      '--timeout-ms',
      40_000,
    ]);
    await Promise.all([1, 2].map((typeId) => nodeProducer(name, typeId, seeds.get(typeId)!, count)));
    const exit = await consumer.result(40_000);
    expect(exit.result, exit.stderr).toMatchObject({
      received: 3 * count,
      corrupt: 0,
      outOfOrder: 0,
      unknownType: 0,
      timedOut: false,
      badRecord: false,
    });
    expect(exit.code).toBe(0);
    expect((await cProducer.result(10_000)).code).toBe(0);
  }, 60_000);

  it('a C producer killed between claim and commit: the Node consumer unblocks it and goes on', async () => {
    const name = ringName();
    const info = createRing(name, { mode: 'many-to-one', capacity: 16 * 1024 });
    const sub = Subscription.open(name, { unblockTimeoutMs: 100 }) as ManyToOneSubscription;
    closers.push(sub);
    const seeds = new Map([
      [1, SEED],
      [2, SEED + 1],
    ]);
    const claimer = startPeer('agrona_m2o_producer', [
      ...regionArgs(info),
      100,
      '--type',
      1,
      '--seed',
      SEED,
      '--min-len',
      MIN_LENGTH,
      '--max-len',
      MAX_LENGTH,
      '--timeout-ms',
      20_000,
      '--then-claim',
      64,
    ]);
    const result = nodeConsumer(sub, seeds, 100);
    await claimer.waitForLine((line) => line.includes('"claimed"'), 10_000);
    claimer.kill();
    await claimer.exited;
    // Node producer 2 writes behind the dead claim; the consumer waits 100 ms, pads the claim, and delivers them.
    await nodeProducer(name, 2, SEED + 1, 100);
    expectAllDelivered(await result, 100);
    expect(sub.unblockedCount).toBe(1);
  }, 30_000);
});
