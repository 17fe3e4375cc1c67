/**
 * A test double of `RingMemory` over a plain `SharedArrayBuffer`, so the protocol tests can construct producers and
 * consumers directly, in one thread, and look at every word they write.
 *
 * - The header is written by the real `writeHeader` from the real `describeNewRing` descriptor.
 * - Locks emulate OFD locks: one table per ring maps a lock byte to the `HeapMemory` (the "open file description")
 *   that holds it. `isLocked` is true when ANOTHER memory holds the byte, as F_OFD_GETLK reports; `close()` drops
 *   every lock of that memory, as closing the fd does. `kill()` is a process dying: locks dropped, nothing else.
 * - wake/waitSync/createWaiter use Atomics.notify/Atomics.wait/Atomics.waitAsync on the same word, and every wake is
 *   recorded so a test can assert who woke whom; so is how each waiter's wait ended (WOKEN by a wake, or TIMED_OUT:
 *   `wait()` re-checks the ring every second, so only this tells a wake from the re-check).
 */
import { FutexResult, type FutexResultValue, type FutexWaiter } from '../../lib/binding';
import * as L from '../../lib/layout';
import {
  describeNewRing,
  writeHeader,
  type RingDescriptor,
  type RingLayoutOptions,
  type RingMemory,
} from '../../lib/ring-file';

/** One ring in a heap SharedArrayBuffer; `memory()` opens it again (a new owner, like a new open of the file). */
export class HeapRing {
  readonly buffer: SharedArrayBuffer;
  readonly descriptor: RingDescriptor;
  /** Lock byte -> owner, shared by every memory of this ring. */
  readonly locks = new Map<number, HeapMemory>();
  /** Every `wake(byteOffset)` call made through any memory of this ring, in order. */
  readonly wakes: number[] = [];
  /** How each wait of a `createWaiter` waiter ended, in order. */
  readonly waitResults: FutexResultValue[] = [];
  readonly i32: Int32Array;
  readonly i64: BigInt64Array;
  readonly u8: Uint8Array;

  constructor(options: RingLayoutOptions = {}) {
    this.descriptor = describeNewRing(options);
    this.buffer = new SharedArrayBuffer(this.descriptor.fileLength);
    writeHeader(this.buffer, this.descriptor);
    this.i32 = new Int32Array(this.buffer);
    this.i64 = new BigInt64Array(this.buffer);
    this.u8 = new Uint8Array(this.buffer);
  }

  memory(): HeapMemory {
    return new HeapMemory(this);
  }

  get capacity(): number {
    return this.descriptor.capacity;
  }

  get dataOffset(): number {
    return this.descriptor.dataOffset;
  }

  /** The int32 at byte `index` of the data region (`index` is taken modulo the capacity). */
  dataWord(index: number): number {
    return Atomics.load(this.i32, L.int32Index(this.dataOffset + (index & (this.capacity - 1))));
  }

  setDataWord(index: number, value: number): void {
    Atomics.store(this.i32, L.int32Index(this.dataOffset + index), value);
  }

  /** Record length word at data index `index`. */
  lengthAt(index: number): number {
    return this.dataWord(index + L.LENGTH_FIELD_OFFSET);
  }

  /** Record type word (type id | flags << 24) at data index `index`. */
  typeWordAt(index: number): number {
    return this.dataWord(index + L.TYPE_FIELD_OFFSET);
  }

  /** `length` payload bytes of the record at data index `index`. */
  payloadAt(index: number, length: number): Uint8Array {
    const start = this.dataOffset + index + L.HEADER_LENGTH;
    return this.u8.slice(start, start + length);
  }

  /** An int64 field of the file (tail checkpoint, slot position, broadcast counters) at file byte `offset`. */
  int64At(offset: number): bigint {
    return Atomics.load(this.i64, offset >> 3);
  }

  setInt64At(offset: number, value: bigint): void {
    Atomics.store(this.i64, offset >> 3, value);
  }

  int32At(offset: number): number {
    return Atomics.load(this.i32, L.int32Index(offset));
  }

  setInt32At(offset: number, value: number): void {
    Atomics.store(this.i32, L.int32Index(offset), value);
  }

  /** Broadcast trailer counter (`L.TAIL_INTENT_COUNTER_OFFSET`, ...) as a number. */
  counter(counterOffset: number): number {
    return Number(this.int64At(this.dataOffset + this.capacity + counterOffset));
  }

  setCounter(counterOffset: number, value: number): void {
    this.setInt64At(this.dataOffset + this.capacity + counterOffset, BigInt(value));
  }

  /** Position stored in consumer slot `slot`. */
  slotPosition(slot: number): number {
    return Number(this.int64At(L.consumerSlotOffset(slot) + L.SLOT_POSITION_OFFSET));
  }

  slotState(slot: number): number {
    return this.int32At(L.consumerSlotOffset(slot) + L.SLOT_STATE_OFFSET) & L.SLOT_STATE_MASK;
  }

  tailCheckpoint(): number {
    return Number(this.int64At(L.TAIL_CHECKPOINT_OFFSET));
  }
}

type WaitResult = 'ok' | 'not-equal' | 'timed-out';
/** Node 20 has Atomics.waitAsync; the ES2022 lib this project compiles against does not declare it. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync: (
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ) => { async: true; value: Promise<WaitResult> } | { async: false; value: WaitResult };
  }
).waitAsync;

export class HeapMemory implements RingMemory {
  readonly buffer: SharedArrayBuffer;
  readonly path = null;
  readonly ring: HeapRing;
  closed = false;
  private readonly i32: Int32Array;

  constructor(ring: HeapRing) {
    this.ring = ring;
    this.buffer = ring.buffer;
    this.i32 = new Int32Array(ring.buffer);
  }

  tryLock(offset: number, exclusive: boolean): boolean {
    void exclusive;
    const owner = this.ring.locks.get(offset);
    if (owner !== undefined && owner !== this) return false;
    this.ring.locks.set(offset, this);
    return true;
  }

  unlock(offset: number): void {
    if (this.ring.locks.get(offset) === this) this.ring.locks.delete(offset);
  }

  isLocked(offset: number): boolean {
    const owner = this.ring.locks.get(offset);
    return owner !== undefined && owner !== this;
  }

  wake(byteOffset: number): void {
    this.ring.wakes.push(byteOffset);
    Atomics.notify(this.i32, L.int32Index(byteOffset));
  }

  waitSync(byteOffset: number, expected: number, timeoutMs: number): FutexResultValue {
    const result = Atomics.wait(this.i32, L.int32Index(byteOffset), expected, timeoutMs < 0 ? Infinity : timeoutMs);
    return result === 'ok' ? FutexResult.WOKEN : result === 'not-equal' ? FutexResult.NOT_EQUAL : FutexResult.TIMED_OUT;
  }

  createWaiter(byteOffset: number): FutexWaiter {
    const i32 = this.i32;
    const results = this.ring.waitResults;
    const index = L.int32Index(byteOffset);
    let cancel: (() => void) | null = null;
    return {
      wait(expected, timeoutMs, callback) {
        const waited = waitAsync(i32, index, expected, timeoutMs < 0 ? Infinity : timeoutMs);
        const settled = waited.async ? waited.value : Promise.resolve(waited.value);
        const cancelled = new Promise<'cancelled'>((resolve) => (cancel = () => resolve('cancelled')));
        void Promise.race([settled, cancelled]).then((result) => {
          cancel = null;
          const outcome =
            result === 'ok'
              ? FutexResult.WOKEN
              : result === 'not-equal'
                ? FutexResult.NOT_EQUAL
                : result === 'timed-out'
                  ? FutexResult.TIMED_OUT
                  : FutexResult.CANCELLED;
          results.push(outcome);
          callback(outcome);
        });
      },
      cancel: () => cancel?.(),
      close: () => cancel?.(),
      ref: () => undefined,
      unref: () => undefined,
    };
  }

  sendTo(socketFd: number): void {
    throw new Error(`a heap ring has no file descriptor to send: socketFd=${socketFd}`);
  }

  /** Closing an fd: its OFD locks go. */
  close(): void {
    this.closed = true;
    this.dropLocks();
  }

  /** The owning process died: the kernel drops its locks; shared memory keeps whatever it wrote. */
  kill(): void {
    this.dropLocks();
  }

  private dropLocks(): void {
    for (const [offset, owner] of [...this.ring.locks]) if (owner === this) this.ring.locks.delete(offset);
  }
}
