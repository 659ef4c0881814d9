// Error names and the mapping of HubSpot error bodies to Error.
#include "kam/http/error.h"

#include <nlohmann/json.hpp>

namespace kam::http {
namespace {

constexpr std::size_t kMaxKeptBody = 64 * 1024;

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

const char* ToString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kHttpStatus:
      return "http_status";
    case ErrorKind::kRateLimited:
      return "rate_limited";
    case ErrorKind::kQuotaReserve:
      return "quota_reserve";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kConnection:
      return "connection";
    case ErrorKind::kTls:
      return "tls";
    case ErrorKind::kResponseTooLarge:
      return "response_too_large";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kInvalidArgument:
      return "invalid_argument";
    case ErrorKind::kInvalidResponse:
      return "invalid_response";
    case ErrorKind::kInternal:
      return "internal";
    case ErrorKind::kRetryBudget:
      return "retry_budget";
  }
  return "unknown";
}

Error ErrorFromResponse(int http_status, std::string_view body,
                        std::string_view correlation_header) {
  Error e;
  e.http_status = http_status;
  e.kind = http_status == 429 ? ErrorKind::kRateLimited : ErrorKind::kHttpStatus;
  e.retryable = http_status == 429 || http_status == 477 || http_status >= 500;
  e.body = std::string(body.substr(0, kMaxKeptBody));
  e.correlation_id = std::string(correlation_header);
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    e.crm_message = StringField(j, "message");
    e.category = StringField(j, "category");
    if (e.category.empty()) e.category = StringField(j, "errorType");
    e.sub_category = StringField(j, "subCategory");
    e.policy_name = StringField(j, "policyName");
    std::string cid = StringField(j, "correlationId");
    if (!cid.empty()) e.correlation_id = cid;
  }
  e.message = "HTTP " + std::to_string(http_status);
  if (!e.category.empty()) e.message += " " + e.category;
  if (!e.policy_name.empty()) e.message += " (" + e.policy_name + ")";
  if (!e.crm_message.empty()) e.message += ": " + e.crm_message;
  return e;
}

}  // namespace kam::http
