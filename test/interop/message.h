/*
 * The interop tests' message format. test/interop/message.ts is its TypeScript twin; the two must produce the
 * same bytes (test/agrona-interop.test.ts checks it through the peers).
 *
 * A message with sequence number `seq` (uint64, < 2^53) sent with seed `seed` (uint32) and length bounds
 * [minLength, maxLength] (12 <= minLength <= maxLength):
 *
 *   prng      mulberry32 seeded with fmix32(seed ^ imul(seqLow, 0x9E3779B1) ^ imul(seqHigh + 1, 0x85EBCA77))
 *             (fmix32 = MurmurHash3's finalizer; all arithmetic on uint32, imul = low 32 bits of the product)
 *   length L  minLength + prng() % (maxLength - minLength + 1)      (the first draw)
 *
 *   +0        uint64 LE  seq
 *   +8        L - 12 fill bytes: fill byte i = byte (i % 4), little-endian, of draw 2 + i / 4
 *   +L - 4    uint32 LE  FNV-1a 32 of bytes [0, L - 4)
 *
 * A receiver checks the checksum (needs nothing else) and, when it knows seed and bounds, the exact bytes.
 */
#ifndef SHMRING_INTEROP_MESSAGE_H
#define SHMRING_INTEROP_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MSG_SEQ_LENGTH 8
#define MSG_CHECKSUM_LENGTH 4
#define MSG_MIN_LENGTH (MSG_SEQ_LENGTH + MSG_CHECKSUM_LENGTH)

static inline uint32_t msg_fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

typedef struct msg_prng {
  uint32_t state;
} msg_prng;

static inline void msg_prng_init(msg_prng *p, uint32_t seed, uint64_t seq) {
  const uint32_t low = (uint32_t)seq;
  const uint32_t high = (uint32_t)(seq >> 32);
  p->state = msg_fmix32(seed ^ (low * 0x9E3779B1u) ^ ((high + 1u) * 0x85EBCA77u));
}

/** mulberry32 */
static inline uint32_t msg_prng_next(msg_prng *p) {
  p->state += 0x6D2B79F5u;
  uint32_t t = p->state;
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

static inline uint32_t msg_fnv1a(const uint8_t *bytes, int32_t length) {
  uint32_t h = 0x811C9DC5u;
  for (int32_t i = 0; i < length; i++) {
    h ^= bytes[i];
    h *= 0x01000193u;
  }
  return h;
}

static inline void msg_put_u32(uint8_t *dst, uint32_t v) {
  for (int i = 0; i < 4; i++) dst[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t msg_get_u32(const uint8_t *src) {
  return (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
}

static inline uint64_t msg_get_u64(const uint8_t *src) {
  return (uint64_t)msg_get_u32(src) | (uint64_t)msg_get_u32(src + 4) << 32;
}

/** Writes message `seq` into `dst` (room for max_length bytes) and returns its length. */
static inline int32_t msg_encode(uint8_t *dst, uint32_t seed, uint64_t seq, int32_t min_length, int32_t max_length) {
  msg_prng p;
  msg_prng_init(&p, seed, seq);
  const int32_t length = min_length + (int32_t)(msg_prng_next(&p) % (uint32_t)(max_length - min_length + 1));
  msg_put_u32(dst, (uint32_t)seq);
  msg_put_u32(dst + 4, (uint32_t)(seq >> 32));
  uint32_t word = 0;
  for (int32_t i = 0; i < length - MSG_MIN_LENGTH; i++) {
    if (i % 4 == 0) word = msg_prng_next(&p);
    dst[MSG_SEQ_LENGTH + i] = (uint8_t)(word >> (8 * (i % 4)));
  }
  msg_put_u32(dst + length - MSG_CHECKSUM_LENGTH, msg_fnv1a(dst, length - MSG_CHECKSUM_LENGTH));
  return length;
}

/** True when `length` bytes at `msg` carry a matching checksum. */
static inline bool msg_checksum_ok(const uint8_t *msg, int32_t length) {
  return length >= MSG_MIN_LENGTH &&
         msg_get_u32(msg + length - MSG_CHECKSUM_LENGTH) == msg_fnv1a(msg, length - MSG_CHECKSUM_LENGTH);
}

#endif /* SHMRING_INTEROP_MESSAGE_H */
