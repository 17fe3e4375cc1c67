/*
 * The tests' message format in C, for the interop peers: the twin of test/fixtures/ring/sequence.js, where the format
 * is written down. Both must produce the same bytes (test/agrona-interop.test.ts checks it through the peers, byte
 * for byte, in both directions). The peers send and expect stream 0, whose tail word is the seq itself.
 *
 * Message `seq` (uint32) of a run with `seed` (uint32) and length bounds [minLength, maxLength] (8 <= minLength):
 *
 *   key(salt)  fmix32(seed ^ (seq + 1) * 0x9E3779B1 ^ stream * 0x85EBCA77 ^ salt)   (uint32 arithmetic; stream 0)
 *   length L   minLength + key(0x1E6) % (maxLength - minLength + 1)
 *
 *   +0        uint32 LE  seq
 *   +4        L - 8 fill bytes: fill byte i = the low byte of draw i of mulberry32(key(0xF111))
 *   +L - 4    uint32 LE  seq (seq ^ fmix32(stream) for stream 0)
 *
 * A receiver checks the two ends (needs nothing else) and, when it knows seed and bounds, the exact bytes.
 */
#ifndef SHMRING_INTEROP_MESSAGE_H
#define SHMRING_INTEROP_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MSG_SEQ_LENGTH 4
#define MSG_TAIL_LENGTH 4
#define MSG_MIN_LENGTH (MSG_SEQ_LENGTH + MSG_TAIL_LENGTH)

static inline uint32_t msg_fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

static inline uint32_t msg_key(uint32_t seed, uint32_t seq, uint32_t salt) {
  return msg_fmix32(seed ^ ((seq + 1u) * 0x9E3779B1u) ^ salt);
}

/** mulberry32 */
static inline uint32_t msg_prng_next(uint32_t *state) {
  *state += 0x6D2B79F5u;
  uint32_t t = *state;
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

static inline void msg_put_u32(uint8_t *dst, uint32_t v) {
  for (int i = 0; i < 4; i++) dst[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t msg_get_u32(const uint8_t *src) {
  return (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
}

/** Writes message `seq` into `dst` (room for max_length bytes) and returns its length. */
static inline int32_t msg_encode(uint8_t *dst, uint32_t seed, uint32_t seq, int32_t min_length, int32_t max_length) {
  const int32_t length = min_length + (int32_t)(msg_key(seed, seq, 0x1E6u) % (uint32_t)(max_length - min_length + 1));
  uint32_t state = msg_key(seed, seq, 0xF111u);
  for (int32_t i = MSG_SEQ_LENGTH; i < length - MSG_TAIL_LENGTH; i++) dst[i] = (uint8_t)msg_prng_next(&state);
  msg_put_u32(dst, seq);
  msg_put_u32(dst + length - MSG_TAIL_LENGTH, seq);
  return length;
}

/** True when `length` bytes at `msg` carry the same seq at both ends (not torn, not misframed). */
static inline bool msg_ends_agree(const uint8_t *msg, int32_t length) {
  return length >= MSG_MIN_LENGTH && msg_get_u32(msg) == msg_get_u32(msg + length - MSG_TAIL_LENGTH);
}

#endif /* SHMRING_INTEROP_MESSAGE_H */
