// Associations, owners, account info, the admin API and the seeded demo data of the sandbox.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

using PortalApi = SandboxTest;

TEST_F(PortalApi, AssociationBatchReadListsContactsPerCompanyAndReportsUnknownIds) {
  const auto ids = CompanyIds(3);
  Reply r = client().Post("/crm/v4/associations/companies/contacts/batch/read",
                          {{"inputs", json::array({{{"id", ids[0]}}, {{"id", ids[1]}},
                                                   {{"id", "999999999"}}})}});
  ASSERT_EQ(r.status, 207) << r.body;
  json b = r.json();
  ASSERT_EQ(b["results"].size(), 2u);
  for (const auto& res : b["results"]) {
    EXPECT_FALSE(res["to"].empty());
    EXPECT_EQ(res["to"][0]["associationTypes"][0]["typeId"], 280);
    EXPECT_EQ(res["to"][0]["associationTypes"][0]["category"], "HUBSPOT_DEFINED");
  }
  EXPECT_EQ(b["errors"][0]["category"], "OBJECT_NOT_FOUND");
}

TEST_F(PortalApi, AssociationCreateAnswers201AndDefaultAssociate200) {
  const auto ids = CompanyIds(2);
  Reply t = client().Post("/crm/v3/objects/tasks",
                          {{"properties", {{"hs_timestamp", "2026-02-01T00:00:00Z"}}}});
  ASSERT_EQ(t.status, 201);
  const std::string task = t.json()["id"];
  Reply c = client().Post(
      "/crm/v4/associations/tasks/companies/batch/create",
      {{"inputs", json::array({{{"from", {{"id", task}}}, {"to", {{"id", ids[0]}}},
                                {"types", json::array({{{"associationCategory", "HUBSPOT_DEFINED"},
                                                        {"associationTypeId", 192}}})}}})}});
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.json()["results"][0]["fromObjectTypeId"], "0-27");
  EXPECT_EQ(c.json()["results"][0]["toObjectTypeId"], "0-2");
  Reply d = client().Post("/crm/v4/associations/tasks/companies/batch/associate/default",
                          {{"inputs", json::array({{{"from", {{"id", task}}}, {"to", {{"id", ids[1]}}}}})}});
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json()["results"][0]["associationSpec"]["associationTypeId"], 192);
  Reply read = client().Post("/crm/v4/associations/tasks/companies/batch/read",
                             {{"inputs", json::array({{{"id", task}}})}});
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.json()["results"][0]["to"].size(), 2u);
}

// Integers read from request bodies through IntMember: a float that is no whole int (1e300,
// 1.5) is a 400 and never converted (nlohmann's value(key, int) would convert it with undefined
// behaviour, as libFuzzer found for the search limit).
TEST_F(PortalApi, IntegersInRequestBodiesThatAreNoWholeIntsAre400s) {
  const auto ids = CompanyIds(1);
  Reply t = client().Post("/crm/v3/objects/tasks",
                          {{"properties", {{"hs_timestamp", "2026-02-01T00:00:00Z"}}}});
  ASSERT_EQ(t.status, 201);
  const std::string task = t.json()["id"];
  for (const char* type_id : {"1e300", "192.5", "\"x\""}) {
    const std::string body = R"({"inputs":[{"from":{"id":")" + task + R"("},"to":{"id":")" +
                             ids[0] + R"("},"types":[{"associationCategory":"HUBSPOT_DEFINED",)" +
                             R"("associationTypeId":)" + type_id + "}]}]}";
    ExpectErrorBody(
        client().Call("POST", "/crm/v4/associations/tasks/companies/batch/create", body), 400,
        "VALIDATION_ERROR");
  }
  ExpectErrorBody(client().Call("POST", "/_sandbox/companies", R"({"count":1e300})"), 400,
                  "VALIDATION_ERROR");
  ExpectErrorBody(client().Call("POST", "/crm/v3/properties/companies",
                                R"({"name":"kam_x","label":"X","type":"string",)"
                                R"("fieldType":"text","groupName":"companyinformation",)"
                                R"("displayOrder":-1e300})"),
                  400, "VALIDATION_ERROR");
  // A whole float is that integer.
  Reply ok = client().Call(
      "POST", "/crm/v4/associations/tasks/companies/batch/create",
      R"({"inputs":[{"from":{"id":")" + task + R"("},"to":{"id":")" + ids[0] +
          R"("},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":192.0}]}]})");
  EXPECT_EQ(ok.status, 201) << ok.body;
}

TEST_F(PortalApi, AssociationBatchReadPagesPerRecordPastFiveHundredTargets) {
  const std::string company = CompanyIds(1)[0];
  for (int b = 0; b < 6; ++b) {
    json inputs = json::array();
    for (int i = 0; i < 100; ++i) {
      inputs.push_back(
          {{"properties", {{"hs_timestamp", "2026-02-01T00:00:00Z"}}},
           {"associations",
            json::array({{{"to", {{"id", company}}},
                          {"types", json::array({{{"associationCategory", "HUBSPOT_DEFINED"},
                                                  {"associationTypeId", 192}}})}}})}});
    }
    ASSERT_EQ(client().Post("/crm/v3/objects/tasks/batch/create", {{"inputs", inputs}}).status, 201);
  }
  std::set<std::string> targets;
  std::string after;
  int calls = 0;
  do {
    json input = {{"id", company}};
    if (!after.empty()) input["after"] = after;
    Reply r = client().Post("/crm/v4/associations/companies/tasks/batch/read",
                            {{"inputs", json::array({input})}});
    ASSERT_EQ(r.status, 200) << r.body;
    const json& result = r.json()["results"][0];
    EXPECT_LE(result["to"].size(), 500u);
    for (const auto& t : result["to"]) targets.insert(t["toObjectId"]);
    after = result.contains("paging") ? result["paging"]["next"]["after"].get<std::string>() : "";
    ASSERT_LT(++calls, 5);
  } while (!after.empty());
  EXPECT_EQ(calls, 2);
  EXPECT_GE(targets.size(), 600u);
}

TEST_F(PortalApi, AssociationBatchReadGroupsTheTypesOfATargetAndLeavesOutArchivedTargets) {
  const std::string company = CompanyIds(1)[0];
  std::vector<std::string> contacts;
  for (int i = 0; i < 3; ++i) {
    // Default (279) and primary (1) contact-to-company types on the same pair.
    Reply c = client().Post(
        "/crm/v3/objects/contacts",
        {{"properties", {{"email", "grouped" + std::to_string(i) + "@example.com"}}},
         {"associations",
          json::array({{{"to", {{"id", company}}},
                        {"types", json::array({{{"associationCategory", "HUBSPOT_DEFINED"},
                                                {"associationTypeId", 279}},
                                               {{"associationCategory", "HUBSPOT_DEFINED"},
                                                {"associationTypeId", 1}}})}}})}});
    ASSERT_EQ(c.status, 201) << c.body;
    contacts.push_back(c.json()["id"]);
  }
  ASSERT_EQ(client().Call("DELETE", "/crm/v3/objects/contacts/" + contacts[1]).status, 204);
  Reply r = client().Post("/crm/v4/associations/companies/contacts/batch/read",
                          {{"inputs", json::array({{{"id", company}}})}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::map<std::string, std::set<int>> types;
  for (const auto& t : r.json()["results"][0]["to"]) {
    for (const auto& a : t["associationTypes"])
      types[t["toObjectId"]].insert(a["typeId"].get<int>());
  }
  EXPECT_EQ(types[contacts[0]], (std::set<int>{2, 280}));
  EXPECT_EQ(types[contacts[2]], (std::set<int>{2, 280}));
  EXPECT_EQ(types.count(contacts[1]), 0u) << "an archived contact is no association";
}

TEST_F(PortalApi, ServesParallelKeepAliveClientsAndCountsEveryRequest) {
  const auto ids = CompanyIds(20);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      TestClient c(server_->port());
      for (int i = 0; i < 25; ++i) {
        json inputs = json::array({{{"id", ids[(t * 5 + i) % ids.size()]}}});
        Reply r = c.Post("/crm/v3/objects/companies/batch/read", {{"inputs", inputs}});
        if (r.status == 200) ++ok;
        Reply w = c.Patch("/crm/v3/objects/companies/" + ids[t], {{"properties", {{"nps", std::to_string(i)}}}});
        if (w.status == 200) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 200);
  const auto counters = server_->counters();
  EXPECT_EQ(counters.by_route.at("POST /crm/v3/objects/companies/batch/read"), 100u);
  EXPECT_EQ(counters.by_route.at("PATCH /crm/v3/objects/companies/{id}"), 100u);
}

TEST_F(PortalApi, OwnersPageAndAcceptATrailingSlash) {
  Reply r = client().Get("/crm/v3/owners/?limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  json b = r.json();
  ASSERT_EQ(b["results"].size(), 2u);  // max(3, 120/400) = 3 owners
  ASSERT_TRUE(b.contains("paging"));
  Reply next = client().Get("/crm/v3/owners?limit=2&after=" + b["paging"]["next"]["after"].get<std::string>());
  ASSERT_EQ(next.json()["results"].size(), 1u);
  EXPECT_FALSE(next.json().contains("paging"));
  const std::string id = b["results"][0]["id"];
  Reply one = client().Get("/crm/v3/owners/" + id);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json()["type"], "PERSON");
  EXPECT_EQ(client().Get("/crm/v3/owners").status, 200);
}

TEST_F(PortalApi, AccountDetailsCarryPortalIdAndTimeZone) {
  Reply r = client().Get("/account-info/v3/details");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.json()["portalId"].is_number());
  EXPECT_TRUE(r.json()["timeZone"].is_string());
  EXPECT_TRUE(r.json()["utcOffsetMilliseconds"].is_number());
}

TEST_F(PortalApi, AdminEditsTasksTouchAndCountersWork) {
  const auto ids = CompanyIds(1);
  Reply e = client().Post("/_sandbox/objects/companies/" + ids[0], {{"properties", {{"nps", "9"}}}});
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.json()["properties"]["nps"], "9");
  Reply t = client().Post("/_sandbox/tasks", {{"companyId", ids[0]},
                                              {"properties", {{"hs_task_subject", "By hand"}}}});
  ASSERT_EQ(t.status, 201) << t.body;
  Reply all = client().Get("/_sandbox/tasks");
  ASSERT_EQ(all.status, 200);
  bool found = false;
  for (const auto& x : all.json()["results"]) {
    if (x["id"] == t.json()["id"]) {
      found = true;
      EXPECT_EQ(x["companyIds"][0], ids[0]);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(client().Call("DELETE", "/_sandbox/tasks/" + t.json()["id"].get<std::string>()).status, 204);
  Reply more = client().Post("/_sandbox/companies", {{"count", 30}});
  ASSERT_EQ(more.status, 201);
  Reply s = client().Call("POST", "/crm/v3/objects/companies/search", "{}");
  EXPECT_EQ(s.json()["total"], 150);
  Reply touch = client().Post("/_sandbox/touch", {{"type", "companies"}, {"timestamp", 1767225600000}});
  EXPECT_EQ(touch.json()["updated"], 150);
  Reply c = client().Get("/_sandbox/counters");
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.json()["by_route"]["GET /crm/v3/objects/companies"], 1);
  EXPECT_EQ(c.json()["by_route"]["POST /crm/v3/objects/companies/search"], 1);
  EXPECT_EQ(c.json()["by_status"]["200"], 2);
  ASSERT_EQ(client().Post("/_sandbox/reset", json::object()).status, 200);
  Reply after = client().Call("POST", "/crm/v3/objects/companies/search", "{}");
  EXPECT_EQ(after.json()["total"], 120);
}

// Everything the demo data promises, read through the API.
TEST(SandboxSeed, IsDeterministicForASeedAndHasAParetoRevenueSpread) {
  auto dump = [](uint64_t seed) {
    SandboxOptions o = SmallPortal(300);
    o.seed = seed;
    auto s = SandboxServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.error;
    TestClient c(s.server->port());
    std::string all;
    std::vector<double> revenue;
    std::string after;
    while (true) {
      Reply r = c.Get("/crm/v3/objects/companies?limit=100&properties=name,annualrevenue,"
                      "hubspot_owner_id,gross_margin_pct,nps,industry,country" +
                      (after.empty() ? "" : "&after=" + after));
      for (const auto& x : r.json()["results"]) {
        all += x.dump();
        revenue.push_back(std::stod(x["properties"]["annualrevenue"].get<std::string>()));
      }
      if (!r.json().contains("paging")) break;
      after = r.json()["paging"]["next"]["after"];
    }
    Reply deals = c.Post("/crm/v3/objects/deals/search",
                         {{"filterGroups", json::array({{{"filters", json::array({{
                              {"propertyName", "dealstage"}, {"operator", "EQ"},
                              {"value", "closedwon"}}})}}})}});
    Reply open = c.Post("/crm/v3/objects/deals/search",
                        {{"filterGroups", json::array({{{"filters", json::array({{
                             {"propertyName", "hs_is_closed"}, {"operator", "EQ"},
                             {"value", "false"}}})}}})}});
    Reply execs = c.Post("/crm/v3/objects/contacts/search",
                         {{"filterGroups", json::array({{{"filters", json::array({{
                              {"propertyName", "jobtitle"}, {"operator", "IN"},
                              {"values", json::array({"ceo", "cfo", "vp sales"})}}})}}})}});
    Reply meetings = c.Call("POST", "/crm/v3/objects/meetings/search", "{}");
    EXPECT_GT(deals.json()["total"].get<int>(), 100);
    EXPECT_GT(open.json()["total"].get<int>(), 30);
    EXPECT_GT(execs.json()["total"].get<int>(), 10);
    EXPECT_GT(meetings.json()["total"].get<int>(), 100);
    s.server->Stop();
    return std::make_pair(all, revenue);
  };
  auto [a, revenue] = dump(5);
  auto [b, unused] = dump(5);
  auto [c, other] = dump(6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::sort(revenue.rbegin(), revenue.rend());
  const double total = std::accumulate(revenue.begin(), revenue.end(), 0.0);
  const double top = std::accumulate(revenue.begin(), revenue.begin() + revenue.size() / 5, 0.0);
  EXPECT_GT(top / total, 0.6) << "the top fifth should carry most of the revenue";
}

TEST(SandboxDatabase, AFileDatabaseKeepsItsStateAcrossRestarts) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("kam-sandbox-db-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  SandboxOptions o = SmallPortal(25);
  o.db_path = (dir / "portal.db").string();
  std::string id;
  {
    auto s = SandboxServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.error;
    TestClient c(s.server->port());
    Reply r = c.Post("/crm/v3/objects/companies", {{"properties", {{"name", "Persisted"}}}});
    ASSERT_EQ(r.status, 201);
    id = r.json()["id"];
    s.server->Stop();
  }
  {
    o.accounts = 999;  // ignored: an existing portal is reused, not re-seeded
    auto s = SandboxServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.error;
    TestClient c(s.server->port());
    Reply r = c.Get("/crm/v3/objects/companies/" + id);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["properties"]["name"], "Persisted");
    EXPECT_EQ(c.Call("POST", "/crm/v3/objects/companies/search", "{}").json()["total"], 26);
    Reply n = c.Post("/crm/v3/objects/companies", {{"properties", {{"name", "Next"}}}});
    EXPECT_GT(std::stoll(n.json()["id"].get<std::string>()), std::stoll(id));
    s.server->Stop();
  }
  std::filesystem::remove_all(dir);
}

TEST(SandboxSeed, SeedsFiveThousandCompaniesQuickly) {
  SandboxOptions o = SmallPortal(5000);
  const auto start = std::chrono::steady_clock::now();
  auto s = SandboxServer::Start(o);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(s.ok()) << s.error;
  TestClient c(s.server->port());
  Reply r = c.Call("POST", "/crm/v3/objects/companies/search", "{}");
  EXPECT_EQ(r.json()["total"], 5000);
  // Generous bound for debug/sanitizer builds; release builds take a fraction of this.
  EXPECT_LT(took, std::chrono::seconds(20));
  std::cout << "seeded 5000 companies in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  s.server->Stop();
}

}  // namespace
}  // namespace kam::sandbox::testing
