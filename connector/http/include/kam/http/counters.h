// Per-run figures of a Client: requests by endpoint, retries, 429s, bytes, latency percentiles
// and the quota left as last seen. Snapshot() copies them; the run summary reports them.
#ifndef KAM_HTTP_COUNTERS_H_
#define KAM_HTTP_COUNTERS_H_

#include <cstdint>
#include <map>
#include <string>

namespace kam::http {

struct Counters {
  uint64_t requests = 0;               // attempts sent (retries included)
  uint64_t calls = 0;                  // Client::Send calls finished (success or error)
  uint64_t failed_calls = 0;           // calls that ended in an Error
  uint64_t retries = 0;                // attempts after the first (+ BackoffForRetry grants)
  uint64_t retry_budget_refusals = 0;  // retries refused because the run's budget was spent
  uint64_t rate_limited = 0;           // 429 responses received
  uint64_t quota_refusals = 0;         // calls refused locally to keep the daily reserve
  uint64_t timeouts = 0;               // attempts that timed out
  uint64_t connection_errors = 0;      // attempts that failed on connect/TLS/dropped connection
  uint64_t connections_opened = 0;     // new TCP (+TLS) connections; the rest reused keep-alive
  uint64_t bytes_out = 0;              // request bytes written (headers + body)
  uint64_t bytes_in = 0;               // response bytes read (headers + body)
  // Attempts by endpoint, "GET /crm/v3/objects/companies/{id}" -> count.
  std::map<std::string, uint64_t> requests_by_endpoint;
  // Latency of attempts that got a response, in milliseconds; 0 when none.
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double latency_p99_ms = 0;
  // X-HubSpot-RateLimit-Daily / -Daily-Remaining as last seen; -1 when never seen.
  int64_t daily_limit = -1;
  int64_t daily_remaining = -1;
  // X-HubSpot-RateLimit-Max / -Interval-Milliseconds as last seen; -1 when never seen.
  int64_t window_max = -1;
  int64_t window_interval_ms = -1;
};

}  // namespace kam::http

#endif  // KAM_HTTP_COUNTERS_H_
