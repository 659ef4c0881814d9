// Fuzz target: the instance configuration (kam.json) as create() and every operation see it:
// the ABI's boundary parse (size and depth limits), then the engine's strict config parser.
// Every bad input must come back as an OpError with a JSON pointer, never a crash or another
// exception.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "boundary_json.h"
#include "config.h"
#include "operation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nlohmann::json config = kam::abi::ParseBoundaryJson(
        "config", reinterpret_cast<const char*>(data), size, kam::abi::kConfigLimits);
    kam::engine::EngineConfig parsed = kam::engine::ParseEngineConfig(config);
    (void)parsed.PolicyFor("kam_tier");
  } catch (const kam::engine::OpError& e) {
    if (e.code() != kam::engine::StatusCode::kInvalidArgument) __builtin_trap();
  }
  return 0;
}
