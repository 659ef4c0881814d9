// RedactingHost and RunRedacted (see redaction.h).
#include "redaction.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "kam/addin.h"

namespace kam::engine {

void RedactingHost::Log(int32_t level, std::string_view message) {
  std::string line(message);
  redactor_.Redact(line);
  inner_.Log(level, line);
}

void RedactingHost::Progress(std::string_view phase, uint64_t done, uint64_t total) {
  inner_.Progress(phase, done, total);
}

std::optional<std::string> RedactingHost::GetSecret(std::string_view name) {
  std::optional<std::string> secret = inner_.GetSecret(name);
  if (secret) redactor_.Add(*secret);
  return secret;
}

bool RedactingHost::IsCancelled() { return inner_.IsCancelled(); }

void RedactingHost::Redact(std::string& text) { redactor_.Redact(text); }

void RedactingHost::AddSecret(std::string_view secret) { redactor_.Add(secret); }

void RedactJson(nlohmann::json& value, const http::Redactor& redactor) {
  if (value.is_string()) {
    redactor.Redact(value.get_ref<std::string&>());
  } else if (value.is_array()) {
    for (auto& v : value) RedactJson(v, redactor);
  } else if (value.is_object()) {
    std::vector<std::string> renamed;
    for (auto it = value.begin(); it != value.end(); ++it) {
      RedactJson(it.value(), redactor);
      if (redactor.Redacted(it.key()) != it.key()) renamed.push_back(it.key());
    }
    for (const std::string& key : renamed) {
      nlohmann::json v = std::move(value[key]);
      value.erase(key);
      value[redactor.Redacted(key)] = std::move(v);
    }
  }
}

nlohmann::json RunRedacted(OpFn fn, OpContext& ctx, const nlohmann::json& request) {
  RedactingHost host(ctx.host);
  OpContext inner{host, ctx.config};
  const http::Redactor& r = host.redactor();
  try {
    nlohmann::json result = fn(inner, request);
    RedactJson(result, r);
    return result;
  } catch (const OpError& e) {
    Status clean(e.code(), r.Redacted(e.message()), r.Redacted(e.location()));
    clean.http_status = e.status().http_status;
    clean.retryable = e.status().retryable;
    clean.retry_after_ms = e.status().retry_after_ms;
    throw OpError(std::move(clean));
  } catch (const std::exception& e) {
    throw OpError(StatusCode::kInternal, r.Redacted(e.what()));
  }
}

}  // namespace kam::engine
