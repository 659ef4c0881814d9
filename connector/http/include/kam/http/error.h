// Errors of the HTTP connector: one Error type that every failed call returns, carrying what the
// CRM said (status, message, category, correlation id) and what the caller may do (retryable,
// retry-after), and Result<T>, the value-or-error currency of kam::http.
// Thread-safety: plain values.
#ifndef KAM_HTTP_ERROR_H_
#define KAM_HTTP_ERROR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kam::http {

// What kind of failure. Stable names (ToString) for logs and JSON reports.
enum class ErrorKind {
  kHttpStatus,        // the server answered with a non-2xx status (see http_status, category)
  kRateLimited,       // the server answered 429 and retries were exhausted or not allowed
  kQuotaReserve,      // refused locally: only the configured reserve of the daily quota is left
  kTimeout,           // connect, TLS handshake, write or read took longer than its timeout
  kConnection,        // DNS failure, refused or dropped connection, malformed HTTP from the peer
  kTls,               // TLS handshake or certificate verification failed
  kResponseTooLarge,  // the response body exceeded ClientOptions::max_response_bytes
  kCancelled,         // the cancel hook returned true
  kInvalidArgument,   // bad URL, bad options, insecure TLS for a non-loopback host, ...
  kInvalidResponse,   // the body is not the JSON the caller expected
  kInternal,          // a bug or an unexpected library exception
  kRetryBudget,       // a retry was needed but the run's retry budget is spent (retryable)
};

const char* ToString(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  // Human-readable: what happened, to what (method + endpoint), what the user can do.
  std::string message;
  int http_status = 0;          // 0 when no response was received
  std::string crm_message;      // the CRM's "message" from the error body, if any
  std::string category;         // "category" (e.g. VALIDATION_ERROR) or "errorType" (RATE_LIMIT)
  std::string sub_category;     // "subCategory", if any
  std::string policy_name;      // 429 only: "policyName" (TEN_SECONDLY_ROLLING, DAILY, SECONDLY)
  std::string correlation_id;   // body "correlationId" or X-HubSpot-Correlation-Id header
  bool retryable = false;       // true when repeating the same request later may succeed
  int64_t retry_after_ms = -1;  // the server's Retry-After (or our estimate for 429s); -1: none
  std::string method;           // "GET", "POST", ... of the failed request
  std::string endpoint;         // method + path template, e.g. "GET /crm/v3/objects/companies/{id}"
  int attempts = 0;             // how many times the request was sent
  // The run's retry budget (RetryOptions::budget_*) was spent: not retried although it could
  // have been. retryable stays true: a later run may succeed.
  bool retry_budget_spent = false;
  // The request was sent and may have been applied although no usable answer came back
  // (timeout or dropped connection after sending, 5xx). Only meaningful for writes.
  bool outcome_unknown = false;
  std::string body;  // the raw response body (truncated to 64 KiB); empty if none
};

// Builds the CRM-facing fields of an Error from a non-2xx HubSpot response: parses the JSON
// error body (message, category or errorType, subCategory, correlationId, policyName); a body
// that is not JSON leaves them empty and keeps the raw text. Sets kind (kHttpStatus or
// kRateLimited), http_status, retryable (429, 477 and every 5xx) and body.
// message is filled with a generic sentence that the client later completes with the endpoint.
Error ErrorFromResponse(int http_status, std::string_view body,
                        std::string_view correlation_header = {});

// A value or an Error. Small on purpose: ok(), value(), error(), and pointer-like access.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> v_;
};

// Result without a value.
struct Ok {};
using Status = Result<Ok>;

}  // namespace kam::http

#endif  // KAM_HTTP_ERROR_H_
