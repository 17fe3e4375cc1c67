// Entry point: registers each OS concern's functions. Knows nothing about the ring's layout.
#include <napi.h>
#include <node.h>

#include "exports.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The addon uses V8's API (a SharedArrayBuffer over an mmap), so it only works in the Node ABI it was built for;
  // lib/binding.ts compares this with process.versions.modules before using anything else.
  exports.Set("abiVersion", Napi::Number::New(env, NODE_MODULE_VERSION));
  shmring::InitFile(env, exports);
  shmring::InitMemfd(env, exports);
  shmring::InitMapping(env, exports);
  shmring::InitFdPassing(env, exports);
  shmring::InitLock(env, exports);
  shmring::InitFutex(env, exports);
  shmring::InitScheduling(env, exports);
  return exports;
}

NODE_API_MODULE(shmring, Init)
