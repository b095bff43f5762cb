// Inflate (raw deflate or zlib) into memory the caller gives, on the thread pool (inflate.cc).
#pragma once
#include <napi.h>

namespace shmsnap {
void RegisterInflate(Napi::Env env, Napi::Object exports);
}
