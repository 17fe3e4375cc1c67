/*
 * agrona_m2o_producer: writes test messages (message.h) into a ManyToOneRingBuffer region inside a file, the way a JVM
 * producer using Agrona's ManyToOneRingBuffer.write would (a full 64-bit CAS of the tail), beside other producers.
 *
 *   agrona_m2o_producer PATH REGION_OFFSET CAPACITY COUNT --type T --seed S --min-len A --max-len B --timeout-ms T
 *                       [--correlation-ids N] [--then-claim LENGTH]
 *
 * Sends seqs 0 .. COUNT - 1 with type id T; on a full ring it sleeps 20 µs and retries. --correlation-ids: also takes
 * N correlation ids (Agrona's nextCorrelationId) interleaved with the messages and prints their sum.
 * --then-claim: after the last message, claims LENGTH bytes, prints {"claimed":true} and hangs (to be killed).
 * Prints one JSON line when done: {"sent","backPressured","correlationIds","correlationSum","tail"}.
 * Exit status: 0 done, 2 bad arguments or file, 3 deadline passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "message.h"
#include "ring_buffer_peer.h"

static void usage(void) {
  fprintf(stderr,
          "usage: agrona_m2o_producer PATH REGION_OFFSET CAPACITY COUNT --type T --seed S --min-len A --max-len B\n"
          "                           --timeout-ms T [--correlation-ids N] [--then-claim LENGTH]\n");
  exit(PEER_EXIT_USAGE);
}

int main(int argc, char **argv) {
  if (argc < 5) usage();
  const char *path = argv[1];
  const int64_t region_offset = peer_parse_int("REGION_OFFSET", argv[2], 0, INT64_MAX / 2);
  const int64_t capacity = peer_parse_int("CAPACITY", argv[3], 1, 1 << 30);
  const int64_t count = peer_parse_int("COUNT", argv[4], 0, INT64_MAX / 2);
  int64_t type_id = 1, seed = 1, min_length = MSG_MIN_LENGTH, max_length = 64, timeout_ms = 30000;
  int64_t correlation_ids = 0, then_claim = -1;
  for (int i = 5; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(opt, "--type") == 0)
      type_id = peer_parse_int("type", value, 1, INT32_MAX);
    else if (strcmp(opt, "--seed") == 0)
      seed = peer_parse_int("seed", value, 0, UINT32_MAX);
    else if (strcmp(opt, "--min-len") == 0)
      min_length = peer_parse_int("min-len", value, MSG_MIN_LENGTH, 1 << 27);
    else if (strcmp(opt, "--max-len") == 0)
      max_length = peer_parse_int("max-len", value, MSG_MIN_LENGTH, 1 << 27);
    else if (strcmp(opt, "--timeout-ms") == 0)
      timeout_ms = peer_parse_int("timeout-ms", value, 1, 600000);
    else if (strcmp(opt, "--correlation-ids") == 0)
      correlation_ids = peer_parse_int("correlation-ids", value, 0, 1 << 30);
    else if (strcmp(opt, "--then-claim") == 0)
      then_claim = peer_parse_int("then-claim", value, 0, 1 << 27);
    else
      usage();
  }
  rb_mapping m;
  rb_peer_map(&m, path, region_offset, capacity);
  const rb_buffer *b = &m.buffer;
  if (max_length > b->max_msg_length || min_length > max_length) {
    fprintf(stderr, "need min-len <= max-len <= capacity / 8: max-len=%lld\n", (long long)max_length);
    return PEER_EXIT_USAGE;
  }
  uint8_t *scratch = calloc(1, (size_t)max_length);
  if (scratch == NULL) return PEER_EXIT_USAGE;
  const int64_t deadline = peer_now_ns() + timeout_ms * 1000000;
  int64_t back_pressured = 0, ids_taken = 0, id_sum = 0;
  for (int64_t seq = 0; seq < count; seq++) {
    const int32_t length = msg_encode(scratch, (uint32_t)seed, (uint32_t)seq, (int32_t)min_length, (int32_t)max_length);
    for (;;) {
      const int written = rb_write(b, (int32_t)type_id, scratch, length);
      if (written == 1) break;
      if (written < 0) return PEER_EXIT_USAGE;
      back_pressured++;
      if (peer_now_ns() > deadline) {
        printf("{\"timedOut\":true,\"sent\":%lld,\"backPressured\":%lld}\n", (long long)seq, (long long)back_pressured);
        return 3;
      }
      peer_sleep_us(20);
    }
    if (ids_taken < correlation_ids && seq % 4 == 0) {
      id_sum += rb_next_correlation_id(b);
      ids_taken++;
    }
  }
  while (ids_taken < correlation_ids) {
    id_sum += rb_next_correlation_id(b);
    ids_taken++;
  }
  printf("{\"sent\":%lld,\"backPressured\":%lld,\"correlationIds\":%lld,\"correlationSum\":%lld,\"tail\":%lld}\n",
         (long long)count, (long long)back_pressured, (long long)ids_taken, (long long)id_sum,
         (long long)rb_load(b, RB_TAIL_OFFSET));
  fflush(stdout);
  if (then_claim >= 0) {
    while (rb_claim_only(b, (int32_t)type_id, (int32_t)then_claim) == RB_INSUFFICIENT) {
      if (peer_now_ns() > deadline) return 3;
      peer_sleep_us(20);
    }
    printf("{\"claimed\":true}\n");
    fflush(stdout);
    for (;;) pause();
  }
  free(scratch);
  munmap(m.file_base, m.file_length);
  return 0;
}
