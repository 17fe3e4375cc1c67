/**
 * Idle strategies for poll loops (Aeron's): what a thread does when `poll` returned 0. They block the calling
 * thread, so use them in workers or dedicated processes; on the event loop use `await sub.wait()` instead.
 *
 *   const idle = new BackoffIdleStrategy();
 *   for (;;) idle.idle(sub.poll(handler, 64));
 */
import { binding } from './binding';

export interface IdleStrategy {
  /** Called after each unit of work with how much was done; idles only when `workCount` is 0. */
  idle(workCount: number): void;
  /** Back to the most eager state (called by `idle` itself when work was done). */
  reset(): void;
  /** A name for reports. */
  readonly name: string;
}

/** Never gives up the core: lowest latency, burns a whole core. Never use more spinners than cores. */
export class BusySpinIdleStrategy implements IdleStrategy {
  readonly name = 'busy-spin';
  idle(_workCount: number): void {
    // Nothing: the caller polls again at once.
  }
  reset(): void {}
}

/** Yields the core to another runnable thread when idle (sched_yield): shares cores, still burns CPU. */
export class YieldingIdleStrategy implements IdleStrategy {
  readonly name = 'yielding';
  private readonly yieldThread = binding().yieldThread;
  idle(workCount: number): void {
    if (workCount === 0) this.yieldThread();
  }
  reset(): void {}
}

/** Sleeps a fixed period when idle (nanosleep): little CPU, latency up to the period. */
export class SleepingIdleStrategy implements IdleStrategy {
  readonly name: string;
  private readonly sleepNanos = binding().sleepNanos;
  private readonly periodNs: number;

  constructor(periodNs = 100_000) {
    checkNanos('periodNs', periodNs);
    this.periodNs = periodNs;
    this.name = `sleeping(${periodNs}ns)`;
  }

  idle(workCount: number): void {
    if (workCount === 0) this.sleepNanos(this.periodNs);
  }
  reset(): void {}
}

/** Spins, then yields, then sleeps with exponential backoff up to `maxParkNs`: Aeron's default. */
export class BackoffIdleStrategy implements IdleStrategy {
  readonly name = 'backoff';
  private readonly native = binding();
  private readonly maxSpins: number;
  private readonly maxYields: number;
  private readonly minParkNs: number;
  private readonly maxParkNs: number;
  private spins = 0;
  private yields = 0;
  private parkNs = 0;

  constructor(maxSpins = 10, maxYields = 5, minParkNs = 1_000, maxParkNs = 1_000_000) {
    checkNanos('minParkNs', minParkNs);
    checkNanos('maxParkNs', maxParkNs);
    if (maxParkNs < minParkNs) {
      throw new RangeError(`maxParkNs must be >= minParkNs: maxParkNs=${maxParkNs} minParkNs=${minParkNs}`);
    }
    this.maxSpins = maxSpins;
    this.maxYields = maxYields;
    this.minParkNs = minParkNs;
    this.maxParkNs = maxParkNs;
    this.parkNs = minParkNs;
  }

  idle(workCount: number): void {
    if (workCount > 0) {
      this.reset();
    } else if (this.spins < this.maxSpins) {
      this.spins++;
    } else if (this.yields < this.maxYields) {
      this.yields++;
      this.native.yieldThread();
    } else {
      this.native.sleepNanos(this.parkNs);
      this.parkNs = Math.min(this.parkNs * 2, this.maxParkNs);
    }
  }

  reset(): void {
    this.spins = 0;
    this.yields = 0;
    this.parkNs = this.minParkNs;
  }
}

function checkNanos(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number: ${name}=${value}`);
  }
}
