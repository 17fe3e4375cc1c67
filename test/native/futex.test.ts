/**
 * Native futexes across processes and the async FutexWaiter. Acceptable outcomes per wait: WOKEN may be spurious
 * (callers re-check the word), so tests that expect WOKEN make sure the only possible cause is the wake under test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { binding, FutexResult } from '../../lib/binding';
import { ErrorCode } from '../../lib/errors';
import { checkFutexWord, FutexWaiter, futexWait, futexWake } from '../../lib/futex';
import { PAGE_LENGTH } from '../../lib/layout';
import { Segment } from '../../lib/segment';
import { exitWithin, sleep, spawnFixture, uniqueName } from './helpers';

const native = binding();
const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function anonymous(): Segment {
  const segment = Segment.createAnonymous(PAGE_LENGTH);
  cleanups.push(() => segment.close());
  return segment;
}

function waiterOn(buffer: SharedArrayBuffer, byteOffset: number): FutexWaiter {
  const waiter = new FutexWaiter(buffer, byteOffset);
  cleanups.push(() => waiter.close());
  return waiter;
}

/** Counts event-loop turns (timer ticks) until stopped. */
function tickCounter(): { stop(): number } {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  return {
    stop() {
      clearInterval(timer);
      return ticks;
    },
  };
}

describe('futexWait / futexWake (blocking)', () => {
  it('returns NOT_EQUAL when the word differs and TIMED_OUT after the timeout', () => {
    const { buffer } = anonymous();
    Atomics.store(new Int32Array(buffer), 1, -1);
    expect(futexWait(buffer, 4, 0, 1000)).toBe(FutexResult.NOT_EQUAL);
    const started = performance.now();
    expect(futexWait(buffer, 4, -1, 30)).toBe(FutexResult.TIMED_OUT); // -1 and 0xffffffff are the same word
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(futexWait(buffer, 4, 0xffffffff, 0)).toBe(FutexResult.TIMED_OUT);
    expect(futexWait(buffer, 4, 0, 1e300)).toBe(FutexResult.NOT_EQUAL); // an absurd timeout is accepted as "forever"
    expect(futexWake(buffer, 4)).toBe(0);
  });

  it('is woken by FUTEX_WAKE from another process', async () => {
    const name = uniqueName('futex');
    const segment = Segment.create(name, PAGE_LENGTH);
    cleanups.push(() => segment.close());
    const waker = spawnFixture('futex-waker.js', [name, '8']);
    // The waker only wakes (never changes the word), so WOKEN here can only come from its FUTEX_WAKE.
    expect(segment.waitSync(8, 0, 10_000)).toBe(FutexResult.WOKEN);
    expect(await waker.line('woke')).toBe('woke 1');
    expect(await exitWithin(waker, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('checks the word in TypeScript and again natively', () => {
    const buffer = new SharedArrayBuffer(16);
    expect(() => checkFutexWord(buffer, 2)).toThrow(
      new RangeError('byteOffset must be a non-negative multiple of 4: byteOffset=2'),
    );
    expect(() => futexWake(buffer, 16)).toThrow(
      new RangeError('byteOffset must leave 4 bytes inside the buffer: byteOffset=16 byteLength=16'),
    );
    expect(() => futexWait(new ArrayBuffer(16) as unknown as SharedArrayBuffer, 0, 0, 0)).toThrow(
      new TypeError('buffer must be a SharedArrayBuffer: buffer=[object ArrayBuffer]'),
    );
    expect(() => futexWait(buffer, 0, 2 ** 32, 0)).toThrow(
      new RangeError('expected must be a 32-bit integer: expected=4294967296'),
    );
    expect(() => futexWait(buffer, 0, 0, NaN)).toThrow(
      new TypeError('timeoutMs must be a number (negative or Infinity: no timeout): timeoutMs=NaN'),
    );
    expect(() => futexWake(buffer, 0, 0)).toThrow(
      new RangeError('count must be a positive integer or Infinity: count=0'),
    );
    for (const byteOffset of [2, 16, -4]) {
      expect(() => native.futexWake(buffer, byteOffset, 1)).toThrow(
        new RangeError(`byteOffset must be 4-aligned and inside the buffer: byteOffset=${byteOffset} byteLength=16`),
      );
      expect(() => new native.FutexWaiter(buffer, byteOffset)).toThrow(RangeError);
    }
    expect(() => native.futexWait(new ArrayBuffer(8) as unknown as SharedArrayBuffer, 0, 0, 0)).toThrow(
      new TypeError('buffer must be a SharedArrayBuffer'),
    );
  });
});

describe('FutexWaiter', () => {
  it('times out (TIMED_OUT) while the event loop keeps running', async () => {
    const { buffer } = anonymous();
    const waiter = waiterOn(buffer, 0);
    const ticks = tickCounter();
    const started = performance.now();
    expect(await waiter.waitAsync(0, 200)).toBe(FutexResult.TIMED_OUT);
    expect(performance.now() - started).toBeGreaterThanOrEqual(199);
    expect(ticks.stop()).toBeGreaterThan(20);
  });

  it('is woken by another process while the event loop keeps running', async () => {
    const name = uniqueName('waiter');
    const segment = Segment.create(name, PAGE_LENGTH);
    cleanups.push(() => segment.close());
    const waiter = waiterOn(segment.buffer, 12);
    const ticks = tickCounter();
    const result = waiter.waitAsync(0, 10_000);
    const waker = spawnFixture('futex-waker.js', [name, '12']);
    expect(await result).toBe(FutexResult.WOKEN);
    expect(ticks.stop()).toBeGreaterThan(5);
    expect(await waker.line('woke')).toBe('woke 1');
    await exitWithin(waker, 10_000);
  });

  it('reports NOT_EQUAL, CANCELLED, and reuses its thread across waits', async () => {
    const { buffer } = anonymous();
    const waiter = waiterOn(buffer, 0);
    Atomics.store(new Int32Array(buffer), 0, 9);
    expect(await waiter.waitAsync(8, -1)).toBe(FutexResult.NOT_EQUAL);
    const cancelled = waiter.waitAsync(9, -1);
    await sleep(20);
    waiter.cancel();
    expect(await cancelled).toBe(FutexResult.CANCELLED);
    waiter.cancel(); // idle: no-op
    const huge = waiter.waitAsync(9, 1e300); // an absurd timeout means "forever", not an overflowed deadline
    await sleep(20);
    waiter.cancel();
    expect(await huge).toBe(FutexResult.CANCELLED);
    const woken = waiter.waitAsync(9, 10_000);
    await sleep(20);
    Atomics.store(new Int32Array(buffer), 0, 10);
    futexWake(buffer, 0);
    expect(await woken).toBe(FutexResult.WOKEN);
  });

  it('never loses a cancel issued right after wait', async () => {
    const { buffer } = anonymous();
    const waiter = waiterOn(buffer, 0);
    for (let i = 0; i < 200; i++) {
      const result = waiter.waitAsync(0, -1);
      if (i % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
      waiter.cancel();
      expect(await result).toBe(FutexResult.CANCELLED);
    }
  });

  it('allows one pending wait at a time', async () => {
    const { buffer } = anonymous();
    const waiter = waiterOn(buffer, 0);
    const first = waiter.waitAsync(0, -1);
    expect(() => waiter.wait(0, -1, () => {})).toThrow(
      expect.objectContaining({
        code: ErrorCode.WAIT_PENDING,
        message: 'FutexWaiter already has a pending wait: wait for its callback or cancel() it first',
      }),
    );
    waiter.cancel();
    expect(await first).toBe(FutexResult.CANCELLED);
  });

  it('close() completes a pending wait with CANCELLED, is idempotent, and refuses later waits', async () => {
    const { buffer } = anonymous();
    const waiter = waiterOn(buffer, 0);
    const pending = waiter.waitAsync(0, -1);
    waiter.close();
    waiter.close();
    expect(await pending).toBe(FutexResult.CANCELLED);
    expect(() => waiter.wait(0, -1, () => {})).toThrow(
      expect.objectContaining({ code: ErrorCode.CLOSED, message: 'FutexWaiter is closed' }),
    );
    waiter.cancel();
    waiter.ref();
    waiter.unref();
    new FutexWaiter(buffer, 0).close(); // never waited: no thread to stop
  });

  it('still cancels after the mapping under a pending wait was unmapped', async () => {
    const segment = Segment.createAnonymous(PAGE_LENGTH);
    const waiter = waiterOn(segment.buffer, 0);
    const pending = waiter.waitAsync(0, -1);
    await sleep(20);
    segment.close();
    waiter.cancel();
    expect(await pending).toBe(FutexResult.CANCELLED);
  });

  it('validates its arguments', () => {
    const { buffer } = anonymous();
    const waiter = waiterOn(buffer, 0);
    expect(() => waiter.wait(0, -1, 'no' as unknown as () => void)).toThrow(
      new TypeError('callback must be a function: callback=no'),
    );
    const raw = new native.FutexWaiter(buffer, 0);
    cleanups.push(() => raw.close());
    expect(() => raw.wait(0, -1, undefined as unknown as () => void)).toThrow(
      new TypeError('callback must be a function'),
    );
  });

  it('works in the FUTEX_WAIT fallback (no futex_waitv) too', async () => {
    expect(['futex_waitv', 'futex']).toContain(native.futexWaitMode());
    const child = spawnFixture('futex-fallback.js', [], { env: { ...process.env, SHMRING_NO_FUTEX_WAITV: '1' } });
    expect(await exitWithin(child, 20_000)).toEqual({ code: 0, signal: null });
    expect(child.lines.slice(0, 5)).toEqual(['mode futex', 'timeout 2', 'notEqual 1', 'cancel 3', 'woken 0']);
    expect(child.lines[5]).toMatch(/^immediateCancel true \d+$/);
  });
});

describe('a process with a FutexWaiter', () => {
  for (const scenario of ['idle', 'idle-after-wait', 'unref', 'closed', 'exit-while-pending', 'worker-teardown']) {
    it(`exits on its own: ${scenario}`, async () => {
      const child = spawnFixture('waiter-exit.js', [scenario]);
      expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
      expect(child.lines[0]).toBe('ready');
      const expected: Record<string, string[]> = {
        'idle-after-wait': ['result 2'],
        closed: ['result 3'],
        'worker-teardown': ['terminated'],
      };
      expect(child.lines.slice(1)).toEqual(expected[scenario] ?? []);
    });
  }

  it('joins the threads of waiters collected by GC', async () => {
    const child = spawnFixture('waiter-exit.js', ['gc'], { nodeArgs: ['--expose-gc'] });
    const line = await child.line('threads');
    const [, before, during, after] = /before=(\d+) during=(\d+) after=(\d+)/.exec(line) ?? [];
    expect(Number(during)).toBeGreaterThanOrEqual(Number(before) + 20);
    expect(Number(after)).toBe(Number(before));
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('gets an exception thrown by the callback as uncaughtException, like a timer callback', async () => {
    const child = spawnFixture('waiter-exit.js', ['throws']);
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
    expect(child.lines).toEqual(['ready', 'uncaught boom']);
  });

  it('stays alive while a ref’d wait is pending, and exits once it completes', async () => {
    const name = uniqueName('pending');
    const segment = Segment.create(name, PAGE_LENGTH);
    cleanups.push(() => segment.close());
    const child = spawnFixture('waiter-exit.js', ['pending', name]);
    await child.line('ready');
    await sleep(300);
    expect(child.process.exitCode).toBeNull();
    const deadline = Date.now() + 10_000;
    while (segment.wake(0) === 0 && Date.now() < deadline) await sleep(10);
    expect(await child.line('result')).toBe('result 0');
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
  });
});
