/*
 * The native baseline of shmring's benchmark: what a plain C ring over /dev/shm does on the machine at hand.
 *
 * A single-producer/single-consumer ring of 8-byte-aligned, length-prefixed records in a shared file, with shmring's
 * reliable-mode protocol: payload and type written plainly, then ONE release store of the record's length commits it
 * (a plain `mov` on x86); the slot after each record is zeroed first, so the consumer spins on the length word at
 * its position and never reads a separate tail counter. The consumer copies every payload out, checks the sequence
 * number at both ends of it, and publishes its position when it runs empty and every 64 records (the producer's
 * flow control, read only when its cached limit runs out). Spinning sides use the CPU's pause hint. This is the
 * practical hardware limit the JavaScript ring is compared with.
 *
 * Modes (each process prints "ready", waits for "go" on stdin, runs, prints one JSON line and "done", and exits when
 * stdin closes):
 *   throughput --role producer|consumer --name N --payload BYTES --warm MSGS --duration-ms MS
 *   rtt        --role ping|pong --name N --payload BYTES --wait spin|futex --duration-ms MS --warm-ms MS
 *              --interval-floor-ns NS --interval-mult K --max-samples N --samples FILE
 *   wake       --role sender|waiter --name N --interval-ns NS --duration-ms MS --max-samples N --samples FILE
 *
 * rtt: one message in flight. Back-to-back round trips for warm-ms set the interval = max(floor, K x median,
 * 1.5 x mean) of their second half; then paced round trips for warm-ms/2 (discarded); then the pinger sends at
 * intended times t0 + i*interval for duration-ms and records (reply time - intended send time), so a stall delays the
 * samples behind it instead of vanishing (no coordinated omission). wake: the raw cross-process futex wake floor: the
 * sender writes the intended time and FUTEX_WAKEs a waiter asleep in FUTEX_WAIT; the waiter records its wake-up time
 * minus the intended time. Samples (nanoseconds, float64) go to FILE; the harness builds the histogram.
 *
 * File layout (one ring = RING_HEADER_LENGTH + capacity bytes; rtt uses two rings back to back, ping then pong):
 *   128  consumer position (u64)    256  notify word (u32, futex)    260  waiter count (u32)
 *   512  data: records [i32 record length (header included; 0 = not committed)][i32 typeId][payload][pad to 8];
 *        typeId -1 = padding to the end of the ring
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../test/interop/message.h"

/* The benchmark's seed: bench/common.js's BENCH_SEED. */
#define BENCH_SEED 1u

#define HEAD_OFFSET 128
#define NOTIFY_OFFSET 256
#define WAITERS_OFFSET 260
#define RING_HEADER_LENGTH 512
#define RECORD_HEADER_LENGTH 8
#define TYPE_PADDING (-1)
#define TYPE_DATA 0
#define TYPE_END 1
#define DEFAULT_CAPACITY (1u << 20)

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

typedef struct {
  uint8_t *data;
  uint64_t capacity, mask;
  uint64_t *head;
  uint32_t *notify, *waiters;
  uint64_t position; /* producer: its tail; consumer: its head */
  uint64_t limit;    /* producer: cached head + capacity; consumer: the position it last published */
  uint64_t taken;    /* consumer: records taken */
  int use_futex;
} ring_t;

static struct {
  const char *mode, *role, *name, *wait, *samples;
  long payload, warm, duration_ms, warm_ms, interval_floor_ns, interval_ns, max_samples;
  double interval_mult;
} opt = {.wait = "spin", .payload = 32, .warm = 100000, .duration_ms = 500, .warm_ms = 100,
         .interval_floor_ns = 2000, .interval_ns = 250000, .max_samples = 1000000, .interval_mult = 4};

static void die(const char *what) {
  fprintf(stderr, "shmring_baseline: %s: %s\n", what, strerror(errno));
  exit(2);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long futex(uint32_t *addr, int op, uint32_t val) {
  return syscall(SYS_futex, addr, op, val, NULL, NULL, 0); /* shared (no FUTEX_PRIVATE_FLAG): works across processes */
}

static uint8_t *map_file(const char *name, size_t length, int create) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int fd = open(path, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
  if (fd < 0) die(path);
  if (create) {
    int rc = posix_fallocate(fd, 0, (off_t)length);
    if (rc != 0) { errno = rc; die("posix_fallocate"); }
  }
  uint8_t *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  close(fd);
  if (create) memset(p, 0, length);
  return p;
}

static void ring_init(ring_t *r, uint8_t *base, uint64_t capacity, int use_futex) {
  r->data = base + RING_HEADER_LENGTH;
  r->capacity = capacity;
  r->mask = capacity - 1;
  r->head = (uint64_t *)(base + HEAD_OFFSET);
  r->notify = (uint32_t *)(base + NOTIFY_OFFSET);
  r->waiters = (uint32_t *)(base + WAITERS_OFFSET);
  r->position = 0;
  r->limit = 0;
  r->taken = 0;
  r->use_futex = use_futex;
}

static inline uint64_t align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

static inline void put_seq(uint8_t *payload, uint32_t length, uint32_t seq) {
  memcpy(payload, &seq, 4);
  if (length >= 8) memcpy(payload + length - 4, &seq, 4);
}

/*
 * Producer: one record, or 0 when the ring is full. Payload and type are plain stores, then the record's length word
 * is written with ONE release store: the commit. The slot after the record is zeroed before that, so the consumer
 * always finds length 0 at the tail (a record wrapping the end is written at 0 first, then the padding in front of
 * it is committed).
 */
static inline int ring_offer(ring_t *r, const uint8_t *src, uint32_t length, int32_t type) {
  uint64_t aligned = align8(RECORD_HEADER_LENGTH + length);
  uint64_t index = r->position & r->mask;
  uint64_t to_end = r->capacity - index;
  uint64_t padding = aligned > to_end ? to_end : 0;
  uint64_t required = r->position + padding + aligned + RECORD_HEADER_LENGTH;
  if (required > r->limit) {
    r->limit = __atomic_load_n(r->head, __ATOMIC_ACQUIRE) + r->capacity;
    if (required > r->limit) return 0;
  }
  uint64_t at = padding ? 0 : index;
  uint8_t *record = r->data + at;
  int32_t zero = 0;
  memcpy(r->data + ((at + aligned) & r->mask), &zero, 4);
  memcpy(record + 4, &type, 4);
  memcpy(record + RECORD_HEADER_LENGTH, src, length);
  __atomic_store_n((int32_t *)record, (int32_t)(RECORD_HEADER_LENGTH + length), __ATOMIC_RELEASE);
  if (padding) {
    int32_t pad = TYPE_PADDING;
    memcpy(r->data + index + 4, &pad, 4);
    __atomic_store_n((int32_t *)(r->data + index), (int32_t)to_end, __ATOMIC_RELEASE);
  }
  r->position += padding + aligned;
  if (r->use_futex) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the commit before the sleeper check (Dekker with ring_await) */
    if (__atomic_load_n(r->waiters, __ATOMIC_SEQ_CST) != 0) {
      __atomic_add_fetch(r->notify, 1, __ATOMIC_SEQ_CST);
      futex(r->notify, FUTEX_WAKE, INT_MAX);
    }
  }
  return 1;
}

/* Consumer: the length word at its position (0 = nothing committed yet). */
static inline int32_t ring_peek(ring_t *r) {
  return __atomic_load_n((int32_t *)(r->data + (r->position & r->mask)), __ATOMIC_ACQUIRE);
}

/* Consumer: publishes its position (the producer's flow control) when it moved. */
static inline void ring_release(ring_t *r) {
  if (r->limit != r->position) {
    r->limit = r->position;
    __atomic_store_n(r->head, r->position, __ATOMIC_RELEASE);
  }
}

/* Consumer: waits until a record is committed at its position (spin, or sleep on the notify word). */
static inline void ring_await(ring_t *r) {
  while (ring_peek(r) == 0) {
    ring_release(r);
    if (!r->use_futex) {
      cpu_relax();
      continue;
    }
    uint32_t seen = __atomic_load_n(r->notify, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(r->waiters, 1, __ATOMIC_SEQ_CST);
    if (ring_peek(r) == 0) futex(r->notify, FUTEX_WAIT, seen);
    __atomic_sub_fetch(r->waiters, 1, __ATOMIC_SEQ_CST);
  }
}

/* Consumer: waits for the next record, copies its payload out, returns its type; skips padding. The position is
   published when the ring runs empty and every 64 records. */
static inline int32_t ring_take(ring_t *r, uint8_t *dst, uint32_t *length) {
  for (;;) {
    ring_await(r);
    uint8_t *record = r->data + (r->position & r->mask);
    int32_t len = __atomic_load_n((int32_t *)record, __ATOMIC_ACQUIRE), type;
    memcpy(&type, record + 4, 4);
    r->position += align8((uint64_t)len);
    if ((++r->taken & 63) == 0) ring_release(r);
    if (type == TYPE_PADDING) continue;
    *length = (uint32_t)len - RECORD_HEADER_LENGTH;
    memcpy(dst, record + RECORD_HEADER_LENGTH, *length);
    return type;
  }
}

static uint64_t cpu_at_go;

static uint64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull + (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void ready_then_wait_go(void) {
  char line[64];
  printf("ready\n");
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) { fprintf(stderr, "shmring_baseline: stdin closed before go\n"); exit(3); }
  cpu_at_go = cpu_us();
}

/* Ends a result line started with report_begin: adds the role and CPU time since go, then "done". */
static void report_end(void) {
  printf(",\"role\":\"%s\",\"cpuUs\":%llu}\ndone\n", opt.role, (unsigned long long)(cpu_us() - cpu_at_go));
  fflush(stdout);
}

static void write_samples(const double *samples, long n) {
  if (!opt.samples) return;
  FILE *f = fopen(opt.samples, "wb");
  if (!f) die(opt.samples);
  if (fwrite(samples, sizeof(double), (size_t)n, f) != (size_t)n) die("fwrite");
  fclose(f);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Message 0 of the benchmark's run of the tests' message format (BENCH_SEED in bench/common.js, one length, one
 * body): the same bytes the JS contenders send; put_seq stamps the seq at both ends per message. */
static uint8_t *payload_buffer(void) {
  size_t n = (size_t)(opt.payload < 64 ? 64 : opt.payload);
  uint8_t *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
  if (!p) die("aligned_alloc");
  memset(p, 0, n);
  if (opt.payload >= MSG_MIN_LENGTH) msg_encode(p, BENCH_SEED, 0, (int32_t)opt.payload, (int32_t)opt.payload);
  return p;
}

static int run_throughput(void) {
  int producer = strcmp(opt.role, "producer") == 0;
  size_t file_length = RING_HEADER_LENGTH + DEFAULT_CAPACITY;
  ring_t ring;
  ring_init(&ring, map_file(opt.name, file_length, producer), DEFAULT_CAPACITY, 0);
  uint8_t *buf = payload_buffer();
  uint32_t length = (uint32_t)opt.payload;
  ready_then_wait_go();
  if (producer) {
    uint32_t seq = 0;
    for (; seq < (uint32_t)opt.warm; seq++) {
      put_seq(buf, length, seq);
      while (!ring_offer(&ring, buf, length, TYPE_DATA)) cpu_relax();
    }
    uint64_t start = now_ns(), deadline = start + (uint64_t)opt.duration_ms * 1000000ull;
    for (;; seq++) {
      if ((seq & 1023) == 0 && now_ns() >= deadline) break;
      put_seq(buf, length, seq);
      while (!ring_offer(&ring, buf, length, TYPE_DATA)) cpu_relax();
    }
    uint64_t end = now_ns();
    uint64_t total = seq;
    while (!ring_offer(&ring, (const uint8_t *)&total, 8, TYPE_END)) cpu_relax();
    printf("{\"kind\":\"producer\",\"sent\":%u,\"measured\":%u,\"tStartNs\":%llu,\"tEndNs\":%llu", seq, seq - (uint32_t)opt.warm,
           (unsigned long long)start, (unsigned long long)end);
    report_end();
  } else {
    uint32_t expected = 0, warm = (uint32_t)opt.warm, len = 0;
    uint64_t received = 0, measured = 0, errors = 0;
    for (;;) {
      int32_t type = ring_take(&ring, buf, &len);
      if (type == TYPE_END) break;
      uint32_t s, s2;
      memcpy(&s, buf, 4);
      memcpy(&s2, buf + (len >= 8 ? len - 4 : 0), 4);
      if (s != expected || s2 != s || len != length) errors++;
      expected = s + 1;
      received++;
      if (s >= warm) measured++;
    }
    uint64_t end = now_ns();
    ring_release(&ring);
    printf("{\"kind\":\"consumer\",\"received\":%llu,\"receivedMeasured\":%llu,\"errors\":%llu,\"lost\":0,\"tEndNs\":%llu",
           (unsigned long long)received, (unsigned long long)measured, (unsigned long long)errors,
           (unsigned long long)end);
    report_end();
  }
  return 0;
}

/* One ping and its pong; returns 0 when the pong does not carry the ping's sequence number and length. */
static inline int round_trip(ring_t *out, ring_t *in, uint8_t *buf, uint8_t *reply, uint32_t length, uint32_t seq) {
  uint32_t len = 0, s, s2;
  put_seq(buf, length, seq);
  while (!ring_offer(out, buf, length, TYPE_DATA)) cpu_relax();
  ring_take(in, reply, &len);
  memcpy(&s, reply, 4);
  memcpy(&s2, reply + len - 4, 4);
  return s == seq && s2 == seq && len == length;
}

static int run_rtt(void) {
  int ping = strcmp(opt.role, "ping") == 0, use_futex = strcmp(opt.wait, "futex") == 0;
  size_t ring_length = RING_HEADER_LENGTH + DEFAULT_CAPACITY;
  uint8_t *base = map_file(opt.name, 2 * ring_length, ping);
  ring_t ping_ring, pong_ring;
  ring_init(&ping_ring, base, DEFAULT_CAPACITY, use_futex);
  ring_init(&pong_ring, base + ring_length, DEFAULT_CAPACITY, use_futex);
  ring_t *out = ping ? &ping_ring : &pong_ring, *in = ping ? &pong_ring : &ping_ring;
  uint8_t *buf = payload_buffer(), *reply = payload_buffer();
  uint32_t length = (uint32_t)opt.payload, len = 0, seq = 0, s, s2;
  uint64_t errors = 0;
  ready_then_wait_go();
  if (!ping) {
    for (;;) {
      int32_t type = ring_take(in, buf, &len);
      if (type == TYPE_END) break;
      memcpy(&s, buf, 4);
      memcpy(&s2, buf + len - 4, 4);
      if (s != seq || s2 != s || len != length) errors++;
      seq = s + 1;
      put_seq(reply, len, s);
      while (!ring_offer(out, reply, len, TYPE_DATA)) cpu_relax();
    }
    printf("{\"kind\":\"ponger\",\"received\":%u,\"errors\":%llu", seq, (unsigned long long)errors);
    report_end();
    return 0;
  }
  /* phase 0: back-to-back round trips for warm_ms; the second half of them sets the interval */
  long cap = 1000000, n = 0;
  uint64_t *warm = malloc(sizeof(uint64_t) * (size_t)cap);
  double *samples = malloc(sizeof(double) * (size_t)opt.max_samples);
  uint64_t warm_deadline = now_ns() + (uint64_t)opt.warm_ms * 1000000ull;
  for (;;) {
    uint64_t t = now_ns();
    if (t >= warm_deadline || n == cap) break;
    if (!round_trip(out, in, buf, reply, length, seq++)) errors++;
    warm[n++] = now_ns() - t;
  }
  double sum = 0;
  for (long i = n / 2; i < n; i++) sum += (double)warm[i];
  double mean = n - n / 2 > 0 ? sum / (double)(n - n / 2) : 0;
  qsort(warm + n / 2, (size_t)(n - n / 2), sizeof(uint64_t), cmp_u64);
  uint64_t p50 = n ? warm[n / 2 + (n - n / 2) / 2] : 0;
  double want = opt.interval_mult * (double)p50;
  if (want < 1.5 * mean) want = 1.5 * mean;
  if (want < (double)opt.interval_floor_ns) want = (double)opt.interval_floor_ns;
  uint64_t interval = (uint64_t)want;
  /* phase 1: paced for warm_ms / 2, discarded; phase 2: paced for duration_ms, recorded from the intended time */
  /* paced_ns: how long phase 2 lasted; with count (its sends) it tells whether the schedule was kept */
  long count = 0;
  uint64_t paced_ns = 0;
  for (int phase = 1; phase <= 2; phase++) {
    uint64_t start = now_ns(), intended = start, t = start;
    uint64_t deadline = start + (phase == 1 ? (uint64_t)opt.warm_ms * 500000ull : (uint64_t)opt.duration_ms * 1000000ull);
    while (count < opt.max_samples) {
      intended += interval;
      while ((t = now_ns()) < intended) cpu_relax();
      if (t >= deadline) break;
      if (!round_trip(out, in, buf, reply, length, seq++)) errors++;
      if (phase == 2) samples[count++] = (double)(now_ns() - intended);
    }
    if (phase == 2) paced_ns = t - start;
  }
  uint64_t total = seq;
  while (!ring_offer(out, (const uint8_t *)&total, 8, TYPE_END)) cpu_relax();
  write_samples(samples, count);
  printf("{\"kind\":\"pinger\",\"sent\":%u,\"samples\":%ld,\"intervalNs\":%llu,\"pacedSends\":%ld,\"pacedNs\":%llu,"
         "\"warmP50Ns\":%llu,\"errors\":%llu", seq, count, (unsigned long long)interval, count,
         (unsigned long long)paced_ns, (unsigned long long)p50, (unsigned long long)errors);
  report_end();
  return 0;
}

/* wake: word 0 = notify (futex), word 1 = waiter asleep flag, u64 at 8 = intended time, u64 at 16 = sequence,
   u32 at 24 = end flag. */
static int run_wake(void) {
  int sender = strcmp(opt.role, "sender") == 0;
  uint8_t *base = map_file(opt.name, 4096, sender);
  uint32_t *notify = (uint32_t *)base, *asleep = (uint32_t *)(base + 4), *end = (uint32_t *)(base + 24);
  uint64_t *when = (uint64_t *)(base + 8), *seqp = (uint64_t *)(base + 16);
  ready_then_wait_go();
  if (sender) {
    uint64_t interval = (uint64_t)opt.interval_ns, start = now_ns(), intended = start;
    uint64_t deadline = start + (uint64_t)opt.duration_ms * 1000000ull, seq = 0, not_asleep = 0;
    for (;;) {
      intended += interval;
      uint64_t t;
      while ((t = now_ns()) < intended) cpu_relax();
      if (t >= deadline || (long)seq >= opt.max_samples) break;
      if (!__atomic_load_n(asleep, __ATOMIC_SEQ_CST)) not_asleep++;
      __atomic_store_n(when, intended, __ATOMIC_RELAXED);
      __atomic_store_n(seqp, ++seq, __ATOMIC_RELAXED);
      __atomic_add_fetch(notify, 1, __ATOMIC_SEQ_CST);
      futex(notify, FUTEX_WAKE, INT_MAX);
    }
    __atomic_store_n(end, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(notify, 1, __ATOMIC_SEQ_CST);
    futex(notify, FUTEX_WAKE, INT_MAX);
    printf("{\"kind\":\"sender\",\"sent\":%llu,\"notAsleep\":%llu,\"intervalNs\":%llu", (unsigned long long)seq,
           (unsigned long long)not_asleep, (unsigned long long)interval);
    report_end();
    return 0;
  }
  double *samples = malloc(sizeof(double) * (size_t)opt.max_samples);
  long count = 0;
  uint64_t expected = 1, errors = 0, coalesced = 0;
  for (;;) {
    uint32_t seen = __atomic_load_n(notify, __ATOMIC_SEQ_CST);
    __atomic_store_n(asleep, 1, __ATOMIC_SEQ_CST);
    futex(notify, FUTEX_WAIT, seen);
    uint64_t t = now_ns();
    __atomic_store_n(asleep, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(notify, __ATOMIC_SEQ_CST) == seen) continue; /* spurious */
    if (__atomic_load_n(end, __ATOMIC_SEQ_CST)) break;
    uint64_t s = __atomic_load_n(seqp, __ATOMIC_RELAXED);
    /* The sender stores seq before it bumps notify: a waiter that read seq k+1 between the two counted it already,
     * and the bump then ends its next wait at once. That wake is for nothing new: no sample, not an error. */
    if (s + 1 == expected) continue;
    if (s > expected) coalesced += s - expected; /* woken once for several sends: it was not asleep in time */
    else if (s != expected) errors++;
    expected = s + 1;
    if (count < opt.max_samples) samples[count++] = (double)(t - __atomic_load_n(when, __ATOMIC_RELAXED));
  }
  write_samples(samples, count);
  printf("{\"kind\":\"waiter\",\"received\":%ld,\"samples\":%ld,\"errors\":%llu,\"lost\":%llu", count, count,
         (unsigned long long)errors, (unsigned long long)coalesced);
  report_end();
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: shmring_baseline throughput|rtt|wake --role R --name N [options]\n");
    return 1;
  }
  opt.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--role")) opt.role = v;
    else if (!strcmp(k, "--name")) opt.name = v;
    else if (!strcmp(k, "--wait")) opt.wait = v;
    else if (!strcmp(k, "--samples")) opt.samples = v;
    else if (!strcmp(k, "--payload")) opt.payload = atol(v);
    else if (!strcmp(k, "--warm")) opt.warm = atol(v);
    else if (!strcmp(k, "--duration-ms")) opt.duration_ms = atol(v);
    else if (!strcmp(k, "--warm-ms")) opt.warm_ms = atol(v);
    else if (!strcmp(k, "--interval-floor-ns")) opt.interval_floor_ns = atol(v);
    else if (!strcmp(k, "--interval-mult")) opt.interval_mult = atof(v);
    else if (!strcmp(k, "--interval-ns")) opt.interval_ns = atol(v);
    else if (!strcmp(k, "--max-samples")) opt.max_samples = atol(v);
    else { fprintf(stderr, "shmring_baseline: unknown option %s\n", k); return 1; }
  }
  if (!opt.role || !opt.name) { fprintf(stderr, "shmring_baseline: --role and --name are required\n"); return 1; }
  if (opt.payload < 8 || opt.payload > (long)(DEFAULT_CAPACITY / 2)) {
    fprintf(stderr, "shmring_baseline: --payload must be 8..%u\n", DEFAULT_CAPACITY / 2);
    return 1;
  }
  int rc;
  if (!strcmp(opt.mode, "throughput")) rc = run_throughput();
  else if (!strcmp(opt.mode, "rtt")) rc = run_rtt();
  else if (!strcmp(opt.mode, "wake")) rc = run_wake();
  else { fprintf(stderr, "shmring_baseline: unknown mode %s\n", opt.mode); return 1; }
  /* keep the mapping until the harness closes stdin: every side has finished by then */
  while (getchar() != EOF) {}
  return rc;
}
