// CRC-32 (gzip's polynomial) by carry-less multiplication (crc32.cc).
#pragma once
#include <napi.h>

namespace shmsnap {
void RegisterCrc32(Napi::Env env, Napi::Object exports);
}
