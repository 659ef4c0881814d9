// Small methods of the public value types (status.h, types.h).
#include "kam/hubspot/status.h"
#include "kam/hubspot/types.h"
#include "time_util.h"

namespace kam::hubspot {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kPermissionDenied: return "PERMISSION_DENIED";
    case ErrorCode::kUnauthenticated: return "UNAUTHENTICATED";
    case ErrorCode::kRateLimited: return "RATE_LIMITED";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kConflict: return "CONFLICT";
    case ErrorCode::kCancelled: return "CANCELLED";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

std::string Error::ToString() const {
  std::string out = ErrorCodeName(code);
  out += ": ";
  out += message;
  if (http_status != 0) out += " [HTTP " + std::to_string(http_status) + "]";
  if (!category.empty()) out += " [" + category + "]";
  // crm_message is not appended: `message` already carries it (in its redacted form), and
  // appending the raw copy again is how a token a CRM echoes used to leak.
  if (!correlation_id.empty()) out += " (correlation id " + correlation_id + ")";
  return out;
}

std::optional<std::string> CrmObject::Get(const std::string& name) const {
  auto it = properties.find(name);
  if (it == properties.end()) return std::nullopt;
  return it->second;
}

int64_t CrmObject::ModifiedMs() const {
  for (const char* name : {"hs_lastmodifieddate", "lastmodifieddate"}) {
    if (auto v = Get(name)) {
      if (auto ms = internal::ParseTimeMs(*v)) return *ms;
    }
  }
  if (auto ms = internal::ParseTimeMs(updated_at)) return *ms;
  return -1;
}

bool TaskWriteResult::all_ok() const {
  for (const auto& t : tasks) {
    if (t.error) return false;
  }
  return true;
}

bool ProvisionReport::changed() const {
  for (const auto& item : items) {
    if (item.outcome == ProvisionItem::Outcome::kCreated ||
        item.outcome == ProvisionItem::Outcome::kUpdated) {
      return true;
    }
  }
  return false;
}

bool ProvisionReport::has_conflicts() const {
  for (const auto& item : items) {
    if (item.outcome == ProvisionItem::Outcome::kConflict) return true;
  }
  return false;
}

const char* ProvisionOutcomeName(ProvisionItem::Outcome outcome) {
  switch (outcome) {
    case ProvisionItem::Outcome::kCreated: return "created";
    case ProvisionItem::Outcome::kUnchanged: return "unchanged";
    case ProvisionItem::Outcome::kUpdated: return "updated";
    case ProvisionItem::Outcome::kConflict: return "conflict";
    case ProvisionItem::Outcome::kFailed: return "failed";
  }
  return "failed";
}

}  // namespace kam::hubspot
