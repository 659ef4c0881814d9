// Tiers after capacities: health and tasks follow the tier the KAM sees in the CRM (the tier after
// the portfolio pass), not the tier by score. Issue 9: with the example rule file and 3,000 seeded
// companies (seed 42), accounts that a tier's capacity moved down still got the upper tier's
// tasks (11 key-only tasks on accounts whose written tier was "development").
#include <gtest/gtest.h>

#include <set>

#include "sync_test_util.h"

namespace kam::testing {
namespace {

TEST(SyncTiers, CappedAccountsGetOnlyTheTasksOfTheTierTheyWereWritten) {
  TempDir dir;
  TestHost host;
  auto server = StartSandbox(3000, 42);
  auto rules = dir.path / "key-accounts.json";
  std::filesystem::copy_file(KAM_EXAMPLE_RULES_FILE, rules);
  engine::SyncEngineOptions options = EngineOptions(server->url(), dir.path, rules.string());
  engine::SyncEngine engine(host, options);
  engine.Provision();
  json s = engine.Sync(false);
  ASSERT_EQ(s["write_errors"], 0);
  ASSERT_GT(s["capped"].get<int>(), 0) << "the example portfolio must exceed a capacity";

  // Tasks of these rules require kam.tier in [strategic, key] (packaging/examples/rules).
  const std::set<std::string> top_tier_rules = {"no_exec_sponsor", "no_recent_meeting"};
  const std::set<std::string> top_tiers = {"strategic", "key"};
  auto companies = CrmReader(server->url()).All("companies", "kam_tier");
  auto state = store::Store::Open(options.config.state_path);
  int top_tier_tasks = 0;
  int wrong = 0;
  for (const char* st : {"open", "planned"}) {
    for (const auto& t : state->TasksInState(st)) {
      if (!top_tier_rules.count(t.rule_id)) continue;
      ++top_tier_tasks;
      std::string tier = companies[t.account_id].value("kam_tier", "");
      if (!top_tiers.count(tier)) {
        ++wrong;
        ADD_FAILURE() << "task " << t.rule_id << " on " << t.account_id << " whose tier is "
                      << tier;
      }
    }
  }
  EXPECT_GT(top_tier_tasks, 0);
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace kam::testing
