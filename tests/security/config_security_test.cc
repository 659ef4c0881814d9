// Configuration rules of the security section: secret names start with KAM_, plain http only to
// loopback (judged on the resolved address), and the HTML escaping of the report.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config.h"
#include "kam/http/url_policy.h"
#include "operation.h"
#include "report_html.h"

namespace kam::engine {
namespace {

using nlohmann::json;

std::string ConfigError(const json& config) {
  try {
    ParseEngineConfig(config);
  } catch (const OpError& e) {
    return e.message() + " @" + e.location();
  }
  return "";
}

TEST(SecretNames, ATokenSecretNotStartingWithKamIsAConfigErrorNamingThePointer) {
  std::string e = ConfigError({{"hubspot", {{"token_secret", "AWS_SECRET_ACCESS_KEY"}}}});
  EXPECT_NE(e.find("/hubspot/token_secret"), std::string::npos) << e;
  EXPECT_NE(e.find("KAM_"), std::string::npos) << e;
  EXPECT_NE(ConfigError({{"hubspot", {{"token_secret", "KAM_"}}}}), "");
  EXPECT_NE(ConfigError({{"hubspot", {{"token_secret", "KAM_lower"}}}}), "");
  EXPECT_EQ(ConfigError({{"hubspot", {{"token_secret", "KAM_ACME_TOKEN_2"}}}}), "");
}

TEST(PlainHttp, IsRefusedForARemoteAddressWithAMessageNamingHttps) {
  std::string e = ConfigError({{"hubspot", {{"base_url", "http://192.0.2.10:8080"}}}});
  EXPECT_NE(e.find("/hubspot/base_url"), std::string::npos) << e;
  EXPECT_NE(e.find("https://"), std::string::npos) << e;
  EXPECT_NE(e.find("192.0.2.10"), std::string::npos) << e;
}

TEST(PlainHttp, IsAllowedToLoopbackAddressesAndNamesThatResolveToThem) {
  EXPECT_EQ(ConfigError({{"hubspot", {{"base_url", "http://127.0.0.1:8080"}}}}), "");
  EXPECT_EQ(ConfigError({{"hubspot", {{"base_url", "http://127.3.4.5"}}}}), "");
  EXPECT_EQ(ConfigError({{"hubspot", {{"base_url", "http://[::1]:9"}}}}), "");
  EXPECT_EQ(ConfigError({{"hubspot", {{"base_url", "http://localhost:9"}}}}), "");
  EXPECT_EQ(ConfigError({{"hubspot", {{"base_url", "https://192.0.2.10"}}}}), "");
}

TEST(PlainHttp, ANameOtherThanLocalhostIsRefusedWithoutAskingDns) {
  // A name proves nothing about where it leads ("127.0.0.1.nip.io" resolves to loopback today,
  // anything tomorrow): refused, whatever it resolves to.
  for (const char* url : {"http://localhost.invalid:8080", "http://127.0.0.1.nip.io:80"}) {
    auto s = http::CheckTransportSecurity(url);
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_NE(s.error().message.find("https://"), std::string::npos) << s.error().message;
  }
  // An IPv4-mapped loopback literal is loopback; a mapped remote one is not.
  EXPECT_TRUE(http::CheckTransportSecurity("http://[::ffff:127.0.0.1]:80").ok());
  EXPECT_FALSE(http::CheckTransportSecurity("http://[::ffff:192.0.2.1]:80").ok());
}

TEST(ReportHtml, EscapesEveryCrmSourcedText) {
  const std::string evil = "<script>alert(\"x\")</script> O'Hara & \"Sons\"";
  json report = {
      {"tiers", {{{"label", evil}, {"accounts", 1}, {"capacity_total", nullptr}}}},
      {"pareto", {{"80%_of_revenue", {{"accounts", 1}}}}},
      {"capped", {{{"account_id", "1"}, {"name", evil}, {"tier", "key"}, {"reason", evil}}}},
      {"movers",
       {{{"account_id", "1"},
         {"name", evil},
         {"from", 1},
         {"to", 2},
         {"from_tier", "a"},
         {"to_tier", "b"}}}},
      {"workload", {{{"owner_id", evil}, {"key_accounts", 1}, {"open_tasks", 0}}}}};
  std::string html = RenderReportHtml(report);
  EXPECT_EQ(html.find("<script"), std::string::npos) << html;
  EXPECT_EQ(html.find("O'Hara"), std::string::npos);
  EXPECT_EQ(html.find("\"Sons\""), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Hara &amp; "
                      "&quot;Sons&quot;"),
            std::string::npos)
      << html;
}

}  // namespace
}  // namespace kam::engine
