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

/** Messages drained after a catch-up pause below which the next pause is longer (the producer got too little ahead). */
const PAUSE_GROW_BELOW = 64;
/** Messages drained after a pause above which the next pause is shorter (messages waited longer than needed). */
const PAUSE_SHRINK_ABOVE = 1024;
/** The longest catch-up pause, in `sched_yield` calls (≈ 0.3–1 µs each). */
const MAX_PAUSE_YIELDS = 32;
/** After a pause that found at most one message, this many catch-ups pass before the next probe (then doubling). */
const MIN_PROBE_HOLDOFF = 16;
const MAX_PROBE_HOLDOFF = 4096;

/**
 * Aeron's default backoff (spin, then yield, then sleep with exponential backoff up to `maxParkNs`), plus a
 * catch-up pause for streaming producers.
 *
 * Why the pause: a consumer that catches up with a streaming producer and polls again at once keeps reading the
 * very cache line the producer writes next. In JavaScript every commit is a full fence (an `xchg`), so each commit
 * then waits for that line to come back from the consumer's core: the producer slows to a fraction of its speed.
 * So when work keeps arriving right after the consumer caught up, the strategy takes the producer to be streaming
 * and, on catching up, stays off the ring for a short pause (a few `sched_yield`s, which also hand the core to a
 * producer sharing it) before polling again. The pause adapts to what the next catch-up drained: longer while too
 * few messages piled up, shorter while very many did, and off when at most one came (a request/response peer or
 * sparse traffic gains nothing from waiting: off then, re-probed with a growing hold-off). The price is latency
 * while streaming: a message may wait up to the pause (≤ ~30 µs). Use `BusySpinIdleStrategy` for the lowest latency.
 */
export class BackoffIdleStrategy implements IdleStrategy {
  readonly name = 'backoff';
  private readonly native = binding();
  private readonly maxSpins: number;
  private readonly maxYields: number;
  private readonly minParkNs: number;
  private readonly maxParkNs: number;
  private readonly catchUpPause: boolean;
  private spins = 0;
  private yields = 0;
  private parkNs = 0;
  /** Messages delivered since the last catch-up. */
  private drained = 0;
  /** The most one poll has delivered: the caller's poll limit, as far as can be told (a poll below it hit the tail). */
  private largestWork = 0;
  /** Whether the last catch-up was followed by a pause (so `drained` measures what piled up during it). */
  private paused = false;
  /** Current catch-up pause, in sched_yield calls; 0 while the producer is not taken to be streaming. */
  private pauseYields = 0;
  /** Catch-ups to let pass before probing with a pause again, and that hold-off's current length. */
  private probeHoldoff = 0;
  private probeHoldoffLength = MIN_PROBE_HOLDOFF;

  /**
   * @param maxSpins empty polls answered by polling again at once
   * @param maxYields then empty polls answered by `sched_yield`
   * @param minParkNs then sleeps, starting at this many ns and doubling
   * @param maxParkNs up to this
   * @param catchUpPause whether to pause after catching up with a streaming producer (default true)
   */
  constructor(maxSpins = 10, maxYields = 5, minParkNs = 1_000, maxParkNs = 1_000_000, catchUpPause = true) {
    checkCount('maxSpins', maxSpins);
    checkCount('maxYields', maxYields);
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
    this.catchUpPause = catchUpPause === true;
  }

  /** The current catch-up pause in `sched_yield` calls (0: none); for reports and tests. */
  get pauseLength(): number {
    return this.pauseYields;
  }

  idle(workCount: number): void {
    if (workCount > 0) {
      if (this.drained === 0 && this.catchUpPause) this.onWorkAfterEmpty();
      this.drained += workCount;
      if (this.spins !== 0 || this.yields !== 0 || this.parkNs !== this.minParkNs) this.reset();
      if (workCount > this.largestWork) {
        this.largestWork = workCount;
      } else if (workCount < this.largestWork && this.pauseYields !== 0) {
        // A poll that returned less than polls have returned before stopped at the producer's tail: caught up,
        // although it did some work. Polling again at once would read the line the producer is writing.
        this.onCaughtUp();
      }
      return;
    }
    if (this.drained > 0) {
      if (this.catchUpPause && this.onCaughtUp()) return;
    } else if (this.paused) {
      // The poll right after a pause found nothing: the producer stopped; back to the eager phases.
      this.paused = false;
      this.pauseYields = 0;
    }
    if (this.spins < this.maxSpins) {
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

  /**
   * Work arrived after empty polls. Arriving while still in the spin phase (a few polls after catching up) means
   * the producer is publishing back to back: start pausing on catch-up, unless a recent probe showed it is not.
   */
  private onWorkAfterEmpty(): void {
    // Already pausing; or spins === 0: no empty poll came before (the first poll, or one straight after a pause);
    // or yields/sleeps came before: work that took that long to come is no stream.
    if (this.pauseYields !== 0 || this.paused || this.spins === 0) return;
    if (this.yields !== 0 || this.parkNs !== this.minParkNs) return;
    if (this.probeHoldoff > 0) {
      this.probeHoldoff--;
      return;
    }
    this.pauseYields = 1;
  }

  /**
   * Caught up (the first empty poll after work, or a poll that stopped short at the tail): adapt the pause to what
   * piled up during the last one, then pause. Returns whether it paused.
   */
  private onCaughtUp(): boolean {
    const drained = this.drained;
    this.drained = 0;
    if (this.paused) {
      this.paused = false;
      if (drained <= 1) {
        // Nothing piled up while we stayed away: not a streaming producer. Stop, and probe again later.
        this.pauseYields = 0;
        this.probeHoldoff = this.probeHoldoffLength;
        this.probeHoldoffLength = Math.min(this.probeHoldoffLength * 2, MAX_PROBE_HOLDOFF);
        return false;
      }
      this.probeHoldoffLength = MIN_PROBE_HOLDOFF;
      if (drained < PAUSE_GROW_BELOW) this.pauseYields = Math.min(this.pauseYields * 2, MAX_PAUSE_YIELDS);
      else if (drained > PAUSE_SHRINK_ABOVE && this.pauseYields > 1) this.pauseYields >>= 1;
    }
    const pause = this.pauseYields;
    if (pause === 0) return false;
    for (let i = 0; i < pause; i++) this.native.yieldThread();
    this.paused = true;
    return true;
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer >= 0: ${name}=${value}`);
  }
}

function checkNanos(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number: ${name}=${value}`);
  }
}
