// kam::http::Client: the HTTP/1.1 client the CRM adapters use. Beast + OpenSSL underneath (not
// visible here): keep-alive connection pool per origin, at most max_connections requests in
// flight, timeouts on every step, TLS verification on by default, rate limiting from the CRM's
// headers, retries with backoff for requests marked safe to repeat, per-run counters.
//
// Threading: Send() is synchronous and thread-safe; call it from several threads to have several
// requests in flight (up to max_connections; further callers wait for a free connection).
// The Client must outlive every Send() call.
#ifndef KAM_HTTP_CLIENT_H_
#define KAM_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>

#include "kam/http/counters.h"
#include "kam/http/error.h"
#include "kam/http/options.h"
#include "kam/http/request.h"

namespace kam::http {

class Client {
 public:
  // Validates the options (URL, TLS files, insecure only for loopback) and sets up the TLS
  // context. No connection is opened until the first Send().
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request, pacing it through the rate limiter and retrying per the retry policy.
  // Any status 2xx (incl. 207) is a Response; anything else is an Error with the CRM's details
  // (error.h). A 401/403/404/409/400 is never retried.
  Result<Response> Send(const Request& request);

  // For a retry the caller decides on (a 2xx body that does not parse, the failed inputs of a
  // 207): takes one retry from the run's budget, counts it, and waits the jittered backoff of
  // retry number `retry` (1 = first), at least `retry_after_ms` when >= 0, polling the cancel
  // hook. Errors: kRetryBudget (retryable, retry_budget_spent) when the budget is spent,
  // kCancelled when cancelled while waiting.
  Status BackoffForRetry(int retry, int64_t retry_after_ms = -1);

  // Per-run figures since creation or the last ResetCounters(); also restarts the retry budget.
  Counters Snapshot() const;
  void ResetCounters();

  // The account's UTC offset, to place the daily quota reset (HubSpot account-info).
  void SetDailyResetUtcOffset(int64_t offset_ms);

  const ClientOptions& options() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kam::http

#endif  // KAM_HTTP_CLIENT_H_
