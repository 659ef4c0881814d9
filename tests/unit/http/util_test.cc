// kam_http internals: URL parsing, endpoint templates, loopback detection, redaction.
#include "util.h"

#include <gtest/gtest.h>

namespace kam::http::internal {
namespace {

TEST(ParseUrl, SplitsSchemeHostPortAndPrefix) {
  auto u = ParseUrl("https://api.hubapi.com");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "api.hubapi.com");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->path_prefix, "");
  EXPECT_EQ(u->HostHeader(), "api.hubapi.com");

  auto s = ParseUrl("http://127.0.0.1:8080/sandbox/");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->tls);
  EXPECT_EQ(s->port, "8080");
  EXPECT_EQ(s->path_prefix, "/sandbox");
  EXPECT_EQ(s->HostHeader(), "127.0.0.1:8080");
  EXPECT_EQ(s->Origin(), "http://127.0.0.1:8080");

  auto v6 = ParseUrl("http://[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostHeader(), "[::1]:9000");
}

TEST(ParseUrl, RejectsWhatItCannotUse) {
  for (const char* bad : {"ftp://x", "api.hubapi.com", "http://", "http://h:0", "http://h:99999",
                          "http://h:x", "http://u:p@h", "http://h/p?q=1", "http://[::1"}) {
    auto r = ParseUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
  }
}

TEST(EndpointTemplate, ReplacesIdsAndDropsTheQuery) {
  EXPECT_EQ(EndpointTemplate("GET", "/crm/v3/objects/companies/512?properties=name"),
            "GET /crm/v3/objects/companies/{id}");
  EXPECT_EQ(EndpointTemplate("PUT", "/crm/v4/objects/tasks/17/associations/companies/99/192"),
            "PUT /crm/v4/objects/tasks/{id}/associations/companies/{id}/{id}");
  EXPECT_EQ(EndpointTemplate("POST", "/crm/objects/2026-03/0-2/search"),
            "POST /crm/objects/2026-03/0-2/search");
  EXPECT_EQ(EndpointTemplate("POST", "https://api.hubapi.com/oauth/v1/token"),
            "POST /oauth/v1/token");
  EXPECT_EQ(EndpointTemplate("GET", ""), "GET /");
}

TEST(IsLoopbackHost, AcceptsOnlyLoopback) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.evil.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("api.hubapi.com"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example"));
}

TEST(Redaction, HidesTokensInTextAndFlagsSensitiveHeaders) {
  std::string s = RedactSecrets(
      "Authorization: Bearer pat-na1-abc123 and refresh_token=r-456&client_secret=s3cr3t x");
  EXPECT_EQ(s.find("pat-na1-abc123"), std::string::npos);
  EXPECT_EQ(s.find("r-456"), std::string::npos);
  EXPECT_EQ(s.find("s3cr3t"), std::string::npos);
  EXPECT_NE(s.find("[redacted]"), std::string::npos);
  EXPECT_TRUE(IsSensitiveHeader("authorization"));
  EXPECT_TRUE(IsSensitiveHeader("X-Access-Token"));
  EXPECT_FALSE(IsSensitiveHeader("Content-Type"));
}

TEST(ParseRetryAfter, ReadsDeltaSeconds) {
  EXPECT_EQ(ParseRetryAfterMs("2"), 2000);
  EXPECT_EQ(ParseRetryAfterMs(" 0 "), 0);
  EXPECT_EQ(ParseRetryAfterMs("999999"), 86'400'000);  // capped at one day
  EXPECT_FALSE(ParseRetryAfterMs("-1").has_value());
  EXPECT_FALSE(ParseRetryAfterMs("").has_value());
  EXPECT_FALSE(ParseRetryAfterMs("soon").has_value());
}

TEST(ParseHttpDate, ReadsTheThreeFormsOfRfc9110) {
  // 1994-11-06T08:49:37Z = 784111777.
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(ParseHttpDate("Wed, 21 Oct 2015 07:28:00 GMT"), 1445412480);
  EXPECT_EQ(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2028 23:59:59 GMT"), 1835481599);
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 CET").has_value());
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 25:49:37 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("06 Nov 1994").has_value());
}

TEST(ParseRetryAfter, TurnsAnHttpDateIntoTheDelayFromNow) {
  const auto now = std::chrono::system_clock::time_point{} + std::chrono::seconds(1445412480);
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:07 GMT", now), 7000);
  EXPECT_EQ(
      ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", now + std::chrono::milliseconds(250)),
      0);  // in the past: retry now
  EXPECT_EQ(ParseRetryAfterMs("Wednesday, 21-Oct-15 07:29:00 GMT", now), 60000);
  EXPECT_EQ(ParseRetryAfterMs("Thu, 22 Oct 2015 07:28:00 GMT", now + std::chrono::seconds(1)),
            86'399'000);
  EXPECT_EQ(ParseRetryAfterMs("Sat, 24 Oct 2015 07:28:00 GMT", now), 86'400'000);
}

}  // namespace
}  // namespace kam::http::internal
