/**
 * One producer, several consumers, in different processes, through one /dev/shm ring. Messages come from
 * test/fixtures/ring/sequence.js: seeded random lengths (0 bytes up to several times maxFramePayload in reliable
 * mode, so fragmentation happens), seq + seeded fill + seq again at the end, a type id derived from seq. Every receiver
 * regenerates each message it expects and compares every byte. Canary bytes are written into the parts of the file
 * nobody may write (the reserved header line, unused slot space) and checked afterwards.
 *
 * Acceptable outcomes (jcstress @Outcome style):
 *   reliable mode, every consumer (all registered before the producer starts, from 'earliest'):
 *     ACCEPTABLE   received === sent, every message byte-exact with its type id, in order, exactly once.
 *     FORBIDDEN    anything else: a corrupt, duplicated, reordered or missing message, dropped fragments, an
 *                  exception from poll, a timeout, a canary changed.
 *   broadcast mode, every receiver:
 *     ACCEPTABLE              every message, in order, byte-exact (a receiver that keeps up).
 *     ACCEPTABLE_INTERESTING  messages lost, but only across counted laps (lost > 0 implies lappedCount > 0 and
 *                             lostBytes > 0); what is delivered is byte-exact and strictly increasing in seq.
 *     FORBIDDEN               a corrupt, duplicated or reordered message; an exception; not reaching the last
 *                             message once the transmitter stops (a lapped receiver jumps to `latest`).
 *   The deliberately slow broadcast receiver must be lapped (lappedCount > 0) on a 4 KiB ring.
 *   Takeover: while the producer process lives, attach throws ERR_SHMRING_PRODUCER_EXISTS; after SIGKILL, attach
 *   succeeds, keeps every committed message and overwrites the claim the dead producer never committed.
 * Timing varies run to run on a 2-core machine (how many messages a broadcast receiver loses), the outcome class
 * does not. Override the seed with SHMRING_TEST_SEED to reproduce a run.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/errors';
import { Publication, Subscription, createRing, ringInfo, type ReliableSubscription } from '../../lib/index';
import * as L from '../../lib/layout';
import { OfferResult } from '../../lib/offer-result';
import type { BroadcastSummary, ReliableSummary, Run } from '../fixtures/ring/sequence';
import { closeAfterTest, SHM_DIR, startChild, thrown, uniqueName, type Child } from '../helpers/ring-env';
import * as sequence from '../fixtures/ring/sequence';

// The fixtures are plain CommonJS: load the very module the children run.

const SEED = Number(process.env.SHMRING_TEST_SEED ?? 0x5eed2026);
const CANARY_BYTE = 0xc5;

interface ConsumerReport {
  timedOut: boolean;
  error: string | null;
  elapsedMs: number;
  lappedCount: number;
  lostBytes: number;
  droppedFragments: number;
  position: number;
  producerClosed: boolean;
}

interface ProducerDone {
  sent: number;
  backPressured: number;
  position: number;
}

/**
 * File ranges nobody writes: the counters line after the reliable producer's three counters (all of it in a broadcast
 * ring) and the slot space after the last slot. (Slot bytes 32..127 hold the durable fields: a canary there would name
 * the slot.)
 */
function canaryRanges(mode: 'reliable' | 'broadcast', slots: number, dataOffset: number): Array<[number, number]> {
  const countersEnd = mode === 'reliable' ? L.REAPED_CONSUMERS_OFFSET + 8 : L.COUNTERS_LINE_OFFSET;
  return [
    [countersEnd, L.CONSUMER_SLOTS_OFFSET],
    [L.consumerSlotOffset(slots), dataOffset],
  ];
}

function writeCanaries(file: string, ranges: Array<[number, number]>): void {
  const fd = fs.openSync(file, 'r+');
  try {
    for (const [from, to] of ranges) fs.writeSync(fd, Buffer.alloc(to - from, CANARY_BYTE), 0, to - from, from);
  } finally {
    fs.closeSync(fd);
  }
}

/** Offsets of canary bytes that changed. */
function changedCanaries(file: string, ranges: Array<[number, number]>): number[] {
  const bytes = fs.readFileSync(file);
  const changed: number[] = [];
  for (const [from, to] of ranges) for (let i = from; i < to; i++) if (bytes[i] !== CANARY_BYTE) changed.push(i);
  return changed;
}

async function reportsOf<T>(children: Child[], timeoutMs: number): Promise<T[]> {
  return Promise.all(children.map((child) => child.json<T>('report ', timeoutMs)));
}

function expectExactlyOnceInOrder(report: ReliableSummary & ConsumerReport, count: number, who: string): void {
  expect({ who, error: report.error, timedOut: report.timedOut, reasons: report.reasons }).toEqual({
    who,
    error: null,
    timedOut: false,
    reasons: [],
  });
  expect(report.received, who).toBe(count);
  expect(report.next, who).toBe(count);
  expect([report.corrupt, report.duplicates, report.outOfOrder, report.droppedFragments], who).toEqual([0, 0, 0, 0]);
}

describe('reliable ring across processes', () => {
  it('delivers every message exactly once, in order, byte-exact, to each of three consumer processes', async () => {
    const name = uniqueName('mp-reliable');
    const file = path.join(SHM_DIR, name);
    const info = createRing(name, { capacity: 64 * 1024, maxFramePayload: 1024, maxConsumers: 4 });
    const ranges = canaryRanges('reliable', info.maxConsumers, info.dataOffset);
    writeCanaries(file, ranges);
    const run: Run = {
      mode: 'reliable',
      seed: SEED,
      minLength: 0,
      maxLength: 4 * info.maxFramePayload + 100,
      maxFramePayload: info.maxFramePayload,
    };
    const count = 20_000;
    const consumers = [0, 1, 2].map(() =>
      startChild('ring/consumer.js', {
        name,
        run,
        count,
        from: 'earliest',
        deadlineMs: 40_000,
        pollLimit: 1 + Math.floor(Math.random() * 64),
      }),
    );
    const slots = await Promise.all(consumers.map((c) => c.json<{ slot: number }>('ready ')));
    expect(slots.map((s) => s.slot).sort()).toEqual([0, 1, 2]);
    const producer = startChild('ring/producer.js', { name, run, count, deadlineMs: 40_000 });
    const done = await producer.json<ProducerDone>('done ', 45_000);
    const reports = await reportsOf<ReliableSummary & ConsumerReport>(consumers, 45_000);
    if (process.env.SHMRING_TEST_VERBOSE) console.log(JSON.stringify({ done, reports }));
    for (const [i, report] of reports.entries()) {
      expectExactlyOnceInOrder(report, count, `consumer ${i}`);
      expect(report.position).toBe(done.position);
      expect(report.fragmentedSeen).toBeGreaterThan(0);
    }
    expect(reports[0].maxLength).toBeGreaterThan(3 * info.maxFramePayload);
    expect(done.backPressured).toBeGreaterThan(0); // the ring was full at times: back-pressure was exercised
    for (const child of [producer, ...consumers]) expect(await child.exit(10_000)).toEqual({ code: 0, signal: null });
    expect(changedCanaries(file, ranges)).toEqual([]);
    const after = ringInfo(name);
    expect(after.producerState).toBe('closed');
    expect(after.producerPosition).toBe(done.position);
    expect(after.consumers).toEqual([]); // every consumer freed its slot
  });

  it('delivers batches (beginBatch/commitBatch) exactly once and in order to consumer processes', async () => {
    const name = uniqueName('mp-batch');
    createRing(name, { capacity: 16 * 1024, maxFramePayload: 256 });
    const run: Run = { mode: 'reliable', seed: SEED + 1, minLength: 0, maxLength: 700, maxFramePayload: 256 };
    const count = 10_000;
    const consumers = [0, 1].map(() => startChild('ring/consumer.js', { name, run, count, deadlineMs: 30_000 }));
    await Promise.all(consumers.map((c) => c.line('ready ')));
    const producer = startChild('ring/producer.js', { name, run, count, batch: 7, deadlineMs: 30_000 });
    await producer.line('done ', 35_000);
    const reports = await reportsOf<ReliableSummary & ConsumerReport>(consumers, 35_000);
    reports.forEach((report, i) => expectExactlyOnceInOrder(report, count, `consumer ${i}`));
  });

  it('works with the producer in this process and consumers in children', async () => {
    const name = uniqueName('mp-local-producer');
    const pub = closeAfterTest(Publication.create(name, { capacity: 32 * 1024, maxFramePayload: 512 }));
    const run: Run = { mode: 'reliable', seed: SEED + 2, minLength: 0, maxLength: 2000, maxFramePayload: 512 };
    const count = 10_000;
    const consumers = [0, 1].map(() => startChild('ring/consumer.js', { name, run, count, deadlineMs: 30_000 }));
    await Promise.all(consumers.map((c) => c.line('ready ')));
    const deadline = Date.now() + 30_000;
    let backPressured = 0;
    for (let seq = 0; seq < count; seq++) {
      const message = sequence.encode(run, seq);
      const typeId = sequence.typeIdFor(run, seq);
      let result: number;
      while ((result = pub.offer(message, typeId)) === OfferResult.BACK_PRESSURED) {
        backPressured++;
        if (Date.now() > deadline) throw new Error(`back-pressured past the deadline at seq=${seq}`);
        await new Promise((resolve) => setImmediate(resolve)); // let the event loop (and the children) run
      }
      expect(result).toBeGreaterThan(0);
    }
    pub.close();
    const reports = await reportsOf<ReliableSummary & ConsumerReport>(consumers, 30_000);
    reports.forEach((report, i) => expectExactlyOnceInOrder(report, count, `consumer ${i}`));
    expect(backPressured).toBeGreaterThan(0);
  });

  it('works with the producer in a child and consumers in this process', async () => {
    const name = uniqueName('mp-local-consumers');
    createRing(name, { capacity: 32 * 1024, maxFramePayload: 512 });
    const run: Run = { mode: 'reliable', seed: SEED + 3, minLength: 0, maxLength: 2000, maxFramePayload: 512 };
    const count = 10_000;
    const subs = [0, 1].map(() =>
      closeAfterTest(Subscription.open(name, { from: 'earliest' }) as ReliableSubscription),
    );
    const verifiers = subs.map(() => new sequence.ReliableVerifier(run));
    const producer = startChild('ring/producer.js', { name, run, count, deadlineMs: 30_000 });
    const deadline = Date.now() + 30_000;
    while (verifiers.some((v) => v.summary().received < count) && Date.now() < deadline) {
      let polled = 0;
      subs.forEach((sub, i) => (polled += sub.poll(verifiers[i].accept, 50)));
      if (polled === 0) await subs[0].wait({ timeoutMs: 50 });
    }
    verifiers.forEach((v, i) =>
      expectExactlyOnceInOrder(
        {
          ...v.summary(),
          timedOut: false,
          error: null,
          elapsedMs: 0,
          lappedCount: 0,
          lostBytes: 0,
          droppedFragments: subs[i].droppedFragments,
          position: 0,
          producerClosed: false,
        },
        count,
        `local consumer ${i}`,
      ),
    );
    expect(await producer.exit(10_000)).toEqual({ code: 0, signal: null });
    await subs[0].wait({ timeoutMs: 1000 });
    expect(subs.every((s) => s.producerClosed && !s.producerAlive)).toBe(true);
  });
});

describe('broadcast ring across processes', () => {
  it('never delivers a corrupt, duplicated or reordered message; a slow receiver is lapped and counts it', async () => {
    const name = uniqueName('mp-broadcast');
    const file = path.join(SHM_DIR, name);
    const info = createRing(name, { mode: 'broadcast', capacity: 4096 });
    const ranges = canaryRanges('broadcast', 0, info.dataOffset); // its receivers publish no counters: no slot
    writeCanaries(file, ranges);
    const run: Run = {
      mode: 'broadcast',
      seed: SEED + 4,
      minLength: sequence.MIN_SELF_DESCRIBING_LENGTH,
      maxLength: info.maxMessageLength,
    };
    const count = 20_000;
    const fast = [0, 1].map(() => startChild('ring/consumer.js', { name, run, from: 'latest', deadlineMs: 30_000 }));
    const slow = startChild('ring/consumer.js', {
      name,
      run,
      from: 'latest',
      slowEvery: 4,
      slowMs: 2,
      pollLimit: 8,
      deadlineMs: 30_000,
    });
    const receivers = [...fast, slow];
    await Promise.all(receivers.map((c) => c.line('ready ')));
    const producer = startChild('ring/producer.js', { name, run, count, paceEvery: 16, paceMs: 1, deadlineMs: 30_000 });
    await producer.line('done ', 35_000);
    const reports = await reportsOf<BroadcastSummary & ConsumerReport>(receivers, 35_000);
    if (process.env.SHMRING_TEST_VERBOSE) console.log(JSON.stringify(reports));
    for (const [i, report] of reports.entries()) {
      const who = i === 2 ? 'slow receiver' : `receiver ${i}`;
      expect({ who, error: report.error, timedOut: report.timedOut, reasons: report.reasons }).toEqual({
        who,
        error: null,
        timedOut: false,
        reasons: [],
      });
      expect([report.corrupt, report.duplicates, report.outOfOrder], who).toEqual([0, 0, 0]);
      expect(report.last, who).toBe(count - 1); // everyone reaches the last message
      // Lost: before the first delivery (a receiver can be lapped before it reads anything) and in the gaps.
      const lost = report.first + report.lostBySeqGap;
      expect(report.received + lost, who).toBe(count);
      if (lost > 0) {
        expect(report.lappedCount, who).toBeGreaterThan(0);
        expect(report.lostBytes, who).toBeGreaterThan(0);
      }
    }
    const slowReport = reports[2];
    expect(slowReport.lappedCount).toBeGreaterThan(0);
    expect(slowReport.first + slowReport.lostBySeqGap).toBeGreaterThan(0);
    expect(slowReport.received).toBeLessThan(count);
    for (const child of [producer, ...receivers]) expect(await child.exit(10_000)).toEqual({ code: 0, signal: null });
    expect(changedCanaries(file, ranges)).toEqual([]);
  });
});

describe('Publication.attach across processes', () => {
  it('throws ERR_SHMRING_PRODUCER_EXISTS while the producer process lives, and takes over once it is SIGKILLed', async () => {
    const name = uniqueName('mp-takeover');
    const file = path.join(SHM_DIR, name);
    const run: Run = { mode: 'reliable', seed: SEED + 5, minLength: 0, maxLength: 300, maxFramePayload: 128 };
    const committed = 50;
    const producer = startChild('ring/producer.js', {
      name,
      run,
      count: committed,
      thenClaim: 100,
      create: { capacity: 64 * 1024, maxFramePayload: 128 },
    });
    const claimed = await producer.json<{ position: number }>('claimed ');
    const sub = closeAfterTest(Subscription.open(name, { from: 'earliest' }) as ReliableSubscription);

    expect(thrown(() => closeAfterTest(Publication.attach(name)))).toMatchObject({
      code: ErrorCode.PRODUCER_EXISTS,
      message: `another live process is the producer of this ring: ${file}`,
      path: file,
    });
    expect(ringInfo(name)).toMatchObject({
      producerAlive: true,
      producerState: 'active',
      producerEpoch: 1,
      producerPid: producer.process.pid,
    });
    expect(sub.producerAlive).toBe(true);

    producer.process.kill('SIGKILL');
    expect(await producer.exit(5000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(ringInfo(name)).toMatchObject({ producerAlive: false, producerState: 'active' }); // crashed, not closed
    expect(sub.producerAlive).toBe(false);
    expect(sub.producerClosed).toBe(false);

    const pub = closeAfterTest(Publication.attach(name));
    expect(pub.mode).toBe('reliable');
    const claimLength = L.align(100 + L.HEADER_LENGTH, L.RECORD_ALIGNMENT);
    expect(pub.position).toBe(claimed.position - claimLength); // the uncommitted claim is overwritten
    expect(ringInfo(name)).toMatchObject({ producerAlive: true, producerEpoch: 2, producerPid: process.pid });
    for (let seq = committed; seq < committed + 10; seq++) {
      expect(pub.offer(sequence.encode(run, seq), sequence.typeIdFor(run, seq))).toBeGreaterThan(0);
    }
    const verifier = new sequence.ReliableVerifier(run);
    while (sub.poll(verifier.accept, 100) > 0);
    const summary = verifier.summary();
    expect(summary.reasons).toEqual([]);
    expect(summary.received).toBe(committed + 10);
    expect(sub.producerAlive).toBe(true);
  });
});
