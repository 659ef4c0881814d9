// Mapping HubSpot error bodies to kam::http::Error, and JSON body parsing.
#include "kam/http/error.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "kam/http/json_body.h"

namespace kam::http {
namespace {

TEST(ErrorFromResponse, ReadsTheHubSpotErrorBody) {
  Error e = ErrorFromResponse(
      400,
      R"({"status":"error","message":"Property values were not valid: [...]",)"
      R"("correlationId":"aeb5f871-7f07-4993-9211-075dc63e7cbf","category":"VALIDATION_ERROR",)"
      R"("subCategory":"x","context":{"propertyName":["foo"]},"errors":[{"message":"m"}]})");
  EXPECT_EQ(e.kind, ErrorKind::kHttpStatus);
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.crm_message, "Property values were not valid: [...]");
  EXPECT_EQ(e.category, "VALIDATION_ERROR");
  EXPECT_EQ(e.sub_category, "x");
  EXPECT_EQ(e.correlation_id, "aeb5f871-7f07-4993-9211-075dc63e7cbf");
  EXPECT_FALSE(e.retryable);
  EXPECT_NE(e.message.find("VALIDATION_ERROR"), std::string::npos);
  EXPECT_NE(e.body.find("propertyName"), std::string::npos);
}

TEST(ErrorFromResponse, ReadsTheRateLimitBodyWithPolicyName) {
  Error e = ErrorFromResponse(
      429, R"({"status":"error","message":"You have reached your ten_secondly_rolling limit.",)"
           R"("errorType":"RATE_LIMIT","correlationId":"20f98dfa-05b6-4d27-8d96-ecfde54ca211",)"
           R"("policyName":"TEN_SECONDLY_ROLLING","groupName":"publicapi:x"})");
  EXPECT_EQ(e.kind, ErrorKind::kRateLimited);
  EXPECT_EQ(e.category, "RATE_LIMIT");
  EXPECT_EQ(e.policy_name, "TEN_SECONDLY_ROLLING");
  EXPECT_EQ(e.crm_message, "You have reached your ten_secondly_rolling limit.");
  EXPECT_EQ(e.correlation_id, "20f98dfa-05b6-4d27-8d96-ecfde54ca211");
  EXPECT_TRUE(e.retryable);
}

TEST(ErrorFromResponse, PrefersCategoryOverErrorType) {
  Error e = ErrorFromResponse(429, R"({"category":"RATE_LIMITS","errorType":"RATE_LIMIT"})");
  EXPECT_EQ(e.category, "RATE_LIMITS");
}

TEST(ErrorFromResponse, KeepsANonJsonBodyAndTheCorrelationHeader) {
  Error e = ErrorFromResponse(502, "<html>Bad gateway</html>", "cid-from-header");
  EXPECT_EQ(e.kind, ErrorKind::kHttpStatus);
  EXPECT_TRUE(e.retryable);
  EXPECT_TRUE(e.crm_message.empty());
  EXPECT_EQ(e.correlation_id, "cid-from-header");
  EXPECT_EQ(e.body, "<html>Bad gateway</html>");
}

TEST(ErrorFromResponse, MapsAuthAndScopeErrors) {
  Error e401 = ErrorFromResponse(
      401,
      R"({"message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION","correlationId":"c1"})");
  EXPECT_EQ(e401.category, "INVALID_AUTHENTICATION");
  EXPECT_FALSE(e401.retryable);
  Error e403 = ErrorFromResponse(403, R"({"message":"m","category":"MISSING_SCOPES"})");
  EXPECT_EQ(e403.category, "MISSING_SCOPES");
  EXPECT_FALSE(e403.retryable);
}

TEST(ErrorKindNames, AreStable) {
  EXPECT_STREQ(ToString(ErrorKind::kQuotaReserve), "quota_reserve");
  EXPECT_STREQ(ToString(ErrorKind::kTimeout), "timeout");
  EXPECT_STREQ(ToString(ErrorKind::kRateLimited), "rate_limited");
}

TEST(ParseJsonBody, ParsesAndReportsTheOffsetOfMalformedJson) {
  Response r;
  r.status = 200;
  r.body = R"({"results":[1,2]})";
  auto ok = ParseJsonBody(r, "GET /x");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value()["results"].size(), 2u);
  r.body = R"({"results":[1,)";
  auto bad = ParseJsonBody(r, "GET /x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidResponse);
  EXPECT_NE(bad.error().message.find("GET /x"), std::string::npos);
  EXPECT_NE(bad.error().message.find("byte"), std::string::npos);
  r.body.clear();
  EXPECT_TRUE(ParseJsonBody(r).value().is_null());
}

TEST(JsonInteger, TakesIntegersInRangeAndRefusesWhatNoIntegerCanHold) {
  using nlohmann::json;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(JsonInteger(json::parse("42"), 0, 100), 42);
  EXPECT_EQ(JsonInteger(json::parse("-3"), -5, 5), -3);
  EXPECT_EQ(JsonInteger(json::parse("42.0"), 0, 100), 42);  // a whole float
  EXPECT_EQ(JsonInteger(json::parse("9223372036854775807"), 0, kMax), kMax);
  EXPECT_EQ(JsonInteger(json::parse("-9223372036854775808"), kMin, 0), kMin);
  EXPECT_FALSE(JsonInteger(json::parse("101"), 0, 100));
  EXPECT_FALSE(JsonInteger(json::parse("2.5"), 0, 100));
  EXPECT_FALSE(JsonInteger(json::parse("\"7\""), 0, 100));
  EXPECT_FALSE(JsonInteger(json(nullptr), 0, 100));
  EXPECT_FALSE(JsonInteger(json::parse("18446744073709551615"), 0, kMax));  // unsigned, > int64
  // The fuzz finding: a "total" of 34 digits is parsed as a float of 1.1e33; converting it to
  // int64_t would be undefined behaviour.
  EXPECT_FALSE(JsonInteger(json::parse("1111111111111111111111111111110001"), 0, kMax));
  EXPECT_FALSE(JsonInteger(json::parse("9223372036854775808.0"), 0, kMax));  // 2^63
  EXPECT_FALSE(JsonInteger(json::parse("-1e300"), kMin, kMax));
  EXPECT_FALSE(JsonInteger(json(std::numeric_limits<double>::infinity()), kMin, kMax));
  EXPECT_FALSE(JsonInteger(json(std::numeric_limits<double>::quiet_NaN()), kMin, kMax));
}

}  // namespace
}  // namespace kam::http
