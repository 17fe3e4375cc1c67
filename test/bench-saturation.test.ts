/**
 * The benchmark's saturation check (bench/saturation.js), fed synthetic latency series: a latency row whose
 * open-loop schedule outran the contender measured a queue and must be caught; a row that kept its schedule, even
 * through a stall or a slower VM, must not be.
 */
import { describe, expect, it } from 'vitest';
import type { Series } from '../bench/saturation';
import { judge, MIN_TREND_SAMPLES } from '../bench/saturation';

// The harness is plain CommonJS: load the very module bench/run.js uses.

/**
 * A pinger on an open-loop schedule, as bench/contenders/js-process.js's RttSchedule runs it: send i is due at
 * i x interval, goes out then or when reply i-1 came back (one message in flight), and its reply takes
 * serviceNs(i); a sample is reply time - due time. Runs until a send would fall past durationNs.
 */
function openLoop(intervalNs: number, durationNs: number, serviceNs: (i: number) => number): Series {
  const samples: number[] = [];
  let replied = 0;
  let now = 0;
  for (let i = 0; ; i++) {
    const due = i * intervalNs;
    now = Math.max(due, replied);
    if (now >= durationNs) break;
    replied = now + serviceNs(i);
    samples.push(replied - due);
  }
  return { samples: Float64Array.from(samples), intervalNs, sends: samples.length, windowNs: now };
}

/** A small deterministic jitter, so medians are not of identical values. */
const jitter = (i: number): number => ((i * 2654435761) >>> 0) % 50;

describe('judge (bench/saturation.js)', () => {
  it('passes a schedule the contender keeps up with', () => {
    const v = judge(openLoop(2_000, 50e6, (i) => 400 + jitter(i)));
    expect(v.saturated).toBe(false);
    expect(v.reason).toBeNull();
    expect(v.achieved).toBeGreaterThan(0.99);
    expect(v.growth).toBeCloseTo(1, 1);
  });

  it('catches a schedule faster than the contender answers: the queue grows for the whole run', () => {
    // 3 µs per round trip, one due every 2 µs: the shape of the 73,859 µs "p50" of a native-c futex row.
    const v = judge(openLoop(2_000, 50e6, (i) => 3_000 + jitter(i)));
    expect(v.saturated).toBe(true);
    expect(v.achieved).toBeLessThan(0.7);
    expect(v.growth).toBeGreaterThan(4);
    expect(v.reason).toMatch(/sent 66% of the schedule/); // 2 µs of every 3.025 µs
    expect(v.reason).toMatch(/latency climbed/);
  });

  it('catches a contender that slows down during the run until the schedule outruns it', () => {
    // Keeps up for the first half, then needs 2.1 µs per 2 µs slot: only 5 % short, yet a growing queue.
    const v = judge(openLoop(2_000, 50e6, (i) => (i < 12_500 ? 500 : 2_100) + jitter(i)));
    expect(v.saturated).toBe(true);
    expect(v.lastThirdNs).toBeGreaterThan(2_000);
  });

  it('catches a sender that fell behind its schedule even when latency looks flat', () => {
    const samples = Float64Array.from({ length: 1000 }, (_, i) => 500 + jitter(i));
    const v = judge({ samples, intervalNs: 2_000, sends: 900, windowNs: 2_000 * 1000 });
    expect(v.saturated).toBe(true);
    expect(v.reason).toBe('sent 90% of the schedule');
  });

  it('passes a run with one long stall that the schedule then catches up with', () => {
    // A 5 ms vCPU stall at 40 % of the run: thousands of samples wait behind it, then the queue drains.
    const v = judge(openLoop(2_000, 50e6, (i) => (i === 10_000 ? 5_000_000 : 500 + jitter(i))));
    expect(v.saturated).toBe(false);
    expect(v.achieved).toBeGreaterThan(0.95);
  });

  it('catches stalls so frequent that most samples wait behind one, though the average rate is kept', () => {
    // Descheduled for 4 ms every 6 ms (a busy-spin pair on a busy 2-core machine): ~98 % of the sends happen, the
    // thirds look alike, and most samples are queueing.
    const v = judge(openLoop(2_000, 500e6, (i) => (i % 3_000 === 0 ? 4_000_000 : 200 + jitter(i))));
    expect(v.achieved).toBeGreaterThan(0.95);
    expect(v.growth).toBeLessThan(2);
    expect(v.saturated).toBe(true);
    expect(v.reason).toBe('most replies came after the next send was due');
  });

  it('passes latency that doubles while staying under the interval (a slower VM, not a queue)', () => {
    const v = judge(openLoop(10_000, 50e6, (i) => (i < 2_500 ? 1_000 : 2_500) + jitter(i)));
    expect(v.growth).toBeGreaterThan(2);
    expect(v.saturated).toBe(false);
  });

  it('judges a series without a send count (the wake case) by its trend alone', () => {
    const climbing = Float64Array.from({ length: 600 }, (_, i) => 30_000 + i * 2_000);
    expect(judge({ samples: climbing, intervalNs: 250_000 }).saturated).toBe(true);
    const flat = Float64Array.from({ length: 600 }, (_, i) => 30_000 + jitter(i));
    const v = judge({ samples: flat, intervalNs: 250_000 });
    expect(v.saturated).toBe(false);
    expect(v.achieved).toBeNull();
  });

  it('does not take a run with too few samples to judge for latency', () => {
    // A schedule set from round trips of milliseconds (a busy 2-core machine): a handful of samples in the run.
    const few = Float64Array.from({ length: MIN_TREND_SAMPLES - 1 }, (_, i) => 15_000_000 + jitter(i));
    const v = judge({ samples: few, intervalNs: 30_000_000, sends: few.length, windowNs: few.length * 30_000_000 });
    expect(v.saturated).toBe(true);
    expect(v.growth).toBeNull();
    expect(v.reason).toBe(`only ${MIN_TREND_SAMPLES - 1} samples, too few to tell latency from queueing`);
    const enough = Float64Array.from({ length: MIN_TREND_SAMPLES }, (_, i) => 15_000_000 + jitter(i));
    expect(judge({ samples: enough, intervalNs: 30_000_000 }).saturated).toBe(false);
  });
});
