// A running sandbox per test (small seeded portal) plus a client bound to it.
#ifndef KAM_TESTS_UNIT_SANDBOX_SANDBOX_FIXTURE_H_
#define KAM_TESTS_UNIT_SANDBOX_SANDBOX_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>

#include "kam/sandbox/sandbox_server.h"
#include "test_client.h"

namespace kam::sandbox::testing {

using nlohmann::json;

// Fixed base time so seeded data is the same on every day: 2026-01-01T00:00:00Z.
constexpr int64_t kBaseTime = 1767225600000;

inline SandboxOptions SmallPortal(int accounts = 120) {
  SandboxOptions o;
  o.accounts = accounts;
  o.seed = 7;
  o.base_time_ms = kBaseTime;
  o.search_per_second = 0;
  return o;
}

class SandboxTest : public ::testing::Test {
 protected:
  void StartWith(const SandboxOptions& options) {
    auto started = SandboxServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.error;
    server_ = std::move(started.server);
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void SetUp() override { StartWith(SmallPortal()); }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  TestClient& client() { return *client_; }

  // The ids of the first `n` companies, listed by the API.
  std::vector<std::string> CompanyIds(int n) {
    Reply r = client().Get("/crm/v3/objects/companies?limit=" + std::to_string(n));
    std::vector<std::string> ids;
    for (const auto& c : r.json()["results"]) ids.push_back(c["id"]);
    return ids;
  }

  std::unique_ptr<SandboxServer> server_;
  std::unique_ptr<TestClient> client_;
};

// A HubSpot error body: status/message/correlationId (UUID)/category.
inline void ExpectErrorBody(const Reply& r, int status, const std::string& category) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json;charset=utf-8");
  EXPECT_TRUE(r.has("x-hubspot-correlation-id"));
  json b = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(b.is_object()) << r.body;
  EXPECT_EQ(b.value("status", ""), "error");
  EXPECT_FALSE(b.value("message", "").empty());
  EXPECT_EQ(b.value("correlationId", "").size(), 36u);
  if (!category.empty()) {
    EXPECT_EQ(b.value("category", ""), category) << r.body;
  }
}

}  // namespace kam::sandbox::testing

#endif  // KAM_TESTS_UNIT_SANDBOX_SANDBOX_FIXTURE_H_
