// Thread scheduling for idle strategies: JS has no sched_yield, and Atomics.wait cannot sleep less than ~60 us.
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

}  // namespace

void InitScheduling(Napi::Env env, Napi::Object exports) {
  exports.Set("yieldThread", Napi::Function::New(env, YieldThread, "yieldThread"));
  exports.Set("sleepNanos", Napi::Function::New(env, SleepNanos, "sleepNanos"));
}

}  // namespace shmring
