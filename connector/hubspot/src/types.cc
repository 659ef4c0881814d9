// Small methods of the public value types (status.h, types.h).
#include "kam/hubspot/types.h"

#include "kam/hubspot/status.h"
#include "time_util.h"

namespace kam::hubspot {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case ErrorCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case ErrorCode::kRateLimited:
      return "RATE_LIMITED";
    case ErrorCode::kUnavailable:
      return "UNAVAILABLE";
    case ErrorCode::kConflict:
      return "CONFLICT";
    case ErrorCode::kCancelled:
      return "CANCELLED";
    case ErrorCode::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

const char* ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kRetryable:
      return "retryable";
    case ErrorClass::kPermanent:
      return "permanent";
    case ErrorClass::kAuth:
      return "auth";
    case ErrorClass::kQuota:
      return "quota";
    case ErrorClass::kUnavailable:
      return "unavailable";
    case ErrorClass::kCancelled:
      return "cancelled";
  }
  return "permanent";
}

ErrorClass ClassOf(const Error& e) {
  switch (e.code) {
    case ErrorCode::kUnavailable:
      return ErrorClass::kUnavailable;
    case ErrorCode::kRateLimited:
      return ErrorClass::kQuota;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      return ErrorClass::kAuth;
    case ErrorCode::kCancelled:
      return ErrorClass::kCancelled;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kConflict:
    case ErrorCode::kInternal:
      break;
  }
  return e.retryable ? ErrorClass::kRetryable : ErrorClass::kPermanent;
}

bool StopsRun(ErrorClass c) {
  return c == ErrorClass::kAuth || c == ErrorClass::kQuota || c == ErrorClass::kUnavailable ||
         c == ErrorClass::kCancelled;
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

}  // namespace kam::hubspot
