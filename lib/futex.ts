/**
 * Checked entry points to the native cross-process futex (see docs/native.md). The word is a 32-bit slot of a
 * SharedArrayBuffer, normally a mapping from {@link Segment}; it must be 4-aligned and inside the buffer (checked
 * here, and again natively, since native code must never touch memory outside the mapping).
 */
import { binding, FutexResult, type FutexResultValue, type FutexWaiter as NativeFutexWaiter } from './binding';

export { FutexResult, type FutexResultValue };

/** Throws TypeError/RangeError unless `byteOffset` names a 32-bit word inside `buffer`. */
export function checkFutexWord(buffer: SharedArrayBuffer, byteOffset: number): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new TypeError(`buffer must be a SharedArrayBuffer: buffer=${Object.prototype.toString.call(buffer)}`);
  }
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
    throw new RangeError(`byteOffset must be a non-negative multiple of 4: byteOffset=${byteOffset}`);
  }
  if (byteOffset + 4 > buffer.byteLength) {
    throw new RangeError(
      `byteOffset must leave 4 bytes inside the buffer: byteOffset=${byteOffset} byteLength=${buffer.byteLength}`,
    );
  }
}

function checkExpected(expected: number): void {
  if (!Number.isInteger(expected) || expected < -0x80000000 || expected > 0xffffffff) {
    throw new RangeError(`expected must be a 32-bit integer: expected=${expected}`);
  }
}

function checkTimeout(timeoutMs: number): void {
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
    throw new TypeError(`timeoutMs must be a number (negative or Infinity: no timeout): timeoutMs=${timeoutMs}`);
  }
}

/** Blocks this thread while the word equals `expected`, at most `timeoutMs` (negative: forever). */
export function futexWait(
  buffer: SharedArrayBuffer,
  byteOffset: number,
  expected: number,
  timeoutMs: number,
): FutexResultValue {
  checkFutexWord(buffer, byteOffset);
  checkExpected(expected);
  checkTimeout(timeoutMs);
  return binding().futexWait(buffer, byteOffset, expected, timeoutMs);
}

/** Wakes up to `count` waiters (default: all) in any process; returns how many were woken. */
export function futexWake(buffer: SharedArrayBuffer, byteOffset: number, count: number = Infinity): number {
  checkFutexWord(buffer, byteOffset);
  if (!(count >= 1) || (!Number.isInteger(count) && count !== Infinity)) {
    throw new RangeError(`count must be a positive integer or Infinity: count=${count}`);
  }
  return binding().futexWake(buffer, byteOffset, Math.min(count, 0x7fffffff));
}

/**
 * Waits on a word without blocking the event loop (a dedicated native thread per waiter). One wait at a time; a
 * pending wait keeps the process alive unless unref() was called.
 */
export class FutexWaiter {
  private readonly native: NativeFutexWaiter;

  constructor(buffer: SharedArrayBuffer, byteOffset: number) {
    checkFutexWord(buffer, byteOffset);
    this.native = new (binding().FutexWaiter)(buffer, byteOffset);
  }

  /** Calls back with WOKEN, NOT_EQUAL, TIMED_OUT or CANCELLED. Throws ERR_SHMRING_WAIT_PENDING if one is pending. */
  wait(expected: number, timeoutMs: number, callback: (result: FutexResultValue) => void): void {
    checkExpected(expected);
    checkTimeout(timeoutMs);
    if (typeof callback !== 'function')
      throw new TypeError(`callback must be a function: callback=${String(callback)}`);
    this.native.wait(expected, timeoutMs, callback);
  }

  /** {@link wait} as a promise. */
  waitAsync(expected: number, timeoutMs: number): Promise<FutexResultValue> {
    return new Promise((resolve) => this.wait(expected, timeoutMs, resolve));
  }

  /** A pending wait completes with CANCELLED soon. */
  cancel(): void {
    this.native.cancel();
  }

  /** Cancels, stops the thread. Idempotent. */
  close(): void {
    this.native.close();
  }

  ref(): this {
    this.native.ref();
    return this;
  }

  unref(): this {
    this.native.unref();
    return this;
  }
}
