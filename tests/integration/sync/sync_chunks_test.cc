// The plan built per chunk of accounts (plugin/src/engine/plan.cc, issue 13 item 3): a sync whose
// plan is evaluated, diffed and staged in chunks of 7 accounts leaves the CRM exactly as one whose
// plan is one chunk — company fields, cards, tasks by key, and the task budget's choice, which
// needs every suggestion of an owner across chunks — on a first sync, and on a second after
// people edited a field the add-in writes (kam_tier) and deleted companies that had the add-in's
// open tasks. Judged from two sandboxes seeded alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string_view>

#include "sync_test_util.h"

namespace kam::testing {
namespace {

constexpr int kAccounts = 150;
constexpr uint64_t kSeed = 42;
constexpr int kBudget = 1;  // tight: the budget bites, for owners whose accounts span chunks

json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

struct Side {
  TempDir dir;
  TestHost host;
  std::unique_ptr<sandbox::SandboxServer> server;
  engine::SyncEngineOptions options;
  std::unique_ptr<engine::SyncEngine> engine;
  int64_t plan_commits = 0;  // "plan.committed" checkpoints: one per chunk, one at the end
};

std::unique_ptr<Side> MakeSide(int chunk_accounts, const json& rules) {
  auto side = std::make_unique<Side>();
  side->server = StartSandbox(kAccounts, kSeed);
  const std::string path = (side->dir.path / "rules.json").string();
  std::ofstream(path) << rules.dump(2);
  side->options = EngineOptions(side->server->url(), side->dir.path, path);
  side->options.config.plan_chunk_accounts = chunk_accounts;
  Side* raw = side.get();
  side->options.on_checkpoint = [raw](const char* where, int64_t) {
    if (std::string_view(where) == "plan.committed") raw->plan_commits++;
  };
  side->engine = std::make_unique<engine::SyncEngine>(side->host, side->options);
  return side;
}

// The add-in's footprint in the CRM (fields, tasks by key) and every company's card without its
// scored_at.
json CrmState(const Side& side) {
  CrmReader crm(side.server->url());
  json state = crm.Footprint();
  json cards = json::object();
  for (auto& [id, p] : crm.All("companies", "kam_card_json")) {
    json card = nullptr;
    if (p.contains("kam_card_json") && p["kam_card_json"].is_string()) {
      card = json::parse(p["kam_card_json"].get<std::string>(), nullptr, false);
      if (card.is_object()) card.erase("scored_at");
    }
    cards[id] = card;
  }
  state["cards"] = cards;
  return state;
}

// What a run summary says, less times and call counts.
json Outcome(const json& s) {
  json out = json::object();
  for (const char* k :
       {"pulled", "archived", "evaluated", "evaluation_errors", "changed_accounts",
        "accounts_written", "fields_written", "tasks_created", "tasks_already_there",
        "tasks_completed", "conflicts", "conflicts_kept", "capped", "write_errors",
        "own_writes_adopted", "task_budget", "tiers", "conflict_details"}) {
    out[k] = s.contains(k) ? s[k] : json(nullptr);
  }
  return out;
}

json DryOutcome(json d) {
  for (const char* k : {"api_calls", "quota", "usage", "calls_per_minimum", "minimum_calls"}) {
    d.erase(k);
  }
  return d;
}

TEST(SyncChunks, APlanBuiltInChunksOfSevenAccountsLeavesTheCrmAsOneChunkDoes) {
  json rules = ReadJsonFile(KAM_EXAMPLE_RULES_FILE);
  ASSERT_TRUE(rules["tasks"].is_object());
  rules["tasks"]["max_open_per_owner"] = kBudget;
  auto one = MakeSide(1'000'000, rules);
  auto many = MakeSide(7, rules);
  for (Side* side : {one.get(), many.get()}) {
    ASSERT_TRUE(side->engine->Provision()["ok"].get<bool>());
  }

  // The dry runs agree, and say the same on writes, tasks and the budget.
  json dry_one = one->engine->DryRun(false);
  json dry_many = many->engine->DryRun(false);
  EXPECT_EQ(DryOutcome(dry_one), DryOutcome(dry_many));
  EXPECT_GT(dry_one["task_budget"]["dropped"].get<int>(), 0) << "the budget bites";
  EXPECT_EQ(dry_one["accounts_to_write"], kAccounts);

  json first_one = one->engine->Sync(false);
  json first_many = many->engine->Sync(false);
  ASSERT_EQ(first_one["write_errors"], 0) << first_one.dump(2);
  EXPECT_EQ(Outcome(first_one), Outcome(first_many));
  EXPECT_EQ(first_one["tasks_created"], dry_one["tasks_to_create"]);
  // One chunk plus the final commit, against one commit per 7 accounts plus the final one.
  EXPECT_EQ(one->plan_commits, 2);
  EXPECT_EQ(many->plan_commits, (kAccounts + 6) / 7 + 1);
  const json after_first = CrmState(*one);
  EXPECT_FALSE(after_first["tasks"].empty());
  EXPECT_EQ(after_first, CrmState(*many));

  // People: a kam_tier edited on three companies, two companies with the add-in's open tasks
  // deleted. The same edits on both sandboxes (seeded alike, so the ids are the same).
  std::vector<std::string> with_tasks;
  {
    auto state = store::Store::Open(one->options.config.state_path);
    std::set<std::string> seen;
    for (const auto& t : state->TasksInState("open")) {
      if (seen.insert(t.account_id).second) with_tasks.push_back(t.account_id);
    }
  }
  ASSERT_GE(with_tasks.size(), 2u);
  std::vector<std::string> edited;
  for (const auto& [id, fields] : after_first["companies"].items()) {
    if (std::find(with_tasks.begin(), with_tasks.begin() + 2, id) != with_tasks.begin() + 2) {
      continue;
    }
    edited.push_back(id);
    if (edited.size() == 3) break;
  }
  for (Side* side : {one.get(), many.get()}) {
    CrmReader crm(side->server->url());
    for (const auto& id : edited) {
      const std::string ours = after_first["companies"][id].value("kam_tier", "");
      crm.Call("PATCH", "/crm/v3/objects/companies/" + id,
               {{"properties", {{"kam_tier", ours == "strategic" ? "standard" : "strategic"}}}});
    }
    for (size_t i = 0; i < 2; ++i) crm.Call("DELETE", "/crm/v3/objects/companies/" + with_tasks[i]);
  }

  json second_one = one->engine->Sync(false);
  json second_many = many->engine->Sync(false);
  ASSERT_EQ(second_one["write_errors"], 0) << second_one.dump(2);
  EXPECT_EQ(second_one["archived"], 2);
  EXPECT_GE(second_one["tasks_completed"].get<int>(), 2);
  EXPECT_EQ(second_one["conflicts"], 3);
  EXPECT_EQ(Outcome(second_one), Outcome(second_many));
  EXPECT_EQ(CrmState(*one), CrmState(*many));
  for (Side* side : {one.get(), many.get()}) {
    auto state = store::Store::Open(side->options.config.state_path);
    for (size_t i = 0; i < 2; ++i) EXPECT_FALSE(state->GetResult(with_tasks[i])) << with_tasks[i];
    EXPECT_EQ(state->CountOutbox(store::OutboxState::kPending), 0);
  }
}

}  // namespace
}  // namespace kam::testing
