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

// What kind of failure. The connector's own codes: they do not follow the KAM_ status numbers
// of kam/addin.h (the engine maps them, via ClassOf() below or by name).
enum class ErrorCode {
  kUnavailable,       // 5xx, timeouts, dropped connections, malformed answers after the
                      // retries, or the run's retry budget spent
  kRateLimited,       // 429 after the retries, or the daily reserve is reached
  kUnauthenticated,   // 401 INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION, no token
  kPermissionDenied,  // 403 MISSING_SCOPES
  kInvalidArgument,   // 400 VALIDATION_ERROR, a bad option or input
  kNotFound,          // 404 OBJECT_NOT_FOUND
  kConflict,          // 409 CONFLICT
  kCancelled,         // the cancel hook said stop
  kInternal,          // a bug or an unexpected answer shape
};

// What the caller should do about an error: the classification the engine maps to its own
// status (see ClassOf).
enum class ErrorClass {
  kRetryable,    // this call or record failed for now and the CRM says a retry may help; the
                 // run can go on, the next run tries again
  kPermanent,    // the request or record is wrong (400, 404, 409, an unexpected answer shape):
                 // repeating it as is fails again; other records go on
  kAuth,         // 401 / 403: stop the run, the admin must fix the token or the app's scopes
  kQuota,        // 429 after the retries, daily quota or reserve reached: stop the run, resume
                 // after retry_after_ms (or the next scheduled run)
  kUnavailable,  // the CRM is failing or unreachable after the retries, or the run's retry
                 // budget is spent: stop the run; resumable (the next run goes on from here)
  kCancelled,    // the host cancelled
};

const char* ErrorCodeName(ErrorCode code);
const char* ErrorClassName(ErrorClass c);

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
  // A write that was sent and may have been applied although no usable answer came back
  // (timeout or dropped connection after sending, 5xx, an unreadable 2xx body). The engine
  // must look before repeating a non-idempotent write (e.g. search a task's key).
  bool outcome_unknown = false;
  // The run's retry budget was spent (kam::http RetryOptions::budget_*).
  bool retry_budget_spent = false;

  std::string ToString() const;  // one line for logs and reports
};

// kUnavailable -> kUnavailable; kRateLimited -> kQuota; kUnauthenticated, kPermissionDenied ->
// kAuth; kCancelled -> kCancelled; any other code -> kRetryable when `retryable`, else
// kPermanent.
ErrorClass ClassOf(const Error& error);
// Whether an error of this class ends the run (kAuth, kQuota, kUnavailable, kCancelled).
bool StopsRun(ErrorClass c);

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
