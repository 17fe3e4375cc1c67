/**
 * What waiting costs: an idle consumer sleeps in the kernel (≈ 0 CPU), and an awake one costs the producer no
 * syscall per message. The second is a property of the protocol, checked through its observable trace: the
 * producer bumps the wake sequence (WAKE_SEQUENCE_OFFSET, the futex word) exactly when, and only when, it issues
 * FUTEX_WAKE; it does so only when its commit replaced a consumer's SLEEPING_MARK.
 *
 * Acceptable outcomes:
 * - an idle child uses < 5% of one core in CPU time (user + system, every thread: process.cpuUsage) over ~2 s of
 *   wall time; the busy-polling control must show far more, or the measurement proves nothing;
 * - a busy-polling consumer receives 100k messages intact and in order while the wake sequence does not move at
 *   all (any bump means a syscall on the per-message path); a consumer that sleeps before each message makes the
 *   sequence advance exactly once per message (the producer waits for the mark before each offer).
 */
import { describe, expect, it } from 'vitest';
import { createRing, Publication } from '../../lib/index';
import { closeAfterTest, startChild, uniqueName, waitFor, type Report } from '../helpers/ring-env';
import { offerRange, ringWords, type DoneReport } from './helpers';

const SEED = 0x1d1e;
const IDLE_MS = 2_000;

interface CpuReport extends Report {
  userUs: number;
  systemUs: number;
  wallUs: number;
}

function share(cpu: CpuReport): number {
  return (cpu.userUs + cpu.systemUs) / cpu.wallUs;
}

async function measureIdle(ring: string): Promise<CpuReport[]> {
  const children = ['wait', 'iterate'].map((style) =>
    startChild('recovery/waiter.js', { scenario: 'idle-cpu', ring, style, durationMs: IDLE_MS }),
  );
  return Promise.all(children.map((child) => child.report<CpuReport>('cpu', IDLE_MS + 10_000)));
}

describe('an idle consumer', () => {
  it('uses almost no CPU while awaiting wait() or for-await on a ring without a producer', async () => {
    const ring = uniqueName('idle-cpu');
    createRing(ring, { capacity: 64 * 1024 });
    for (const cpu of await measureIdle(ring)) {
      expect(cpu.wallUs).toBeGreaterThanOrEqual(IDLE_MS * 1000 * 0.99);
      expect(share(cpu), JSON.stringify(cpu)).toBeLessThan(0.05);
    }
  });

  it('uses almost no CPU while a live producer sends nothing', async () => {
    const ring = uniqueName('idle-cpu-producer');
    closeAfterTest(Publication.create(ring, { capacity: 64 * 1024 }));
    for (const cpu of await measureIdle(ring)) {
      expect(cpu.wallUs).toBeGreaterThanOrEqual(IDLE_MS * 1000 * 0.99);
      expect(share(cpu), JSON.stringify(cpu)).toBeLessThan(0.05);
    }
  });

  it('is measured by a method that does see CPU use (busy-polling control)', async () => {
    const ring = uniqueName('busy-cpu');
    createRing(ring, { capacity: 64 * 1024 });
    const child = startChild('recovery/waiter.js', { scenario: 'idle-cpu', ring, style: 'busy', durationMs: 300 });
    const cpu = await child.report<CpuReport>('cpu');
    // Lenient: another test file may share the two cores; a spinning child still gets a good part of one.
    // Far above the idle bound (0.05), yet loose enough for a busy child that shares 2 cores with other test files.
    expect(share(cpu), JSON.stringify(cpu)).toBeGreaterThan(0.1);
  });
});

describe('ReliablePublication wake-ups', () => {
  it('makes no wake-up (no futex syscall) while a busy-polling consumer receives 100k messages', async () => {
    const ring = uniqueName('no-syscall');
    const pub = closeAfterTest(Publication.create(ring, { capacity: 64 * 1024 }));
    const words = ringWords(pub);
    const count = 100_000;
    const child = startChild('recovery/consumer.js', {
      ring,
      seed: SEED,
      style: 'busy',
      expect: count,
      deadlineMs: 40_000,
    });
    await child.report('joined');
    const before = words.wakeSequence();
    await offerRange(pub, SEED, 1, 0, count, 40_000);
    const done = await child.report<DoneReport>('done', 40_000);
    expect(done).toEqual(expect.objectContaining({ count, runs: [[1, 0, count - 1]], errors: [] }));
    expect(words.wakeSequence()).toBe(before);
    expect(words.tailWord()).toBe(0); // and it never marked a slot SLEEPING
    // The data wrapped the 64 KiB ring many times, so the consumer was reading while the producer wrote.
    expect(pub.position).toBeGreaterThan(100 * pub.capacity);
  });

  it('wakes once per message a sleeping consumer was waiting for', async () => {
    const ring = uniqueName('wake-per-sleep');
    const pub = closeAfterTest(Publication.create(ring, { capacity: 64 * 1024 }));
    const words = ringWords(pub);
    const count = 20;
    const child = startChild('recovery/consumer.js', { ring, seed: SEED, style: 'wait' });
    await child.report('joined');
    const before = words.wakeSequence();
    for (let seq = 0; seq < count; seq++) {
      await waitFor(`the consumer to sleep before message ${seq}`, () => words.tailWord() === -1);
      await offerRange(pub, SEED, 1, seq, seq + 1);
    }
    expect(words.wakeSequence()).toBe(before + count);
    pub.close(); // wakes once more, so the consumer sees the clean close and reports
    const done = await child.report<DoneReport>('done');
    expect(done).toMatchObject({ count, runs: [[1, 0, count - 1]], errors: [] });
    expect(done.waits).toBeGreaterThanOrEqual(count);
  });
});
