// One HTTP exchange as the caller sees it: the Request it builds (method, target, JSON body,
// whether it is safe to repeat, which rate-limit lane) and the Response it gets back.
// Bodies are plain strings so that no JSON library leaks into this header.
#ifndef KAM_HTTP_REQUEST_H_
#define KAM_HTTP_REQUEST_H_

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kam::http {

enum class Method { kGet, kPost, kPut, kPatch, kDelete };
const char* ToString(Method method);

// Which rate-limit bucket a request draws from.
enum class Lane {
  kStandard,  // the ten-second burst window + daily quota (X-HubSpot-RateLimit-* headers)
  kSearch,    // CRM search: 5 requests/s, responses carry no rate headers
  kUnpaced,   // not paced (e.g. the OAuth token endpoint)
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  Method method = Method::kGet;
  // Path and query appended to the base URL ("/crm/v3/objects/companies?limit=100"), or an
  // absolute "http(s)://host[:port]/path" URL for another origin (pooled separately).
  std::string target;
  std::string body;  // empty = no body
  std::string content_type = "application/json";
  // Extra headers, e.g. {"Authorization", "Bearer ..."}. Never logged (values of Authorization,
  // Cookie and *token* headers are redacted everywhere).
  Headers headers;
  // Safe to send twice: reads, searches, batch update of the same values, upserts keyed by a
  // unique property. Only such requests are retried after timeouts, dropped connections and
  // 5xx; any request is retried after a 429 (the server did not act on it).
  bool idempotent = false;
  Lane lane = Lane::kStandard;
  // Name for the per-endpoint counters; empty = method + path template of target (query
  // dropped, numeric segments replaced by {id}).
  std::string endpoint;
};

struct Response {
  int status = 0;
  std::string body;
  Headers headers;                       // as received
  int attempts = 1;                      // how many times the request was sent
  std::chrono::microseconds latency{0};  // of the last attempt

  // First header with this name (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
  // The X-HubSpot-Correlation-Id header, or "".
  std::string_view CorrelationId() const { return Header("X-HubSpot-Correlation-Id"); }
};

// "Bearer <token>" header, for convenience.
inline std::pair<std::string, std::string> BearerAuth(std::string_view token) {
  return {"Authorization", "Bearer " + std::string(token)};
}

}  // namespace kam::http

#endif  // KAM_HTTP_REQUEST_H_
