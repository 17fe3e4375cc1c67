'use strict';
// Helpers shared by the benchmark's child processes: the wire conventions every contender follows (type ids, the
// sequence number at both ends of each payload), idle strategies, the clock, and counting GCs in a window.
const { PerformanceObserver, performance } = require('perf_hooks');

/** typeId of a data message and of the end-of-stream marker (payload: the total sent, u32 LE). */
const DATA_TYPE = 1;
const END_TYPE = 2;

/** The clock every process uses: CLOCK_MONOTONIC in ns as a BigInt (comparisons and BigInt64Array stores of it do
 * not allocate in optimized code; converting to Number does). */
// eslint-disable-next-line @typescript-eslint/unbound-method -- hrtime.bigint uses no `this`; no wrapper frame per call
const hr = process.hrtime.bigint;

/** A payload of `length` bytes whose first and last 4 bytes carry the sequence number (Int32 LE). */
function makePayload(length) {
  const bytes = new Uint8Array(new ArrayBuffer(Math.max(length, 8)), 0, length);
  for (let i = 0; i < length; i++) bytes[i] = i & 0xff;
  return { bytes, i32: new Int32Array(bytes.buffer), last: (length >> 2) - 1 };
}

/**
 * Reads the sequence numbers at both ends of a payload that lives at `offset` in `buffer` without allocating a view
 * per message: an Int32Array over the whole buffer is made once per distinct buffer.
 */
class SeqReader {
  constructor(expectedLength) {
    this.expectedLength = expectedLength;
    this.buffer = null;
    this.i32 = new Int32Array(0);
    this.base = 0;
  }

  /** Returns the head sequence number, or -1 when head and tail disagree or the length is wrong (torn, misframed). */
  read(buffer, offset, length) {
    if (length !== this.expectedLength) return -1;
    if (buffer !== this.buffer) this.attach(buffer);
    const at = this.base + offset;
    if ((at & 3) === 0) {
      const head = this.i32[at >> 2];
      return head === this.i32[(at + length - 4) >> 2] ? head : -1;
    }
    const head = readInt32(buffer, offset);
    return head === readInt32(buffer, offset + length - 4) ? head : -1;
  }

  attach(buffer) {
    this.buffer = buffer;
    this.base = buffer.byteOffset;
    this.i32 = new Int32Array(buffer.buffer, 0, buffer.buffer.byteLength >> 2);
  }
}

function readInt32(b, o) {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

/**
 * Verifies a stream of sequence numbers. Reliable: anything but the next number is an error. Lossy (broadcast): a
 * forward gap is loss, a repeat or a step back is an error.
 */
class SeqVerifier {
  constructor(lossy, warm) {
    this.lossy = lossy;
    this.warm = warm;
    this.expected = 0;
    this.received = 0;
    // Counted during the warm-up, not after: V8 treats a field never written since construction as a constant and
    // deoptimises every function that relied on it the first time it changes. A `measured` counter that started
    // moving at the end of the warm-up deoptimised the consumer's whole poll loop right when measurement began.
    this.warmReceived = 0;
    this.errors = 0;
    this.lost = 0;
  }

  /** Messages received after the warm-up. */
  get measured() {
    return this.received - this.warmReceived;
  }

  check(seq) {
    this.received++;
    if (seq !== this.expected) {
      if (this.lossy && seq > this.expected) this.lost += seq - this.expected;
      else this.errors++;
    }
    if (seq < this.warm) this.warmReceived++;
    if (seq >= 0) this.expected = seq + 1;
  }

  /** At the end marker: messages the producer sent that never arrived count as lost (lossy) or errors. */
  finish(total) {
    if (total > this.expected) {
      if (this.lossy) this.lost += total - this.expected;
      else this.errors += total - this.expected;
    }
  }

  result(extra) {
    return { received: this.received, receivedMeasured: this.measured, errors: this.errors, lost: this.lost, ...extra };
  }
}

/** Counts GCs whose start falls inside [start(), stop()]; `count()` must be awaited after stop (entries arrive async). */
function gcCounter() {
  const entries = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  let from = 0;
  let to = Infinity;
  return {
    start() {
      // A count-bounded GC check starts from an empty young generation (children run with --expose-gc), so a GC
      // counted afterwards was caused by the measured loop, not by garbage the warm-up and the harness left behind.
      if (typeof global.gc === 'function') global.gc({ type: 'minor' });
      from = performance.now();
    },
    stop() {
      to = performance.now();
    },
    async count() {
      await new Promise((resolve) => setTimeout(resolve, 20));
      observer.disconnect();
      return entries.filter((e) => e.startTime >= from && e.startTime <= to).length;
    },
  };
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Sleeps the thread for the shortest time the platform offers (~50-60 us: timer slack). */
function shortSleep() {
  Atomics.wait(sleepCell, 0, 0, 0.001);
}

/**
 * Idle strategies, Agrona-style: called with the work count of the last duty cycle. `spin` burns the core; `backoff`
 * spins `spins` empty cycles and then sleeps (via `sleep()`, e.g. a futex wait that the producer's offer wakes, or a
 * short timed sleep).
 */
function idleStrategy(kind, sleep, spins = 100) {
  if (kind === 'spin') return () => {};
  let empty = 0;
  return (work) => {
    if (work > 0) {
      empty = 0;
    } else if (++empty > spins) {
      sleep();
    }
  };
}

module.exports = {
  DATA_TYPE,
  END_TYPE,
  hr,
  makePayload,
  SeqReader,
  SeqVerifier,
  gcCounter,
  shortSleep,
  idleStrategy,
  readInt32,
};
