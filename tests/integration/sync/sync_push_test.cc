// The push sends its batches side by side (issue 13 item 4): up to max_connections batches in
// flight, each answer stored on the run's thread in its own transaction. Judged from the
// sandbox's side (the companies' kam_ fields, the tasks with their company links, the calls by
// route, the most requests it had in flight at once) and from the state file's outbox.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "sync_test_util.h"

namespace kam::testing {
namespace {

using engine::StatusCode;
constexpr int kAccounts = 400;
constexpr int kBatch = 40;  // 10 batches of company updates
constexpr const char* kUpdateRoute = "/crm/v3/objects/companies/batch/update";
constexpr const char* kTaskCreateRoute = "/crm/v3/objects/tasks/batch/create";
constexpr const char* kAssociateRoute = "POST /crm/v4/associations/tasks/companies/batch/create";

class SyncPush : public ::testing::TestWithParam<int> {
 protected:
  // A sandbox of kAccounts companies; `connections` = hubspot.max_connections; one attempt per
  // call, so that an injected fault reaches the engine instead of being retried away.
  void Start(int connections, bool task_key_unique = true, bool example_rules = false,
             int latency_ms = 0, int batch = kBatch, int accounts = kAccounts) {
    sandbox::SandboxOptions so;
    so.accounts = accounts;
    so.seed = 7;
    so.task_key_unique = task_key_unique;
    so.base_time_ms = TestBaseTime();
    so.search_per_second = 0;
    so.latency_min_ms = latency_ms;
    so.latency_max_ms = latency_ms;
    so.threads = 4;
    auto r = sandbox::SandboxServer::Start(so);
    ASSERT_TRUE(r.ok()) << r.error;
    server_ = std::move(r.server);
    std::string rules = WriteRules(dir_.path);
    if (example_rules) {
      rules = (dir_.path / "example-rules.json").string();
      std::filesystem::copy_file(KAM_EXAMPLE_RULES_FILE, rules);
    }
    options_ = EngineOptions(server_->url(), dir_.path, rules);
    options_.config.hubspot.max_connections = connections;
    options_.config.hubspot.max_attempts = 1;
    options_.config.batch_size = batch;
    Engine().Provision();
  }

  // A fresh start: no sandbox, no state file, no rule file.
  void TearDownSandbox() {
    reader_.reset();
    server_.reset();
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path)) {
      std::filesystem::remove_all(entry.path());
    }
  }

  engine::SyncEngine Engine() { return engine::SyncEngine(host_, options_); }

  CrmReader& crm() {
    if (!reader_) reader_ = std::make_unique<CrmReader>(server_->url());
    return *reader_;
  }

  // The state file's pending outbox entries of `kind`: account id (updates) or task key.
  std::map<std::string, int> Pending(const std::string& kind) {
    auto st = store::Store::Open(options_.config.state_path);
    std::map<std::string, int> out;  // -> attempts
    for (const auto& e : st->PendingOutboxAll()) {
      if (e.kind != kind) continue;
      std::string id = e.account_id;
      if (kind == "create_task") {  // idem_key "task:<key>:<run>"
        id = e.idem_key.substr(5, e.idem_key.rfind(':') - 5);
      }
      out[id] = e.attempts;
    }
    return out;
  }

  // Companies whose kam_score the CRM does not hold.
  std::set<std::string> Unscored() {
    std::set<std::string> out;
    for (const auto& [id, p] : crm().All("companies", "kam_score")) {
      if (!p.contains("kam_score") || !p["kam_score"].is_string() ||
          p["kam_score"].get<std::string>().empty()) {
        out.insert(id);
      }
    }
    return out;
  }

  // The add-in's tasks in the CRM: key -> (count, the companies it is linked to).
  std::map<std::string, std::pair<int, std::set<std::string>>> Tasks() {
    std::map<std::string, std::pair<int, std::set<std::string>>> out;
    std::string after;
    for (;;) {
      json page = crm().Call("GET",
                             "/crm/v3/objects/tasks?limit=100&associations=companies&properties="
                             "kam_task_key" +
                                 (after.empty() ? "" : "&after=" + after));
      for (const auto& t : page["results"]) {
        const json& key = t["properties"].value("kam_task_key", json(nullptr));
        if (!key.is_string()) continue;
        auto& e = out[key.get<std::string>()];
        e.first++;
        if (t.contains("associations") && t["associations"].contains("companies")) {
          for (const auto& a : t["associations"]["companies"]["results"]) {
            e.second.insert(a["id"].get<std::string>());
          }
        }
      }
      if (!page.contains("paging")) break;
      after = page["paging"]["next"]["after"].get<std::string>();
    }
    return out;
  }

  // Task key -> company, as the state file planned them.
  std::map<std::string, std::string> PlannedTasks() {
    auto st = store::Store::Open(options_.config.state_path);
    std::map<std::string, std::string> out;
    for (const char* state : {"planned", "open", "failed"}) {
      for (const auto& t : st->TasksInState(state)) out[t.task_key] = t.account_id;
    }
    return out;
  }

  // One batch of updates failed once: exactly its kBatch companies are pending, each after one
  // attempt, and they are exactly the companies the CRM lacks a score for.
  void ExpectOneFailedBatchPending() {
    std::set<std::string> pending_ids;
    for (const auto& [id, attempts] : Pending("update")) {
      pending_ids.insert(id);
      EXPECT_EQ(attempts, 1) << id;
    }
    EXPECT_EQ(pending_ids.size(), static_cast<size_t>(kBatch));
    EXPECT_EQ(pending_ids, Unscored());
  }

  uint64_t Calls(const std::string& route) {
    const auto c = server_->counters();
    auto it = c.by_route.find(route);
    return it == c.by_route.end() ? 0 : it->second;
  }

  TempDir dir_;
  TestHost host_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  engine::SyncEngineOptions options_;
  std::unique_ptr<CrmReader> reader_;
};

INSTANTIATE_TEST_SUITE_P(Connections, SyncPush, ::testing::Values(1, 4), [](const auto& info) {
  return "max_connections_" + std::to_string(info.param);
});

TEST_P(SyncPush, AnUpdateBatchFailingRetryablyLeavesExactlyItsCompaniesPendingAndTheOthersStored) {
  Start(GetParam());
  // The third company update to arrive fails with a 500 (nothing applied); the batches beside
  // it, in flight at the same time, succeed.
  ASSERT_EQ(server_->SetFaults(std::string("500=#3@") + kUpdateRoute), "");
  json s = Engine().Sync(false);
  EXPECT_EQ(server_->counters().faults_injected, 1u);
  EXPECT_EQ(s["accounts_written"], kAccounts - kBatch);
  EXPECT_EQ(s["write_errors"], kBatch);
  ExpectOneFailedBatchPending();
  EXPECT_EQ(Calls("POST " + std::string(kUpdateRoute)), static_cast<uint64_t>(kAccounts / kBatch));

  ASSERT_EQ(server_->SetFaults(""), "");
  json s2 = Engine().Sync(false);
  EXPECT_EQ(s2["write_errors"], 0);
  EXPECT_EQ(s2["accounts_written"], kBatch);
  EXPECT_TRUE(Pending("update").empty());
  EXPECT_TRUE(Unscored().empty());
}

TEST_P(SyncPush, AnOutboxLargerThanAReadPageIsSentInWholeBatchesAndAFailedBatchStaysPending) {
  // 1,200 updates: the push reads the outbox 500 at a time, so batches of 40 straddle the pages
  // (the 13th holds entries 481-520). Cutting batches per page would make 31 update calls.
  constexpr int kMany = 1200;
  Start(GetParam(), true, false, 0, kBatch, kMany);
  // The 14th update to arrive, one read from the second page, fails with a 500.
  ASSERT_EQ(server_->SetFaults(std::string("500=#14@") + kUpdateRoute), "");
  json s = Engine().Sync(false);
  EXPECT_EQ(server_->counters().faults_injected, 1u);
  EXPECT_EQ(Calls("POST " + std::string(kUpdateRoute)), static_cast<uint64_t>(kMany / kBatch));
  EXPECT_EQ(s["accounts_written"], kMany - kBatch);
  EXPECT_EQ(s["write_errors"], kBatch);
  ExpectOneFailedBatchPending();

  ASSERT_EQ(server_->SetFaults(""), "");
  json s2 = Engine().Sync(false);
  EXPECT_EQ(s2["write_errors"], 0);
  EXPECT_EQ(s2["accounts_written"], kBatch);
  EXPECT_TRUE(Pending("update").empty());
  EXPECT_TRUE(Unscored().empty());
}

TEST_P(SyncPush, AnAuthFailureOfOneBatchStopsTheRunAfterStoringTheBatchesInFlight) {
  Start(GetParam());
  ASSERT_EQ(server_->SetFaults(std::string("expired=#2@") + kUpdateRoute), "");
  try {
    Engine().Sync(false);
    FAIL() << "the sync did not stop";
  } catch (const engine::OpError& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kUnauthenticated) << e.status().message();
  }
  // Whatever was in flight beside the failed batch is stored: every company either holds its
  // fields and has no pending entry, or lacks them and has one.
  const auto pending = Pending("update");
  std::set<std::string> pending_ids;
  for (const auto& [id, attempts] : pending) pending_ids.insert(id);
  EXPECT_EQ(pending_ids, Unscored());
  EXPECT_GE(pending_ids.size(), static_cast<size_t>(kBatch));  // at least the failed batch
  EXPECT_EQ(pending_ids.size() % kBatch, 0u);                  // whole batches only
  EXPECT_LE(pending_ids.size(), static_cast<size_t>(kAccounts - kBatch));  // the first one stored
  if (GetParam() == 1) {
    EXPECT_EQ(pending_ids.size(), static_cast<size_t>(kAccounts - kBatch));
  }

  ASSERT_EQ(server_->SetFaults(""), "");
  json s2 = Engine().Sync(false);
  EXPECT_EQ(s2["write_errors"], 0);
  EXPECT_TRUE(Pending("update").empty());
  EXPECT_TRUE(Unscored().empty());
}

TEST_P(SyncPush, ATaskBatchFailingLeavesItsTasksPendingAndTheNextRunCreatesEachOnceWithItsCompany) {
  for (bool unique : {true, false}) {
    SCOPED_TRACE(unique ? "upsert mode" : "search-then-create mode");
    TearDownSandbox();
    // The example rule file's task budget leaves a few tasks for 400 companies: batches of 5.
    constexpr int kTaskBatch = 5;
    Start(GetParam(), unique, /*example_rules=*/true, 0, kTaskBatch);
    ASSERT_EQ(server_->SetFaults(std::string("500=#2@") + kTaskCreateRoute), "");
    json s = Engine().Sync(false);
    EXPECT_EQ(server_->counters().faults_injected, 1u);
    const auto planned = PlannedTasks();
    ASSERT_GT(planned.size(), static_cast<size_t>(3 * kTaskBatch));
    const auto pending = Pending("create_task");
    EXPECT_EQ(pending.size(), static_cast<size_t>(kTaskBatch));
    auto tasks = Tasks();
    for (const auto& [key, company] : planned) {
      if (pending.count(key)) {
        EXPECT_EQ(tasks.count(key), 0u) << key;  // pending = not in the CRM
        EXPECT_EQ(pending.at(key), 1) << key;
      } else {
        ASSERT_EQ(tasks.count(key), 1u) << key;
        EXPECT_EQ(tasks[key].first, 1) << key;
        EXPECT_EQ(tasks[key].second, std::set<std::string>{company}) << key;
      }
    }
    EXPECT_EQ(s["tasks_created"], static_cast<int64_t>(planned.size()) - kTaskBatch);

    ASSERT_EQ(server_->SetFaults(""), "");
    json s2 = Engine().Sync(false);
    EXPECT_EQ(s2["write_errors"], 0);
    EXPECT_EQ(s2["tasks_created"], kTaskBatch);
    EXPECT_TRUE(Pending("create_task").empty());
    tasks = Tasks();
    EXPECT_EQ(tasks.size(), planned.size());
    for (const auto& [key, company] : planned) {
      EXPECT_EQ(tasks[key].first, 1) << key;
      EXPECT_EQ(tasks[key].second, std::set<std::string>{company}) << key;
    }
    // The company link travelled with each create: no separate association call, and one
    // create call per batch of tasks (plus the one that failed).
    EXPECT_EQ(Calls(kAssociateRoute), 0u);
    EXPECT_EQ(Calls("POST " + std::string(kTaskCreateRoute)),
              (planned.size() + kTaskBatch - 1) / kTaskBatch + 1);
  }
}

TEST_P(SyncPush, BatchesAreInFlightSideBySideUpToMaxConnections) {
  // Every answer takes 30 ms: batches sent side by side overlap at the sandbox.
  Start(GetParam(), true, false, /*latency_ms=*/30);
  bool reset = false;
  options_.on_checkpoint = [&](const char* where, int64_t) {
    if (!reset && std::strcmp(where, "push.update.before_send") == 0) {
      server_->ResetMaxInFlight();  // count the push only
      reset = true;
    }
  };
  json s = Engine().Sync(false);
  ASSERT_TRUE(reset);
  EXPECT_EQ(s["write_errors"], 0);
  EXPECT_EQ(s["accounts_written"], kAccounts);
  const int most = server_->MaxInFlight();
  EXPECT_LE(most, GetParam());
  if (GetParam() == 1) {
    EXPECT_EQ(most, 1);
  } else {
    EXPECT_GE(most, 2);
  }
}

TEST_P(SyncPush, FieldUpdatesOfAStagedChunkGoOutWhileTheNextChunksArePlanned) {
  // 4 chunks of 100 companies, 10 batches of 40 updates. With batches side by side the push
  // begins after the first chunk's commit; one at a time, it waits for the whole plan.
  Start(GetParam());
  options_.config.plan_chunk_accounts = 100;
  std::vector<std::string> seen;  // plan commits and update sends, in order
  options_.on_checkpoint = [&](const char* where, int64_t) {
    if (std::strcmp(where, "plan.committed") == 0 ||
        std::strcmp(where, "push.update.before_send") == 0) {
      seen.emplace_back(where);
    }
  };
  json s = Engine().Sync(false);
  EXPECT_EQ(s["write_errors"], 0);
  EXPECT_EQ(s["accounts_written"], kAccounts);
  EXPECT_TRUE(Unscored().empty());
  EXPECT_TRUE(Pending("update").empty());
  // Each company is written once: no batch is sent twice, none is lost.
  EXPECT_EQ(Calls("POST " + std::string(kUpdateRoute)), static_cast<uint64_t>(kAccounts / kBatch));
  const auto last_commit = std::find(seen.rbegin(), seen.rend(), "plan.committed");
  ASSERT_NE(last_commit, seen.rend());
  const auto sends_before_last_commit =
      std::count(last_commit, seen.rend(), std::string("push.update.before_send"));
  if (GetParam() == 1) {
    EXPECT_EQ(sends_before_last_commit, 0);
  } else {
    EXPECT_GE(sends_before_last_commit, 3) << "full batches of the first 3 chunks";
  }
  // A second sync right after writes nothing.
  json s2 = Engine().Sync(false);
  EXPECT_EQ(s2["fields_written"], 0);
  EXPECT_EQ(s2["write_errors"], 0);
}

}  // namespace
}  // namespace kam::testing
