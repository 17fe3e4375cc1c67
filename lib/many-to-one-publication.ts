/**
 * One of any number of producers of a many-to-one ring: Agrona's ManyToOneRingBuffer protocol on Agrona's byte layout,
 * so JVM and C producers (and a JVM or C consumer) can share the region.
 *
 * Per message: claim space by compare-and-swap of the shared tail (int64-atomics.ts: a 32-bit CAS of the low word
 * while the high word stays, no BigInt), store -recordLength (the record is being written: the consumer waits, and
 * its `unblock` can tell a claimed record from an unclaimed one), write type and payload, then store +recordLength
 * (committed). At the end of the ring the same CAS also claims the rest of the ring, which becomes a padding record.
 * Producers share a head cache (a hint of the consumer's position) so that they read the consumer's line only when
 * the ring looks full.
 */
import { binding } from './binding';
import { Claim, type ClaimOwner } from './claim';
import { ErrorCode, ShmringError, closedError, corrupt } from './errors';
import { compareAndSetInt64, getAndAddInt64, raiseInt64 } from './int64-atomics';
import * as L from './layout';
import { OfferResult } from './offer-result';
import { RingEndpoint } from './ring-endpoint';
import { MAX_POSITION_HIGH_WORD, loadPosition } from './position';
import type { RingDescriptor, RingMemory } from './ring-file';

const TWO_POW_32 = 4294967296;
const WAKE_REQUESTED_INDEX = L.int32Index(L.WAKE_REQUESTED_OFFSET);
const WAKE_SEQUENCE_INDEX = L.int32Index(L.WAKE_SEQUENCE_OFFSET);
const MAX_TYPE_ID = 0x7fffffff;
/** No room: the claim helpers' "back-pressured" (record offsets are always >= the page-aligned data offset > 0). */
const NO_ROOM = -1;
/** Failed CASes in one claim before the claimer yields its CPU (another producer is between its loads and its CAS). */
const SPINS_BEFORE_YIELD = 8;
/** A claim that keeps losing the CAS this many times is a ring whose tail someone rewrites: corrupt, not contention. */
const MAX_CLAIM_ATTEMPTS = 1_000_000;

/** Counters a producer keeps about itself (its own claims only). */
export interface ManyToOneProducerStats {
  /** Offers and claims refused because the ring was full. */
  backPressured: number;
  /** Compare-and-swaps of the tail lost to another producer (each one retried). */
  casRetries: number;
  /** Times this producer yielded its CPU while contending for the tail. */
  contendedYields: number;
  /** Claims left unwritten because the tail had moved by a multiple of 4 GiB under a stopped producer (see docs). */
  abandonedClaims: number;
  /** Offers whose record the consumer released (unblock: this producer stalled past its timeout) and sent again. */
  releasedClaims: number;
}

export class ManyToOnePublication extends RingEndpoint {
  readonly mode = 'many-to-one' as const;
  /** Largest payload: capacity / 8, as Agrona. */
  readonly maxMessageLength: number;
  /** Counters of this producer's own claims. */
  readonly stats: ManyToOneProducerStats = {
    backPressured: 0,
    casRetries: 0,
    contendedYields: 0,
    abandonedClaims: 0,
    releasedClaims: 0,
  };
  private readonly tailIndex: number;
  private readonly headCacheIndex: number;
  private readonly headIndex: number;
  private readonly correlationIndex: number;
  private readonly heartbeatIndex: number;
  private readonly claim: Claim;
  /** This producer's copy of the head cache: never ahead of the consumer's head, so it can only under-promise room. */
  private headCache = 0;
  /** The end of this producer's last claim (what `offer` returns). */
  private claimedEnd = 0;
  /** The tail as this producer last saw it: its guess for the next claim. */
  private lastTail = 0;
  private closed = false;

  /** @internal Use `Publication.open`. The caller holds a shared lock on the producer byte. */
  constructor(memory: RingMemory, d: RingDescriptor) {
    super(memory, d);
    this.maxMessageLength = L.maxMessageLengthFor(d.capacity);
    const trailer = d.dataOffset + d.capacity;
    this.tailIndex = L.int32Index(trailer + L.TAIL_POSITION_OFFSET);
    this.headCacheIndex = L.int32Index(trailer + L.HEAD_CACHE_POSITION_OFFSET);
    this.headIndex = L.int32Index(trailer + L.HEAD_POSITION_OFFSET);
    this.correlationIndex = L.int32Index(trailer + L.CORRELATION_COUNTER_OFFSET);
    this.heartbeatIndex = L.int32Index(trailer + L.CONSUMER_HEARTBEAT_OFFSET);
    // The claim's owner: made once, so claiming allocates nothing; commit and abort stay off the public API.
    const owner: ClaimOwner = {
      commit: (recordOffset, payloadLength) => this.commitClaim(recordOffset, payloadLength),
      abort: (recordOffset, payloadLength) => this.abortClaim(recordOffset, payloadLength),
    };
    this.claim = new Claim(this.u8, owner);
    this.headCache = loadPosition(this.i32, this.headCacheIndex);
    this.lastTail = loadPosition(this.i32, this.tailIndex);
    // Joins counted in the producer epoch (informational; there is no single producer to name).
    Atomics.add(this.i32, L.int32Index(L.PRODUCER_EPOCH_OFFSET), 1);
  }

  /** The end of this producer's last claimed record (0 before its first). */
  get position(): number {
    return this.claimedEnd;
  }

  /** The ring's tail: bytes claimed by all producers since the ring was created (Agrona's producerPosition). */
  get producerPosition(): number {
    return loadPosition(this.i32, this.tailIndex);
  }

  /** The consumer's position (Agrona's consumerPosition). */
  get consumerPosition(): number {
    return loadPosition(this.i32, this.headIndex);
  }

  /** The consumer's last heartbeat, ms since the epoch (0: no consumer ever joined). Agrona's consumerHeartbeatTime. */
  get consumerHeartbeatTime(): number {
    return loadPosition(this.i32, this.heartbeatIndex);
  }

  /** Whether a consumer holds the ring's consumer lock (one syscall; a JVM consumer is seen by its heartbeat). */
  get consumerAlive(): boolean {
    return this.memory.isLocked(L.CONSUMER_LOCK_BYTE_BASE + L.MANY_TO_ONE_CONSUMER_SLOT);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A number unique among every user of the ring (Agrona's nextCorrelationId: fetch-and-add of a shared counter). */
  nextCorrelationId(): number {
    if (this.closed) throw closedError('publication');
    const id = getAndAddInt64(this.i32, this.i64, this.correlationIndex, 1);
    if (id < 0) throw corrupt('correlation counter', id);
    return id;
  }

  /**
   * Copies `message` (at most `maxMessageLength` bytes) into the ring as one message with `typeId` (>= 1). Returns
   * the end position of its record, OfferResult.BACK_PRESSURED when the ring is full, or OfferResult.CLOSED.
   */
  offer(message: Uint8Array, typeId = 1): number {
    const length = message.length;
    // `(typeId | 0) === typeId` also sends non-integers (1.5, NaN) to rejectOffer instead of storing them truncated;
    // `!(length <= max)` a length that is not a number: nothing may throw between the claim and the commit.
    if (!(length <= this.maxMessageLength) || !((typeId | 0) === typeId && typeId >= 1) || this.closed) {
      return this.rejectOffer(length, typeId);
    }
    const recordLength = length + L.HEADER_LENGTH;
    const recordOffset = this.claimRecord(recordLength);
    if (recordOffset === NO_ROOM) return OfferResult.BACK_PRESSURED;
    const i32 = this.i32;
    const lengthIndex = L.recordLengthIndex(recordOffset);
    // Claimed, being written: an atomic store, so no payload byte can be seen before it.
    Atomics.store(i32, lengthIndex, -recordLength);
    this.u8.set(message, recordOffset + L.HEADER_LENGTH);
    i32[L.recordTypeIndex(recordOffset)] = typeId;
    // The commit: a compare-and-swap, not a store, so a record the consumer already released (unblock) is left alone.
    if (Atomics.compareExchange(i32, lengthIndex, -recordLength, recordLength) !== -recordLength) {
      return this.offerAgain(message, typeId);
    }
    if (Atomics.load(i32, WAKE_REQUESTED_INDEX) !== 0) this.wakeConsumer();
    return this.claimedEnd;
  }

  /**
   * The consumer gave up on this producer's record while it was being written (it stalled past the consumer's unblock
   * timeout) and skipped it: the message is offered again, so it still arrives, in this producer's order.
   */
  private offerAgain(message: Uint8Array, typeId: number): number {
    this.stats.releasedClaims++;
    return this.offer(message, typeId);
  }

  private offerPartsAgain(parts: readonly Uint8Array[], typeId: number): number {
    this.stats.releasedClaims++;
    return this.offerParts(parts, typeId);
  }

  /** Same as `offer` for a message gathered from several buffers. */
  offerParts(parts: readonly Uint8Array[], typeId = 1): number {
    let length = 0;
    for (let i = 0; i < parts.length; i++) length += parts[i].length;
    if (!(length <= this.maxMessageLength) || !((typeId | 0) === typeId && typeId >= 1) || this.closed) {
      return this.rejectOffer(length, typeId);
    }
    const recordLength = length + L.HEADER_LENGTH;
    const recordOffset = this.claimRecord(recordLength);
    if (recordOffset === NO_ROOM) return OfferResult.BACK_PRESSURED;
    const i32 = this.i32;
    const lengthIndex = L.recordLengthIndex(recordOffset);
    Atomics.store(i32, lengthIndex, -recordLength);
    let at = recordOffset + L.HEADER_LENGTH;
    for (let i = 0; i < parts.length; i++) {
      this.u8.set(parts[i], at);
      at += parts[i].length;
    }
    i32[L.recordTypeIndex(recordOffset)] = typeId;
    if (Atomics.compareExchange(i32, lengthIndex, -recordLength, recordLength) !== -recordLength) {
      return this.offerPartsAgain(parts, typeId);
    }
    if (Atomics.load(i32, WAKE_REQUESTED_INDEX) !== 0) this.wakeConsumer();
    return this.claimedEnd;
  }

  /**
   * Claims `length` bytes for the caller to write in place (zero copy). Returns the publication's reused `Claim`, or
   * null when the ring is full. Commit or abort it soon: the consumer cannot read past it meanwhile, and after its
   * unblock timeout it turns the claim into padding (the claim's commit then throws).
   */
  tryClaim(length: number, typeId = 1): Claim | null {
    if (this.closed) throw closedError('publication');
    if (this.claim.isPending)
      throw new ShmringError(ErrorCode.INVALID_STATE, 'a claim is pending: commit() or abort() it first');
    if (!Number.isInteger(length) || length < 0 || length > this.maxMessageLength) {
      throw new RangeError(
        `length must be an integer in [0, maxMessageLength=${this.maxMessageLength}]: length=${length}`,
      );
    }
    checkTypeId(typeId);
    const recordLength = length + L.HEADER_LENGTH;
    const recordOffset = this.claimRecord(recordLength);
    if (recordOffset === NO_ROOM) return null;
    Atomics.store(this.i32, L.recordLengthIndex(recordOffset), -recordLength);
    this.i32[L.recordTypeIndex(recordOffset)] = typeId;
    return this.claim.arm(recordOffset, recordOffset + L.HEADER_LENGTH, length);
  }

  /** Claim#commit: throws if the consumer released the claim meanwhile (unblock after its timeout). */
  private commitClaim(recordOffset: number, payloadLength: number): void {
    const recordLength = payloadLength + L.HEADER_LENGTH;
    if (
      Atomics.compareExchange(this.i32, L.recordLengthIndex(recordOffset), -recordLength, recordLength) !==
      -recordLength
    ) {
      throw claimReleased();
    }
    if (Atomics.load(this.i32, WAKE_REQUESTED_INDEX) !== 0) this.wakeConsumer();
  }

  /** Claim#abort: the claimed record becomes padding, which the consumer skips. */
  private abortClaim(recordOffset: number, payloadLength: number): void {
    const recordLength = payloadLength + L.HEADER_LENGTH;
    const lengthIndex = L.recordLengthIndex(recordOffset);
    if (Atomics.load(this.i32, lengthIndex) !== -recordLength) throw claimReleased();
    this.i32[L.recordTypeIndex(recordOffset)] = L.RING_BUFFER_PADDING_TYPE;
    if (Atomics.compareExchange(this.i32, lengthIndex, -recordLength, recordLength) !== -recordLength) {
      throw claimReleased();
    }
    if (Atomics.load(this.i32, WAKE_REQUESTED_INDEX) !== 0) this.wakeConsumer();
  }

  /**
   * Agrona's claimCapacity: CAS the tail forward by the aligned record (plus the rest of the ring, as padding, when
   * the record would cross the end). Returns the record's offset in the mapping, or NO_ROOM.
   *
   * First a guess: the tail is still where this producer last saw it (always so while it produces alone). The guess
   * needs no snapshot of the tail: one CAS of the low word, then one load of the high word from the line the CAS
   * just took. The tail only grows and was at least the guess, so a high word equal to the guess's after the CAS
   * means the CAS saw exactly the guess.
   */
  private claimRecord(recordLength: number): number {
    const required = (recordLength + L.RECORD_ALIGNMENT - 1) & -L.RECORD_ALIGNMENT;
    const expected = this.lastTail;
    const offset = expected & this.mask;
    // Strictly before the end of the ring (so no padding, and the low word cannot carry), and room by the head cache.
    if (required < this.capacity - offset && required <= this.capacity - (expected - this.headCache)) {
      const i32 = this.i32;
      const low = expected | 0;
      const next = expected + required;
      if (Atomics.compareExchange(i32, this.tailIndex, low, next | 0) === low) {
        if (Atomics.load(i32, this.tailIndex + 1) === Math.floor(expected / TWO_POW_32)) {
          this.lastTail = next;
          this.claimedEnd = next;
          return this.dataOffset + offset;
        }
        this.abandonClaim();
      }
    }
    return this.claimContended(required);
  }

  /**
   * The guess's CAS matched the low word but the high word had moved: the tail had advanced by a multiple of 4 GiB
   * since this producer last looked (it was stopped meanwhile), so the claim is at a place whose room was never
   * checked. It is left unwritten: whatever the consumer still had to read there stays intact, and once the consumer
   * reaches the empty claim it pads over it (unblock, after its timeout). The message is claimed again, properly.
   */
  private abandonClaim(): void {
    this.stats.abandonedClaims++;
  }

  /** The tail moved since this producer last claimed (other producers), or the ring looks full or wraps. */
  private claimContended(required: number): number {
    const i32 = this.i32;
    const capacity = this.capacity;
    const mask = this.mask;
    const tailIndex = this.tailIndex;
    let head = this.headCache;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      // A consistent snapshot of the tail: high, low, high again.
      const high = Atomics.load(i32, tailIndex + 1);
      const low = Atomics.load(i32, tailIndex);
      if (Atomics.load(i32, tailIndex + 1) !== high) continue;
      if (high >>> 0 > MAX_POSITION_HIGH_WORD) throw corrupt('tail position high word', high);
      const tail = high * TWO_POW_32 + (low >>> 0);
      if (required > capacity - (tail - head)) {
        head = this.refreshHeadCache();
        if (required > capacity - (tail - head)) {
          this.lastTail = tail;
          return this.backPressured();
        }
      }
      let newTail = tail + required;
      const tailOffset = low & mask;
      const toEnd = capacity - tailOffset;
      let writeOffset = tailOffset;
      let padding = 0;
      if (required > toEnd) {
        // The record goes to the start of the ring, whose first `required` bytes the consumer must have passed.
        writeOffset = 0;
        if (required > (head & mask)) {
          head = this.refreshHeadCache();
          if (required > (head & mask)) {
            writeOffset = NO_ROOM;
            newTail = tail; // claim only the padding to the end
          }
        }
        padding = toEnd;
        newTail += padding;
      }
      if (compareAndSetInt64(i32, this.i64, tailIndex, tail, newTail)) {
        this.lastTail = newTail;
        if (padding !== 0) this.writePadding(tailOffset, padding);
        if (writeOffset === NO_ROOM) return this.backPressured();
        this.claimedEnd = newTail;
        return this.dataOffset + writeOffset;
      }
      this.contended(attempt);
    }
    throw corrupt('tail position (never claimed)', MAX_CLAIM_ATTEMPTS);
  }

  /** Lost a CAS: retry at once (someone progressed), yielding the CPU now and then so the winner can finish. */
  private contended(attempt: number): void {
    this.stats.casRetries++;
    if (attempt % SPINS_BEFORE_YIELD === SPINS_BEFORE_YIELD - 1) {
      this.stats.contendedYields++;
      binding().yieldThread();
    }
  }

  private backPressured(): number {
    this.stats.backPressured++;
    return NO_ROOM;
  }

  /** Reads the consumer's head and shares it through the head cache (only when the ring looks full). */
  private refreshHeadCache(): number {
    const head = loadPosition(this.i32, this.headIndex);
    raiseInt64(this.i32, this.i64, this.headCacheIndex, head);
    this.headCache = head;
    return head;
  }

  /** The rest of the ring becomes a padding record: claimed (negative), typed, committed (unless released). */
  private writePadding(offset: number, padding: number): void {
    const lengthIndex = L.recordLengthIndex(this.dataOffset + offset);
    Atomics.store(this.i32, lengthIndex, -padding);
    this.i32[L.recordTypeIndex(this.dataOffset + offset)] = L.RING_BUFFER_PADDING_TYPE;
    Atomics.compareExchange(this.i32, lengthIndex, -padding, padding);
  }

  /** The consumer said it sleeps: whoever clears its flag wakes it (once, not once per producer). */
  private wakeConsumer(): void {
    if (Atomics.exchange(this.i32, WAKE_REQUESTED_INDEX, 0) === 0) return;
    Atomics.add(this.i32, WAKE_SEQUENCE_INDEX, 1);
    this.memory.wake(L.WAKE_SEQUENCE_OFFSET);
  }

  private rejectOffer(length: number, typeId: number): number {
    if (this.closed) return OfferResult.CLOSED;
    checkTypeId(typeId);
    throw new RangeError(
      `length must be at most maxMessageLength=${this.maxMessageLength} ` +
        `(many-to-one rings do not fragment): length=${length}`,
    );
  }

  /** Leaves the ring (other producers and the consumer go on). A pending claim is aborted first. */
  close(): void {
    if (this.closed) return;
    if (this.claim.isPending) {
      try {
        this.claim.abort();
      } catch {
        // Already released by the consumer's unblock: nothing of ours is left in the ring.
      }
    }
    this.closed = true;
    this.memory.close();
  }
}

function claimReleased(): ShmringError {
  return new ShmringError(
    ErrorCode.CLAIM_NOT_PENDING,
    'the claimed space was released: the consumer unblocked it after its unblock timeout',
  );
}

function checkTypeId(typeId: number): void {
  if (!Number.isInteger(typeId) || typeId < 1 || typeId > MAX_TYPE_ID) {
    throw new RangeError(`typeId must be an integer in [1, ${MAX_TYPE_ID}]: typeId=${typeId}`);
  }
}
