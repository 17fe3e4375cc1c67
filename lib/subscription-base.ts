/**
 * What every subscription shares: sleeping until the producer publishes, across processes.
 *
 * Protocol (docs/waiting.md): a consumer reads the wake sequence, announces that it sleeps (reliable: marks the
 * empty slot at its position; broadcast: sets the wake-requested flag) while re-checking for data, then futex-waits
 * on the wake sequence. The producer's commit notices the announcement (reliable: its exchange returns the mark;
 * broadcast: it finds the flag set and clears it) and only then bumps the wake sequence and issues FUTEX_WAKE.
 * All of it is sequentially consistent atomics, so either the producer sees the sleeper or the sleeper sees the
 * data: no lost wake-up, and no syscall per message while consumers are awake.
 */
import { FutexResult, binding, type FutexResultValue, type FutexWaiter } from './binding';
import { closedError } from './errors';
import * as L from './layout';
import type { MessageHandler } from './message-handler';
import { RingEndpoint } from './ring-endpoint';

const WAKE_SEQUENCE_INDEX = L.int32Index(L.WAKE_SEQUENCE_OFFSET);
/** A sleeper wakes at least this often to notice a producer that died without waking anyone. */
const MAX_SLEEP_MS = 1000;
/**
 * Before announcing a sleep, a waiter lets this many event-loop turns (`wait`) or `sched_yield`s (`waitSync`) pass,
 * checking for data after each. A streaming producer usually publishes within that (a few µs), and then no one
 * announces a sleep: the producer pays no FUTEX_WAKE (≈ 10 µs) per time its consumer caught up.
 */
const LINGER_TURNS = 4;

/** Where a new subscription starts: 'latest' (messages published from now on) or 'earliest' (the oldest the ring
 * still guarantees). */
export type StartFrom = 'latest' | 'earliest';

/** Options for `wait`. */
export interface WaitOptions {
  /** Cancels the wait: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Give up after this long and resolve false. Default: wait forever. */
  timeoutMs?: number;
}

/** A message copied out by the async iterator. */
export interface Message {
  data: Uint8Array;
  typeId: number;
}

export abstract class SubscriptionBase extends RingEndpoint {
  abstract poll(handler: MessageHandler, limit?: number): number;
  /** True when a message (or padding) is ready to be polled. */
  abstract hasData(): boolean;
  abstract get isClosed(): boolean;
  /** Announces a sleep; false when data arrived meanwhile (then do not sleep). */
  protected abstract announceSleep(): boolean;
  /** Undoes what announceSleep did, after waking. */
  protected abstract endSleep(): void;
  private waiter: FutexWaiter | null = null;
  private waiterUnref = false;

  /**
   * Blocks the calling thread (use it in workers and dedicated processes) until data is ready. Returns true when
   * it is, false on timeout or when the producer closed and nothing is left.
   */
  waitSync(timeoutMs = -1): boolean {
    const deadline = timeoutMs >= 0 ? Date.now() + timeoutMs : Infinity;
    const i32 = this.int32();
    let lingered = 0;
    for (;;) {
      // Closed first: a closed reliable subscription's hasData() is true (its slot state no longer matches).
      if (this.isClosed) throw closedError('subscription');
      if (this.hasData()) return true;
      if (this.producerClosed) return false;
      const remaining = Math.min(deadline - Date.now(), MAX_SLEEP_MS);
      if (remaining <= 0) return false;
      if (lingered < LINGER_TURNS) {
        lingered++;
        binding().yieldThread();
        continue;
      }
      const sequence = Atomics.load(i32, WAKE_SEQUENCE_INDEX);
      if (!this.announceSleep()) continue;
      try {
        if (this.producerClosed) continue;
        this.memory.waitSync(L.WAKE_SEQUENCE_OFFSET, sequence, remaining);
      } finally {
        this.endSleep();
      }
    }
  }

  /**
   * Resolves true once data is ready without blocking the event loop (a native waiter thread sleeps on the futex),
   * false on timeout or when the producer closed and nothing is left or the subscription was closed.
   */
  async wait(options: WaitOptions = {}): Promise<boolean> {
    const { signal, timeoutMs = -1 } = options;
    signal?.throwIfAborted();
    const deadline = timeoutMs >= 0 ? Date.now() + timeoutMs : Infinity;
    let lingered = 0;
    for (;;) {
      if (this.isClosed) return false;
      if (this.hasData()) return true;
      if (this.producerClosed) return false;
      const remaining = Math.min(deadline - Date.now(), MAX_SLEEP_MS);
      if (remaining <= 0) return false;
      if (lingered < LINGER_TURNS) {
        lingered++;
        await nextTurn();
        signal?.throwIfAborted();
        continue;
      }
      const result = await this.sleepOnce(remaining, signal);
      if (result === FutexResult.CANCELLED) {
        signal?.throwIfAborted();
        return false;
      }
    }
  }

  /** Whether the producer's kernel lock is held: a live producer (one syscall). */
  get producerAlive(): boolean {
    return this.memory.isLocked(L.PRODUCER_LOCK_BYTE);
  }

  /** True once the producer closed cleanly (a crashed producer is seen through `producerAlive`). */
  get producerClosed(): boolean {
    return Atomics.load(this.int32(), L.int32Index(L.PRODUCER_STATE_OFFSET)) === L.PRODUCER_STATE_CLOSED;
  }

  /** Whether a pending `wait` keeps the process alive (default true, like a timer). */
  get keepsProcessAlive(): boolean {
    return !this.waiterUnref;
  }

  set keepsProcessAlive(value: boolean) {
    this.waiterUnref = !value;
    if (this.waiter !== null) {
      if (value) this.waiter.ref();
      else this.waiter.unref();
    }
  }

  /** Copies each message out and yields it; sleeps (futex) while the ring is empty; ends at a clean close. */
  async *messages(batch = 64): AsyncGenerator<Message, void, undefined> {
    const queue: Message[] = [];
    const collect: MessageHandler = (buffer, offset, length, typeId) => {
      queue.push({ data: buffer.slice(offset, offset + length), typeId });
    };
    while (!this.isClosed) {
      if (this.poll(collect, batch) === 0) {
        if (!(await this.wait()) && (this.isClosed || (this.producerClosed && !this.hasData()))) return;
        continue;
      }
      for (let i = 0; i < queue.length; i++) yield queue[i];
      queue.length = 0;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined> {
    return this.messages();
  }

  /** Releases the waiter thread (a pending `wait` resolves false). */
  protected closeWaiter(): void {
    if (this.waiter !== null) {
      this.waiter.close();
      this.waiter = null;
    }
  }

  private header: Int32Array | null = null;

  private int32(): Int32Array {
    if (this.header === null) this.header = new Int32Array(this.memory.buffer, 0, L.int32Index(L.PAGE_LENGTH));
    return this.header;
  }

  private sleepOnce(timeoutMs: number, signal: AbortSignal | undefined): Promise<FutexResultValue> {
    const i32 = this.int32();
    const sequence = Atomics.load(i32, WAKE_SEQUENCE_INDEX);
    if (!this.announceSleep()) return Promise.resolve(FutexResult.WOKEN);
    if (this.producerClosed) {
      this.endSleep();
      return Promise.resolve(FutexResult.WOKEN);
    }
    if (this.waiter === null) {
      this.waiter = this.memory.createWaiter(L.WAKE_SEQUENCE_OFFSET);
      if (this.waiterUnref) this.waiter.unref();
    }
    const waiter = this.waiter;
    return new Promise((resolve) => {
      const onAbort = (): void => waiter.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      waiter.wait(sequence, Math.ceil(timeoutMs), (result) => {
        this.endSleep();
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      });
    });
  }
}

/** Resolves after the event loop's current turn (I/O and timers that are due run first). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
