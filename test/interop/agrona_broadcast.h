/*
 * An independent C11 implementation of Agrona's broadcast buffer (org.agrona.concurrent.broadcast), written from
 * the format description in docs/interop-agrona.md, not from shmring's TypeScript. It is the "other side" the
 * interop tests run against shmring's broadcast mode: if both follow the format, they exchange messages.
 *
 * Region (starts 8-byte aligned; shmring puts it at the page-aligned file offset `dataOffset`):
 *
 *   0                                    capacity                      capacity + 128
 *   +------------------------------------+---------------------------------+
 *   |  records (capacity = power of two) |  trailer (128 bytes)            |
 *   +------------------------------------+---------------------------------+
 *
 * Trailer, int64 little-endian counters that only grow (a position's ring offset is position & (capacity - 1)):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |                     tail intent (int64)                       |  +0
 *   +---------------------------------------------------------------+
 *   |                        tail (int64)                           |  +8
 *   +---------------------------------------------------------------+
 *   |                       latest (int64)                          |  +16
 *   +---------------------------------------------------------------+
 *   |                      zero to +128                             |  +24
 *
 * Record, 8-byte aligned start, never wraps:
 *
 *   +---------------------------------------------------------------+
 *   |        record length = 8 + payload length (NOT aligned)       |  +0
 *   +---------------------------------------------------------------+
 *   |           type id (>= 1; -1 = padding to the ring end)         |  +4
 *   +---------------------------------------------------------------+
 *   |                        payload ...                            |  +8
 *
 * Transmit (one writer): read tail; if the aligned record does not fit before the ring end, set tail intent to
 * (new tail + bytes to the end), write a padding record covering the rest of the ring and continue at offset 0;
 * else set tail intent to the new tail. A release fence follows the tail-intent store, so no byte of the record
 * becomes visible before it. Then write length, type, payload; latest := record start (release);
 * tail := record start + aligned length (release).
 *
 * Receive (any number of readers, none visible to the writer): start at `latest` (or at 0); a record is readable
 * once tail > cursor. Before and after copying it, check cursor + capacity > tail intent; otherwise the writer
 * may have overwritten it (lapped): count the lap and jump to `latest`. A padding record moves the cursor to 0.
 *
 * Every access to the shared region is an atomic: counters with acquire loads / release stores, record bytes with
 * relaxed loads and stores, so the seqlock-style "copy, then validate" is data-race free in C11 terms.
 */
#ifndef SHMRING_AGRONA_BROADCAST_H
#define SHMRING_AGRONA_BROADCAST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define AB_TRAILER_LENGTH 128
#define AB_TAIL_INTENT_COUNTER_OFFSET 0
#define AB_TAIL_COUNTER_OFFSET 8
#define AB_LATEST_COUNTER_OFFSET 16

#define AB_HEADER_LENGTH 8
#define AB_RECORD_ALIGNMENT 8
#define AB_LENGTH_OFFSET 0
#define AB_TYPE_OFFSET 4
#define AB_PADDING_TYPE_ID (-1)

_Static_assert(AB_LATEST_COUNTER_OFFSET + 8 <= AB_TRAILER_LENGTH, "counters fit in the trailer");
_Static_assert(sizeof(_Atomic int64_t) == 8 && sizeof(_Atomic int32_t) == 4, "atomics have the plain layout");

/** A mapped broadcast region: `capacity` bytes of records then the trailer. */
typedef struct ab_buffer {
  uint8_t *base;
  int32_t capacity;
  int32_t max_msg_length;
} ab_buffer;

static inline int64_t ab_align(int64_t value, int64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

static inline bool ab_is_power_of_two(int64_t value) {
  return value > 0 && (value & (value - 1)) == 0;
}

static inline _Atomic int64_t *ab_counter(const ab_buffer *b, int32_t counter_offset) {
  return (_Atomic int64_t *)(void *)(b->base + (size_t)b->capacity + (size_t)counter_offset);
}

static inline _Atomic int32_t *ab_int32(const ab_buffer *b, int64_t offset) {
  return (_Atomic int32_t *)(void *)(b->base + offset);
}

static inline _Atomic uint64_t *ab_word(const ab_buffer *b, int64_t offset) {
  return (_Atomic uint64_t *)(void *)(b->base + offset);
}

/** Wraps `capacity + AB_TRAILER_LENGTH` bytes at `region`. Returns 0, or -1 when the region cannot be one. */
static inline int ab_buffer_init(ab_buffer *b, uint8_t *region, int64_t capacity) {
  if (!ab_is_power_of_two(capacity) || capacity > (1 << 30) || ((uintptr_t)region % 8) != 0) return -1;
  b->base = region;
  b->capacity = (int32_t)capacity;
  b->max_msg_length = (int32_t)(capacity / 8);
  return 0;
}

static inline int64_t ab_load_counter(const ab_buffer *b, int32_t counter_offset) {
  return atomic_load_explicit(ab_counter(b, counter_offset), memory_order_acquire);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Transmitter                                                                                                 */
/* ---------------------------------------------------------------------------------------------------------- */

/** Stores the tail intent; the release fence keeps every later record store behind it (Agrona: storeFence). */
static inline void ab_signal_tail_intent(const ab_buffer *b, int64_t tail_intent) {
  atomic_store_explicit(ab_counter(b, AB_TAIL_INTENT_COUNTER_OFFSET), tail_intent, memory_order_release);
  atomic_thread_fence(memory_order_release);
}

/**
 * Transmits one message. `msg` must be readable for ab_align(length, 8) bytes (the aligned tail is copied as
 * whole words; it lands in the record's own alignment slack). Returns 1 when a padding record was written
 * first, 0 when not, -1 for a bad type id or length (nothing written).
 */
static inline int ab_transmit(const ab_buffer *b, int32_t type_id, const uint8_t *msg, int32_t length) {
  if (type_id < 1 || length < 0 || length > b->max_msg_length) return -1;

  const int64_t mask = b->capacity - 1;
  int64_t current_tail = atomic_load_explicit(ab_counter(b, AB_TAIL_COUNTER_OFFSET), memory_order_relaxed);
  int64_t record_offset = current_tail & mask;
  const int32_t record_length = AB_HEADER_LENGTH + length;
  const int64_t aligned_record_length = ab_align(record_length, AB_RECORD_ALIGNMENT);
  const int64_t new_tail = current_tail + aligned_record_length;
  const int64_t to_end_of_buffer = b->capacity - record_offset;
  int padded = 0;

  if (to_end_of_buffer < aligned_record_length) {
    ab_signal_tail_intent(b, new_tail + to_end_of_buffer);
    atomic_store_explicit(ab_int32(b, record_offset + AB_LENGTH_OFFSET), (int32_t)to_end_of_buffer,
                          memory_order_relaxed);
    atomic_store_explicit(ab_int32(b, record_offset + AB_TYPE_OFFSET), AB_PADDING_TYPE_ID, memory_order_relaxed);
    current_tail += to_end_of_buffer;
    record_offset = 0;
    padded = 1;
  } else {
    ab_signal_tail_intent(b, new_tail);
  }

  atomic_store_explicit(ab_int32(b, record_offset + AB_LENGTH_OFFSET), record_length, memory_order_relaxed);
  atomic_store_explicit(ab_int32(b, record_offset + AB_TYPE_OFFSET), type_id, memory_order_relaxed);
  for (int64_t i = 0; i < aligned_record_length - AB_HEADER_LENGTH; i += 8) {
    uint64_t word;
    memcpy(&word, msg + i, 8);
    atomic_store_explicit(ab_word(b, record_offset + AB_HEADER_LENGTH + i), word, memory_order_relaxed);
  }

  atomic_store_explicit(ab_counter(b, AB_LATEST_COUNTER_OFFSET), current_tail, memory_order_release);
  atomic_store_explicit(ab_counter(b, AB_TAIL_COUNTER_OFFSET), current_tail + aligned_record_length,
                        memory_order_release);
  return padded;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Receiver                                                                                                    */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct ab_receiver {
  const ab_buffer *buffer;
  int64_t cursor;      /* position of the record last returned by ab_receive_next */
  int64_t next_record; /* position to look at next */
  int64_t record_offset;
  int32_t record_length; /* as read by ab_receive_next: header + payload, unverified until ab_validate */
  int32_t type_id;
  int64_t lapped_count;        /* laps found before copying (ab_receive_next) */
  int64_t lapped_after_copy;   /* laps found by ab_validate after a copy: the copy was discarded */
  int64_t padding_records;     /* padding records stepped over */
} ab_receiver;

/** A receiver that starts at `latest` (Agrona's join point) or, when `from_start`, at position 0. */
static inline void ab_receiver_init(ab_receiver *r, const ab_buffer *b, bool from_start) {
  memset(r, 0, sizeof(*r));
  r->buffer = b;
  r->next_record = from_start ? 0 : ab_load_counter(b, AB_LATEST_COUNTER_OFFSET);
  r->cursor = r->next_record;
}

/** cursor + capacity > tail intent: nothing the writer intends to write reaches the record at `cursor`. */
static inline bool ab_validate_at(const ab_receiver *r, int64_t cursor) {
  return cursor + r->buffer->capacity > ab_load_counter(r->buffer, AB_TAIL_INTENT_COUNTER_OFFSET);
}

/**
 * Moves to the next record when one is readable and reads its header. Returns false when none is (tail has not
 * passed the cursor). The header it read is unverified: ab_copy, then ab_validate.
 */
static inline bool ab_receive_next(ab_receiver *r) {
  const ab_buffer *b = r->buffer;
  const int64_t mask = b->capacity - 1;
  const int64_t tail = ab_load_counter(b, AB_TAIL_COUNTER_OFFSET);
  int64_t cursor = r->next_record;
  if (tail <= cursor) return false;

  int64_t record_offset = cursor & mask;
  if (!ab_validate_at(r, cursor)) {
    r->lapped_count++;
    cursor = ab_load_counter(b, AB_LATEST_COUNTER_OFFSET);
    record_offset = cursor & mask;
  }

  int32_t length = atomic_load_explicit(ab_int32(b, record_offset + AB_LENGTH_OFFSET), memory_order_relaxed);
  int32_t type_id = atomic_load_explicit(ab_int32(b, record_offset + AB_TYPE_OFFSET), memory_order_relaxed);
  r->cursor = cursor;
  r->next_record = cursor + ab_align(length, AB_RECORD_ALIGNMENT);

  if (type_id == AB_PADDING_TYPE_ID) {
    r->padding_records++;
    record_offset = 0;
    r->cursor = r->next_record;
    length = atomic_load_explicit(ab_int32(b, AB_LENGTH_OFFSET), memory_order_relaxed);
    type_id = atomic_load_explicit(ab_int32(b, AB_TYPE_OFFSET), memory_order_relaxed);
    r->next_record += ab_align(length, AB_RECORD_ALIGNMENT);
  }

  r->record_offset = record_offset;
  r->record_length = length;
  r->type_id = type_id;
  return true;
}

/**
 * Copies the payload of the record ab_receive_next found into `dst` (room for `dst_capacity` bytes, a multiple
 * of 8) and stores its length in `*payload_length`. Returns false, copying nothing, when the header is
 * impossible (a lap tore it, or a writer broke the format: ab_validate tells which). The copy stands only once
 * ab_validate returns true. `tear`, when not NULL, is called halfway through the copy (tests sleep there to
 * widen the window ab_validate must catch).
 */
static inline bool ab_copy(const ab_receiver *r, uint8_t *dst, int32_t dst_capacity, int32_t *payload_length,
                           void (*tear)(void *), void *tear_arg) {
  const ab_buffer *b = r->buffer;
  const int32_t length = r->record_length;
  const int64_t aligned = ab_align(length, AB_RECORD_ALIGNMENT);
  if (length < AB_HEADER_LENGTH || length - AB_HEADER_LENGTH > b->max_msg_length ||
      r->record_offset + aligned > b->capacity || aligned - AB_HEADER_LENGTH > dst_capacity || r->type_id < 1) {
    return false;
  }
  const int64_t words = (aligned - AB_HEADER_LENGTH) / 8;
  for (int64_t i = 0; i < words; i++) {
    if (tear != NULL && i == words / 2) tear(tear_arg);
    const uint64_t word =
        atomic_load_explicit(ab_word(b, r->record_offset + AB_HEADER_LENGTH + 8 * i), memory_order_relaxed);
    memcpy(dst + 8 * i, &word, 8);
  }
  *payload_length = length - AB_HEADER_LENGTH;
  return true;
}

/**
 * After a copy: true when the record at the cursor was not lapped while it was read, so the copy stands. When it
 * was, counts the lap, moves the receiver to `latest` and returns false.
 */
static inline bool ab_validate(ab_receiver *r) {
  /* Agrona: loadFence before the validating load, so no load of the copy is ordered after it. */
  atomic_thread_fence(memory_order_acquire);
  if (ab_validate_at(r, r->cursor)) return true;
  r->lapped_after_copy++;
  r->next_record = ab_load_counter(r->buffer, AB_LATEST_COUNTER_OFFSET);
  return false;
}

/** Moves the receiver to `latest` (after a record it cannot make sense of). */
static inline void ab_skip_to_latest(ab_receiver *r) {
  r->next_record = ab_load_counter(r->buffer, AB_LATEST_COUNTER_OFFSET);
}

#endif /* SHMRING_AGRONA_BROADCAST_H */
