// Entry point: registers each OS concern's functions. Knows nothing about the ring's layout.
#include <node.h>
#include <napi.h>

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, NODE_MODULE_VERSION));
  return exports;
}

NODE_API_MODULE(shmring, Init)
