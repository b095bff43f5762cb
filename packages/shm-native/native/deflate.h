// Raw deflate of whole pieces on the thread pool, each ended with a sync flush or the final block (deflate.cc).
#pragma once
#include <napi.h>

namespace shmsnap {
void RegisterDeflate(Napi::Env env, Napi::Object exports);
}
