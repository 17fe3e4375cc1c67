/*
 * What the two interop peers share besides the format: mapping the file that holds the broadcast region, number
 * parsing, a monotonic clock and a short sleep. Needs _POSIX_C_SOURCE >= 200809L (defined by each peer).
 */
#ifndef SHMRING_INTEROP_PEER_COMMON_H
#define SHMRING_INTEROP_PEER_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agrona_broadcast.h"

/** Exit status for bad arguments or a file that cannot hold the region. */
#define PEER_EXIT_USAGE 2

/** Parses a decimal integer in [min, max]; prints `name=value` and exits on anything else. */
static inline int64_t peer_parse_int(const char *name, const char *text, int64_t min, int64_t max) {
  char *end = NULL;
  errno = 0;
  const long long value = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    fprintf(stderr, "%s must be an integer in [%lld, %lld]: %s=%s\n", name, (long long)min, (long long)max, name,
            text);
    exit(PEER_EXIT_USAGE);
  }
  return value;
}

/** The mapped file and the broadcast region inside it. */
typedef struct peer_mapping {
  uint8_t *file_base;
  size_t file_length;
  ab_buffer buffer;
} peer_mapping;

/**
 * Opens `path` read-write, maps the whole file shared and wraps the region at `region_offset`. Checks what a
 * JVM's UnsafeBuffer/BroadcastReceiver would: the offset is 8-byte aligned, the capacity a power of two, and the
 * file holds offset + capacity + trailer. Prints the reason and exits with PEER_EXIT_USAGE otherwise.
 */
static inline void peer_map(peer_mapping *m, const char *path, int64_t region_offset, int64_t capacity) {
  if (region_offset % 8 != 0) {
    fprintf(stderr, "region offset must be 8-byte aligned: regionOffset=%lld\n", (long long)region_offset);
    exit(PEER_EXIT_USAGE);
  }
  if (!ab_is_power_of_two(capacity)) {
    fprintf(stderr, "capacity must be a power of two: capacity=%lld\n", (long long)capacity);
    exit(PEER_EXIT_USAGE);
  }
  const int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "open %s: %s\n", path, strerror(errno));
    exit(PEER_EXIT_USAGE);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fprintf(stderr, "fstat %s: %s\n", path, strerror(errno));
    exit(PEER_EXIT_USAGE);
  }
  const int64_t needed = region_offset + capacity + AB_TRAILER_LENGTH;
  if ((int64_t)st.st_size < needed) {
    fprintf(stderr, "file too short for the region: fileLength=%lld needed=%lld (offset + capacity + %d)\n",
            (long long)st.st_size, (long long)needed, AB_TRAILER_LENGTH);
    exit(PEER_EXIT_USAGE);
  }
  void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    fprintf(stderr, "mmap %s: %s\n", path, strerror(errno));
    exit(PEER_EXIT_USAGE);
  }
  close(fd);
  m->file_base = base;
  m->file_length = (size_t)st.st_size;
  if (ab_buffer_init(&m->buffer, m->file_base + region_offset, capacity) != 0) {
    fprintf(stderr, "capacity out of range: capacity=%lld\n", (long long)capacity);
    exit(PEER_EXIT_USAGE);
  }
}

static inline void peer_unmap(peer_mapping *m) {
  munmap(m->file_base, m->file_length);
  m->file_base = NULL;
}

static inline int64_t peer_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void peer_sleep_us(int64_t us) {
  if (us <= 0) return;
  struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

#endif /* SHMRING_INTEROP_PEER_COMMON_H */
