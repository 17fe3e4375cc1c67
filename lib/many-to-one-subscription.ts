/**
 * The one consumer of a many-to-one ring: Agrona's ManyToOneRingBuffer read on Agrona's byte layout. It holds the
 * ring's consumer lock (a kernel lock: producers see a dead consumer at once) and writes Agrona's consumer heartbeat
 * (what a JVM producer checks).
 *
 * `poll` reads committed records in place (zero copy) up to the end of the ring, then zeroes the bytes it consumed
 * and publishes the new head once per batch (as Agrona: producers rely on unclaimed space reading 0). A record whose
 * producer died between claim and commit would stop it forever: after `unblockTimeoutMs` without progress while
 * producers are ahead, it turns that record into padding (Agrona's `unblock`), counts it, and goes on.
 */
import { binding } from './binding';
import { ErrorCode, ShmringError, closedError, corrupt } from './errors';
import * as L from './layout';
import type { MessageHandler } from './message-handler';
import { loadPosition, storePosition } from './position';
import type { RingDescriptor, RingMemory } from './ring-file';
import { SubscriptionBase } from './subscription-base';

const WAKE_REQUESTED_INDEX = L.int32Index(L.WAKE_REQUESTED_OFFSET);
const SLOT_INDEX = L.int32Index(L.consumerSlotOffset(L.MANY_TO_ONE_CONSUMER_SLOT));
const CONSUMER_LOCK_BYTE = L.CONSUMER_LOCK_BYTE_BASE + L.MANY_TO_ONE_CONSUMER_SLOT;
/** Aeron's client liveness timeout: a producer stalled this long between claim and commit is taken for dead. */
const DEFAULT_UNBLOCK_TIMEOUT_MS = 10_000;
/** The heartbeat is written at most this often. */
const HEARTBEAT_INTERVAL_MS = 100;
/**
 * Polls between two looks at the clock (a power of two), a native call of ~25 ns. With BackoffIdleStrategy (parks up
 * to 1 ms) that is a look at least every ~1 s; `wait()` looks every time it wakes.
 */
const POLLS_PER_CLOCK_CHECK = 1024;
/** Empty polls between two looks at the clock, and the least time between two checks made from empty polls. */
const EMPTY_POLLS_PER_CLOCK_LOOK = 16;
const IDLE_CHECK_INTERVAL_MS = 10;
/** binding().monotonicMs() wraps at 2^30 ms: intervals are differences masked with this. */
const CLOCK_MASK = 2 ** 30 - 1;

/** Options of a many-to-one consumer. */
export interface ManyToOneConsumerOptions {
  /**
   * How long the consumer waits behind a record that stays uncommitted (its producer died or stalled between claim
   * and commit) before it turns the record into padding and goes on. Default 10 000 ms. A producer that commits
   * after that finds its claim released (its `commit()` throws) — set it well above your longest pause.
   */
  unblockTimeoutMs?: number;
}

export class ManyToOneSubscription extends SubscriptionBase {
  readonly mode = 'many-to-one' as const;
  /** Records the consumer turned into padding because their producer never committed them (Agrona's unblock). */
  unblockedCount = 0;
  private readonly tailIndex: number;
  private readonly headIndex: number;
  private readonly heartbeatIndex: number;
  private readonly unblockTimeoutMs: number;
  private head = 0;
  /** monotonicMs() of the last heartbeat written. */
  private lastBeat = 0;
  private readonly native = binding();
  private polls = 0;
  /** monotonicMs() of the last check (heartbeat and unblock timer). */
  private lastIdle = 0;
  /** Bytes the last block read consumed (records and padding). */
  private blockBytes = 0;
  /** monotonicMs() when the consumer first found producers ahead of a head it could not move (-1: it has not). */
  private stalledSince = -1;
  private closed = false;

  /** @internal Use `Subscription.create` / `Subscription.open`. Takes the consumer lock or throws. */
  constructor(memory: RingMemory, d: RingDescriptor, options: ManyToOneConsumerOptions = {}) {
    super(memory, d);
    const timeout = options.unblockTimeoutMs ?? DEFAULT_UNBLOCK_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !(timeout >= 0)) {
      throw new RangeError(`unblockTimeoutMs must be a number >= 0: unblockTimeoutMs=${String(timeout)}`);
    }
    this.unblockTimeoutMs = timeout;
    const trailer = d.dataOffset + d.capacity;
    this.tailIndex = L.int32Index(trailer + L.TAIL_POSITION_OFFSET);
    this.headIndex = L.int32Index(trailer + L.HEAD_POSITION_OFFSET);
    this.heartbeatIndex = L.int32Index(trailer + L.CONSUMER_HEARTBEAT_OFFSET);
    if (!memory.tryLock(CONSUMER_LOCK_BYTE, true)) {
      throw new ShmringError(
        ErrorCode.NO_CONSUMER_SLOT,
        `another live process is the consumer of this many-to-one ring: ${memory.path ?? 'anonymous ring'}`,
        memory.path ?? undefined,
      );
    }
    // A consumer that died mid-poll may have zeroed records without moving the head: the unblock path pads over them.
    this.head = loadPosition(this.i32, this.headIndex);
    Atomics.store(this.i32, SLOT_INDEX + L.int32Index(L.SLOT_PID_OFFSET), process.pid);
    Atomics.store(this.i32, SLOT_INDEX + L.int32Index(L.SLOT_STATE_OFFSET), L.SLOT_ACTIVE);
    this.beat(this.native.monotonicMs());
  }

  /** Bytes consumed since the ring was created (Agrona's consumerPosition). */
  get position(): number {
    return this.head;
  }

  /** Bytes claimed by every producer since the ring was created (Agrona's producerPosition). */
  get producerPosition(): number {
    return loadPosition(this.i32, this.tailIndex);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Producers come and go: a many-to-one ring is never closed by one of them. */
  override get producerClosed(): boolean {
    return false;
  }

  /**
   * Delivers up to `limit` messages (in place: valid during the handler call only) and returns how many. Reads up
   * to the end of the ring at most; a handler that throws still consumes its message. Throws ERR_SHMRING_CORRUPT on
   * an impossible record length.
   */
  poll(handler: MessageHandler, limit = 10): number {
    if (this.closed) throw closedError('subscription');
    const delivered = this.readBlock(handler, limit);
    // Only padding up to the end of the ring: read on from its start, so a poll returns 0 only when nothing is ready.
    if (delivered === 0 && this.blockBytes > 0) return this.readBlock(handler, limit);
    return delivered;
  }

  /** Agrona's read: records from the head up to the end of the ring at most. */
  private readBlock(handler: MessageHandler, limit: number): number {
    const i32 = this.i32;
    const u8 = this.u8;
    const head = this.head;
    const blockStart = this.dataOffset + (head & this.mask);
    const maxBlock = this.capacity - (head & this.mask);
    let bytesRead = 0;
    let delivered = 0;
    try {
      while (bytesRead < maxBlock && delivered < limit) {
        const recordOffset = blockStart + bytesRead;
        const length = Atomics.load(i32, L.recordLengthIndex(recordOffset));
        if (length <= 0) break;
        const aligned = (length + L.RECORD_ALIGNMENT - 1) & -L.RECORD_ALIGNMENT;
        // Checked before the head moves: a corrupt record is never skipped as if it had been read.
        if (length < L.HEADER_LENGTH || aligned > maxBlock - bytesRead) throw corrupt('record length', length);
        bytesRead += aligned;
        const typeId = i32[L.recordTypeIndex(recordOffset)];
        if (typeId === L.RING_BUFFER_PADDING_TYPE) continue;
        delivered++;
        handler(u8, recordOffset + L.HEADER_LENGTH, length - L.HEADER_LENGTH, typeId);
      }
    } finally {
      this.blockBytes = bytesRead;
      if (bytesRead > 0) this.consume(blockStart, bytesRead);
    }
    // A poll that moved checks every POLLS_PER_CLOCK_CHECK polls; one that found nothing looks at the clock every
    // EMPTY_POLLS_PER_CLOCK_LOOK (idle time: it costs nothing) and checks when IDLE_CHECK_INTERVAL_MS have passed, so a
    // consumer that polls rarely still unblocks a dead producer's record about unblockTimeoutMs after it stalled.
    if (bytesRead > 0) {
      if ((++this.polls & (POLLS_PER_CLOCK_CHECK - 1)) === 0) this.idle();
    } else if ((++this.polls & (EMPTY_POLLS_PER_CLOCK_LOOK - 1)) === 0) {
      if (((this.native.monotonicMs() - this.lastIdle) & CLOCK_MASK) >= IDLE_CHECK_INTERVAL_MS) this.idle();
    }
    return delivered;
  }

  /** Zeroes what was read (producers and `unblock` rely on unclaimed bytes reading 0), then moves the head. */
  private consume(blockStart: number, bytesRead: number): void {
    this.u8.fill(0, blockStart, blockStart + bytesRead);
    this.head += bytesRead;
    storePosition(this.i32, this.i64, this.headIndex, this.head);
    this.stalledSince = -1;
  }

  /** True when a committed record (or padding) is ready. Also keeps the heartbeat and the unblock timer going. */
  hasData(): boolean {
    if (this.isReady()) return true;
    if (!this.closed) this.idle();
    return this.isReady();
  }

  private isReady(): boolean {
    return Atomics.load(this.i32, L.recordLengthIndex(this.dataOffset + (this.head & this.mask))) > 0;
  }

  /**
   * Every POLLS_PER_CLOCK_CHECK polls and in `wait()`: refresh the heartbeat, and unblock a record that has stayed
   * uncommitted for too long. The stall is timed from the first look that found producers ahead of the head (any
   * progress stops the timer), never from an earlier look at an empty ring: a claim made just now must get its whole
   * timeout. The tail is read here only, not on every empty poll, which would pull its cache line away from the
   * producers that CAS it.
   */
  private idle(): void {
    // Not Date.now(): it returns a new heap number, and this runs every 1024 polls of a consumer that may spin.
    const now = this.native.monotonicMs();
    this.lastIdle = now;
    if (((now - this.lastBeat) & CLOCK_MASK) >= HEARTBEAT_INTERVAL_MS) this.beat(now);
    if (this.stalledSince < 0) {
      if (loadPosition(this.i32, this.tailIndex) > this.head) this.stalledSince = now;
    } else if (((now - this.stalledSince) & CLOCK_MASK) >= this.unblockTimeoutMs) {
      // Not unblockable yet (a claim of zeroes with nothing after it): try again after another timeout.
      this.stalledSince = now;
      if (this.unblock()) this.unblockedCount++;
    }
  }

  /** Agrona's consumer heartbeat: ms since the epoch (Date.now() here is fine: at most every 100 ms). */
  private beat(now: number): void {
    this.lastBeat = now;
    storePosition(this.i32, this.i64, this.heartbeatIndex, Date.now());
  }

  /**
   * Agrona's unblock: if the record at the head is claimed but uncommitted (negative length), or claimed and never
   * even started (0, with a record after it and only zeroes between), it becomes padding. Returns whether it did.
   * `poll` calls it after `unblockTimeoutMs` without progress; call it yourself only when you know the producer died.
   */
  unblock(): boolean {
    if (this.closed) throw closedError('subscription');
    const i32 = this.i32;
    const head = this.head;
    const tail = loadPosition(i32, this.tailIndex);
    if (tail <= head) return false;
    const consumerOffset = head & this.mask;
    const producerOffset = tail & this.mask;
    const base = this.dataOffset;
    const length = Atomics.load(i32, L.recordLengthIndex(base + consumerOffset));
    if (length < 0) {
      // -length is what its producer claimed; within the ring or the record is not one a producer could claim.
      if (-length < L.HEADER_LENGTH || -length > this.capacity - consumerOffset) throw corrupt('record length', length);
      return this.makePadding(consumerOffset, length, -length);
    }
    if (length !== 0) return false; // committed meanwhile
    const limit = producerOffset > consumerOffset ? producerOffset : this.capacity;
    for (let i = consumerOffset + L.RECORD_ALIGNMENT; i < limit; i += L.RECORD_ALIGNMENT) {
      if (Atomics.load(i32, L.int32Index(base + i)) === 0) continue;
      // Something starts at i: pad up to it if everything between is still zero (no claim began there meanwhile).
      for (let j = i - L.RECORD_ALIGNMENT; j >= consumerOffset; j -= L.RECORD_ALIGNMENT) {
        if (Atomics.load(i32, L.int32Index(base + j)) !== 0) return false;
      }
      return this.makePadding(consumerOffset, 0, i - consumerOffset);
    }
    // Zeroes to the end of the ring, all of it claimed (the tail is in the next lap): a producer died right after
    // claiming a record across the end, before writing its padding. Agrona's unblock stops here, and the consumer
    // would wait forever; it is padded to the end like any other claim of zeroes.
    if (limit === this.capacity && tail - head >= this.capacity - consumerOffset) {
      return this.makePadding(consumerOffset, 0, this.capacity - consumerOffset);
    }
    return false;
  }

  /**
   * The record at `offset` becomes padding of `length` bytes, if its length word still reads `expected`: a
   * compare-and-swap, so a producer that commits (itself by compare-and-swap) at that instant wins, and its record
   * is read.
   */
  private makePadding(offset: number, expected: number, length: number): boolean {
    const lengthIndex = L.recordLengthIndex(this.dataOffset + offset);
    if (Atomics.compareExchange(this.i32, lengthIndex, expected, length) !== expected) return false;
    // Only this consumer reads the record: its type may follow the length.
    this.i32[L.recordTypeIndex(this.dataOffset + offset)] = L.RING_BUFFER_PADDING_TYPE;
    return true;
  }

  /** @internal Raises the wake-requested flag, then re-checks: a producer that commits after this sees the flag. */
  protected announceSleep(): boolean {
    Atomics.store(this.i32, WAKE_REQUESTED_INDEX, 1);
    return !this.isReady();
  }

  protected endSleep(): void {
    // Nothing to undo: a stale flag costs one producer one unneeded wake.
  }

  /** Leaves the ring: the consumer lock is released, producers see `consumerAlive` false. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeWaiter();
    Atomics.store(this.i32, SLOT_INDEX + L.int32Index(L.SLOT_STATE_OFFSET), L.SLOT_FREE);
    this.memory.close();
  }
}
