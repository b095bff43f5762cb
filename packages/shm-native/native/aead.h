// The AES-256-GCM frame calls of the addon (aead.cc).
#pragma once
#include <napi.h>

namespace shmsnap {
void RegisterAead(Napi::Env env, Napi::Object exports);
}
