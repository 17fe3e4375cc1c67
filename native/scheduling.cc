// Thread scheduling for idle strategies: JS has no sched_yield, and Atomics.wait cannot sleep less than ~60 us; and a
// clock that allocates nothing.
#include <napi.h>
#include <sched.h>
#include <time.h>

#include <cerrno>

#include "exports.h"

namespace shmring {
namespace {

// yieldThread(): gives the core to another runnable thread (sched_yield never fails on Linux).
Napi::Value YieldThread(const Napi::CallbackInfo& info) {
  sched_yield();
  return info.Env().Undefined();
}

// sleepNanos(ns): nanosleep, resumed after signals until the full time has passed.
Napi::Value SleepNanos(const Napi::CallbackInfo& info) {
  double ns = info[0].As<Napi::Number>().DoubleValue();
  if (!(ns > 0)) return info.Env().Undefined();
  struct timespec remaining;
  remaining.tv_sec = static_cast<time_t>(ns / 1e9);
  remaining.tv_nsec = static_cast<long>(ns - static_cast<double>(remaining.tv_sec) * 1e9);
  while (nanosleep(&remaining, &remaining) != 0 && errno == EINTR) {
  }
  return info.Env().Undefined();
}

// monotonicMs(): CLOCK_MONOTONIC in milliseconds modulo 2^30, for intervals (the caller masks differences). A small
// integer is a Smi in V8, so reading this clock allocates nothing; Date.now() and performance.now() return a heap
// number each, which a consumer polling millions of times a second turns into garbage collections.
Napi::Value MonotonicMs(const Napi::CallbackInfo& info) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
  napi_value result;
  napi_create_int32(info.Env(), static_cast<int32_t>(ms & ((int64_t{1} << 30) - 1)), &result);
  return Napi::Value(info.Env(), result);
}

}  // namespace

void InitScheduling(Napi::Env env, Napi::Object exports) {
  exports.Set("yieldThread", Napi::Function::New(env, YieldThread, "yieldThread"));
  exports.Set("sleepNanos", Napi::Function::New(env, SleepNanos, "sleepNanos"));
  exports.Set("monotonicMs", Napi::Function::New(env, MonotonicMs, "monotonicMs"));
}

}  // namespace shmring
