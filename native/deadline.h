// Timeouts as JS gives them (milliseconds, a double) turned into the kernel's forms, defined once: a negative, NaN,
// infinite or absurd timeout (beyond ~31 years, where int64 nanoseconds and time_t conversions would overflow) means
// "no deadline". Every blocking call that retries (EINTR, slices) waits only for the time left.
#pragma once

#include <time.h>

#include <algorithm>
#include <climits>
#include <cstdint>

namespace shmring {

// CLOCK_MONOTONIC, the clock of every deadline (futex_waitv takes it as an absolute time).
inline int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

class Deadline {
 public:
  explicit Deadline(double timeoutMs)
      : bounded_(timeoutMs >= 0 && timeoutMs < 1e12),
        at_(bounded_ ? NowNs() + static_cast<int64_t>(timeoutMs * 1e6) : 0) {}

  bool bounded() const { return bounded_; }
  bool passed() const { return bounded_ && NowNs() >= at_; }

  // Nanoseconds left (0 once passed); only meaningful when bounded().
  int64_t leftNs() const { return std::max<int64_t>(0, at_ - NowNs()); }

  // The time left as a relative timespec (FUTEX_WAIT), or nullptr for no deadline; `storage` holds it.
  const struct timespec* leftTimespec(struct timespec* storage) const {
    if (!bounded_) return nullptr;
    *storage = ToTimespec(leftNs());
    return storage;
  }

  // The deadline as an absolute CLOCK_MONOTONIC timespec (futex_waitv), or nullptr for none.
  const struct timespec* atTimespec(struct timespec* storage) const {
    if (!bounded_) return nullptr;
    *storage = ToTimespec(at_);
    return storage;
  }

  // The time left as poll()'s int milliseconds, rounded up so a wait never ends early; -1 for no deadline. A
  // deadline beyond INT_MAX ms polls in slices (callers loop until passed()).
  int leftPollMs() const {
    if (!bounded_) return -1;
    return static_cast<int>(std::min<int64_t>(INT_MAX, (leftNs() + 999999) / 1000000));
  }

 private:
  bool bounded_;
  int64_t at_;
};

}  // namespace shmring
