// JSON bodies: parse a Response body into nlohmann::json with an error that names the endpoint
// and the byte offset. Callers include <nlohmann/json.hpp> themselves; this header only needs
// the forward declaration.
#ifndef KAM_HTTP_JSON_BODY_H_
#define KAM_HTTP_JSON_BODY_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

#include "kam/http/error.h"
#include "kam/http/request.h"

namespace kam::http {

// Parses response.body (an empty body gives a null json). On malformed JSON returns
// ErrorKind::kInvalidResponse naming `what` (e.g. the endpoint) and the parser's position.
Result<nlohmann::json> ParseJsonBody(const Response& response, std::string_view what = {});

// A number from a CRM's JSON as an integer within [lo, hi]: a signed or unsigned integer in
// range, or a float with no fraction in range; anything else (out of range, 1e33, 2.5, NaN, a
// string) is nullopt. Use it instead of get<int64_t>() on CRM data: converting a float out of
// range is undefined behaviour (found by fuzzing: `"total": 1111…0001` parsed as 1.1e33).
std::optional<int64_t> JsonInteger(const nlohmann::json& j, int64_t lo, int64_t hi);

}  // namespace kam::http

#endif  // KAM_HTTP_JSON_BODY_H_
