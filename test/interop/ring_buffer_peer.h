/*
 * Mapping a file that holds a ManyToOneRingBuffer region, for the many-to-one interop peers (number parsing, clock and
 * sleep come from peer_common.h). Needs _POSIX_C_SOURCE >= 200809L (defined by each peer).
 */
#ifndef SHMRING_INTEROP_RING_BUFFER_PEER_H
#define SHMRING_INTEROP_RING_BUFFER_PEER_H

#include "agrona_ring_buffer.h"
#include "peer_common.h"

typedef struct rb_mapping {
  uint8_t *file_base;
  size_t file_length;
  rb_buffer buffer;
} rb_mapping;

/**
 * Maps `path` shared and wraps the region at `region_offset`, checking what Agrona's constructor would: an 8-byte
 * aligned offset, a power-of-two capacity, and a file long enough for capacity + trailer. Exits with usage otherwise.
 */
static inline void rb_peer_map(rb_mapping *m, const char *path, int64_t region_offset, int64_t capacity) {
  if (region_offset % 8 != 0 || !rb_is_power_of_two(capacity)) {
    fprintf(stderr, "need an 8-aligned offset and a power-of-two capacity: regionOffset=%lld capacity=%lld\n",
            (long long)region_offset, (long long)capacity);
    exit(PEER_EXIT_USAGE);
  }
  const int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "open %s: %s\n", path, strerror(errno));
    exit(PEER_EXIT_USAGE);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || (int64_t)st.st_size < region_offset + capacity + RB_TRAILER_LENGTH) {
    fprintf(stderr, "file too short for the region: %s\n", path);
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
  if (rb_init(&m->buffer, m->file_base + region_offset, capacity) != 0) {
    fprintf(stderr, "capacity out of range: capacity=%lld\n", (long long)capacity);
    exit(PEER_EXIT_USAGE);
  }
}

#endif /* SHMRING_INTEROP_RING_BUFFER_PEER_H */
