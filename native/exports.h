// One registration function per OS concern; addon.cc calls them all.
#pragma once

#include <napi.h>

namespace shmring {

void InitFile(Napi::Env env, Napi::Object exports);
void InitMemfd(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitFdPassing(Napi::Env env, Napi::Object exports);
void InitLock(Napi::Env env, Napi::Object exports);
void InitFutex(Napi::Env env, Napi::Object exports);
void InitScheduling(Napi::Env env, Napi::Object exports);

}  // namespace shmring
