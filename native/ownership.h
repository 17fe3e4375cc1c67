// Ownership of a file descriptor and of a mapping while a native call builds its result: whatever path leaves the
// call (a JS exception included) closes or unmaps what was not handed over, so no error path closes by hand.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <utility>

namespace shmring {

// Closes the descriptor it owns when it goes out of scope, unless release() handed it over.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives the descriptor to the caller (the JS side, which closes it with closeFd).
  int release() { return std::exchange(fd_, -1); }

  // On Linux the descriptor is released even when close() reports EINTR: never retry.
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// munmaps a fresh mapping when it goes out of scope, unless release() handed it over (to V8's backing store).
class MappingGuard {
 public:
  MappingGuard(void* data, size_t length) : data_(data), length_(length) {}
  MappingGuard(const MappingGuard&) = delete;
  MappingGuard& operator=(const MappingGuard&) = delete;
  ~MappingGuard() {
    if (data_ != nullptr) munmap(data_, length_);
  }

  void* release() { return std::exchange(data_, nullptr); }

 private:
  void* data_;
  size_t length_;
};

}  // namespace shmring
