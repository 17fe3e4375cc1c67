/**
 * A consumer of a reliable ring. It owns a slot in the header (position + state) and holds that slot's kernel
 * lock while it lives, so the producer can tell a dead consumer from a slow one. `poll` reads records in place
 * (zero copy) and publishes its position once per batch, not per message.
 */
import { ErrorCode, ShmringError, closedError, corrupt } from './errors';
import { FragmentAssembler } from './fragment-assembler';
import * as L from './layout';
import type { MessageHandler } from './message-handler';
import { loadPosition, storePosition } from './position';
import { WalkStop, walkCommittedRecords } from './record-walk';
import type { RingDescriptor, RingMemory } from './ring-file';
import { SubscriptionBase, type StartFrom } from './subscription-base';

const CHECKPOINT_INDEX = L.int32Index(L.TAIL_CHECKPOINT_OFFSET);
const MAX_JOIN_ATTEMPTS = 10_000;

export class ReliableSubscription extends SubscriptionBase {
  readonly mode = 'reliable' as const;
  readonly capacity: number;
  readonly memory: RingMemory;
  /** The consumer slot this subscription owns. */
  readonly slot: number;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly u8: Uint8Array;
  private readonly dataOffset: number;
  private readonly mask: number;
  private readonly maxRecordLength: number;
  private readonly positionIndex: number;
  private readonly stateIndex: number;
  private readonly assembler: FragmentAssembler;
  private stateWord = 0;
  private consumerPosition = 0;
  private closed = false;

  /** @internal Use `Subscription.open` / `Subscription.connect`. */
  constructor(memory: RingMemory, d: RingDescriptor, from: StartFrom = 'latest') {
    super();
    this.memory = memory;
    this.i32 = new Int32Array(memory.buffer);
    this.i64 = new BigInt64Array(memory.buffer);
    // Payload bytes go through the plain-ArrayBuffer alias (memcpy speed); atomics stay on the SharedArrayBuffer.
    this.u8 = new Uint8Array(memory.alias ?? memory.buffer);
    this.dataOffset = d.dataOffset;
    this.capacity = d.capacity;
    this.mask = d.capacity - 1;
    this.maxRecordLength = d.maxFramePayload + L.HEADER_LENGTH;
    this.assembler = new FragmentAssembler(d.maxMessageLength);
    this.slot = this.takeSlot(d.maxConsumers);
    this.positionIndex = L.slotPositionIndex(this.slot);
    this.stateIndex = L.slotStateIndex(this.slot);
    try {
      this.consumerPosition = this.join(from);
    } catch (err) {
      this.releaseSlot();
      throw err;
    }
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
          handler(u8, L.payloadOffset(recordOffset), L.payloadLengthOf(length), L.typeWordTypeId(typeWord));
          continue;
        }
        if (typeWord !== L.PADDING_TYPE && length > maxRecordLength) throw corrupt('record length', length);
        if (typeWord !== L.PADDING_TYPE && (flags & ~L.UNFRAGMENTED) !== 0) throw corrupt('record flags', flags);
        if (--budget < 0) break; // before the position moves: this record is read by the next poll
        position += L.alignedRecordLength(length);
        if (typeWord === L.PADDING_TYPE) continue;
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
        storePosition(i32, this.i64, this.positionIndex, position);
      }
    }
    return delivered;
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
    const index = L.recordLengthIndex(this.dataOffset + (this.consumerPosition & this.mask));
    const previous = Atomics.compareExchange(this.i32, index, 0, L.SLEEPING_MARK);
    return previous === 0 || previous === L.SLEEPING_MARK;
  }

  protected endSleep(): void {
    // The mark stays: the next commit clears it and issues one (possibly unneeded) wake.
  }

  /** Frees the slot and unmaps. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeWaiter();
    this.releaseSlot();
    this.memory.close();
  }
  /** `using sub = Subscription.open(...)` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
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

  /** Takes the first slot whose kernel lock is free: whoever held it before is dead or gone. */
  private takeSlot(maxConsumers: number): number {
    for (let slot = 0; slot < maxConsumers; slot++) {
      if (this.memory.tryLock(L.CONSUMER_LOCK_BYTE_BASE + slot, true)) return slot;
    }
    this.memory.close();
    throw new ShmringError(
      ErrorCode.NO_CONSUMER_SLOT,
      `all consumer slots are taken by live consumers: maxConsumers=${maxConsumers}`,
    );
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
    if (from === 'earliest') return checkpoint;
    // Publish where we start: the slot still says `checkpoint`, up to a ring behind the tail we walked to. A producer
    // already at its limit would wait for us to move from there, and poll (which publishes only a position it moved)
    // would wait at the tail for it: both stall until the eviction timeout. Records from the checkpoint to the tail
    // could not be overwritten meanwhile (the slot held the producer at checkpoint + capacity).
    const tail = this.scanToTail(checkpoint);
    storePosition(i32, this.i64, this.positionIndex, tail);
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
