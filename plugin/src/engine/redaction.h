// Secrets never leave an operation: RedactingHost wraps the host's services, remembers every
// secret it hands out (and every token the connector reports), and redacts log lines; RunRedacted
// runs an operation through it and redacts what the operation returns or throws. The store and
// the report writer redact through Host::Redact. See README "Security".
#ifndef KAM_ENGINE_REDACTION_H_
#define KAM_ENGINE_REDACTION_H_

#include <nlohmann/json.hpp>  // Redacted<> is defined here; only ops files include this
#include <string>
#include <string_view>

#include "kam/http/redact.h"
#include "operation.h"

namespace kam::engine {

class RedactingHost final : public Host {
 public:
  explicit RedactingHost(Host& inner) : inner_(inner) {}

  void Log(int32_t level, std::string_view message) override;
  void Progress(std::string_view phase, uint64_t done, uint64_t total) override;
  std::optional<std::string> GetSecret(std::string_view name) override;
  bool IsCancelled() override;
  void Redact(std::string& text) override;
  void AddSecret(std::string_view secret) override;

  const http::Redactor& redactor() const { return redactor_; }

 private:
  Host& inner_;
  http::Redactor redactor_;
};

// Replaces secrets in every string (keys and values) of `value`.
void RedactJson(nlohmann::json& value, const http::Redactor& redactor);

// Runs `fn` with a RedactingHost in place of ctx.host. The result's strings, an OpError's message
// and location, and any other exception's text are redacted before they leave.
nlohmann::json RunRedacted(OpFn fn, OpContext& ctx, const nlohmann::json& request);

// An OpFn that runs Fn through RunRedacted, for the operation table.
template <OpFn Fn>
nlohmann::json Redacted(OpContext& ctx, const nlohmann::json& request) {
  return RunRedacted(Fn, ctx, request);
}

}  // namespace kam::engine

#endif  // KAM_ENGINE_REDACTION_H_
