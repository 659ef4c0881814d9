// The engine's status: names and the one-line text.
#include "status.h"

namespace kam::engine {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kPermissionDenied:
      return "permission denied";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kRateLimited:
      return "rate limited";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kUnimplemented:
      return "unimplemented";
    case StatusCode::kFailedPrecondition:
      return "failed precondition";
  }
  return "internal";
}

std::string Status::ToString() const {
  std::string out(StatusCodeName(code_));
  if (!message_.empty()) out += ": " + message_;
  if (!location_.empty()) out += " (at " + location_ + ")";
  return out;
}

}  // namespace kam::engine
