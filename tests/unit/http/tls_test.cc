// TLS of kam::http::Client against the test server with a self-signed certificate made at test
// time in a temporary directory: refused by default (system trust store), accepted with
// tls.ca_file, refused on a host name mismatch, insecure allowed only for loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "fake_clock.h"
#include "kam/http/client.h"
#include "test_server.h"

namespace kam::http {
namespace {

using testing::ServerReply;
using testing::ServerRequest;
using testing::ServerTls;
using testing::TestServer;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("kam_http_tls_");
    ASSERT_FALSE(dir_.empty());
    std::filesystem::create_directories(dir_ + "/good");
    std::filesystem::create_directories(dir_ + "/other");
    std::string error;
    ASSERT_TRUE(testing::MakeSelfSignedCert(dir_ + "/good", "localhost",
                                            "DNS:localhost,IP:127.0.0.1", &good_, &error))
        << error;
    ASSERT_TRUE(testing::MakeSelfSignedCert(dir_ + "/other", "other.example", "DNS:other.example",
                                            &other_, &error))
        << error;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  static Result<Response> Call(const std::string& base_url, const std::string& ca_file,
                               bool insecure = false, std::vector<std::string>* logs = nullptr) {
    ClientOptions o;
    o.base_url = base_url;
    o.tls.ca_file = ca_file;
    o.tls.insecure = insecure;
    o.retry.max_attempts = 1;
    o.clock = std::make_shared<testing::FakeClock>();
    o.timeouts.connect = std::chrono::milliseconds(2000);
    o.timeouts.read = std::chrono::milliseconds(2000);
    if (logs) o.log = [logs](LogLevel, std::string_view m) { logs->emplace_back(m); };
    auto client = Client::Create(o);
    if (!client.ok()) return client.error();
    Request r;
    r.target = "/crm/v3/objects/companies";
    r.idempotent = true;
    return client.value()->Send(r);
  }

  static ServerReply Ok(const ServerRequest&) {
    ServerReply reply;
    reply.body = R"({"results":[]})";
    return reply;
  }

  std::string dir_;
  ServerTls good_;
  ServerTls other_;
};

TEST_F(TlsTest, RefusesASelfSignedCertificateByDefault) {
  TestServer server(Ok, &good_);
  auto r = Call(server.url(), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTls);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_NE(r.error().message.find("tls.ca_file"), std::string::npos) << r.error().message;
  EXPECT_EQ(server.requests_seen(), 0);
}

TEST_F(TlsTest, AcceptsTheCertificateWithCaFileByIpAndByName) {
  TestServer server(Ok, &good_);
  auto by_ip = Call(server.url(), good_.cert_file);
  ASSERT_TRUE(by_ip.ok()) << by_ip.error().message;
  EXPECT_EQ(by_ip->body, R"({"results":[]})");
  auto by_name = Call("https://localhost:" + std::to_string(server.port()), good_.cert_file);
  ASSERT_TRUE(by_name.ok()) << by_name.error().message;
  EXPECT_EQ(server.requests_seen(), 2);
}

TEST_F(TlsTest, RefusesACertificateForAnotherHostName) {
  TestServer server(Ok, &other_);
  auto by_ip = Call(server.url(), other_.cert_file);
  ASSERT_FALSE(by_ip.ok());
  EXPECT_EQ(by_ip.error().kind, ErrorKind::kTls);
  auto by_name = Call("https://localhost:" + std::to_string(server.port()), other_.cert_file);
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().kind, ErrorKind::kTls);
  EXPECT_NE(by_name.error().message.find("certificate verification failed"), std::string::npos)
      << by_name.error().message;
  EXPECT_EQ(server.requests_seen(), 0);
}

TEST_F(TlsTest, InsecureWorksOnLoopbackAndIsLoggedLoudly) {
  TestServer server(Ok, &other_);
  std::vector<std::string> logs;
  auto r = Call(server.url(), "", /*insecure=*/true, &logs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  bool warned = false;
  for (const auto& l : logs) warned = warned || l.find("VERIFICATION IS OFF") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(TlsTest, InsecureIsRefusedForARemoteHost) {
  ClientOptions o;
  o.base_url = "https://api.hubapi.com";
  o.tls.insecure = true;
  auto c = Client::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(c.error().message.find("loopback"), std::string::npos);
}

TEST_F(TlsTest, AMissingCaFileIsReportedAtCreation) {
  ClientOptions o;
  o.base_url = "https://127.0.0.1:1";
  o.tls.ca_file = dir_ + "/missing.pem";
  auto c = Client::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(c.error().message.find("missing.pem"), std::string::npos);
}

}  // namespace
}  // namespace kam::http
