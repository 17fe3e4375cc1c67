#include "errors.h"

#include <string.h>

#include <cctype>

namespace shmring {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const char* path) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  // Appended rather than `"E" + std::to_string(err)`: that operator+ trips g++ 12's false -Wrestrict in C++20.
  std::string code = name != nullptr ? std::string(name) : std::string("E").append(std::to_string(err));
  // Node (libuv) spells descriptions in lower case: "no such file or directory".
  std::string description = strerror(err);
  if (!description.empty())
    description[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(description[0])));
  std::string message = code + ": " + description + ", " + syscall;
  if (path != nullptr) message += std::string(" '") + path + "'";

  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr) error.Set("path", Napi::String::New(env, path));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path) {
  throw ErrnoError(env, err, syscall, path);
}

void ThrowCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  throw error;
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

}  // namespace shmring
