/**
 * Idle strategies: what each does when a poll found nothing, checked through the native calls it makes (spied on the
 * shared binding object), not through timings.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { binding } from '../lib/binding';
import {
  BackoffIdleStrategy, BusySpinIdleStrategy, SleepingIdleStrategy, YieldingIdleStrategy,
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
      new RangeError('maxParkNs must be >= minParkNs: maxParkNs=1000 minParkNs=2000'));
    expect(() => new BackoffIdleStrategy(1, 1, -1, 1_000)).toThrow(
      new RangeError('minParkNs must be a positive number: minParkNs=-1'));
  });
});
