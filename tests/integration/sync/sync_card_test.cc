// The record card and the task budget in a real sync against the sandbox CRM, judged from the
// sandbox (issue 12): `kam provision` creates the hidden company property kam_card_json; the sync
// writes every company a kam.card.v1 card that validates against the schema and matches the
// company's kam_score, kam_tier, kam_scored_at and open add-in tasks; a second sync writes nothing.
// With tasks.max_open_per_owner, no owner ends up with more open add-in tasks than the budget, and
// the dry run says which suggestions it left out and why.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "schema_subset.h"
#include "sync_test_util.h"

namespace kam::testing {
namespace {

json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

TEST(SyncCard, EveryCompanyHoldsAHiddenValidCardMatchingItsFieldsAndAResyncWritesNothing) {
  TempDir dir;
  TestHost host;
  auto server = StartSandbox(60, 11);
  engine::SyncEngineOptions options = EngineOptions(server->url(), dir.path, WriteRules(dir.path));
  engine::SyncEngine engine(host, options);
  json provisioned = engine.Provision();
  ASSERT_TRUE(provisioned["ok"].get<bool>()) << provisioned.dump(2);

  CrmReader crm(server->url());
  json property = crm.Call("GET", "/crm/v3/properties/companies/kam_card_json");
  EXPECT_EQ(property["type"], "string");
  EXPECT_EQ(property["hidden"], true) << property.dump();
  EXPECT_EQ(property["formField"], false);

  json first = engine.Sync(false);
  ASSERT_EQ(first["write_errors"], 0) << first.dump(2);

  std::map<std::string, int64_t> open_tasks;  // the add-in's open tasks per company
  {
    auto state = store::Store::Open(options.config.state_path);
    for (const auto& t : state->TasksInState("open")) open_tasks[t.account_id]++;
  }
  ASSERT_FALSE(open_tasks.empty()) << "the test rules suggest tasks";
  kam::schema_subset::SubsetValidator schema(ReadJsonFile(KAM_CARD_SCHEMA));
  int cards = 0;
  for (const auto& [id, p] :
       crm.All("companies", "kam_score,kam_tier,kam_scored_at,kam_card_json")) {
    ASSERT_TRUE(p.contains("kam_card_json") && p["kam_card_json"].is_string()) << id;
    const std::string text = p["kam_card_json"].get<std::string>();
    EXPECT_LT(text.size(), 65536u);
    json card = json::parse(text, nullptr, false);
    ASSERT_TRUE(card.is_object()) << id << ": " << text;
    std::vector<std::string> errors;
    schema.Validate(card, &errors);
    EXPECT_TRUE(errors.empty()) << id << ": " << ::testing::PrintToString(errors);
    EXPECT_EQ(card["schema"], "kam.card.v1");
    EXPECT_EQ(card["account_id"], id);
    EXPECT_DOUBLE_EQ(card["score"].get<double>(), std::stod(p["kam_score"].get<std::string>()))
        << id;
    EXPECT_EQ(card["tier"]["id"], p["kam_tier"]) << id;
    EXPECT_EQ(card["scored_at"], p["kam_scored_at"]) << id;
    EXPECT_EQ(card["open_tasks"], open_tasks[id]) << id;
    ++cards;
  }
  EXPECT_EQ(cards, 60);

  const uint64_t writes = WriteCalls(*server);
  json second = engine.Sync(false);
  EXPECT_EQ(second["fields_written"], 0) << second.dump(2);
  EXPECT_EQ(second["tasks_created"], 0);
  EXPECT_EQ(WriteCalls(*server), writes) << "a second sync writes nothing";
}

TEST(SyncBudget, NoOwnerHasMoreOpenAddInTasksThanTheBudgetAndTheDryRunSaysWhatItLeftOut) {
  constexpr int kBudget = 2;
  TempDir dir;
  TestHost host;
  auto server = StartSandbox(200, 42);
  // The example rule file with a tight budget, so that it certainly bites.
  json rules = ReadJsonFile(KAM_EXAMPLE_RULES_FILE);
  ASSERT_TRUE(rules["tasks"].is_object());
  rules["tasks"]["max_open_per_owner"] = kBudget;
  const std::string rules_path = (dir.path / "rules.json").string();
  std::ofstream(rules_path) << rules.dump(2);
  engine::SyncEngineOptions options = EngineOptions(server->url(), dir.path, rules_path);
  engine::SyncEngine engine(host, options);
  ASSERT_TRUE(engine.Provision()["ok"].get<bool>());

  json dry = engine.DryRun(false);
  const json& budget = dry["task_budget"];
  EXPECT_EQ(budget["max_open_per_owner"], kBudget);
  ASSERT_GT(budget["dropped"].get<int>(), 0) << budget.dump(2);
  EXPECT_EQ(dry["tasks_to_create"], budget["kept"]);
  const std::string reason = budget["dropped_tasks"][0]["reason"].get<std::string>();
  EXPECT_NE(reason.find("tasks.max_open_per_owner"), std::string::npos) << reason;
  const std::string text = dry["text"].get<std::string>();
  EXPECT_NE(text.find("Task budget (tasks.max_open_per_owner 2): "), std::string::npos) << text;
  EXPECT_NE(text.find("left out: "), std::string::npos) << text;

  json s = engine.Sync(false);
  ASSERT_EQ(s["write_errors"], 0) << s.dump(2);
  EXPECT_EQ(s["tasks_created"], budget["kept"]);
  EXPECT_EQ(s["task_budget"]["dropped"], budget["dropped"]);

  // Judged from the CRM: the add-in's open tasks per owner.
  CrmReader crm(server->url());
  std::map<std::string, int> open_per_owner;
  for (const auto& [id, t] : crm.All("tasks", "kam_task_key,hs_task_status,hubspot_owner_id")) {
    if (!t.contains("kam_task_key") || !t["kam_task_key"].is_string()) continue;
    if (t.value("hs_task_status", "") == "COMPLETED") continue;
    open_per_owner[t.value("hubspot_owner_id", "")]++;
  }
  ASSERT_FALSE(open_per_owner.empty());
  int most = 0;
  for (const auto& [owner, n] : open_per_owner) {
    EXPECT_LE(n, kBudget) << "owner " << owner;
    most = std::max(most, n);
  }
  EXPECT_EQ(most, kBudget) << "the budget was reached by someone";

  // Full budgets stay full: a second sync creates nothing and writes nothing.
  const uint64_t writes = WriteCalls(*server);
  json again = engine.Sync(false);
  EXPECT_EQ(again["tasks_created"], 0);
  EXPECT_GT(again["task_budget"]["dropped"].get<int>(), 0);
  EXPECT_EQ(WriteCalls(*server), writes);
}

}  // namespace
}  // namespace kam::testing
