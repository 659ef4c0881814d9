// The one translation of the engine's StatusCode into the KAM_ status codes of kam/addin.h.
#ifndef KAM_ABI_STATUS_MAP_H_
#define KAM_ABI_STATUS_MAP_H_

#include <cstdint>

#include "status.h"

namespace kam::abi {

// KAM_OK .. KAM_UNIMPLEMENTED for every engine StatusCode. kFailedPrecondition (the CRM is not
// set up, e.g. a writeback property is missing) is a configuration problem: KAM_INVALID_ARGUMENT.
int32_t ToKamStatus(engine::StatusCode code) noexcept;

}  // namespace kam::abi

#endif  // KAM_ABI_STATUS_MAP_H_
