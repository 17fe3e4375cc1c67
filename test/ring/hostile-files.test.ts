/**
 * Ring files that another process made wrong on purpose: sizes no ring has, positions past 2^53, corrupt words in
 * the header. Whatever the file says, opening it ends in a coded Error — never an abort, a RangeError from a typed
 * array, a loop without end, a leaked file descriptor or a producer lock kept by a failed attach. Calls that used
 * to abort or hang run in a child process with a deadline, so that a regression fails the test instead of
 * killing or blocking the test runner.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/errors';
import { Publication, Subscription, createRing, ringInfo } from '../../lib/index';
import * as L from '../../lib/layout';
import { DEFAULT_MAX_CONSUMERS } from '../../lib/ring-file';
import { DIST_INDEX, SHM_DIR, closeAfterTest, pokeInt32, uniqueRingName } from '../helpers/ring-env';

const RING_LENGTH = L.fileLengthFor(L.MODE_RELIABLE, 4096, DEFAULT_MAX_CONSUMERS);
const CHECKPOINT_HIGH_OFFSET = L.TAIL_CHECKPOINT_OFFSET + 4;

function pathOf(name: string): string {
  return path.join(SHM_DIR, name);
}

function thrownBy(fn: () => unknown): Error & { code?: string; path?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string; path?: string };
  }
  throw new Error('expected an error to be thrown');
}

/** A ring with committed records and no producer: `messages` offers of 32 bytes, then a clean close. */
function ringWithRecords(name: string, messages = 10): void {
  createRing(name, { capacity: 4096 });
  const pub = Publication.attach(name);
  for (let i = 0; i < messages; i++) expect(pub.offer(new Uint8Array(32))).toBeGreaterThan(0);
  pub.close();
}

interface Outcome {
  name: string;
  code: string | null;
  type: string;
  message: string;
}

/**
 * Runs Subscription.open (both `from`), Publication.attach and ringInfo on `name` in a child process (the built
 * dist/lib) and returns what each threw. The child gets `timeoutMs` for all of them; a crash or a hang fails.
 */
function outcomesInChild(name: string, timeoutMs = 5000): Outcome[] {
  const script = `
    const { Publication, Subscription, ringInfo } = require(${JSON.stringify(DIST_INDEX)});
    const name = ${JSON.stringify(name)};
    const calls = {
      'open latest': () => Subscription.open(name, { openTimeoutMs: 0 }).close(),
      'open earliest': () => Subscription.open(name, { openTimeoutMs: 0, from: 'earliest' }).close(),
      'attach': () => Publication.attach(name, { openTimeoutMs: 0 }).close(),
      'ringInfo': () => ringInfo(name, { openTimeoutMs: 0 }),
    };
    const out = [];
    for (const [call, fn] of Object.entries(calls)) {
      try { fn(); out.push({ name: call, code: null, type: 'none', message: '' }); }
      catch (err) { out.push({ name: call, code: err.code ?? null, type: err.constructor.name, message: err.message }); }
    }
    console.log(JSON.stringify(out));`;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({
    status: 0,
    signal: null,
    stderr: '',
  });
  return JSON.parse(child.stdout) as Outcome[];
}

function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('a ring file of a size no ring has', () => {
  it('refuses a file longer than 4 GiB with ERR_SHMRING_NOT_A_RING instead of aborting the process', () => {
    const name = uniqueRingName('huge');
    createRing(name, { capacity: 4096 });
    fs.truncateSync(pathOf(name), 2 ** 32 + 4096); // sparse: no memory is used
    const outcomes = outcomesInChild(name);
    const largest = 2 * 2 ** 30; // the largest ring file (1 GiB + 132 KiB) in whole 1 GiB huge pages
    for (const outcome of outcomes) {
      expect(outcome).toEqual({
        name: outcome.name,
        code: ErrorCode.NOT_A_RING,
        type: 'ShmringError',
        message:
          `not a shmring ring: file is larger than any ring: size=${2 ** 32 + 4096} max=${largest}: ` + pathOf(name),
      });
    }
  });

  it.each([4, 3, 1])(
    'refuses a file whose size is not a multiple of 8 (ring + %i bytes) with a coded error',
    (extra) => {
      const name = uniqueRingName('odd-size');
      createRing(name, { capacity: 4096 });
      fs.truncateSync(pathOf(name), RING_LENGTH + extra);
      for (const call of [
        () => closeAfterTest(Subscription.open(name, { openTimeoutMs: 0 })),
        () => closeAfterTest(Publication.attach(name, { openTimeoutMs: 0 })),
        () => ringInfo(name, { openTimeoutMs: 0 }),
      ]) {
        const err = thrownBy(call);
        expect({ code: err.code, path: err.path, message: err.message }).toEqual({
          code: ErrorCode.NOT_A_RING,
          path: pathOf(name),
          message: `not a shmring ring: file size is not a multiple of 8: size=${RING_LENGTH + extra}: ${pathOf(name)}`,
        });
      }
    },
  );
});

describe('positions at or past 2^53', () => {
  it.each([0x7fffffff, 0x200000, 0x1fffff])(
    'refuses a tail checkpoint with high word %i with ERR_SHMRING_CORRUPT, in bounded time',
    (high) => {
      const name = uniqueRingName('far-position');
      ringWithRecords(name);
      pokeInt32(pathOf(name), CHECKPOINT_HIGH_OFFSET, high);
      for (const outcome of outcomesInChild(name)) {
        expect(outcome).toMatchObject({ name: outcome.name, code: ErrorCode.CORRUPT, type: 'ShmringError' });
        expect(outcome.message).toMatch(/^ring is corrupt: position high word=\d+/);
      }
    },
  );

  it('works at the largest position it accepts: a producer attaches, a consumer joins and reads', () => {
    const name = uniqueRingName('near-limit');
    ringWithRecords(name);
    pokeInt32(pathOf(name), CHECKPOINT_HIGH_OFFSET, 0x1ffffe);
    const pub = closeAfterTest(Publication.attach(name));
    expect(pub.position).toBe(0x1ffffe * 2 ** 32 + 400);
    const sub = closeAfterTest(Subscription.open(name));
    expect(pub.offer(new Uint8Array([7, 8, 9]))).toBe(0x1ffffe * 2 ** 32 + 416);
    const seen: number[][] = [];
    expect(sub.poll((buffer, offset, length) => seen.push([...buffer.subarray(offset, offset + length)]))).toBe(1);
    expect(seen).toEqual([[7, 8, 9]]);
  });
});

describe('Publication.attach that fails', () => {
  it('releases the producer lock, so the next attach succeeds once the ring is repaired', () => {
    const name = uniqueRingName('attach-fails');
    ringWithRecords(name);
    pokeInt32(pathOf(name), CHECKPOINT_HIGH_OFFSET, -1);
    expect(thrownBy(() => closeAfterTest(Publication.attach(name))).code).toBe(ErrorCode.CORRUPT);
    pokeInt32(pathOf(name), CHECKPOINT_HIGH_OFFSET, 0);
    expect(ringInfo(name).producerAlive).toBe(false);
    const pub = closeAfterTest(Publication.attach(name));
    expect(pub.position).toBe(400);
  });
});

describe('opens that fail', () => {
  it('close the file descriptor on every failure path (200 failed opens of each kind leave none open)', () => {
    const corruptCheckpoint = uniqueRingName('fd-corrupt');
    ringWithRecords(corruptCheckpoint);
    pokeInt32(pathOf(corruptCheckpoint), CHECKPOINT_HIGH_OFFSET, -1);
    const oddSize = uniqueRingName('fd-odd');
    createRing(oddSize, { capacity: 4096 });
    fs.truncateSync(pathOf(oddSize), RING_LENGTH + 4);
    const foreign = uniqueRingName('fd-foreign');
    fs.writeFileSync(pathOf(foreign), Buffer.alloc(8192, 'x'), { mode: 0o600 });
    const full = uniqueRingName('fd-full');
    createRing(full, { capacity: 4096, maxConsumers: 1 });
    closeAfterTest(Subscription.open(full));
    const failures: Array<[string, () => unknown, string]> = [
      ['open, corrupt checkpoint', () => Subscription.open(corruptCheckpoint), ErrorCode.CORRUPT],
      ['attach, corrupt checkpoint', () => Publication.attach(corruptCheckpoint), ErrorCode.CORRUPT],
      ['open, odd size', () => Subscription.open(oddSize), ErrorCode.NOT_A_RING],
      ['attach, odd size', () => Publication.attach(oddSize), ErrorCode.NOT_A_RING],
      ['open, foreign file', () => Subscription.open(foreign), ErrorCode.NOT_A_RING],
      ['open, no free slot', () => Subscription.open(full), ErrorCode.NO_CONSUMER_SLOT],
    ];
    for (const [what, call, code] of failures) {
      const before = openFdCount();
      for (let i = 0; i < 200; i++) expect(thrownBy(call).code).toBe(code);
      expect({ what, leaked: openFdCount() - before }).toEqual({ what, leaked: 0 });
    }
  });
});
