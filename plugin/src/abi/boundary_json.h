// The JSON texts that cross the ABI (the create() configuration and every invoke() request):
// size and nesting limits, checked by one allocation-free linear scan before the text is parsed,
// so a request nested a million levels deep is refused with its position instead of exhausting
// the stack of whatever walks the parsed value later; then the parse itself, with positions.
#ifndef KAM_ABI_BOUNDARY_JSON_H_
#define KAM_ABI_BOUNDARY_JSON_H_

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

namespace kam::abi {

struct JsonLimits {
  std::size_t max_bytes;
  std::size_t max_depth;  // arrays and objects open at once
};

// The limits of the ABI (documented in plugin/src/abi/README.md).
inline constexpr JsonLimits kConfigLimits{1u << 20, 256};    // create(): 1 MiB
inline constexpr JsonLimits kRequestLimits{64u << 20, 256};  // invoke(): 64 MiB

// Where and why a text exceeds its limits.
struct LimitViolation {
  std::size_t offset = 0;   // 0-based byte offset of the offending byte
  const char* reason = "";  // static text, e.g. "nested deeper than the limit"
};

// Returns true when `text` is within `limits`; otherwise false with *violation set. Only
// brackets outside of strings count (escapes inside strings are honoured); the text need not
// be valid JSON: the parser reports syntax errors afterwards.
bool CheckJsonLimits(std::string_view text, const JsonLimits& limits,
                     LimitViolation* violation) noexcept;

// 1-based line and column of the byte at `offset` (columns count bytes).
void LineColumn(std::string_view text, std::size_t offset, std::size_t* line,
                std::size_t* column) noexcept;

// Parses a configuration or request (`what` is "config" or "request") within `limits`; a NULL
// or empty text means {}. Throws kam::engine::OpError(StatusCode::kInvalidArgument) with the location
// "what:line:col" (or just "what" for the size limit) when the text is too large, too deep or
// not JSON.
nlohmann::json ParseBoundaryJson(std::string_view what, const char* text, std::size_t len,
                                 const JsonLimits& limits);

}  // namespace kam::abi

#endif  // KAM_ABI_BOUNDARY_JSON_H_
