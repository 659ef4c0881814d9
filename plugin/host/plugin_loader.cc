#include "plugin_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace kam::host {
namespace {

volatile std::sig_atomic_t g_cancelled = 0;

void OnSignal(int) { g_cancelled = 1; }

struct HostState {
  HostOptions options;
  bool tty = false;
  bool bar_open = false;  // a progress line is on screen without its newline
  std::string last_phase;
};

void EndBar(HostState* state) {
  if (state->bar_open) {
    std::fputc('\n', stderr);
    state->bar_open = false;
  }
}

void LogCallback(void* data, int32_t level, const char* msg, size_t len) {
  auto* state = static_cast<HostState*>(data);
  int min_level = state->options.verbosity >= 2   ? KAM_LOG_DEBUG
                  : state->options.verbosity == 1 ? KAM_LOG_INFO
                                                  : KAM_LOG_ERROR;
  if (level < min_level) return;
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  const char* name = level >= 0 && level <= 3 ? kNames[level] : "log";
  EndBar(state);
  std::fprintf(stderr, "kam: %s: %.*s\n", name, static_cast<int>(len), msg);
}

void ProgressCallback(void* data, const char* phase, size_t phase_len, uint64_t done,
                      uint64_t total) {
  auto* state = static_cast<HostState*>(data);
  if (!state->tty || !state->options.progress) return;
  std::string p(phase, phase_len);
  if (p != state->last_phase) {
    EndBar(state);
    state->last_phase = p;
  }
  constexpr int kWidth = 30;
  if (total > 0) {
    uint64_t shown = done > total ? total : done;
    int filled = static_cast<int>(shown * kWidth / total);
    std::fprintf(stderr, "\r%-10s [%.*s%*s] %3d%% %llu/%llu", p.c_str(), filled,
                 "##############################", kWidth - filled, "",
                 static_cast<int>(shown * 100 / total), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
  } else {
    std::fprintf(stderr, "\r%-10s %llu", p.c_str(), static_cast<unsigned long long>(done));
  }
  std::fflush(stderr);
  state->bar_open = true;
}

int32_t SecretCallback(void* data, const char* name, size_t name_len, char* out, size_t out_cap,
                       size_t* out_len) {
  auto* state = static_cast<HostState*>(data);
  std::string why;
  bool absent = false;
  std::optional<std::string> secret = ReadSecret(std::string(name, name_len), &why, &absent);
  if (!secret) {
    if (!why.empty()) {
      // A secret that is simply not set is a warning: the add-in fails the operation that needs
      // it with its own error, and one that can do without (the report's owner names) goes on.
      // A secret set but refused (mode, owner, name) is an error in every case.
      std::string line = why;
      LogCallback(state, absent ? KAM_LOG_WARN : KAM_LOG_ERROR, line.data(), line.size());
    }
    if (out_len != nullptr) *out_len = 0;
    return KAM_NOT_FOUND;
  }
  if (out_len != nullptr) *out_len = secret->size();
  if (out == nullptr || secret->size() > out_cap) return KAM_INVALID_ARGUMENT;
  std::memcpy(out, secret->data(), secret->size());
  explicit_bzero(secret->data(), secret->capacity());  // not optimised away, unlike std::fill
  return KAM_OK;
}

int32_t CancelledCallback(void*) { return g_cancelled ? 1 : 0; }

std::string ExecutableDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

std::vector<std::string> CandidatePaths(const std::string& explicit_path) {
  if (!explicit_path.empty()) return {explicit_path};
  if (const char* env = std::getenv("KAM_PLUGIN"); env != nullptr && *env != '\0') return {env};
  std::string dir = ExecutableDir();
  return {dir + "/../lib/libkam_addin.so", dir + "/../" KAM_INSTALL_LIBDIR "/libkam_addin.so",
          dir + "/libkam_addin.so"};
}

}  // namespace

void InstallCancelHandlers() {
  struct sigaction sa {};
  sa.sa_handler = &OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::optional<std::string> ReadSecret(const std::string& name, std::string* why, bool* absent) {
  if (absent != nullptr) *absent = false;
  // Only KAM_ secrets: a plugin (or a config file) cannot make kam hand out another variable of
  // its environment, such as AWS_SECRET_ACCESS_KEY.
  if (name.rfind("KAM_", 0) != 0) {
    *why = "refusing to hand out the secret " + name + ": secret names must start with KAM_";
    return std::nullopt;
  }
  if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') {
    return std::string(value);
  }
  std::string file_var = name + "_FILE";
  const char* file = std::getenv(file_var.c_str());
  if (file == nullptr || *file == '\0') {
    if (absent != nullptr) *absent = true;
    *why = "no secret " + name + ": set the environment variable " + name + " or " + file_var +
           " (a file of mode 0600)";
    return std::nullopt;
  }
  int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open the secret file " + std::string(file) + " (" + file_var +
           "): " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    *why = "refusing the secret file " + std::string(file) + ": not a regular file";
    return std::nullopt;
  }
  if (st.st_uid != geteuid()) {
    close(fd);
    *why = "refusing the secret file " + std::string(file) + ": it belongs to uid " +
           std::to_string(st.st_uid) + ", not to the user kam runs as (uid " +
           std::to_string(geteuid()) + "); chown it to that user";
    return std::nullopt;
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *why = "refusing the secret file " + std::string(file) + ": its mode is " + mode +
           ", readable by group or others; run chmod 600 on it";
    return std::nullopt;
  }
  std::string content;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0 && content.size() < (1u << 16)) {
    content.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  explicit_bzero(buf, sizeof(buf));
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r' ||
                              content.back() == ' ')) {
    content.pop_back();
  }
  if (content.empty()) {
    *why = "the secret file " + std::string(file) + " is empty";
    return std::nullopt;
  }
  return content;
}

std::unique_ptr<Plugin> Plugin::Load(const std::string& path, const std::string& config_json,
                                     const HostOptions& options, std::string* error,
                                     int32_t* status) {
  std::unique_ptr<Plugin> plugin(new Plugin());
  std::string tried;
  for (const std::string& candidate : CandidatePaths(path)) {
    plugin->handle_ = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (plugin->handle_ != nullptr) {
      plugin->path_ = candidate;
      break;
    }
    tried += std::string("\n  ") + dlerror();
  }
  if (plugin->handle_ == nullptr) {
    *error = "cannot load the add-in library (use --plugin PATH or KAM_PLUGIN):" + tried;
    *status = KAM_NOT_FOUND;
    return nullptr;
  }
  auto negotiate = reinterpret_cast<kam_addin_negotiate_fn>(
      dlsym(plugin->handle_, KAM_ADDIN_NEGOTIATE_SYMBOL));
  if (negotiate == nullptr) {
    *error = plugin->path_ + " is not a KAM add-in: no symbol " KAM_ADDIN_NEGOTIATE_SYMBOL;
    *status = KAM_NOT_FOUND;
    return nullptr;
  }
  int32_t rc = negotiate(KAM_ABI_MAJOR, KAM_ABI_MINOR, &plugin->api_);
  if (rc != KAM_OK || plugin->api_ == nullptr ||
      plugin->api_->struct_size < offsetof(kam_addin_api, free_buffer) + sizeof(void*)) {
    *error = plugin->path_ + ": ABI negotiation failed (host speaks " +
             std::to_string(KAM_ABI_MAJOR) + "." + std::to_string(KAM_ABI_MINOR) + ")";
    *status = rc == KAM_OK ? KAM_VERSION_MISMATCH : rc;
    return nullptr;
  }
  auto* state = new HostState{options, isatty(STDERR_FILENO) == 1, false, {}};
  plugin->host_ = {sizeof(kam_host_api), state,          &LogCallback,
                   &ProgressCallback,    &SecretCallback, &CancelledCallback};
  kam_error err{};
  err.struct_size = sizeof(err);
  rc = plugin->api_->create(&plugin->host_, config_json.data(), config_json.size(),
                            &plugin->instance_, &err);
  if (rc != KAM_OK) {
    *error = std::string(err.message) + (err.location[0] ? std::string(" at ") + err.location : "");
    *status = rc;
    return nullptr;
  }
  return plugin;
}

InvokeResult Plugin::Invoke(const std::string& op, const std::string& request_json) {
  InvokeResult result;
  kam_buffer out{};
  out.struct_size = sizeof(out);
  kam_error err{};
  err.struct_size = sizeof(err);
  result.status = api_->invoke(instance_, op.data(), op.size(), request_json.data(),
                               request_json.size(), &out, &err);
  EndBar(static_cast<HostState*>(host_.host_data));
  if (result.status == KAM_OK) {
    result.json.assign(out.data != nullptr ? out.data : "", out.size);
  } else {
    result.message = err.message;
    result.location = err.location;
    result.http_status = err.http_status;
  }
  api_->free_buffer(&out);
  return result;
}

Plugin::~Plugin() {
  if (api_ != nullptr && instance_ != nullptr) api_->destroy(instance_);
  delete static_cast<HostState*>(host_.host_data);
  // The library stays loaded until exit: unloading while static destructors of a
  // dependency may still run is not worth the risk in a short-lived CLI.
}

}  // namespace kam::host
