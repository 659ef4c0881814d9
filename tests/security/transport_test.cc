// Item 2 of issue 10 through the binary: https only outside loopback, the TLS matrix set up in
// kam.json (self-signed refused, tls.ca_file accepted, wrong host name refused, expired refused,
// TLS 1.0/1.1 refused), and the outbound proxy (HTTPS_PROXY, NO_PROXY, CONNECT, credentials
// sent as Proxy-Authorization and redacted). Certificates are made at run time.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "crm_forwarder.h"
#include "kam/http/redact.h"
#include "kam/sandbox/sandbox_server.h"
#include "kam_process.h"
#include "tls_fixtures.h"

namespace kam::security_testing {
namespace {

constexpr const char* kToken = "tls-test-token-5c1e";

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("kam_transport_");
    ASSERT_FALSE(dir_.empty());
    std::filesystem::create_directories(dir_ + "/out");
    ca_ = std::make_unique<TestCa>(dir_);
    sandbox::SandboxOptions so;
    so.accounts = 5;
    so.token = kToken;
    so.search_per_second = 0;
    auto started = sandbox::SandboxServer::Start(so);
    ASSERT_TRUE(started.ok()) << started.error;
    sandbox_ = std::move(started.server);
  }
  void TearDown() override {
    sandbox_.reset();
    ca_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A TLS front of the sandbox presenting `cert`.
  std::unique_ptr<CrmForwarder> TlsFront(const CertFiles& cert) {
    http::testing::ServerTls tls{cert.cert, cert.key};
    return std::make_unique<CrmForwarder>(sandbox_->url(), CrmForwarder::Override{}, &tls);
  }

  // `kam provision` with base_url and tls.ca_file (empty: none) written into kam.json.
  // `top` adds members to the top level of kam.json (e.g. R"("proxy": {...},)").
  KamRun Provision(const std::string& base_url, const std::string& ca_file,
                   std::vector<std::pair<std::string, std::string>> env = {},
                   const std::string& top = "") {
    std::string tls = ca_file.empty() ? "" : R"(, "tls": {"ca_file": ")" + ca_file + R"("})";
    WriteFile(dir_ + "/kam.json",
              "{" + top + R"("rules": ")" KAM_EXAMPLE_RULES R"(", "state": ")" + dir_ +
                  R"(/kam.db", "hubspot": {"base_url": ")" + base_url +
                  R"(", "rate": {"enabled": false}, "retry": {"max_attempts": 1})" + tls + "}}");
    env.emplace_back("KAM_HUBSPOT_TOKEN", kToken);
    for (const char* name : {"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}) {
      bool given = false;
      for (const auto& [k, v] : env) given = given || k == name;
      if (!given) env.emplace_back(name, "");
    }
    return RunKam({"--config", dir_ + "/kam.json", "-v", "provision"}, env,
                  dir_ + "/out/" + std::to_string(++step_));
  }

  std::string dir_;
  int step_ = 0;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<sandbox::SandboxServer> sandbox_;
};

TEST_F(TransportTest, PlainHttpToARemoteAddressIsRefusedWhenTheConfigIsRead) {
  KamRun r = Provision("http://192.0.2.1:8080", "");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("/hubspot/base_url"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("https://"), std::string::npos) << r.err;
}

TEST_F(TransportTest, ACertificateSignedByTheConfiguredCaIsAccepted) {
  auto front = TlsFront(ca_->Issue("good", "DNS:localhost", -3600, 86400));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), ca_->ca_file());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(front->requests(), 0);
}

TEST_F(TransportTest, ASelfSignedCertificateIsRefused) {
  auto front = TlsFront(ca_->SelfSigned("self", "DNS:localhost"));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), "");
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("certificate verification failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tls.ca_file"), std::string::npos) << r.err;
  EXPECT_EQ(front->requests(), 0);
}

TEST_F(TransportTest, ACertificateForAnotherHostNameIsRefused) {
  auto front = TlsFront(ca_->Issue("wrong", "DNS:wrong.example", -3600, 86400));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), ca_->ca_file());
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("hostname mismatch"), std::string::npos) << r.err;
  EXPECT_EQ(front->requests(), 0);
}

TEST_F(TransportTest, AnExpiredCertificateIsRefused) {
  auto front = TlsFront(ca_->Issue("expired", "DNS:localhost", -7200, -3600));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), ca_->ca_file());
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("expired"), std::string::npos) << r.err;
  EXPECT_EQ(front->requests(), 0);
}

TEST_F(TransportTest, AServerThatSpeaksOnlyTls10Or11IsRefused) {
  OldTlsServer old(ca_->Issue("old", "DNS:localhost", -3600, 86400));
  std::string why;
  if (!old.ProbeTls11(&why)) GTEST_SKIP() << "this OpenSSL cannot speak TLS 1.1 at all: " << why;
  KamRun r = Provision("https://localhost:" + std::to_string(old.port()), ca_->ca_file());
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("TLS handshake"), std::string::npos) << r.err;
}

TEST_F(TransportTest, HttpsGoesThroughTheProxyWithCredentialsThatNeverShow) {
  const std::string password = "pr0xy-P4ss-91ac";
  // base64("kam-user:" + password), computed outside the client (base64(1)).
  const std::string basic = "Basic a2FtLXVzZXI6cHIweHktUDRzcy05MWFj";
  ConnectProxy proxy(basic);
  auto front = TlsFront(ca_->Issue("good", "DNS:localhost", -3600, 86400));
  const std::string url = "https://localhost:" + std::to_string(front->port());
  KamRun r = Provision(url, ca_->ca_file(),
                       {{"HTTPS_PROXY", "http://kam-user:" + password +
                                            "@127.0.0.1:" + std::to_string(proxy.port())}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(proxy.heads().empty());
  EXPECT_EQ(proxy.heads()[0].rfind(
                "CONNECT localhost:" + std::to_string(front->port()) + " HTTP/1.1\r\n", 0),
            0u)
      << proxy.heads()[0];
  EXPECT_GT(front->requests(), 0);
  EXPECT_EQ(FilesContaining(dir_ + "/out", password), std::vector<std::string>{});

  // Wrong credentials: a clear error naming the proxy, still without the password.
  ConnectProxy strict("Basic bm9ib2R5Om5vcGU=");
  KamRun refused = Provision(url, ca_->ca_file(),
                             {{"HTTPS_PROXY", "http://kam-user:" + password +
                                                  "@127.0.0.1:" + std::to_string(strict.port())}});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("407"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(password), std::string::npos) << refused.err;
}

TEST_F(TransportTest, NoProxyNamesHostsReachedDirectly) {
  ConnectProxy proxy;
  auto front = TlsFront(ca_->Issue("good", "DNS:localhost", -3600, 86400));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), ca_->ca_file(),
                       {{"HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port())},
                        {"NO_PROXY", "example.com,localhost"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(proxy.heads().empty());
  EXPECT_GT(front->requests(), 0);
}

TEST_F(TransportTest, TheProxyBlockOfKamJsonTakesItsCredentialsFromASecretThatNeverShows) {
  const std::string password = "pr0xy-P4ss-91ac";
  const std::string basic = "Basic a2FtLXVzZXI6cHIweHktUDRzcy05MWFj";  // kam-user:password
  ConnectProxy proxy(basic);
  ConnectProxy ignored;  // HTTPS_PROXY of the environment: the block alone decides
  auto front = TlsFront(ca_->Issue("good", "DNS:localhost", -3600, 86400));
  KamRun r = Provision(
      "https://localhost:" + std::to_string(front->port()), ca_->ca_file(),
      {{"KAM_PROXY_URL",
        "http://kam-user:" + password + "@127.0.0.1:" + std::to_string(proxy.port())},
       {"HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(ignored.port())}},
      R"("proxy": {"url_secret": "KAM_PROXY_URL"}, )");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(proxy.heads().empty());
  EXPECT_EQ(proxy.heads()[0].rfind("CONNECT localhost:" + std::to_string(front->port()), 0), 0u)
      << proxy.heads()[0];
  EXPECT_TRUE(ignored.heads().empty());
  EXPECT_GT(front->requests(), 0);
  EXPECT_EQ(FilesContaining(dir_ + "/out", password), std::vector<std::string>{});
  EXPECT_EQ(FilesContaining(dir_, password), std::vector<std::string>{});  // kam.json, state
}

TEST_F(TransportTest, TheProxyBlocksNoProxyReachesTheNamedHostDirectly) {
  ConnectProxy proxy;
  auto front = TlsFront(ca_->Issue("good", "DNS:localhost", -3600, 86400));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), ca_->ca_file(), {},
                       R"("proxy": {"url": "http://127.0.0.1:)" + std::to_string(proxy.port()) +
                           R"(", "no_proxy": "example.com, localhost"}, )");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(proxy.heads().empty());
  EXPECT_GT(front->requests(), 0);
}

TEST_F(TransportTest, ProxyCredentialsWrittenIntoKamJsonAreRefusedNamingTheSecretToUse) {
  KamRun r = Provision("https://localhost:9", "", {},
                       R"("proxy": {"url": "http://kam-user:pw@127.0.0.1:3128"}, )");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("/proxy/url"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("url_secret"), std::string::npos) << r.err;
}

TEST_F(TransportTest, AProxySecretThatIsNotSetStopsWithItsNameInsteadOfGoingDirect) {
  auto front = TlsFront(ca_->Issue("good", "DNS:localhost", -3600, 86400));
  KamRun r = Provision("https://localhost:" + std::to_string(front->port()), ca_->ca_file(), {},
                       R"("proxy": {"url_secret": "KAM_PROXY_URL"}, )");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("KAM_PROXY_URL"), std::string::npos) << r.err;
  EXPECT_EQ(front->requests(), 0);
}

}  // namespace
}  // namespace kam::security_testing
