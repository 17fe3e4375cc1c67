// Mapping a file into memory as a real SharedArrayBuffer, and releasing it explicitly.
//
// Lifetime: the SharedArrayBuffer's backing store owns the mapping; V8 calls Release() (on a background thread,
// after every isolate that saw the buffer has collected it) and that munmaps. unmap() is the explicit close: it cannot
// munmap, because JS may still hold the buffer and a stray access would be a SIGSEGV. It swaps the whole range for
// private zero pages instead (one mmap(MAP_FIXED) call, atomic for other threads): the shared pages are released now,
// the address stays valid, and a late access reads zeros.
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "ownership.h"
#include "shared-buffer.h"

namespace shmring {
namespace {

// The longest alias mapping made (4 GiB): rings are far smaller (the TypeScript layer refuses files over 2 GiB).
constexpr size_t kMaxAliasLength = size_t{1} << 32;

struct Mapping {
  size_t length;
  bool released;  // unmap() swapped in zero pages
};

// Every live mapping this process made, by address. Guarded by a mutex: the deleter runs on V8's threads.
std::mutex registryMutex;
std::unordered_map<void*, Mapping>& Registry() {
  static auto* registry = new std::unordered_map<void*, Mapping>();  // never destroyed: deleters may run at exit
  return *registry;
}

void Register(void* data, size_t length) {
  std::lock_guard<std::mutex> lock(registryMutex);
  Registry()[data] = Mapping{length, false};
}

// V8's deleter. Thread-safe, no Node-API.
void Release(void* data, size_t length, void* /*deleterData*/) {
  std::lock_guard<std::mutex> lock(registryMutex);
  Registry().erase(data);
  munmap(data, length);  // the address must leave the registry before it can be handed out again
}

// map(fd, length, populate, lock) -> SharedArrayBuffer
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  size_t length = static_cast<size_t>(Int64Arg(info, 1));
  bool populate = BoolArg(info, 2);
  bool lockPages = BoolArg(info, 3);

  int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
  void* data = mmap(nullptr, length, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (data == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  MappingGuard guard(data, length);
  if (lockPages && mlock(data, length) != 0) ThrowErrno(env, errno, "mlock");
  Register(data, length);
  // From here the backing store owns the mapping: V8 calls Release when the last buffer over it is collected.
  std::unique_ptr<v8::BackingStore> store =
      v8::SharedArrayBuffer::NewBackingStore(guard.release(), length, Release, nullptr);
  return NewSharedArrayBuffer(env, std::move(store));
}

// The explicit close of a mapping made by `maker`: swaps the whole range for private zero pages (see the top of the
// file). Idempotent; a TypeError for memory this file did not map.
void ReleaseNow(Napi::Env env, void* data, size_t length, const char* maker) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto it = Registry().find(data);
  if (it == Registry().end() || it->second.length != length) {
    ThrowTypeError(env, std::string("buffer is not a mapping made by shmring's ") + maker + "()");
  }
  if (it->second.released) return;
  void* zeros = mmap(data, length, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (zeros == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  it->second.released = true;
}

// unmap(sab)
void Unmap(const Napi::CallbackInfo& info) {
  SharedBufferView view = GetSharedBuffer(info.Env(), info[0], "buffer");
  ReleaseNow(info.Env(), view.data, view.length, "map");
}

// mapAlias(fd, length) -> ArrayBuffer: a second MAP_SHARED mapping of the same file at another address, as a plain
// (non-shared) ArrayBuffer. V8 copies into and out of SharedArrayBuffers with relaxed atomic word copies, 2-3x slower
// than memcpy for payloads of 1 KiB and up; the ring moves payload bytes through this alias and keeps every atomic on
// the SharedArrayBuffer. Being a distinct mapping, it never trips V8's one-backing-store-per-address check.
Napi::Value MapAlias(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  size_t length = static_cast<size_t>(Int64Arg(info, 1));
  // Past 4 GiB Node-API may fail to make the ArrayBuffer (V8's limit on Node 20), and node-addon-api then frees the
  // finalizer's data that V8 already released (double free, SIGABRT). Refuse it before anything is mapped. A fixed
  // number, not V8's constant: that constant's name differs between the V8 versions of the supported Node lines.
  if (length > kMaxAliasLength) {
    ThrowRangeError(env, "length must be at most " + std::to_string(kMaxAliasLength) +
                             " bytes for an alias: length=" + std::to_string(length));
  }
  void* data = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  MappingGuard guard(data, length);
  Register(data, length);
  // The finalizer runs on the JS thread after GC; it shares Release's bookkeeping.
  return Napi::ArrayBuffer::New(
      env, guard.release(), length,
      [](Napi::Env, void* address, size_t* size) {
        Release(address, *size, nullptr);
        delete size;
      },
      new size_t(length));
}

// unmapAlias(arrayBuffer)
void UnmapAlias(const Napi::CallbackInfo& info) {
  if (!info[0].IsArrayBuffer()) ThrowTypeError(info.Env(), "buffer must be an ArrayBuffer");
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  ReleaseNow(info.Env(), buffer.Data(), buffer.ByteLength(), "mapAlias");
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("mapAlias", Napi::Function::New(env, MapAlias, "mapAlias"));
  exports.Set("unmapAlias", Napi::Function::New(env, UnmapAlias, "unmapAlias"));
}

}  // namespace shmring
