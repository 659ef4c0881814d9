// JSON bodies: parse a Response body into nlohmann::json with an error that names the endpoint
// and the byte offset. Callers include <nlohmann/json.hpp> themselves; this header only needs
// the forward declaration.
#ifndef KAM_HTTP_JSON_BODY_H_
#define KAM_HTTP_JSON_BODY_H_

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "kam/http/error.h"
#include "kam/http/request.h"

namespace kam::http {

// Parses response.body (an empty body gives a null json). On malformed JSON returns
// ErrorKind::kInvalidResponse naming `what` (e.g. the endpoint) and the parser's position.
Result<nlohmann::json> ParseJsonBody(const Response& response, std::string_view what = {});

}  // namespace kam::http

#endif  // KAM_HTTP_JSON_BODY_H_
