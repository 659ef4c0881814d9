// The report model: what the page shows, computed from plain data.
#include "report_model.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kam/store/store.h"

namespace kam::engine {
namespace {

using nlohmann::json;

ReportAccount Account(const std::string& id, const std::string& owner, double score,
                      const std::string& tier, double revenue) {
  ReportAccount a;
  a.id = id;
  a.name = "Company " + id;
  a.owner_id = owner;
  a.score = score;
  a.tier = tier;
  a.revenue = revenue;
  return a;
}

ReportData Portfolio() {
  ReportData d;
  d.rules_name = "key-accounts";
  d.rules_version = "1";
  d.generated_ms = 1'700'000'000'000;
  d.tiers = {{"strategic", "Strategic key account", 750, 20, 3},
             {"key", "Key account", 600, 100, 10},
             {"development", "Development account", 450, std::nullopt, std::nullopt},
             {"standard", "Standard account", 0, std::nullopt, std::nullopt}};
  d.accounts = {Account("1", "o1", 800, "strategic", 900), Account("2", "o1", 650, "key", 50),
                Account("3", "o1", 500, "development", 30),
                Account("4", "o1", 480, "development", 10),
                Account("5", "o2", 100, "standard", 10)};
  return d;
}

TEST(ReportModel, CountsOnlyKeyTiersAsKeyAccountsPerKam) {
  json m = BuildReportModel(Portfolio());
  ASSERT_EQ(m["kams"].size(), 2u);
  EXPECT_EQ(m["kams"][0]["owner_id"], "o1");
  EXPECT_EQ(m["kams"][0]["key_accounts"], 2);  // strategic + key, not the 2 development ones
  EXPECT_EQ(m["kams"][0]["accounts"], 4);
  EXPECT_EQ(m["kams"][0]["key_by_tier"][0]["accounts"], 1);
  EXPECT_EQ(m["kams"][1]["key_accounts"], 0);
}

TEST(ReportModel, NamesOwnersFromTheCrmAndFallsBackToTheirId) {
  ReportData d = Portfolio();
  d.owner_names = {{"o1", "Ada Lovelace"}};
  json m = BuildReportModel(d);
  EXPECT_EQ(m["kams"][0]["name"], "Ada Lovelace");
  EXPECT_EQ(m["kams"][1]["name"], "Owner o2");
}

TEST(ReportModel, ParetoCountsTheAccountsThatMakeTheConfiguredShare) {
  json m = BuildReportModel(Portfolio());  // 900 of 1000 is already 80%
  EXPECT_EQ(m["pareto"]["accounts"], 1);
  EXPECT_DOUBLE_EQ(m["pareto"]["share_of_accounts"].get<double>(), 0.2);
  EXPECT_EQ(m["pareto"]["curve"].front(), json::array({0.0, 0.0}));
  EXPECT_EQ(m["pareto"]["curve"].back(), json::array({1.0, 1.0}));
}

TEST(ReportModel, ParetoCurveIsDownsampledForLargePortfolios) {
  ReportData d = Portfolio();
  d.accounts.clear();
  for (int i = 0; i < 3000; ++i)
    d.accounts.push_back(Account(std::to_string(i), "o", 10, "standard", i));
  json m = BuildReportModel(d);
  EXPECT_LE(m["pareto"]["curve"].size(), 102u);
  EXPECT_EQ(m["pareto"]["curve"].back()[0], 1.0);
}

TEST(ReportModel, MoversAreSortedByTheSizeOfTheChange) {
  ReportData d = Portfolio();
  d.accounts[0].previous_score = 790;
  d.accounts[1].previous_score = 760;
  d.accounts[1].previous_tier = "strategic";
  d.accounts[2].previous_score = 500;  // unchanged: not a mover
  json m = BuildReportModel(d);
  ASSERT_EQ(m["movers"]["total"], 2);
  EXPECT_EQ(m["movers"]["rows"][0]["id"], "2");
  EXPECT_EQ(m["movers"]["rows"][0]["delta"], -110);
  EXPECT_EQ(m["movers"]["rows"][0]["from_tier"], "Strategic key account");
}

TEST(ReportModel, AttentionListsKeyAccountsThatAreRedOrDroppedATier) {
  ReportData d = Portfolio();
  d.accounts[0].health = {{"relationship", "Relationship", "red"}};
  d.accounts[1].previous_score = 760;
  d.accounts[1].previous_tier = "strategic";
  d.accounts[2].health = {{"relationship", "Relationship", "red"}};  // development: not key
  json m = BuildReportModel(d);
  const json& k = m["kams"][0];
  EXPECT_EQ(k["attention_total"], 2);
  EXPECT_EQ(k["attention"][0]["reasons"][0], "Relationship is red");
  EXPECT_EQ(k["attention"][1]["reasons"][0], "dropped from Strategic key account");
}

TEST(ReportModel, HealthCountsEachStatusPerIndicator) {
  ReportData d = Portfolio();
  d.accounts[0].health = {{"payment", "Payment", "red"}};
  d.accounts[1].health = {{"payment", "Payment", "green"}};
  d.accounts[2].health = {{"payment", "Payment", "green"}};
  json m = BuildReportModel(d);
  ASSERT_EQ(m["health"].size(), 1u);
  EXPECT_EQ(m["health"][0]["green"], 2);
  EXPECT_EQ(m["health"][0]["red"], 1);
  EXPECT_EQ(m["health"][0]["amber"], 0);
}

TEST(ReportModel, ScoreDistributionCoversEveryAccountAndMarksTierThresholds) {
  json m = BuildReportModel(Portfolio());
  int64_t total = 0;
  for (const auto& b : m["scores"]["buckets"]) total += b["accounts"].get<int64_t>();
  EXPECT_EQ(total, 5);
  EXPECT_EQ(m["scores"]["thresholds"].size(), 3u);  // the standard tier starts at 0
}

TEST(ReportModel, CappedAccountsKeepTheirReason) {
  ReportData d = Portfolio();
  d.accounts[1].capped_reason = "strategic is full for o1 (3 per KAM)";
  json m = BuildReportModel(d);
  ASSERT_EQ(m["capped"]["total"], 1);
  EXPECT_EQ(m["capped"]["rows"][0]["reason"], "strategic is full for o1 (3 per KAM)");
}

TEST(ReportModel, CappedReasonsNameTheOwnerInsteadOfTheirId) {
  ReportData d = Portfolio();
  d.owner_names = {{"o1", "Ada Lovelace"}};
  d.accounts[1].capped_reason = "capacity per owner (10) reached for owner o1";
  d.accounts[2].capped_reason = "reached for owner o11";  // another owner: left alone
  json m = BuildReportModel(d);
  EXPECT_EQ(m["capped"]["rows"][0]["reason"], "capacity per owner (10) reached for Ada Lovelace");
  EXPECT_EQ(m["capped"]["rows"][1]["reason"], "reached for owner o11");
}

TEST(ReportModel, CountOfUsesSingularForOne) {
  EXPECT_EQ(CountOf(1, "account"), "1 account");
  EXPECT_EQ(CountOf(0, "account"), "0 accounts");
  EXPECT_EQ(CountOf(2, "key account"), "2 key accounts");
  EXPECT_EQ(CountOf(3, "person", "people"), "3 people");
}

TEST(ReportModel, GoalAttainmentIsCountedPerTierAndGoalAndPerKam) {
  ReportData d = Portfolio();
  d.accounts[0].goals = {{"contacts", "Active contacts", "met"}, {"sponsor", "Sponsor", "not_met"}};
  d.accounts[1].goals = {{"contacts", "Active contacts", "unknown"}, {"sponsor", "Sponsor", "met"}};
  d.accounts[4].goals = {{"contacts", "Active contacts", "not_met"}};  // o2, standard
  json m = BuildReportModel(d);
  const json& tiers = m["goals"]["tiers"];
  ASSERT_EQ(tiers.size(), 3u);  // strategic, key, standard: tiers without goals are left out
  EXPECT_EQ(tiers[0]["tier"], "strategic");
  EXPECT_EQ(tiers[0]["goals"][0], (json{{"id", "contacts"},
                                        {"label", "Active contacts"},
                                        {"met", 1},
                                        {"not_met", 0},
                                        {"unknown", 0},
                                        {"compared", 0},  // no run before known
                                        {"previous_met", 0},
                                        {"compared_met", 0}}));
  EXPECT_EQ(tiers[0]["goals"][1]["not_met"], 1);
  EXPECT_EQ(tiers[1]["goals"][0]["unknown"], 1);
  EXPECT_EQ(tiers[2]["tier"], "standard");
  EXPECT_EQ(m["kams"][0]["owner_id"], "o1");
  EXPECT_EQ(m["kams"][0]["goals"], (json{{"met", 2}, {"not_met", 1}, {"unknown", 1}}));
  EXPECT_EQ(m["kams"][1]["goals"], (json{{"met", 0}, {"not_met", 1}, {"unknown", 0}}));
  EXPECT_TRUE(m["goals"]["trend"].is_null());  // no attainment of the run before is known
  EXPECT_NE(m["goals"]["trend_note"].get<std::string>().find("No goal trend yet"),
            std::string::npos);
}

TEST(ReportModel, GoalTrendComparesEachAccountWithTheRunBeforePerTierAndPerKam) {
  ReportData d = Portfolio();
  // 1 (strategic, o1): contacts met now, not then: up.
  d.accounts[0].goals = {{"contacts", "Active contacts", "met"}, {"sponsor", "Sponsor", "met"}};
  d.accounts[0].previous_goals = {{{"contacts", "not_met"}, {"sponsor", "met"}}};
  // 2 (key, o1): the sponsor was lost: down, and a key account needing attention.
  d.accounts[1].goals = {{"contacts", "Active contacts", "met"}, {"sponsor", "Sponsor", "not_met"}};
  d.accounts[1].previous_goals = {{{"contacts", "met"}, {"sponsor", "met"}}};
  // 5 (standard, o2): goals now, none recorded then: not compared.
  d.accounts[4].goals = {{"contacts", "Active contacts", "not_met"}};
  // 3 (development, o1): no goals then or now: nothing to compare, not counted.
  d.accounts[2].previous_goals = std::map<std::string, std::string>{};
  json m = BuildReportModel(d);
  const json& g = m["goals"];
  ASSERT_TRUE(g["trend"].is_object());
  EXPECT_EQ(g["trend"]["up"], 1);
  EXPECT_EQ(g["trend"]["down"], 1);
  EXPECT_EQ(g["trend"]["same"], 0);
  EXPECT_EQ(g["trend"]["not_compared"], 1);
  EXPECT_EQ(g["trend"]["down_total"], 1);
  EXPECT_EQ(g["trend"]["down_accounts"][0]["id"], "2");
  EXPECT_EQ(g["trend"]["down_accounts"][0]["from"], 2);
  EXPECT_EQ(g["trend"]["down_accounts"][0]["to"], 1);
  EXPECT_NE(g["trend_note"].get<std::string>().find("1 account with goals had no attainment"),
            std::string::npos)
      << g["trend_note"];
  const json& strategic = g["tiers"][0];
  EXPECT_EQ(strategic["trend"], (json{{"up", 1}, {"down", 0}, {"same", 0}}));
  EXPECT_EQ(strategic["goals"][0]["id"], "contacts");
  EXPECT_EQ(strategic["goals"][0]["compared"], 1);
  EXPECT_EQ(strategic["goals"][0]["previous_met"], 0);
  EXPECT_EQ(strategic["goals"][0]["compared_met"], 1);
  const json& key = g["tiers"][1];
  EXPECT_EQ(key["goals"][1]["id"], "sponsor");
  EXPECT_EQ(key["goals"][1]["previous_met"], 1);
  EXPECT_EQ(key["goals"][1]["compared_met"], 0);
  const json& standard = g["tiers"][2];
  EXPECT_EQ(standard["goals"][0]["compared"], 0);
  EXPECT_EQ(m["kams"][0]["goals_trend"], (json{{"up", 1}, {"down", 1}, {"same", 0}}));
  EXPECT_EQ(m["kams"][1]["goals_trend"], (json{{"up", 0}, {"down", 0}, {"same", 0}}));
  const json& attention = m["kams"][0]["attention"];
  ASSERT_EQ(attention.size(), 1u);
  EXPECT_EQ(attention[0]["id"], "2");
  EXPECT_EQ(attention[0]["reasons"][0], "goals met down from 2 to 1");
}

TEST(ReportModel, HistoryGivesThePreviousScoreAndTheGoalsOfTheRunBefore) {
  using store::HistoryRow;
  // Run 1 scored 500, run 2 scored 600 (goals recorded), run 3 changed only the goals.
  std::vector<HistoryRow> h = {{"1", 1, 500, "development", 1000, ""},
                               {"1", 2, 600, "key", 2000, R"({"sponsor":"not_met"})"},
                               {"1", 3, 600, "key", 3000, R"({"sponsor":"met"})"}};
  const HistoryRow* prev = PreviousScoreRow(h);
  ASSERT_NE(prev, nullptr);
  EXPECT_EQ(prev->run_id, 1);  // a goals-only row does not hide the last score move
  EXPECT_EQ(PreviousScoreRow({h[0]}), nullptr);
  // Evaluated by run 3: the run before recorded the sponsor not met.
  EXPECT_EQ(PreviousGoals(h, 3000), (std::map<std::string, std::string>{{"sponsor", "not_met"}}));
  // Evaluated by a run 4 that changed nothing (no row): the run before is run 3.
  EXPECT_EQ(PreviousGoals(h, 4000), (std::map<std::string, std::string>{{"sponsor", "met"}}));
  // Evaluated by run 2: run 1 recorded no goals (before schema version 5): not known.
  EXPECT_EQ(PreviousGoals(h, 2000), std::nullopt);
  EXPECT_EQ(PreviousGoals(h, 1000), std::nullopt);  // a first run
}

TEST(ReportModel, TheTaskBudgetShowsWhatTheLastSyncLeftOutWithTheReasonNamingTheOwner) {
  ReportData d = Portfolio();
  EXPECT_TRUE(BuildReportModel(d)["task_budget"].is_null());  // no budget: no section
  d.owner_names = {{"o1", "Ada Lovelace"}};
  d.budget.max_open_per_owner = 2;
  d.budget.dropped_total = 1;
  d.budget.owners = {{"o1", 2, 1, 0, 1}};
  d.budget.dropped = {{"3", "Company 3", "o1", "Check in", "low",
                       "task budget: owner o1 has 2 open tasks and a budget of 2"}};
  json b = BuildReportModel(d)["task_budget"];
  EXPECT_EQ(b["max_open_per_owner"], 2);
  EXPECT_EQ(b["dropped_total"], 1);
  EXPECT_EQ(b["owners"][0]["name"], "Ada Lovelace");
  EXPECT_EQ(b["dropped"][0]["reason"],
            "task budget: Ada Lovelace has 2 open tasks and a budget of 2");
}

}  // namespace
}  // namespace kam::engine
