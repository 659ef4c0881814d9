// End to end: the sync engine against the sandbox CRM on a free loopback port.
#include <gtest/gtest.h>

#include "kam/addin.h"
#include "sync_test_util.h"

namespace kam::testing {
namespace {

using engine::StatusCode;
constexpr int kAccounts = 120;

class SyncE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartSandbox(kAccounts);
    rules_ = WriteRules(dir_.path);
    options_ = EngineOptions(server_->url(), dir_.path, rules_);
    engine_ = std::make_unique<engine::SyncEngine>(host_, options_);
    engine_->Provision();
  }

  std::string SomeCompany(int i) {
    auto all = CrmReader(server_->url()).All("companies", "name");
    auto it = all.begin();
    std::advance(it, i);
    return it->first;
  }

  TempDir dir_;
  TestHost host_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::string rules_;
  engine::SyncEngineOptions options_;
  std::unique_ptr<engine::SyncEngine> engine_;
};

TEST_F(SyncE2E, TheFirstSyncWritesResultsAndCreatesTasks) {
  json s = engine_->Sync(false);
  if (std::getenv("KAM_TEST_VERBOSE")) {
    std::fprintf(stderr, "%s\n%s\n", s.dump(2).c_str(), server_->CountersJson().c_str());
  }
  EXPECT_EQ(s["pulled"], kAccounts);
  EXPECT_EQ(s["evaluated"], kAccounts);
  EXPECT_EQ(s["accounts_written"], kAccounts);
  EXPECT_GT(s["tasks_created"].get<int>(), 0);
  EXPECT_EQ(s["write_errors"], 0);
  json fp = CrmReader(server_->url()).Footprint();
  int scored = 0;
  for (const auto& [id, p] : fp["companies"].items()) {
    if (p["kam_score"].is_string() && !p["kam_score"].get<std::string>().empty()) scored++;
  }
  EXPECT_EQ(scored, kAccounts);
  EXPECT_EQ(fp["tasks"].size(), s["tasks_created"].get<size_t>());
  for (const auto& [key, t] : fp["tasks"].items()) EXPECT_EQ(t["count"], 1) << key;
  // Progress came per phase with done <= total.
  std::set<std::string> phases;
  for (const auto& p : host_.progress) {
    phases.insert(p.phase);
    EXPECT_LE(p.done, p.total) << p.phase;
  }
  EXPECT_TRUE(phases.count("pull") && phases.count("evaluate") && phases.count("push"));
}

TEST_F(SyncE2E, AnImmediateSecondSyncMakesNoWriteCalls) {
  engine_->Sync(false);
  uint64_t writes = WriteCalls(*server_);
  json s = engine_->Sync(false);
  EXPECT_EQ(WriteCalls(*server_), writes);
  EXPECT_EQ(s["fields_written"], 0);
  EXPECT_EQ(s["tasks_created"], 0);
  EXPECT_EQ(s["conflicts"], 0);
}

TEST_F(SyncE2E, AChangeToOneCompanyRewritesOnlyThatCompany) {
  engine_->Sync(false);
  std::string id = SomeCompany(17);
  CrmReader crm(server_->url());
  // A big jump in margin and revenue changes the score of this company only.
  crm.Call("PATCH", "/crm/v3/objects/companies/" + id,
           {{"properties", {{"gross_margin_pct", "95"}, {"annualrevenue", "900000000"},
                            {"nps", "10"}, {"avg_days_to_pay", "5"}}}});
  json s = engine_->Sync(false);
  EXPECT_EQ(s["accounts_written"], 1);
  EXPECT_EQ(s["write_errors"], 0);
  auto store = store::Store::Open(options_.config.state_path);
  std::set<std::string> written;
  for (const auto& a : store->AuditForRun(s["run_id"].get<int64_t>())) {
    if (a.action == "update_field") written.insert(a.account_id);
  }
  EXPECT_EQ(written, std::set<std::string>{id});
}

TEST_F(SyncE2E, AHumanEditIsKeptAndReported) {
  engine_->Sync(false);
  std::string id = SomeCompany(3);
  CrmReader crm(server_->url());
  json before = crm.Call("GET", "/crm/v3/objects/companies/" + id + "?properties=kam_tier");
  std::string ours = before["properties"]["kam_tier"].get<std::string>();
  std::string theirs = ours == "strategic" ? "development" : "strategic";
  crm.Call("PATCH", "/crm/v3/objects/companies/" + id, {{"properties", {{"kam_tier", theirs}}}});
  json s = engine_->Sync(false);
  EXPECT_EQ(s["conflicts"], 1);
  ASSERT_EQ(s["conflict_details"].size(), 1u);
  EXPECT_EQ(s["conflict_details"][0]["account_id"], id);
  EXPECT_EQ(s["conflict_details"][0]["field"], "kam_tier");
  EXPECT_EQ(s["conflict_details"][0]["crm_value"], theirs);
  json after = crm.Call("GET", "/crm/v3/objects/companies/" + id + "?properties=kam_tier");
  EXPECT_EQ(after["properties"]["kam_tier"], theirs);
  // Still respected and listed on the next run, but not reported as a new conflict again.
  json again = engine_->Sync(false);
  EXPECT_EQ(again["conflicts"], 0);
  EXPECT_EQ(again["conflicts_kept"], 1);
  ASSERT_EQ(again["conflict_details"].size(), 1u);
  EXPECT_FALSE(again["conflict_details"][0]["new"].get<bool>());
  EXPECT_EQ(again["fields_written"], 0);
  EXPECT_NE(engine_->Status()["text"].get<std::string>().find("Conflicts kept"),
            std::string::npos);
  // The person changes their value: a conflict again.
  std::string third = theirs == "strategic" ? "key" : "standard";
  crm.Call("PATCH", "/crm/v3/objects/companies/" + id, {{"properties", {{"kam_tier", third}}}});
  json changed = engine_->Sync(false);
  EXPECT_EQ(changed["conflicts"], 1);
  EXPECT_EQ(changed["fields_written"], 0);
}

TEST_F(SyncE2E, TheOverwritePolicyReplacesAHumanEdit) {
  engine_->Sync(false);
  std::string id = SomeCompany(5);
  CrmReader crm(server_->url());
  json before = crm.Call("GET", "/crm/v3/objects/companies/" + id + "?properties=kam_tier");
  std::string ours = before["properties"]["kam_tier"].get<std::string>();
  crm.Call("PATCH", "/crm/v3/objects/companies/" + id,
           {{"properties", {{"kam_tier", ours == "strategic" ? "development" : "strategic"}}}});
  engine::SyncEngineOptions o = options_;
  o.config.field_policies["kam_tier"] = engine::ConflictPolicy::kOverwrite;
  engine::SyncEngine overwrite(host_, o);
  json s = overwrite.Sync(false);
  EXPECT_EQ(s["conflicts"], 1);
  EXPECT_EQ(s["accounts_written"], 1);
  json after = crm.Call("GET", "/crm/v3/objects/companies/" + id + "?properties=kam_tier");
  EXPECT_EQ(after["properties"]["kam_tier"], ours);
}

TEST_F(SyncE2E, ADryRunShowsTheImpactAndWritesNothing) {
  uint64_t writes = WriteCalls(*server_);
  json d = engine_->DryRun(false);
  EXPECT_EQ(WriteCalls(*server_), writes);
  EXPECT_EQ(d["accounts_to_write"], kAccounts);
  EXPECT_GT(d["tasks_to_create"].get<int>(), 0);
  EXPECT_FALSE(d["tier_changes"].empty());
  EXPECT_NE(d["text"].get<std::string>().find("Tier changes"), std::string::npos);
  json s = engine_->Sync(false);
  EXPECT_EQ(s["tasks_created"], d["tasks_to_create"]);
  EXPECT_EQ(s["accounts_written"], d["accounts_to_write"]);
}

TEST_F(SyncE2E, StatusAndReportDescribeTheLastRun) {
  engine_->Sync(false);
  json st = engine_->Status();
  EXPECT_EQ(st["outbox"]["pending"], 0);
  EXPECT_EQ(st["accounts"], kAccounts);
  EXPECT_EQ(st["runs"][0]["outcome"], "ok");
  json r = engine_->Report((dir_.path / "report.html").string());
  EXPECT_EQ(r["accounts"], kAccounts);
  int64_t sum = 0;
  for (const auto& t : r["tiers"]) sum += t["accounts"].get<int64_t>();
  EXPECT_EQ(sum, kAccounts);
  EXPECT_TRUE(std::filesystem::exists(dir_.path / "report.html"));
  EXPECT_FALSE(r["workload"].empty());
}

TEST_F(SyncE2E, AnArchivedCompanyLosesItsResultAndItsOpenTasks) {
  json first = engine_->Sync(false);
  auto store = store::Store::Open(options_.config.state_path);
  auto open = store->TasksInState("open");
  store.reset();
  ASSERT_FALSE(open.empty());
  std::string id = open.front().account_id;
  CrmReader crm(server_->url());
  crm.Call("DELETE", "/crm/v3/objects/companies/" + id);
  json s = engine_->Sync(false);
  EXPECT_EQ(s["archived"], 1);
  EXPECT_GE(s["tasks_completed"].get<int>(), 1);
  store = store::Store::Open(options_.config.state_path);
  EXPECT_FALSE(store->GetResult(id));
  for (const auto& t : store->TasksFor(id)) EXPECT_EQ(t.state, "completed");
}

TEST_F(SyncE2E, CancellationStopsAtABoundaryAndTheNextRunFinishes) {
  host_.cancel_after_progress = 2;
  try {
    engine_->Sync(false);
    FAIL() << "expected StatusCode::kCancelled";
  } catch (const engine::OpError& e) {
    EXPECT_EQ(e.code(), StatusCode::kCancelled);
  }
  host_.cancelled = false;
  host_.cancel_after_progress = 0;
  json s = engine_->Sync(false);
  EXPECT_EQ(s["write_errors"], 0);
  json fp = CrmReader(server_->url()).Footprint();
  for (const auto& [key, t] : fp["tasks"].items()) EXPECT_EQ(t["count"], 1) << key;
  EXPECT_EQ(engine_->Status()["runs"][1]["outcome"], "cancelled");
}

TEST_F(SyncE2E, AFailingRuleFileTestStopsTheSyncBeforeAnyWrite) {
  json rules = json::parse(std::ifstream(rules_));
  rules["tests"][0]["expect"]["tier"] = "standard";  // wrong on purpose
  std::string bad = (dir_.path / "bad-rules.json").string();
  std::ofstream(bad) << rules.dump(2);
  engine::SyncEngineOptions o = options_;
  o.config.rules_path = bad;
  uint64_t writes = WriteCalls(*server_);
  try {
    engine::SyncEngine(host_, o).Sync(false);
    FAIL() << "expected the rule tests to stop the sync";
  } catch (const engine::OpError& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.message().find("tier"), std::string::npos) << e.message();
  }
  EXPECT_EQ(WriteCalls(*server_), writes);
}

TEST_F(SyncE2E, AMissingTokenIsReportedAsUnauthenticated) {
  host_.token.clear();
  engine::SyncEngineOptions o = options_;
  o.get_secret = [](std::string_view) { return std::optional<std::string>(); };
  engine::SyncEngine e(host_, o);
  try {
    e.Sync(false);
    FAIL();
  } catch (const engine::OpError& err) {
    EXPECT_EQ(err.code(), StatusCode::kUnauthenticated);
  }
}

TEST_F(SyncE2E, AWrongTokenIsReportedAsUnauthenticated) {
  engine::SyncEngineOptions o = options_;
  o.get_secret = [](std::string_view) { return std::optional<std::string>("wrong"); };
  engine::SyncEngine e(host_, o);
  try {
    e.Sync(false);
    FAIL();
  } catch (const engine::OpError& err) {
    EXPECT_EQ(err.code(), StatusCode::kUnauthenticated) << err.message();
  }
}

TEST_F(SyncE2E, ASecondEngineOnTheSameStateIsRefusedWhileOneHoldsIt) {
  auto held = store::Store::Open(options_.config.state_path);
  try {
    engine_->Sync(false);
    FAIL();
  } catch (const engine::OpError& err) {
    EXPECT_EQ(err.code(), StatusCode::kConflict);
    EXPECT_NE(err.message().find("in use"), std::string::npos);
  }
}

TEST_F(SyncE2E, SyncWithFaultsCompletesOrStopsResumablyAndLosesNothing) {
  // Reference: a clean run on a second sandbox with the same seed.
  TempDir ref_dir;
  auto ref_server = StartSandbox(kAccounts);
  engine::SyncEngine ref(host_, EngineOptions(ref_server->url(), ref_dir.path, rules_));
  ref.Provision();
  ref.Sync(false);
  json expected = CrmReader(ref_server->url()).Footprint();

  ASSERT_EQ(server_->SetFaults("429=0.05,500=0.03,503=0.03,drop=0.02,malformed=0.02,partial=0.05"),
            "");
  int stopped = 0;
  bool completed = false;
  for (int attempt = 0; attempt < 8 && !completed; ++attempt) {
    try {
      engine_->Sync(false);
      completed = true;
    } catch (const engine::OpError& e) {
      stopped++;
      EXPECT_TRUE(e.code() == StatusCode::kUnavailable || e.code() == StatusCode::kRateLimited ||
                  e.code() == StatusCode::kInternal || e.code() == StatusCode::kInvalidArgument)
          << e.status().ToString();
      EXPECT_FALSE(e.message().empty());
    }
  }
  server_->SetFaults("");
  // Runs without faults settle what a fault left in doubt or recorded as failed.
  engine_->Sync(false);
  json last = engine_->Sync(false);
  EXPECT_EQ(last["write_errors"], 0);
  EXPECT_EQ(last["fields_written"], 0);
  EXPECT_EQ(engine_->Status()["outbox"]["pending"], 0);
  json fp = CrmReader(server_->url()).Footprint();
  EXPECT_EQ(fp["companies"], expected["companies"]);
  EXPECT_EQ(fp["tasks"], expected["tasks"]);
  RecordProperty("runs_stopped_by_faults", stopped);
}

TEST_F(SyncE2E, ProvisionReadsEveryPropertyBackAndSaysAllIsThere) {
  json p = engine_->Provision();
  EXPECT_TRUE(p["ok"].get<bool>()) << p["text"];
  ASSERT_EQ(p["items"].size(), 8u);  // seven writeback properties (with the card) and the task key
  for (const auto& it : p["items"]) EXPECT_EQ(it["outcome"], "unchanged") << it.dump();
}

TEST_F(SyncE2E, ProvisionNamesAPropertyItCouldNotCreateAndIsNotOk) {
  // A writeback to a property this version does not create: provisioning must not claim success.
  json rules = json::parse(std::ifstream(rules_));
  rules["writeback"] = {{"hubspot", {{"rank", "kam_rank"}}}};
  std::ofstream(rules_) << rules.dump(2);
  engine::SyncEngine e(host_, options_);
  json p = e.Provision();
  EXPECT_FALSE(p["ok"].get<bool>());
  EXPECT_NE(p["text"].get<std::string>().find("kam_rank"), std::string::npos) << p["text"];
  EXPECT_NE(p["text"].get<std::string>().find("INCOMPLETE"), std::string::npos) << p["text"];
}

TEST_F(SyncE2E, ASyncStopsBeforeAnyWriteWhenAWritebackPropertyIsMissing) {
  CrmReader crm(server_->url());
  crm.Call("DELETE", "/crm/v3/properties/companies/kam_breakdown");
  uint64_t writes = WriteCalls(*server_);
  try {
    engine_->Sync(false);
    FAIL() << "the sync must stop";
  } catch (const engine::OpError& e) {
    EXPECT_EQ(e.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(e.message().find("kam_breakdown"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("kam provision"), std::string::npos) << e.message();
  }
  EXPECT_EQ(WriteCalls(*server_), writes);
  // After provisioning again the planned writes go out.
  engine_->Provision();
  json s = engine_->Sync(false);
  EXPECT_EQ(s["write_errors"], 0);
  EXPECT_TRUE(s["ok"].get<bool>());
  EXPECT_GT(s["resumed_outbox_entries"].get<int>(), 0);
}

}  // namespace
}  // namespace kam::testing


namespace kam::testing {
namespace {

TEST(Demo, SLOW_TellsTheStoryWritesOnlyChangedAccountsKeepsTheHandEditAndDuplicatesNoTask) {
  TestHost host;
  engine::DemoOptions o;
  o.accounts = 400;
  json d = engine::RunDemo(host, o);
  EXPECT_GT(d["first_sync"]["accounts_written"].get<int>(), 0);
  EXPECT_GT(d["first_sync"]["tasks_created"].get<int>(), 0);
  EXPECT_GE(d["written_after_changes"].get<int>(), 1);
  EXPECT_LE(d["written_after_changes"].get<int>(), 5);
  EXPECT_TRUE(d["hand_edit_kept"].get<bool>());
  EXPECT_EQ(d["duplicate_tasks"], 0);
  EXPECT_EQ(d["third_sync"]["fields_written"], 0);
  std::string text = d["text"].get<std::string>();
  EXPECT_NE(text.find("Pareto"), std::string::npos);
  EXPECT_NE(text.find("kept and reported"), std::string::npos);
  if (std::getenv("KAM_TEST_VERBOSE")) std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace
}  // namespace kam::testing
