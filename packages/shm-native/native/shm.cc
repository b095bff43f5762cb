// Thin System V shared-memory binding: argument checks and syscalls only.
// Loops, chunking, policy and error mapping live in TypeScript.
//
// Every failure is a JS Error with `errno`, `code` (EINVAL...) and `syscall`.
// detach() and remove() can take long on large segments (page tables torn
// down, memory freed), so they run on the libuv thread pool. removeNow() is
// the same IPC_RMID on the calling thread, for when the pool may be blocked.
#include <napi.h>

#include "aead.h"
#include "crc32.h"
#include "deflate.h"
#include "inflate.h"

#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

// Node 20 aborts on external buffers of 4 GiB or more; windows stay far below.
constexpr uint64_t kMaxViewBytes = uint64_t{1} << 31;

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? std::string(name) : "E" + std::to_string(err);
}

Napi::Error SysError(Napi::Env env, const char* syscall, int err) {
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (value < 0 || value > 4294967295.0 || value != static_cast<double>(static_cast<uint64_t>(value))) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer in 0..2^32-1");
  }
  return static_cast<uint32_t>(value);
}

int32_t ArgShmid(const Napi::CallbackInfo& info, size_t index) {
  uint32_t value = ArgUint32(info, index, "shmid");
  if (value > INT32_MAX) throw Napi::RangeError::New(info.Env(), "shmid out of range");
  return static_cast<int32_t>(value);
}

uint64_t ArgSize(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (value < 0 || value > 9007199254740991.0 || value != static_cast<double>(static_cast<uint64_t>(value))) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a safe non-negative integer");
  }
  return static_cast<uint64_t>(value);
}

Napi::Object StatObject(Napi::Env env, int shmid, const struct shmid_ds& ds) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("shmid", Napi::Number::New(env, shmid));
  out.Set("key", Napi::Number::New(env, static_cast<uint32_t>(ds.shm_perm.__key)));
  out.Set("size", Napi::Number::New(env, static_cast<double>(ds.shm_segsz)));
  out.Set("uid", Napi::Number::New(env, ds.shm_perm.uid));
  out.Set("gid", Napi::Number::New(env, ds.shm_perm.gid));
  out.Set("cuid", Napi::Number::New(env, ds.shm_perm.cuid));
  out.Set("cgid", Napi::Number::New(env, ds.shm_perm.cgid));
  out.Set("mode", Napi::Number::New(env, ds.shm_perm.mode));
  out.Set("nattch", Napi::Number::New(env, static_cast<double>(ds.shm_nattch)));
  out.Set("cpid", Napi::Number::New(env, ds.shm_cpid));
  out.Set("lpid", Napi::Number::New(env, ds.shm_lpid));
  out.Set("atime", Napi::Number::New(env, static_cast<double>(ds.shm_atime)));
  out.Set("dtime", Napi::Number::New(env, static_cast<double>(ds.shm_dtime)));
  out.Set("ctime", Napi::Number::New(env, static_cast<double>(ds.shm_ctime)));
  return out;
}

// shmctl(0, SHM_INFO): the highest index in use in the kernel's array (-1 if none).
Napi::Value ShmInfo(const Napi::CallbackInfo& info) {
  struct shm_info shmInfo;
  std::memset(&shmInfo, 0, sizeof shmInfo);
  int highest = shmctl(0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&shmInfo));
  if (highest < 0) throw SysError(info.Env(), "shmctl(SHM_INFO)", errno);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("highestIndex", Napi::Number::New(info.Env(), highest));
  out.Set("usedIds", Napi::Number::New(info.Env(), shmInfo.used_ids));
  return out;
}

// shmctl(index, SHM_STAT): null for an unused index or one we may not read.
Napi::Value ShmStat(const Napi::CallbackInfo& info) {
  int32_t index = static_cast<int32_t>(ArgUint32(info, 0, "index"));
  struct shmid_ds ds;
  int shmid = shmctl(index, SHM_STAT, &ds);
  if (shmid < 0) {
    int err = errno;
    if (err == EINVAL || err == EACCES || err == EIDRM) return info.Env().Null();
    throw SysError(info.Env(), "shmctl(SHM_STAT)", err);
  }
  return StatObject(info.Env(), shmid, ds);
}

Napi::Value IpcStat(const Napi::CallbackInfo& info) {
  int32_t shmid = ArgShmid(info, 0);
  struct shmid_ds ds;
  if (shmctl(shmid, IPC_STAT, &ds) < 0) throw SysError(info.Env(), "shmctl(IPC_STAT)", errno);
  return StatObject(info.Env(), shmid, ds);
}

// shmget(key, 0, 0): the segment's id, or null when no segment has that key.
Napi::Value Lookup(const Napi::CallbackInfo& info) {
  key_t key = static_cast<key_t>(ArgUint32(info, 0, "key"));
  int shmid = shmget(key, 0, 0);
  if (shmid < 0) {
    int err = errno;
    if (err == ENOENT) return info.Env().Null();
    throw SysError(info.Env(), "shmget", err);
  }
  return Napi::Number::New(info.Env(), shmid);
}

// shmget(key, size, IPC_CREAT | IPC_EXCL | mode): never reuses an existing segment.
Napi::Value Create(const Napi::CallbackInfo& info) {
  key_t key = static_cast<key_t>(ArgUint32(info, 0, "key"));
  uint64_t size = ArgSize(info, 1, "size");
  uint32_t mode = ArgUint32(info, 2, "mode");
  if (key == IPC_PRIVATE) throw Napi::RangeError::New(info.Env(), "key must not be IPC_PRIVATE");
  if (mode > 0777) throw Napi::RangeError::New(info.Env(), "mode must be permission bits (0..0777)");
  int shmid = shmget(key, static_cast<size_t>(size), IPC_CREAT | IPC_EXCL | static_cast<int>(mode));
  if (shmid < 0) throw SysError(info.Env(), "shmget", errno);
  return Napi::Number::New(info.Env(), shmid);
}

// shmctl(IPC_SET): owner and permission bits.
Napi::Value SetOwner(const Napi::CallbackInfo& info) {
  int32_t shmid = ArgShmid(info, 0);
  uint32_t uid = ArgUint32(info, 1, "uid");
  uint32_t gid = ArgUint32(info, 2, "gid");
  uint32_t mode = ArgUint32(info, 3, "mode");
  if (mode > 0777) throw Napi::RangeError::New(info.Env(), "mode must be permission bits (0..0777)");
  struct shmid_ds ds;
  if (shmctl(shmid, IPC_STAT, &ds) < 0) throw SysError(info.Env(), "shmctl(IPC_STAT)", errno);
  ds.shm_perm.uid = uid;
  ds.shm_perm.gid = gid;
  ds.shm_perm.mode = static_cast<unsigned short>((ds.shm_perm.mode & ~0777u) | mode);
  if (shmctl(shmid, IPC_SET, &ds) < 0) throw SysError(info.Env(), "shmctl(IPC_SET)", errno);
  return info.Env().Undefined();
}

// shmctl(SHM_LOCK / SHM_UNLOCK): keeps the segment's pages in memory; the
// kernel reports it as SHM_LOCKED (02000) in shm_perm.mode.
Napi::Value SetLocked(const Napi::CallbackInfo& info) {
  int32_t shmid = ArgShmid(info, 0);
  if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "locked must be a boolean");
  bool locked = info[1].As<Napi::Boolean>().Value();
  if (shmctl(shmid, locked ? SHM_LOCK : SHM_UNLOCK, nullptr) < 0) {
    throw SysError(info.Env(), locked ? "shmctl(SHM_LOCK)" : "shmctl(SHM_UNLOCK)", errno);
  }
  return info.Env().Undefined();
}

// flock(fd, LOCK_EX | LOCK_NB): true when taken, false when another open file
// holds it (EWOULDBLOCK). Not shared memory, but the one lock Linux releases
// whatever way its holder ends (SIGKILL included), which Node cannot take.
Napi::Value TryLockFile(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "fd must be a number");
  int64_t fd = info[0].As<Napi::Number>().Int64Value();
  if (fd < 0 || fd > INT32_MAX) throw Napi::RangeError::New(info.Env(), "fd is out of range");
  int rc;
  do rc = flock(static_cast<int>(fd), LOCK_EX | LOCK_NB);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  throw SysError(info.Env(), "flock", errno);
}

// A syscall on the thread pool, settling a promise.
class SyscallWorker : public Napi::AsyncWorker {
 public:
  using Call = int (*)(intptr_t);
  SyscallWorker(Napi::Env env, const char* syscall, Call call, intptr_t arg)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), syscall_(syscall), call_(call), arg_(arg) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (call_(arg_) < 0) err_ = errno;
  }
  void OnOK() override {
    if (err_ != 0) {
      deferred_.Reject(SysError(Env(), syscall_, err_).Value());
    } else {
      deferred_.Resolve(Env().Undefined());
    }
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const char* syscall_;
  Call call_;
  intptr_t arg_;
  int err_ = 0;
};

int RemoveCall(intptr_t shmid) { return shmctl(static_cast<int>(shmid), IPC_RMID, nullptr); }

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// Faulting a fresh segment in page by page from user space is the slowest
// part of a restore on virtual machines; the kernel can do it in one call.
// A backup's read-only mapping is populated for reading the same way (every
// page of a new mapping faults on first touch, even of existing memory).
class PopulateWorker : public Napi::AsyncWorker {
 public:
  PopulateWorker(Napi::Env env, uint8_t* address, uint64_t length, bool forWriting)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), address_(address), length_(length), forWriting_(forWriting) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override {
    if (madvise(address_, static_cast<size_t>(length_), forWriting_ ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) < 0) err_ = errno;
  }
  void OnOK() override {
    // EINVAL: a kernel older than 5.14; the pages are then faulted in on first touch.
    if (err_ != 0 && err_ != EINVAL) {
      deferred_.Reject(SysError(Env(), forWriting_ ? "madvise(MADV_POPULATE_WRITE)" : "madvise(MADV_POPULATE_READ)", err_).Value());
    } else {
      deferred_.Resolve(Napi::Boolean::New(Env(), err_ == 0));
    }
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  uint8_t* address_;
  uint64_t length_;
  bool forWriting_;
  int err_ = 0;
};
int DetachCall(intptr_t address) { return shmdt(reinterpret_cast<const void*>(address)); }

Napi::Value Remove(const Napi::CallbackInfo& info) {
  int32_t shmid = ArgShmid(info, 0);
  auto* worker = new SyscallWorker(info.Env(), "shmctl(IPC_RMID)", RemoveCall, shmid);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// IPC_RMID on the calling thread: an interrupted run whose pool threads are
// stuck in a read must still mark its segments for removal before it ends.
Napi::Value RemoveNow(const Napi::CallbackInfo& info) {
  int32_t shmid = ArgShmid(info, 0);
  if (RemoveCall(shmid) < 0) throw SysError(info.Env(), "shmctl(IPC_RMID)", errno);
  return info.Env().Undefined();
}

// One attachment (shmat) of a segment. Views are zero-copy Buffers over the
// mapping; they MUST NOT be used after detach() — the TypeScript layer owns
// that ordering. A forgotten attachment is detached when collected.
class Attachment : public Napi::ObjectWrap<Attachment> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Attachment",
                       {InstanceMethod("view", &Attachment::View), InstanceMethod("detach", &Attachment::Detach),
                        InstanceMethod("populate", &Attachment::Populate),
                        InstanceAccessor("size", &Attachment::Size, nullptr),
                        InstanceAccessor("readOnly", &Attachment::ReadOnly, nullptr),
                        InstanceAccessor("attached", &Attachment::Attached, nullptr)});
  }

  explicit Attachment(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Attachment>(info) {
    int32_t shmid = ArgShmid(info, 0);
    if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "readOnly must be a boolean");
    readOnly_ = info[1].As<Napi::Boolean>().Value();
    struct shmid_ds ds;
    if (shmctl(shmid, IPC_STAT, &ds) < 0) throw SysError(info.Env(), "shmctl(IPC_STAT)", errno);
    void* address = shmat(shmid, nullptr, readOnly_ ? SHM_RDONLY : 0);
    if (address == reinterpret_cast<void*>(-1)) throw SysError(info.Env(), "shmat", errno);
    address_ = static_cast<uint8_t*>(address);
    size_ = ds.shm_segsz;
  }

  ~Attachment() override {
    if (address_ != nullptr) shmdt(address_);
  }

 private:
  Napi::Value View(const Napi::CallbackInfo& info) {
    if (address_ == nullptr) throw Napi::Error::New(info.Env(), "view: segment is detached");
    uint64_t offset = ArgSize(info, 0, "offset");
    uint64_t length = ArgSize(info, 1, "length");
    if (length > kMaxViewBytes) throw Napi::RangeError::New(info.Env(), "view: length above 2 GiB");
    if (offset > size_ || length > size_ - offset) throw Napi::RangeError::New(info.Env(), "view: beyond the end of the segment");
    return Napi::Buffer<uint8_t>::New(info.Env(), address_ + offset, static_cast<size_t>(length), [](Napi::Env, uint8_t*) {});
  }

  // Resolves to true when the range was faulted in, false when the kernel cannot.
  // The caller keeps the attachment until the promise settles.
  Napi::Value Populate(const Napi::CallbackInfo& info) {
    if (address_ == nullptr) throw Napi::Error::New(info.Env(), "populate: segment is detached");
    uint64_t offset = ArgSize(info, 0, "offset");
    uint64_t length = ArgSize(info, 1, "length");
    if (offset > size_ || length > size_ - offset) throw Napi::RangeError::New(info.Env(), "populate: beyond the end of the segment");
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t start = offset / page * page;
    auto* worker = new PopulateWorker(info.Env(), address_ + start, length + (offset - start), !readOnly_);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    if (address_ == nullptr) {
      Napi::Promise::Deferred done = Napi::Promise::Deferred::New(info.Env());
      done.Resolve(info.Env().Undefined());
      return done.Promise();
    }
    auto* worker = new SyscallWorker(info.Env(), "shmdt", DetachCall, reinterpret_cast<intptr_t>(address_));
    address_ = nullptr;  // no new views from here on
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(size_)); }
  Napi::Value ReadOnly(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), readOnly_); }
  Napi::Value Attached(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), address_ != nullptr); }

  uint8_t* address_ = nullptr;
  uint64_t size_ = 0;
  bool readOnly_ = true;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("shmInfo", Napi::Function::New(env, ShmInfo));
  exports.Set("shmStat", Napi::Function::New(env, ShmStat));
  exports.Set("ipcStat", Napi::Function::New(env, IpcStat));
  exports.Set("lookup", Napi::Function::New(env, Lookup));
  exports.Set("create", Napi::Function::New(env, Create));
  exports.Set("setOwner", Napi::Function::New(env, SetOwner));
  exports.Set("remove", Napi::Function::New(env, Remove));
  exports.Set("removeNow", Napi::Function::New(env, RemoveNow));
  exports.Set("setLocked", Napi::Function::New(env, SetLocked));
  exports.Set("tryLockFile", Napi::Function::New(env, TryLockFile));
  exports.Set("Attachment", Attachment::Define(env));
  exports.Set("maxViewBytes", Napi::Number::New(env, static_cast<double>(kMaxViewBytes)));
  shmsnap::RegisterAead(env, exports);
  shmsnap::RegisterCrc32(env, exports);
  shmsnap::RegisterInflate(env, exports);
  shmsnap::RegisterDeflate(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(shmsnap_shm, Init)
