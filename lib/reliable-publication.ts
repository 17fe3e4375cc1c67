/**
 * The producer of a reliable (back-pressured) ring. Per message: reserve space under a cached limit, plain
 * stores for payload and type word, then ONE atomic store (an exchange) of the record length: the commit.
 * Consumer positions are re-read only when the cached limit is reached (Aeron's publication limit).
 *
 * Invariant the consumers rely on: the slot at the tail always holds length 0 (or a sleeping consumer's mark)
 * until its record is committed, because the producer zeroes the ring ahead of its tail in bulk (cleanAhead).
 */
import { Claim } from './claim';
import { expireAwayDurable, isDurableSlot, markEvicted } from './durable-consumer';
import { ErrorCode, ShmringError, closedError } from './errors';
import * as L from './layout';
import { OfferResult } from './offer-result';
import { loadPosition, storePosition, tryLoadPosition } from './position';
import { PublicationBase } from './publication-base';
import { walkCommittedRecords } from './record-walk';
import type { RingDescriptor, RingMemory } from './ring-file';

const CHECKPOINT_INDEX = L.int32Index(L.TAIL_CHECKPOINT_OFFSET);
const BACK_PRESSURE_EVENTS_INDEX = L.int32Index(L.BACK_PRESSURE_EVENTS_OFFSET);
const EVICTED_CONSUMERS_INDEX = L.int32Index(L.EVICTED_CONSUMERS_OFFSET);
const REAPED_CONSUMERS_INDEX = L.int32Index(L.REAPED_CONSUMERS_OFFSET);
const UNFRAGMENTED_WORD = L.typeWord(0, L.UNFRAGMENTED);
/** Bytes zeroed ahead of the tail at a time (at most capacity / 8). */
const CLEAN_CHUNK_LENGTH = 64 * 1024;
/** A back-pressured producer looks at the clock once per this many failed limit refreshes (a power of two). */
const LIVENESS_CHECK_STRIDE = 64;
/** How often (ms) a back-pressured producer may ask the kernel whether the consumers holding it back live. */
const LIVENESS_CHECK_INTERVAL_MS = 1;

export interface ProducerOptions {
  /** A live consumer that blocks the producer without progress for this long is evicted. Default 10 000 ms. */
  evictionTimeoutMs?: number;
}

/** Counters this producer keeps about the consumers it had to deal with (the ring's own counts: `ringInfo`). */
export interface ProducerStats {
  /** Dead consumers (their kernel lock was gone) whose slots were freed. */
  reapedConsumers: number;
  /** Live consumers evicted for stalling past `evictionTimeoutMs`. */
  evictedConsumers: number;
}

export class ReliablePublication extends PublicationBase {
  readonly mode = 'reliable' as const;
  readonly maxFramePayload: number;
  readonly stats: ProducerStats = { reapedConsumers: 0, evictedConsumers: 0 };
  private readonly maxConsumers: number;
  private readonly evictionTimeoutMs: number;
  private readonly claim: Claim;
  private readonly blockedSince: Float64Array;
  private readonly blockedAt: Float64Array;
  private limitPosition = 0;
  /** See updateFastEnd: `offer` and `tryClaim` take the fast path while the record ends at or before this. */
  private fastEnd = -1;
  private fastEndBeforeClaim = -1;
  /** Positions from the tail slot (exclusive) up to this one read 0: see cleanAhead. */
  private cleanPosition = 0;
  private readonly cleanChunk: number;
  private checkpoint = -1;
  private nextLivenessCheck = 0;
  private backPressuredRefreshes = 0;
  private anyBlocked = false;
  private batching = false;
  private pendingOffset = -1;
  private pendingLength = 0;
  /** Position of an open batch's first record: the limit and the checkpoint must not pass it (see refreshLimit). */
  private batchStart = 0;
  /** The ring's counters (docs/FORMAT.md, "Counters line"), kept here and stored to the header when they move. */
  private backPressureEvents: number;
  private evictedConsumers: number;
  private reapedConsumers: number;

  /** @internal Use `Publication.create` / `Publication.attach`. The caller holds the producer lock. */
  constructor(memory: RingMemory, d: RingDescriptor, options: ProducerOptions = {}) {
    super(memory, d);
    this.maxConsumers = d.maxConsumers;
    this.maxFramePayload = d.maxFramePayload;
    this.evictionTimeoutMs = options.evictionTimeoutMs ?? 10_000;
    this.blockedSince = new Float64Array(d.maxConsumers);
    this.blockedAt = new Float64Array(d.maxConsumers);
    // The claim reaches commitClaim/abortClaim through this owner, made once: they stay off the public API.
    this.claim = new Claim(this.u8, {
      commit: (recordOffset, payloadLength) => this.commitClaim(recordOffset, payloadLength),
      abort: (recordOffset, payloadLength) => this.abortClaim(recordOffset, payloadLength),
    });
    this.cleanChunk = Math.min(d.capacity >>> 3, CLEAN_CHUNK_LENGTH);
    this.backPressureEvents = this.counterAt(BACK_PRESSURE_EVENTS_INDEX);
    this.evictedConsumers = this.counterAt(EVICTED_CONSUMERS_INDEX);
    this.reapedConsumers = this.counterAt(REAPED_CONSUMERS_INDEX);
    // Blocked-since times are this producer's to write: a dead producer's would say it blocks still.
    for (let slot = 0; slot < d.maxConsumers; slot++) this.markBlocked(slot, 0);
    const tail = this.recoverTail();
    // Past the tail slot lie stale laps or a dead producer's uncommitted records: the first reserve cleans from
    // right after it (the tail slot itself reads 0 or a sleeping mark and is never touched).
    this.cleanPosition = tail + L.HEADER_LENGTH;
    this.start(tail);
  }

  /**
   * Copies `message` into the ring as one message. Returns the new position (>= 0), or a negative `OfferResult`
   * (BACK_PRESSURED when a live consumer has not read far enough). Messages longer than `maxFramePayload` are
   * fragmented; all fragments become visible at once.
   */
  offer(message: Uint8Array, typeId = 1): number {
    const length = message.length;
    const tail = this.tailPosition;
    const next = tail + L.alignedRecordLength(L.recordLengthFor(length));
    // One compare covers the limit, the cleaned region, the wrap, a pending claim and close (see fastEnd).
    // `typeId >>> 0 !== typeId` sends non-integers and values >= 2^32 (which `>>> 0` would wrap) to the checks.
    if (next > this.fastEnd || length > this.maxFramePayload || typeId >>> 0 !== typeId || typeId > L.MAX_TYPE_ID) {
      return this.offerSlow(message, typeId);
    }
    const recordOffset = this.dataOffset + (tail & this.mask);
    this.u8.set(message, L.payloadOffset(recordOffset));
    this.i32[L.recordTypeIndex(recordOffset)] = typeId | UNFRAGMENTED_WORD;
    this.tailPosition = next;
    this.commit(recordOffset, L.recordLengthFor(length));
    return next;
  }

  /**
   * Claims `length` bytes for the caller to write in place (zero copy). Returns the publication's reused `Claim`,
   * or null when back-pressured. Only one claim may be pending; `offer` is refused while it is. The cheapest way
   * to publish: write fields straight into `claim.buffer` (or a typed-array view of `claim.buffer.buffer`).
   */
  tryClaim(length: number, typeId = 1): Claim | null {
    const tail = this.tailPosition;
    const next = tail + L.alignedRecordLength(L.recordLengthFor(length));
    if (
      next > this.fastEnd ||
      length >>> 0 !== length ||
      length > this.maxFramePayload ||
      typeId >>> 0 !== typeId ||
      typeId > L.MAX_TYPE_ID
    ) {
      return this.tryClaimSlow(length, typeId);
    }
    const recordOffset = this.dataOffset + (tail & this.mask);
    this.i32[L.recordTypeIndex(recordOffset)] = typeId | UNFRAGMENTED_WORD;
    this.tailPosition = next;
    return this.armClaim(recordOffset, length);
  }

  private tryClaimSlow(length: number, typeId: number): Claim | null {
    if (this.claim.isPending) throw claimPending();
    checkLength(length, this.maxFramePayload, 'maxFramePayload');
    checkTypeId(typeId);
    const recordOffset = this.reserve(L.recordLengthFor(length));
    if (recordOffset === OfferResult.CLOSED) throw closedError('publication');
    if (recordOffset < 0) return null;
    this.i32[L.recordTypeIndex(recordOffset)] = typeId | UNFRAGMENTED_WORD;
    return this.armClaim(recordOffset, length);
  }

  /** While a claim is pending every offer and claim takes the slow path, which refuses them. */
  private armClaim(recordOffset: number, length: number): Claim {
    this.fastEndBeforeClaim = this.fastEnd;
    this.fastEnd = -1;
    return this.claim.arm(recordOffset, L.payloadOffset(recordOffset), length);
  }

  /** Claim#commit. */
  private commitClaim(recordOffset: number, payloadLength: number): void {
    this.fastEnd = this.fastEndBeforeClaim;
    this.commit(recordOffset, L.recordLengthFor(payloadLength));
  }

  /** Claim#abort: the claimed record becomes padding, which consumers skip. */
  private abortClaim(recordOffset: number, payloadLength: number): void {
    this.fastEnd = this.fastEndBeforeClaim;
    this.i32[L.recordTypeIndex(recordOffset)] = L.PADDING_TYPE;
    this.commit(recordOffset, L.recordLengthFor(payloadLength));
  }

  /**
   * Opens a batch: records offered or claimed until `commitBatch()` stay invisible, then all become visible with
   * one atomic store. Batches amortise the per-message fence (see docs/benchmark.md).
   */
  beginBatch(): void {
    if (this.batching) throw new ShmringError(ErrorCode.INVALID_STATE, 'a batch is already open');
    if (this.closed) throw closedError('publication');
    this.batching = true;
    this.batchStart = this.tailPosition;
  }

  /** Publishes every record written since `beginBatch()`. Returns the new position. */
  commitBatch(): number {
    if (!this.batching) throw new ShmringError(ErrorCode.INVALID_STATE, 'no batch is open');
    if (this.claim.isPending) throw claimPending();
    this.batching = false;
    const offset = this.pendingOffset;
    if (offset >= 0) {
      this.pendingOffset = -1;
      this.commit(offset, this.pendingLength);
    }
    return this.tailPosition;
  }

  /**
   * Writes several buffers as ONE message (no concatenation needed by the caller), fragmenting when longer than
   * `maxFramePayload`. Returns the new position or a negative `OfferResult`.
   */
  offerParts(parts: readonly Uint8Array[], typeId = 1): number {
    let total = 0;
    for (let i = 0; i < parts.length; i++) total += parts[i].length;
    return this.writeMessage(parts, total, typeId);
  }

  /** Messages longer than one frame, and every argument error: writeMessage checks them. */
  private offerSlow(message: Uint8Array, typeId: number): number {
    singlePart[0] = message;
    try {
      return this.writeMessage(singlePart, message.length, typeId);
    } finally {
      singlePart[0] = EMPTY;
    }
  }

  /** Writes a message of `total` bytes gathered from `parts` as one or more frames, committed together. */
  private writeMessage(parts: readonly Uint8Array[], total: number, typeId: number): number {
    if (this.claim.isPending) throw claimPending();
    checkTypeId(typeId);
    checkLength(total, this.maxMessageLength, 'maxMessageLength');
    if (this.closed) return OfferResult.CLOSED;
    const framePayload = this.maxFramePayload;
    const frames = total === 0 ? 1 : Math.ceil(total / framePayload);
    // Space needed, padding at the wrap included, so that either every frame is written or none is.
    let index = this.tailPosition & this.mask;
    let needed = 0;
    for (let f = 0; f < frames; f++) {
      const payload = f === frames - 1 ? total - f * framePayload : framePayload;
      const aligned = L.alignedRecordLength(L.recordLengthFor(payload));
      if (aligned > this.capacity - index) {
        needed += this.capacity - index;
        index = 0;
      }
      needed += aligned;
      index = (index + aligned) & this.mask;
    }
    const required = this.tailPosition + needed + L.HEADER_LENGTH;
    if (required > this.limitPosition && !this.refreshLimit(required)) return this.backPressured();

    const openedBatch = !this.batching;
    if (openedBatch) this.batchStart = this.tailPosition;
    this.batching = true;
    let part = 0;
    let partOffset = 0;
    for (let f = 0; f < frames; f++) {
      const payload = f === frames - 1 ? total - f * framePayload : framePayload;
      const recordOffset = this.reserve(L.recordLengthFor(payload));
      let flags = 0;
      if (f === 0) flags |= L.BEGIN_FLAG;
      if (f === frames - 1) flags |= L.END_FLAG;
      this.i32[L.recordTypeIndex(recordOffset)] = L.typeWord(typeId, flags);
      let written = 0;
      while (written < payload) {
        const source = parts[part];
        const n = Math.min(source.length - partOffset, payload - written);
        if (n > 0) {
          const chunk = partOffset === 0 && n === source.length ? source : source.subarray(partOffset, partOffset + n);
          this.u8.set(chunk, L.payloadOffset(recordOffset) + written);
        }
        written += n;
        partOffset += n;
        if (partOffset === source.length) {
          part++;
          partOffset = 0;
        }
      }
      this.commit(recordOffset, L.recordLengthFor(payload));
    }
    if (openedBatch) this.commitBatch();
    return this.tailPosition;
  }

  /**
   * Reserves a record of `recordLength` bytes (header included) at the tail, inserting padding when it would cross
   * the end of the ring, and makes sure the slot after it reads 0 (cleanAhead zeroes ahead of the tail in bulk).
   * Returns its byte offset in the mapping, or a negative OfferResult.
   */
  private reserve(recordLength: number): number {
    const aligned = L.alignedRecordLength(recordLength);
    const tail = this.tailPosition;
    const index = tail & this.mask;
    const toEnd = this.capacity - index;
    const padding = aligned > toEnd ? toEnd : 0;
    const required = tail + padding + aligned + L.HEADER_LENGTH;
    if (required > this.limitPosition && !this.refreshLimit(required)) {
      return this.closed ? OfferResult.CLOSED : this.backPressured();
    }
    // The slot after the record (and slot 0 after padding) must read 0 before the record is committed; the
    // region ahead of the tail is zeroed in bulk, so this is one compare per message, not a store.
    if (required > this.cleanPosition) this.cleanAhead(required);
    if (padding !== 0) return this.reserveAfterPadding(index, padding, aligned);
    this.tailPosition = tail + aligned;
    this.updateFastEnd();
    return this.dataOffset + index;
  }

  /** An offer or claim refused: counted in the header (the fast path never gets here). */
  private backPressured(): number {
    storePosition(this.i32, this.i64, BACK_PRESSURE_EVENTS_INDEX, ++this.backPressureEvents);
    return OfferResult.BACK_PRESSURED;
  }

  /**
   * The highest position a record may end at on the fast path: the slot after it must be inside the limit and the
   * cleaned region, and it must not cross the end of the ring (that needs padding). Recomputed whenever the limit,
   * the cleaned region or the lap changes, all of which happen on the slow path; -1 while closed.
   */
  private updateFastEnd(): void {
    const tail = this.tailPosition;
    const lapEnd = tail - (tail & this.mask) + this.capacity;
    const end = Math.min(this.limitPosition, this.cleanPosition) - L.HEADER_LENGTH;
    this.fastEnd = this.closed ? -1 : Math.min(end, lapEnd);
  }

  private reserveAfterPadding(index: number, padding: number, aligned: number): number {
    const paddingOffset = this.dataOffset + index;
    this.i32[L.recordTypeIndex(paddingOffset)] = L.PADDING_TYPE;
    this.commit(paddingOffset, padding);
    this.tailPosition += padding + aligned;
    this.updateFastEnd();
    return this.dataOffset;
  }

  /**
   * Zeroes the ring from `cleanPosition` up to at least `required` (a chunk ahead when the limit allows), so that
   * every slot a consumer can reach next reads 0 until its record commits (Aeron cleans ahead of its tail the same
   * way). Never at or before the tail slot: a sleeping consumer's mark may be there. Never past the limit: those
   * bytes may still be unread.
   */
  private cleanAhead(required: number): void {
    const from = this.cleanPosition;
    const to = Math.min(this.limitPosition, Math.max(required, this.tailPosition + this.cleanChunk));
    const start = from & this.mask;
    const length = to - from;
    const first = Math.min(length, this.capacity - start);
    this.u8.fill(0, this.dataOffset + start, this.dataOffset + start + first);
    if (first < length) this.u8.fill(0, this.dataOffset, this.dataOffset + length - first);
    this.cleanPosition = to;
  }

  /** Makes a record visible: the single atomic store per message (deferred while a batch is open). */
  private commit(recordOffset: number, recordLength: number): void {
    if (this.batching) {
      if (this.pendingOffset < 0) {
        this.pendingOffset = recordOffset;
        this.pendingLength = recordLength;
      } else {
        this.i32[L.recordLengthIndex(recordOffset)] = recordLength;
      }
      return;
    }
    // exchange costs what a store costs (both are a locked xchg) and tells us whether a consumer marked this slot
    // SLEEPING before going to sleep on the futex: no extra atomic per message to find sleepers.
    if (Atomics.exchange(this.i32, L.recordLengthIndex(recordOffset), recordLength) === L.SLEEPING_MARK) {
      this.wakeConsumers();
    }
  }

  /**
   * Re-reads consumer positions. Publishes the tail checkpoint FIRST: a joining consumer registers at a
   * checkpoint and re-checks it, which is only race-free with this order (see docs/FORMAT.md, "Joining").
   */
  private refreshLimit(required: number): boolean {
    if (this.closed) return false;
    const i32 = this.i32;
    // While a batch is open its records after the first are already written but not yet visible. Checkpoint and
    // limit count from the batch's first record: a consumer joining now must start there (not inside the batch,
    // where it would see records before commitBatch), and the batch must not wrap onto its own first record.
    const tail = this.batching ? this.batchStart : this.tailPosition;
    if (tail !== this.checkpoint) {
      storePosition(i32, this.i64, CHECKPOINT_INDEX, tail);
      this.checkpoint = tail;
    }
    const floor = tail - this.capacity;
    let min = tail;
    for (let slot = 0; slot < this.maxConsumers; slot++) {
      if (L.slotState(Atomics.load(i32, L.slotStateIndex(slot))) !== L.SLOT_ACTIVE) continue;
      // Never trust a consumer's word beyond what is possible: it cannot be ahead of us or more than a ring behind.
      // A word that is no position at all (-Infinity) holds us back as far as a slot can, never throws: whether its
      // owner lives decides (checkBlockingConsumers reaps a dead one, evicts a live one after the timeout).
      let position = tryLoadPosition(i32, L.slotPositionIndex(slot));
      if (position > tail) position = tail;
      if (position < floor) position = floor;
      if (position < min) min = position;
    }
    this.limitPosition = min + this.capacity;
    this.updateFastEnd();
    if (required <= this.limitPosition) {
      if (this.anyBlocked) this.clearBlocked();
      return true;
    }
    return this.checkBlockingConsumers(required);
  }

  /** Back-pressured: frees the slots of dead consumers and evicts stalled ones that hold the producer back. */
  private checkBlockingConsumers(required: number): boolean {
    // A spinning back-pressured producer comes here millions of times a second: read the clock (which allocates a
    // heap number) only every LIVENESS_CHECK_STRIDE-th time.
    if ((++this.backPressuredRefreshes & (LIVENESS_CHECK_STRIDE - 1)) !== 0) return false;
    const now = Date.now();
    if (now < this.nextLivenessCheck) return false;
    this.nextLivenessCheck = now + LIVENESS_CHECK_INTERVAL_MS;
    const i32 = this.i32;
    const blockingBelow = required - this.capacity;
    let changed = false;
    for (let slot = 0; slot < this.maxConsumers; slot++) {
      const stateIndex = L.slotStateIndex(slot);
      const state = Atomics.load(i32, stateIndex);
      if (L.slotState(state) !== L.SLOT_ACTIVE) continue;
      // -Infinity for garbage: it blocks, so the lock below is asked before anything the slot says is trusted, and a
      // dead owner's slot is reaped whatever its words are.
      const position = tryLoadPosition(i32, L.slotPositionIndex(slot));
      if (position >= blockingBelow) continue;
      if (!this.memory.isLocked(L.CONSUMER_LOCK_BYTE_BASE + slot)) {
        // A durable consumer that went away keeps its place until its own timeout: never reaped, evicted then.
        if (isDurableSlot(i32, slot)) {
          this.blockedSince[slot] = 0;
          if (expireAwayDurable(this.memory.buffer, slot, state, now)) {
            this.stats.evictedConsumers++;
            changed = true;
          }
          continue;
        }
        if (Atomics.compareExchange(i32, stateIndex, state, L.nextSlotWord(state, L.SLOT_FREE)) === state) {
          this.stats.reapedConsumers++;
          storePosition(i32, this.i64, REAPED_CONSUMERS_INDEX, ++this.reapedConsumers);
          this.markBlocked(slot, 0);
          changed = true;
        }
        continue;
      }
      if (this.blockedSince[slot] === 0 || this.blockedAt[slot] !== position) {
        this.markBlocked(slot, now);
        this.blockedAt[slot] = position;
        this.anyBlocked = true;
      } else if (now - this.blockedSince[slot] >= this.evictionTimeoutMs) {
        if (isDurableSlot(i32, slot)) markEvicted(this.memory.buffer, slot, now);
        if (Atomics.compareExchange(i32, stateIndex, state, L.nextSlotWord(state, L.SLOT_EVICTED)) === state) {
          this.stats.evictedConsumers++;
          storePosition(i32, this.i64, EVICTED_CONSUMERS_INDEX, ++this.evictedConsumers);
          this.markBlocked(slot, 0);
          changed = true;
        }
      }
    }
    return changed && this.refreshLimit(required);
  }

  /** No consumer holds the producer back any more (called once per such change, not per refresh). */
  private clearBlocked(): void {
    for (let slot = 0; slot < this.maxConsumers; slot++) {
      if (this.blockedSince[slot] !== 0) this.markBlocked(slot, 0);
    }
    this.anyBlocked = false;
  }

  /** Since when (ms since the epoch) `slot` holds this producer back without moving, 0 for not: here and in its slot. */
  private markBlocked(slot: number, since: number): void {
    this.blockedSince[slot] = since;
    storePosition(this.i32, this.i64, L.slotFieldIndex(slot, L.SLOT_BLOCKED_SINCE_OFFSET), since);
  }

  /** A counter of the header as a previous producer left it; a garbage word starts it again from 0. */
  private counterAt(index: number): number {
    return Math.max(0, tryLoadPosition(this.i32, index));
  }

  /**
   * Where a (new) producer continues: from the tail checkpoint, walk the committed records to the first slot that
   * reads 0. A record a dead producer claimed but never committed is never visible and is simply overwritten.
   */
  private recoverTail(): number {
    // Any stop will do: at the tail, at an impossible length (nothing committed lies past it that a consumer could
    // reach) or after a whole ring, the walk's end is where writing continues.
    return walkCommittedRecords(this.i32, this.dataOffset, this.capacity, loadPosition(this.i32, CHECKPOINT_INDEX))
      .position;
  }

  /** close(): publishes the final checkpoint (the next producer continues from there). */
  protected flushBeforeClose(): void {
    // A claim left pending would stay a hole (length 0) that consumers wait at forever, and the checkpoint stored
    // below is past it, so the next producer would never fill it: turn it into padding that consumers skip.
    if (this.claim.isPending) this.claim.abort();
    if (this.batching && this.pendingOffset >= 0) this.commitBatch();
    if (this.anyBlocked) this.clearBlocked();
    this.limitPosition = -1; // every later reserve goes to refreshLimit, which refuses
    this.fastEnd = -1;
    storePosition(this.i32, this.i64, CHECKPOINT_INDEX, this.tailPosition);
  }
}

const EMPTY = new Uint8Array(0);
const singlePart: Uint8Array[] = [EMPTY];

function claimPending(): ShmringError {
  return new ShmringError(ErrorCode.INVALID_STATE, 'a claim is pending: commit() or abort() it first');
}

function checkTypeId(typeId: number): void {
  if (!Number.isInteger(typeId) || typeId < 0 || typeId > L.MAX_TYPE_ID) {
    throw new RangeError(`typeId must be an integer in [0, ${L.MAX_TYPE_ID}]: typeId=${typeId}`);
  }
}

function checkLength(length: number, max: number, what: string): void {
  if (!Number.isInteger(length) || length < 0 || length > max) {
    throw new RangeError(`length must be an integer in [0, ${what}=${max}]: length=${length}`);
  }
}
