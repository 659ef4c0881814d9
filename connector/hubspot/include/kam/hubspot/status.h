// Errors of the HubSpot adapter: a typed Error (HTTP status, the CRM's category, message and
// correlation id, whether a retry can help) and the small Status / Result<T> types every fallible
// call returns. No exceptions cross this module's public API.
#ifndef KAM_HUBSPOT_STATUS_H_
#define KAM_HUBSPOT_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kam::hubspot {

// What kind of failure; the names follow the KAM_ status codes of kam/addin.h so the engine maps
// them one to one (kOk = KAM_OK, kInvalidArgument = KAM_INVALID_ARGUMENT, ...).
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument = 1,    // 400 VALIDATION_ERROR, a bad option, a malformed CRM answer
  kNotFound = 2,           // 404 OBJECT_NOT_FOUND
  kPermissionDenied = 3,   // 403 MISSING_SCOPES
  kUnauthenticated = 4,    // 401 INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION, no token
  kRateLimited = 5,        // 429 after the retries, or the daily reserve is reached
  kUnavailable = 6,        // 5xx, timeouts, dropped connections after the retries
  kConflict = 7,           // 409 CONFLICT
  kCancelled = 8,          // the cancel hook said stop
  kInternal = 9,           // a bug or an unexpected answer shape
};

const char* ErrorCodeName(ErrorCode code);

// One failed call (or one failed record inside a 207).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;         // what happened, to what, what the user can do
  int http_status = 0;         // 0 when no HTTP answer was received
  std::string category;        // CRM category, e.g. "VALIDATION_ERROR" (or 429 policyName)
  std::string crm_message;     // the CRM's own message, verbatim
  std::string correlation_id;  // X-HubSpot-Correlation-Id / body correlationId
  std::string endpoint;        // "POST /crm/v3/objects/companies/search"
  bool retryable = false;
  int64_t retry_after_ms = -1;  // -1 = none given

  std::string ToString() const;  // one line for logs and reports
};

// Success or an Error.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose
  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

// A value or an Error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace kam::hubspot

#endif  // KAM_HUBSPOT_STATUS_H_
