// The C ABI of kam/addin.h: negotiation, the static function table, instances, and the
// exception and thread boundary. Every export is noexcept and does all its work inside a
// try; errors are written into the caller's kam_error from fixed buffers, without allocating,
// so even an out-of-memory path reports. README.md in this folder states the guarantees.
#include "kam/addin.h"

#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

#include "boundary_json.h"
#include "operation.h"
#include "status_map.h"

namespace {

using kam::engine::OpError;

// True when a struct of `struct_size` bytes holds the whole of the member at [offset, +size).
constexpr bool Holds(uint32_t struct_size, size_t offset, size_t size) noexcept {
  return struct_size >= offset + size;
}
#define KAM_HOLDS(ptr, member)                                                      \
  Holds((ptr)->struct_size, offsetof(std::remove_pointer_t<decltype(ptr)>, member), \
        sizeof((ptr)->member))

// A message assembled in a fixed buffer: never allocates, never throws, truncates on a UTF-8
// boundary.
class FixedText {
 public:
  FixedText& operator<<(std::string_view s) noexcept {
    size_t room = sizeof(buf_) - 1 - len_;
    size_t n = s.size() < room ? s.size() : room;
    // Do not cut a UTF-8 sequence: drop the continuation bytes of a cut character.
    if (n < s.size()) {
      while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    }
    if (n > 0) std::memcpy(buf_ + len_, s.data(), n);
    len_ += n;
    buf_[len_] = '\0';
    return *this;
  }
  FixedText& operator<<(const char* s) noexcept {
    return *this << std::string_view(s != nullptr ? s : "");
  }
  FixedText& operator<<(uint64_t v) noexcept {
    char digits[24];
    auto res = std::to_chars(digits, digits + sizeof(digits), v);
    return *this << std::string_view(digits, static_cast<size_t>(res.ptr - digits));
  }
  std::string_view view() const noexcept { return {buf_, len_}; }

 private:
  char buf_[sizeof(kam_error::message)] = {};
  size_t len_ = 0;
};

// Copies s into dst[cap] with NUL termination, truncating on a UTF-8 boundary.
void CopyTruncated(char* dst, size_t cap, std::string_view s) noexcept {
  if (cap == 0) return;
  size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  if (n > 0) std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

// Fills the caller's kam_error, writing only the fields its struct_size holds entirely.
// Never allocates.
int32_t Fail(kam_error* err, int32_t status, std::string_view message,
             std::string_view location = {}, int32_t http_status = 0, bool retryable = false,
             int64_t retry_after_ms = -1) noexcept {
  if (err == nullptr) return status;
  if (KAM_HOLDS(err, status)) err->status = status;
  if (KAM_HOLDS(err, retryable)) err->retryable = retryable ? 1 : 0;
  if (KAM_HOLDS(err, http_status)) err->http_status = http_status;
  if (KAM_HOLDS(err, retry_after_ms)) err->retry_after_ms = retry_after_ms;
  if (KAM_HOLDS(err, message)) CopyTruncated(err->message, sizeof(err->message), message);
  if (KAM_HOLDS(err, location)) CopyTruncated(err->location, sizeof(err->location), location);
  return status;
}

// Reports the exception being handled (call only from a catch block). No allocation: messages
// of standard exceptions are read through what().
int32_t FailCurrent(kam_error* err, std::string_view context) noexcept {
  try {
    throw;
  } catch (const OpError& e) {
    return Fail(err, kam::abi::ToKamStatus(e.code()), e.message(), e.location(),
                e.status().http_status, e.status().retryable, e.status().retry_after_ms);
  } catch (const std::bad_alloc&) {
    return Fail(err, KAM_INTERNAL, (FixedText() << context << ": out of memory").view());
  } catch (const std::exception& e) {
    return Fail(err, KAM_INTERNAL, (FixedText() << context << ": " << e.what()).view());
  } catch (...) {
    return Fail(err, KAM_INTERNAL, (FixedText() << context << ": unknown error").view());
  }
}

}  // namespace

struct kam_instance;

namespace {

// The host's callbacks behind the engine's Host interface. Only the members the host's
// struct_size holds are used; the others count as NULL.
class CallbackHost final : public kam::engine::Host {
 public:
  CallbackHost(const kam_host_api* api, const std::atomic<bool>* closing) : closing_(closing) {
    if (api == nullptr) return;
    if (KAM_HOLDS(api, host_data)) api_.host_data = api->host_data;
    if (KAM_HOLDS(api, log)) api_.log = api->log;
    if (KAM_HOLDS(api, progress)) api_.progress = api->progress;
    if (KAM_HOLDS(api, get_secret)) api_.get_secret = api->get_secret;
    if (KAM_HOLDS(api, is_cancelled)) api_.is_cancelled = api->is_cancelled;
  }
  void Log(int32_t level, std::string_view message) override {
    if (api_.log != nullptr) api_.log(api_.host_data, level, message.data(), message.size());
  }
  void Progress(std::string_view phase, uint64_t done, uint64_t total) override {
    if (api_.progress != nullptr) {
      api_.progress(api_.host_data, phase.data(), phase.size(), done, total);
    }
  }
  std::optional<std::string> GetSecret(std::string_view name) override {
    if (api_.get_secret == nullptr) return std::nullopt;
    std::string buf(256, '\0');
    for (int attempt = 0; attempt < 2; ++attempt) {
      size_t len = 0;
      int32_t rc =
          api_.get_secret(api_.host_data, name.data(), name.size(), buf.data(), buf.size(), &len);
      if (rc == KAM_OK && len <= buf.size()) {
        buf.resize(len);
        return buf;
      }
      if (rc == KAM_INVALID_ARGUMENT && len > buf.size() && len < (1u << 20)) {
        buf.assign(len, '\0');
        continue;
      }
      return std::nullopt;
    }
    return std::nullopt;
  }
  // A destroy() waiting for this instance cancels the running operation.
  bool IsCancelled() override {
    if (closing_->load(std::memory_order_acquire)) return true;
    return api_.is_cancelled != nullptr && api_.is_cancelled(api_.host_data) != 0;
  }

 private:
  kam_host_api api_{};
  const std::atomic<bool>* closing_;
};

}  // namespace

// One tenant's instance. `mu` guards busy/closing/invoker/destroy_deferred; `idle` is signalled
// when a call ends. The instance is freed by destroy() once no call runs, or by the running
// call itself when destroy() was called from inside one of its own host callbacks.
struct kam_instance {
  explicit kam_instance(const kam_host_api* api) : host(api, &cancel) {}
  std::atomic<bool> cancel{false};  // set by destroy(); seen through host.IsCancelled()
  CallbackHost host;
  nlohmann::json config;
  std::mutex mu;
  std::condition_variable idle;
  bool busy = false;
  bool closing = false;
  bool destroy_deferred = false;
  std::thread::id invoker;
};

namespace {

int32_t Create(const kam_host_api* host, const char* config_json, size_t config_len,
               kam_instance** out, kam_error* err) noexcept {
  if (out == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "create: out must not be NULL");
  *out = nullptr;
  if (config_json == nullptr && config_len != 0) {
    return Fail(err, KAM_INVALID_ARGUMENT, "create: config_json is NULL but config_len is not 0");
  }
  try {
    auto instance = std::make_unique<kam_instance>(host);
    instance->config =
        kam::abi::ParseBoundaryJson("config", config_json, config_len, kam::abi::kConfigLimits);
    if (!instance->config.is_object()) {
      return Fail(err, KAM_INVALID_ARGUMENT, "config must be a JSON object", "config:/");
    }
    *out = instance.release();
    return KAM_OK;
  } catch (...) {
    return FailCurrent(err, "create");
  }
}

// destroy() while invoke() runs on another thread waits: it cancels the running call (its
// is_cancelled() reads as true from now on), refuses new calls with KAM_CANCELLED, waits until
// the call has returned, then frees. Called from inside a host callback of the instance's own
// running call, it cannot wait for that call: the instance is then freed when the call returns.
void Destroy(kam_instance* instance) noexcept {
  if (instance == nullptr) return;
  {
    std::unique_lock<std::mutex> lock(instance->mu);
    instance->closing = true;
    instance->cancel.store(true, std::memory_order_release);
    if (instance->busy && instance->invoker == std::this_thread::get_id()) {
      instance->destroy_deferred = true;
      return;
    }
    instance->idle.wait(lock, [instance] { return !instance->busy; });
  }
  delete instance;
}

// Marks the instance busy for this call. KAM_CONFLICT when another call runs, KAM_CANCELLED when
// the instance is being destroyed.
int32_t Claim(kam_instance* instance, kam_error* err) noexcept {
  try {
    std::lock_guard<std::mutex> lock(instance->mu);
    if (instance->closing) {
      return Fail(err, KAM_CANCELLED, "invoke: the instance is being destroyed");
    }
    if (instance->busy) {
      return Fail(err, KAM_CONFLICT,
                  "invoke: this instance is already running an operation; use another instance "
                  "for parallel calls");
    }
    instance->busy = true;
    instance->invoker = std::this_thread::get_id();
    return KAM_OK;
  } catch (...) {
    return FailCurrent(err, "invoke");
  }
}

// Ends the call: wakes a waiting destroy(), or frees the instance when destroy() was called
// from inside this call. Touches nothing of the instance after unlocking.
void Release(kam_instance* instance) noexcept {
  bool free_now = false;
  {
    std::lock_guard<std::mutex> lock(instance->mu);
    instance->busy = false;
    instance->invoker = {};
    free_now = instance->destroy_deferred;
    instance->idle.notify_all();
  }
  if (free_now) delete instance;
}

int32_t RunClaimed(kam_instance* instance, std::string_view name, const char* request_json,
                   size_t request_len, kam_buffer* out, kam_error* err) noexcept {
  try {
    const auto& table = kam::engine::Operations();
    auto it = table.find(name);
    if (it == table.end()) {
      return Fail(err, KAM_NOT_FOUND, (FixedText() << "unknown operation '" << name << "'").view());
    }
    if (kam::engine::IsUnimplemented(it->second)) {
      return Fail(err, KAM_UNIMPLEMENTED,
                  (FixedText() << "operation '" << name << "' is not implemented yet").view());
    }
    nlohmann::json request =
        kam::abi::ParseBoundaryJson("request", request_json, request_len, kam::abi::kRequestLimits);
    kam::engine::OpContext ctx{instance->host, instance->config};
    nlohmann::json result = it->second(ctx, request);
    std::string text = result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    char* data = static_cast<char*>(std::malloc(text.size() + 1));
    if (data == nullptr) {
      return Fail(err, KAM_INTERNAL, (FixedText() << name << ": out of memory").view());
    }
    std::memcpy(data, text.c_str(), text.size() + 1);
    out->data = data;
    out->size = text.size();
    return KAM_OK;
  } catch (...) {
    return FailCurrent(err, name);
  }
}

int32_t Invoke(kam_instance* instance, const char* op, size_t op_len, const char* request_json,
               size_t request_len, kam_buffer* out, kam_error* err) noexcept {
  if (out != nullptr && KAM_HOLDS(out, size)) {
    out->data = nullptr;
    out->size = 0;
  }
  if (instance == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "invoke: instance is NULL");
  if (out == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "invoke: out is NULL");
  if (!KAM_HOLDS(out, size)) {
    return Fail(err, KAM_INVALID_ARGUMENT,
                "invoke: out->struct_size is smaller than a kam_buffer; set it to "
                "sizeof(kam_buffer)");
  }
  if (op == nullptr && op_len != 0) return Fail(err, KAM_INVALID_ARGUMENT, "invoke: op is NULL");
  if (request_json == nullptr && request_len != 0) {
    return Fail(err, KAM_INVALID_ARGUMENT, "invoke: request_json is NULL but request_len is not 0");
  }
  const int32_t claimed = Claim(instance, err);
  if (claimed != KAM_OK) return claimed;
  const int32_t rc = RunClaimed(instance, std::string_view(op != nullptr ? op : "", op_len),
                                request_json, request_len, out, err);
  Release(instance);
  return rc;
}

void FreeBuffer(kam_buffer* buffer) noexcept {
  if (buffer == nullptr) return;
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->size = 0;
}

constexpr uint64_t kCapabilities = KAM_CAP_HUBSPOT | KAM_CAP_SANDBOX | KAM_CAP_RULES | KAM_CAP_SYNC;

// The table holds only functions that cannot throw.
static_assert(noexcept(Create(nullptr, nullptr, 0, nullptr, nullptr)));
static_assert(noexcept(Destroy(nullptr)));
static_assert(noexcept(Invoke(nullptr, nullptr, 0, nullptr, 0, nullptr, nullptr)));
static_assert(noexcept(FreeBuffer(nullptr)));

const kam_addin_api kApi = {
    sizeof(kam_addin_api), KAM_ABI_MAJOR, KAM_ABI_MINOR, kCapabilities, "kam-addin",
    KAM_VERSION,           &Create,       &Destroy,      &Invoke,       &FreeBuffer,
};

int32_t Negotiate(uint32_t host_major, const kam_addin_api** out) noexcept {
  if (out == nullptr) return KAM_INVALID_ARGUMENT;
  if (host_major != KAM_ABI_MAJOR) return KAM_VERSION_MISMATCH;
  *out = &kApi;
  return KAM_OK;
}

}  // namespace

extern "C" KAM_EXPORT int32_t kam_addin_negotiate(uint32_t host_major, uint32_t /*host_minor*/,
                                                  const kam_addin_api** out) {
  // The header declares it without noexcept (C linkage, and the declaration is fixed);
  // Negotiate() is noexcept and this wrapper does nothing else.
  return Negotiate(host_major, out);
}
