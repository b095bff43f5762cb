// AES-256-GCM of one frame, from the caller's buffers into the caller's
// buffer: node:crypto's update() returns a fresh zero-filled allocation per
// call, which a restore pays for every MiB of every encrypted object. The
// frame format and every check of it stay in TypeScript (core's frames.ts);
// this is the cipher call and nothing else.
//
// OpenSSL is the one inside the Node binary that loads this addon (its
// symbols are exported, its headers ship with Node's), so the cipher is the
// same code node:crypto runs. The symbols are weak: a Node built without
// OpenSSL, or one that does not export it, still loads the addon (shared
// memory works), and only offers no gcmSeal / gcmOpen, so core keeps
// node:crypto (or has no encryption at all, as that Node).
#include <napi.h>

#include "aead.h"

// Headers absent (a Node built without OpenSSL ships none): the addon is
// built without the cipher, and shared memory works as before.
#if __has_include(<openssl/evp.h>) && __has_include(<openssl/err.h>)
#include <openssl/err.h>
#include <openssl/evp.h>

#pragma weak EVP_CIPHER_CTX_new
#pragma weak EVP_CIPHER_CTX_free
#pragma weak EVP_CIPHER_CTX_ctrl
#pragma weak EVP_CipherInit_ex
#pragma weak EVP_CipherUpdate
#pragma weak EVP_CipherFinal_ex
#pragma weak EVP_aes_256_gcm
#pragma weak ERR_get_error
#pragma weak ERR_error_string_n
#pragma weak ERR_clear_error

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace shmsnap {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
// EVP takes int lengths; a frame is at most 64 MiB.
constexpr size_t kMaxPieceBytes = size_t{1} << 30;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

struct Bytes {
  uint8_t* data;
  size_t length;
};

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  }
  Napi::Uint8Array array = info[index].As<Napi::Uint8Array>();
  return {array.Data(), array.ByteLength()};
}

Bytes ArgExact(const Napi::CallbackInfo& info, size_t index, const char* name, size_t length) {
  Bytes bytes = ArgBytes(info, index, name);
  if (bytes.length != length) throw Napi::RangeError::New(info.Env(), std::string(name) + " must be " + std::to_string(length) + " bytes");
  return bytes;
}

std::vector<Bytes> ArgParts(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsArray()) throw Napi::TypeError::New(info.Env(), "parts must be an array of Buffers");
  Napi::Array array = info[index].As<Napi::Array>();
  std::vector<Bytes> parts;
  parts.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value value = array.Get(i);
    if (!value.IsTypedArray()) throw Napi::TypeError::New(info.Env(), "parts must be an array of Buffers");
    Napi::Uint8Array part = value.As<Napi::Uint8Array>();
    if (part.ByteLength() > kMaxPieceBytes) throw Napi::RangeError::New(info.Env(), "a part is larger than 1 GiB");
    parts.push_back({part.Data(), part.ByteLength()});
  }
  return parts;
}

size_t TotalOf(const std::vector<Bytes>& parts) {
  size_t total = 0;
  for (const Bytes& part : parts) total += part.length;
  return total;
}

// Names the failed step and OpenSSL's reason, and leaves OpenSSL's error
// queue empty: it is this thread's, and node:crypto reads it too.
Napi::Error CipherError(Napi::Env env, const char* what) {
  std::string message = std::string("AES-256-GCM: ") + what + " failed";
  if (&ERR_get_error && &ERR_error_string_n) {
    unsigned long code = ERR_get_error();
    if (code != 0) {
      char reason[256];
      ERR_error_string_n(code, reason, sizeof reason);
      message += std::string(" (") + reason + ")";
    }
  }
  if (&ERR_clear_error) ERR_clear_error();
  return Napi::Error::New(env, message);
}

// Zeroes out[0, n) when it leaves scope unless kept: whichever way an open
// ends short of a checked tag (a thrown error included), no deciphered byte
// stays in the caller's buffer.
class ZeroUnlessKept {
 public:
  ZeroUnlessKept(uint8_t* data, size_t length) : data_(data), length_(length) {}
  ZeroUnlessKept(const ZeroUnlessKept&) = delete;
  ZeroUnlessKept& operator=(const ZeroUnlessKept&) = delete;
  ~ZeroUnlessKept() {
    if (!kept_) std::memset(data_, 0, length_);
  }
  void Keep() { kept_ = true; }

 private:
  uint8_t* data_;
  size_t length_;
  bool kept_ = false;
};

// Key, nonce and additional data into a fresh context for `encrypt` (1) or decrypt (0).
Ctx Begin(Napi::Env env, int encrypt, const Bytes& key, const Bytes& nonce, const Bytes& aad) {
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CipherError(env, "EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data, nonce.data, encrypt) != 1) throw CipherError(env, "init");
  if (aad.length > kMaxPieceBytes) throw Napi::RangeError::New(env, "aad is larger than 1 GiB");
  int ignored = 0;
  if (aad.length > 0 && EVP_CipherUpdate(ctx.get(), nullptr, &ignored, aad.data, static_cast<int>(aad.length)) != 1) throw CipherError(env, "aad");
  return ctx;
}

// Runs every part through the context into `out`, in order; GCM writes as many bytes as it reads.
void Run(Napi::Env env, EVP_CIPHER_CTX* ctx, const std::vector<Bytes>& parts, uint8_t* out) {
  size_t at = 0;
  for (const Bytes& part : parts) {
    if (part.length == 0) continue;
    int written = 0;
    if (EVP_CipherUpdate(ctx, out + at, &written, part.data, static_cast<int>(part.length)) != 1) throw CipherError(env, "update");
    at += static_cast<size_t>(written);
  }
  if (at != TotalOf(parts)) throw CipherError(env, "update length");
}

// The first four arguments of both calls: key, nonce, additional data, parts.
struct FrameArgs {
  Bytes key;
  Bytes nonce;
  Bytes aad;
  std::vector<Bytes> parts;
  size_t body;
};

FrameArgs ArgFrame(const Napi::CallbackInfo& info) {
  FrameArgs args{ArgExact(info, 0, "key", kKeyBytes), ArgExact(info, 1, "nonce", kNonceBytes), ArgBytes(info, 2, "aad"), ArgParts(info, 3), 0};
  args.body = TotalOf(args.parts);
  return args;
}

// gcmSeal(key, nonce, aad, parts, out): encrypts the parts, concatenated, into
// out[0, n) and writes the tag to out[n, n + 16).
void GcmSeal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FrameArgs frame = ArgFrame(info);
  Bytes out = ArgBytes(info, 4, "out");
  size_t body = frame.body;
  if (out.length < body + kTagBytes) throw Napi::RangeError::New(env, "out is shorter than the parts and the tag");
  Ctx ctx = Begin(env, 1, frame.key, frame.nonce, frame.aad);
  Run(env, ctx.get(), frame.parts, out.data);
  int ignored = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data + body, &ignored) != 1) throw CipherError(env, "final");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out.data + body) != 1) throw CipherError(env, "tag");
}

// gcmOpen(key, nonce, aad, parts, tag, out): decrypts the parts, concatenated,
// into out[0, n) and returns whether the tag checked. When it did not (or the
// call throws once deciphering began), out[0, n) is zeroed again:
// unauthenticated bytes never stay in the caller's buffer.
Napi::Value GcmOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FrameArgs frame = ArgFrame(info);
  Bytes tag = ArgExact(info, 4, "tag", kTagBytes);
  Bytes out = ArgBytes(info, 5, "out");
  size_t body = frame.body;
  if (out.length < body) throw Napi::RangeError::New(env, "out is shorter than the parts");
  Ctx ctx = Begin(env, 0, frame.key, frame.nonce, frame.aad);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data) != 1) throw CipherError(env, "tag");
  ZeroUnlessKept plain(out.data, body);
  Run(env, ctx.get(), frame.parts, out.data);
  uint8_t none[16];
  int ignored = 0;
  if (EVP_CipherFinal_ex(ctx.get(), none, &ignored) != 1) {
    if (&ERR_clear_error) ERR_clear_error();
    return Napi::Boolean::New(env, false);
  }
  plain.Keep();
  return Napi::Boolean::New(env, true);
}

}  // namespace

void RegisterAead(Napi::Env env, Napi::Object exports) {
  // Each is null when the process has no OpenSSL to resolve it to (weak, above).
  const bool haveOpenSsl = &EVP_CIPHER_CTX_new && &EVP_CIPHER_CTX_free && &EVP_CIPHER_CTX_ctrl && &EVP_CipherInit_ex && &EVP_CipherUpdate &&
                           &EVP_CipherFinal_ex && &EVP_aes_256_gcm;
  if (!haveOpenSsl) return;
  exports.Set("gcmSeal", Napi::Function::New(env, GcmSeal));
  exports.Set("gcmOpen", Napi::Function::New(env, GcmOpen));
}

}  // namespace shmsnap

#else

namespace shmsnap {
void RegisterAead(Napi::Env, Napi::Object) {}
}  // namespace shmsnap

#endif
