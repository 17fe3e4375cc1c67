/**
 * A receiver of a broadcast ring: Agrona's (copy) BroadcastReceiver protocol. Each record is copied out, then
 * re-validated against tail-intent (seqlock style) before it is delivered, so a record overwritten while it was
 * being read is never handed to the caller. A receiver that was lapped counts it and jumps to the latest record.
 */
import { activateSlot, lockFreeSlot, releaseSlot } from './consumer-slot';
import { closedError, corrupt } from './errors';
import * as L from './layout';
import type { MessageHandler } from './message-handler';
import { loadPosition, storePosition } from './position';
import type { RingDescriptor, RingMemory } from './ring-file';
import { SubscriptionBase, type StartFrom } from './subscription-base';

const WAKE_REQUESTED_INDEX = L.int32Index(L.WAKE_REQUESTED_OFFSET);
/**
 * Up to this many bytes are copied with an int32 loop (no view allocated, so no garbage per message); longer ones
 * use TypedArray#set on a subarray: one small allocation per message, but 4-6x faster than the loop at 1 KiB.
 */
const WORD_COPY_LIMIT = 256;
/** Most records copied before one validation. */
const MAX_RUN = 256;
/** Scratch bytes for a run (at least the largest message). */
const RUN_SCRATCH_LENGTH = 64 * 1024;
/** Copies land 8-aligned in the scratch, so the word copy may overshoot a payload by up to 7 bytes. */
const SCRATCH_ALIGNMENT = 8;

export class BroadcastSubscription extends SubscriptionBase {
  readonly mode = 'broadcast' as const;
  /** Times this receiver was lapped by the transmitter and resynchronised to the latest record. */
  lappedCount = 0;
  /** Bytes of the ring skipped because of lapping (records lost, headers and padding included). */
  lostBytes = 0;
  /** The slot of the ring's receiver table this receiver publishes its counters in, or -1 (not opted in). */
  readonly slot: number = -1;
  private slotStateWord = 0;
  private readonly maxMessageLength: number;
  private readonly tailIntentIndex: number;
  private readonly tailIndex: number;
  private readonly latestIndex: number;
  private scratch: Uint8Array;
  /** Per copied record of the current run: scratch offset, length, type id. */
  private readonly runMeta: Int32Array;
  private scratch32: Int32Array;
  private cursor = 0;
  private closed = false;

  /**
   * @internal Use `Subscription.open` / `Subscription.connect`. With `publishCounters`, takes a slot of the receiver
   * table (throws ERR_SHMRING_NO_CONSUMER_SLOT when none is free) and keeps its position, laps and lost bytes there.
   */
  constructor(memory: RingMemory, d: RingDescriptor, from: StartFrom = 'latest', publishCounters = false) {
    super(memory, d);
    // Agrona's limit, not the header's: any transmitter (a JVM one too) may send capacity/8 bytes.
    this.maxMessageLength = L.maxMessageLengthFor(d.capacity);
    const trailer = L.broadcastTrailerOffset(d.dataOffset, d.capacity);
    this.tailIntentIndex = L.int32Index(trailer + L.TAIL_INTENT_COUNTER_OFFSET);
    this.tailIndex = L.int32Index(trailer + L.TAIL_COUNTER_OFFSET);
    this.latestIndex = L.int32Index(trailer + L.LATEST_COUNTER_OFFSET);
    // Room for a run of small messages, and always for the largest one (+ word-copy overshoot).
    this.scratch = new Uint8Array(
      Math.max(L.align(this.maxMessageLength, SCRATCH_ALIGNMENT), RUN_SCRATCH_LENGTH) + SCRATCH_ALIGNMENT,
    );
    this.runMeta = new Int32Array(3 * MAX_RUN);
    this.scratch32 = new Int32Array(this.scratch.buffer);
    // Agrona starts a receiver at `latest`. Nothing older can be found safely once the ring has wrapped, so
    // 'earliest' means position 0 only while the ring has not wrapped yet.
    const latest = loadPosition(this.i32, this.latestIndex);
    const tailIntent = loadPosition(this.i32, this.tailIntentIndex);
    this.cursor = from === 'earliest' && tailIntent < this.capacity ? 0 : latest;
    if (publishCounters) {
      this.slot = lockFreeSlot(memory, d.maxConsumers);
      this.publishCounters();
      Atomics.store(this.i32, L.slotPidIndex(this.slot), process.pid);
      this.slotStateWord = activateSlot(this.i32, this.slot);
    }
  }

  get position(): number {
    return this.cursor;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Delivers up to `limit` messages (copied, validated) and returns how many. Records are copied out in runs and a
   * run is validated once, after copying: its first record is its oldest, so if tail-intent has not lapped that one,
   * it has lapped none of them (Agrona validates each record the same way, one at a time).
   */
  poll(handler: MessageHandler, limit = 10): number {
    if (this.closed) throw closedError('subscription');
    const i32 = this.i32;
    const meta = this.runMeta;
    const tail = loadPosition(i32, this.tailIndex);
    let cursor = this.cursor;
    let delivered = 0;
    // Padding and resynchronisation do not deliver; the budget bounds them so hostile counters cannot spin us.
    let budget = limit + 16;
    while (delivered < limit && tail > cursor && budget-- > 0) {
      const runStart = cursor;
      let count = 0;
      let used = 0;
      let lapped = false;
      while (delivered + count < limit && tail > cursor && count < MAX_RUN) {
        const index = cursor & this.mask;
        const recordOffset = this.dataOffset + index;
        const length = i32[L.recordLengthIndex(recordOffset)];
        const typeId = i32[L.recordTypeIndex(recordOffset)];
        const aligned = L.alignedRecordLength(length);
        if (
          length < L.HEADER_LENGTH ||
          aligned > this.capacity - index ||
          (typeId === L.BROADCAST_PADDING_TYPE
            ? aligned !== this.capacity - index
            : length - L.HEADER_LENGTH > this.maxMessageLength || typeId < 1)
        ) {
          // Impossible header: either the run was overwritten under us (lapped) or the ring is corrupt. Ask about
          // runStart, not this record: positions inside the run come from lengths not validated yet, so a record
          // overwritten earlier in the run can send us into the middle of another while this one still looks intact.
          if (this.isValid(runStart)) throw corrupt('broadcast record length', length);
          lapped = true;
          break;
        }
        if (typeId === L.BROADCAST_PADDING_TYPE) {
          cursor += aligned;
          continue;
        }
        const payload = L.payloadLengthOf(length);
        if (used + payload > this.scratch.length) break; // scratch full: deliver this run first
        this.copyOut(L.payloadOffset(recordOffset), payload, used);
        meta[3 * count] = used;
        meta[3 * count + 1] = payload;
        meta[3 * count + 2] = typeId;
        used = L.align(used + payload, SCRATCH_ALIGNMENT);
        count++;
        cursor += aligned;
      }
      if (lapped || !this.isValid(runStart)) {
        cursor = this.resynchronise(runStart);
        continue;
      }
      this.setCursor(cursor);
      for (let i = 0; i < count; i++) {
        delivered++;
        handler(this.scratch, meta[3 * i], meta[3 * i + 1], meta[3 * i + 2]);
      }
    }
    this.setCursor(cursor);
    return delivered;
  }

  /** True when the transmitter has published past this receiver's cursor. */
  hasData(): boolean {
    return loadPosition(this.i32, this.tailIndex) > this.cursor;
  }

  /**
   * @internal Raises the wake-requested flag, then re-checks the tail. The transmitter loads the flag after it
   * publishes the tail, and whoever finds it set clears it and wakes every sleeper (the sequence moves, so a receiver
   * that read the old sequence does not sleep), so a sleeping receiver costs the transmitter one wake, not one per
   * message until the receiver gets to run.
   */
  protected announceSleep(): boolean {
    Atomics.store(this.i32, WAKE_REQUESTED_INDEX, 1);
    return !this.hasData();
  }

  protected endSleep(): void {
    // Nothing to undo: a stale flag costs the transmitter one unneeded wake.
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeWaiter();
    if (this.slot >= 0) releaseSlot(this.memory, this.i32, this.slot, this.slotStateWord);
    this.memory.close();
  }
  /** Agrona's validate: the record at `cursor` is intact while the transmitter has not announced a lap past it. */
  private isValid(cursor: number): boolean {
    return cursor + this.capacity > loadPosition(this.i32, this.tailIntentIndex);
  }

  private resynchronise(cursor: number): number {
    const latest = loadPosition(this.i32, this.latestIndex);
    if (latest <= cursor) throw corrupt('broadcast latest counter', latest);
    this.lappedCount++;
    this.lostBytes += latest - cursor;
    if (this.slot >= 0) this.publishCounters();
    return latest;
  }

  /** Moves the cursor; a receiver that publishes its counters publishes where it is (once per poll, not per message). */
  private setCursor(cursor: number): void {
    if (cursor !== this.cursor && this.slot >= 0) {
      storePosition(this.i32, this.i64, L.slotPositionIndex(this.slot), cursor);
    }
    this.cursor = cursor;
  }

  private publishCounters(): void {
    const slot = this.slot;
    storePosition(this.i32, this.i64, L.slotPositionIndex(slot), this.cursor);
    storePosition(this.i32, this.i64, L.slotFieldIndex(slot, L.SLOT_LAPS_OFFSET), this.lappedCount);
    storePosition(this.i32, this.i64, L.slotFieldIndex(slot, L.SLOT_LOST_BYTES_OFFSET), this.lostBytes);
  }

  /** Copies `length` bytes at mapping offset `from` to scratch offset `to` (8-aligned). */
  private copyOut(from: number, length: number, to: number): void {
    if (length <= WORD_COPY_LIMIT) {
      const source = this.i32;
      const target = this.scratch32;
      const first = L.int32Index(from);
      const at = L.int32Index(to);
      const words = L.int32Index(L.align(length, 4));
      for (let i = 0; i < words; i++) target[at + i] = source[first + i];
    } else {
      this.scratch.set(this.u8.subarray(from, from + length), to);
    }
  }
}
