#include "status_map.h"

#include "kam/addin.h"

namespace kam::abi {

int32_t ToKamStatus(engine::StatusCode code) noexcept {
  using C = engine::StatusCode;
  switch (code) {
    case C::kOk:
      return KAM_OK;
    case C::kInvalidArgument:
      return KAM_INVALID_ARGUMENT;
    case C::kNotFound:
      return KAM_NOT_FOUND;
    case C::kPermissionDenied:
      return KAM_PERMISSION_DENIED;
    case C::kUnauthenticated:
      return KAM_UNAUTHENTICATED;
    case C::kRateLimited:
      return KAM_RATE_LIMITED;
    case C::kUnavailable:
      return KAM_UNAVAILABLE;
    case C::kConflict:
      return KAM_CONFLICT;
    case C::kCancelled:
      return KAM_CANCELLED;
    case C::kInternal:
      return KAM_INTERNAL;
    case C::kUnimplemented:
      return KAM_UNIMPLEMENTED;
    case C::kFailedPrecondition:
      return KAM_INVALID_ARGUMENT;
  }
  return KAM_INTERNAL;
}

}  // namespace kam::abi
