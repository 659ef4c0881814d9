// Names and small helpers of the public types and errors.
#include "kam/salesforce/types.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kam/salesforce/status.h"

namespace kam::salesforce {

const char* ToString(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::kRetryable:
      return "retryable";
    case ErrorClass::kAuth:
      return "auth";
    case ErrorClass::kQuota:
      return "quota";
    case ErrorClass::kUnavailable:
      return "unavailable";
    case ErrorClass::kPermanent:
      return "permanent";
    case ErrorClass::kCancelled:
      return "cancelled";
  }
  return "permanent";
}

ErrorClass ClassifyErrorCode(std::string_view code, int http_status) {
  if (code == "REQUEST_LIMIT_EXCEEDED" || code == "TXN_SECURITY_METERING_ERROR") {
    return ErrorClass::kQuota;
  }
  if (code == "INVALID_SESSION_ID" || code == "INVALID_AUTH_HEADER" ||
      code == "INSUFFICIENT_ACCESS" || code == "INSUFFICIENT_ACCESS_OR_READONLY" ||
      code == "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY" || code == "API_DISABLED_FOR_ORG" ||
      code == "API_CURRENTLY_DISABLED" || code == "invalid_grant" || code == "invalid_client" ||
      code == "invalid_client_id" || code == "unauthorized_client" || code == "inactive_user" ||
      code == "inactive_org") {
    return ErrorClass::kAuth;
  }
  if (code == "UNABLE_TO_LOCK_ROW" || code == "ALL_OR_NONE_OPERATION_ROLLED_BACK" ||
      code == "QUERY_TIMEOUT" || code == "INVALID_QUERY_LOCATOR") {
    return ErrorClass::kRetryable;
  }
  if (code == "SERVER_UNAVAILABLE" || code == "UNKNOWN_EXCEPTION") return ErrorClass::kUnavailable;
  if (http_status == 401) return ErrorClass::kAuth;
  if (http_status == 403) return ErrorClass::kAuth;
  if (http_status == 429) return ErrorClass::kRetryable;
  if (http_status >= 500) return ErrorClass::kUnavailable;
  return ErrorClass::kPermanent;
}

std::string Error::ToString() const {
  std::string s = std::string("[") + kam::salesforce::ToString(error_class) + "] " + message;
  if (!error_code.empty() && message.find(error_code) == std::string::npos) {
    s += " (" + error_code + ")";
  }
  return s;
}

std::optional<std::string> Record::Text(const std::string& name) const {
  auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  const Value& v = it->second;
  switch (v.kind) {
    case Value::Kind::kString:
      return v.text;
    case Value::Kind::kBool:
      return v.boolean ? "true" : "false";
    case Value::Kind::kNumber: {
      if (std::floor(v.number) == v.number && std::fabs(v.number) < 1e15) {
        return std::to_string(static_cast<int64_t>(v.number));
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.number);
      return std::string(buf);
    }
    case Value::Kind::kNull:
      break;
  }
  return std::nullopt;
}

std::optional<double> Record::Number(const std::string& name) const {
  auto it = fields.find(name);
  if (it == fields.end() || it->second.kind != Value::Kind::kNumber) return std::nullopt;
  return it->second.number;
}

bool Record::IsDeleted() const {
  auto it = fields.find("IsDeleted");
  return it != fields.end() && it->second.kind == Value::Kind::kBool && it->second.boolean;
}

bool WriteResult::all_ok() const {
  return std::all_of(records.begin(), records.end(), [](const auto& r) { return r.ok(); });
}

int64_t WriteResult::failed() const {
  return std::count_if(records.begin(), records.end(), [](const auto& r) { return !r.ok(); });
}

bool TaskWriteResult::all_ok() const {
  return std::all_of(tasks.begin(), tasks.end(), [](const auto& t) { return !t.error; });
}

const char* ToString(TaskKeyMode mode) {
  switch (mode) {
    case TaskKeyMode::kAuto:
      return "auto";
    case TaskKeyMode::kUpsert:
      return "upsert";
    case TaskKeyMode::kQueryInsert:
      return "query_insert";
  }
  return "auto";
}

const char* ToString(ProvisionItem::Outcome outcome) {
  switch (outcome) {
    case ProvisionItem::Outcome::kCreated:
      return "created";
    case ProvisionItem::Outcome::kUnchanged:
      return "unchanged";
    case ProvisionItem::Outcome::kUpdated:
      return "updated";
    case ProvisionItem::Outcome::kConflict:
      return "conflict";
    case ProvisionItem::Outcome::kFailed:
      return "failed";
  }
  return "failed";
}

bool ProvisionReport::changed() const {
  return std::any_of(items.begin(), items.end(), [](const auto& i) {
    return i.outcome == ProvisionItem::Outcome::kCreated ||
           i.outcome == ProvisionItem::Outcome::kUpdated;
  });
}

bool ProvisionReport::has_conflicts() const {
  return std::any_of(items.begin(), items.end(), [](const auto& i) {
    return i.outcome == ProvisionItem::Outcome::kConflict ||
           i.outcome == ProvisionItem::Outcome::kFailed;
  });
}

}  // namespace kam::salesforce
