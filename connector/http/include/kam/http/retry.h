// The retry policy: which failures are retried (status, transport error, whether the request is
// safe to repeat), and the backoff with jitter between attempts (seeded RNG, bounded delays,
// Retry-After honoured). Pure logic; the Client applies it.
#ifndef KAM_HTTP_RETRY_H_
#define KAM_HTTP_RETRY_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

#include "kam/http/error.h"
#include "kam/http/options.h"

namespace kam::http {

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options);

  // Whether a call that failed with `error` on attempt `attempt` (1-based) should be sent again.
  // Timeouts and connection errors: only idempotent requests (a connection refused before any
  // byte was sent counts as safe for every request: pass sent_nothing = true). Statuses in
  // retry_statuses: idempotent requests; 429 and 477: every request. Never beyond max_attempts,
  // never for a Retry-After above max_retry_after.
  bool ShouldRetry(const Error& error, bool idempotent, int attempt,
                   bool sent_nothing = false) const;

  // Whether the error class is retryable at all (ignores attempts and idempotency); used to
  // fill Error::retryable.
  bool IsRetryableError(const Error& error) const;

  // The wait before retry number `retry` (1 = first retry): jittered exponential backoff, at
  // least the Retry-After when given (retry_after_ms >= 0). Thread-safe.
  std::chrono::milliseconds Delay(int retry, int64_t retry_after_ms = -1);

  const RetryOptions& options() const { return options_; }

 private:
  RetryOptions options_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace kam::http

#endif  // KAM_HTTP_RETRY_H_
