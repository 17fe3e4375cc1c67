'use strict';
// Helpers shared by the benchmark's child processes: the wire conventions every contender follows (type ids, the
// tests' message format with the seq at both ends of each payload), idle strategies, the clock, and counting GCs in a
// window.
const { PerformanceObserver, performance } = require('perf_hooks');
const { SeqCounter, SeqReader, readInt32, writeMessage } = require('../test/fixtures/ring/sequence.js');

/** typeId of a data message and of the end-of-stream marker (payload: the total sent, u32 LE). */
const DATA_TYPE = 1;
const END_TYPE = 2;

/** The clock every process uses: CLOCK_MONOTONIC in ns as a BigInt (comparisons and BigInt64Array stores of it do
 * not allocate in optimized code; converting to Number does). */
// eslint-disable-next-line @typescript-eslint/unbound-method -- hrtime.bigint uses no `this`; no wrapper frame per call
const hr = process.hrtime.bigint;

/**
 * The benchmark's messages are runs of the tests' one message format (test/fixtures/ring/sequence.js) with one fixed
 * length and one body (`sameBody`): the payload is made once, and a producer stamps only the seq at both ends per
 * message (`i32[0]` and `i32[last]`: stream 0's tail word is the seq), which a consumer checks in O(1) with
 * SeqReader and tallies with SeqCounter. The C baseline (bench/native/baseline_ring.c) sends the same bytes.
 */
const BENCH_SEED = 1;

/** A payload of `length` bytes (a multiple of 4), message 0 of the benchmark's run. */
function makePayload(length) {
  const bytes = new Uint8Array(new ArrayBuffer(Math.max(length, 8)), 0, length);
  writeMessage(
    { mode: 'reliable', seed: BENCH_SEED, minLength: length, maxLength: length, sameBody: true },
    0,
    bytes,
    0,
  );
  return { bytes, i32: new Int32Array(bytes.buffer), last: (length >> 2) - 1 };
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
  BENCH_SEED,
  makePayload,
  SeqReader,
  SeqCounter,
  gcCounter,
  shortSleep,
  idleStrategy,
  readInt32,
};
