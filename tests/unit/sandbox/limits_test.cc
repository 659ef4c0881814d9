// Rate limits, OAuth tokens and option parsing of the sandbox.
#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

class RateLimits : public SandboxTest {
  void SetUp() override {
    SandboxOptions o = SmallPortal(5);
    o.rate_limit_max = 5;
    o.rate_limit_interval_ms = 60000;  // long window: the test does not race the clock
    o.daily_limit = 8;
    StartWith(o);
  }
};

TEST_F(RateLimits, HeadersCountDownAndTheSixthCallGetsTheTenSecondlyBody) {
  for (int i = 0; i < 5; ++i) {
    Reply r = client().Get("/crm/v3/objects/companies?limit=1");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-hubspot-ratelimit-max"), "5");
    EXPECT_EQ(r.header("x-hubspot-ratelimit-interval-milliseconds"), "60000");
    EXPECT_EQ(r.header("x-hubspot-ratelimit-remaining"), std::to_string(4 - i));
    EXPECT_EQ(r.header("x-hubspot-ratelimit-daily"), "8");
    EXPECT_EQ(r.header("x-hubspot-ratelimit-daily-remaining"), std::to_string(7 - i));
    EXPECT_TRUE(r.has("x-hubspot-ratelimit-secondly"));
    EXPECT_TRUE(r.has("x-hubspot-ratelimit-secondly-remaining"));
  }
  Reply r = client().Get("/crm/v3/objects/companies?limit=1");
  ASSERT_EQ(r.status, 429);
  EXPECT_EQ(r.header("content-type"), "application/json;charset=utf-8");
  json b = r.json();
  EXPECT_EQ(b["status"], "error");
  EXPECT_EQ(b["message"], "You have reached your ten_secondly_rolling limit.");
  EXPECT_EQ(b["errorType"], "RATE_LIMIT");
  EXPECT_EQ(b["policyName"], "TEN_SECONDLY_ROLLING");
  EXPECT_EQ(b["correlationId"].get<std::string>().size(), 36u);
  EXPECT_EQ(r.header("x-hubspot-ratelimit-remaining"), "0");
  EXPECT_EQ(server_->counters().rate_limited, 1u);
}

TEST_F(RateLimits, TheDailyLimitAnswersTheDailyPolicyOnceSpent) {
  // Searches do not use the ten-secondly window but do count towards the day.
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(client().Call("POST", "/crm/v3/objects/companies/search", "{}").status, 200);
  }
  Reply r = client().Get("/crm/v3/objects/companies");
  ASSERT_EQ(r.status, 429);
  EXPECT_EQ(r.json()["policyName"], "DAILY");
  EXPECT_EQ(r.json()["message"], "You have reached your daily limit.");
  EXPECT_EQ(r.header("x-hubspot-ratelimit-daily-remaining"), "0");
}

using OAuthApi = SandboxTest;

TEST_F(OAuthApi, RefreshTokenGrantIssuesAWorkingAccessTokenAndBadOnesAreRejected) {
  TestClient anon(server_->port(), "");
  Reply t = anon.Call("POST", "/oauth/v1/token",
                      "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=sandbox-refresh-token",
                      "application/x-www-form-urlencoded");
  ASSERT_EQ(t.status, 200) << t.body;
  json b = t.json();
  EXPECT_EQ(b["expires_in"], 1800);
  EXPECT_EQ(b["token_type"], "bearer");
  TestClient user(server_->port(), b["access_token"]);
  Reply ok = user.Get("/crm/v3/objects/companies?limit=1");
  EXPECT_EQ(ok.status, 200);
  EXPECT_FALSE(ok.has("x-hubspot-ratelimit-daily"));  // OAuth responses omit the daily headers
  EXPECT_TRUE(ok.has("x-hubspot-ratelimit-max"));
  ASSERT_EQ(anon.Post("/_sandbox/oauth/expire", json::object()).status, 200);
  ExpectErrorBody(user.Get("/crm/v3/objects/companies"), 401, "EXPIRED_AUTHENTICATION");
  Reply bad = anon.Call("POST", "/oauth/v1/token", "grant_type=refresh_token&refresh_token=nope",
                        "application/x-www-form-urlencoded");
  ASSERT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["status"], "BAD_REFRESH_TOKEN");
  EXPECT_EQ(bad.json()["error"], "invalid_grant");
}

TEST(SandboxOptionParsing, ReadsRateLimitAndLatencySpecs) {
  int max = 0, interval = 0;
  EXPECT_TRUE(ParseRateLimit("100/10s", &max, &interval));
  EXPECT_EQ(max, 100);
  EXPECT_EQ(interval, 10000);
  EXPECT_TRUE(ParseRateLimit("5/500ms", &max, &interval));
  EXPECT_EQ(interval, 500);
  EXPECT_TRUE(ParseRateLimit("190", &max, &interval));
  EXPECT_EQ(max, 190);
  EXPECT_EQ(interval, 10000);
  EXPECT_FALSE(ParseRateLimit("fast", &max, &interval));
  EXPECT_FALSE(ParseRateLimit("10/0s", &max, &interval));
  int lo = 0, hi = 0;
  EXPECT_TRUE(ParseLatency("5-20", &lo, &hi));
  EXPECT_EQ(lo, 5);
  EXPECT_EQ(hi, 20);
  EXPECT_FALSE(ParseLatency("20-5", &lo, &hi));
}

TEST(SandboxStart, ReportsABadFaultSpecInsteadOfStarting) {
  SandboxOptions o = SmallPortal(1);
  o.faults = "teapot=0.5";
  auto r = SandboxServer::Start(o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("teapot"), std::string::npos);
}

}  // namespace
}  // namespace kam::sandbox::testing
