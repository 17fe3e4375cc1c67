// Files: open/create without following symlinks, stat + filesystem type, reserving the pages, unlink.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "ownership.h"

namespace shmring {
namespace {

static_assert(sizeof(off_t) == 8, "sizes beyond 2 GiB need a 64-bit off_t");

// openFile(path, create, mode) -> fd. O_NOFOLLOW: a symlink planted in a shared directory gives ELOOP.
Napi::Value OpenFile(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0);
  bool create = BoolArg(info, 1);
  mode_t mode = static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value()) & 07777;
  int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC;
  if (create) flags |= O_CREAT | O_EXCL;
  UniqueFd fd;
  do fd.reset(open(path.c_str(), flags, mode));
  while (!fd.valid() && errno == EINTR);
  if (!fd.valid()) ThrowErrno(info.Env(), errno, "open", path);
  if (create && fchmod(fd.get(), mode) != 0) {  // the umask must neither widen nor narrow the requested mode
    int err = errno;
    unlink(path.c_str());  // we made it: leave nothing behind
    ThrowErrno(info.Env(), err, "fchmod", path);
  }
  return Napi::Number::New(info.Env(), fd.release());
}

// reopenFd(fd) -> a new open file description of the same file. OFD locks belong to the description, and an fd
// received over SCM_RIGHTS shares the sender's; reopening gives this process its own.
Napi::Value ReopenFd(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  int newFd;
  do newFd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  while (newFd < 0 && errno == EINTR);
  if (newFd < 0) ThrowErrno(info.Env(), errno, "open", path);
  return Napi::Number::New(info.Env(), newFd);
}

void CloseFd(const Napi::CallbackInfo& info) {
  // On Linux the fd is released even when close() reports EINTR: never retry.
  if (close(FdArg(info, 0)) != 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
}

Napi::Value Fstat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(env, errno, "fstat");
  struct statfs sfs;
  int rc;
  do rc = fstatfs(fd, &sfs);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) ThrowErrno(env, errno, "fstatfs");
  Napi::Object out = Napi::Object::New(env);
  out.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  out.Set("mode", Napi::Number::New(env, st.st_mode));
  out.Set("uid", Napi::Number::New(env, st.st_uid));
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  out.Set("dev", Napi::Number::New(env, static_cast<double>(st.st_dev)));
  out.Set("isFile", Napi::Boolean::New(env, S_ISREG(st.st_mode)));
  // f_type is a signed word whose width differs between architectures; magics are 32-bit values.
  out.Set("fsType", Napi::Number::New(env, static_cast<uint32_t>(sfs.f_type)));
  return out;
}

// allocate(fd, size): reserve every page now, so a full tmpfs is ENOSPC here and not a SIGBUS on first touch.
// posix_fallocate comes first: on tmpfs it makes the new size visible only once all pages are reserved (and undoes
// a partial reservation on ENOSPC), so a process opening the file meanwhile sees size 0 ("not ready"), never a size
// whose pages may be missing. The ftruncate after it makes the size exact should the file have been larger.
void Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  off_t size = static_cast<off_t>(Int64Arg(info, 1));
  int err;
  do err = posix_fallocate(fd, 0, size);  // returns the error, does not set errno
  while (err == EINTR);
  if (err != 0) ThrowErrno(env, err, "posix_fallocate");
  int rc;
  do rc = ftruncate(fd, size);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) ThrowErrno(env, errno, "ftruncate");
}

void UnlinkFile(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0);
  if (unlink(path.c_str()) != 0) ThrowErrno(info.Env(), errno, "unlink", path);
}

}  // namespace

void InitFile(Napi::Env env, Napi::Object exports) {
  exports.Set("openFile", Napi::Function::New(env, OpenFile, "openFile"));
  exports.Set("reopenFd", Napi::Function::New(env, ReopenFd, "reopenFd"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("allocate", Napi::Function::New(env, Allocate, "allocate"));
  exports.Set("unlinkFile", Napi::Function::New(env, UnlinkFile, "unlinkFile"));
}

}  // namespace shmring
