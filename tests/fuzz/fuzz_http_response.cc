// Fuzz target: HTTP response parsing as connector/http's client does it: Beast's response
// parser with the client's header and body limits on raw bytes from the network, then what the
// client reads from a response: the rate-limit headers, Retry-After, the error of a non-2xx
// answer (JSON error body or raw text) and the JSON body.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "kam/http/error.h"
#include "kam/http/json_body.h"
#include "kam/http/rate_limiter.h"
#include "kam/http/request.h"
#include "util.h"

namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kMaxResponseBytes = 64 * 1024;  // the fuzz run's max_response_bytes
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  parser.header_limit(64 * 1024);  // client.cc: kHeaderLimit
  boost::beast::error_code ec;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  auto feed = [&](bool header_only) {
    while (!rest.empty() && !ec && !parser.is_done() && !(header_only && parser.is_header_done())) {
      const size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (used == 0) break;
      rest.remove_prefix(used);
    }
  };
  // As client.cc reads: the header first (Beast's read_header: not eager), then the declared
  // Content-Length is checked against max_response_bytes before the body is read, because
  // Beast 1.74 does not apply body_limit to a Content-Length body and its string body reserves
  // the declared length (a fuzz input declaring 50 TB found that the harness skipped this).
  parser.eager(false);
  feed(true);
  if (ec || !parser.is_header_done()) return 0;
  if (parser.content_length() && *parser.content_length() > kMaxResponseBytes) return 0;
  parser.eager(true);
  feed(false);
  // A peer that closes before sending anything is a transport error in the client (Beast's
  // read reports it; put_eof must not be called then).
  if (!parser.got_some()) return 0;
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;

  auto& msg = parser.get();
  kam::http::Response response;
  response.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = msg.body();
  (void)kam::http::RateLimitInfo::FromHeaders(response.headers);
  (void)kam::http::internal::ParseRetryAfterMs(response.Header("Retry-After"));
  (void)kam::http::ErrorFromResponse(response.status, response.body, response.CorrelationId());
  (void)kam::http::ParseJsonBody(response, "fuzz");
  return 0;
}
