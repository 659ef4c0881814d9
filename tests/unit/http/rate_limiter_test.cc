// RateLimiter: pacing from the CRM's headers, daily reserve, the search lane, 429 handling.
// Time points are made up; nothing sleeps.
#include "kam/http/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

namespace kam::http {
namespace {

using std::chrono::milliseconds;
using Verdict = RateLimiter::Verdict;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

RateLimitInfo Window(int64_t max, int64_t remaining, int64_t interval_ms) {
  RateLimitInfo info;
  info.max = max;
  info.remaining = remaining;
  info.interval_ms = interval_ms;
  return info;
}

RateLimitInfo Daily(int64_t daily, int64_t remaining) {
  RateLimitInfo info;
  info.daily = daily;
  info.daily_remaining = remaining;
  return info;
}

int GrantsAt(RateLimiter& limiter, Lane lane, TimePoint t, int max_tries = 100000) {
  int n = 0;
  while (n < max_tries && limiter.TryAcquire(lane, t).verdict == Verdict::kGo) ++n;
  return n;
}

TEST(RateLimiter, UsesNinetyPercentOfTheAssumedWindowBeforeAnyHeaders) {
  RateLimiter limiter(RateLimitOptions{});
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0), 90);
  auto d = limiter.TryAcquire(Lane::kStandard, kT0);
  EXPECT_EQ(d.verdict, Verdict::kWait);
  EXPECT_EQ(d.not_before, kT0 + milliseconds(10000));
}

TEST(RateLimiter, WaitsWhenTenSecondWindowIsSpentAndResumesAsSendsLeaveIt) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kStandard, Window(20, 20, 10000), 200, {}, -1, kT0, kT0);
  ASSERT_EQ(limiter.WindowBudget(), 18);
  for (int i = 0; i < 18; ++i) {
    ASSERT_EQ(limiter.TryAcquire(Lane::kStandard, kT0 + milliseconds(i * 100)).verdict,
              Verdict::kGo);
  }
  auto d = limiter.TryAcquire(Lane::kStandard, kT0 + milliseconds(1900));
  ASSERT_EQ(d.verdict, Verdict::kWait);
  EXPECT_EQ(d.not_before, kT0 + milliseconds(10000));  // the first send leaves the window
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, d.not_before).verdict, Verdict::kGo);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, d.not_before).verdict, Verdict::kWait);
}

TEST(RateLimiter, FollowsTheMaxAndIntervalHeaders) {
  RateLimitOptions options;
  options.window_share = 0.5;
  RateLimiter limiter(options);
  limiter.OnResponse(Lane::kStandard, Window(190, 190, 2000), 200, {}, -1, kT0, kT0);
  EXPECT_EQ(limiter.WindowBudget(), 95);
  EXPECT_EQ(limiter.WindowIntervalMs(), 2000);
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0), 95);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0).not_before, kT0 + milliseconds(2000));
}

TEST(RateLimiter, CountsOtherClientsOfTheSameAppSeenInRemaining) {
  RateLimiter limiter(RateLimitOptions{});
  ASSERT_EQ(GrantsAt(limiter, Lane::kStandard, kT0, 10), 10);
  // The server counts 50 used: 40 were someone else's.
  limiter.OnResponse(Lane::kStandard, Window(100, 50, 10000), 200, {}, -1, kT0, kT0);
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0 + milliseconds(1)), 40);
}

// Simulates a long pull where the caller always comes back at not_before. In every sliding
// window the limiter must stay within its budget, and it must use at least 95% of it.
TEST(RateLimiter, NeverExceedsItsShareInAnyWindowAndUsesNearlyAllOfIt) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kStandard, Window(100, 100, 10000), 200, {}, -1, kT0, kT0);
  const int64_t budget = limiter.WindowBudget();
  std::vector<TimePoint> sends;
  TimePoint t = kT0;
  const TimePoint end = kT0 + std::chrono::minutes(10);
  while (t < end) {
    auto d = limiter.TryAcquire(Lane::kStandard, t);
    if (d.verdict == Verdict::kGo) {
      sends.push_back(t);
      t += milliseconds(7);  // the request takes a little time
    } else {
      ASSERT_EQ(d.verdict, Verdict::kWait);
      ASSERT_GT(d.not_before, t);
      t = d.not_before;
    }
  }
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < sends.size(); ++hi) {
    while (sends[hi] - sends[lo] >= milliseconds(10000)) ++lo;
    ASSERT_LE(static_cast<int64_t>(hi - lo + 1), budget) << "window ending at send " << hi;
  }
  const double windows = 60.0;  // 10 minutes of 10 s
  EXPECT_GE(static_cast<double>(sends.size()), 0.95 * budget * windows);
}

TEST(RateLimiter, KeepsTheDailyReserveForOtherIntegrations) {
  RateLimiter limiter(RateLimitOptions{});  // 10% reserve
  limiter.OnResponse(Lane::kStandard, Daily(1000, 103), 200, {}, -1, kT0, kT0);
  EXPECT_EQ(limiter.DailyReserve(), 100);
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0), 3);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0).verdict, Verdict::kQuotaReserve);
  EXPECT_EQ(limiter.TryAcquire(Lane::kSearch, kT0).verdict, Verdict::kQuotaReserve);
  EXPECT_EQ(limiter.DailyRemainingEstimate(), 100);
}

TEST(RateLimiter, AnExplicitReserveOverridesTheShare) {
  RateLimitOptions options;
  options.daily_reserve_calls = 5;
  RateLimiter limiter(options);
  limiter.OnResponse(Lane::kStandard, Daily(250000, 8), 200, {}, -1, kT0, kT0);
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0), 3);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0).verdict, Verdict::kQuotaReserve);
}

TEST(RateLimiter, ANewerDailyRemainingReplacesTheEstimate) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kStandard, Daily(1000, 500), 200, {}, -1, kT0, kT0);
  ASSERT_EQ(GrantsAt(limiter, Lane::kStandard, kT0, 7), 7);
  EXPECT_EQ(limiter.DailyRemainingEstimate(), 493);
  limiter.OnResponse(Lane::kStandard, Daily(1000, 480), 200, {}, -1, kT0, kT0);
  EXPECT_EQ(limiter.DailyRemainingEstimate(), 480);
}

TEST(RateLimiter, ADaily429RefusesFurtherCalls) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kStandard, {}, 429, "DAILY", -1, kT0, kT0);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0 + milliseconds(60000)).verdict,
            Verdict::kQuotaReserve);
}

TEST(RateLimiter, ATenSecondly429BlocksTheLaneForTheInterval) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kStandard, Window(100, 0, 10000), 429, "TEN_SECONDLY_ROLLING", -1, kT0,
                     kT0);
  auto d = limiter.TryAcquire(Lane::kStandard, kT0 + milliseconds(1));
  ASSERT_EQ(d.verdict, Verdict::kWait);
  EXPECT_EQ(d.not_before, kT0 + milliseconds(10000));
  // The search lane is a separate bucket.
  EXPECT_EQ(limiter.TryAcquire(Lane::kSearch, kT0).verdict, Verdict::kGo);
}

TEST(RateLimiter, RetryAfterOnA429SetsTheBlock) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kStandard, {}, 429, "TEN_SECONDLY_ROLLING", 3000, kT0, kT0);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0).not_before, kT0 + milliseconds(3000));
}

TEST(RateLimiter, PacesSearchToFiveRequestsPerStretchedSecond) {
  RateLimiter limiter(RateLimitOptions{});
  EXPECT_EQ(GrantsAt(limiter, Lane::kSearch, kT0), 5);
  auto d = limiter.TryAcquire(Lane::kSearch, kT0);
  ASSERT_EQ(d.verdict, Verdict::kWait);
  // 1 s / 0.9: a margin so that network jitter never puts six into the server's second.
  EXPECT_GT(d.not_before, kT0 + milliseconds(1100));
  EXPECT_LE(d.not_before, kT0 + milliseconds(1112));
  // Search does not use the standard window.
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0), 90);
}

TEST(RateLimiter, ASearchCountsFromItsResponseSoQueueingNeverPutsSixIntoTheServersSecond) {
  RateLimiter limiter(RateLimitOptions{});
  // Five searches one after the other. The first queued on the way and was taken up by the
  // server only at about 440 ms, just before the second.
  ASSERT_EQ(limiter.TryAcquire(Lane::kSearch, kT0).verdict, Verdict::kGo);
  limiter.OnResponse(Lane::kSearch, {}, 200, {}, -1, kT0, kT0 + milliseconds(450));
  for (int i = 0; i < 4; ++i) {
    const auto granted = kT0 + milliseconds(450 + 10 * i);
    ASSERT_EQ(limiter.TryAcquire(Lane::kSearch, granted).verdict, Verdict::kGo);
    limiter.OnResponse(Lane::kSearch, {}, 200, {}, -1, granted, granted + milliseconds(10));
  }
  // Counting from the grants, a sixth search would go at 1,200 ms, and the server would see
  // six within its second (440..1,200 ms).
  auto d = limiter.TryAcquire(Lane::kSearch, kT0 + milliseconds(1200));
  ASSERT_EQ(d.verdict, Verdict::kWait);
  EXPECT_GE(d.not_before, kT0 + milliseconds(450 + 1000));
  EXPECT_EQ(limiter.TryAcquire(Lane::kSearch, kT0 + milliseconds(1600)).verdict, Verdict::kGo);
}

TEST(RateLimiter, ASecondly429BlocksOnlyTheSearchLane) {
  RateLimiter limiter(RateLimitOptions{});
  limiter.OnResponse(Lane::kSearch, {}, 429, "SECONDLY", -1, kT0, kT0);
  auto d = limiter.TryAcquire(Lane::kSearch, kT0);
  ASSERT_EQ(d.verdict, Verdict::kWait);
  EXPECT_EQ(d.not_before, kT0 + milliseconds(1000));
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0).verdict, Verdict::kGo);
}

TEST(RateLimiter, UnpacedLaneAndDisabledLimiterAlwaysGo) {
  RateLimiter limiter(RateLimitOptions{});
  EXPECT_EQ(GrantsAt(limiter, Lane::kUnpaced, kT0, 1000), 1000);
  RateLimitOptions off;
  off.enabled = false;
  RateLimiter disabled(off);
  EXPECT_EQ(GrantsAt(disabled, Lane::kStandard, kT0, 1000), 1000);
}

TEST(RateLimiter, ZeroInitialMaxLeavesTheLaneUnpacedUntilHeadersArrive) {
  RateLimitOptions options;
  options.initial_max = 0;
  RateLimiter limiter(options);
  EXPECT_EQ(GrantsAt(limiter, Lane::kStandard, kT0, 500), 500);
  limiter.OnResponse(Lane::kStandard, Window(10, 10, 1000), 200, {}, -1, kT0, kT0);
  EXPECT_EQ(limiter.TryAcquire(Lane::kStandard, kT0).verdict, Verdict::kWait);
}

TEST(RateLimitInfo, ReadsHubSpotHeadersCaseInsensitively) {
  Headers headers = {{"x-hubspot-ratelimit-max", "150"},
                     {"X-HubSpot-RateLimit-Remaining", "149"},
                     {"X-HubSpot-RateLimit-Interval-Milliseconds", "10000"},
                     {"X-HubSpot-RateLimit-Daily", "500000"},
                     {"X-HubSpot-RateLimit-Daily-Remaining", "498677"},
                     {"X-HubSpot-RateLimit-Secondly", "15"},
                     {"Content-Type", "application/json"}};
  RateLimitInfo info = RateLimitInfo::FromHeaders(headers);
  EXPECT_EQ(info.max, 150);
  EXPECT_EQ(info.remaining, 149);
  EXPECT_EQ(info.interval_ms, 10000);
  EXPECT_EQ(info.daily, 500000);
  EXPECT_EQ(info.daily_remaining, 498677);
  EXPECT_TRUE(RateLimitInfo::FromHeaders({{"Content-Type", "application/json"}}).empty());
  EXPECT_FALSE(RateLimitInfo::FromHeaders({{"X-HubSpot-RateLimit-Max", "x1"}}).max.has_value());
}

}  // namespace
}  // namespace kam::http
