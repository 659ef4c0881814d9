// Client-side pacing from the CRM's rate-limit headers (see rate_limiter.h for the contract).
#include "kam/http/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "util.h"

namespace kam::http {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kDayMs = 86'400'000;

// Time from now until the next midnight at `offset_ms` from UTC, in wall-clock terms.
milliseconds UntilNextMidnight(int64_t offset_ms) {
  int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  int64_t local = now_ms + offset_ms;
  int64_t into_day = ((local % kDayMs) + kDayMs) % kDayMs;
  return milliseconds(kDayMs - into_day);
}

// Salesforce: "api-usage=25/15000[; per-app-api-usage=17/250(appName=x)]" = calls used / allowed
// over the rolling 24 hours (CRM_API B10): the daily quota as limit and remaining.
void ParseSforceApiUsage(std::string_view value, RateLimitInfo* info) {
  constexpr std::string_view kKey = "api-usage=";
  std::size_t at = value.find(kKey);
  // "per-app-api-usage=" also contains the key: take the first one not preceded by '-'.
  while (at != std::string_view::npos && at > 0 && value[at - 1] == '-') {
    at = value.find(kKey, at + 1);
  }
  if (at == std::string_view::npos) return;
  std::string_view rest = value.substr(at + kKey.size());
  rest = rest.substr(0, rest.find_first_of(";,("));
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return;
  auto used = internal::ParseInt(rest.substr(0, slash));
  auto max = internal::ParseInt(rest.substr(slash + 1));
  if (!used || !max || *max <= 0) return;
  info->daily = *max;
  info->daily_remaining = std::max<int64_t>(0, *max - *used);
}

}  // namespace

RateLimitInfo RateLimitInfo::FromHeaders(const Headers& headers) {
  RateLimitInfo info;
  for (const auto& [name, value] : headers) {
    using internal::EqualsIgnoreCase;
    if (EqualsIgnoreCase(name, "X-HubSpot-RateLimit-Max")) {
      info.max = internal::ParseInt(value);
    } else if (EqualsIgnoreCase(name, "X-HubSpot-RateLimit-Remaining")) {
      info.remaining = internal::ParseInt(value);
    } else if (EqualsIgnoreCase(name, "X-HubSpot-RateLimit-Interval-Milliseconds")) {
      info.interval_ms = internal::ParseInt(value);
    } else if (EqualsIgnoreCase(name, "X-HubSpot-RateLimit-Daily")) {
      info.daily = internal::ParseInt(value);
    } else if (EqualsIgnoreCase(name, "X-HubSpot-RateLimit-Daily-Remaining")) {
      info.daily_remaining = internal::ParseInt(value);
    } else if (EqualsIgnoreCase(name, "Sforce-Limit-Info")) {
      ParseSforceApiUsage(value, &info);
    }
  }
  return info;
}

RateLimiter::RateLimiter(RateLimitOptions options) : options_(std::move(options)) {
  options_.window_share = std::clamp(options_.window_share, 0.01, 1.0);
  options_.daily_reserve_share = std::clamp(options_.daily_reserve_share, 0.0, 1.0);
  options_.search_per_second = std::max(1, options_.search_per_second);
  utc_offset_ms_ = options_.daily_reset_utc_offset_ms;
}

int64_t RateLimiter::BudgetLocked() const {
  int64_t max = max_ > 0 ? max_ : options_.initial_max;
  if (max <= 0) return 0;
  auto budget = static_cast<int64_t>(std::floor(static_cast<double>(max) * options_.window_share));
  return std::max<int64_t>(1, budget);
}

int64_t RateLimiter::IntervalMsLocked() const {
  if (interval_ms_ > 0) return interval_ms_;
  return std::max<int64_t>(1, options_.initial_interval.count());
}

int64_t RateLimiter::ReserveLocked() const {
  if (daily_limit_ < 0) return -1;
  if (options_.daily_reserve_calls >= 0) return options_.daily_reserve_calls;
  return static_cast<int64_t>(
      std::ceil(static_cast<double>(daily_limit_) * options_.daily_reserve_share));
}

int64_t RateLimiter::DailyEstimateLocked() const {
  if (daily_remaining_ < 0) return -1;
  return daily_remaining_ - daily_sent_since_;
}

void RateLimiter::ExpireLocked(TimePoint now) {
  const milliseconds interval(IntervalMsLocked());
  while (!sends_.empty() && sends_.front() + interval <= now) sends_.pop_front();
  if (foreign_ > 0 && foreign_until_ <= now) foreign_ = 0;
  const auto search_window = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(1000.0 / options_.window_share));
  while (!search_sends_.empty() && search_sends_.front() + search_window <= now) {
    search_sends_.pop_front();
  }
}

void RateLimiter::MaybeResetDailyLocked(TimePoint now) {
  if (daily_reset_at_ && now >= *daily_reset_at_) {
    daily_exhausted_ = false;
    daily_remaining_ = -1;
    daily_sent_since_ = 0;
    daily_reset_at_.reset();
  }
}

RateLimiter::Decision RateLimiter::TryAcquire(Lane lane, TimePoint now) {
  if (!options_.enabled || lane == Lane::kUnpaced) return {};
  std::lock_guard lock(mu_);
  MaybeResetDailyLocked(now);
  ExpireLocked(now);

  if (daily_exhausted_) return {Verdict::kQuotaReserve, {}};
  int64_t estimate = DailyEstimateLocked();
  int64_t reserve = ReserveLocked();
  if (estimate >= 0 && reserve >= 0 && estimate <= reserve) return {Verdict::kQuotaReserve, {}};

  if (lane == Lane::kSearch) {
    if (now < search_blocked_until_) return {Verdict::kWait, search_blocked_until_};
    if (static_cast<int64_t>(search_sends_.size()) >= options_.search_per_second) {
      const auto search_window = std::chrono::duration_cast<Duration>(
          std::chrono::duration<double, std::milli>(1000.0 / options_.window_share));
      return {Verdict::kWait, search_sends_.front() + search_window};
    }
    search_sends_.push_back(now);
    ++daily_sent_since_;
    return {};
  }

  if (now < blocked_until_) return {Verdict::kWait, blocked_until_};
  int64_t budget = BudgetLocked();
  if (budget > 0) {
    int64_t used = static_cast<int64_t>(sends_.size()) + foreign_;
    if (used >= budget) {
      const milliseconds interval(IntervalMsLocked());
      TimePoint next = TimePoint::max();
      if (!sends_.empty()) next = sends_.front() + interval;
      if (foreign_ > 0) next = std::min(next, foreign_until_);
      if (next == TimePoint::max()) next = now + interval;
      return {Verdict::kWait, next};
    }
  }
  sends_.push_back(now);
  ++daily_sent_since_;
  return {};
}

void RateLimiter::OnResponse(Lane lane, const RateLimitInfo& info, int http_status,
                             std::string_view policy_name, int64_t retry_after_ms,
                             TimePoint sent_at, TimePoint now) {
  if (!options_.enabled || lane == Lane::kUnpaced) return;
  std::lock_guard lock(mu_);
  if (lane == Lane::kSearch) {
    // The server counts a search when it takes it up, somewhere between our grant and this
    // response (it may queue on the way). Counting it from the response keeps our window behind
    // the server's, so queueing jitter never puts six searches into the server's second.
    auto granted = std::upper_bound(search_sends_.begin(), search_sends_.end(), sent_at);
    if (granted != search_sends_.begin()) {
      search_sends_.erase(std::prev(granted));
      search_sends_.insert(std::upper_bound(search_sends_.begin(), search_sends_.end(), now), now);
    }
  }
  if (info.max && *info.max > 0) max_ = *info.max;
  if (info.interval_ms && *info.interval_ms > 0) interval_ms_ = *info.interval_ms;
  ExpireLocked(now);
  if (info.remaining && max_ > 0 && lane == Lane::kStandard) {
    // What the server counts beyond our own sends in the window belongs to someone else using
    // the same app; it occupies the window for (at most) one interval from now.
    int64_t server_used = max_ - *info.remaining;
    int64_t ours = static_cast<int64_t>(sends_.size());
    foreign_ = std::max<int64_t>(0, server_used - ours);
    foreign_until_ = now + milliseconds(IntervalMsLocked());
  }
  if (info.daily && *info.daily > 0) daily_limit_ = *info.daily;
  if (info.daily_remaining) {
    daily_remaining_ = std::max<int64_t>(0, *info.daily_remaining);
    daily_sent_since_ = 0;
    if (!daily_reset_at_) daily_reset_at_ = now + UntilNextMidnight(utc_offset_ms_);
  }
  if (http_status == 429) {
    if (policy_name == "DAILY") {
      daily_exhausted_ = true;
      daily_reset_at_ = now + UntilNextMidnight(utc_offset_ms_);
    } else if (lane == Lane::kSearch || policy_name == "SECONDLY") {
      auto wait = milliseconds(std::max<int64_t>(1000, retry_after_ms));
      search_blocked_until_ = std::max(search_blocked_until_, now + wait);
    } else {
      auto wait = milliseconds(retry_after_ms >= 0 ? retry_after_ms : IntervalMsLocked());
      blocked_until_ = std::max(blocked_until_, now + wait);
    }
  }
}

void RateLimiter::SetDailyResetUtcOffset(int64_t offset_ms, TimePoint now) {
  std::lock_guard lock(mu_);
  utc_offset_ms_ = offset_ms;
  if (daily_reset_at_) daily_reset_at_ = now + UntilNextMidnight(utc_offset_ms_);
}

int64_t RateLimiter::WindowBudget() const {
  std::lock_guard lock(mu_);
  return BudgetLocked();
}
int64_t RateLimiter::WindowIntervalMs() const {
  std::lock_guard lock(mu_);
  return IntervalMsLocked();
}
int64_t RateLimiter::DailyRemainingEstimate() const {
  std::lock_guard lock(mu_);
  return DailyEstimateLocked();
}
int64_t RateLimiter::DailyReserve() const {
  std::lock_guard lock(mu_);
  return ReserveLocked();
}
int64_t RateLimiter::DailyLimit() const {
  std::lock_guard lock(mu_);
  return daily_limit_;
}
int64_t RateLimiter::LastSeenMax() const {
  std::lock_guard lock(mu_);
  return max_;
}

}  // namespace kam::http
