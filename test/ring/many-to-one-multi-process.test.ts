/**
 * Many producers, one consumer, through one /dev/shm many-to-one ring: producer processes (and worker threads)
 * running test/fixtures/ring/many-to-one-producer.js, the consumer in this process. Each producer has its own seeded
 * sequence (test/fixtures/ring/sequence.js: seq + seeded fill + FNV-1a checksum, lengths mixed) and its own type id;
 * the consumer regenerates every message it expects and compares every byte. Producers cycle offer, tryClaim+commit
 * and offerParts.
 *
 * Acceptable outcomes (jcstress @Outcome style), per producer:
 *   ACCEPTABLE   every message it sent, in its order, exactly once, byte-exact (interleaving between producers is
 *                free).
 *   FORBIDDEN    a corrupt, duplicated, reordered or missing message; a message with an unknown type id; an exception
 *                from poll; a timeout.
 * Killed producers: a producer SIGKILLed between claim and commit blocks the consumer until its unblock timeout, then
 * the consumer turns that claim into padding (unblockedCount >= 1) and delivers everything the others sent. A producer
 * SIGKILLed at a random point delivers a prefix of its sequence (every message it committed), nothing else.
 * Override the seed with SHMRING_TEST_SEED to reproduce a run.
 */
import path from 'path';
import { Worker } from 'worker_threads';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/errors';
import {
  Publication,
  Subscription,
  createRing as createRingFile,
  type ManyToOnePublication,
  type ManyToOneSubscription,
} from '../../lib/index';
import type { Run } from '../fixtures/ring/sequence';
import * as sequence from '../fixtures/ring/sequence';
import {
  RING_FIXTURES,
  closeAfterTest,
  expectShmringError,
  startChild,
  uniqueName,
  type Child,
} from '../helpers/ring-env';

const SEED = Number(process.env.SHMRING_TEST_SEED ?? 0x5eed0e14);
const FIXTURE = 'ring/many-to-one-producer.js';

function runOf(producer: number, maxLength = 300): Run {
  return { mode: 'broadcast', seed: (SEED + producer * 0x9e37) >>> 0, minLength: 8, maxLength };
}

/** Per producer (by type id): the next seq expected, and every way a message can be wrong. */
class ManyToOneVerifier {
  readonly next: number[];
  received = 0;
  corrupt = 0;
  duplicates = 0;
  outOfOrder = 0;
  unknownType = 0;
  readonly reasons: string[] = [];
  private readonly scratch = new Uint8Array(64 * 1024);

  constructor(private readonly runs: Run[]) {
    this.next = runs.map(() => 0);
  }

  readonly accept = (buffer: Uint8Array, offset: number, length: number, typeId: number): void => {
    this.received++;
    const producer = typeId - 1;
    const run = this.runs[producer];
    if (run === undefined) {
      this.unknownType++;
      this.note(`typeId=${typeId}`);
      return;
    }
    const seq = sequence.decodeSeq(buffer, offset, length);
    const expected = this.next[producer];
    if (seq < 0) {
      this.corrupt++;
      this.note(`producer ${producer}: checksum, length=${length}, expected seq=${expected}`);
      return;
    }
    if (seq !== expected) {
      if (seq < expected) this.duplicates++;
      else this.outOfOrder++;
      this.note(`producer ${producer}: seq=${seq} expected=${expected}`);
      if (seq > expected) this.next[producer] = seq + 1;
      return;
    }
    const expectedLength = sequence.writeMessage(run, seq, this.scratch, 0);
    let same = expectedLength === length;
    for (let i = 0; same && i < length; i++) same = this.scratch[i] === buffer[offset + i];
    if (!same) {
      this.corrupt++;
      this.note(`producer ${producer}: bytes of seq=${seq} differ`);
    }
    this.next[producer] = seq + 1;
  };

  summary() {
    const { received, corrupt, duplicates, outOfOrder, unknownType, reasons } = this;
    return { received, next: this.next, corrupt, duplicates, outOfOrder, unknownType, reasons };
  }

  private note(reason: string): void {
    if (this.reasons.length < 5) this.reasons.push(reason);
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Polls (sleeping in `wait` when empty) until `done()` or the deadline; the event loop turns in between. */
async function consume(sub: ManyToOneSubscription, v: ManyToOneVerifier, done: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let sinceYield = Date.now();
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`consumer timed out: ${JSON.stringify(v.summary())}`);
    if (sub.poll(v.accept, 256) === 0) await sub.wait({ timeoutMs: 50 });
    else if (Date.now() - sinceYield > 20) {
      await yieldToEventLoop();
      sinceYield = Date.now();
    }
  }
}

function createRing(
  tag: string,
  capacity: number,
  unblockTimeoutMs?: number,
): { name: string; sub: ManyToOneSubscription } {
  const name = uniqueName(tag);
  const sub = closeAfterTest(Subscription.create(name, { mode: 'many-to-one', capacity, unblockTimeoutMs }));
  return { name, sub };
}

function expectClean(v: ManyToOneVerifier, counts: number[]): void {
  const s = v.summary();
  expect(s, JSON.stringify(s)).toMatchObject({ corrupt: 0, duplicates: 0, outOfOrder: 0, unknownType: 0 });
  expect(s.next).toEqual(counts);
  expect(s.received).toBe(counts.reduce((a, b) => a + b, 0));
}

describe('many-to-one ring across processes', () => {
  it('delivers 4 producer processes × 1 M messages of mixed sizes: per producer in order, none lost, none twice, intact', async () => {
    const producers = 4;
    const count = Number(process.env.SHMRING_M2O_COUNT ?? 1_000_000);
    const { name, sub } = createRing('m2o-4x', 256 * 1024);
    const runs = Array.from({ length: producers }, (_, p) => runOf(p, 120));
    const verifier = new ManyToOneVerifier(runs);
    const children = runs.map((run, p) =>
      startChild(FIXTURE, { name, run, typeId: p + 1, count, deadlineMs: 100_000 }),
    );
    await consume(sub, verifier, () => verifier.received >= producers * count, 110_000);
    const done = await Promise.all(children.map((c) => c.json<{ casRetries: number }>('done ', 10_000)));
    expectClean(
      verifier,
      runs.map(() => count),
    );
    expect(sub.unblockedCount).toBe(0);
    for (const c of children) expect((await c.exit(10_000)).code).toBe(0);
    if (process.env.SHMRING_TEST_VERBOSE) console.log(JSON.stringify(done));
  }, 120_000);

  it('unblocks a claim whose producer was SIGKILLed before committing it, and delivers everything else', async () => {
    const { name, sub } = createRing('m2o-kill', 64 * 1024, 200);
    const runs = [runOf(0), runOf(1), runOf(2)];
    const verifier = new ManyToOneVerifier(runs);
    // Producer 3 (type 3) sends 1000 messages, then claims and hangs: everything behind its claim waits for it.
    const claimer = startChild(FIXTURE, { name, run: runs[2], typeId: 3, count: 1000, thenClaim: 100 });
    const claimed = (): boolean => claimer.lines.some((line) => line.startsWith('claimed '));
    await consume(sub, verifier, () => claimed() && verifier.next[2] >= 1000, 30_000);
    claimer.process.kill('SIGKILL');
    await claimer.exited;
    const others = [0, 1].map((p) =>
      startChild(FIXTURE, { name, run: runs[p], typeId: p + 1, count: 20_000, deadlineMs: 60_000 }),
    );
    await consume(sub, verifier, () => verifier.received >= 41_000, 60_000);
    expectClean(verifier, [20_000, 20_000, 1000]);
    expect(sub.unblockedCount).toBe(1);
    for (const c of others) expect((await c.exit(10_000)).code).toBe(0);
  }, 90_000);

  it('goes on past producers SIGKILLed at random points while others send: each delivers a prefix of its sequence', async () => {
    const { name, sub } = createRing('m2o-chaos', 16 * 1024, 200);
    const rng = sequence.prng(SEED ^ 0xc4a05);
    const runs = [runOf(0), runOf(1), runOf(2), runOf(3)];
    const verifier = new ManyToOneVerifier(runs);
    const survivors = [0, 1].map((p) =>
      startChild(FIXTURE, { name, run: runs[p], typeId: p + 1, count: 30_000, deadlineMs: 60_000 }),
    );
    const victims: Child[] = [2, 3].map((p) =>
      startChild(FIXTURE, { name, run: runs[p], typeId: p + 1, count: 1_000_000, deadlineMs: 60_000 }),
    );
    let killed = 0;
    const killTimes = victims.map(() => Date.now() + 200 + (rng() % 800));
    await consume(
      sub,
      verifier,
      () => {
        victims.forEach((victim, i) => {
          if (Date.now() >= killTimes[i] && victim.process.exitCode === null && !victim.process.killed) {
            victim.process.kill('SIGKILL');
            killed++;
          }
        });
        return killed === victims.length && verifier.next[0] >= 30_000 && verifier.next[1] >= 30_000;
      },
      60_000,
    );
    await Promise.all(victims.map((v) => v.exited));
    // Whatever the victims committed before dying is still in the ring: drain it (past any unblock).
    const drainUntil = Date.now() + 1500;
    while (Date.now() < drainUntil) {
      if (sub.poll(verifier.accept, 256) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // A victim killed after its CAS but before its first store left a claim of zeroes at the tail, which only a later
    // record can show the end of (Agrona's unblock scans for one): one more message, then the ring must drain whole.
    const last = closeAfterTest(Publication.open(name));
    expect(last.offer(sequence.encode(runs[0], 30_000), 1)).toBeGreaterThan(0);
    const lastUntil = Date.now() + 1500;
    while (verifier.next[0] < 30_001 && Date.now() < lastUntil) {
      if (sub.poll(verifier.accept, 256) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const s = verifier.summary();
    expect(s, JSON.stringify(s)).toMatchObject({ corrupt: 0, duplicates: 0, outOfOrder: 0, unknownType: 0 });
    expect(s.next.slice(0, 2)).toEqual([30_001, 30_000]);
    expect(sub.position).toBe(sub.producerPosition);
    for (const c of survivors) expect((await c.exit(10_000)).code).toBe(0);
  }, 90_000);

  it('shows producers a SIGKILLed consumer at once, and a new consumer takes over where it stopped', async () => {
    const name = uniqueName('m2o-consumer-dies');
    createRingFile(name, { mode: 'many-to-one', capacity: 64 * 1024 });
    const pub = closeAfterTest(Publication.open(name)) as ManyToOnePublication;
    expect(pub.consumerAlive).toBe(false);
    const consumer = startChild('ring/many-to-one-consumer.js', { name, read: 3 });
    await consumer.line('ready ');
    expect(pub.consumerAlive).toBe(true);
    expectShmringError(
      () => Subscription.open(name),
      ErrorCode.NO_CONSUMER_SLOT,
      /another live process is the consumer of this many-to-one ring/,
    );
    for (let i = 0; i < 5; i++) expect(pub.offer(Uint8Array.of(i), 1)).toBeGreaterThan(0);
    await consumer.line('read ');
    const heartbeat = pub.consumerHeartbeatTime;
    expect(heartbeat).toBeGreaterThan(0);
    consumer.process.kill('SIGKILL');
    await consumer.exited;
    expect(pub.consumerAlive).toBe(false);
    // A JVM producer sees the same death as a heartbeat that stops moving.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(pub.consumerHeartbeatTime).toBe(heartbeat);
    const next = closeAfterTest(Subscription.open(name)) as ManyToOneSubscription;
    const got: number[] = [];
    while (next.poll((buffer, offset) => got.push(buffer[offset]), 10) > 0);
    expect(got).toEqual([3, 4]);
    expect(pub.consumerAlive).toBe(true);
  }, 30_000);

  it('takes messages from worker_threads producers of one process, as from processes', async () => {
    const { name, sub } = createRing('m2o-workers', 64 * 1024);
    const runs = [runOf(0), runOf(1), runOf(2), runOf(3)];
    const verifier = new ManyToOneVerifier(runs);
    const count = 50_000;
    const workers = runs.map(
      (run, p) =>
        new Worker(path.join(RING_FIXTURES, 'many-to-one-producer.js'), {
          workerData: { name, run, typeId: p + 1, count, deadlineMs: 60_000 },
        }),
    );
    const lines: string[] = [];
    const exited = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.on('message', (line: string) => lines.push(line));
          w.on('error', reject);
          w.on('exit', resolve);
        }),
    );
    try {
      await consume(sub, verifier, () => verifier.received >= 4 * count, 60_000);
      expectClean(
        verifier,
        runs.map(() => count),
      );
      expect(await Promise.all(exited)).toEqual([0, 0, 0, 0]);
      expect(lines.filter((l) => l.startsWith('done ')).length).toBe(4);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }, 90_000);
});
