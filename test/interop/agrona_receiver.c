/*
 * agrona_receiver: reads test messages (message.h) from an Agrona broadcast region inside a file, the way a JVM
 * CopyBroadcastReceiver would (copy the record, then validate it was not lapped during the copy), and checks
 * every message it keeps.
 *
 *   agrona_receiver PATH REGION_OFFSET CAPACITY --count N --timeout-ms T [--from latest|start]
 *                   [--seed S --min-len A --max-len B] [--type T] [--rate-delay-us N] [--tear-delay-us N]
 *                   [--unsafe-skip-validate]
 *
 * The sender sends seqs 0 .. N - 1; the receiver stops once it has delivered seq N - 1, or at the deadline.
 * --from: join at `latest` (Agrona's join point, the default) or at position 0 (safe: a lapped start is detected).
 * --seed/--min-len/--max-len: also compare each message byte for byte with the one message.h makes for its seq.
 * --type: the type id every record must carry (default 1).
 * --rate-delay-us: sleep after each delivered message (a slow receiver, to be lapped).
 * --tear-delay-us: sleep halfway through each copy (widens the window the after-copy validation must catch).
 * --unsafe-skip-validate: skip the after-copy validation (a negative control: the checks must then see torn
 *   copies as corrupt, proving they are not vacuous).
 *
 * Prints {"ready":true,"cursor":C} once mapped and positioned, then one JSON line at the end:
 *   {"received","lapped","lappedAfterCopy","lostBySeqGap","corrupt","outOfOrder","firstSeq","lastSeq",
 *    "paddingRecords","timedOut"}
 * `lapped` counts every lap (found before or after a copy); lostBySeqGap sums the gaps between delivered seqs.
 * Exit status: 0 done and clean, 1 a corrupt or out-of-order message was seen, 2 bad arguments, 3 deadline passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "agrona_broadcast.h"
#include "message.h"
#include "peer_common.h"

/** Sleep while idle: short enough to keep up, long enough not to burn one of two cores. */
#define IDLE_SLEEP_US 50

static void usage(void) {
  fprintf(stderr,
          "usage: agrona_receiver PATH REGION_OFFSET CAPACITY --count N --timeout-ms T [--from latest|start]\n"
          "                       [--seed S --min-len A --max-len B] [--type T] [--rate-delay-us N]"
          " [--tear-delay-us N]\n"
          "                       [--unsafe-skip-validate]\n");
  exit(PEER_EXIT_USAGE);
}

static void tear_sleep(void *arg) {
  peer_sleep_us(*(const int64_t *)arg);
}

int main(int argc, char **argv) {
  if (argc < 4) usage();
  const char *path = argv[1];
  const int64_t region_offset = peer_parse_int("REGION_OFFSET", argv[2], 0, INT64_MAX / 2);
  const int64_t capacity = peer_parse_int("CAPACITY", argv[3], 1, 1 << 30);
  int64_t count = -1, timeout_ms = -1, seed = -1, min_length = -1, max_length = -1, type_id = 1;
  int64_t rate_delay_us = 0, tear_delay_us = 0;
  bool from_start = false, validate_after_copy = true;

  for (int i = 4; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--unsafe-skip-validate") == 0) {
      validate_after_copy = false;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(opt, "--count") == 0) count = peer_parse_int("count", value, 1, INT64_MAX / 2);
    else if (strcmp(opt, "--timeout-ms") == 0) timeout_ms = peer_parse_int("timeout-ms", value, 1, 3600000);
    else if (strcmp(opt, "--from") == 0) {
      if (strcmp(value, "latest") == 0) from_start = false;
      else if (strcmp(value, "start") == 0) from_start = true;
      else usage();
    } else if (strcmp(opt, "--seed") == 0) seed = peer_parse_int("seed", value, 0, UINT32_MAX);
    else if (strcmp(opt, "--min-len") == 0) min_length = peer_parse_int("min-len", value, MSG_MIN_LENGTH, 1 << 27);
    else if (strcmp(opt, "--max-len") == 0) max_length = peer_parse_int("max-len", value, MSG_MIN_LENGTH, 1 << 27);
    else if (strcmp(opt, "--type") == 0) type_id = peer_parse_int("type", value, 1, INT32_MAX);
    else if (strcmp(opt, "--rate-delay-us") == 0) rate_delay_us = peer_parse_int("rate-delay-us", value, 0, 10000000);
    else if (strcmp(opt, "--tear-delay-us") == 0) tear_delay_us = peer_parse_int("tear-delay-us", value, 0, 1000000);
    else usage();
  }
  if (count < 0 || timeout_ms < 0) usage();
  const bool exact = seed >= 0;
  if (exact && (min_length < 0 || max_length < min_length)) usage();

  peer_mapping m;
  peer_map(&m, path, region_offset, capacity);
  const ab_buffer *b = &m.buffer;
  if (exact && max_length > b->max_msg_length) {
    fprintf(stderr, "max-len must be <= capacity / 8: max-len=%lld capacity=%lld\n", (long long)max_length,
            (long long)capacity);
    return PEER_EXIT_USAGE;
  }
  const int32_t scratch_length = (int32_t)ab_align(b->max_msg_length, 8);
  uint8_t *scratch = calloc(1, (size_t)scratch_length);
  uint8_t *expected = calloc(1, (size_t)scratch_length);
  if (scratch == NULL || expected == NULL) {
    fprintf(stderr, "out of memory: capacity=%lld\n", (long long)capacity);
    return PEER_EXIT_USAGE;
  }

  ab_receiver r;
  ab_receiver_init(&r, b, from_start);
  printf("{\"ready\":true,\"cursor\":%lld}\n", (long long)r.next_record);
  fflush(stdout);

  const int64_t deadline = peer_now_ns() + timeout_ms * 1000000;
  int64_t received = 0, lost_by_seq_gap = 0, corrupt = 0, out_of_order = 0, first_seq = -1, last_seq = -1;
  bool timed_out = false;
  for (;;) {
    if (peer_now_ns() > deadline) {
      timed_out = true;
      break;
    }
    if (!ab_receive_next(&r)) {
      peer_sleep_us(IDLE_SLEEP_US);
      continue;
    }
    int32_t length = 0;
    const bool copied = ab_copy(&r, scratch, scratch_length, &length, tear_delay_us > 0 ? tear_sleep : NULL,
                                &tear_delay_us);
    if (validate_after_copy && !ab_validate(&r)) continue;
    if (!copied || r.type_id != type_id || !msg_ends_agree(scratch, length)) {
      corrupt++;
      ab_skip_to_latest(&r);
      continue;
    }
    const int64_t seq = (int64_t)msg_get_u32(scratch);
    if (exact) {
      const int32_t expected_length =
          msg_encode(expected, (uint32_t)seed, (uint32_t)seq, (int32_t)min_length, (int32_t)max_length);
      if (expected_length != length || memcmp(expected, scratch, (size_t)length) != 0) {
        corrupt++;
        continue;
      }
    }
    if (last_seq >= 0 && seq <= last_seq) {
      out_of_order++;
      continue;
    }
    if (last_seq >= 0) lost_by_seq_gap += seq - last_seq - 1;
    if (first_seq < 0) first_seq = seq;
    last_seq = seq;
    received++;
    if (seq >= count - 1) break;
    peer_sleep_us(rate_delay_us);
  }

  printf("{\"received\":%lld,\"lapped\":%lld,\"lappedAfterCopy\":%lld,\"lostBySeqGap\":%lld,\"corrupt\":%lld,"
         "\"outOfOrder\":%lld,\"firstSeq\":%lld,\"lastSeq\":%lld,\"paddingRecords\":%lld,\"timedOut\":%s}\n",
         (long long)received, (long long)(r.lapped_count + r.lapped_after_copy), (long long)r.lapped_after_copy,
         (long long)lost_by_seq_gap, (long long)corrupt, (long long)out_of_order, (long long)first_seq,
         (long long)last_seq, (long long)r.padding_records, timed_out ? "true" : "false");
  free(scratch);
  free(expected);
  peer_unmap(&m);
  if (timed_out) return 3;
  return corrupt > 0 || out_of_order > 0 ? 1 : 0;
}
