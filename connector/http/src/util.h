// Internal helpers of kam_http: URL parsing, endpoint templates for counters, header redaction,
// loopback detection, small string utilities. Not part of the public API.
#ifndef KAM_HTTP_SRC_UTIL_H_
#define KAM_HTTP_SRC_UTIL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kam/http/error.h"

namespace kam::http::internal {

struct Url {
  bool tls = false;
  std::string host;         // without brackets for IPv6
  std::string port;         // always set ("443"/"80" by default)
  std::string path_prefix;  // "" or "/prefix" without trailing slash

  std::string Origin() const;      // "https://host:port"
  std::string HostHeader() const;  // host[:port] as sent in the Host header
};

// Parses "http(s)://host[:port][/prefix]". Errors name the URL and what is wrong with it.
Result<Url> ParseUrl(std::string_view url);

// "GET /crm/v3/objects/companies/{id}": query dropped, all-digit segments replaced by {id}.
std::string EndpointTemplate(std::string_view method, std::string_view target);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

// True when the header's value must never be logged (Authorization, Cookie, *token*, *secret*).
bool IsSensitiveHeader(std::string_view name);

// Replaces bearer tokens and access_token= / refresh_token= / client_secret= values in free text.
std::string RedactSecrets(std::string_view text);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Parses a whole decimal integer (optional surrounding spaces); nullopt otherwise.
std::optional<int64_t> ParseInt(std::string_view text);

// Retry-After in milliseconds: delta seconds, or an HTTP date (IMF-fixdate
// "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850 and asctime forms) turned into a
// delay from `now` (a date in the past gives 0). nullopt when absent or unparsable. Capped at 1
// day.
std::optional<int64_t> ParseRetryAfterMs(
    std::string_view value,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// An HTTP date (the three forms of RFC 9110 5.6.7) as Unix seconds; nullopt when unparsable.
std::optional<int64_t> ParseHttpDate(std::string_view value);

}  // namespace kam::http::internal

#endif  // KAM_HTTP_SRC_UTIL_H_
