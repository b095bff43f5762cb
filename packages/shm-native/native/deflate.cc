// Raw deflate of one piece per call on libuv's thread pool, for the gzip
// codec's backup. node:zlib's one-shot deflateRaw() makes a new stream per
// piece (deflateInit, ~270 KB of state touched fresh), a piece-sized output
// Buffer the collector then has to find, and the codec copied each output to
// its exact size and took the input's CRC-32 again on the main thread: a
// 2 GiB backup spent ~3.5 s collecting and ~1.5 s in those copies and calls
// (cpu-prof, 2026-12-03). Here one z_stream is reset per piece, the output is
// built in scratch memory this deflater keeps and leaves as one exact-size
// Buffer, and the input's CRC-32 is taken on the same thread, just before
// the bytes are compressed (while they are in cache).
//
// Same zlib as inflate.cc: the one inside Node. A Deflater runs one call at a
// time; while it runs, the input array is held referenced.
#include "deflate.h"

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "crc32.h"

namespace shmsnap {
namespace {

// zlib counts in 32 bits: one call hands it at most this much input.
constexpr size_t kStepBytes = size_t{1} << 30;
// A sync flush adds an empty stored block (≤ 5 bytes + the bits to the byte boundary) beyond deflateBound.
constexpr size_t kFlushSlack = 64;

const char* ZlibCode(int rc) {
  switch (rc) {
    case Z_MEM_ERROR: return "Z_MEM_ERROR";
    case Z_STREAM_ERROR: return "Z_STREAM_ERROR";
    case Z_BUF_ERROR: return "Z_BUF_ERROR";
    case Z_DATA_ERROR: return "Z_DATA_ERROR";
    default: return "Z_ERRNO";
  }
}

class Deflater;

class DeflateWorker : public Napi::AsyncWorker {
 public:
  DeflateWorker(Napi::Env env, Deflater* owner, Napi::Object self, Napi::Uint8Array input, bool last, uint32_t crc);
  ~DeflateWorker() override { std::free(result_); }
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void Settle();
  Napi::Promise::Deferred deferred_;
  Deflater* owner_;
  Napi::ObjectReference self_, input_;
  const uint8_t* in_;
  size_t inLength_;
  bool last_;
  uint32_t crc_;
  uint8_t* result_ = nullptr;
  size_t written_ = 0;
  int rc_ = Z_OK;
  std::string message_;
};

class Deflater : public Napi::ObjectWrap<Deflater> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Deflater",
                       {InstanceMethod("deflate", &Deflater::Deflate), InstanceMethod("reset", &Deflater::Reset),
                        InstanceMethod("close", &Deflater::Close)});
  }

  explicit Deflater(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Deflater>(info) {
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "Deflater(level): level must be an integer from 1 to 9");
    const double level = info[0].As<Napi::Number>().DoubleValue();
    if (!(level >= 1 && level <= 9) || level != static_cast<int>(level)) throw Napi::RangeError::New(info.Env(), "Deflater(level): level must be an integer from 1 to 9");
    std::memset(&stream_, 0, sizeof stream_);
    // Raw deflate (-15: a 32 KiB window, no zlib wrapper); memLevel 8 and the default strategy, as gzip -1 … -9.
    int rc = deflateInit2(&stream_, static_cast<int>(level), Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) throw Napi::Error::New(info.Env(), std::string("deflateInit2: ") + ZlibCode(rc));
    open_ = true;
  }

  ~Deflater() override {
    if (open_) deflateEnd(&stream_);
  }

  z_stream* Stream() { return &stream_; }
  std::vector<uint8_t>& Scratch() { return scratch_; }
  void Done() { busy_ = false; }

 private:
  void CheckIdle(const Napi::CallbackInfo& info, const char* what) {
    if (!open_) throw Napi::Error::New(info.Env(), std::string(what) + ": deflater is closed");
    if (busy_) throw Napi::Error::New(info.Env(), std::string(what) + ": deflater is busy");
  }

  // deflate(input, last, previousCrc) → Promise<{ output, crc32 }>
  Napi::Value Deflate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(info, "deflate");
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "deflate(input, last, crc): input must be a Uint8Array");
    }
    if (info.Length() < 3 || !info[1].IsBoolean() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "deflate(input, last, crc): last must be a boolean and crc a number");
    auto* worker = new DeflateWorker(env, this, Value(), info[0].As<Napi::Uint8Array>(), info[1].As<Napi::Boolean>().Value(),
                                     info[2].As<Napi::Number>().Uint32Value());
    busy_ = true;
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    CheckIdle(info, "reset");
    int rc = deflateReset(&stream_);
    if (rc != Z_OK) throw Napi::Error::New(info.Env(), std::string("deflateReset: ") + ZlibCode(rc));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (busy_) throw Napi::Error::New(info.Env(), "close: deflater is busy");
    if (open_) deflateEnd(&stream_);
    open_ = false;
    std::vector<uint8_t>().swap(scratch_);
    return info.Env().Undefined();
  }

  z_stream stream_;
  std::vector<uint8_t> scratch_;
  bool open_ = false;
  bool busy_ = false;
};

DeflateWorker::DeflateWorker(Napi::Env env, Deflater* owner, Napi::Object self, Napi::Uint8Array input, bool last, uint32_t crc)
    : Napi::AsyncWorker(env),
      deferred_(Napi::Promise::Deferred::New(env)),
      owner_(owner),
      self_(Napi::Persistent(self)),
      input_(Napi::Persistent(input.As<Napi::Object>())),
      in_(input.Data()),
      inLength_(input.ByteLength()),
      last_(last),
      crc_(crc) {}

void DeflateWorker::Execute() {
  z_stream* stream = owner_->Stream();
  std::vector<uint8_t>& scratch = owner_->Scratch();
  static const uint8_t kNoInput = 0;
  if (inLength_ > 0) crc_ = Crc32Update(crc_, in_, inLength_);
  // The output grows in steps of about the input's deflate bound: one step unless zlib exceeds it.
  const size_t chunk = inLength_ < kStepBytes ? inLength_ : kStepBytes;
  const size_t step = chunk + (chunk >> 8) + 1024 + kFlushSlack;
  const int flush = last_ ? Z_FINISH : Z_SYNC_FLUSH;
  size_t read = 0;
  for (;;) {
    if (scratch.size() - written_ < kFlushSlack) {
      try {
        scratch.resize(scratch.size() + step);
      } catch (const std::bad_alloc&) {
        rc_ = Z_MEM_ERROR;
        message_ = "out of memory for the deflate output";
        return;
      }
    }
    const size_t inStep = inLength_ - read < kStepBytes ? inLength_ - read : kStepBytes;
    const size_t room = scratch.size() - written_;
    const size_t outStep = room < kStepBytes ? room : kStepBytes;
    // Nothing is flushed before the last of the input: the blocks are what one call over the piece makes.
    const bool lastStep = read + inStep == inLength_;
    stream->next_in = const_cast<Bytef*>(inLength_ > 0 ? in_ + read : &kNoInput);
    stream->avail_in = static_cast<uInt>(inStep);
    stream->next_out = scratch.data() + written_;
    stream->avail_out = static_cast<uInt>(outStep);
    const int rc = deflate(stream, lastStep ? flush : Z_NO_FLUSH);
    read += inStep - stream->avail_in;
    written_ += outStep - stream->avail_out;
    if (rc == Z_STREAM_ERROR) {
      rc_ = rc;
      message_ = stream->msg != nullptr ? stream->msg : ZlibCode(rc);
      return;
    }
    if (read < inLength_ || !lastStep) continue;
    // All input is in: done once the flush completed (the end of the stream, or room left after a sync flush).
    if (last_ ? rc == Z_STREAM_END : stream->avail_out > 0) break;
  }
  result_ = static_cast<uint8_t*>(std::malloc(written_ > 0 ? written_ : 1));
  if (result_ == nullptr) {
    rc_ = Z_MEM_ERROR;
    message_ = "out of memory for the deflate output";
    return;
  }
  std::memcpy(result_, scratch.data(), written_);
}

void DeflateWorker::Settle() {
  owner_->Done();
  self_.Reset();
  input_.Reset();
}

void DeflateWorker::OnOK() {
  Napi::Env env = Env();
  Settle();
  if (rc_ != Z_OK) {
    Napi::Error error = Napi::Error::New(env, message_);
    error.Set("code", Napi::String::New(env, ZlibCode(rc_)));
    deferred_.Reject(error.Value());
    return;
  }
  uint8_t* data = result_;
  result_ = nullptr;
  Napi::Buffer<uint8_t> output = Napi::Buffer<uint8_t>::New(env, data, written_, [](Napi::Env, uint8_t* p) { std::free(p); });
  Napi::Object result = Napi::Object::New(env);
  result.Set("output", output);
  result.Set("crc32", Napi::Number::New(env, static_cast<double>(crc_)));
  deferred_.Resolve(result);
}

void DeflateWorker::OnError(const Napi::Error& error) {
  Settle();
  deferred_.Reject(error.Value());
}

}  // namespace

void RegisterDeflate(Napi::Env env, Napi::Object exports) { exports.Set("Deflater", Deflater::Define(env)); }

}  // namespace shmsnap
