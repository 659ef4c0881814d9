// The engine's one error currency: a StatusCode with a message (what happened, to what, what the
// user can do), a location (file:line:col and/or JSON pointer, or the CRM endpoint) and, for CRM
// calls, the HTTP details. The engine's own numbers: plugin/src/abi/status_map.cc is the only
// place that turns a StatusCode into a KAM_ status of kam/addin.h.
// OpError is the exception form, thrown by operations and caught by the ABI boundary.
#ifndef KAM_ENGINE_STATUS_H_
#define KAM_ENGINE_STATUS_H_

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kam::engine {

enum class StatusCode : uint8_t {
  kOk,
  kInvalidArgument,     // a bad request, config or rule file (location says where)
  kNotFound,            // a file or record that does not exist
  kPermissionDenied,    // the CRM refused a scope
  kUnauthenticated,     // no or a rejected CRM credential
  kRateLimited,         // the CRM's rate limit or the daily reserve (resumable)
  kUnavailable,         // the CRM could not be reached (resumable)
  kConflict,            // the state file is used by another process, or belongs to another portal
  kCancelled,           // the host asked to stop (resumable)
  kInternal,            // a bug or an unexpected answer
  kUnimplemented,       // not built in this library
  kFailedPrecondition,  // the CRM is not set up for this (e.g. a writeback property is missing:
                        // run `kam provision`); a configuration problem, not a transient one
};

std::string_view StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message, std::string location = {})
      : code_(code), message_(std::move(message)), location_(std::move(location)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& location() const { return location_; }
  std::string ToString() const;  // "<code name>: message (at location)"

  // Details of a CRM call behind the error (0 / false / -1 when none).
  int32_t http_status = 0;
  bool retryable = false;
  int64_t retry_after_ms = -1;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string location_;
};

// A value or a non-ok Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT: implicit on purpose
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT: must not be ok
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

// A failed operation: a Status as an exception. Thrown by operations; the ABI layer catches it.
class OpError : public std::exception {
 public:
  explicit OpError(Status status) : status_(std::move(status)) {}
  OpError(StatusCode code, std::string message, std::string location = {})
      : status_(code, std::move(message), std::move(location)) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }
  StatusCode code() const { return status_.code(); }
  const std::string& message() const { return status_.message(); }
  const std::string& location() const { return status_.location(); }

 private:
  Status status_;
};

}  // namespace kam::engine

#endif  // KAM_ENGINE_STATUS_H_
