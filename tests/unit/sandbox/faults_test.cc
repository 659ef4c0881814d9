// Fault injection of the sandbox: seeded, deterministic, per kind and per route prefix.
#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

std::vector<int> StatusSequence(const std::string& faults, uint64_t seed, int n) {
  SandboxOptions o = SmallPortal(5);
  o.seed = seed;
  o.faults = faults;
  auto s = SandboxServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.error;
  TestClient c(s.server->port());
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(c.Get("/crm/v3/objects/companies?limit=1").status);
  s.server->Stop();
  return out;
}

TEST(SandboxFaults, TheSameSeedGivesTheSameFaultsAndAnotherSeedOthers) {
  const std::string spec = "429=0.2,500=0.1,503=0.1";
  auto a = StatusSequence(spec, 11, 60);
  auto b = StatusSequence(spec, 11, 60);
  auto c = StatusSequence(spec, 12, 60);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int faults = 0;
  for (int s : a) faults += s != 200;
  EXPECT_GT(faults, 5);
  EXPECT_LT(faults, 45);
}

using FaultsApi = SandboxTest;

TEST_F(FaultsApi, InjectedErrorsHaveHubSpotBodiesAndRateLimitOnesTheTenSecondlyPolicy) {
  ASSERT_EQ(client().Call("PUT", "/_sandbox/faults", R"({"spec":"429=1"})").status, 200);
  Reply r = client().Get("/crm/v3/objects/companies");
  ASSERT_EQ(r.status, 429);
  EXPECT_EQ(r.json()["policyName"], "TEN_SECONDLY_ROLLING");
  ASSERT_EQ(client().Call("PUT", "/_sandbox/faults", R"({"spec":"503=1"})").status, 200);
  ExpectErrorBody(client().Get("/crm/v3/objects/companies"), 503, "");
  ASSERT_EQ(client().Call("PUT", "/_sandbox/faults", R"({"spec":"expired=1"})").status, 200);
  ExpectErrorBody(client().Get("/crm/v3/objects/companies"), 401, "EXPIRED_AUTHENTICATION");
  EXPECT_EQ(server_->counters().faults_injected, 3u);
}

TEST_F(FaultsApi, DroppedConnectionsAndMalformedBodiesStillApplyTheWrite) {
  ASSERT_EQ(server_->SetFaults("drop=1@/crm/v3/objects/companies/batch"), "");
  const auto ids = CompanyIds(1);
  Reply d =
      client().Post("/crm/v3/objects/companies/batch/update",
                    {{"inputs", json::array({{{"id", ids[0]}, {"properties", {{"nps", "77"}}}}})}});
  EXPECT_EQ(d.status, 0);  // no answer
  ASSERT_EQ(server_->SetFaults("malformed=1@/crm/v3/objects/companies/"), "");
  Reply m = client().Get("/crm/v3/objects/companies/" + ids[0] + "?properties=nps");
  EXPECT_EQ(m.status, 200);
  EXPECT_TRUE(json::parse(m.body, nullptr, false).is_discarded());
  ASSERT_EQ(server_->SetFaults(""), "");
  Reply g = client().Get("/crm/v3/objects/companies/" + ids[0] + "?properties=nps");
  EXPECT_EQ(g.json()["properties"]["nps"], "77");
}

TEST_F(FaultsApi, PartialFaultsFailSomeBatchInputsWith207AndLeaveThemUnapplied) {
  ASSERT_EQ(server_->SetFaults("partial=1"), "");
  const auto ids = CompanyIds(10);
  json inputs = json::array();
  for (const auto& id : ids) inputs.push_back({{"id", id}, {"properties", {{"nps", "5"}}}});
  Reply r = client().Post("/crm/v3/objects/companies/batch/update", {{"inputs", inputs}});
  ASSERT_EQ(r.status, 207) << r.body;
  json b = r.json();
  const size_t failed = b["numErrors"];
  EXPECT_GE(failed, 1u);
  EXPECT_EQ(b["results"].size() + failed, 10u);
  for (const auto& e : b["errors"]) {
    for (const char* key : {"status", "category", "message", "context", "errors", "links"}) {
      EXPECT_TRUE(e.contains(key));
    }
    const std::string id = e["context"]["ids"][0];
    ASSERT_EQ(server_->SetFaults(""), "");
    Reply g = client().Get("/crm/v3/objects/companies/" + id + "?properties=nps");
    EXPECT_NE(g.json()["properties"]["nps"], "5") << "failed input " << id << " was applied";
    ASSERT_EQ(server_->SetFaults("partial=1"), "");
  }
}

TEST_F(FaultsApi, PartialFaultsFailSomeAssociationReadInputsAndAreCountedByKind) {
  const auto ids = CompanyIds(10);
  json inputs = json::array();
  for (const auto& id : ids) inputs.push_back({{"id", id}});
  const json body = {{"inputs", inputs}};
  Reply clean = client().Post("/crm/v4/associations/companies/deals/batch/read", body);
  ASSERT_EQ(clean.status, 200) << clean.body;
  ASSERT_EQ(server_->SetFaults("partial=1"), "");
  Reply r = client().Post("/crm/v4/associations/companies/deals/batch/read", body);
  ASSERT_EQ(r.status, 207) << r.body;
  json b = r.json();
  const size_t failed = b["numErrors"];
  EXPECT_GE(failed, 1u);
  EXPECT_EQ(b["results"].size() + failed, 10u);
  for (const auto& e : b["errors"]) {
    EXPECT_EQ(e["category"], "RATE_LIMITS");
    ASSERT_EQ(e["context"]["ids"].size(), 1u);
  }
  // What did come back is what a clean read gives for those companies.
  std::map<std::string, json> clean_to;
  for (const auto& x : clean.json()["results"]) clean_to[x["from"]["id"]] = x["to"];
  for (const auto& x : b["results"]) EXPECT_EQ(x["to"], clean_to[x["from"]["id"]]);
  EXPECT_EQ(client().Get("/_sandbox/counters").json()["faults_by_kind"]["partial"], 1);
  ASSERT_EQ(server_->SetFaults("500=1"), "");
  EXPECT_EQ(client().Get("/crm/v3/objects/companies?limit=1").status, 500);
  json by_kind = client().Get("/_sandbox/counters").json()["faults_by_kind"];
  EXPECT_EQ(by_kind["500"], 1);
  EXPECT_EQ(by_kind["partial"], 1);
}

TEST_F(FaultsApi, SlowFaultsDelayTheAnswer) {
  ASSERT_EQ(server_->SetFaults("slow=1:300"), "");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client().Get("/crm/v3/objects/companies?limit=1").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(FaultsApi, AHashNRuleFailsExactlyTheNthMatchingRequestAndNoOther) {
  ASSERT_EQ(server_->SetFaults("500=#3@/crm/v3/objects/companies/batch/read"), "");
  const auto ids = CompanyIds(1);
  const json body = {{"inputs", json::array({{{"id", ids[0]}}})}};
  std::vector<int> statuses;
  for (int i = 0; i < 6; ++i) {
    client().Get("/crm/v3/objects/companies");  // other routes do not count
    statuses.push_back(client().Post("/crm/v3/objects/companies/batch/read", body).status);
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 500, 200, 200, 200}));
  EXPECT_EQ(server_->counters().faults_injected, 1u);
  // Setting the spec again starts the count over; bad counts are refused.
  ASSERT_EQ(server_->SetFaults("500=#1@/crm/v3/objects/companies/batch/read"), "");
  EXPECT_EQ(client().Post("/crm/v3/objects/companies/batch/read", body).status, 500);
  EXPECT_NE(server_->SetFaults("500=#0"), "");
  EXPECT_NE(server_->SetFaults("500=#1.5"), "");
  EXPECT_NE(server_->SetFaults("500=#x"), "");
}

}  // namespace
}  // namespace kam::sandbox::testing
