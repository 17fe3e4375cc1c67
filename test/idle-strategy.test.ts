/**
 * Idle strategies: what each does when a poll found nothing, checked through the native calls it makes (spied on the
 * shared binding object), not through timings.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { binding } from '../lib/binding';
import {
  BackoffIdleStrategy,
  BusySpinIdleStrategy,
  SleepingIdleStrategy,
  YieldingIdleStrategy,
} from '../lib/idle-strategy';

afterEach(() => {
  vi.restoreAllMocks();
});

function spyNative(): { yields: ReturnType<typeof vi.spyOn>; sleeps: ReturnType<typeof vi.spyOn> } {
  const native = binding();
  return {
    yields: vi.spyOn(native, 'yieldThread').mockImplementation(() => undefined),
    sleeps: vi.spyOn(native, 'sleepNanos').mockImplementation(() => undefined),
  };
}

describe('BusySpinIdleStrategy', () => {
  it('never yields or sleeps', () => {
    const { yields, sleeps } = spyNative();
    const idle = new BusySpinIdleStrategy();
    for (let i = 0; i < 100; i++) idle.idle(0);
    expect(yields).not.toHaveBeenCalled();
    expect(sleeps).not.toHaveBeenCalled();
    expect(idle.name).toBe('busy-spin');
  });
});

describe('YieldingIdleStrategy', () => {
  it('yields the core only when no work was done', () => {
    const { yields, sleeps } = spyNative();
    const idle = new YieldingIdleStrategy();
    idle.idle(3);
    expect(yields).not.toHaveBeenCalled();
    idle.idle(0);
    idle.idle(0);
    expect(yields).toHaveBeenCalledTimes(2);
    expect(sleeps).not.toHaveBeenCalled();
  });
});

describe('SleepingIdleStrategy', () => {
  it('sleeps its period when idle, not after work', () => {
    const { sleeps } = spyNative();
    const idle = new SleepingIdleStrategy(250_000);
    idle.idle(1);
    idle.idle(0);
    expect(sleeps.mock.calls).toEqual([[250_000]]);
    expect(idle.name).toBe('sleeping(250000ns)');
  });

  it('really sleeps (nanosleep) for at least the period', () => {
    const idle = new SleepingIdleStrategy(2_000_000);
    const start = process.hrtime.bigint();
    idle.idle(0);
    expect(Number(process.hrtime.bigint() - start)).toBeGreaterThanOrEqual(2_000_000);
  });

  it('refuses a period that is not a positive number', () => {
    expect(() => new SleepingIdleStrategy(0)).toThrow(new RangeError('periodNs must be a positive number: periodNs=0'));
    expect(() => new SleepingIdleStrategy(Number.NaN)).toThrow(RangeError);
  });
});

describe('BackoffIdleStrategy', () => {
  it('spins, then yields, then sleeps doubling up to maxParkNs, and starts over after work', () => {
    const { yields, sleeps } = spyNative();
    const idle = new BackoffIdleStrategy(3, 2, 1_000, 5_000);
    for (let i = 0; i < 3; i++) idle.idle(0);
    expect(yields).not.toHaveBeenCalled();
    expect(sleeps).not.toHaveBeenCalled();
    idle.idle(0);
    idle.idle(0);
    expect(yields).toHaveBeenCalledTimes(2);
    for (let i = 0; i < 5; i++) idle.idle(0);
    expect(sleeps.mock.calls.map((c) => c[0])).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    idle.idle(1); // work: back to spinning
    idle.idle(0);
    expect(yields).toHaveBeenCalledTimes(2);
    expect(sleeps).toHaveBeenCalledTimes(5);
    for (let i = 0; i < 5; i++) idle.idle(0);
    expect(sleeps.mock.calls.at(-1)?.[0]).toBe(1_000);
  });

  it('refuses maxParkNs below minParkNs', () => {
    expect(() => new BackoffIdleStrategy(1, 1, 2_000, 1_000)).toThrow(
      new RangeError('maxParkNs must be >= minParkNs: maxParkNs=1000 minParkNs=2000'),
    );
    expect(() => new BackoffIdleStrategy(1, 1, -1, 1_000)).toThrow(
      new RangeError('minParkNs must be a positive number: minParkNs=-1'),
    );
  });

  it('refuses spin and yield counts that are not integers >= 0', () => {
    expect(() => new BackoffIdleStrategy(-1)).toThrow(new RangeError('maxSpins must be an integer >= 0: maxSpins=-1'));
    expect(() => new BackoffIdleStrategy(1, 1.5)).toThrow(
      new RangeError('maxYields must be an integer >= 0: maxYields=1.5'),
    );
  });
});

/** Drives a strategy the way `idle.idle(sub.poll(handler, limit))` does and counts the yields each call made. */
function drive(idle: BackoffIdleStrategy, yields: ReturnType<typeof vi.spyOn>, workCounts: number[]): number[] {
  return workCounts.map((work) => {
    const before = yields.mock.calls.length;
    idle.idle(work);
    return yields.mock.calls.length - before;
  });
}

describe('BackoffIdleStrategy catch-up pause (streaming producers)', () => {
  it('starts pausing when work arrives within the spin phase, and doubles the pause while few messages pile up', () => {
    const { yields, sleeps } = spyNative();
    const idle = new BackoffIdleStrategy();
    // empty, work found on the next poll (back to back: streaming), caught up -> pause of 1 yield
    expect(drive(idle, yields, [0, 1, 0])).toEqual([0, 0, 1]);
    expect(idle.pauseLength).toBe(1);
    // 5 piled up during that pause (< 64): the next catch-up pauses twice as long, then 4, 8, ...
    expect(drive(idle, yields, [5, 0, 5, 0, 5, 0])).toEqual([0, 2, 0, 4, 0, 8]);
    expect(sleeps).not.toHaveBeenCalled();
  });

  it('takes a poll that returned less than polls did before for a catch-up, and pauses without an empty poll', () => {
    const { yields } = spyNative();
    const idle = new BackoffIdleStrategy();
    drive(idle, yields, [0, 1, 0]); // streaming: pause 1
    // full polls (256: the caller's limit, as far as the strategy can tell), then one that stopped at the tail
    expect(drive(idle, yields, [256, 256, 40])).toEqual([0, 0, 1]);
    expect(drive(idle, yields, [256, 256, 256, 256, 256, 30])).toEqual([0, 0, 0, 0, 0, 1]);
    expect(idle.pauseLength).toBe(1);
  });

  it('does not take short polls for catch-ups while not pausing (a consumer behind its producer never pauses)', () => {
    const { yields } = spyNative();
    const idle = new BackoffIdleStrategy();
    expect(drive(idle, yields, [256, 10, 256, 3, 256, 256, 1])).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(idle.pauseLength).toBe(0);
  });

  it('never pauses longer than 32 yields, and shortens the pause when more than 1024 messages piled up', () => {
    const { yields } = spyNative();
    const idle = new BackoffIdleStrategy();
    drive(idle, yields, [0, 1, 0]);
    for (let i = 0; i < 10; i++) drive(idle, yields, [10, 0]);
    expect(idle.pauseLength).toBe(32);
    expect(drive(idle, yields, [256, 256, 256, 256, 256, 0])).toEqual([0, 0, 0, 0, 0, 16]);
    expect(drive(idle, yields, [256, 44, 0])).toEqual([0, 16, 0]); // 300 (between 64 and 1024): kept
  });

  it('stops pausing when a pause found at most one message, and probes again only after a growing hold-off', () => {
    const { yields } = spyNative();
    const idle = new BackoffIdleStrategy();
    drive(idle, yields, [0, 1, 0]); // probe: pause 1
    // request/response: one message per pause is not a streaming producer -> no pause on this catch-up
    expect(drive(idle, yields, [1, 0])).toEqual([0, 0]);
    expect(idle.pauseLength).toBe(0);
    // the next 16 back-to-back arrivals do not probe again
    for (let i = 0; i < 16; i++) expect(drive(idle, yields, [1, 0])).toEqual([0, 0]);
    expect(drive(idle, yields, [1, 0])).toEqual([0, 1]); // the 17th does
    expect(drive(idle, yields, [1, 0])).toEqual([0, 0]); // and fails again: now 32 pass before the next probe
    for (let i = 0; i < 32; i++) expect(drive(idle, yields, [1, 0])).toEqual([0, 0]);
    expect(drive(idle, yields, [1, 0])).toEqual([0, 1]);
  });

  it('goes back to spinning, yielding and sleeping when the poll after a pause finds nothing', () => {
    const { yields, sleeps } = spyNative();
    const idle = new BackoffIdleStrategy(2, 1, 1_000, 4_000);
    drive(idle, yields, [0, 1, 0]); // pausing
    expect(drive(idle, yields, [0, 0, 0, 0])).toEqual([0, 0, 1, 0]); // spin, spin, yield, sleep
    expect(sleeps.mock.calls).toEqual([[1_000]]);
    expect(idle.pauseLength).toBe(0);
  });

  it('does not take work found after yielding or sleeping for a streaming producer', () => {
    const { yields } = spyNative();
    const idle = new BackoffIdleStrategy(1, 1, 1_000, 4_000);
    expect(drive(idle, yields, [0, 0, 0, 3, 0])).toEqual([0, 1, 0, 0, 0]);
    expect(idle.pauseLength).toBe(0);
  });

  it('never pauses when catchUpPause is false', () => {
    const { yields } = spyNative();
    const idle = new BackoffIdleStrategy(10, 5, 1_000, 1_000_000, false);
    expect(drive(idle, yields, [0, 1, 0, 5, 0, 5, 0])).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(idle.pauseLength).toBe(0);
  });
});
