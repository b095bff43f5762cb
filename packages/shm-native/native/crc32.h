// CRC-32 (gzip's polynomial) by carry-less multiplication (crc32.cc).
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace shmsnap {
void RegisterCrc32(Napi::Env env, Napi::Object exports);
// zlib's CRC-32 of [p, p + length) continued from `previous`, from any thread once
// RegisterCrc32 ran: the fold where the processor has it, zlib's (Node's) otherwise.
uint32_t Crc32Update(uint32_t previous, const uint8_t* p, size_t length);
}
