// The client-side rate limiter. It follows the CRM's own numbers (X-HubSpot-RateLimit-* headers):
// paces the standard lane to a share of the ten-second window, keeps a reserve of the daily
// quota, and paces the search lane to 5 requests/s. Time is passed in, so it is pure logic:
// tests drive it with made-up time points. Thread-safe (one internal mutex).
#ifndef KAM_HTTP_RATE_LIMITER_H_
#define KAM_HTTP_RATE_LIMITER_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>

#include "kam/http/clock.h"
#include "kam/http/options.h"
#include "kam/http/request.h"

namespace kam::http {

// The rate-limit headers of one response; absent headers are nullopt.
struct RateLimitInfo {
  std::optional<int64_t> max;          // X-HubSpot-RateLimit-Max
  std::optional<int64_t> remaining;    // X-HubSpot-RateLimit-Remaining
  std::optional<int64_t> interval_ms;  // X-HubSpot-RateLimit-Interval-Milliseconds
  // X-HubSpot-RateLimit-Daily / -Daily-Remaining, or Salesforce's Sforce-Limit-Info
  // "api-usage=N/M" (M and M - N: the rolling 24-hour allocation).
  std::optional<int64_t> daily;
  std::optional<int64_t> daily_remaining;

  bool empty() const { return !max && !remaining && !interval_ms && !daily && !daily_remaining; }
  static RateLimitInfo FromHeaders(const Headers& headers);
};

class RateLimiter {
 public:
  enum class Verdict { kGo, kWait, kQuotaReserve };
  struct Decision {
    Verdict verdict = Verdict::kGo;
    TimePoint not_before{};  // kWait: ask again at (or after) this time
  };

  explicit RateLimiter(RateLimitOptions options);

  // Asks for one request on `lane` at `now`. kGo records the send (it counts from now on);
  // kWait says when a slot frees; kQuotaReserve means only the daily reserve is left.
  Decision TryAcquire(Lane lane, TimePoint now);

  // Feeds back a response: its rate-limit headers (may be empty) and status. A 429 blocks the
  // lane: TEN_SECONDLY_ROLLING (or no policy) for one interval from now (or retry_after),
  // SECONDLY for 1 s, DAILY until the daily reset. `sent_at` is when the request was granted: a
  // search then counts from `now` (its response) instead of its grant.
  void OnResponse(Lane lane, const RateLimitInfo& info, int http_status,
                  std::string_view policy_name, int64_t retry_after_ms, TimePoint sent_at,
                  TimePoint now);

  // The daily quota resets at midnight at this UTC offset (the account's time zone); `now` is
  // the caller's clock reading, to re-place a pending reset.
  void SetDailyResetUtcOffset(int64_t offset_ms, TimePoint now);

  // The standard lane's current budget per window (floor(max * share)) and interval.
  int64_t WindowBudget() const;
  int64_t WindowIntervalMs() const;
  // Estimated calls left today (last seen remaining minus our calls since); -1: unknown.
  int64_t DailyRemainingEstimate() const;
  int64_t DailyReserve() const;  // -1 while the daily limit is unknown
  int64_t DailyLimit() const;    // -1 while unknown
  int64_t LastSeenMax() const;   // -1 while unknown

 private:
  int64_t BudgetLocked() const;
  int64_t IntervalMsLocked() const;
  int64_t ReserveLocked() const;
  int64_t DailyEstimateLocked() const;
  void ExpireLocked(TimePoint now);
  void MaybeResetDailyLocked(TimePoint now);

  RateLimitOptions options_;
  mutable std::mutex mu_;
  // Standard lane.
  std::deque<TimePoint> sends_;  // our grants within the current interval
  int64_t max_ = -1;             // last seen X-HubSpot-RateLimit-Max
  int64_t interval_ms_ = -1;     // last seen interval
  int64_t foreign_ = 0;          // window use by others, seen in Remaining
  TimePoint foreign_until_{};    // ... counted until then
  TimePoint blocked_until_{};    // after a 429
  // Search lane.
  std::deque<TimePoint> search_sends_;
  TimePoint search_blocked_until_{};
  // Daily quota.
  int64_t daily_limit_ = -1;
  int64_t daily_remaining_ = -1;             // as last seen
  int64_t daily_sent_since_ = 0;             // our grants since that response
  bool daily_exhausted_ = false;             // 429 DAILY seen
  std::optional<TimePoint> daily_reset_at_;  // when the daily state is cleared
  int64_t utc_offset_ms_ = 0;
};

}  // namespace kam::http

#endif  // KAM_HTTP_RATE_LIMITER_H_
