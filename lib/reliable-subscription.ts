/**
 * A consumer of a reliable ring. It owns a slot in the header (position + state) and holds that slot's kernel
 * lock while it lives, so the producer can tell a dead consumer from a slow one. `poll` reads records in place
 * (zero copy) and publishes its position once per batch, not per message.
 */
import {
  durableInUse,
  evictedAtOf,
  findDurableSlot,
  isDurableSlot,
  markAttached,
  markDetached,
  nameSlot,
  withDurableNamesLock,
  type DurableRequest,
  type DurableStatus,
} from './durable-consumer';
import { binding } from './binding';
import { ErrorCode, ShmringError, closedError, corrupt } from './errors';
import { FragmentAssembler } from './fragment-assembler';
import * as L from './layout';
import type { MessageHandler } from './message-handler';
import { loadPosition, storePosition, tryLoadPosition } from './position';
import { WalkStop, walkCommittedRecords } from './record-walk';
import type { RingDescriptor, RingMemory } from './ring-file';
import { SubscriptionBase, type StartFrom } from './subscription-base';

const CHECKPOINT_INDEX = L.int32Index(L.TAIL_CHECKPOINT_OFFSET);
const MAX_JOIN_ATTEMPTS = 10_000;
/**
 * A poll that finds the consumer caught up notes its progress only after this many polls found nothing since the
 * last note: a consumer that catches up after every few messages reads the clock once per that many catch-ups, one
 * that waits for a trickle (millions of empty polls) on the first catch-up after it.
 */
const EMPTY_POLLS_BEFORE_NOTE = 64;
/**
 * And poll's notes come at most this often: reading the wall clock (Date.now) allocates a heap number, and a
 * spinning consumer catches up hundreds of thousands of times a second. The monotonic clock that gates it does not.
 */
const PROGRESS_NOTE_INTERVAL_MS = 100;
/** binding().monotonicMs() wraps at 2^30 ms: intervals are differences masked with this. */
const CLOCK_MASK = 2 ** 30 - 1;

/** @internal How `Subscription.open` joins a reliable ring. */
export interface ReliableJoinOptions {
  durable?: DurableRequest | null;
  autoCommit?: boolean;
}

export class ReliableSubscription extends SubscriptionBase {
  readonly mode = 'reliable' as const;
  /** Set for a durable consumer: its name, timeout and how this open found its slot. */
  readonly durable: DurableStatus | null = null;
  private readonly maxRecordLength: number;
  private slotNumber = -1;
  private positionIndex = 0;
  private stateIndex = 0;
  private progressTimeIndex = 0;
  /** The position at the last progress stamp, and the position at which poll stamps again (see stampProgress). */
  private stampedPosition = -1;
  private nextStampPosition = 0;
  /** monotonicMs() at the last stamp. */
  private stampedAt = 0;
  private readonly native = binding();
  /** Polls that found nothing since the last progress stamp. */
  private emptyPolls = 0;
  private readonly assembler: FragmentAssembler;
  private readonly autoCommit: boolean;
  private stateWord = 0;
  private consumerPosition = 0;
  /** The position last published to the slot: where a durable consumer resumes, what holds the producer back. */
  private committed = 0;
  /** Position of the first fragment of the message being assembled (a published position never splits a message). */
  private messageStart = 0;
  /** The position after the message being delivered (`messagePosition`). A number from the start: stores never box. */
  private deliveringPosition = 0;
  private closed = false;

  /** @internal Use `Subscription.open` / `Subscription.connect`. */
  constructor(memory: RingMemory, d: RingDescriptor, from: StartFrom = 'latest', options: ReliableJoinOptions = {}) {
    super(memory, d);
    this.maxRecordLength = d.maxFramePayload + L.HEADER_LENGTH;
    this.assembler = new FragmentAssembler(d.maxMessageLength);
    this.autoCommit = options.autoCommit ?? true;
    const durable = options.durable ?? null;
    if (durable !== null) {
      this.durable = withDurableNamesLock(memory, () => this.attachDurable(durable, from, d.maxConsumers));
      this.stampProgress(this.consumerPosition);
      return;
    }
    try {
      this.bindSlot(this.takeSlot(d.maxConsumers));
    } catch (err) {
      memory.close();
      throw err;
    }
    try {
      this.consumerPosition = this.join(from);
    } catch (err) {
      this.releaseSlot();
      throw err;
    }
    this.stampProgress(this.consumerPosition);
  }

  /** The consumer slot this subscription owns. */
  get slot(): number {
    return this.slotNumber;
  }

  /** Inside a handler called by `poll`: the position just after the message delivered (what `offer` returned for it). */
  get messagePosition(): number {
    return this.deliveringPosition;
  }

  /** The position last published: what a restarted durable consumer resumes at, and what holds the producer back. */
  get committedPosition(): number {
    return this.committed;
  }

  /** Bytes consumed since the ring was created. */
  get position(): number {
    return this.consumerPosition;
  }

  /** Fragments dropped because the message's first fragment was never seen. */
  get droppedFragments(): number {
    return this.assembler.droppedFragments;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Delivers up to `limit` messages to `handler` and returns how many it delivered (0 when none are ready).
   * Throws ERR_SHMRING_EVICTED if the producer evicted this consumer for stalling, ERR_SHMRING_CORRUPT if a
   * record header is impossible.
   */
  poll(handler: MessageHandler, limit = 10): number {
    if (Atomics.load(this.i32, this.stateIndex) !== this.stateWord) this.throwNotActive();
    // Locals, not fields: after each (opaque) handler call the JIT would have to reload every field it reads.
    const i32 = this.i32;
    const u8 = this.u8;
    const dataOffset = this.dataOffset;
    const mask = this.mask;
    const capacity = this.capacity;
    const maxRecordLength = this.maxRecordLength;
    let position = this.consumerPosition;
    let delivered = 0;
    // Padding and fragments do not deliver one by one; the budget bounds how many such records one poll may pass.
    let budget = limit + 16;
    try {
      while (delivered < limit) {
        const index = position & mask;
        const recordOffset = dataOffset + index;
        const length = Atomics.load(i32, L.recordLengthIndex(recordOffset));
        if (length <= 0) {
          if (length < 0 && length !== L.SLEEPING_MARK) throw corrupt('record length', length);
          // Caught up with the producer (at most once per poll, never per message): a moment to note progress.
          if (++this.emptyPolls >= EMPTY_POLLS_BEFORE_NOTE && position !== this.stampedPosition) {
            this.noteProgress(position);
          }
          break;
        }
        // The length itself is checked (aligning a hostile length near 2^31 overflows to a negative number), and
        // before the position moves: a corrupt record is never skipped as if it had been consumed.
        if (length < L.HEADER_LENGTH || length > capacity - index) throw corrupt('record length', length);
        const typeWord = i32[L.recordTypeIndex(recordOffset)];
        const flags = L.typeWordFlags(typeWord);
        if (flags === L.UNFRAGMENTED && length <= maxRecordLength) {
          // The common case: one whole message. Moved before the handler runs: a handler that throws does not get
          // the same message again.
          position += L.alignedRecordLength(length);
          delivered++;
          this.deliveringPosition = position;
          handler(u8, L.payloadOffset(recordOffset), L.payloadLengthOf(length), L.typeWordTypeId(typeWord));
          continue;
        }
        if (typeWord !== L.PADDING_TYPE && length > maxRecordLength) throw corrupt('record length', length);
        if (typeWord !== L.PADDING_TYPE && (flags & ~L.UNFRAGMENTED) !== 0) throw corrupt('record flags', flags);
        if (--budget < 0) break; // before the position moves: this record is read by the next poll
        if (typeWord !== L.PADDING_TYPE && (flags & L.BEGIN_FLAG) !== 0) this.messageStart = position;
        position += L.alignedRecordLength(length);
        if (typeWord === L.PADDING_TYPE) continue;
        this.deliveringPosition = position;
        if (
          this.assembler.onFragment(
            u8,
            L.payloadOffset(recordOffset),
            L.payloadLengthOf(length),
            L.typeWordTypeId(typeWord),
            flags,
            handler,
          )
        ) {
          delivered++;
        }
      }
    } finally {
      if (position !== this.consumerPosition) {
        this.consumerPosition = position;
        if (this.autoCommit) this.publish(position);
        if (position >= this.nextStampPosition) this.noteProgress(position);
      }
    }
    return delivered;
  }

  /**
   * Publishes `position` (all of a message being assembled stays unpublished: a restart re-reads it from its first
   * fragment, since the assembler's copy dies with the process).
   */
  private publish(position: number): void {
    const committed = this.assembler.isAssembling ? this.messageStart : position;
    if (committed !== this.committed) {
      storePosition(this.i32, this.i64, this.positionIndex, committed);
      this.committed = committed;
    }
  }

  /**
   * With `autoCommit: false`: publishes the position up to which messages are processed, `position` being a
   * `messagePosition` (default: everything delivered). A durable consumer resumes there; the producer may overwrite
   * what lies before it. Positions at or below the committed one are ignored. Call it outside `poll`. Returns the
   * committed position.
   */
  commit(position: number = this.consumerPosition): number {
    if (Atomics.load(this.i32, this.stateIndex) !== this.stateWord) this.throwNotActive();
    if (!Number.isSafeInteger(position) || position > this.consumerPosition) {
      throw new RangeError(
        `position must be an integer at most the delivered ${this.consumerPosition}: position=${position}`,
      );
    }
    if (position <= this.committed) return this.committed;
    if (position !== this.consumerPosition && !this.endsMessage(position)) {
      throw new RangeError(`position is not the end of a delivered message: position=${position}`);
    }
    this.publish(position);
    return this.committed;
  }

  /**
   * Moves the read position back to the committed one: the messages delivered after it are delivered again (for a
   * consumer that could not pass them on, e.g. its network went away). Returns the position.
   */
  rewind(): number {
    if (this.closed) throw closedError('subscription');
    this.consumerPosition = this.committed;
    this.assembler.reset();
    return this.committed;
  }

  /** Whether `position` (committed < position < delivered) ends a message: walks the records from the committed one. */
  private endsMessage(position: number): boolean {
    let at = this.committed;
    let inMessage = false;
    while (at < position) {
      const index = at & this.mask;
      const recordOffset = this.dataOffset + index;
      const length = Atomics.load(this.i32, L.recordLengthIndex(recordOffset));
      if (length < L.HEADER_LENGTH || length > this.capacity - index) return false;
      const typeWord = this.i32[L.recordTypeIndex(recordOffset)];
      if (typeWord !== L.PADDING_TYPE) {
        if ((L.typeWordFlags(typeWord) & L.BEGIN_FLAG) !== 0) inMessage = true;
        if ((L.typeWordFlags(typeWord) & L.END_FLAG) !== 0) inMessage = false;
      }
      at += L.alignedRecordLength(length);
    }
    return at === position && !inMessage;
  }

  /** True when a record is ready at this consumer's position, or when poll would throw ERR_SHMRING_EVICTED. */
  hasData(): boolean {
    // Any word but "empty" (0) or the sleeping mark counts, so that wait() returns and the next poll reports it: a
    // corrupt negative length (ERR_SHMRING_CORRUPT), or, once evicted, whatever payload now lies at our lapped
    // position (ERR_SHMRING_EVICTED). Not after close(), which changes the slot too (waitSync throws CLOSED).
    const word = Atomics.load(this.i32, L.recordLengthIndex(this.dataOffset + (this.consumerPosition & this.mask)));
    return (
      (word !== 0 && word !== L.SLEEPING_MARK) ||
      (!this.closed && Atomics.load(this.i32, this.stateIndex) !== this.stateWord)
    );
  }

  /**
   * @internal Marks the empty slot at this consumer's position SLEEPING; the producer's commit (an exchange) sees
   * the mark and wakes the futex. Returns false when a record arrived first (then do not sleep).
   */
  protected announceSleep(): boolean {
    // Never mark once evicted: a lapped position reading 0 is inside a committed payload, not an empty slot.
    if (Atomics.load(this.i32, this.stateIndex) !== this.stateWord) return false;
    if (this.consumerPosition !== this.stampedPosition) this.stampProgress(this.consumerPosition);
    const index = L.recordLengthIndex(this.dataOffset + (this.consumerPosition & this.mask));
    const previous = Atomics.compareExchange(this.i32, index, 0, L.SLEEPING_MARK);
    return previous === 0 || previous === L.SLEEPING_MARK;
  }

  protected endSleep(): void {
    // The mark stays: the next commit clears it and issues one (possibly unneeded) wake.
  }

  /**
   * Frees the slot and unmaps. Idempotent. A durable consumer keeps its slot and committed position (it detaches);
   * with `autoCommit: false`, what was not committed is delivered again after the next open.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeWaiter();
    if (this.durable === null) {
      this.releaseSlot();
    } else {
      if (Atomics.load(this.i32, this.stateIndex) === this.stateWord) markDetached(this.memory.buffer, this.slot);
      this.memory.unlock(L.CONSUMER_LOCK_BYTE_BASE + this.slot);
    }
    this.memory.close();
  }
  private throwNotActive(): never {
    if (this.closed) throw closedError('subscription');
    const state = L.slotState(Atomics.load(this.i32, this.stateIndex));
    throw new ShmringError(
      ErrorCode.EVICTED,
      state === L.SLOT_EVICTED
        ? 'consumer was evicted by the producer after stalling past its eviction timeout; messages may have been lost'
        : 'consumer slot was taken away (it was declared dead); messages may have been lost',
    );
  }

  private bindSlot(slot: number): void {
    this.slotNumber = slot;
    this.positionIndex = L.slotPositionIndex(slot);
    this.stateIndex = L.slotStateIndex(slot);
    this.progressTimeIndex = L.slotFieldIndex(slot, L.SLOT_PROGRESS_TIME_OFFSET);
  }

  /**
   * Notes in the slot when this consumer last made progress (docs/FORMAT.md): at join, when a poll finds it caught up
   * (see EMPTY_POLLS_BEFORE_NOTE), before it sleeps, and once per capacity / 8 bytes consumed: the clock is read off
   * the per-message path.
   */
  private stampProgress(position: number): void {
    storePosition(this.i32, this.i64, this.progressTimeIndex, Date.now());
    this.stampedAt = this.native.monotonicMs();
    this.stampedPosition = position;
    this.nextStampPosition = position + (this.capacity >>> 3);
    this.emptyPolls = 0;
  }

  /** Poll's progress note: a stamp, unless the last one is under PROGRESS_NOTE_INTERVAL_MS old. */
  private noteProgress(position: number): void {
    if (((this.native.monotonicMs() - this.stampedAt) & CLOCK_MASK) >= PROGRESS_NOTE_INTERVAL_MS) {
      this.stampProgress(position);
      return;
    }
    this.nextStampPosition = position + (this.capacity >>> 3);
    this.emptyPolls = 0;
  }

  /**
   * Takes the first slot whose kernel lock is free and that no durable consumer owns: whoever held it before is dead
   * or gone. (The name is read once we hold the lock: only a lock holder names a slot.)
   */
  private takeSlot(maxConsumers: number): number {
    let durableSlots = 0;
    for (let slot = 0; slot < maxConsumers; slot++) {
      if (!this.memory.tryLock(L.CONSUMER_LOCK_BYTE_BASE + slot, true)) continue;
      if (!isDurableSlot(this.i32, slot)) return slot;
      this.memory.unlock(L.CONSUMER_LOCK_BYTE_BASE + slot);
      durableSlots++;
    }
    throw new ShmringError(
      ErrorCode.NO_CONSUMER_SLOT,
      `all consumer slots are taken by live consumers: maxConsumers=${maxConsumers}` +
        (durableSlots === 0
          ? ''
          : ` (${durableSlots} of them kept by durable consumers that are away: Subscription.removeDurable frees one)`),
    );
  }

  /**
   * Under the durable-names lock: resumes the slot named `request.name` at its committed position, or reports its
   * eviction (or rejoins at `from` with onEvicted 'restart'), or names a new slot after joining at `from`.
   */
  private attachDurable(request: DurableRequest, from: StartFrom, maxConsumers: number): DurableStatus {
    const buffer = this.memory.buffer;
    const status = (
      opened: DurableStatus['opened'],
      evictedAt: number | null = null,
      evictedPosition = null as number | null,
    ) => ({ name: request.name, timeoutMs: request.timeoutMs, opened, evictedAt, evictedPosition });
    const found = findDurableSlot(buffer, maxConsumers, request.bytes);
    if (found < 0) {
      this.bindSlot(this.takeSlot(maxConsumers));
      try {
        this.consumerPosition = this.join(from);
      } catch (err) {
        this.releaseSlot();
        throw err;
      }
      markAttached(buffer, this.slotNumber, request.timeoutMs);
      nameSlot(buffer, this.slotNumber, request);
      return status('created');
    }
    const lockByte = L.CONSUMER_LOCK_BYTE_BASE + found;
    if (!this.memory.tryLock(lockByte, true)) throw durableInUse(request.name, found);
    this.bindSlot(found);
    try {
      const i32 = this.i32;
      const state = Atomics.load(i32, this.stateIndex);
      const next = L.nextSlotWord(state, L.SLOT_ACTIVE);
      // With its lock held, only the producer changes the word (evicting it): winning the swap keeps our place.
      if (
        L.slotState(state) === L.SLOT_ACTIVE &&
        Atomics.compareExchange(i32, this.stateIndex, state, next) === state
      ) {
        this.stateWord = next;
        this.consumerPosition = this.committed = this.resumePosition();
        Atomics.store(i32, L.slotPidIndex(found), process.pid);
        markAttached(buffer, found, request.timeoutMs);
        return status('resumed');
      }
      if (L.slotState(Atomics.load(i32, this.stateIndex)) !== L.SLOT_EVICTED) {
        this.consumerPosition = this.join(from); // free: a removal or a naming that did not finish
        markAttached(buffer, found, request.timeoutMs);
        return status('created');
      }
      const evictedAt = evictedAtOf(buffer, found) || null;
      const lost = tryLoadPosition(i32, this.positionIndex);
      const evictedPosition = lost === -Infinity ? null : lost;
      if (request.onEvicted === 'throw') {
        throw new ShmringError(
          ErrorCode.EVICTED,
          `durable consumer ${JSON.stringify(request.name)} was evicted by the producer` +
            `${evictedAt === null ? '' : ` at ${new Date(evictedAt).toISOString()}`} (away longer than its ` +
            `durableTimeoutMs, or stalled past the producer's evictionTimeoutMs): messages after position ` +
            `${evictedPosition ?? '?'} were lost to it; open it with onEvicted: 'restart' to rejoin at its from ` +
            'position, or remove it with Subscription.removeDurable',
        );
      }
      this.consumerPosition = this.join(from);
      markAttached(buffer, found, request.timeoutMs);
      return status('restarted', evictedAt, evictedPosition);
    } catch (err) {
      this.memory.unlock(lockByte);
      throw err;
    }
  }

  /** A resumed durable consumer's committed position, checked against what the producer can have done since. */
  private resumePosition(): number {
    const position = loadPosition(this.i32, this.positionIndex);
    const checkpoint = loadPosition(this.i32, CHECKPOINT_INDEX);
    // The slot held the producer back: its tail, and so its checkpoint, is at most a ring past the position.
    if (
      position % L.RECORD_ALIGNMENT !== 0 ||
      position < checkpoint - this.capacity ||
      position > checkpoint + this.capacity
    ) {
      throw corrupt('durable consumer position', position);
    }
    return position;
  }

  /**
   * Registers at the producer's tail checkpoint and re-reads it until it is stable. The producer publishes the
   * checkpoint before it reads consumer positions, so once a re-read matches, every limit the producer uses is at
   * most checkpoint + capacity: nothing from the checkpoint on can be overwritten before we read it.
   */
  private join(from: StartFrom): number {
    const i32 = this.i32;
    let checkpoint = loadPosition(i32, CHECKPOINT_INDEX);
    storePosition(i32, this.i64, this.positionIndex, checkpoint);
    Atomics.store(i32, L.slotPidIndex(this.slot), process.pid);
    for (let attempt = 0; ; attempt++) {
      // Only a producer evicting or reaping changes the word of a slot whose lock we hold: a word that never holds
      // still is another process writing garbage.
      const state = Atomics.load(i32, this.stateIndex);
      const next = L.nextSlotWord(state, L.SLOT_ACTIVE);
      if (Atomics.compareExchange(i32, this.stateIndex, state, next) === state) {
        this.stateWord = next;
        break;
      }
      if (attempt >= MAX_JOIN_ATTEMPTS) throw corrupt('slot state (never stable)', state);
    }
    for (let attempt = 0; ; attempt++) {
      const again = loadPosition(i32, CHECKPOINT_INDEX);
      if (again === checkpoint) break;
      if (again < checkpoint || attempt >= MAX_JOIN_ATTEMPTS) throw corrupt('tail checkpoint', again);
      checkpoint = again;
      storePosition(i32, this.i64, this.positionIndex, checkpoint);
    }
    this.committed = checkpoint;
    if (from === 'earliest') return checkpoint;
    // Publish where we start: the slot still says `checkpoint`, up to a ring behind the tail we walked to. A producer
    // already at its limit would wait for us to move from there, and poll (which publishes only a position it moved)
    // would wait at the tail for it: both stall until the eviction timeout. Records from the checkpoint to the tail
    // could not be overwritten meanwhile (the slot held the producer at checkpoint + capacity).
    const tail = this.scanToTail(checkpoint);
    storePosition(i32, this.i64, this.positionIndex, tail);
    this.committed = tail;
    return tail;
  }

  /** Walks committed records from `start` to the producer's tail; a walk that cannot end there is corruption. */
  private scanToTail(start: number): number {
    const walk = walkCommittedRecords(this.i32, this.dataOffset, this.capacity, start);
    if (walk.stop === WalkStop.IMPOSSIBLE_LENGTH) throw corrupt('record length', walk.length);
    if (walk.stop === WalkStop.RING_WALKED) throw corrupt('records without end from checkpoint', start);
    return walk.position;
  }

  private releaseSlot(): void {
    const i32 = this.i32;
    const state = Atomics.load(i32, this.stateIndex);
    if (state === this.stateWord) {
      Atomics.compareExchange(i32, this.stateIndex, state, L.nextSlotWord(state, L.SLOT_FREE));
    }
    this.memory.unlock(L.CONSUMER_LOCK_BYTE_BASE + this.slot);
  }
}
