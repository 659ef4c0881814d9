// The proxy rules of kam_http (ProxyOptions): which proxy, NO_PROXY matching, the CONNECT
// request, and that a bad proxy URL is reported without its credentials.
#include "proxy.h"

#include <gtest/gtest.h>

namespace kam::http::internal {
namespace {

ProxyOptions Explicit(std::string url, std::string no_proxy = "") {
  ProxyOptions o;
  o.url = std::move(url);
  o.no_proxy = std::move(no_proxy);
  o.from_environment = false;
  return o;
}

TEST(Proxy, ParsesHostPortAndPercentEncodedCredentials) {
  auto p = ProxyFor(Explicit("http://kam%40acme:p%3Ass@proxy.acme.example:3128"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->host, "proxy.acme.example");
  EXPECT_EQ((*p)->port, "3128");
  EXPECT_EQ((*p)->user, "kam@acme");
  EXPECT_EQ((*p)->password, "p:ss");
  EXPECT_EQ((*p)->authorization, "Basic " + Base64("kam@acme:p:ss"));
  EXPECT_EQ((*p)->Display(), "http://proxy.acme.example:3128");
}

TEST(Proxy, NoneWhenNothingIsConfigured) {
  auto p = ProxyFor(Explicit(""));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_value());
}

TEST(Proxy, ReadsHttpsProxyAndNoProxyFromTheEnvironment) {
  setenv("HTTPS_PROXY", "http://127.0.0.1:8888", 1);
  setenv("NO_PROXY", ".internal.example", 1);
  ProxyOptions o;
  auto p = ProxyFor(o);
  unsetenv("HTTPS_PROXY");
  unsetenv("NO_PROXY");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->port, "8888");
  EXPECT_EQ((*p)->no_proxy, ".internal.example");
}

TEST(Proxy, ABadProxyUrlIsAnErrorThatDoesNotShowTheCredentials) {
  auto p = ProxyFor(Explicit("http://user:s3cret-pw@proxy:99999"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message.find("s3cret-pw"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("proxy"), std::string::npos);
  auto tls = ProxyFor(Explicit("https://user:s3cret-pw@proxy:443"));
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.error().message.find("s3cret-pw"), std::string::npos) << tls.error().message;
}

TEST(Proxy, NoProxyMatchesNamesTheirSubdomainsIpLiteralsAndStar) {
  EXPECT_TRUE(BypassesProxy("api.hubapi.com", "example.com, hubapi.com"));
  EXPECT_TRUE(BypassesProxy("api.hubapi.com", ".hubapi.com"));
  EXPECT_TRUE(BypassesProxy("HUBAPI.com", "hubapi.com"));
  EXPECT_FALSE(BypassesProxy("nothubapi.com", "hubapi.com"));
  EXPECT_TRUE(BypassesProxy("10.1.2.3", "10.1.2.3"));
  EXPECT_TRUE(BypassesProxy("::1", "[::1]"));
  EXPECT_TRUE(BypassesProxy("anything", "*"));
  EXPECT_FALSE(BypassesProxy("api.hubapi.com", ""));
}

TEST(Proxy, TheConnectRequestNamesTheTargetAndCarriesTheCredentials) {
  Url target;
  target.tls = true;
  target.host = "api.hubapi.com";
  target.port = "443";
  auto p = ProxyFor(Explicit("http://u:p@proxy:3128"));
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ(ConnectRequest(target, **p),
            "CONNECT api.hubapi.com:443 HTTP/1.1\r\nHost: api.hubapi.com:443\r\n"
            "Proxy-Authorization: Basic dTpw\r\n\r\n");
  EXPECT_EQ(ConnectStatus("HTTP/1.1 200 Connection established\r\n\r\n"), 200);
  EXPECT_EQ(ConnectStatus("HTTP/1.0 407 Proxy Authentication Required\r\n"), 407);
  EXPECT_EQ(ConnectStatus("garbage"), -1);
}

}  // namespace
}  // namespace kam::http::internal
