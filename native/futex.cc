// Cross-process futexes on a 32-bit word of a shared mapping. No FUTEX_PRIVATE_FLAG: a private futex is keyed by
// (this process's mm, address) and would never meet a waker in another process; a shared one is keyed by the page
// (inode, offset), which every process mapping the file has in common. (Atomics.wait/notify are per-process in V8.)
//
// FutexWaiter waits without blocking the event loop and without the libuv pool: one dedicated thread per waiter
// (started at the first wait, reused) sleeps in the kernel and reports through a ThreadSafeFunction. A libuv-pool
// wait would pin one of its 4 threads per pending wait and starve fs/dns/crypto.
//
// Cancelling must work even in the instant between the thread's last check and its sleep, and even when the word's
// mapping was swapped for zero pages by unmap() (a wake on the new page cannot reach a sleeper on the old one). So the
// thread sleeps on two words with futex_waitv (Linux >= 5.16): the shared word and a private cancel word; cancel()
// sets the cancel word and wakes it, which no race can miss. Where futex_waitv is unavailable (older kernel, seccomp)
// the thread falls back to FUTEX_WAIT on the shared word in slices of FALLBACK_SLICE_MS, re-checking the cancel flag
// between slices, and cancel() also wakes the shared word (spurious wakes of other waiters are harmless: they
// re-check). SHMRING_NO_FUTEX_WAITV=1 in the environment forces the fallback (for tests and diagnosis).
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "args.h"
#include "deadline.h"
#include "errors.h"
#include "exports.h"
#include "shared-buffer.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449  // the same number on every architecture
#endif

namespace shmring {
namespace {

constexpr int64_t FALLBACK_SLICE_MS = 100;
constexpr int RESULT_WOKEN = 0;
constexpr int RESULT_NOT_EQUAL = 1;
constexpr int RESULT_TIMED_OUT = 2;
constexpr int RESULT_CANCELLED = 3;

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "the cancel word must be a plain 32-bit futex word");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "the cancel word must be lock-free");

std::atomic<bool> waitvUsable{true};

long Futex(const void* word, int op, uint32_t value, const struct timespec* timeout) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// The blocking wait's outcome. Throws for anything but the expected errnos.
Napi::Value FutexWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SharedBufferView view = GetSharedBuffer(env, info[0], "buffer");
  uint32_t* word = WordAt(env, view, Int64Arg(info, 1));
  uint32_t expected = static_cast<uint32_t>(Int64Arg(info, 2));
  Deadline deadline(DoubleArg(info, 3));
  struct timespec timeout;
  long rc = Futex(word, FUTEX_WAIT, expected, deadline.leftTimespec(&timeout));
  if (rc == 0) return Napi::Number::New(env, RESULT_WOKEN);
  switch (errno) {
    case EINTR:
      return Napi::Number::New(env, RESULT_WOKEN);  // a spurious wake: callers re-check
    case EAGAIN:
      return Napi::Number::New(env, RESULT_NOT_EQUAL);
    case ETIMEDOUT:
      return Napi::Number::New(env, RESULT_TIMED_OUT);
    default:
      ThrowErrno(env, errno, "futex");
  }
}

Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SharedBufferView view = GetSharedBuffer(env, info[0], "buffer");
  uint32_t* word = WordAt(env, view, Int64Arg(info, 1));
  int count = info[2].As<Napi::Number>().Int32Value();
  long woken = Futex(word, FUTEX_WAKE, static_cast<uint32_t>(count), nullptr);
  if (woken < 0) ThrowErrno(env, errno, "futex");
  return Napi::Number::New(env, static_cast<double>(woken));
}

// The waiter thread's wait: returns one of the RESULT_* codes.
int WaitOrCancel(const uint32_t* word, uint32_t expected, double timeoutMs, std::atomic<uint32_t>* cancelWord) {
  Deadline deadline(timeoutMs);
  if (cancelWord->load() != 0) return RESULT_CANCELLED;

  if (waitvUsable.load(std::memory_order_relaxed)) {
    struct futex_waitv waiters[2] = {};
    waiters[0].val = expected;
    waiters[0].uaddr = reinterpret_cast<uintptr_t>(word);
    waiters[0].flags = FUTEX_32;  // shared
    waiters[1].val = 0;
    waiters[1].uaddr = reinterpret_cast<uintptr_t>(cancelWord);
    waiters[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
    struct timespec absolute;
    long rc = syscall(SYS_futex_waitv, waiters, 2, 0, deadline.atTimespec(&absolute), CLOCK_MONOTONIC);
    int err = errno;
    if (cancelWord->load() != 0) return RESULT_CANCELLED;
    if (rc >= 0 || err == EINTR) return RESULT_WOKEN;
    if (err == EAGAIN) return RESULT_NOT_EQUAL;  // the cancel word is 0, so it was the shared word
    if (err == ETIMEDOUT) return RESULT_TIMED_OUT;
    waitvUsable.store(false);  // ENOSYS, or EPERM from a seccomp filter: use the fallback from now on
  }

  for (;;) {
    int64_t slice = FALLBACK_SLICE_MS * 1000000;
    if (deadline.bounded()) slice = std::min(slice, deadline.leftNs());
    struct timespec timeout = ToTimespec(slice);
    long rc = Futex(word, FUTEX_WAIT, expected, &timeout);
    int err = errno;
    if (cancelWord->load() != 0) return RESULT_CANCELLED;
    if (rc == 0 || err == EINTR) return RESULT_WOKEN;
    if (err == EAGAIN) return RESULT_NOT_EQUAL;
    if (err != ETIMEDOUT) return RESULT_WOKEN;  // cannot happen (the word is aligned and mapped); callers re-check
    if (deadline.passed()) return RESULT_TIMED_OUT;
  }
}

class FutexWaiter;
void CallWaiterJs(Napi::Env env, Napi::Function unused, FutexWaiter* self, void* data);
using WaiterTsfn = Napi::TypedThreadSafeFunction<FutexWaiter, void, CallWaiterJs>;

class FutexWaiter : public Napi::ObjectWrap<FutexWaiter> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FutexWaiter",
                       {
                           InstanceMethod<&FutexWaiter::Wait>("wait"),
                           InstanceMethod<&FutexWaiter::Cancel>("cancel"),
                           InstanceMethod<&FutexWaiter::Close>("close"),
                           InstanceMethod<&FutexWaiter::JsRef>("ref"),
                           InstanceMethod<&FutexWaiter::JsUnref>("unref"),
                       });
  }

  // new FutexWaiter(sab, byteOffset)
  explicit FutexWaiter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FutexWaiter>(info), env_(info.Env()) {
    view_ = GetSharedBuffer(env_, info[0], "buffer");  // holds the memory for the waiter's lifetime
    word_ = WordAt(env_, view_, Int64Arg(info, 1));
    tsfn_ = WaiterTsfn::New(env_, "shmring.FutexWaiter", 0, 1, this);
    tsfn_.Unref(env_);  // an idle waiter never keeps the process alive
    // Registered after the TSFN's own hook, so it runs before it (hooks run last-in first-out).
    napi_add_env_cleanup_hook(env_, &FutexWaiter::AtTeardown, this);
  }

  ~FutexWaiter() override {
    if (!closed_) {
      napi_remove_env_cleanup_hook(env_, &FutexWaiter::AtTeardown, this);
      Shutdown(false);
    }
  }

 private:
  // wait(expected, timeoutMs, callback)
  void Wait(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) ThrowCode(env, "ERR_SHMRING_CLOSED", "FutexWaiter is closed");
    if (pending_) {
      ThrowCode(env, "ERR_SHMRING_WAIT_PENDING",
                "FutexWaiter already has a pending wait: wait for its callback or cancel() it first");
    }
    if (!info[2].IsFunction()) ThrowTypeError(env, "callback must be a function");
    uint32_t expected = static_cast<uint32_t>(Int64Arg(info, 0));
    double timeoutMs = DoubleArg(info, 1);
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    if (!thread_.joinable()) thread_ = std::thread(&FutexWaiter::ThreadMain, this);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelWord_.store(0);
      expected_ = expected;
      timeoutMs_ = timeoutMs;
      resultQueued_ = false;
      hasJob_ = true;
    }
    pending_ = true;
    Ref();  // the JS object (and so this) stays alive until the callback has run
    if (refed_) tsfn_.Ref(env);
    jobReady_.notify_one();
  }

  void Cancel(const Napi::CallbackInfo& /*info*/) {
    if (pending_ && !closed_) WakeForCancel();
  }

  void Close(const Napi::CallbackInfo& /*info*/) {
    if (closed_) return;
    napi_remove_env_cleanup_hook(env_, &FutexWaiter::AtTeardown, this);
    Shutdown(true);
  }

  void JsRef(const Napi::CallbackInfo& info) {
    if (closed_ || refed_) return;
    refed_ = true;
    if (pending_) tsfn_.Ref(info.Env());
  }

  void JsUnref(const Napi::CallbackInfo& info) {
    if (closed_ || !refed_) return;
    refed_ = false;
    if (pending_) tsfn_.Unref(info.Env());
  }

  void WakeForCancel() {
    cancelWord_.store(1);
    Futex(&cancelWord_, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, nullptr);
    if (!waitvUsable.load()) Futex(word_, FUTEX_WAKE, INT_MAX, nullptr);
  }

  // Stops and joins the thread, then releases the TSFN. With notify, a pending wait's callback still gets
  // RESULT_CANCELLED (asynchronously); at environment teardown there is no JS left to call.
  void Shutdown(bool notify) {
    closed_ = true;
    bool queued = false;
    if (thread_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
      }
      WakeForCancel();
      jobReady_.notify_one();
      thread_.join();
      queued = resultQueued_;  // the thread has exited: no lock needed
    }
    if (notify && pending_ && !queued) tsfn_.BlockingCall(reinterpret_cast<void*>(uintptr_t{RESULT_CANCELLED}));
    tsfn_.Release();
  }

  static void AtTeardown(void* data) {
    FutexWaiter* self = static_cast<FutexWaiter*>(data);
    if (!self->closed_) self->Shutdown(false);
  }

  void ThreadMain() {
    for (;;) {
      uint32_t expected;
      double timeoutMs;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        jobReady_.wait(lock, [this] { return hasJob_ || stopping_; });
        if (stopping_) return;
        hasJob_ = false;
        expected = expected_;
        timeoutMs = timeoutMs_;
      }
      int result = WaitOrCancel(word_, expected, timeoutMs, &cancelWord_);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;  // Shutdown reports the pending wait itself
        resultQueued_ = true;
      }
      tsfn_.BlockingCall(reinterpret_cast<void*>(static_cast<uintptr_t>(result)));
    }
  }

  // On the JS thread: the pending wait is over.
  void Complete(Napi::Env env, int result) {
    Napi::Function callback = callback_.Value();
    callback_.Reset();
    pending_ = false;
    if (refed_ && !closed_) tsfn_.Unref(env);
    Unref();
    try {
      callback.Call({Napi::Number::New(env, result)});
    } catch (const Napi::Error& error) {
      // As from a timer: the process's 'uncaughtException' (Node 20 would otherwise only print a warning).
      napi_fatal_exception(env, error.Value());
    }
  }

  friend void CallWaiterJs(Napi::Env env, Napi::Function unused, FutexWaiter* self, void* data);

  napi_env env_;
  SharedBufferView view_;
  uint32_t* word_ = nullptr;
  std::atomic<uint32_t> cancelWord_{0};
  WaiterTsfn tsfn_;
  Napi::FunctionReference callback_;
  std::thread thread_;

  // Shared with the thread, under mutex_.
  std::mutex mutex_;
  std::condition_variable jobReady_;
  bool hasJob_ = false;
  bool stopping_ = false;
  bool resultQueued_ = false;
  uint32_t expected_ = 0;
  double timeoutMs_ = -1;

  // JS thread only.
  bool pending_ = false;
  bool refed_ = true;
  bool closed_ = false;
};

// env is null when the environment is being torn down: then nothing may be touched.
void CallWaiterJs(Napi::Env env, Napi::Function /*unused*/, FutexWaiter* self, void* data) {
  if (env == nullptr || self == nullptr) return;
  self->Complete(env, static_cast<int>(reinterpret_cast<uintptr_t>(data)));
}

}  // namespace

void InitFutex(Napi::Env env, Napi::Object exports) {
  if (const char* off = std::getenv("SHMRING_NO_FUTEX_WAITV")) {
    if (off[0] != '\0' && off[0] != '0') waitvUsable.store(false);
  }
  exports.Set("futexWait", Napi::Function::New(env, FutexWait, "futexWait"));
  exports.Set("futexWake", Napi::Function::New(env, FutexWake, "futexWake"));
  exports.Set("FutexWaiter", FutexWaiter::Define(env));
}

}  // namespace shmring
