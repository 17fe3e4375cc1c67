/*
 * A small, self-contained C11 implementation of Agrona's ManyToOneRingBuffer (org.agrona.concurrent.ringbuffer),
 * written from the format alone (RingBufferDescriptor, RecordDescriptor and docs/interop-agrona.md), not from shmring's
 * TypeScript. The interop tests run it against shmring's many-to-one rings: C producers beside Node producers, a C
 * consumer reading what Node wrote.
 *
 * Region: `capacity` bytes of records (a power of two), then a 768-byte trailer of int64 counters, each alone on two
 * 64-byte cache lines: tail at +128, head cache at +256, head at +384, correlation counter at +512, consumer heartbeat
 * at +640.
 * Record: int32 length at +0 (header + payload; negative while its producer writes it, positive once committed, 0 for
 * unclaimed space), int32 type at +4 (>= 1; -1 padding), payload at +8; records start 8-byte aligned.
 *
 * Produce: claim by a full 64-bit compare-and-swap of the tail: read the head cache (re-read the head when the ring
 * looks full and publish it to the head cache), and when the record would cross the end of the ring claim the rest of
 * the ring too and write it as a padding record (the record then goes to offset 0, if the head has passed that far).
 * Then store -length (release), fence, write payload and type, store +length (release).
 * Consume: from the head, read records while their length is positive, skip padding, up to the end of the ring; then
 * zero the bytes read and store the new head (release).
 */
#ifndef SHMRING_INTEROP_AGRONA_RING_BUFFER_H
#define SHMRING_INTEROP_AGRONA_RING_BUFFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define RB_TRAILER_LENGTH 768
#define RB_TAIL_OFFSET 128
#define RB_HEAD_CACHE_OFFSET 256
#define RB_HEAD_OFFSET 384
#define RB_CORRELATION_OFFSET 512
#define RB_HEARTBEAT_OFFSET 640
#define RB_HEADER_LENGTH 8
#define RB_ALIGNMENT 8
#define RB_PADDING_TYPE (-1)
#define RB_INSUFFICIENT (-2)

typedef struct rb_buffer {
  uint8_t *base;
  int32_t capacity;
  int32_t max_msg_length;
} rb_buffer;

static inline bool rb_is_power_of_two(int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

static inline int32_t rb_align(int32_t v, int32_t a) {
  return (v + a - 1) & ~(a - 1);
}

/** Wraps `capacity` bytes of records + the trailer at `base` (8-byte aligned). 0, or -1 for a bad capacity. */
static inline int rb_init(rb_buffer *b, uint8_t *base, int64_t capacity) {
  if (!rb_is_power_of_two(capacity) || capacity < RB_HEADER_LENGTH || capacity > (1 << 30)) return -1;
  b->base = base;
  b->capacity = (int32_t)capacity;
  b->max_msg_length = (int32_t)(capacity >> 3);
  return 0;
}

static inline _Atomic int64_t *rb_counter(const rb_buffer *b, int32_t offset) {
  return (_Atomic int64_t *)(void *)(b->base + b->capacity + offset);
}

static inline _Atomic int32_t *rb_length_at(const rb_buffer *b, int32_t index) {
  return (_Atomic int32_t *)(void *)(b->base + index);
}

static inline int32_t *rb_type_at(const rb_buffer *b, int32_t index) {
  return (int32_t *)(void *)(b->base + index + 4);
}

/** Claims `required` aligned bytes; returns the record index or RB_INSUFFICIENT. */
static inline int32_t rb_claim(const rb_buffer *b, int32_t required) {
  _Atomic int64_t *tail_counter = rb_counter(b, RB_TAIL_OFFSET);
  _Atomic int64_t *head_counter = rb_counter(b, RB_HEAD_OFFSET);
  _Atomic int64_t *head_cache = rb_counter(b, RB_HEAD_CACHE_OFFSET);
  const int32_t capacity = b->capacity;
  const int32_t mask = capacity - 1;
  int64_t head = atomic_load_explicit(head_cache, memory_order_acquire);
  int64_t tail, new_tail;
  int32_t tail_index, padding, write_index;
  do {
    tail = atomic_load_explicit(tail_counter, memory_order_acquire);
    if (required > capacity - (int32_t)(tail - head)) {
      head = atomic_load_explicit(head_counter, memory_order_acquire);
      if (required > capacity - (int32_t)(tail - head)) return RB_INSUFFICIENT;
      atomic_store_explicit(head_cache, head, memory_order_release);
    }
    new_tail = tail + required;
    padding = 0;
    tail_index = (int32_t)tail & mask;
    write_index = tail_index;
    const int32_t to_end = capacity - tail_index;
    if (required > to_end) {
      int32_t head_index = (int32_t)head & mask;
      write_index = 0;
      if (required > head_index) {
        head = atomic_load_explicit(head_counter, memory_order_acquire);
        head_index = (int32_t)head & mask;
        if (required > head_index) {
          write_index = RB_INSUFFICIENT;
          new_tail = tail;
        }
        atomic_store_explicit(head_cache, head, memory_order_release);
      }
      padding = to_end;
      new_tail += padding;
    }
  } while (!atomic_compare_exchange_strong_explicit(tail_counter, &tail, new_tail, memory_order_acq_rel,
                                                    memory_order_acquire));
  if (padding != 0) {
    atomic_store_explicit(rb_length_at(b, tail_index), -padding, memory_order_release);
    atomic_thread_fence(memory_order_release);
    *rb_type_at(b, tail_index) = RB_PADDING_TYPE;
    atomic_store_explicit(rb_length_at(b, tail_index), padding, memory_order_release);
  }
  return write_index;
}

/** Writes one message. 1 written, 0 ring full, -1 refused (length or type). */
static inline int rb_write(const rb_buffer *b, int32_t type_id, const uint8_t *src, int32_t length) {
  if (type_id < 1 || length < 0 || length > b->max_msg_length) return -1;
  const int32_t record_length = length + RB_HEADER_LENGTH;
  const int32_t index = rb_claim(b, rb_align(record_length, RB_ALIGNMENT));
  if (index == RB_INSUFFICIENT) return 0;
  atomic_store_explicit(rb_length_at(b, index), -record_length, memory_order_release);
  atomic_thread_fence(memory_order_release);
  memcpy(b->base + index + RB_HEADER_LENGTH, src, (size_t)length);
  *rb_type_at(b, index) = type_id;
  atomic_store_explicit(rb_length_at(b, index), record_length, memory_order_release);
  return 1;
}

/**
 * Claims a record and leaves it claimed (length negative, nothing more written): what a producer killed between
 * claim and commit leaves behind. Returns the record index or RB_INSUFFICIENT.
 */
static inline int32_t rb_claim_only(const rb_buffer *b, int32_t type_id, int32_t length) {
  const int32_t record_length = length + RB_HEADER_LENGTH;
  const int32_t index = rb_claim(b, rb_align(record_length, RB_ALIGNMENT));
  if (index == RB_INSUFFICIENT) return index;
  atomic_store_explicit(rb_length_at(b, index), -record_length, memory_order_release);
  *rb_type_at(b, index) = type_id;
  return index;
}

typedef void (*rb_handler)(void *ctx, int32_t type_id, const uint8_t *msg, int32_t length);

/**
 * Reads up to `limit` messages (up to the end of the ring). Returns how many, or -1 on an impossible record length
 * (nothing past it is read). `*padding` counts the padding records skipped.
 */
static inline int rb_read(const rb_buffer *b, rb_handler handler, void *ctx, int limit, int64_t *padding) {
  _Atomic int64_t *head_counter = rb_counter(b, RB_HEAD_OFFSET);
  const int64_t head = atomic_load_explicit(head_counter, memory_order_relaxed);
  const int32_t head_index = (int32_t)head & (b->capacity - 1);
  const int32_t max_block = b->capacity - head_index;
  int32_t bytes_read = 0;
  int read = 0;
  int status = 0;
  while (bytes_read < max_block && read < limit) {
    const int32_t index = head_index + bytes_read;
    const int32_t length = atomic_load_explicit(rb_length_at(b, index), memory_order_acquire);
    if (length <= 0) break;
    const int32_t aligned = rb_align(length, RB_ALIGNMENT);
    if (length < RB_HEADER_LENGTH || aligned > max_block - bytes_read) {
      status = -1;
      break;
    }
    bytes_read += aligned;
    const int32_t type_id = *rb_type_at(b, index);
    if (type_id == RB_PADDING_TYPE) {
      (*padding)++;
      continue;
    }
    handler(ctx, type_id, b->base + index + RB_HEADER_LENGTH, length - RB_HEADER_LENGTH);
    read++;
  }
  if (bytes_read > 0) {
    memset(b->base + head_index, 0, (size_t)bytes_read);
    atomic_store_explicit(head_counter, head + bytes_read, memory_order_release);
  }
  return status < 0 ? -1 : read;
}

static inline int64_t rb_load(const rb_buffer *b, int32_t offset) {
  return atomic_load_explicit(rb_counter(b, offset), memory_order_acquire);
}

static inline void rb_store(const rb_buffer *b, int32_t offset, int64_t value) {
  atomic_store_explicit(rb_counter(b, offset), value, memory_order_release);
}

/** Agrona's nextCorrelationId: a 64-bit fetch-and-add. */
static inline int64_t rb_next_correlation_id(const rb_buffer *b) {
  return atomic_fetch_add_explicit(rb_counter(b, RB_CORRELATION_OFFSET), 1, memory_order_acq_rel);
}

#endif /* SHMRING_INTEROP_AGRONA_RING_BUFFER_H */
