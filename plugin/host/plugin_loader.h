// Loads libkam_addin.so through the C ABI only (dlopen + kam_addin_negotiate) and owns one
// instance. Provides the host callbacks: log to stderr, a progress bar on a terminal, secrets from
// the environment or a 0600 file, and cancellation on SIGINT/SIGTERM.
#ifndef KAM_HOST_PLUGIN_LOADER_H_
#define KAM_HOST_PLUGIN_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "kam/addin.h"

namespace kam::host {

// The outcome of one invoke(): status KAM_OK with the JSON text, or the error details.
struct InvokeResult {
  int32_t status = KAM_OK;
  std::string json;      // on success
  std::string message;   // on failure
  std::string location;  // on failure, may be empty
  int32_t http_status = 0;
};

struct HostOptions {
  int verbosity = 1;  // 0 errors only, 1 warnings+info, 2 debug
  bool progress = true;
};

class Plugin {
 public:
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  // Loads the library at `path` (empty: $KAM_PLUGIN, then next to the executable), negotiates the
  // ABI and creates an instance with config_json. Returns nullopt and sets *error on failure.
  static std::unique_ptr<Plugin> Load(const std::string& path, const std::string& config_json,
                                      const HostOptions& options, std::string* error,
                                      int32_t* status);

  InvokeResult Invoke(const std::string& op, const std::string& request_json);
  const kam_addin_api& api() const { return *api_; }
  const std::string& path() const { return path_; }

 private:
  Plugin() = default;
  void* handle_ = nullptr;
  const kam_addin_api* api_ = nullptr;
  kam_instance* instance_ = nullptr;
  kam_host_api host_{};
  std::string path_;
};

// Installs SIGINT/SIGTERM handlers that make is_cancelled() return non-zero.
void InstallCancelHandlers();

// Reads a secret as the plugin's get_secret callback does: environment variable `name`, else
// the file named by `name`_FILE, which must be a regular file readable by its owner only
// (mode 0600 or 0400). Returns nullopt and sets *why when refused or absent; *absent (when given)
// tells the two apart: true when neither variable is set.
std::optional<std::string> ReadSecret(const std::string& name, std::string* why,
                                      bool* absent = nullptr);

}  // namespace kam::host

#endif  // KAM_HOST_PLUGIN_LOADER_H_
