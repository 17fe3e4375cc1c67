/**
 * Durable consumers across real processes: a consumer child (test/fixtures/recovery/durable-consumer.js) logs every
 * message it is handed (tag, seq, the message's ring position) to a file, with one write(2) from inside its handler;
 * the messages carry sequence numbers and checksums (test/fixtures/recovery/messages.js).
 *
 * Acceptable outcomes — exactly these:
 * - SIGKILL mid-stream, restart: the restarted consumer starts exactly at the position the dead one committed (read
 *   from the ring after the kill). What the dead one had been handed up to that position, followed by everything the
 *   restarted one is handed, is every message exactly once, in order, checksums intact: no gap, no duplicate of
 *   committed progress. Messages handed over after the last commit (inside the poll batch it died in) are handed
 *   over again: at most one batch (`limit`). Meanwhile the producer is held back (never more than a ring ahead of
 *   the committed position, and not moving), never reaps the slot, and resumes once the consumer is back.
 * - Away past durableTimeoutMs while holding the producer back: evicted (no sooner than the timeout after the kill),
 *   the producer moves on; the next open fails with ERR_SHMRING_EVICTED, an open with onEvicted 'restart' rejoins.
 * - Two live opens of one name: the second fails with ERR_SHMRING_DURABLE_IN_USE.
 * - The producer killed and taken over while the durable consumer is away: the new producer is held back by the
 *   slot too, and the restarted consumer gets the rest of the first producer's messages, then the new one's.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { formatStat } from '../../lib/cli/stat';
import { readRingState } from '../../lib/cli/ring-state';
import { ErrorCode, Publication, ringInfo, type ReliablePublication } from '../../lib/index';
import {
  closeAfterTest,
  privateShmDir,
  sleep,
  startChild,
  uniqueName,
  waitFor,
  type Child,
  type Report,
} from '../helpers/ring-env';
import { offerRange } from './helpers';

const SEED = 0xd0ab1e;
const CAPACITY = 16 * 1024;
const LIMIT = 16;

interface Delivery {
  tag: number;
  seq: number;
  pos: number;
}

const logs = new WeakMap<Child, string>();

/** What `child` logged it was handed, in order. */
function deliveries(child: Child): Delivery[] {
  const file = logs.get(child) as string;
  if (!fs.existsSync(file)) return [];
  const bytes = fs.readFileSync(file);
  const list: Delivery[] = [];
  for (let at = 0; at + 16 <= bytes.length; at += 16) {
    list.push({ tag: bytes.readUInt32LE(at), seq: bytes.readUInt32LE(at + 4), pos: bytes.readDoubleLE(at + 8) });
  }
  return list;
}

function startConsumer(ring: string, durable: string, extra: object = {}): Child {
  const log = path.join(privateShmDir('durable-log'), 'deliveries');
  const child = startChild('recovery/durable-consumer.js', {
    ring,
    durable,
    seed: SEED,
    log,
    limit: LIMIT,
    from: 'earliest',
    ...extra,
  });
  logs.set(child, log);
  return child;
}

/**
 * Kills `child` once it was handed `count` messages; returns when it is gone, with the time just before the signal
 * (it died after that: the producer cannot have noticed its death earlier).
 */
async function killAfter(child: Child, count: number): Promise<number> {
  await waitFor(`${count} deliveries`, () => deliveries(child).length >= count, 30_000);
  const signalledAt = Date.now();
  child.signal('SIGKILL');
  await child.exit(5000);
  return signalledAt;
}

/** The only consumer slot of `ring`. */
function onlySlot(ring: string) {
  const consumers = ringInfo(ring).consumers;
  expect(consumers).toHaveLength(1);
  return consumers[0];
}

/** The producer's position once it stopped moving for 300 ms (it is held back). */
async function heldBack(pub: ReliablePublication): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = pub.position;
    await sleep(300);
    if (pub.position === before) return before;
  }
  throw new Error(`the producer never stopped: position ${pub.position}`);
}

/** Consecutive runs of (tag, seq) as [tag, first, last]: a gap, a duplicate or a reordering adds a run. */
function runs(list: Delivery[]): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (const { tag, seq } of list) {
    const last = out[out.length - 1];
    if (last !== undefined && last[0] === tag && last[2] + 1 === seq) last[2] = seq;
    else out.push([tag, seq, seq]);
  }
  return out;
}

/** What the dead consumer had been handed up to `committed`, then what the restarted one was handed. */
function exactlyOnce(dead: Delivery[], committed: number, restarted: Delivery[]): Delivery[] {
  const kept = dead.filter((d) => d.pos <= committed);
  const redelivered = dead.length - kept.length;
  expect(redelivered, 'handed over again: only the batch it died in').toBeLessThanOrEqual(LIMIT);
  if (kept.length > 0) expect(kept[kept.length - 1].pos).toBe(committed);
  expect(restarted[0].pos).toBeGreaterThan(committed);
  return [...kept, ...restarted];
}

function noBadMessages(...children: Child[]): void {
  for (const child of children) expect(child.reports.filter((r: Report) => r.event === 'bad')).toEqual([]);
}

describe('durable consumer across processes', () => {
  it('continues exactly where it left off after SIGKILL mid-stream; the producer waits for it meanwhile', async () => {
    const ring = uniqueName('durable-kill');
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY }));
    const total = 3000; // ~20 laps of the ring
    const first = startConsumer(ring, 'bridge-a');
    expect(await first.report('joined')).toMatchObject({ opened: 'created', name: 'bridge-a', position: 0 });
    const producing = offerRange(pub, SEED, 1, 0, total, 60_000);
    const killedAt = await killAfter(first, 800);

    const away = onlySlot(ring);
    expect(away).toMatchObject({ state: 'active', alive: false });
    const committed = away.position;
    const position = await heldBack(pub);
    expect(position - committed).toBeLessThanOrEqual(CAPACITY);
    // Held back by it, the producer noticed it away (and did not reap it).
    const noticed = onlySlot(ring).durable;
    expect(noticed).toMatchObject({ name: 'bridge-a', timeoutMs: 60_000, evictedAt: null });
    expect(noticed?.detachedSince).toBeGreaterThanOrEqual(killedAt);
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 0 });
    const stat = formatStat({ ...readRingState(ring, {}), rates: null }, false);
    expect(stat).toMatch(/DURABLE\s+TIMEOUT\s+DETACHED/);
    expect(stat).toMatch(/bridge-a\s+60 s\s+away \d+ (ms|s)/);

    const second = startConsumer(ring, 'bridge-a', { from: 'latest' });
    expect(await second.report('joined')).toMatchObject({ opened: 'resumed', position: committed });
    await producing;
    pub.close();
    await second.report('done', 30_000);
    const all = exactlyOnce(deliveries(first), committed, deliveries(second));
    expect(runs(all)).toEqual([[1, 0, total - 1]]);
    noBadMessages(first, second);
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 0 });
  });

  it('is evicted once away past durableTimeoutMs; the next open says so, onEvicted restart rejoins', async () => {
    const ring = uniqueName('durable-timeout');
    const pub = closeAfterTest(Publication.create(ring, { capacity: CAPACITY }));
    const first = startConsumer(ring, 'slow', { durableTimeoutMs: 400 });
    await first.report('joined');
    const producing = offerRange(pub, SEED, 1, 0, 2000, 30_000);
    const killedAt = await killAfter(first, 200);
    const committed = onlySlot(ring).position;
    await producing; // only possible once the slot is evicted: 2000 messages are many rings
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 1 });
    const evicted = onlySlot(ring);
    expect(evicted).toMatchObject({ state: 'evicted', alive: false, position: committed });
    expect(evicted.durable?.evictedAt).toBeGreaterThanOrEqual(killedAt + 400);

    const refused = startConsumer(ring, 'slow', { durableTimeoutMs: 400 });
    const error = await refused.report<{ code: string; message: string }>('error');
    expect(error.code).toBe(ErrorCode.EVICTED);
    expect(error.message).toContain(`messages after position ${committed} were lost to it`);

    const restarted = startConsumer(ring, 'slow', { onEvicted: 'restart', from: 'latest' });
    expect(await restarted.report('joined')).toMatchObject({
      opened: 'restarted',
      evictedAt: evicted.durable?.evictedAt,
      evictedPosition: committed,
      position: pub.position,
    });
    await offerRange(pub, SEED, 2, 0, 100);
    pub.close();
    await restarted.report('done', 30_000);
    expect(runs(deliveries(restarted))).toEqual([[2, 0, 99]]);
    noBadMessages(first, restarted);
  });

  it('refuses a second live open of the same name in another process', async () => {
    const ring = uniqueName('durable-conflict');
    closeAfterTest(Publication.create(ring, { capacity: CAPACITY }));
    const holder = startConsumer(ring, 'only-one');
    await holder.report('joined');
    const second = startConsumer(ring, 'only-one');
    const error = await second.report<{ code: string; message: string }>('error');
    expect(error).toMatchObject({
      code: ErrorCode.DURABLE_IN_USE,
      message: 'durable consumer "only-one" is attached to a live process (slot 0): one process at a time',
    });
    // Another name is another consumer.
    expect(await startConsumer(ring, 'other').report('joined')).toMatchObject({ opened: 'created', slot: 1 });
  });

  it("keeps its slot across the producer's death and takeover", async () => {
    const ring = uniqueName('durable-takeover');
    const producer = startChild(
      'recovery/producer.js',
      { ring, create: true, capacity: CAPACITY, seed: SEED, tag: 1, count: 3000, then: 'hold' },
      { ipc: true },
    );
    await producer.report('ready');
    const first = startConsumer(ring, 'survivor');
    await first.report('joined');
    producer.command('go');
    await killAfter(first, 500);
    const committed = onlySlot(ring).position;
    // The first producer runs into the slot, then dies without closing.
    await waitFor('the first producer held back', () => ringInfo(ring).producerPosition > committed, 10_000);
    producer.signal('SIGKILL');
    await producer.exit(5000);

    const pub = closeAfterTest(Publication.attach(ring)) as ReliablePublication;
    const tail = pub.position;
    const producing = offerRange(pub, SEED, 2, 0, 1000, 60_000);
    const position = await heldBack(pub);
    expect(position - committed).toBeLessThanOrEqual(CAPACITY);
    expect(onlySlot(ring)).toMatchObject({ state: 'active', alive: false, position: committed });

    const second = startConsumer(ring, 'survivor');
    expect(await second.report('joined')).toMatchObject({ opened: 'resumed', position: committed });
    await producing;
    pub.close();
    await second.report('done', 30_000);
    const all = exactlyOnce(deliveries(first), committed, deliveries(second));
    const byFirst = runs(all)[0];
    expect(runs(all)).toEqual([byFirst, [2, 0, 999]]);
    expect(byFirst[0]).toBe(1);
    expect(byFirst[1]).toBe(0);
    // Every message the first producer committed, up to its tail at the takeover.
    expect(all.find((d) => d.tag === 1 && d.seq === byFirst[2])?.pos).toBe(tail);
    noBadMessages(first, second);
    expect(pub.stats.reapedConsumers).toBe(0);
  });
});
