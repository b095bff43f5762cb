// Inflate into memory the caller gives, on libuv's thread pool: the gzip
// codec's restore writes a segment's bytes straight into the attached segment
// and takes their CRC-32 in the same pass. node:zlib can only hand out fresh
// Buffers: a 2 GiB restore made ~1.4 s of collection on the main thread, one
// copy into the segment and a second CRC pass there (measured 2026-12-03:
// 14.6 CPU-s against 10.9 for C zlib inflating the same bytes on one core).
//
// The zlib is the one inside Node (its symbols are exported for addons, and
// its headers ship with Node's), so this adds no library to the install.
// An Inflater holds one z_stream; one inflate() runs at a time (the caller
// waits for it), and while it runs the input and output arrays are held
// referenced so that neither can be collected under the thread.
#include "inflate.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "crc32.h"

namespace shmsnap {
namespace {

// zlib counts in 32 bits; one call hands it at most this much of each side.
constexpr size_t kStepBytes = size_t{1} << 30;

const char* ZlibCode(int rc) {
  switch (rc) {
    case Z_DATA_ERROR: return "Z_DATA_ERROR";
    case Z_NEED_DICT: return "Z_NEED_DICT";
    case Z_MEM_ERROR: return "Z_MEM_ERROR";
    case Z_STREAM_ERROR: return "Z_STREAM_ERROR";
    default: return "Z_ERRNO";
  }
}

class Inflater;

class InflateWorker : public Napi::AsyncWorker {
 public:
  InflateWorker(Napi::Env env, Inflater* owner, Napi::Object self, Napi::Uint8Array input, Napi::Uint8Array output, uint32_t crc);
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void Settle();
  Napi::Promise::Deferred deferred_;
  Inflater* owner_;
  Napi::ObjectReference self_, input_, output_;
  const uint8_t* in_;
  size_t inLength_;
  uint8_t* out_;
  size_t outLength_;
  uint32_t crc_;
  size_t read_ = 0, written_ = 0;
  bool ended_ = false;
  int rc_ = Z_OK;
  std::string message_;
};

class Inflater : public Napi::ObjectWrap<Inflater> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Inflater",
                       {InstanceMethod("inflate", &Inflater::Inflate), InstanceMethod("reset", &Inflater::Reset),
                        InstanceMethod("close", &Inflater::Close)});
  }

  explicit Inflater(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Inflater>(info) {
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "Inflater(windowBits): windowBits must be -15 (raw deflate) or 15 (zlib)");
    windowBits_ = info[0].As<Napi::Number>().Int32Value();
    if (windowBits_ != -15 && windowBits_ != 15) throw Napi::RangeError::New(info.Env(), "Inflater(windowBits): windowBits must be -15 (raw deflate) or 15 (zlib)");
    std::memset(&stream_, 0, sizeof stream_);
    int rc = inflateInit2(&stream_, windowBits_);
    if (rc != Z_OK) throw Napi::Error::New(info.Env(), std::string("inflateInit2: ") + ZlibCode(rc));
    open_ = true;
  }

  ~Inflater() override {
    if (open_) inflateEnd(&stream_);
  }

  z_stream* Stream() { return &stream_; }
  void Done() { busy_ = false; }

 private:
  void CheckIdle(const Napi::CallbackInfo& info, const char* what) {
    if (!open_) throw Napi::Error::New(info.Env(), std::string(what) + ": inflater is closed");
    if (busy_) throw Napi::Error::New(info.Env(), std::string(what) + ": inflater is busy");
  }

  // inflate(input, output, previousCrc) → Promise<{ read, written, ended, crc32 }>
  Napi::Value Inflate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(info, "inflate");
    for (int i = 0; i < 2; i++) {
      if (info.Length() <= static_cast<size_t>(i) || !info[i].IsTypedArray() ||
          info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw Napi::TypeError::New(env, "inflate(input, output, crc): input and output must be Uint8Arrays");
      }
    }
    if (info.Length() < 3 || !info[2].IsNumber()) throw Napi::TypeError::New(env, "inflate(input, output, crc): crc must be a number");
    auto* worker = new InflateWorker(env, this, Value(), info[0].As<Napi::Uint8Array>(), info[1].As<Napi::Uint8Array>(),
                                     info[2].As<Napi::Number>().Uint32Value());
    busy_ = true;
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    CheckIdle(info, "reset");
    int rc = inflateReset(&stream_);
    if (rc != Z_OK) throw Napi::Error::New(info.Env(), std::string("inflateReset: ") + ZlibCode(rc));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (busy_) throw Napi::Error::New(info.Env(), "close: inflater is busy");
    if (open_) inflateEnd(&stream_);
    open_ = false;
    return info.Env().Undefined();
  }

  z_stream stream_;
  int windowBits_ = -15;
  bool open_ = false;
  bool busy_ = false;
};

InflateWorker::InflateWorker(Napi::Env env, Inflater* owner, Napi::Object self, Napi::Uint8Array input, Napi::Uint8Array output, uint32_t crc)
    : Napi::AsyncWorker(env),
      deferred_(Napi::Promise::Deferred::New(env)),
      owner_(owner),
      self_(Napi::Persistent(self)),
      input_(Napi::Persistent(input.As<Napi::Object>())),
      output_(Napi::Persistent(output.As<Napi::Object>())),
      in_(input.Data()),
      inLength_(input.ByteLength()),
      out_(output.Data()),
      outLength_(output.ByteLength()),
      crc_(crc) {}

void InflateWorker::Execute() {
  z_stream* stream = owner_->Stream();
  // zlib refuses a null output pointer even with no room; an empty output still lets it read
  // what produces nothing (an empty stored block, the end-of-block code, a zlib trailer).
  uint8_t none = 0;
  uint8_t* out = outLength_ > 0 ? out_ : &none;
  static const uint8_t kNoInput = 0;
  const uint8_t* in = inLength_ > 0 ? in_ : &kNoInput;
  for (;;) {
    const size_t inStep = inLength_ - read_ < kStepBytes ? inLength_ - read_ : kStepBytes;
    const size_t outStep = outLength_ - written_ < kStepBytes ? outLength_ - written_ : kStepBytes;
    stream->next_in = const_cast<Bytef*>(in + read_);
    stream->avail_in = static_cast<uInt>(inStep);
    stream->next_out = outLength_ > 0 ? out + written_ : out;
    stream->avail_out = static_cast<uInt>(outStep);
    int rc = inflate(stream, Z_NO_FLUSH);
    read_ += inStep - stream->avail_in;
    written_ += outStep - stream->avail_out;
    if (rc == Z_STREAM_END) {
      ended_ = true;
      break;
    }
    if (rc == Z_BUF_ERROR) break;  // no progress possible: input or room used up
    if (rc != Z_OK) {
      rc_ = rc;
      message_ = stream->msg != nullptr ? stream->msg : ZlibCode(rc);
      break;
    }
    if (read_ == inLength_ || written_ == outLength_) {
      // Everything given was used, or there is no room left: a further call with
      // an empty side could only report Z_BUF_ERROR. One more with no room
      // still reads markers that produce nothing, such as the end of the stream.
      if (written_ == outLength_ && read_ < inLength_ && inStep - stream->avail_in > 0) continue;
      break;
    }
  }
  if (written_ > 0) crc_ = Crc32Update(crc_, out_, written_);
}

void InflateWorker::Settle() {
  owner_->Done();
  self_.Reset();
  input_.Reset();
  output_.Reset();
}

void InflateWorker::OnOK() {
  Napi::Env env = Env();
  Settle();
  if (rc_ != Z_OK) {
    Napi::Error error = Napi::Error::New(env, message_);
    error.Set("code", Napi::String::New(env, ZlibCode(rc_)));
    error.Set("read", Napi::Number::New(env, static_cast<double>(read_)));
    error.Set("written", Napi::Number::New(env, static_cast<double>(written_)));
    deferred_.Reject(error.Value());
    return;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("read", Napi::Number::New(env, static_cast<double>(read_)));
  result.Set("written", Napi::Number::New(env, static_cast<double>(written_)));
  result.Set("ended", Napi::Boolean::New(env, ended_));
  result.Set("crc32", Napi::Number::New(env, static_cast<double>(crc_)));
  deferred_.Resolve(result);
}

void InflateWorker::OnError(const Napi::Error& error) {
  Settle();
  deferred_.Reject(error.Value());
}

}  // namespace

void RegisterInflate(Napi::Env env, Napi::Object exports) { exports.Set("Inflater", Inflater::Define(env)); }

}  // namespace shmsnap
