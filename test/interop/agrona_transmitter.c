/*
 * agrona_transmitter: writes test messages (message.h) into an Agrona broadcast region inside a file, the way a
 * JVM BroadcastTransmitter would. The interop tests run it against rings shmring created.
 *
 *   agrona_transmitter PATH REGION_OFFSET CAPACITY COUNT [--seed N] [--min-len A --max-len B] [--type T]
 *                      [--start-seq S] [--rate-delay-us N [--burst K]]
 *
 * Sends seqs S .. S + COUNT - 1 (S = 0 by default), sleeping N microseconds after every K messages (K = 1).
 * Prints one JSON line when done: {"sent","paddingRecords","firstSeq","lastSeq","tailIntent","tail","latest"}.
 * Exit status: 0 done, 2 bad arguments or file.
 */
#define _POSIX_C_SOURCE 200809L

#include "agrona_broadcast.h"
#include "message.h"
#include "peer_common.h"

static void usage(void) {
  fprintf(stderr,
          "usage: agrona_transmitter PATH REGION_OFFSET CAPACITY COUNT [--seed N] [--min-len A --max-len B]\n"
          "                          [--type T] [--start-seq S] [--rate-delay-us N [--burst K]]\n");
  exit(PEER_EXIT_USAGE);
}

int main(int argc, char **argv) {
  if (argc < 5) usage();
  const char *path = argv[1];
  const int64_t region_offset = peer_parse_int("REGION_OFFSET", argv[2], 0, INT64_MAX / 2);
  const int64_t capacity = peer_parse_int("CAPACITY", argv[3], 1, 1 << 30);
  const int64_t count = peer_parse_int("COUNT", argv[4], 0, INT64_MAX / 2);
  int64_t seed = 1, min_length = MSG_MIN_LENGTH, max_length = -1, type_id = 1, start_seq = 0;
  int64_t rate_delay_us = 0, burst = 1;

  for (int i = 5; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(opt, "--seed") == 0) seed = peer_parse_int("seed", value, 0, UINT32_MAX);
    else if (strcmp(opt, "--min-len") == 0) min_length = peer_parse_int("min-len", value, MSG_MIN_LENGTH, 1 << 27);
    else if (strcmp(opt, "--max-len") == 0) max_length = peer_parse_int("max-len", value, MSG_MIN_LENGTH, 1 << 27);
    else if (strcmp(opt, "--type") == 0) type_id = peer_parse_int("type", value, 1, INT32_MAX);
    else if (strcmp(opt, "--start-seq") == 0) start_seq = peer_parse_int("start-seq", value, 0, UINT32_MAX);
    else if (strcmp(opt, "--rate-delay-us") == 0) rate_delay_us = peer_parse_int("rate-delay-us", value, 0, 10000000);
    else if (strcmp(opt, "--burst") == 0) burst = peer_parse_int("burst", value, 1, INT32_MAX);
    else usage();
  }

  peer_mapping m;
  peer_map(&m, path, region_offset, capacity);
  const ab_buffer *b = &m.buffer;
  if (max_length < 0) max_length = b->max_msg_length;
  if (max_length > b->max_msg_length || min_length > max_length) {
    fprintf(stderr, "need %d <= min-len <= max-len <= capacity / 8: min-len=%lld max-len=%lld capacity=%lld\n",
            MSG_MIN_LENGTH, (long long)min_length, (long long)max_length, (long long)capacity);
    return PEER_EXIT_USAGE;
  }

  if (start_seq + count - 1 > (int64_t)UINT32_MAX) {
    fprintf(stderr, "seqs are uint32: start-seq=%lld count=%lld\n", (long long)start_seq, (long long)count);
    return PEER_EXIT_USAGE;
  }
  uint8_t *scratch = calloc(1, (size_t)ab_align(max_length, 8));
  if (scratch == NULL) {
    fprintf(stderr, "out of memory: max-len=%lld\n", (long long)max_length);
    return PEER_EXIT_USAGE;
  }
  int64_t padding_records = 0;
  for (int64_t n = 0; n < count; n++) {
    const uint32_t seq = (uint32_t)(start_seq + n);
    const int32_t length = msg_encode(scratch, (uint32_t)seed, seq, (int32_t)min_length, (int32_t)max_length);
    const int padded = ab_transmit(b, (int32_t)type_id, scratch, length);
    if (padded < 0) {
      fprintf(stderr, "transmit refused: length=%d maxMsgLength=%d\n", length, b->max_msg_length);
      return PEER_EXIT_USAGE;
    }
    padding_records += padded;
    if (rate_delay_us > 0 && (n + 1) % burst == 0) peer_sleep_us(rate_delay_us);
  }

  printf("{\"sent\":%lld,\"paddingRecords\":%lld,\"firstSeq\":%lld,\"lastSeq\":%lld,"
         "\"tailIntent\":%lld,\"tail\":%lld,\"latest\":%lld}\n",
         (long long)count, (long long)padding_records, (long long)start_seq, (long long)(start_seq + count - 1),
         (long long)ab_load_counter(b, AB_TAIL_INTENT_COUNTER_OFFSET),
         (long long)ab_load_counter(b, AB_TAIL_COUNTER_OFFSET),
         (long long)ab_load_counter(b, AB_LATEST_COUNTER_OFFSET));
  free(scratch);
  peer_unmap(&m);
  return 0;
}
