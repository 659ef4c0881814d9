// The seam between the HubSpot adapter and HTTP: one synchronous call in, one answer (or Error)
// out. The production transport wraps kam::http::Client (pacing, retries, TLS); tests plug in a
// fake CRM. Authorization is added by the adapter, not by the transport.
#ifndef KAM_HUBSPOT_TRANSPORT_H_
#define KAM_HUBSPOT_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kam/hubspot/status.h"

namespace kam::http {
struct ClientOptions;
}

namespace kam::hubspot {

struct HttpCall {
  std::string method;  // "GET", "POST", "PATCH", "PUT", "DELETE"
  std::string target;  // path + query, e.g. "/crm/v3/objects/companies?limit=100"
  std::string body;    // JSON (or form-encoded for the OAuth token call); empty = none
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
  bool idempotent = false;   // safe to repeat (reads, searches, same-value updates, upserts)
  bool search_lane = false;  // CRM search: 5 requests/s bucket
  bool unpaced = false;      // OAuth token endpoint
  std::string endpoint;      // counter name; empty = derived from the target
};

struct HttpReply {
  int status = 0;  // 2xx only; any other status is an Error
  std::string body;
  std::string correlation_id;
};

// API usage of one run (from the http layer's counters).
struct ApiUsage {
  int64_t requests = 0;  // requests sent, retries included
  int64_t retries = 0;
  int64_t retry_budget_refusals = 0;  // retries refused because the run's budget was spent
  int64_t rate_limited = 0;           // 429 answers received
  int64_t failed = 0;                 // calls that ended in an error
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
  int64_t daily_remaining = -1;  // X-HubSpot-RateLimit-Daily-Remaining as last seen; -1 unknown
  int64_t daily_limit = -1;
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double latency_p99_ms = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one call. Non-2xx answers come back as an Error with http_status, the CRM's category,
  // message and correlation id filled; transport failures as an Error with http_status 0.
  virtual Result<HttpReply> Send(const HttpCall& call) = 0;
  // For a retry the adapter decides on (a 2xx body that does not parse or lacks required
  // fields, the failed inputs of a 207): takes one retry from the run's retry budget and waits
  // the backoff of retry number `retry` (1 = first). An Error (kUnavailable with
  // retry_budget_spent, or kCancelled) means: do not retry. Default: no wait, no budget.
  virtual Status AwaitRetry(int /*retry*/) { return {}; }
  virtual ApiUsage Usage() const { return {}; }
  // How many Send() calls may run at once from different threads: the production transport
  // allows http.max_connections (kam::http::Client is thread-safe); default 1 (not thread-safe).
  virtual int MaxConcurrency() const { return 1; }
  virtual void ResetUsage() {}
  // The account's UTC offset, for the daily quota reset; default: ignored.
  virtual void SetUtcOffsetMs(int64_t /*offset_ms*/) {}
};

// The production transport over kam::http::Client. Fails when the options are invalid (bad URL,
// insecure TLS for a non-loopback host, ...).
Result<std::shared_ptr<Transport>> MakeHttpTransport(const kam::http::ClientOptions& options);

}  // namespace kam::hubspot

#endif  // KAM_HUBSPOT_TRANSPORT_H_
