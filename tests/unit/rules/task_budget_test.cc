// The per-owner task budget (rules::ApplyTaskBudget): the lowest-priority new suggestions beyond
// `tasks.max_open_per_owner` are dropped with a reason; ties by account score and ids; the
// outcome does not depend on the input order.
#include "kam/rules/task_budget.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

std::vector<std::string> Ids(const std::vector<BudgetCandidate>& c,
                             const std::vector<size_t>& idx) {
  std::vector<std::string> out;
  for (size_t i : idx) out.push_back(c[i].account_id + "/" + c[i].rule_id);
  return out;
}

std::vector<BudgetCandidate> Sample() {
  return {
      {"a1", "101", "late_payments", "medium", 640},
      {"a2", "101", "no_exec_sponsor", "high", 610},
      {"a3", "101", "no_recent_meeting", "high", 820},
      {"a1", "101", "no_exec_sponsor", "high", 640},
      {"a4", "101", "low_margin", "low", 900},
      {"b1", "102", "no_exec_sponsor", "high", 700},
      {"c1", "", "single_threaded", "medium", 650},
  };
}

TEST(TaskBudget, KeepsTheHighestPriorityThenTheBestScoredAccountsOfEachOwner) {
  auto c = Sample();
  TaskBudgetResult r = ApplyTaskBudget(c, {{"101", 1}}, 3);
  // Owner 101: 1 open, budget 3 → room for 2 of 5: the two high-priority ones on the best scores.
  EXPECT_EQ(Ids(c, r.kept), (std::vector<std::string>{"a3/no_recent_meeting", "a1/no_exec_sponsor",
                                                      "b1/no_exec_sponsor", "c1/single_threaded"}));
  ASSERT_EQ(r.dropped.size(), 3u);
  EXPECT_EQ(c[r.dropped[0].index].account_id + "/" + c[r.dropped[0].index].rule_id,
            "a1/late_payments");
  EXPECT_EQ(r.dropped[0].reason,
            "task budget: owner 101 has 1 open task and a budget of 3 (tasks.max_open_per_owner), "
            "room for 2 of 5 new suggestions; this medium-priority task on an account with score "
            "640 ranks 4th");
  EXPECT_EQ(c[r.dropped[1].index].rule_id, "no_exec_sponsor");  // a2: high, but score 610
  EXPECT_NE(r.dropped[1].reason.find("ranks 3rd"), std::string::npos) << r.dropped[1].reason;
  EXPECT_EQ(c[r.dropped[2].index].rule_id, "low_margin");  // low priority despite score 900
  EXPECT_NE(r.dropped[2].reason.find("ranks 5th"), std::string::npos);
  ASSERT_EQ(r.owners.size(), 3u);
  EXPECT_EQ(r.owners[0].owner_id, "");
  EXPECT_EQ(r.owners[0].kept, 1);
  EXPECT_EQ(r.owners[1].owner_id, "101");
  EXPECT_EQ(r.owners[1].open, 1);
  EXPECT_EQ(r.owners[1].suggested, 5);
  EXPECT_EQ(r.owners[1].kept, 2);
  EXPECT_EQ(r.owners[1].dropped, 3);
  EXPECT_EQ(r.owners[2].owner_id, "102");
  EXPECT_EQ(r.owners[2].dropped, 0);
}

TEST(TaskBudget, AnOwnerAtOrOverTheBudgetGetsNoNewTasks) {
  auto c = Sample();
  TaskBudgetResult r = ApplyTaskBudget(c, {{"101", 7}, {"", 3}}, 3);
  EXPECT_EQ(Ids(c, r.kept), (std::vector<std::string>{"b1/no_exec_sponsor"}));
  ASSERT_EQ(r.dropped.size(), 6u);
  auto no_owner = std::find_if(r.dropped.begin(), r.dropped.end(),
                               [&](const auto& d) { return c[d.index].owner_id.empty(); });
  ASSERT_NE(no_owner, r.dropped.end());
  EXPECT_EQ(no_owner->reason.rfind("task budget: accounts without owner have 3 open tasks", 0), 0u)
      << no_owner->reason;
  EXPECT_NE(no_owner->reason.find("room for 0 of 1 new suggestion;"), std::string::npos);
}

TEST(TaskBudget, WithoutABudgetOrWithZeroEverythingIsKeptOrDropped) {
  auto c = Sample();
  TaskBudgetResult all = ApplyTaskBudget(c, {{"101", 50}}, std::nullopt);
  EXPECT_EQ(all.kept.size(), c.size());
  EXPECT_TRUE(all.dropped.empty());
  TaskBudgetResult none = ApplyTaskBudget(c, {}, 0);
  EXPECT_TRUE(none.kept.empty());
  EXPECT_EQ(none.dropped.size(), c.size());
  TaskBudgetResult empty = ApplyTaskBudget({}, {}, 5);
  EXPECT_TRUE(empty.kept.empty());
  EXPECT_TRUE(empty.owners.empty());
}

TEST(TaskBudget, TheOutcomeDoesNotDependOnTheInputOrder) {
  std::mt19937 rng(42);
  std::vector<BudgetCandidate> c;
  const char* priorities[] = {"high", "medium", "low"};
  for (int i = 0; i < 300; ++i) {
    c.push_back({"acc" + std::to_string(rng() % 60), "o" + std::to_string(rng() % 5),
                 "rule" + std::to_string(i % 7), priorities[rng() % 3],
                 static_cast<double>(100 + rng() % 5 * 100)});
  }
  std::map<std::string, int64_t> open = {{"o0", 3}, {"o1", 12}, {"o3", 1}};
  auto kept_set = [](const std::vector<BudgetCandidate>& v, const TaskBudgetResult& r) {
    std::vector<std::string> out;
    for (size_t i : r.kept) {
      out.push_back(v[i].account_id + "|" + v[i].owner_id + "|" + v[i].rule_id + "|" +
                    v[i].priority);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  TaskBudgetResult first = ApplyTaskBudget(c, open, 10);
  auto expected = kept_set(c, first);
  EXPECT_EQ(first.kept.size() + first.dropped.size(), c.size());
  for (const auto& o : first.owners) {
    EXPECT_LE(o.open + o.kept, std::max<int64_t>(10, o.open)) << o.owner_id;
  }
  for (int round = 0; round < 5; ++round) {
    std::shuffle(c.begin(), c.end(), rng);
    EXPECT_EQ(kept_set(c, ApplyTaskBudget(c, open, 10)), expected) << "round " << round;
  }
}

TEST(TaskBudget, RulesEvalAppliesTheRuleFilesBudgetAndCountsGoals) {
  const char* text = R"({
    "name": "b", "version": "1",
    "criteria": [{"id": "v", "weight": 1, "score": {"var": "account.v"}}],
    "tiers": [{"id": "key", "min_score": 5}, {"id": "other", "min_score": 0}],
    "goals": [{"id": "v_high", "value": {"var": "account.v"}, "at_least": {"key": 8}}],
    "tasks": {"max_open_per_owner": 2, "rules": [
      {"id": "call", "title": "Call", "priority": "high", "when": {"==": [{"var": "kam.tier"}, "key"]}},
      {"id": "mail", "title": "Mail", "priority": "low", "when": true}]}
  })";
  LoadResult loaded = RuleSet::LoadText(text, "budget.json");
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  EXPECT_EQ(loaded.rules->max_open_tasks_per_owner(), 2);
  auto dir = std::filesystem::temp_directory_path() /
             ("kam-budget-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "accounts.ndjson");
    out << R"({"id": "a", "owner_id": "1", "v": 9})"
        << "\n"
        << R"({"id": "b", "owner_id": "1", "v": 6})"
        << "\n"
        << R"({"id": "c", "owner_id": "1", "v": 2})"
        << "\n"
        << R"({"id": "d", "owner_id": "2", "v": 7})"
        << "\n";
  }
  EvalSummary summary;
  Status st = EvalFile(*loaded.rules, (dir / "accounts.ndjson").string(), nullptr, &summary);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(summary.tasks_suggested, 7);  // a, b, d: call + mail; c: mail
  EXPECT_EQ(summary.tasks_kept, 4);       // owner 1: a/call, b/call; owner 2: d/call, d/mail
  EXPECT_EQ(summary.tasks_dropped, 3);
  ASSERT_EQ(summary.dropped_tasks.size(), 3u);
  for (const auto& d : summary.dropped_tasks) {
    EXPECT_EQ(d.owner_id, "1");
    EXPECT_EQ(d.rule_id, "mail");
    EXPECT_NE(d.reason.find("budget of 2"), std::string::npos) << d.reason;
  }
  ASSERT_EQ(summary.goals.size(), 1u);
  EXPECT_EQ(summary.goals[0].met, 1);      // a
  EXPECT_EQ(summary.goals[0].not_met, 2);  // b, d
  nlohmann::json j = summary.ToJson();
  EXPECT_EQ(j["tasks"]["max_open_per_owner"], 2);
  EXPECT_EQ(j["tasks"]["owners"].size(), 2u);
  EXPECT_EQ(j["goals"][0]["not_met"], 2);
  std::string text_out = summary.ToText();
  EXPECT_NE(text_out.find("Tasks: 7 suggested, 4 kept, 3 dropped by the budget of 2"),
            std::string::npos)
      << text_out;
}

TEST(TaskBudget, TheExampleRuleFileGivesTasksAndGoalsToTheKeyTiersOnlyWithinItsBudget) {
  LoadResult loaded = RuleSet::LoadFile(std::string(KAM_SOURCE_DIR) +
                                        "/packaging/examples/rules/key-accounts.json");
  ASSERT_TRUE(loaded.ok());
  const RuleSet& rules = *loaded.rules;
  EXPECT_EQ(rules.max_open_tasks_per_owner(), 20);
  std::mt19937 rng(12);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<Account> accounts;
  for (int i = 0; i < 600; ++i) {
    nlohmann::json j = {{"id", "C-" + std::to_string(i)},
                        {"owner_id", std::to_string(101 + i % 4)},
                        {"industry", unit(rng) < 0.5 ? "Machinery" : "Retail"},
                        {"employees", static_cast<int>(unit(rng) * 8000)},
                        {"revenue_last_12m", static_cast<int>(unit(rng) * unit(rng) * 9e6)},
                        {"revenue_prev_12m", static_cast<int>(unit(rng) * unit(rng) * 9e6)},
                        {"gross_margin_pct", static_cast<int>(unit(rng) * 50)},
                        {"avg_days_to_pay", static_cast<int>(20 + unit(rng) * 100)},
                        {"nps", static_cast<int>(unit(rng) * 200) - 100},
                        {"active_contacts", static_cast<int>(unit(rng) * 8)},
                        {"has_exec_sponsor", unit(rng) < 0.5},
                        {"days_since_last_meeting", static_cast<int>(unit(rng) * 200)}};
    Account a;
    ASSERT_TRUE(rules.AccountFromJson(j, &a).ok()) << j.dump();
    accounts.push_back(std::move(a));
  }
  AccountSource source = [&](const AccountVisitor& visit) {
    for (const auto& a : accounts) {
      if (Status st = visit(a, a.id); !st.ok()) return st;
    }
    return Status();
  };
  std::vector<BudgetCandidate> candidates;
  std::map<std::string, int> by_tier;
  ResultSink sink = [&](AccountResult&& r, std::string_view) {
    by_tier[r.final_tier]++;
    bool key_tier = r.final_tier == "strategic" || r.final_tier == "key";
    EXPECT_TRUE(key_tier || r.tasks.empty()) << r.account_id << " " << r.final_tier;
    EXPECT_TRUE(key_tier || r.goals.empty()) << r.account_id << " " << r.final_tier;
    if (key_tier) {
      EXPECT_EQ(r.goals.size(), 4u) << r.account_id;
    }
    for (const auto& t : r.tasks) {
      candidates.push_back({r.account_id, r.owner_id, t.rule_id, t.priority, r.score});
    }
    return Status();
  };
  EvalSummary summary;
  ASSERT_TRUE(EvaluatePortfolio(rules, source, sink, {}, &summary).ok());
  EXPECT_GT(by_tier["standard"] + by_tier["development"], 0);
  EXPECT_GT(by_tier["strategic"] + by_tier["key"], 0);
  ASSERT_FALSE(candidates.empty());
  TaskBudgetResult budget = ApplyTaskBudget(candidates, {{"101", 15}}, 20);
  for (const auto& o : budget.owners) EXPECT_LE(o.open + o.kept, 20) << o.owner_id;
  EXPECT_FALSE(budget.dropped.empty()) << "owner 101 has 15 open: room for 5";
}

}  // namespace
}  // namespace kam::rules
