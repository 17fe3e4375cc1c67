// Anonymous shared memory: a memfd whose size is sealed, so no process holding it can shrink it under a mapping
// (which would SIGBUS every reader) or grow it.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace shmring {
namespace {

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = StringArg(info, 0);
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) ThrowErrno(info.Env(), errno, "memfd_create");
  return Napi::Number::New(info.Env(), fd);
}

void SealSize(const Napi::CallbackInfo& info) {
  if (fcntl(FdArg(info, 0), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    ThrowErrno(info.Env(), errno, "fcntl");
  }
}

}  // namespace

void InitMemfd(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("sealSize", Napi::Function::New(env, SealSize, "sealSize"));
}

}  // namespace shmring
