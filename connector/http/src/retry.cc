// Retry eligibility and jittered exponential backoff.
#include "kam/http/retry.h"

#include <algorithm>
#include <cmath>

namespace kam::http {

RetryPolicy::RetryPolicy(RetryOptions options) : options_(std::move(options)), rng_(options_.seed) {
  options_.max_attempts = std::max(1, options_.max_attempts);
  options_.jitter = std::clamp(options_.jitter, 0.0, 1.0);
  options_.multiplier = std::max(1.0, options_.multiplier);
}

bool RetryPolicy::IsRetryableError(const Error& error) const {
  switch (error.kind) {
    case ErrorKind::kTimeout:
    case ErrorKind::kConnection:
      return true;
    case ErrorKind::kHttpStatus:
    case ErrorKind::kRateLimited: {
      if (error.http_status == 429 && error.policy_name == "DAILY") return false;
      const auto& s = options_.retry_statuses;
      return std::find(s.begin(), s.end(), error.http_status) != s.end();
    }
    default:
      return false;
  }
}

bool RetryPolicy::ShouldRetry(const Error& error, bool idempotent, int attempt,
                              bool sent_nothing) const {
  if (attempt >= options_.max_attempts) return false;
  if (!IsRetryableError(error)) return false;
  if (error.retry_after_ms > options_.max_retry_after.count()) return false;
  if (error.kind == ErrorKind::kTimeout || error.kind == ErrorKind::kConnection) {
    return idempotent || sent_nothing;
  }
  // The server refused without acting: safe for every request.
  if (error.http_status == 429 || error.http_status == 477) return true;
  return idempotent;
}

std::chrono::milliseconds RetryPolicy::Delay(int retry, int64_t retry_after_ms) {
  double base = static_cast<double>(options_.initial_delay.count()) *
                std::pow(options_.multiplier, std::max(0, retry - 1));
  double cap = static_cast<double>(options_.max_delay.count());
  double d = std::min(base, cap);
  double u;
  {
    std::lock_guard lock(mu_);
    u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  double jittered = d * (1.0 - options_.jitter) + d * options_.jitter * u;
  auto ms = static_cast<int64_t>(std::llround(jittered));
  if (retry_after_ms >= 0) ms = std::max(ms, retry_after_ms);
  return std::chrono::milliseconds(ms);
}

}  // namespace kam::http
