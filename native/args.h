// Reading arguments. TypeScript validates every argument before it gets here; these only convert. A value of the
// wrong JS type still cannot crash: node-addon-api turns the failed conversion into a JS exception.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace shmring {

inline int FdArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

inline int64_t Int64Arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}

inline double DoubleArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}

inline bool BoolArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].ToBoolean().Value();
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace shmring
