// Turning a failed syscall into a JS exception shaped like Node's own system errors:
//   ENOENT: no such file or directory, open '/dev/shm/x'
// with .code (errno name), .errno (negative, as Node's fs errors), .syscall and .path.
#pragma once

#include <napi.h>

#include <string>

namespace shmring {

// The errno error as an object (for callers that must not throw).
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const char* path = nullptr);

// Throws ErrnoError(...). With NAPI_CPP_EXCEPTIONS this is a C++ throw that node-addon-api turns into a JS throw.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path = nullptr);
[[noreturn]] inline void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  ThrowErrno(env, err, syscall, path.c_str());
}

// Throws an Error with a shmring code (ERR_SHMRING_*), for the rare protocol failures detected natively.
[[noreturn]] void ThrowCode(Napi::Env env, const char* code, const std::string& message);

// Misuse that TypeScript already rejects; native checks it again only where memory safety depends on it.
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);

}  // namespace shmring
