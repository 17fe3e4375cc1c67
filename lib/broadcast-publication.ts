/**
 * The producer of a broadcast ring: Agrona's BroadcastTransmitter protocol on Agrona's byte layout, so JVM and C
 * peers can share the region. It never waits for consumers; slow ones are lapped and detect it.
 *
 * Per message: tail-intent := new tail (an atomic store: a full fence), then length, type, payload and latest :=
 * record start (plain, as in Agrona), then tail := new tail (an atomic store). Counters are int64 stored as in
 * position.ts (low word only while the high word is unchanged), so an 8-byte reader never sees a torn value.
 */
import { ErrorCode, ShmringError, closedError } from './errors';
import * as L from './layout';
import { OfferResult } from './offer-result';
import { loadPosition, storePosition, storePositionPlain } from './position';
import { PublicationBase } from './publication-base';
import type { RingDescriptor, RingMemory } from './ring-file';

const WAKE_REQUESTED_INDEX = L.int32Index(L.WAKE_REQUESTED_OFFSET);
const MAX_BROADCAST_TYPE_ID = 0x7fffffff;

export class BroadcastPublication extends PublicationBase {
  readonly mode = 'broadcast' as const;
  private readonly tailIntentIndex: number;
  private readonly tailIndex: number;
  private readonly latestIndex: number;
  private batching = false;
  private batchLatest = -1;

  /** @internal Use `Publication.create` / `Publication.attach`. The caller holds the producer lock. */
  constructor(memory: RingMemory, d: RingDescriptor) {
    super(memory, d);
    const trailer = L.broadcastTrailerOffset(d.dataOffset, d.capacity);
    this.tailIntentIndex = L.int32Index(trailer + L.TAIL_INTENT_COUNTER_OFFSET);
    this.tailIndex = L.int32Index(trailer + L.TAIL_COUNTER_OFFSET);
    this.latestIndex = L.int32Index(trailer + L.LATEST_COUNTER_OFFSET);
    // A previous transmitter may have died between tail-intent and tail: continue from the committed tail.
    this.start(loadPosition(this.i32, this.tailIndex));
  }

  /**
   * Transmits one message (at most `maxMessageLength` = capacity/8 bytes; broadcast does not fragment). Never
   * back-pressured: returns the new position, or OfferResult.CLOSED.
   */
  offer(message: Uint8Array, typeId = 1): number {
    const length = message.length;
    // `(typeId | 0) === typeId` also sends non-integers (1.5, NaN) to rejectOffer instead of storing them truncated.
    if (length > this.maxMessageLength || !((typeId | 0) === typeId && typeId >= 1) || this.closed) {
      return this.rejectOffer(length, typeId);
    }
    const recordOffset = this.reserve(length);
    this.u8.set(message, L.payloadOffset(recordOffset));
    this.i32[L.recordTypeIndex(recordOffset)] = typeId;
    this.publish(length);
    return this.tailPosition;
  }

  /** Same as `offer` for a message gathered from several buffers. */
  offerParts(parts: readonly Uint8Array[], typeId = 1): number {
    let length = 0;
    for (let i = 0; i < parts.length; i++) length += parts[i].length;
    if (length > this.maxMessageLength || !((typeId | 0) === typeId && typeId >= 1) || this.closed) {
      return this.rejectOffer(length, typeId);
    }
    const recordOffset = this.reserve(length);
    let at = L.payloadOffset(recordOffset);
    for (let i = 0; i < parts.length; i++) {
      this.u8.set(parts[i], at);
      at += parts[i].length;
    }
    this.i32[L.recordTypeIndex(recordOffset)] = typeId;
    this.publish(length);
    return this.tailPosition;
  }

  /** Records offered until `commitBatch()` are published with one latest/tail update. */
  beginBatch(): void {
    if (this.batching) throw new ShmringError(ErrorCode.INVALID_STATE, 'a batch is already open');
    if (this.closed) throw closedError('publication');
    this.batching = true;
  }

  commitBatch(): number {
    if (!this.batching) throw new ShmringError(ErrorCode.INVALID_STATE, 'no batch is open');
    this.batching = false;
    if (this.batchLatest >= 0) {
      storePositionPlain(this.i32, this.i64, this.latestIndex, this.batchLatest);
      this.batchLatest = -1;
      this.publishTail();
    }
    return this.tailPosition;
  }

  /** Announces the new tail (tail-intent) and, at the end of the ring, writes the padding record. */
  private reserve(length: number): number {
    const aligned = L.alignedRecordLength(L.recordLengthFor(length));
    let tail = this.tailPosition;
    let index = tail & this.mask;
    const toEnd = this.capacity - index;
    if (aligned > toEnd) {
      storePosition(this.i32, this.i64, this.tailIntentIndex, tail + toEnd + aligned);
      const paddingOffset = this.dataOffset + index;
      this.i32[L.recordLengthIndex(paddingOffset)] = toEnd;
      this.i32[L.recordTypeIndex(paddingOffset)] = L.BROADCAST_PADDING_TYPE;
      tail += toEnd;
      index = 0;
    } else {
      storePosition(this.i32, this.i64, this.tailIntentIndex, tail + aligned);
    }
    const recordOffset = this.dataOffset + index;
    this.i32[L.recordLengthIndex(recordOffset)] = L.recordLengthFor(length);
    this.tailPosition = tail + aligned;
    return recordOffset;
  }

  /** latest := the record just written (it ends at the tail), then tail; deferred while a batch is open. */
  private publish(length: number): void {
    const recordStart = this.tailPosition - L.alignedRecordLength(L.recordLengthFor(length));
    if (this.batching) {
      this.batchLatest = recordStart;
      return;
    }
    // Agrona writes latest with a plain store too: receivers read it only after the tail store that follows.
    storePositionPlain(this.i32, this.i64, this.latestIndex, recordStart);
    this.publishTail();
  }

  private publishTail(): void {
    storePosition(this.i32, this.i64, this.tailIndex, this.tailPosition);
    // One load per publish; the flag is cleared by whoever wakes, so a sleeping receiver costs one wake, not one per
    // message until it gets to run.
    const i32 = this.i32;
    if (Atomics.load(i32, WAKE_REQUESTED_INDEX) !== 0 && Atomics.exchange(i32, WAKE_REQUESTED_INDEX, 0) !== 0) {
      this.wakeConsumers();
    }
  }

  private rejectOffer(length: number, typeId: number): number {
    if (this.closed) return OfferResult.CLOSED;
    if (!Number.isInteger(typeId) || typeId < 1 || typeId > MAX_BROADCAST_TYPE_ID) {
      throw new RangeError(`typeId must be an integer in [1, ${MAX_BROADCAST_TYPE_ID}]: typeId=${typeId}`);
    }
    throw new RangeError(
      `length must be at most maxMessageLength=${this.maxMessageLength} ` +
        `(broadcast rings do not fragment): length=${length}`,
    );
  }

  /** close(): an open batch is published. */
  protected flushBeforeClose(): void {
    if (this.batching) this.commitBatch();
  }
}
