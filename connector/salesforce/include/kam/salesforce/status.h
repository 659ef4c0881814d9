// Errors of the Salesforce adapter: what failed, Salesforce's own errorCode / statusCode and
// message, and one classification that tells the caller what to do (retry, re-authenticate,
// wait for the quota, try later, give up). Status / Result<T> are the return types of every
// fallible call; no exception crosses this module's public API.
#ifndef KAM_SALESFORCE_STATUS_H_
#define KAM_SALESFORCE_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kam::salesforce {

// What the caller may do about an error.
enum class ErrorClass {
  kRetryable,    // the same request (or record) may succeed soon: UNABLE_TO_LOCK_ROW, a create
                 // whose outcome is unknown, a record rolled back with its batch
  kAuth,         // no or bad credentials, token refused after one refresh, missing permission
  kQuota,        // REQUEST_LIMIT_EXCEEDED or the local daily reserve: stop, resume later
  kUnavailable,  // 5xx, timeouts, dropped connections after the transport's retries
  kPermanent,    // the request or record is wrong and repeating it gives the same answer
  kCancelled,    // the host asked to stop; nothing is lost, resume later
};

// Stable lower-case names: "retryable", "auth", "quota", "unavailable", "permanent",
// "cancelled".
const char* ToString(ErrorClass error_class);

// Classifies a Salesforce errorCode (call level) or statusCode (per record), with the HTTP
// status when there is one (0 for per-record errors).
ErrorClass ClassifyErrorCode(std::string_view code, int http_status);

struct Error {
  ErrorClass error_class = ErrorClass::kPermanent;
  std::string message;              // what happened, to what, what the user can do
  int http_status = 0;              // 0 when no HTTP answer was received (or per-record errors)
  std::string error_code;           // Salesforce errorCode / statusCode, e.g. "INVALID_SESSION_ID"
  std::string crm_message;          // Salesforce's own message, verbatim
  std::vector<std::string> fields;  // fields the error names, if any
  std::string endpoint;             // "GET /query", "PATCH /composite/sobjects", ...
  int64_t retry_after_ms = -1;      // -1 = none known

  // kRetryable and kUnavailable: trying again later may work without anyone acting.
  bool retryable() const {
    return error_class == ErrorClass::kRetryable || error_class == ErrorClass::kUnavailable;
  }
  std::string ToString() const;  // one line for logs and reports
};

// Success or an Error.
class [[nodiscard]] Status {
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
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace kam::salesforce

#endif  // KAM_SALESFORCE_STATUS_H_
