/**
 * The producer of a broadcast ring: Agrona's BroadcastTransmitter protocol on Agrona's byte layout, so JVM and C
 * peers can share the region. It never waits for consumers; slow ones are lapped and detect it.
 *
 * Per message: tail-intent := new tail (an atomic store: a full fence), then length, type, payload and latest :=
 * record start (plain, as in Agrona), then tail := new tail (an atomic store). Counters are int64 stored as in position.ts (low word only while the
 * high word is unchanged), so an 8-byte reader never sees a torn value.
 */
import { ErrorCode, ShmringError, closedError } from './errors';
import * as L from './layout';
import { OfferResult } from './offer-result';
import { loadPosition, storePosition, storePositionPlain } from './position';
import { markProducerActive, markProducerClosed, type RingDescriptor, type RingMemory } from './ring-file';
import { RingServer } from './ring-server';

const WAKE_REQUESTED_INDEX = L.int32Index(L.WAKE_REQUESTED_OFFSET);
const WAKE_SEQUENCE_INDEX = L.int32Index(L.WAKE_SEQUENCE_OFFSET);
const MAX_BROADCAST_TYPE_ID = 0x7fffffff;

export class BroadcastPublication {
  readonly mode = 'broadcast' as const;
  readonly capacity: number;
  readonly maxMessageLength: number;
  readonly memory: RingMemory;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly u8: Uint8Array;
  private readonly dataOffset: number;
  private readonly mask: number;
  private readonly tailIntentIndex: number;
  private readonly tailIndex: number;
  private readonly latestIndex: number;
  private tailPosition = 0;
  private batching = false;
  private batchLatest = -1;
  private closed = false;

  /** @internal Use `Publication.create` / `Publication.attach`. The caller holds the producer lock. */
  constructor(memory: RingMemory, d: RingDescriptor) {
    this.memory = memory;
    this.i32 = new Int32Array(memory.buffer);
    this.i64 = new BigInt64Array(memory.buffer);
    // Payload bytes go through the plain-ArrayBuffer alias (memcpy speed); atomics stay on the SharedArrayBuffer.
    this.u8 = new Uint8Array(memory.alias ?? memory.buffer);
    this.dataOffset = d.dataOffset;
    this.capacity = d.capacity;
    this.mask = d.capacity - 1;
    this.maxMessageLength = d.maxMessageLength;
    const trailer = d.dataOffset + d.capacity;
    this.tailIntentIndex = L.int32Index(trailer + L.TAIL_INTENT_COUNTER_OFFSET);
    this.tailIndex = L.int32Index(trailer + L.TAIL_COUNTER_OFFSET);
    this.latestIndex = L.int32Index(trailer + L.LATEST_COUNTER_OFFSET);
    // A previous transmitter may have died between tail-intent and tail: continue from the committed tail.
    this.tailPosition = loadPosition(this.i32, this.tailIndex);
    markProducerActive(this.i32);
  }

  get position(): number {
    return this.tailPosition;
  }

  get isClosed(): boolean {
    return this.closed;
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
    this.u8.set(message, recordOffset + L.HEADER_LENGTH);
    this.i32[(recordOffset + L.TYPE_FIELD_OFFSET) >> 2] = typeId;
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
    let at = recordOffset + L.HEADER_LENGTH;
    for (let i = 0; i < parts.length; i++) {
      this.u8.set(parts[i], at);
      at += parts[i].length;
    }
    this.i32[(recordOffset + L.TYPE_FIELD_OFFSET) >> 2] = typeId;
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
    const aligned = (length + L.HEADER_LENGTH + L.RECORD_ALIGNMENT - 1) & -L.RECORD_ALIGNMENT;
    let tail = this.tailPosition;
    let index = tail & this.mask;
    const toEnd = this.capacity - index;
    if (aligned > toEnd) {
      storePosition(this.i32, this.i64, this.tailIntentIndex, tail + toEnd + aligned);
      const paddingOffset = this.dataOffset + index;
      this.i32[paddingOffset >> 2] = toEnd;
      this.i32[(paddingOffset + L.TYPE_FIELD_OFFSET) >> 2] = L.BROADCAST_PADDING_TYPE;
      tail += toEnd;
      index = 0;
    } else {
      storePosition(this.i32, this.i64, this.tailIntentIndex, tail + aligned);
    }
    const recordOffset = this.dataOffset + index;
    this.i32[recordOffset >> 2] = length + L.HEADER_LENGTH;
    this.tailPosition = tail + aligned;
    return recordOffset;
  }

  /** latest := the record just written (it ends at the tail), then tail; deferred while a batch is open. */
  private publish(length: number): void {
    const recordStart = this.tailPosition - ((length + L.HEADER_LENGTH + L.RECORD_ALIGNMENT - 1) & -L.RECORD_ALIGNMENT);
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

  wakeConsumers(): void {
    Atomics.add(this.i32, WAKE_SEQUENCE_INDEX, 1);
    this.memory.wake(L.WAKE_SEQUENCE_OFFSET);
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

  /**
   * Hands this ring's file descriptor to each consumer that connects to `socketPath` (for anonymous rings made by
   * `Publication.createAnonymous`; works for file rings too). Consumers join with `Subscription.connect`.
   */
  serve(socketPath: string): Promise<RingServer> {
    if (this.closed) throw closedError('publication');
    return RingServer.listen(this.memory, socketPath);
  }

  close(): void {
    if (this.closed) return;
    if (this.batching) this.commitBatch();
    this.closed = true;
    markProducerClosed(this.i32);
    this.wakeConsumers();
    this.memory.close();
  }
  /** `using pub = Publication.create(...)` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }
}
