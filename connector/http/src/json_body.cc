// Parsing response bodies as JSON.
#include "kam/http/json_body.h"

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

}  // namespace kam::http
