// RetryPolicy: which failures are retried, and the bounds of the jittered backoff.
#include "kam/http/retry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace kam::http {
namespace {

using std::chrono::milliseconds;

Error StatusError(int status, std::string policy = {}) {
  Error e = ErrorFromResponse(
      status, policy.empty() ? std::string("{}") : R"({"policyName":")" + policy + R"("})");
  return e;
}

Error Transport(ErrorKind kind) {
  Error e;
  e.kind = kind;
  return e;
}

TEST(RetryPolicy, BackoffGrowsExponentiallyWithinTheJitterBand) {
  RetryOptions options;  // 500 ms initial, x2, 50% jitter, 30 s max
  RetryPolicy policy(options);
  for (int retry = 1; retry <= 12; ++retry) {
    double d = std::min(30000.0, 500.0 * std::pow(2.0, retry - 1));
    for (int k = 0; k < 50; ++k) {
      auto delay = policy.Delay(retry).count();
      EXPECT_GE(delay, static_cast<int64_t>(std::floor(d * 0.5))) << "retry " << retry;
      EXPECT_LE(delay, static_cast<int64_t>(std::ceil(d))) << "retry " << retry;
    }
  }
}

TEST(RetryPolicy, NeverWaitsLongerThanMaxDelay) {
  RetryOptions options;
  options.max_delay = milliseconds(2000);
  options.jitter = 0.0;
  RetryPolicy policy(options);
  EXPECT_EQ(policy.Delay(1), milliseconds(500));
  EXPECT_EQ(policy.Delay(3), milliseconds(2000));
  EXPECT_EQ(policy.Delay(40), milliseconds(2000));
}

TEST(RetryPolicy, JitterIsSeededAndSpreadsDelays) {
  RetryOptions a;
  a.seed = 7;
  RetryPolicy p1(a), p2(a);
  RetryOptions b = a;
  b.seed = 8;
  RetryPolicy p3(b);
  std::set<int64_t> seen;
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    auto x = p1.Delay(4).count();
    EXPECT_EQ(x, p2.Delay(4).count());
    differs = differs || x != p3.Delay(4).count();
    seen.insert(x);
  }
  EXPECT_TRUE(differs);
  EXPECT_GT(seen.size(), 10u);
}

TEST(RetryPolicy, RetryAfterIsAFloorOnTheDelay) {
  RetryPolicy policy(RetryOptions{});
  EXPECT_GE(policy.Delay(1, 7000), milliseconds(7000));
  EXPECT_LE(policy.Delay(1, 7000), milliseconds(7000));
  EXPECT_GE(policy.Delay(1, 0), milliseconds(250));
}

TEST(RetryPolicy, RetriesTransientStatusesOnlyForRequestsSafeToRepeat) {
  RetryPolicy policy(RetryOptions{});
  for (int status : {502, 503, 504}) {
    EXPECT_TRUE(policy.ShouldRetry(StatusError(status), /*idempotent=*/true, 1)) << status;
    EXPECT_FALSE(policy.ShouldRetry(StatusError(status), /*idempotent=*/false, 1)) << status;
    EXPECT_TRUE(policy.IsRetryableError(StatusError(status)));
  }
}

TEST(RetryPolicy, RetriesA429ForEveryRequestButNotTheDailyLimit) {
  RetryPolicy policy(RetryOptions{});
  EXPECT_TRUE(policy.ShouldRetry(StatusError(429, "TEN_SECONDLY_ROLLING"), false, 1));
  EXPECT_TRUE(policy.ShouldRetry(StatusError(429, "SECONDLY"), true, 1));
  EXPECT_TRUE(policy.ShouldRetry(StatusError(429), false, 1));
  EXPECT_FALSE(policy.ShouldRetry(StatusError(429, "DAILY"), true, 1));
  EXPECT_FALSE(policy.IsRetryableError(StatusError(429, "DAILY")));
}

TEST(RetryPolicy, NeverRetriesClientErrors) {
  RetryPolicy policy(RetryOptions{});
  for (int status : {400, 401, 403, 404, 409, 414}) {
    EXPECT_FALSE(policy.ShouldRetry(StatusError(status), true, 1)) << status;
    EXPECT_FALSE(policy.IsRetryableError(StatusError(status))) << status;
  }
  EXPECT_FALSE(policy.ShouldRetry(Transport(ErrorKind::kResponseTooLarge), true, 1));
  EXPECT_FALSE(policy.ShouldRetry(Transport(ErrorKind::kTls), true, 1));
  EXPECT_FALSE(policy.ShouldRetry(Transport(ErrorKind::kQuotaReserve), true, 1));
}

TEST(RetryPolicy, ServerErrorsOutsideTheConfiguredListAreNotRetried) {
  RetryPolicy policy(RetryOptions{});
  EXPECT_TRUE(policy.ShouldRetry(StatusError(500), true, 1));  // 500 is in the default list
  EXPECT_FALSE(policy.ShouldRetry(StatusError(500), false, 1));
  EXPECT_FALSE(policy.ShouldRetry(StatusError(501), true, 1));
  RetryOptions without500;
  without500.retry_statuses = {429, 503};
  EXPECT_FALSE(RetryPolicy(without500).ShouldRetry(StatusError(500), true, 1));
  EXPECT_TRUE(RetryPolicy(without500).ShouldRetry(StatusError(503), true, 1));
}

TEST(RetryPolicy, RetriesTimeoutsAndDropsOnlyWhenSafeOrNothingWasSent) {
  RetryPolicy policy(RetryOptions{});
  for (ErrorKind kind : {ErrorKind::kTimeout, ErrorKind::kConnection}) {
    EXPECT_TRUE(policy.ShouldRetry(Transport(kind), true, 1));
    EXPECT_FALSE(policy.ShouldRetry(Transport(kind), false, 1));
    EXPECT_TRUE(policy.ShouldRetry(Transport(kind), false, 1, /*sent_nothing=*/true));
  }
}

TEST(RetryPolicy, StopsAfterMaxAttempts) {
  RetryOptions options;
  options.max_attempts = 3;
  RetryPolicy policy(options);
  EXPECT_TRUE(policy.ShouldRetry(StatusError(503), true, 2));
  EXPECT_FALSE(policy.ShouldRetry(StatusError(503), true, 3));
}

TEST(RetryPolicy, DoesNotWaitForAnOverlongRetryAfter) {
  RetryPolicy policy(RetryOptions{});
  Error e = StatusError(503);
  e.retry_after_ms = 3'600'000;
  EXPECT_FALSE(policy.ShouldRetry(e, true, 1));
  e.retry_after_ms = 5'000;
  EXPECT_TRUE(policy.ShouldRetry(e, true, 1));
}

}  // namespace
}  // namespace kam::http
