// The engine's CRM port for Salesforce (plugin/src/engine/crm_salesforce.cc) and the sync
// engine with "crm": "salesforce", against `kam sandbox serve --crm salesforce` in-process on
// 127.0.0.1 (free port): every port method, errors mapped to the port's CrmError (allocation
// spent -> rate limited, refused token -> unauthenticated, both stopping the run), provision /
// sync / re-sync without writes / status, faults retried with tasks still exactly once, and the
// example rule file scoring the HubSpot and the Salesforce sandbox of one seed alike.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "config.h"
#include "crm.h"
#include "demo.h"
#include "kam/http/client.h"
#include "kam/http/encoding.h"
#include "kam/sandbox/sandbox_server.h"
#include "kam/store/store.h"
#include "operation.h"
#include "run_context.h"
#include "sync_engine.h"

namespace kam::engine {
namespace {

using Json = nlohmann::json;

// 2026-12-03T00:00:00Z: seeded data is the same on every day the test runs.
constexpr int64_t kBaseTimeMs = 1796256000000;

class QuietHost : public Host {
 public:
  void Log(int32_t level, std::string_view message) override {
    if (std::getenv("KAM_TEST_VERBOSE")) {
      std::fprintf(stderr, "[%d] %.*s\n", level, static_cast<int>(message.size()), message.data());
    }
  }
  void Progress(std::string_view, uint64_t, uint64_t) override {}
  std::optional<std::string> GetSecret(std::string_view name) override { return Secret(name); }
  bool IsCancelled() override { return false; }
  void AddSecret(std::string_view secret) override { secrets.emplace_back(secret); }
  std::vector<std::string> secrets;  // what the add-in asked the host to redact

  static std::optional<std::string> Secret(std::string_view name) {
    if (name == "KAM_SALESFORCE_CLIENT_SECRET") return "sandbox-secret";
    if (name == "KAM_SALESFORCE_TOKEN" || name == "KAM_HUBSPOT_TOKEN") return "sandbox-token";
    return std::nullopt;
  }
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("kam-sf-engine-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::unique_ptr<sandbox::SandboxServer> StartSandbox(const std::string& crm, int accounts,
                                                     std::string faults = "",
                                                     int64_t daily_limit = 0) {
  sandbox::SandboxOptions o;
  o.crm = crm;
  o.accounts = accounts;
  o.seed = 11;
  o.base_time_ms = kBaseTimeMs;
  o.search_per_second = 0;
  o.faults = std::move(faults);
  o.daily_limit = daily_limit;
  auto started = sandbox::SandboxServer::Start(o);
  if (!started.ok()) ADD_FAILURE() << started.error;
  return std::move(started.server);
}

// The configuration an admin writes for the sandbox: client credentials against its token
// endpoint (quick retries for the tests).
Json SalesforceConfig(const std::string& url, const std::filesystem::path& dir) {
  return {{"crm", "salesforce"},
          {"salesforce",
           {{"login_url", url},
            {"auth", {{"flow", "client_credentials"}, {"client_id", "kam-sandbox-client"}}},
            {"retry", {{"max_attempts", 6}, {"initial_delay_ms", 1}, {"max_delay_ms", 20}}}}},
          {"rules", KAM_EXAMPLE_RULES_FILE},
          {"state", (dir / "sf-state.db").string()}};
}

std::unique_ptr<Crm> MakePort(const Json& config, Host& host) {
  auto crm = MakeCrm(ParseEngineConfig(config), host, &QuietHost::Secret);
  EXPECT_TRUE(crm.ok()) << crm.status().message();
  return crm.ok() ? std::move(crm.value()) : nullptr;
}

// The sandbox as a person's tools see it: SOQL and the admin API with the static token.
class SfReader {
 public:
  explicit SfReader(std::string url) : url_(std::move(url)) {
    http::ClientOptions o;
    o.base_url = url_;
    o.rate_limit.enabled = false;
    o.retry.max_attempts = 1;
    auto c = http::Client::Create(o);
    EXPECT_TRUE(c.ok());
    client_ = std::move(*c);
  }

  Json Call(http::Method method, const std::string& target, const Json& body = nullptr) {
    http::Request req;
    req.method = method;
    req.target = target;
    req.headers.push_back({"Authorization", "Bearer sandbox-token"});
    if (!body.is_null()) req.body = body.dump();
    auto r = client_->Send(req);
    EXPECT_TRUE(r.ok()) << target << ": " << (r.ok() ? "" : r.error().message);
    if (!r.ok() || r->body.empty()) return Json();
    return Json::parse(r->body, nullptr, false);
  }

  std::vector<Json> Query(const std::string& soql) {
    std::vector<Json> out;
    Json page =
        Call(http::Method::kGet, "/services/data/v67.0/query?q=" + http::PercentEncode(soql));
    for (;;) {
      if (!page.is_object()) break;
      for (auto& r : page["records"]) out.push_back(r);
      if (page.value("done", true)) break;
      page = Call(http::Method::kGet, page["nextRecordsUrl"].get<std::string>());
    }
    return out;
  }

  // Write calls the sandbox answered (collections, single-record writes, Tooling creates).
  uint64_t WriteCalls() {
    Json c = Call(http::Method::kGet, "/_sandbox/counters");
    uint64_t n = 0;
    for (const auto& [route, count] : c["by_route"].items()) {
      if ((route.rfind("PATCH ", 0) == 0 || route.rfind("POST ", 0) == 0 ||
           route.rfind("DELETE ", 0) == 0) &&
          route.find("oauth2") == std::string::npos) {
        n += count.get<uint64_t>();
      }
    }
    return n;
  }

 private:
  std::string url_;
  std::unique_ptr<http::Client> client_;
};

ProvisionSpec ExampleSpec() {
  ProvisionSpec spec;
  auto add = [&](const char* name, const char* type) {
    PropertySpec p;
    p.name = name;
    p.label = name;
    p.type = type;
    if (std::string(name) == "KAM_Tier__c") {
      p.options = {{"strategic", "Strategic key account"},
                   {"key", "Key account"},
                   {"development", "Development account"},
                   {"standard", "Standard account"}};
    }
    spec.properties.push_back(p);
  };
  add("KAM_Score__c", "number");
  add("KAM_Tier__c", "enumeration");
  add("KAM_Breakdown__c", "string");
  add("KAM_Next_Tier_Hint__c", "string");
  add("KAM_Rules_Version__c", "string");
  add("KAM_Scored_At__c", "datetime");
  return spec;
}

TEST(SalesforcePort, ProvisioningCreatesEveryFieldOnceAndReadsItBack) {
  auto sb = StartSandbox("salesforce", 10);
  TempDir dir;
  QuietHost host;
  auto crm = MakePort(SalesforceConfig(sb->url(), dir.path), host);
  ASSERT_TRUE(crm);
  EXPECT_EQ(crm->Name(), "salesforce");
  auto before = crm->VerifyProperties(ExampleSpec());
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_FALSE(before->complete());
  EXPECT_EQ(before->items.front().outcome, ProvisionItem::Outcome::kMissing);

  auto first = crm->Provision(ExampleSpec());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_EQ(first->items.size(), 7u);  // six Account fields, then the task key
  for (const auto& it : first->items) {
    EXPECT_EQ(it.outcome, ProvisionItem::Outcome::kCreated) << it.name << ": " << it.detail;
  }
  EXPECT_EQ(first->items.back().name, "KAM_Task_Key__c");
  EXPECT_EQ(first->items.back().object, CrmObject::kTask);
  EXPECT_TRUE(first->complete());

  auto second = crm->Provision(ExampleSpec());
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  for (const auto& it : second->items) {
    EXPECT_EQ(it.outcome, ProvisionItem::Outcome::kUnchanged) << it.name << ": " << it.detail;
  }
  auto verified = crm->VerifyProperties(ExampleSpec());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->complete());
  EXPECT_EQ(verified->task_key_unique, second->task_key_unique);

  // A field a person created with another type is a conflict, never changed.
  ProvisionSpec other = ExampleSpec();
  other.properties[4].type = "number";  // KAM_Rules_Version__c exists as text
  auto conflict = crm->VerifyProperties(other);
  ASSERT_TRUE(conflict.ok());
  EXPECT_EQ(conflict->items[4].outcome, ProvisionItem::Outcome::kConflict)
      << conflict->items[4].detail;
}

TEST(SalesforcePort, PullsFactsWritesAndTasksWorkThroughThePort) {
  auto sb = StartSandbox("salesforce", 60);
  TempDir dir;
  QuietHost host;
  auto crm = MakePort(SalesforceConfig(sb->url(), dir.path), host);
  ASSERT_TRUE(crm);
  ASSERT_TRUE(crm->Provision(ExampleSpec()).ok());

  auto portal = crm->PortalId();
  ASSERT_TRUE(portal.ok()) << portal.error().ToString();
  EXPECT_EQ(portal->substr(0, 3), "00D");

  PullRequest pr;
  pr.properties = {"AnnualRevenue", "Industry", "KAM_Score__c", "Gross_Margin_Pct__c"};
  std::vector<CrmAccount> accounts;
  int64_t last_cursor = 0;
  auto all = crm->PullAll(pr, [&](const PullPage& page) {
    EXPECT_GE(page.cursor.modified_ms, last_cursor);
    last_cursor = page.cursor.modified_ms;
    for (const auto& a : page.accounts) accounts.push_back(a);
    return CrmStatus();
  });
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(accounts.size(), 60u);
  EXPECT_GT(all->cursor.modified_ms, 0);
  for (const auto& a : accounts) {
    EXPECT_EQ(a.id.substr(0, 3), "001");
    EXPECT_FALSE(a.name.empty());
    EXPECT_EQ(a.owner_id.substr(0, 3), "005");
    EXPECT_GT(a.modified_ms, 0);
    EXPECT_EQ(a.properties.size(), 4u);
    EXPECT_FALSE(a.properties.at("KAM_Score__c").has_value());  // not scored yet
  }

  // Facts: every requested aggregate per account, unknown accounts in `missing`.
  FactsRequest fr;
  for (const auto& a : accounts) fr.account_ids.push_back(a.id);
  fr.account_ids.push_back("001000000000000AAA");
  fr.aggregates = {"deals.won_amount_last_12m", "deals.open_count", "contacts.count",
                   "contacts.exec_sponsor", "meetings.days_since_last"};
  fr.now_ms = kBaseTimeMs + 12 * 3600 * 1000;
  auto facts = crm->ReadFacts(fr);
  ASSERT_TRUE(facts.ok()) << facts.error().ToString();
  EXPECT_EQ(facts->accounts.size(), 60u);
  EXPECT_EQ(facts->missing, std::vector<std::string>{"001000000000000AAA"});
  int with_contacts = 0;
  for (const auto& f : facts->accounts) {
    EXPECT_EQ(f.aggregates.size(), 5u);
    const FactValue& n = f.aggregates.at("contacts.count");
    if (n.kind == FactValue::Kind::kNumber && n.number > 0) with_contacts++;
  }
  EXPECT_GT(with_contacts, 0);

  // Field writes: typed values, one bad record fails alone.
  std::vector<FieldUpdate> ups = {
      {accounts[0].id,
       {{"KAM_Score__c", "812.5"},
        {"KAM_Tier__c", "key"},
        {"KAM_Breakdown__c", "a: 9"},
        {"KAM_Scored_At__c", "2026-12-03T12:00:00.000Z"}}},
      {accounts[1].id, {{"KAM_Score__c", "300"}, {"KAM_Tier__c", "standard"}}},
      {"001000000000000AAA", {{"KAM_Tier__c", "key"}}},  // no such account
  };
  auto written = crm->WriteFields(ups);
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  ASSERT_EQ(written->written.size(), 2u);
  ASSERT_EQ(written->failed.size(), 1u);
  EXPECT_EQ(written->failed[0].id, "001000000000000AAA");
  EXPECT_FALSE(written->failed[0].error.stops_run);
  EXPECT_FALSE(written->failed[0].error.retryable);
  SfReader reader(sb->url());
  auto rows =
      reader.Query("SELECT KAM_Score__c, KAM_Tier__c, KAM_Scored_At__c FROM Account WHERE Id = '" +
                   accounts[0].id + "'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["KAM_Score__c"], 812.5);
  EXPECT_EQ(rows[0]["KAM_Tier__c"], "key");
  EXPECT_EQ(rows[0]["KAM_Scored_At__c"], "2026-12-03T12:00:00.000+0000");
  // The next incremental pull sees the written values as the engine wrote them.
  std::map<std::string, CrmAccount> changed;
  auto inc = crm->PullChanged({all->cursor.modified_ms, all->cursor.id, ""}, pr,
                              [&](const PullPage& page) {
                                for (const auto& a : page.accounts) changed[a.id] = a;
                                return CrmStatus();
                              });
  ASSERT_TRUE(inc.ok()) << inc.error().ToString();
  ASSERT_TRUE(changed.count(accounts[0].id));
  EXPECT_EQ(changed[accounts[0].id].properties["KAM_Score__c"], "812.5");
  // Clearing a field ("" = null).
  auto cleared = crm->WriteFields({{accounts[1].id, {{"KAM_Tier__c", ""}}}});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->written.size(), 1u);
  rows = reader.Query("SELECT KAM_Tier__c FROM Account WHERE Id = '" + accounts[1].id + "'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0]["KAM_Tier__c"].is_null());

  // Tasks exactly once by key, also when the first outcome is "in doubt".
  TaskSpec t;
  t.key = "kam-test-0001";
  t.account_id = accounts[3].id;
  t.owner_id = accounts[3].owner_id;
  t.subject = "Plan a business review with " + accounts[3].name;
  t.body = "Body";
  t.priority = TaskPriority::kHigh;
  t.due_ms = kBaseTimeMs + 14 * 86'400'000LL;
  t.in_doubt = false;
  auto created = crm->WriteTasks({t});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  ASSERT_EQ(created->size(), 1u);
  ASSERT_FALSE((*created)[0].error) << (*created)[0].error->ToString();
  EXPECT_TRUE((*created)[0].created);
  EXPECT_EQ((*created)[0].task_id.substr(0, 3), "00T");
  t.in_doubt = true;
  auto again = crm->WriteTasks({t});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)[0].created);
  EXPECT_EQ((*again)[0].task_id, (*created)[0].task_id);
  auto tasks = reader.Query(
      "SELECT Id, WhatId, OwnerId, Priority, ActivityDate, Status FROM Task "
      "WHERE KAM_Task_Key__c = 'kam-test-0001'");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["WhatId"], accounts[3].id);
  EXPECT_EQ(tasks[0]["OwnerId"], accounts[3].owner_id);
  EXPECT_EQ(tasks[0]["Priority"], "High");
  EXPECT_EQ(tasks[0]["ActivityDate"], "2026-12-17");

  auto found = crm->FindTasks({"kam-test-0001", "kam-no-such-key"});
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, (*created)[0].task_id);
  EXPECT_EQ((*found)[0].status, CrmTaskStatus::kOpen);
  EXPECT_EQ((*found)[0].account_ids, std::vector<std::string>{accounts[3].id});
  EXPECT_EQ((*found)[0].owner_id, accounts[3].owner_id);

  auto done = crm->CompleteTasks({(*created)[0].task_id, "00T000000000000AAA"});
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  ASSERT_EQ(done->written.size(), 1u);
  ASSERT_EQ(done->failed.size(), 1u);
  EXPECT_EQ(done->failed[0].error.code, StatusCode::kNotFound) << done->failed[0].error.ToString();
  found = crm->FindTasks({"kam-test-0001"});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)[0].status, CrmTaskStatus::kCompleted);

  // A task a person made is never completed by the add-in.
  Json mine = reader.Call(http::Method::kPost, "/_sandbox/tasks",
                          {{"accountId", accounts[4].id}, {"fields", {{"Subject", "Mine"}}}});
  ASSERT_TRUE(mine.is_object()) << mine.dump();
  std::string my_id = mine.value("id", mine.value("Id", ""));
  ASSERT_FALSE(my_id.empty()) << mine.dump();
  auto refused = crm->CompleteTasks({my_id});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->failed.size(), 1u);
  auto still = reader.Query("SELECT IsClosed FROM Task WHERE Id = '" + my_id + "'");
  ASSERT_EQ(still.size(), 1u);
  EXPECT_EQ(still[0]["IsClosed"], false);

  // Deletions since a time.
  reader.Call(http::Method::kDelete, "/_sandbox/objects/Account/" + accounts[5].id);
  auto gone = crm->ListArchived(kBaseTimeMs - 86'400'000LL);
  ASSERT_TRUE(gone.ok()) << gone.error().ToString();
  EXPECT_EQ(*gone, std::vector<std::string>{accounts[5].id});

  // The OAuth access token the sandbox issued was handed to the host's redaction.
  EXPECT_TRUE(std::any_of(host.secrets.begin(), host.secrets.end(), [](const std::string& t) {
    return t.rfind("00D", 0) == 0 && t.find('!') != std::string::npos;
  })) << host.secrets.size();

  CrmUsage usage = crm->Usage();
  EXPECT_GT(usage.calls, 10);
  EXPECT_GT(usage.daily_limit, 0);
  EXPECT_GT(usage.quota_left, 0);
}

// A crashed full pull resumes after its last committed page: every page carries its keyset
// position as the paging token; PullAll with that token delivers exactly the accounts after it
// (without overlap), or those plus a few re-read (with it), never fewer; a token the port did
// not make is refused without stopping the run (the engine then starts over).
TEST(SalesforcePort, AFullPullResumesAfterTheLastCommittedPageFromItsToken) {
  auto sb = StartSandbox("salesforce", 650);
  TempDir dir;
  QuietHost host;
  Json config = SalesforceConfig(sb->url(), dir.path);
  config["salesforce"]["page_size"] = 200;
  auto crm = MakePort(config, host);
  ASSERT_TRUE(crm);
  PullRequest pr;
  pr.properties = {"Name"};
  std::vector<std::vector<std::string>> pages;
  std::vector<std::string> tokens;
  auto collect = [](std::vector<std::vector<std::string>>* into, std::vector<std::string>* toks) {
    return [into, toks](const PullPage& page) {
      into->emplace_back();
      for (const auto& a : page.accounts) into->back().push_back(a.id);
      toks->push_back(page.cursor.page_token);
      return CrmStatus();
    };
  };
  auto all = crm->PullAll(pr, collect(&pages, &tokens));
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  EXPECT_FALSE(all->resumed);
  ASSERT_GE(pages.size(), 4u);
  std::set<std::string> distinct(tokens.begin(), tokens.end());
  EXPECT_EQ(distinct.size(), tokens.size());
  EXPECT_EQ(distinct.count(""), 0u);

  // The run crashed after committing page 2: the rest comes exactly once.
  std::set<std::string> rest;
  for (size_t i = 2; i < pages.size(); ++i) rest.insert(pages[i].begin(), pages[i].end());
  pr.overlap_ms = 0;
  pr.resume_token = tokens[1];
  std::vector<std::vector<std::string>> again;
  std::vector<std::string> again_tokens;
  auto resumed = crm->PullAll(pr, collect(&again, &again_tokens));
  ASSERT_TRUE(resumed.ok()) << resumed.error().ToString();
  EXPECT_TRUE(resumed->resumed);
  std::multiset<std::string> got;
  for (const auto& p : again) got.insert(p.begin(), p.end());
  EXPECT_EQ(got.size(), rest.size());
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), rest);
  EXPECT_EQ(resumed->cursor.modified_ms, all->cursor.modified_ms);
  EXPECT_EQ(resumed->cursor.id, all->cursor.id);

  // With the overlap (the default), a few more may come again, none is missing.
  pr.overlap_ms = PullRequest{}.overlap_ms;
  again.clear();
  auto overlapping = crm->PullAll(pr, collect(&again, &again_tokens));
  ASSERT_TRUE(overlapping.ok()) << overlapping.error().ToString();
  std::set<std::string> with_overlap;
  for (const auto& p : again) with_overlap.insert(p.begin(), p.end());
  for (const auto& id : rest) EXPECT_TRUE(with_overlap.count(id)) << id;

  // Not this port's token (another CRM's, or an injection attempt): refused, the run goes on.
  for (const std::string bad :
       {"after=12345", "sf1:1:001' OR Name != '", "sf1::001000000000000", "sf1:12:"}) {
    pr.resume_token = bad;
    int calls = 0;
    auto refused = crm->PullAll(pr, [&](const PullPage&) {
      ++calls;
      return CrmStatus();
    });
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().code, StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(refused.error().stops_run) << bad;
    EXPECT_FALSE(refused.error().retryable) << bad;
    EXPECT_EQ(calls, 0) << bad;
  }
}

// Task Priority is an org's own picklist (CRM_API B8: orgs rename values). With a restricted
// "P1 - Urgent / P2 - Normal / P3 - Low" (default P2), high, medium and low tasks get P1, P2
// and P3 — read from describe, once per port, whether or not VerifyProperties ran first.
TEST(SalesforcePort, TaskPrioritiesComeFromTheOrgsOwnPicklist) {
  auto sb = StartSandbox("salesforce", 12);
  TempDir dir;
  QuietHost host;
  SfReader reader(sb->url());
  reader.Call(http::Method::kPost, "/_sandbox/picklist",
              {{"object", "Task"},
               {"field", "Priority"},
               {"values", {"P1 - Urgent", "P2 - Normal", "P3 - Low"}},
               {"default", "P2 - Normal"}});
  auto setup = MakePort(SalesforceConfig(sb->url(), dir.path), host);
  ASSERT_TRUE(setup);
  ASSERT_TRUE(setup->Provision(ExampleSpec()).ok());
  std::vector<CrmAccount> accounts;
  ASSERT_TRUE(setup
                  ->PullAll({},
                            [&](const PullPage& page) {
                              for (const auto& a : page.accounts) accounts.push_back(a);
                              return CrmStatus();
                            })
                  .ok());
  ASSERT_GE(accounts.size(), 6u);
  auto spec = [&](size_t i, TaskPriority p) {
    TaskSpec t;
    t.key = "kam-prio-" + std::to_string(i);
    t.account_id = accounts[i].id;
    t.owner_id = accounts[i].owner_id;
    t.subject = "Priority test";
    t.priority = p;
    t.due_ms = kBaseTimeMs;
    t.in_doubt = false;
    return t;
  };
  const std::vector<std::pair<TaskPriority, std::string>> want = {
      {TaskPriority::kHigh, "P1 - Urgent"},
      {TaskPriority::kMedium, "P2 - Normal"},
      {TaskPriority::kLow, "P3 - Low"}};
  // A port that verified the fields (the sync's path), and a fresh one that did not.
  auto fresh = MakePort(SalesforceConfig(sb->url(), dir.path), host);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(setup->VerifyProperties(ExampleSpec()).ok());
  for (int round = 0; round < 2; ++round) {
    Crm& crm = round == 0 ? *setup : *fresh;
    std::vector<TaskSpec> specs;
    for (size_t i = 0; i < want.size(); ++i) specs.push_back(spec(round * 3 + i, want[i].first));
    auto r = crm.WriteTasks(specs);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_FALSE((*r)[i].error) << (*r)[i].error->ToString();
      auto rows =
          reader.Query("SELECT Priority FROM Task WHERE KAM_Task_Key__c = '" + specs[i].key + "'");
      ASSERT_EQ(rows.size(), 1u) << specs[i].key;
      EXPECT_EQ(rows[0]["Priority"], want[i].second) << "round " << round;
    }
  }
}

// An org whose Task Status values are its own ("Open", "Working", "Done", "Cancelled"; the
// restricted picklist refuses "Not Started" and "Completed"): new tasks get its default open
// value, auto-close its closing value (read from TaskStatus), and a configured value still wins.
TEST(SalesforcePort, TaskStatusesComeFromTheOrgsTaskStatusValues) {
  auto sb = StartSandbox("salesforce", 12);
  TempDir dir;
  QuietHost host;
  SfReader reader(sb->url());
  reader.Call(http::Method::kPost, "/_sandbox/picklist",
              {{"object", "Task"},
               {"field", "Status"},
               {"values", {"Open", "Working", "Done", "Cancelled"}},
               {"default", "Open"},
               {"closed", {"Done", "Cancelled"}}});
  auto crm = MakePort(SalesforceConfig(sb->url(), dir.path), host);
  ASSERT_TRUE(crm);
  ASSERT_TRUE(crm->Provision(ExampleSpec()).ok());
  std::vector<CrmAccount> accounts;
  ASSERT_TRUE(crm->PullAll({},
                           [&](const PullPage& page) {
                             for (const auto& a : page.accounts) accounts.push_back(a);
                             return CrmStatus();
                           })
                  .ok());
  ASSERT_GE(accounts.size(), 4u);
  auto spec = [&](size_t i) {
    TaskSpec t;
    t.key = "kam-status-" + std::to_string(i);
    t.account_id = accounts[i].id;
    t.owner_id = accounts[i].owner_id;
    t.subject = "Status test";
    t.due_ms = kBaseTimeMs;
    t.in_doubt = false;
    return t;
  };
  auto status_of = [&](const std::string& key) {
    auto rows =
        reader.Query("SELECT Status, IsClosed FROM Task WHERE KAM_Task_Key__c = '" + key + "'");
    EXPECT_EQ(rows.size(), 1u) << key;
    return rows.empty() ? std::string() : rows[0]["Status"].get<std::string>();
  };
  auto created = crm->WriteTasks({spec(0), spec(1)});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  for (const auto& o : *created) ASSERT_FALSE(o.error) << o.error->ToString();
  EXPECT_EQ(status_of("kam-status-0"), "Open");
  EXPECT_EQ(status_of("kam-status-1"), "Open");

  auto done = crm->CompleteTasks({(*created)[0].task_id});
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  ASSERT_TRUE(done->failed.empty()) << done->failed[0].error.ToString();
  EXPECT_EQ(status_of("kam-status-0"), "Done");
  auto found = crm->FindTasks({"kam-status-0", "kam-status-1"});
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  ASSERT_EQ(found->size(), 2u);
  for (const auto& t : *found) {
    EXPECT_EQ(t.status, t.key == "kam-status-0" ? CrmTaskStatus::kCompleted : CrmTaskStatus::kOpen)
        << t.key;
  }

  // The configuration's value wins over the org's (here: the other closing value).
  Json config = SalesforceConfig(sb->url(), dir.path);
  config["salesforce"]["task_status"] = {{"completed", "Cancelled"}};
  auto configured = MakePort(config, host);
  ASSERT_TRUE(configured);
  auto more = configured->WriteTasks({spec(2)});
  ASSERT_TRUE(more.ok()) << more.error().ToString();
  ASSERT_FALSE((*more)[0].error) << (*more)[0].error->ToString();
  EXPECT_EQ(status_of("kam-status-2"), "Open");
  auto cancelled = configured->CompleteTasks({(*created)[1].task_id, (*more)[0].task_id});
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().ToString();
  EXPECT_TRUE(cancelled->failed.empty());
  EXPECT_EQ(status_of("kam-status-1"), "Cancelled");
  EXPECT_EQ(status_of("kam-status-2"), "Cancelled");
  // A task that is already closed is left as it is.
  auto again = configured->CompleteTasks({(*created)[0].task_id});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(status_of("kam-status-0"), "Done");
}

TEST(SalesforcePort, ASpentAllocationStopsTheRunAsRateLimited) {
  auto sb = StartSandbox("salesforce", 5, "", 1000);
  TempDir dir;
  QuietHost host;
  auto crm = MakePort(SalesforceConfig(sb->url(), dir.path), host);
  ASSERT_TRUE(crm);
  SfReader(sb->url()).Call(http::Method::kPost, "/_sandbox/limits", {{"used", 1000}});
  auto r = crm->PullAll({}, [](const PullPage&) { return CrmStatus(); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, StatusCode::kRateLimited) << r.error().ToString();
  EXPECT_TRUE(r.error().stops_run);
  EXPECT_EQ(r.error().ToStatus("pulling").code(), StatusCode::kRateLimited);
}

TEST(SalesforcePort, ARefusedTokenIsUnauthenticatedAndStopsTheRun) {
  auto sb = StartSandbox("salesforce", 5);
  TempDir dir;
  QuietHost host;
  Json cfg = {{"crm", "salesforce"},
              {"salesforce", {{"instance_url", sb->url()}, {"token_secret", "KAM_WRONG_TOKEN"}}}};
  auto crm = MakeCrm(ParseEngineConfig(cfg), host, [](std::string_view name) {
    return name == "KAM_WRONG_TOKEN" ? std::optional<std::string>("not-a-token") : std::nullopt;
  });
  ASSERT_TRUE(crm.ok()) << crm.status().message();
  auto r = (*crm)->PortalId();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, StatusCode::kUnauthenticated) << r.error().ToString();
  EXPECT_TRUE(r.error().stops_run);
  // The right token: the org id comes from the Organization record (no identity URL here).
  auto good = MakeCrm(
      ParseEngineConfig(Json{{"crm", "salesforce"}, {"salesforce", {{"instance_url", sb->url()}}}}),
      host, &QuietHost::Secret);
  ASSERT_TRUE(good.ok()) << good.status().message();
  auto org = (*good)->PortalId();
  ASSERT_TRUE(org.ok()) << org.error().ToString();
  EXPECT_EQ(org->substr(0, 3), "00D");
  // No secret at all: refused when the port is made, naming the secret.
  auto none = MakeCrm(ParseEngineConfig(SalesforceConfig(sb->url(), dir.path)), host,
                      [](std::string_view) { return std::optional<std::string>(); });
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(none.status().message().find("KAM_SALESFORCE_CLIENT_SECRET"), std::string::npos);
}

// ---- the sync engine ------------------------------------------------------------------------

SyncEngineOptions EngineOptionsFor(const Json& config) {
  SyncEngineOptions o;
  o.config = ParseEngineConfig(config);
  o.get_secret = &QuietHost::Secret;
  return o;
}

TEST(SalesforceSync, ProvisionSyncAndAnImmediateSecondSyncWithoutWrites) {
  constexpr int kAccounts = 80;
  auto sb = StartSandbox("salesforce", kAccounts);
  TempDir dir;
  QuietHost host;
  SyncEngine engine(host, EngineOptionsFor(SalesforceConfig(sb->url(), dir.path)));
  Json p = engine.Provision();
  EXPECT_NE(p.dump().find("KAM_Task_Key__c"), std::string::npos) << p.dump(2);

  Json s = engine.Sync(false);
  EXPECT_EQ(s["pulled"], kAccounts) << s.dump(2);
  EXPECT_EQ(s["evaluated"], kAccounts);
  EXPECT_EQ(s["accounts_written"], kAccounts);
  EXPECT_EQ(s["write_errors"], 0) << s.dump(2);
  EXPECT_GT(s["tasks_created"].get<int>(), 0);
  // The minimum counts Salesforce's sizes (one SOQL page of up to 2,000 accounts, the token
  // request), so it is a lower bound of what the run spent, not HubSpot's pages of 100.
  EXPECT_EQ(s["minimum_calls_detail"]["token"], 1) << s["minimum_calls_detail"].dump();
  EXPECT_EQ(s["minimum_calls_detail"]["company_pages"], 1);
  EXPECT_GE(s["api_calls"].get<int64_t>(), s["minimum_calls"].get<int64_t>()) << s.dump(2);
  // Beyond it only the check before the first write (describes of Account and Task, which
  // also tell the task-key mode) and the org's Task Status values: no second describe of Task.
  EXPECT_LE(s["api_calls"].get<int64_t>(), s["minimum_calls"].get<int64_t>() + 3) << s.dump(2);

  SfReader reader(sb->url());
  auto rows = reader.Query("SELECT Id, KAM_Score__c, KAM_Tier__c, KAM_Scored_At__c FROM Account");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kAccounts));
  for (const auto& r : rows) {
    EXPECT_TRUE(r["KAM_Score__c"].is_number()) << r.dump();
    EXPECT_TRUE(r["KAM_Tier__c"].is_string()) << r.dump();
    EXPECT_TRUE(r["KAM_Scored_At__c"].is_string()) << r.dump();
  }
  auto tasks =
      reader.Query("SELECT Id, KAM_Task_Key__c, WhatId FROM Task WHERE KAM_Task_Key__c != null");
  std::map<std::string, int> per_key;
  for (const auto& t : tasks) per_key[t["KAM_Task_Key__c"].get<std::string>()]++;
  EXPECT_EQ(per_key.size(), s["tasks_created"].get<size_t>());
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << key;

  uint64_t writes = reader.WriteCalls();
  Json again = engine.Sync(false);
  EXPECT_EQ(again["fields_written"], 0) << again.dump(2);
  EXPECT_EQ(again["tasks_created"], 0);
  EXPECT_EQ(again["conflicts"], 0);
  EXPECT_EQ(reader.WriteCalls(), writes);

  Json st = engine.Status();
  EXPECT_EQ(st["accounts"], kAccounts) << st.dump(2);
  EXPECT_EQ(st["outbox"]["pending"], 0);
}

// The echo of the add-in's own writes: after a sync wrote every account, their SystemModstamp
// moved, so the next incremental pull reads them again. That costs no call (the pull's one page
// is read anyway to learn that nothing else changed; an echo of N accounts is ceil(N / 2,000)
// pages) and no write (each re-read value equals what was written, after the field's rounding).
// Judged by the sandbox's write counter and by a third sync with no echo left (overlap 0): it
// makes exactly as many calls as the echo's re-sync.
TEST(SalesforceSync, TheEchoOfItsOwnWritesCostsNoCallAndNoWrite) {
  constexpr int kAccounts = 60;
  auto sb = StartSandbox("salesforce", kAccounts);
  TempDir dir;
  QuietHost host;
  Json config = SalesforceConfig(sb->url(), dir.path);
  config["overlap_minutes"] = 0;
  SyncEngine engine(host, EngineOptionsFor(config));
  engine.Provision();
  Json first = engine.Sync(false);
  ASSERT_EQ(first["accounts_written"], kAccounts) << first.dump(2);
  SfReader reader(sb->url());
  const uint64_t writes = reader.WriteCalls();

  Json echo = engine.Sync(false);
  EXPECT_FALSE(echo["full_pull"].get<bool>());
  EXPECT_EQ(echo["pulled"], kAccounts) << "every written account comes back once";
  EXPECT_EQ(echo["pages"], 1);
  EXPECT_EQ(echo["fields_written"], 0) << echo.dump(2);
  EXPECT_EQ(echo["write_batches"], 0);
  EXPECT_EQ(echo["tasks_created"], 0);
  EXPECT_EQ(echo["conflicts"], 0);
  EXPECT_EQ(reader.WriteCalls(), writes);

  Json quiet = engine.Sync(false);
  EXPECT_EQ(quiet["pulled"], 0) << quiet.dump(2);
  EXPECT_EQ(quiet["fields_written"], 0);
  EXPECT_EQ(reader.WriteCalls(), writes);
  EXPECT_EQ(echo["api_calls"], quiet["api_calls"]) << echo["text"] << "\n" << quiet["text"];
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Incremental facts ("facts": "changed", the default), judged from the org: after people's
// edits — an open opportunity won, an executive contact added, a meeting logged, an
// opportunity moved to another account, a won one deleted — an incremental sync reads only
// the changed records (SystemModstamp keyset, deletions by queryAll) and no account's links,
// and a fresh state doing a full evaluation ("facts": "all", the SOQL aggregates) then finds
// nothing to write: the org holds the same KAM_ fields. The aggregates of the two states are
// equal account by account. A re-sync with nothing changed then reads one page per kind.
class SalesforceFacts : public ::testing::Test {
 protected:
  static constexpr int kAccounts = 120;

  void SetUp() override {
    sb_ = StartSandbox("salesforce", kAccounts);
    config_ = SalesforceConfig(sb_->url(), dir_.path);
    config_["facts"] = "changed";
    engine_ = std::make_unique<SyncEngine>(host_, EngineOptionsFor(config_));
    engine_->Provision();
    reader_ = std::make_unique<SfReader>(sb_->url());
  }

  Json Sync() { return engine_->Sync(false); }

  // A fresh state reading every fact as a whole: its dry run must find nothing to write.
  // Returns its aggregates by account.
  std::map<std::string, Json> FullEvaluation() {
    TempDir fresh;
    Json c = SalesforceConfig(sb_->url(), fresh.path);
    c["facts"] = "all";
    SyncEngine full(host_, EngineOptionsFor(c));
    Json d = full.DryRun(false);
    EXPECT_EQ(d["accounts_to_write"], 0) << d["text"];
    return Aggregates(c);
  }

  std::map<std::string, Json> Aggregates(const Json& config) {
    std::map<std::string, Json> out;
    auto st = store::Store::Open(config["state"].get<std::string>());
    st->ForEachAccount(
        [&](const store::AccountRow& r) { out[r.id] = Json::parse(r.aggregates_json); }, false);
    return out;
  }

  void ExpectAgreesWithAFreshFullEvaluation(const std::string& when) {
    SCOPED_TRACE(when);
    auto full = FullEvaluation();
    auto mine = Aggregates(config_);
    ASSERT_EQ(mine.size(), full.size());
    for (const auto& [id, agg] : full) {
      ASSERT_TRUE(mine.count(id)) << id;
      ASSERT_EQ(mine[id].size(), agg.size()) << id << " " << mine[id].dump();
      for (const auto& [k, v] : agg.items()) {
        const Json& m = mine[id][k];
        if (v.is_number()) {
          ASSERT_TRUE(m.is_number()) << id << " " << k;
          EXPECT_NEAR(m.get<double>(), v.get<double>(), 1e-6) << id << " " << k;
        } else {
          EXPECT_EQ(m, v) << id << " " << k;
        }
      }
    }
  }

  std::vector<Json> Query(const std::string& soql) { return reader_->Query(soql); }
  Json Create(const std::string& sobject, const Json& fields) {
    return reader_->Call(http::Method::kPost, "/services/data/v67.0/sobjects/" + sobject, fields);
  }
  void Update(const std::string& sobject, const std::string& id, const Json& fields) {
    reader_->Call(http::Method::kPatch, "/services/data/v67.0/sobjects/" + sobject + "/" + id,
                  fields);
  }
  void Delete(const std::string& sobject, const std::string& id) {
    reader_->Call(http::Method::kDelete, "/services/data/v67.0/sobjects/" + sobject + "/" + id);
  }

  TempDir dir_;
  QuietHost host_;
  std::unique_ptr<sandbox::SandboxServer> sb_;
  Json config_;
  std::unique_ptr<SyncEngine> engine_;
  std::unique_ptr<SfReader> reader_;
};

TEST_F(SalesforceFacts, IncrementalSyncsWithEditsAgreeWithAFreshFullEvaluation) {
  Json first = Sync();
  EXPECT_TRUE(first["facts_full"].get<bool>()) << first.dump(2);
  EXPECT_EQ(first["write_errors"], 0);
  ExpectAgreesWithAFreshFullEvaluation("after the first sync");

  std::mt19937_64 rng(20261204);
  auto accounts = Query("SELECT Id FROM Account ORDER BY Id");
  ASSERT_EQ(accounts.size(), static_cast<size_t>(kAccounts));
  auto pick = [&] { return accounts[rng() % accounts.size()]["Id"].get<std::string>(); };
  const std::string today = IsoUtc(NowMs()).substr(0, 10);

  // An open opportunity won today.
  auto open = Query("SELECT Id, AccountId FROM Opportunity WHERE IsClosed = false ORDER BY Id");
  ASSERT_GE(open.size(), 3u);
  const size_t won_at = rng() % open.size();
  const Json won = open[won_at];
  Update("Opportunity", won["Id"], {{"StageName", "Closed Won"}, {"Amount", 2500000},
                                    {"CloseDate", today}});
  // An executive contact added.
  const std::string contact_account = pick();
  Json contact = Create("Contact", {{"LastName", "Newman"},
                                    {"Title", "Chief Executive Officer"},
                                    {"AccountId", contact_account}});
  ASSERT_TRUE(contact.contains("id")) << contact.dump();
  // A meeting logged ten minutes ago.
  const std::string meeting_account = pick();
  Json event = Create("Event", {{"Subject", "Other"},
                                {"WhatId", meeting_account},
                                {"StartDateTime", IsoUtc(NowMs() - 600'000)},
                                {"DurationInMinutes", 60}});
  ASSERT_TRUE(event.contains("id")) << event.dump();
  // Another open opportunity moved to another account.
  const Json moved = open[(won_at + 1) % open.size()];
  std::string to = pick();
  while (to == moved["AccountId"]) to = pick();
  Update("Opportunity", moved["Id"], {{"AccountId", to}});
  // An opportunity won in the last 12 months (before today) deleted.
  const std::string year_ago = IsoUtc(NowMs() - 365 * 86'400'000LL).substr(0, 10);
  std::string deleted;
  for (const auto& o : Query("SELECT Id, CloseDate FROM Opportunity WHERE IsWon = true")) {
    const std::string close = o.value("CloseDate", "");
    if (close > year_ago && close < today) deleted = o["Id"];
  }
  ASSERT_FALSE(deleted.empty());
  Delete("Opportunity", deleted);

  Json second = Sync();
  EXPECT_FALSE(second["facts_full"].get<bool>()) << second.dump(2);
  EXPECT_EQ(second["write_errors"], 0);
  EXPECT_GE(second["fact_records"].get<int64_t>(), 4) << second.dump(2);
  // No account's links were read: a link is the record's own AccountId.
  EXPECT_EQ(second["fact_link_reads"], 0) << second.dump(2);
  EXPECT_GE(second["accounts_written"].get<int64_t>(), 1) << second.dump(2);
  ExpectAgreesWithAFreshFullEvaluation("after the edits");

  // Nothing changed since: no write, and a handful of calls (no facts read per account).
  const uint64_t writes = reader_->WriteCalls();
  Json quiet = Sync();
  EXPECT_EQ(quiet["fields_written"], 0) << quiet.dump(2);
  EXPECT_EQ(quiet["tasks_created"], 0);
  EXPECT_EQ(reader_->WriteCalls(), writes);
  EXPECT_EQ(quiet["fact_link_reads"], 0);
  EXPECT_LE(quiet["api_calls"].get<int64_t>(), 12) << quiet["text"];
}

// The host cancels the run once `pull_pages` pull pages are stored (as a crash after them).
class CancellingHost : public QuietHost {
 public:
  void Progress(std::string_view phase, uint64_t, uint64_t) override {
    if (phase == "pull" && ++pages_ == pull_pages) cancelled_ = true;
  }
  bool IsCancelled() override { return cancelled_; }
  int pull_pages = 0;

 private:
  int pages_ = 0;
  bool cancelled_ = false;
};

// A full pull stopped after two of its four pages (650 accounts, pages of 200) goes on after
// the last stored page on the next run, through the engine (pull.cc) and the port's token:
// every account scored, none taken for deleted, and a re-sync writes nothing.
TEST(SalesforceSync, AnInterruptedFullPullGoesOnAfterItsLastStoredPage) {
  constexpr int kAccounts = 650;
  auto sb = StartSandbox("salesforce", kAccounts);
  TempDir dir;
  Json config = SalesforceConfig(sb->url(), dir.path);
  config["salesforce"]["page_size"] = 200;
  {
    QuietHost host;
    SyncEngine(host, EngineOptionsFor(config)).Provision();
  }
  {
    CancellingHost host;
    host.pull_pages = 2;
    try {
      SyncEngine(host, EngineOptionsFor(config)).Sync(false);
      FAIL() << "expected the sync to be cancelled";
    } catch (const OpError& e) {
      ASSERT_EQ(e.code(), StatusCode::kCancelled) << e.what();
    }
  }
  QuietHost host;
  SyncEngine engine(host, EngineOptionsFor(config));
  Json s = engine.Sync(false);
  EXPECT_EQ(s["full_pull"], true) << s.dump(2);
  EXPECT_EQ(s["full_pull_resumed"], true) << s.dump(2);
  EXPECT_LE(s["pages"].get<int>(), 3) << "the stored pages are not read again (but the overlap)";
  EXPECT_EQ(s["pulled"], kAccounts);
  EXPECT_EQ(s["archived"], 0) << "the accounts of the earlier pages are not taken for deleted";
  EXPECT_EQ(s["write_errors"], 0);
  EXPECT_NE(s["text"].get<std::string>().find("accounts"), std::string::npos) << s["text"];

  SfReader reader(sb->url());
  auto rows = reader.Query("SELECT Id, KAM_Score__c FROM Account");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kAccounts));
  for (const auto& r : rows) EXPECT_TRUE(r["KAM_Score__c"].is_number()) << r.dump();
  uint64_t writes = reader.WriteCalls();
  Json again = engine.Sync(false);
  EXPECT_EQ(again["full_pull"], false) << again.dump(2);
  EXPECT_EQ(again["fields_written"], 0) << again.dump(2);
  EXPECT_EQ(reader.WriteCalls(), writes);
}

// KAM_Score__c is Number(5,1): scores with finer precision (a criterion weighted 20.25 gives
// scores like 615.75) are rounded to the field's scale before the diff and the write, so the
// org holds what the add-in compared and an immediate re-sync writes nothing.
TEST(SalesforceSync, ScoresFinerThanTheFieldsScaleAreRoundedSoAReSyncWritesNothing) {
  constexpr int kAccounts = 60;
  auto sb = StartSandbox("salesforce", kAccounts);
  TempDir dir;
  QuietHost host;
  std::ifstream in(KAM_EXAMPLE_RULES_FILE);
  Json rules = Json::parse(in);
  rules["criteria"][0]["weight"] = 20.25;
  rules.erase("tests");  // its expected scores are the example's
  SyncEngineOptions o = EngineOptionsFor(SalesforceConfig(sb->url(), dir.path));
  o.rules_text = rules.dump();
  SyncEngine engine(host, std::move(o));
  engine.Provision();
  Json s = engine.Sync(false);
  EXPECT_EQ(s["accounts_written"], kAccounts) << s.dump(2);
  EXPECT_EQ(s["write_errors"], 0) << s.dump(2);

  SfReader reader(sb->url());
  auto rows = reader.Query("SELECT Id, KAM_Score__c FROM Account");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kAccounts));
  int fractional = 0;
  for (const auto& r : rows) {
    ASSERT_TRUE(r["KAM_Score__c"].is_number()) << r.dump();
    const double v = r["KAM_Score__c"].get<double>();
    EXPECT_NEAR(v * 10, std::round(v * 10), 1e-6) << r.dump();
    fractional += std::fabs(v - std::round(v)) > 1e-9;
  }
  EXPECT_GT(fractional, 0) << "no score had decimals: the test tests less than it says";

  uint64_t writes = reader.WriteCalls();
  Json again = engine.Sync(false);
  EXPECT_EQ(again["fields_written"], 0) << again.dump(2);
  EXPECT_EQ(again["conflicts"], 0) << again.dump(2);
  EXPECT_EQ(reader.WriteCalls(), writes);
}

TEST(SalesforceSync, APersonsEditIsKeptAndADeletedAccountIsArchived) {
  auto sb = StartSandbox("salesforce", 40);
  TempDir dir;
  QuietHost host;
  SyncEngine engine(host, EngineOptionsFor(SalesforceConfig(sb->url(), dir.path)));
  engine.Provision();
  engine.Sync(false);
  SfReader reader(sb->url());
  auto rows = reader.Query("SELECT Id, KAM_Tier__c FROM Account ORDER BY Id");
  ASSERT_GE(rows.size(), 3u);
  std::string id = rows[1]["Id"];
  std::string ours = rows[1]["KAM_Tier__c"];
  std::string theirs = ours == "strategic" ? "development" : "strategic";
  reader.Call(http::Method::kPatch, "/_sandbox/objects/Account/" + id,
              {{"fields", {{"KAM_Tier__c", theirs}}}});
  reader.Call(http::Method::kDelete,
              "/_sandbox/objects/Account/" + rows[2]["Id"].get<std::string>());
  Json s = engine.Sync(false);
  EXPECT_EQ(s["conflicts"], 1) << s.dump(2);
  EXPECT_EQ(s["archived"], 1);
  EXPECT_EQ(s["fields_written"], 0);
  auto after = reader.Query("SELECT KAM_Tier__c FROM Account WHERE Id = '" + id + "'");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["KAM_Tier__c"], theirs);
}

TEST(SalesforceSync, InjectedFaultsAreRetriedAndTasksStayExactlyOnce) {
  constexpr int kAccounts = 60;
  auto sb =
      StartSandbox("salesforce", kAccounts, "500=0.04,503=0.04,drop=0.02,partial=0.1,expired=0.03");
  TempDir dir;
  QuietHost host;
  SyncEngine engine(host, EngineOptionsFor(SalesforceConfig(sb->url(), dir.path)));
  // A run may stop on a fault that outlasts the retries (resumable, exit 6); the next resumes.
  bool provisioned = false;
  for (int i = 0; i < 5 && !provisioned; ++i) {
    try {
      engine.Provision();
      provisioned = true;
    } catch (const OpError& e) {
      EXPECT_TRUE(e.code() == StatusCode::kUnavailable || e.code() == StatusCode::kRateLimited)
          << e.what();
    }
  }
  ASSERT_TRUE(provisioned);
  // A create that a fault refused is made by the next provisioning run.
  for (int i = 0; i < 5; ++i) {
    try {
      if (engine.Provision().value("ok", false)) break;
    } catch (const OpError& e) {
      EXPECT_TRUE(e.code() == StatusCode::kUnavailable || e.code() == StatusCode::kRateLimited)
          << e.what();
    }
  }
  int clean = 0;
  for (int i = 0; i < 8 && clean < 1; ++i) {
    try {
      Json s = engine.Sync(false);
      if (s["write_errors"] == 0) clean++;
    } catch (const OpError& e) {
      EXPECT_TRUE(e.code() == StatusCode::kUnavailable || e.code() == StatusCode::kRateLimited)
          << e.what();
    }
  }
  EXPECT_EQ(clean, 1);
  sb->SetFaults("");
  Json last = engine.Sync(false);
  EXPECT_EQ(last["write_errors"], 0) << last.dump(2);
  SfReader reader(sb->url());
  auto rows = reader.Query("SELECT Id, KAM_Score__c FROM Account");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kAccounts));
  for (const auto& r : rows) EXPECT_TRUE(r["KAM_Score__c"].is_number()) << r.dump();
  auto tasks = reader.Query("SELECT KAM_Task_Key__c FROM Task WHERE KAM_Task_Key__c != null");
  std::map<std::string, int> per_key;
  for (const auto& t : tasks) per_key[t["KAM_Task_Key__c"].get<std::string>()]++;
  EXPECT_FALSE(per_key.empty());
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << key;
}

// A run that dies after Salesforce created its tasks but before the state recorded them (and,
// separately, after a field write was sent): the next run finds the tasks by key and creates
// none twice, in both key modes. The interruption is an exception thrown from the engine's
// checkpoint hook (the SQLite transaction in flight is lost as with kill -9; the process lives).
TEST(SalesforceSync, ARunInterruptedAfterSendingLeavesEveryTaskExactlyOnce) {
  for (const char* mode : {"upsert", "query_insert"}) {
    for (const char* where : {"push.tasks.sent", "push.update.sent"}) {
      SCOPED_TRACE(std::string(mode) + " at " + where);
      auto sb = StartSandbox("salesforce", 80);  // enough accounts in the key tiers for tasks
      TempDir dir;
      QuietHost host;
      Json cfg = SalesforceConfig(sb->url(), dir.path);
      cfg["salesforce"]["task_key_mode"] = mode;
      SyncEngineOptions o = EngineOptionsFor(cfg);
      bool interrupted = false;
      o.on_checkpoint = [&](const char* at, int64_t) {
        if (!interrupted && std::string(at) == where) {
          interrupted = true;
          throw std::runtime_error(std::string("interrupted at ") + at);
        }
      };
      {
        SyncEngine first(host, o);
        first.Provision();
        EXPECT_ANY_THROW(first.Sync(false));
      }
      ASSERT_TRUE(interrupted);
      SfReader reader(sb->url());
      size_t sent = reader.Query("SELECT Id FROM Task WHERE KAM_Task_Key__c != null").size();
      SyncEngine next(host, EngineOptionsFor(cfg));
      Json s = next.Sync(false);
      EXPECT_EQ(s["write_errors"], 0) << s.dump(2);
      if (std::string(where) == "push.tasks.sent") {
        EXPECT_GT(sent, 0u);
        EXPECT_GT(s["tasks_already_there"].get<int>(), 0) << s.dump(2);
      }
      std::map<std::string, int> per_key;
      for (const auto& t :
           reader.Query("SELECT KAM_Task_Key__c FROM Task WHERE KAM_Task_Key__c != null")) {
        per_key[t["KAM_Task_Key__c"].get<std::string>()]++;
      }
      EXPECT_FALSE(per_key.empty());
      for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << key;
      for (const auto& a : reader.Query("SELECT Id, KAM_Score__c FROM Account")) {
        EXPECT_TRUE(a["KAM_Score__c"].is_number()) << a.dump();
      }
      Json again = next.Sync(false);
      EXPECT_EQ(again["fields_written"], 0);
      EXPECT_EQ(again["tasks_created"], 0);
    }
  }
}

// ---- one rule file, two CRMs ----------------------------------------------------------------

struct Outcome {
  std::string score, tier;
  std::multiset<std::string> tasks;  // subjects
  bool operator==(const Outcome&) const = default;
};

std::string Num(const Json& v) {
  if (v.is_number()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  if (v.is_string() && !v.get<std::string>().empty()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", std::strtod(v.get<std::string>().c_str(), nullptr));
    return buf;
  }
  return "";
}

TEST(OneRuleFileTwoCrms, TheSameSeedGivesTheSameScoresTiersAndTasksOnBothSandboxes) {
  constexpr int kAccounts = 100;
  auto hs = StartSandbox("hubspot", kAccounts);
  auto sf = StartSandbox("salesforce", kAccounts);
  TempDir dir;
  QuietHost host;
  // The example rule file as shipped: its industry list names both CRMs' spellings (HubSpot
  // answers "MACHINERY" where Salesforce answers "Machinery").
  const std::string rules = KAM_EXAMPLE_RULES_FILE;

  Json hs_cfg = {{"crm", "hubspot"},
                 {"hubspot",
                  {{"base_url", hs->url()},
                   {"rate", {{"enabled", false}}},
                   {"retry", {{"initial_delay_ms", 1}, {"max_delay_ms", 20}}}}},
                 {"rules", rules},
                 {"state", (dir.path / "hs-state.db").string()}};
  SyncEngine hs_engine(host, EngineOptionsFor(hs_cfg));
  hs_engine.Provision();
  Json hs_run = hs_engine.Sync(false);
  EXPECT_EQ(hs_run["write_errors"], 0);
  Json sf_cfg = SalesforceConfig(sf->url(), dir.path);
  sf_cfg["rules"] = rules;
  SyncEngine sf_engine(host, EngineOptionsFor(sf_cfg));
  sf_engine.Provision();
  Json sf_run = sf_engine.Sync(false);
  EXPECT_EQ(sf_run["write_errors"], 0);

  // Salesforce: by account name.
  std::map<std::string, Outcome> sf_by_name;
  std::map<std::string, std::string> sf_name_of;
  SfReader reader(sf->url());
  for (const auto& r : reader.Query("SELECT Id, Name, KAM_Score__c, KAM_Tier__c FROM Account")) {
    std::string name = r["Name"];
    ASSERT_FALSE(sf_by_name.count(name)) << "duplicate name " << name;
    sf_by_name[name] = {Num(r["KAM_Score__c"]), r.value("KAM_Tier__c", ""), {}};
    sf_name_of[r["Id"]] = name;
  }
  for (const auto& t :
       reader.Query("SELECT WhatId, Subject FROM Task WHERE KAM_Task_Key__c != null")) {
    sf_by_name[sf_name_of[t["WhatId"].get<std::string>()]].tasks.insert(t["Subject"]);
  }

  // HubSpot: the same through its API.
  http::ClientOptions ho;
  ho.base_url = hs->url();
  ho.rate_limit.enabled = false;
  auto hc = http::Client::Create(ho);
  ASSERT_TRUE(hc.ok());
  auto get = [&](const std::string& target) {
    http::Request req;
    req.target = target;
    req.headers.push_back({"Authorization", "Bearer sandbox-token"});
    auto r = (*hc)->Send(req);
    EXPECT_TRUE(r.ok()) << target;
    return r.ok() ? Json::parse(r->body) : Json::object();
  };
  auto all = [&](const std::string& base) {
    std::vector<Json> out;
    std::string after;
    for (;;) {
      Json page = get(base + (after.empty() ? "" : "&after=" + after));
      for (auto& r : page["results"]) out.push_back(r);
      if (!page.contains("paging")) break;
      after = page["paging"]["next"]["after"].get<std::string>();
    }
    return out;
  };
  std::map<std::string, Outcome> hs_by_name;
  std::map<std::string, std::string> hs_name_of;
  for (const auto& c :
       all("/crm/v3/objects/companies?limit=100&properties=name,kam_score,kam_tier")) {
    const Json& p = c["properties"];
    std::string name = p.value("name", "");
    hs_by_name[name] = {Num(p["kam_score"]), p.value("kam_tier", ""), {}};
    hs_name_of[c["id"]] = name;
  }
  for (const auto& t : all("/crm/v3/objects/tasks?limit=100&properties=kam_task_key,hs_task_subject"
                           "&associations=companies")) {
    const Json& p = t["properties"];
    if (!p.contains("kam_task_key") || !p["kam_task_key"].is_string()) continue;
    std::string company;
    if (t.contains("associations") && t["associations"].contains("companies")) {
      company = t["associations"]["companies"]["results"][0]["id"].get<std::string>();
    }
    hs_by_name[hs_name_of[company]].tasks.insert(p.value("hs_task_subject", ""));
  }

  ASSERT_EQ(sf_by_name.size(), static_cast<size_t>(kAccounts));
  ASSERT_EQ(hs_by_name.size(), sf_by_name.size());
  int differ = 0;
  std::set<std::string> tiers;
  for (const auto& [name, sf_out] : sf_by_name) {
    ASSERT_TRUE(hs_by_name.count(name)) << name;
    const Outcome& hs_out = hs_by_name[name];
    tiers.insert(sf_out.tier);
    EXPECT_EQ(sf_out.score, hs_out.score) << name;
    EXPECT_EQ(sf_out.tier, hs_out.tier) << name;
    EXPECT_EQ(sf_out.tasks, hs_out.tasks) << name;
    if (!(sf_out == hs_out)) differ++;
  }
  EXPECT_EQ(differ, 0);
  EXPECT_GE(tiers.size(), 2u);  // the comparison is not between two empty results
  EXPECT_EQ(hs_run["tasks_created"], sf_run["tasks_created"]);
}

// `kam demo --crm salesforce`: the same story on the Salesforce sandbox.
TEST(SalesforceDemo, TellsTheStoryWritesOnlyChangedAccountsKeepsTheHandEditAndDuplicatesNoTask) {
  QuietHost host;
  DemoOptions o;
  o.crm = "salesforce";
  o.accounts = 120;
  Json d = RunDemo(host, o);
  EXPECT_EQ(d["crm"], "salesforce");
  EXPECT_EQ(d["first_sync"]["accounts_written"], 120);
  EXPECT_GT(d["first_sync"]["tasks_created"].get<int>(), 0);
  EXPECT_GE(d["written_after_changes"].get<int>(), 1);
  EXPECT_LE(d["written_after_changes"].get<int>(), 5);
  EXPECT_TRUE(d["hand_edit_kept"].get<bool>());
  EXPECT_GT(d["addin_tasks"].get<int>(), 0);
  EXPECT_EQ(d["duplicate_tasks"], 0);
  EXPECT_EQ(d["third_sync"]["fields_written"], 0);
  std::string text = d["text"].get<std::string>();
  EXPECT_NE(text.find("Salesforce org"), std::string::npos);
  EXPECT_NE(text.find("kept and reported"), std::string::npos);
  if (std::getenv("KAM_TEST_VERBOSE")) std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace
}  // namespace kam::engine
