// Parsing response bodies as JSON.
#include "kam/http/json_body.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace kam::http {

Result<nlohmann::json> ParseJsonBody(const Response& response, std::string_view what) {
  if (response.body.empty()) return nlohmann::json();
  try {
    return nlohmann::json::parse(response.body);
  } catch (const nlohmann::json::exception& ex) {
    // parse_error carries the byte; a number the parser cannot hold (1e400) is out_of_range.406
    // and has no position.
    const auto* parse = dynamic_cast<const nlohmann::json::parse_error*>(&ex);
    Error e;
    e.kind = ErrorKind::kInvalidResponse;
    e.http_status = response.status;
    e.correlation_id = std::string(response.CorrelationId());
    e.body = response.body.substr(0, 64 * 1024);
    e.message = "the response body";
    if (!what.empty()) e.message += " of " + std::string(what);
    e.message += " is not valid JSON";
    if (parse != nullptr) e.message += " (byte " + std::to_string(parse->byte) + ")";
    e.message += std::string(": ") + ex.what() +
                 "; the server sent a malformed answer, retry later or report it";
    return e;
  }
}

std::optional<int64_t> JsonInteger(const nlohmann::json& j, int64_t lo, int64_t hi) {
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v >= lo && v <= hi) return v;
  } else if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (hi >= 0 && v <= static_cast<uint64_t>(hi) && static_cast<int64_t>(v) >= lo) {
      return static_cast<int64_t>(v);
    }
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    // 2^63 is exact as a double: below it the cast to int64_t is defined.
    if (d == std::floor(d) && d >= static_cast<double>(lo) && d < 9223372036854775808.0) {
      const int64_t v = static_cast<int64_t>(d);
      if (v >= lo && v <= hi) return v;
    }
  }
  return std::nullopt;
}

}  // namespace kam::http
