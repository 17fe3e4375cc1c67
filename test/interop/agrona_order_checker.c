/*
 * agrona_order_checker: watches a transmitter at work and checks the ORDER of its stores, which end-to-end
 * delivery tests barely see (Agrona's own tests check the exact order of the release stores with mocks; across
 * processes we can only observe). Two invariants of the broadcast protocol (agrona_broadcast.h):
 *
 *   intent-before-data  the bytes at the next record position (tail intent & mask) change only after tail intent
 *                       moved past them. The checker reads tail intent I, then the 16 bytes at I & mask until they
 *                       change (or a short bound), then tail intent again after an acquire fence: a change seen with
 *                       tail intent still I means a record byte was stored before its tail-intent store.
 *   tail <= intent      read tail (acquire) then tail intent: tail intent is never behind.
 *
 *   agrona_order_checker PATH REGION_OFFSET CAPACITY --timeout-ms T [--idle-exit-ms N]
 *
 * It spins (that is the point: it must look often), bounded by the deadline, and exits once the tail has moved
 * and then stood still for N ms (default 200). Prints {"ready":true} once mapped, then one JSON line:
 *   {"iterations","changesObserved","intentAfterData","tailAheadOfIntent","timedOut"}
 * `changesObserved` counts watched bytes seen changing (non-zero shows the watch was not vacuous).
 * Exit status: 0 no violation, 1 a violation, 2 bad arguments, 3 deadline passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "agrona_broadcast.h"
#include "peer_common.h"

/** Reads of the watched bytes per look (tens of microseconds): long enough to see the next transmit land. */
#define WATCH_READS (1 << 14)

static void usage(void) {
  fprintf(stderr, "usage: agrona_order_checker PATH REGION_OFFSET CAPACITY --timeout-ms T [--idle-exit-ms N]\n");
  exit(PEER_EXIT_USAGE);
}

int main(int argc, char **argv) {
  if (argc < 4) usage();
  const char *path = argv[1];
  const int64_t region_offset = peer_parse_int("REGION_OFFSET", argv[2], 0, INT64_MAX / 2);
  const int64_t capacity = peer_parse_int("CAPACITY", argv[3], 1, 1 << 30);
  int64_t timeout_ms = -1, idle_exit_ms = 200;
  for (int i = 4; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(opt, "--timeout-ms") == 0) timeout_ms = peer_parse_int("timeout-ms", value, 1, 3600000);
    else if (strcmp(opt, "--idle-exit-ms") == 0) idle_exit_ms = peer_parse_int("idle-exit-ms", value, 1, 60000);
    else usage();
  }
  if (timeout_ms < 0) usage();

  peer_mapping m;
  peer_map(&m, path, region_offset, capacity);
  const ab_buffer *b = &m.buffer;
  const int64_t mask = b->capacity - 1;
  printf("{\"ready\":true}\n");
  fflush(stdout);

  const int64_t start = peer_now_ns();
  const int64_t deadline = start + timeout_ms * 1000000;
  const int64_t initial_tail = ab_load_counter(b, AB_TAIL_COUNTER_OFFSET);
  int64_t last_tail = initial_tail, last_tail_change = start;
  int64_t iterations = 0, changes = 0, intent_after_data = 0, tail_ahead_of_intent = 0;
  bool timed_out = false;
  for (;;) {
    const int64_t now = peer_now_ns();
    if (now > deadline) {
      timed_out = true;
      break;
    }
    iterations++;

    const int64_t tail = ab_load_counter(b, AB_TAIL_COUNTER_OFFSET);
    const int64_t intent = ab_load_counter(b, AB_TAIL_INTENT_COUNTER_OFFSET);
    if (intent < tail) tail_ahead_of_intent++;
    if (tail != last_tail) {
      last_tail = tail;
      last_tail_change = now;
    } else if (tail != initial_tail && now - last_tail_change > idle_exit_ms * 1000000) {
      break;
    }

    const int64_t offset = intent & mask;
    if (offset + 16 > b->capacity) continue;
    const uint64_t header = atomic_load_explicit(ab_word(b, offset), memory_order_relaxed);
    const uint64_t first = atomic_load_explicit(ab_word(b, offset + 8), memory_order_relaxed);
    bool changed = false;
    for (int i = 0; i < WATCH_READS && !changed; i++) {
      changed = atomic_load_explicit(ab_word(b, offset), memory_order_relaxed) != header ||
                atomic_load_explicit(ab_word(b, offset + 8), memory_order_relaxed) != first;
    }
    if (!changed) continue;
    changes++;
    atomic_thread_fence(memory_order_acquire);
    if (ab_load_counter(b, AB_TAIL_INTENT_COUNTER_OFFSET) == intent) intent_after_data++;
  }

  printf("{\"iterations\":%lld,\"changesObserved\":%lld,\"intentAfterData\":%lld,\"tailAheadOfIntent\":%lld,"
         "\"timedOut\":%s}\n",
         (long long)iterations, (long long)changes, (long long)intent_after_data, (long long)tail_ahead_of_intent,
         timed_out ? "true" : "false");
  peer_unmap(&m);
  if (timed_out) return 3;
  return intent_after_data > 0 || tail_ahead_of_intent > 0 ? 1 : 0;
}
