/*
 * agrona_m2o_consumer: the one consumer of a ManyToOneRingBuffer region inside a file, the way a JVM consumer using
 * Agrona's ManyToOneRingBuffer.read would (zero what it read, then move the head; heartbeat in the trailer). Checks
 * every message against the producer its type id names: exactly seqs 0 .. COUNT - 1, in order, byte for byte.
 *
 *   agrona_m2o_consumer PATH REGION_OFFSET CAPACITY --timeout-ms T --producer TYPE:SEED:COUNT:MIN:MAX ...
 *
 * Stops once every producer's last message arrived, or at the deadline.
 * Prints {"ready":true} once mapped, then one JSON line at the end:
 *   {"received","corrupt","outOfOrder","unknownType","paddingRecords","timedOut","head"}
 * Exit status: 0 done and clean, 1 a bad message was seen, 2 bad arguments, 3 deadline passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "message.h"
#include "ring_buffer_peer.h"

#define MAX_PRODUCERS 16
#define IDLE_SLEEP_US 20

typedef struct producer {
  int64_t type_id, seed, count, min_length, max_length, next;
} producer;

typedef struct state {
  producer producers[MAX_PRODUCERS];
  int producer_count;
  int64_t received, corrupt, out_of_order, unknown_type;
  uint8_t *expected;
} state;

static void usage(void) {
  fprintf(stderr,
          "usage: agrona_m2o_consumer PATH REGION_OFFSET CAPACITY --timeout-ms T --producer TYPE:SEED:COUNT:MIN:MAX"
          " ...\n");
  exit(PEER_EXIT_USAGE);
}

static void on_message(void *ctx, int32_t type_id, const uint8_t *msg, int32_t length) {
  state *s = ctx;
  s->received++;
  producer *p = NULL;
  for (int i = 0; i < s->producer_count; i++) {
    if (s->producers[i].type_id == type_id) p = &s->producers[i];
  }
  if (p == NULL) {
    s->unknown_type++;
    return;
  }
  if (!msg_ends_agree(msg, length)) {
    s->corrupt++;
    return;
  }
  const int64_t seq = (int64_t)msg_get_u32(msg);
  if (seq != p->next) {
    s->out_of_order++;
    if (seq > p->next) p->next = seq + 1;
    return;
  }
  const int32_t expected_length =
      msg_encode(s->expected, (uint32_t)p->seed, (uint32_t)seq, (int32_t)p->min_length, (int32_t)p->max_length);
  if (expected_length != length || memcmp(s->expected, msg, (size_t)length) != 0) s->corrupt++;
  p->next++;
}

static bool all_done(const state *s) {
  for (int i = 0; i < s->producer_count; i++) {
    if (s->producers[i].next < s->producers[i].count) return false;
  }
  return true;
}

int main(int argc, char **argv) {
  if (argc < 4) usage();
  const char *path = argv[1];
  const int64_t region_offset = peer_parse_int("REGION_OFFSET", argv[2], 0, INT64_MAX / 2);
  const int64_t capacity = peer_parse_int("CAPACITY", argv[3], 1, 1 << 30);
  int64_t timeout_ms = -1;
  static state s;
  for (int i = 4; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(opt, "--timeout-ms") == 0) {
      timeout_ms = peer_parse_int("timeout-ms", value, 1, 600000);
    } else if (strcmp(opt, "--producer") == 0 && s.producer_count < MAX_PRODUCERS) {
      producer *p = &s.producers[s.producer_count++];
      long long t, seed, count, min, max;
      if (sscanf(value, "%lld:%lld:%lld:%lld:%lld", &t, &seed, &count, &min, &max) != 5 || t < 1 ||
          min < MSG_MIN_LENGTH || max < min) {
        usage();
      }
      *p = (producer){.type_id = t, .seed = seed, .count = count, .min_length = min, .max_length = max, .next = 0};
    } else {
      usage();
    }
  }
  if (timeout_ms < 0 || s.producer_count == 0) usage();
  rb_mapping m;
  rb_peer_map(&m, path, region_offset, capacity);
  const rb_buffer *b = &m.buffer;
  s.expected = calloc(1, (size_t)b->max_msg_length + 8);
  if (s.expected == NULL) return PEER_EXIT_USAGE;
  printf("{\"ready\":true}\n");
  fflush(stdout);
  const int64_t deadline = peer_now_ns() + timeout_ms * 1000000;
  int64_t padding = 0;
  bool timed_out = false, bad_record = false;
  while (!all_done(&s)) {
    const int read = rb_read(b, on_message, &s, 64, &padding);
    if (read < 0) {
      bad_record = true;
      break;
    }
    if (read == 0) {
      rb_store(b, RB_HEARTBEAT_OFFSET, peer_now_ns() / 1000000);
      if (peer_now_ns() > deadline) {
        timed_out = true;
        break;
      }
      peer_sleep_us(IDLE_SLEEP_US);
    }
  }
  printf(
      "{\"received\":%lld,\"corrupt\":%lld,\"outOfOrder\":%lld,\"unknownType\":%lld,\"paddingRecords\":%lld,"
      "\"timedOut\":%s,\"badRecord\":%s,\"head\":%lld}\n",
      (long long)s.received, (long long)s.corrupt, (long long)s.out_of_order, (long long)s.unknown_type,
      (long long)padding, timed_out ? "true" : "false", bad_record ? "true" : "false",
      (long long)rb_load(b, RB_HEAD_OFFSET));
  munmap(m.file_base, m.file_length);
  if (timed_out) return 3;
  return (s.corrupt || s.out_of_order || s.unknown_type || bad_record) ? 1 : 0;
}
