// The bridge between Node-API values and V8's SharedArrayBuffer, which Node-API cannot create or inspect
// (nodejs/node#62259). A napi_value is a v8::Local in disguise; Node itself converts them by memcpy.
#pragma once

#include <napi.h>
#include <node.h>
#include <v8.h>

#include <cstddef>
#include <memory>

namespace shmring {

static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value must be a v8::Local in disguise");

// The memory behind a SharedArrayBuffer. `store` keeps it alive for as long as the caller holds it.
struct SharedBufferView {
  std::shared_ptr<v8::BackingStore> store;
  void* data;
  size_t length;
};

// Throws a TypeError unless `value` is a SharedArrayBuffer.
SharedBufferView GetSharedBuffer(Napi::Env env, Napi::Value value, const char* what);

// A JS SharedArrayBuffer over an existing backing store.
Napi::Value NewSharedArrayBuffer(Napi::Env env, std::shared_ptr<v8::BackingStore> store);

// The address of a 32-bit word at byteOffset, after checking it is 4-aligned and inside the buffer (RangeError).
uint32_t* WordAt(Napi::Env env, const SharedBufferView& view, int64_t byteOffset);

}  // namespace shmring
