// The C ABI of kam/addin.h: negotiation, the static function table, instances, and the
// exception boundary. Every function here catches everything; nothing unwinds into the host.
#include "kam/addin.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include <nlohmann/json.hpp>

#include "operation.h"

namespace {

using kam::engine::OpError;

// Copies s into dst[cap] with NUL termination, truncating on a UTF-8 boundary.
void CopyTruncated(char* dst, size_t cap, const std::string& s) {
  if (cap == 0) return;
  size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

// Fills the caller's kam_error, writing only the fields its struct_size covers.
int32_t Fail(kam_error* err, int32_t status, const std::string& message,
             const std::string& location = {}, int32_t http_status = 0, bool retryable = false,
             int64_t retry_after_ms = -1) {
  if (err == nullptr || err->struct_size < offsetof(kam_error, message)) return status;
  err->status = status;
  err->retryable = retryable ? 1 : 0;
  err->http_status = http_status;
  err->retry_after_ms = retry_after_ms;
  if (err->struct_size >= offsetof(kam_error, location)) {
    CopyTruncated(err->message, sizeof(err->message), message);
  }
  if (err->struct_size >= sizeof(kam_error)) {
    CopyTruncated(err->location, sizeof(err->location), location);
  }
  return status;
}

// The host's callbacks behind the engine's Host interface.
class CallbackHost final : public kam::engine::Host {
 public:
  explicit CallbackHost(const kam_host_api* api) {
    if (api != nullptr && api->struct_size >= offsetof(kam_host_api, is_cancelled) +
                                                   sizeof(api->is_cancelled)) {
      api_ = *api;
    } else if (api != nullptr) {
      api_.struct_size = 0;  // too old or garbage: use nothing from it
    }
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
      int32_t rc = api_.get_secret(api_.host_data, name.data(), name.size(), buf.data(),
                                   buf.size(), &len);
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
  bool IsCancelled() override {
    return api_.is_cancelled != nullptr && api_.is_cancelled(api_.host_data) != 0;
  }

 private:
  kam_host_api api_{};
};

}  // namespace

struct kam_instance {
  explicit kam_instance(const kam_host_api* api) : host(api) {}
  CallbackHost host;
  nlohmann::json config;
  std::atomic<bool> busy{false};
};

namespace {

// "line L, column C" for a JSON parse error at byte offset `byte` (1-based) of text.
std::string PositionOf(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// Parses a request or config; an empty text means {}. Throws OpError with the position.
nlohmann::json ParseJson(std::string_view what, const char* text, size_t len) {
  if (text == nullptr || len == 0) return nlohmann::json::object();
  std::string_view view(text, len);
  try {
    return nlohmann::json::parse(view);
  } catch (const nlohmann::json::parse_error& e) {
    std::string message = std::string(what) + " is not valid JSON: " + e.what();
    throw OpError(KAM_INVALID_ARGUMENT, message, std::string(what) + ":" + PositionOf(view, e.byte));
  }
}

int32_t Create(const kam_host_api* host, const char* config_json, size_t config_len,
               kam_instance** out, kam_error* err) {
  if (out == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "create: out must not be NULL");
  *out = nullptr;
  try {
    auto instance = std::make_unique<kam_instance>(host);
    instance->config = ParseJson("config", config_json, config_len);
    if (!instance->config.is_object()) {
      return Fail(err, KAM_INVALID_ARGUMENT, "config must be a JSON object", "config:/");
    }
    *out = instance.release();
    return KAM_OK;
  } catch (const OpError& e) {
    return Fail(err, e.status(), e.message(), e.location());
  } catch (const std::bad_alloc&) {
    return Fail(err, KAM_INTERNAL, "create: out of memory");
  } catch (const std::exception& e) {
    return Fail(err, KAM_INTERNAL, std::string("create: ") + e.what());
  } catch (...) {
    return Fail(err, KAM_INTERNAL, "create: unknown error");
  }
}

void Destroy(kam_instance* instance) noexcept {
  // Operations run synchronously inside invoke(), so no thread outlives its call; deleting the
  // instance is all that is left to do.
  delete instance;
}

int32_t Invoke(kam_instance* instance, const char* op, size_t op_len, const char* request_json,
               size_t request_len, kam_buffer* out, kam_error* err) {
  if (out != nullptr) {
    out->data = nullptr;
    out->size = 0;
  }
  if (instance == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "invoke: instance is NULL");
  if (out == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "invoke: out is NULL");
  if (op == nullptr) return Fail(err, KAM_INVALID_ARGUMENT, "invoke: op is NULL");
  bool expected = false;
  if (!instance->busy.compare_exchange_strong(expected, true)) {
    return Fail(err, KAM_CONFLICT,
                "invoke: this instance is already running an operation; use another instance "
                "for parallel calls");
  }
  struct Release {
    kam_instance* i;
    ~Release() { i->busy = false; }
  } release{instance};

  std::string name(op, op_len);
  try {
    const auto& table = kam::engine::Operations();
    auto it = table.find(name);
    if (it == table.end()) {
      return Fail(err, KAM_NOT_FOUND, "unknown operation '" + name + "'");
    }
    if (kam::engine::IsUnimplemented(it->second)) {
      return Fail(err, KAM_UNIMPLEMENTED, "operation '" + name + "' is not implemented yet");
    }
    nlohmann::json request = ParseJson("request", request_json, request_len);
    kam::engine::OpContext ctx{instance->host, instance->config};
    nlohmann::json result = it->second(ctx, request);
    std::string text = result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    char* data = static_cast<char*>(std::malloc(text.size() + 1));
    if (data == nullptr) return Fail(err, KAM_INTERNAL, name + ": out of memory");
    std::memcpy(data, text.c_str(), text.size() + 1);
    out->data = data;
    out->size = text.size();
    return KAM_OK;
  } catch (const OpError& e) {
    return Fail(err, e.status(), e.message(), e.location(), e.http_status, e.retryable,
                e.retry_after_ms);
  } catch (const std::bad_alloc&) {
    return Fail(err, KAM_INTERNAL, name + ": out of memory");
  } catch (const std::exception& e) {
    return Fail(err, KAM_INTERNAL, name + ": " + e.what());
  } catch (...) {
    return Fail(err, KAM_INTERNAL, name + ": unknown error");
  }
}

void FreeBuffer(kam_buffer* buffer) noexcept {
  if (buffer == nullptr) return;
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->size = 0;
}

constexpr uint64_t kCapabilities = KAM_CAP_HUBSPOT | KAM_CAP_SANDBOX | KAM_CAP_RULES | KAM_CAP_SYNC;

const kam_addin_api kApi = {
    sizeof(kam_addin_api), KAM_ABI_MAJOR, KAM_ABI_MINOR, kCapabilities, "kam-addin", KAM_VERSION,
    &Create, &Destroy, &Invoke, &FreeBuffer,
};

}  // namespace

extern "C" KAM_EXPORT int32_t kam_addin_negotiate(uint32_t host_major, uint32_t /*host_minor*/,
                                                  const kam_addin_api** out) {
  if (out == nullptr) return KAM_INVALID_ARGUMENT;
  if (host_major != KAM_ABI_MAJOR) return KAM_VERSION_MISMATCH;
  *out = &kApi;
  return KAM_OK;
}
