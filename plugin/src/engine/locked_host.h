// The host's services are called one at a time (kam/addin.h), but a run calls them from more
// than one thread: the push sends batches side by side (push.cc), and the CRM's log, cancel and
// secret hooks run on those senders while the run's thread reports progress, checks for a cancel
// and redacts what it stores. LockedHost forwards every call to the host under one mutex.
#ifndef KAM_ENGINE_LOCKED_HOST_H_
#define KAM_ENGINE_LOCKED_HOST_H_

#include <mutex>

#include "operation.h"

namespace kam::engine {

class LockedHost final : public Host {
 public:
  explicit LockedHost(Host& inner) : inner_(inner) {}

  void Log(int32_t level, std::string_view message) override {
    std::lock_guard lock(mu_);
    inner_.Log(level, message);
  }
  void Progress(std::string_view phase, uint64_t done, uint64_t total) override {
    std::lock_guard lock(mu_);
    inner_.Progress(phase, done, total);
  }
  std::optional<std::string> GetSecret(std::string_view name) override {
    std::lock_guard lock(mu_);
    return inner_.GetSecret(name);
  }
  bool IsCancelled() override {
    std::lock_guard lock(mu_);
    return inner_.IsCancelled();
  }
  void Redact(std::string& text) override {
    std::lock_guard lock(mu_);
    inner_.Redact(text);
  }
  void AddSecret(std::string_view secret) override {
    std::lock_guard lock(mu_);
    inner_.AddSecret(secret);
  }

 private:
  Host& inner_;
  std::mutex mu_;
};

}  // namespace kam::engine

#endif  // KAM_ENGINE_LOCKED_HOST_H_
