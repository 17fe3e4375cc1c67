// Liveness through open-file-description (OFD) byte-range locks on one byte each. The kernel drops them when the
// description's last fd closes, including when the process is SIGKILLed, so "is the lock held?" answers "is the
// holder alive?" without pids (which recycle and do not cross pid namespaces). Unlike classic POSIX locks they are
// not dropped when the process closes some other fd of the same file, and two descriptions in one process conflict,
// so they also work between threads and tests within one process.
#include <errno.h>
#include <fcntl.h>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace shmring {
namespace {

struct flock ByteRange(short type, int64_t offset) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(offset);
  fl.l_len = 1;
  fl.l_pid = 0;  // must be 0 for OFD locks
  return fl;
}

Napi::Value TryLock(const Napi::CallbackInfo& info) {
  struct flock fl = ByteRange(BoolArg(info, 2) ? F_WRLCK : F_RDLCK, Int64Arg(info, 1));
  if (fcntl(FdArg(info, 0), F_OFD_SETLK, &fl) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EAGAIN || errno == EACCES) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), errno, "fcntl");
}

void Unlock(const Napi::CallbackInfo& info) {
  struct flock fl = ByteRange(F_UNLCK, Int64Arg(info, 1));
  if (fcntl(FdArg(info, 0), F_OFD_SETLK, &fl) != 0) ThrowErrno(info.Env(), errno, "fcntl");
}

// A write-lock probe conflicts with any lock another description holds on the byte.
Napi::Value IsLocked(const Napi::CallbackInfo& info) {
  struct flock fl = ByteRange(F_WRLCK, Int64Arg(info, 1));
  if (fcntl(FdArg(info, 0), F_OFD_GETLK, &fl) != 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Boolean::New(info.Env(), fl.l_type != F_UNLCK);
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  exports.Set("tryLock", Napi::Function::New(env, TryLock, "tryLock"));
  exports.Set("unlock", Napi::Function::New(env, Unlock, "unlock"));
  exports.Set("isLocked", Napi::Function::New(env, IsLocked, "isLocked"));
}

}  // namespace shmring
