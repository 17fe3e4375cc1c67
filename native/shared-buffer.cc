#include "shared-buffer.h"

#include <cstring>
#include <string>

#include "errors.h"

namespace shmring {

static v8::Local<v8::Value> ToV8(napi_value value) {
  v8::Local<v8::Value> local;
  std::memcpy(static_cast<void*>(&local), &value, sizeof(value));
  return local;
}

static napi_value FromV8(v8::Local<v8::Value> local) {
  napi_value value;
  std::memcpy(&value, static_cast<void*>(&local), sizeof(value));
  return value;
}

SharedBufferView GetSharedBuffer(Napi::Env env, Napi::Value value, const char* what) {
  v8::Local<v8::Value> local = ToV8(value);
  if (local.IsEmpty() || !local->IsSharedArrayBuffer()) {
    ThrowTypeError(env, std::string(what) + " must be a SharedArrayBuffer");
  }
  std::shared_ptr<v8::BackingStore> store = local.As<v8::SharedArrayBuffer>()->GetBackingStore();
  void* data = store->Data();
  size_t length = store->ByteLength();
  return SharedBufferView{std::move(store), data, length};
}

Napi::Value NewSharedArrayBuffer(Napi::Env env, std::shared_ptr<v8::BackingStore> store) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, FromV8(sab));
}

uint32_t* WordAt(Napi::Env env, const SharedBufferView& view, int64_t byteOffset) {
  static_assert(sizeof(uint32_t) == 4, "futex words are 32-bit");
  if (byteOffset < 0 || byteOffset % 4 != 0 || static_cast<uint64_t>(byteOffset) + 4 > view.length) {
    ThrowRangeError(env, "byteOffset must be 4-aligned and inside the buffer: byteOffset=" +
                             std::to_string(byteOffset) + " byteLength=" + std::to_string(view.length));
  }
  return reinterpret_cast<uint32_t*>(static_cast<char*>(view.data) + byteOffset);
}

}  // namespace shmring
