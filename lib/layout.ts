/**
 * The ring file's binary layout: constants and pure helpers only (Agrona's descriptor style). This is the one
 * place the code knows an offset; `docs/FORMAT.md` is the human spec and `test/layout.test.ts` pins every number
 * here to the numbers written there. Offsets are built cumulatively from the field before. All integers are
 * little-endian. This module imports nothing.
 *
 * File sections (each starts on a 128-byte line so words written by different processes never share one):
 *
 *   0      descriptor line   written once by the creator; LAYOUT_VERSION last (the "ready" signal)
 *   128    producer line     written by the producer only
 *   256    wake line         futex word + wake-requested flag (consumers and producer)
 *   384    counters line     the reliable producer's counters (written off the per-message path)
 *   512    consumer slots    CONSUMER_SLOT_LENGTH each, one per consumer (maxConsumers of them)
 *   dataOffset (page aligned) data region: `capacity` bytes, + a 128-byte trailer in broadcast mode
 */

/** Bytes per cache-line separation used between words that different processes write. */
export const LINE_LENGTH = 128;
/** The data region starts on a page boundary (so an Agrona UnsafeBuffer can wrap it at that file offset). */
export const PAGE_LENGTH = 4096;
/** Bytes of an int32 and of an int64 field (Agrona's SIZE_OF_INT, SIZE_OF_LONG). */
const SIZE_OF_INT32 = 4;
const SIZE_OF_INT64 = 8;

/** "SHMR" read as a little-endian uint32. */
export const MAGIC = 0x524d4853;
/** 2: durable consumer slots (a 1.x producer would reap a detached durable consumer, so 1.x must refuse 2.x rings). */
export const VERSION_MAJOR = 2;
/** Minor 1 added the counters line and consumer-slot bytes 16..31; a 2.0 ring has zeros there and reads as 0. */
export const VERSION_MINOR = 1;
/** The layout version word: major in the high 16 bits, minor in the low 16 bits. Never 0 (0 = not ready). */
export const LAYOUT_VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR;

export const MODE_RELIABLE = 1;
export const MODE_BROADCAST = 2;

/*
 * Descriptor line (offset 0):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |                         magic "SHMR"                          |  0
 *   +---------------------------------------------------------------+
 *   |        version minor        |         version major           |  4  (written last)
 *   +---------------------------------------------------------------+
 *   |                             mode                              |  8
 *   +---------------------------------------------------------------+
 *   |                        flags (reserved 0)                     | 12
 *   +---------------------------------------------------------------+
 *   |                           capacity                            | 16
 *   +---------------------------------------------------------------+
 *   |                       max message length                      | 20
 *   +---------------------------------------------------------------+
 *   |                     max frame payload length                  | 24
 *   +---------------------------------------------------------------+
 *   |                         max consumers                         | 28
 *   +---------------------------------------------------------------+
 *   |                          data offset                          | 32
 *   +---------------------------------------------------------------+
 *   |                          file length                          | 36
 *   +---------------------------------------------------------------+
 *   |                 created at, ms since epoch (int64)            | 40
 *   +---------------------------------------------------------------+
 *   |                          creator pid                          | 48
 *   +---------------------------------------------------------------+
 */
export const DESCRIPTOR_LINE_OFFSET = 0;
export const MAGIC_OFFSET = DESCRIPTOR_LINE_OFFSET;
export const VERSION_OFFSET = MAGIC_OFFSET + SIZE_OF_INT32;
export const MODE_OFFSET = VERSION_OFFSET + SIZE_OF_INT32;
export const FLAGS_OFFSET = MODE_OFFSET + SIZE_OF_INT32;
export const CAPACITY_OFFSET = FLAGS_OFFSET + SIZE_OF_INT32;
export const MAX_MESSAGE_LENGTH_OFFSET = CAPACITY_OFFSET + SIZE_OF_INT32;
export const MAX_FRAME_PAYLOAD_OFFSET = MAX_MESSAGE_LENGTH_OFFSET + SIZE_OF_INT32;
export const MAX_CONSUMERS_OFFSET = MAX_FRAME_PAYLOAD_OFFSET + SIZE_OF_INT32;
export const DATA_OFFSET_OFFSET = MAX_CONSUMERS_OFFSET + SIZE_OF_INT32;
export const FILE_LENGTH_OFFSET = DATA_OFFSET_OFFSET + SIZE_OF_INT32;
export const CREATED_AT_OFFSET = FILE_LENGTH_OFFSET + SIZE_OF_INT32;
export const CREATOR_PID_OFFSET = CREATED_AT_OFFSET + SIZE_OF_INT64;

/*
 * Producer line (offset 128), written only by the producer:
 *   +0  tail checkpoint (int64, two int32 halves): the tail at the producer's last limit refresh or close.
 *       Published BEFORE the producer reads consumer positions; a joining consumer relies on that order.
 *   +8  producer state (0 none yet, 1 active, 2 closed cleanly)
 *   +12 producer epoch: incremented by every producer that attaches (takeover after a crash included)
 *   +16 producer pid (informational; liveness is the kernel lock at PRODUCER_LOCK_BYTE)
 */
export const PRODUCER_LINE_OFFSET = DESCRIPTOR_LINE_OFFSET + LINE_LENGTH;
export const TAIL_CHECKPOINT_OFFSET = PRODUCER_LINE_OFFSET;
export const PRODUCER_STATE_OFFSET = TAIL_CHECKPOINT_OFFSET + SIZE_OF_INT64;
export const PRODUCER_EPOCH_OFFSET = PRODUCER_STATE_OFFSET + SIZE_OF_INT32;
export const PRODUCER_PID_OFFSET = PRODUCER_EPOCH_OFFSET + SIZE_OF_INT32;

/*
 * Upstream record (producer line +64 .. +111): where a producer that copies messages from another system (the NATS
 * bridge, lib/bridge/) remembers the upstream sequence of the last message it committed. Never written by
 * offer/tryClaim. Two alternating slots, UPSTREAM_SLOT_LENGTH each:
 *   +0  stamp: 0 while the slot is being rewritten, else a write count (>= 1)
 *   +4  upstream id: a hash naming the upstream (a JetStream stream and its creation time)
 *   +8  end position (int64): the ring position just past the record this sequence belongs to
 *   +16 upstream sequence (int64)
 * The newest stamped slot whose end position is at or behind the recovered tail names the last message committed.
 */
export const UPSTREAM_SLOTS_OFFSET = PRODUCER_LINE_OFFSET + 64;
export const UPSTREAM_SLOT_LENGTH = 24;
export const UPSTREAM_SLOT_COUNT = 2;
export const UPSTREAM_STAMP_OFFSET = 0;
export const UPSTREAM_ID_OFFSET = 4;
export const UPSTREAM_POSITION_OFFSET = 8;
export const UPSTREAM_SEQUENCE_OFFSET = 16;

export const PRODUCER_STATE_NONE = 0;
export const PRODUCER_STATE_ACTIVE = 1;
export const PRODUCER_STATE_CLOSED = 2;

/*
 * Wake line (offset 256):
 *   +0  wake sequence: the futex word. The producer adds 1 and FUTEX_WAKEs it when a consumer said it sleeps.
 *   +4  wake requested (broadcast mode): a receiver about to sleep sets it to 1; the transmitter that finds it set
 *       clears it and wakes. Reliable consumers mark the empty record slot instead (SLEEPING_MARK), which costs the
 *       producer nothing per message.
 */
export const WAKE_LINE_OFFSET = PRODUCER_LINE_OFFSET + LINE_LENGTH;
export const WAKE_SEQUENCE_OFFSET = WAKE_LINE_OFFSET;
export const WAKE_REQUESTED_OFFSET = WAKE_SEQUENCE_OFFSET + SIZE_OF_INT32;

/*
 * Counters line (offset 384), int64 counts written only by the reliable producer, only off the per-message path
 * (where it refuses an offer, evicts, reaps), stored as positions are (position.ts). They count for the ring: a
 * producer that attaches continues from the counts it finds. Bytes 24..127 are zero.
 *   +0  back-pressure events: offers and claims refused with BACK_PRESSURED
 *   +8  evicted consumers: live consumers evicted for stalling past the eviction timeout
 *   +16 reaped consumers: slots of dead consumers freed
 */
export const COUNTERS_LINE_OFFSET = WAKE_LINE_OFFSET + LINE_LENGTH;
export const BACK_PRESSURE_EVENTS_OFFSET = COUNTERS_LINE_OFFSET;
export const EVICTED_CONSUMERS_OFFSET = BACK_PRESSURE_EVENTS_OFFSET + SIZE_OF_INT64;
export const REAPED_CONSUMERS_OFFSET = EVICTED_CONSUMERS_OFFSET + SIZE_OF_INT64;

/*
 * Consumer slot i at CONSUMER_SLOTS_OFFSET + i * CONSUMER_SLOT_LENGTH (reliable consumers; in a broadcast ring, the
 * receivers that opt in to publishing their counters):
 *   +0  position (int64, two int32 halves): bytes consumed; written by the consumer once per poll batch
 *   +8  state word: generation << 8 | state; changed only with compareExchange, always bumping the generation
 *   +12 pid of the consumer (informational)
 *   +16 reliable: progress time (int64, ms since the epoch), by the consumer: at join, before a wait sleeps, when a
 *       poll finds it caught up after 64 empty polls, and at least once per capacity / 8 bytes it consumes
 *       broadcast: laps (int64), by the receiver, each time the transmitter lapped it
 *   +24 reliable: blocked-since time (int64, ms since the epoch), by a back-pressured producer: since when this
 *       consumer holds it back without moving; 0 when it does not
 *       broadcast: lost bytes (int64), by the receiver, the bytes lapping made it skip
 *   +32 .. +127 durable consumers' fields (below)
 * A live consumer holds an OFD lock on file byte CONSUMER_LOCK_BYTE_BASE + i.
 */
export const CONSUMER_SLOTS_OFFSET = COUNTERS_LINE_OFFSET + LINE_LENGTH;
export const CONSUMER_SLOT_LENGTH = LINE_LENGTH;
export const SLOT_POSITION_OFFSET = 0;
export const SLOT_STATE_OFFSET = SLOT_POSITION_OFFSET + SIZE_OF_INT64;
export const SLOT_PID_OFFSET = SLOT_STATE_OFFSET + SIZE_OF_INT32;
export const SLOT_PROGRESS_TIME_OFFSET = SLOT_PID_OFFSET + SIZE_OF_INT32;
export const SLOT_BLOCKED_SINCE_OFFSET = SLOT_PROGRESS_TIME_OFFSET + SIZE_OF_INT64;
export const SLOT_LAPS_OFFSET = SLOT_PROGRESS_TIME_OFFSET;
export const SLOT_LOST_BYTES_OFFSET = SLOT_BLOCKED_SINCE_OFFSET;

export const SLOT_FREE = 0;
export const SLOT_ACTIVE = 1;
export const SLOT_EVICTED = 2;
export const SLOT_STATE_MASK = 0xff;
/** The state word's generation sits above its 8-bit state. */
export const SLOT_GENERATION_SHIFT = 8;

/** Byte of the file the producer holds an exclusive OFD lock on (locks are advisory; no data is touched). */
export const PRODUCER_LOCK_BYTE = 0;
/** Consumer slot i's lock byte is CONSUMER_LOCK_BYTE_BASE + i. */
export const CONSUMER_LOCK_BYTE_BASE = 1;

/*
 * Record header (reliable mode), 8-byte aligned; a record never wraps:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |   record length = header + payload (0 = not yet committed)    |  0
 *   +-----------------------------------------------+---------------+
 *   |                 type id (24 bits)             |     flags     |  4
 *   +-----------------------------------------------+---------------+
 *   |                        payload ...                            |  8
 *
 * The type word is typeId | flags << 24; flags: BEGIN 0x80, END 0x40 (both = unfragmented).
 * A type word of -1 (all ones) is padding: skip `record length` bytes.
 */
// Declared, then exported in one list: the record-word helpers below read them as module constants, which V8 folds
// into the per-message code it inlines them in (a reference to an `export const` compiles to a load from `exports`).
const LENGTH_FIELD_OFFSET = 0;
const TYPE_FIELD_OFFSET = LENGTH_FIELD_OFFSET + SIZE_OF_INT32;
const HEADER_LENGTH = TYPE_FIELD_OFFSET + SIZE_OF_INT32;
const RECORD_ALIGNMENT = 8;
const FLAGS_SHIFT = 24;
const TYPE_ID_MASK = 0xffffff;
export { LENGTH_FIELD_OFFSET, TYPE_FIELD_OFFSET, HEADER_LENGTH, RECORD_ALIGNMENT, FLAGS_SHIFT, TYPE_ID_MASK };
export const MAX_TYPE_ID = TYPE_ID_MASK - 1;
export const BEGIN_FLAG = 0x80;
export const END_FLAG = 0x40;
export const UNFRAGMENTED = BEGIN_FLAG | END_FLAG;
export const PADDING_TYPE = -1;
/**
 * A consumer about to sleep swaps the empty length word at its position from 0 to SLEEPING_MARK; the producer
 * commits with an atomic exchange and wakes the futex when it replaces this mark (reliable mode).
 */
export const SLEEPING_MARK = -1;

/*
 * Broadcast mode: the data region is Agrona's broadcast buffer, byte for byte: `capacity` bytes of records
 * (int32 length = header + payload, unaligned; int32 type >= 1, -1 = padding; 8-byte aligned starts), then a
 * 128-byte trailer of int64 counters.
 */
export const BROADCAST_TRAILER_LENGTH = LINE_LENGTH;
export const TAIL_INTENT_COUNTER_OFFSET = 0;
export const TAIL_COUNTER_OFFSET = TAIL_INTENT_COUNTER_OFFSET + SIZE_OF_INT64;
export const LATEST_COUNTER_OFFSET = TAIL_COUNTER_OFFSET + SIZE_OF_INT64;
export const BROADCAST_PADDING_TYPE = -1;

/** Limits every ring's header is validated against (policy defaults live with the options, in ring-file.ts). */
export const MIN_CAPACITY = PAGE_LENGTH;
export const MAX_CAPACITY = 1 << 30;
export const MAX_CONSUMERS_LIMIT = 1024;

/*
 * Durable consumer fields, consumer slot bytes 32..127 (reliable mode). A slot whose name length is not 0 belongs to
 * a named durable consumer: it keeps its state and position when its process goes away, no other consumer takes it,
 * and the producer never reaps it, only evicts it once it was away durableTimeoutMs (see docs/FORMAT.md).
 *   +32 durable timeout, ms (int32 >= 1)
 *   +36 durable name length, bytes (0 = not durable); written last when a slot is named
 *   +40 detached since, ms since the epoch (int64; 0 = attached, or its death not noticed yet)
 *   +48 evicted at, ms since the epoch (int64; meaningful only while the state is evicted)
 *   +64 durable name, UTF-8, at most DURABLE_NAME_MAX_LENGTH bytes
 * Naming a slot, and looking a name up, happens under an OFD write lock on file byte DURABLE_NAMES_LOCK_BYTE.
 */
// The durable fields start at 32, after the progress/blocked-since (laps/lost bytes) words.
export const SLOT_DURABLE_TIMEOUT_OFFSET = SLOT_BLOCKED_SINCE_OFFSET + SIZE_OF_INT64;
export const SLOT_DURABLE_NAME_LENGTH_OFFSET = SLOT_DURABLE_TIMEOUT_OFFSET + SIZE_OF_INT32;
export const SLOT_DETACHED_SINCE_OFFSET = SLOT_DURABLE_NAME_LENGTH_OFFSET + SIZE_OF_INT32;
export const SLOT_EVICTED_AT_OFFSET = SLOT_DETACHED_SINCE_OFFSET + SIZE_OF_INT64;
// 8 bytes reserved, then the name runs to the end of the slot.
export const SLOT_DURABLE_NAME_OFFSET = SLOT_EVICTED_AT_OFFSET + 2 * SIZE_OF_INT64;
export const DURABLE_NAME_MAX_LENGTH = CONSUMER_SLOT_LENGTH - SLOT_DURABLE_NAME_OFFSET;
export const DURABLE_NAMES_LOCK_BYTE = CONSUMER_LOCK_BYTE_BASE + MAX_CONSUMERS_LIMIT;

/** Rounds `value` up to a multiple of the power of two `alignment`. */
export function align(value: number, alignment: number): number {
  return (value + alignment - 1) & ~(alignment - 1);
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

/** Byte offset of consumer slot `slot`. */
export function consumerSlotOffset(slot: number): number {
  return CONSUMER_SLOTS_OFFSET + slot * CONSUMER_SLOT_LENGTH;
}

/** Where the data region starts for a ring with `maxConsumers` slots. */
export function dataOffsetFor(maxConsumers: number): number {
  return align(consumerSlotOffset(maxConsumers), PAGE_LENGTH);
}

/** Total file length: header, data region (plus the mode's trailer), rounded up to whole pages. */
export function fileLengthFor(mode: number, capacity: number, maxConsumers: number): number {
  return align(dataOffsetFor(maxConsumers) + capacity + trailerLengthFor(mode), PAGE_LENGTH);
}

/** The largest message a ring can carry: capacity / 8 (as Aeron and Agrona). */
export function maxMessageLengthFor(capacity: number): number {
  return capacity >>> 3;
}

/**
 * Converts a byte offset to an Int32Array index. Only this module does `>> 2`: here, and inline in the record-word
 * helpers below.
 */
export function int32Index(byteOffset: number): number {
  return byteOffset >> 2;
}

/*
 * Records, for the per-message path. A record offset is the record's byte offset in the mapping (data offset + index
 * in the ring). V8 inlines these helpers; they do their own arithmetic rather than call `int32Index`/`align`, whose
 * type feedback (shared by every caller, file lengths past 2^30 included) would take them off the small-integer path.
 */

/** A record's length (header included) for a payload of `payloadLength` bytes. */
export function recordLengthFor(payloadLength: number): number {
  return payloadLength + HEADER_LENGTH;
}

/** The payload's length in a record of `recordLength` bytes. */
export function payloadLengthOf(recordLength: number): number {
  return recordLength - HEADER_LENGTH;
}

/** Where a record's payload starts. */
export function payloadOffset(recordOffset: number): number {
  return recordOffset + HEADER_LENGTH;
}

/** Index of a record's length word: the commit word (0 = not committed, SLEEPING_MARK = empty, a consumer sleeps). */
export function recordLengthIndex(recordOffset: number): number {
  return (recordOffset + LENGTH_FIELD_OFFSET) >> 2;
}

/** Index of a record's type word (typeId | flags << FLAGS_SHIFT in reliable mode, the type in broadcast mode). */
export function recordTypeIndex(recordOffset: number): number {
  return (recordOffset + TYPE_FIELD_OFFSET) >> 2;
}

/** The record's length rounded up to the record alignment: where the next record starts. */
export function alignedRecordLength(recordLength: number): number {
  return (recordLength + RECORD_ALIGNMENT - 1) & -RECORD_ALIGNMENT;
}

/** A reliable record's type word. */
export function typeWord(typeId: number, flags: number): number {
  return typeId | (flags << FLAGS_SHIFT);
}

/** The flags of a reliable record's type word. */
export function typeWordFlags(word: number): number {
  return word >>> FLAGS_SHIFT;
}

/** The type id of a reliable record's type word. */
export function typeWordTypeId(word: number): number {
  return word & TYPE_ID_MASK;
}

/** Where a broadcast ring's trailer starts: right after the data region. */
export function broadcastTrailerOffset(dataOffset: number, capacity: number): number {
  return dataOffset + capacity;
}

/* Consumer slot words (Int32Array indices) and the state word. */

export function slotPositionIndex(slot: number): number {
  return int32Index(consumerSlotOffset(slot) + SLOT_POSITION_OFFSET);
}

export function slotStateIndex(slot: number): number {
  return int32Index(consumerSlotOffset(slot) + SLOT_STATE_OFFSET);
}

export function slotPidIndex(slot: number): number {
  return int32Index(consumerSlotOffset(slot) + SLOT_PID_OFFSET);
}

/** Int32Array index of the int32 field at byte `offset` of consumer slot `slot`. */
export function slotFieldIndex(slot: number, offset: number): number {
  return int32Index(consumerSlotOffset(slot) + offset);
}

/** BigInt64Array index of the int64 field at byte `offset` (a multiple of 8) of consumer slot `slot`. */
export function slotField64Index(slot: number, offset: number): number {
  return (consumerSlotOffset(slot) + offset) >> 3;
}

/** The state (SLOT_FREE, SLOT_ACTIVE, SLOT_EVICTED) of a slot's state word. */
export function slotState(word: number): number {
  return word & SLOT_STATE_MASK;
}

/**
 * The word that moves a slot from `word` to `state`: the generation goes up by one with every change (wrapping at
 * 2^24), so a slot freed and taken again is never confused with its previous owner.
 */
export function nextSlotWord(word: number, state: number): number {
  return (((word >>> SLOT_GENERATION_SHIFT) + 1) << SLOT_GENERATION_SHIFT) | state;
}

/* ==================================================================================================================
 * Many-to-one mode: the data region is Agrona's ManyToOneRingBuffer (org.agrona.concurrent.ringbuffer), byte for
 * byte: `capacity` bytes of records, then RING_BUFFER_TRAILER_LENGTH bytes of int64 counters, each alone on two
 * 64-byte cache lines (RingBufferDescriptor). Offsets below are within the trailer (at dataOffset + capacity).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |                     (unused, 128 bytes)                       |    0
 *   +---------------------------------------------------------------+
 *   |            tail position (int64, CAS by producers)            |  128
 *   +---------------------------------------------------------------+
 *   |        head cache position (int64, producers' hint)           |  256
 *   +---------------------------------------------------------------+
 *   |             head position (int64, the consumer)               |  384
 *   +---------------------------------------------------------------+
 *   |          correlation counter (int64, fetch-and-add)           |  512
 *   +---------------------------------------------------------------+
 *   |      consumer heartbeat (int64, ms since epoch, consumer)     |  640
 *   +---------------------------------------------------------------+
 *
 * Record (RecordDescriptor), 8-byte aligned:
 *   +0 int32 length = header + payload: negative while its producer writes it, positive once committed, 0 unclaimed
 *   +4 int32 type id (>= 1; -1 = padding, skipped)
 *   +8 payload
 * ================================================================================================================== */
export const MODE_MANY_TO_ONE = 3;
export const RING_BUFFER_TRAILER_LENGTH = 768;
export const TAIL_POSITION_OFFSET = 128;
export const HEAD_CACHE_POSITION_OFFSET = 256;
export const HEAD_POSITION_OFFSET = 384;
export const CORRELATION_COUNTER_OFFSET = 512;
export const CONSUMER_HEARTBEAT_OFFSET = 640;
/** Agrona's PADDING_MSG_TYPE_ID. */
export const RING_BUFFER_PADDING_TYPE = -1;
/** A many-to-one ring has exactly one consumer: slot 0 (its lock byte, its pid, its state). */
export const MANY_TO_ONE_CONSUMER_SLOT = 0;

/** Bytes after the data region: the broadcast or ring-buffer trailer, or none (reliable). */
export function trailerLengthFor(mode: number): number {
  if (mode === MODE_BROADCAST) return BROADCAST_TRAILER_LENGTH;
  return mode === MODE_MANY_TO_ONE ? RING_BUFFER_TRAILER_LENGTH : 0;
}
