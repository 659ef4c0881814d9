// The example rule file packaging/examples/rules/key-accounts.json: it loads, its own tests pass,
// its mapping asks HubSpot for the documented properties and aggregates, and explain/next-tier
// read well for a person.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

using nlohmann::json;

const std::string kExample =
    std::string(KAM_SOURCE_DIR) + "/packaging/examples/rules/key-accounts.json";

std::shared_ptr<const RuleSet> LoadExample() {
  LoadResult r = RuleSet::LoadFile(kExample);
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.rules;
}

TEST(ExampleRules, LoadWithoutProblems) {
  auto rules = LoadExample();
  ASSERT_NE(rules, nullptr);
  EXPECT_FALSE(rules->bench_shape());
  EXPECT_EQ(rules->tiers().size(), 4u);
  EXPECT_EQ(rules->version(), "2026.11-1");
  EXPECT_EQ(rules->hash().size(), 16u);
}

TEST(ExampleRules, OwnTestsPass) {
  auto rules = LoadExample();
  ASSERT_NE(rules, nullptr);
  TestReport report = RunEmbeddedTests(*rules);
  EXPECT_GE(report.passed, 4);
  EXPECT_EQ(report.failed, 0) << report.ToText();
}

TEST(ExampleRules, HubspotNeedsTheDocumentedPropertiesAndAggregates) {
  auto rules = LoadExample();
  ASSERT_NE(rules, nullptr);
  CrmNeeds needs = rules->Needs("hubspot");
  for (const char* p : {"annualrevenue", "numberofemployees", "gross_margin_pct", "nps",
                        "avg_days_to_pay", "industry", "name"}) {
    EXPECT_NE(std::find(needs.properties.begin(), needs.properties.end(), p),
              needs.properties.end())
        << p;
  }
  for (const char* a :
       {"deals.won_amount_last_12m", "deals.won_amount_prev_12m", "contacts.active_count",
        "contacts.exec_sponsor", "meetings.days_since_last"}) {
    EXPECT_NE(std::find(needs.aggregates.begin(), needs.aggregates.end(), a),
              needs.aggregates.end())
        << a;
  }
  EXPECT_TRUE(std::is_sorted(needs.properties.begin(), needs.properties.end()));
  // The same file maps Salesforce (Account fields, the same aggregate names).
  CrmNeeds sf = rules->Needs("salesforce");
  for (const char* p : {"AnnualRevenue", "NumberOfEmployees", "Gross_Margin_Pct__c", "NPS__c",
                        "Industry", "Name"}) {
    EXPECT_NE(std::find(sf.properties.begin(), sf.properties.end(), p), sf.properties.end()) << p;
  }
  EXPECT_EQ(sf.aggregates, needs.aggregates);
  EXPECT_EQ(rules->Needs("zoho").properties.size(), 0u);
}

TEST(ExampleRules, WritebackHasTheDefaultPropertiesForHubspot) {
  auto rules = LoadExample();
  ASSERT_NE(rules, nullptr);
  std::vector<WritebackField> wb = rules->Writeback("hubspot");
  std::vector<std::string> properties;
  for (const auto& f : wb) properties.push_back(f.property);
  EXPECT_EQ(properties, (std::vector<std::string>{"kam_score", "kam_tier", "kam_breakdown",
                                                  "kam_next_tier_hint", "kam_rules_version",
                                                  "kam_scored_at", "kam_card_json"}));
  EXPECT_EQ(wb[1].type, "enumeration");
}

TEST(ExampleRules, MapAccountConvertsCrmStringsAndTreatsEmptyAsAbsent) {
  auto rules = LoadExample();
  ASSERT_NE(rules, nullptr);
  json properties = {{"name", "Huber GmbH"},         {"numberofemployees", "6000"},
                     {"gross_margin_pct", " 38.5 "}, {"nps", ""},
                     {"avg_days_to_pay", nullptr},   {"tenure_years", "abc"},
                     {"industry", "Machinery"}};
  json aggregates = {{"deals.won_amount_last_12m", 8000000},
                     {"contacts.exec_sponsor", true},
                     {"meetings.days_since_last", nullptr},
                     {"contacts.active_count", 7}};
  std::vector<std::string> warnings;
  Account a =
      rules->MapAccount("hubspot", "42", "7", properties, aggregates, 1764000000, &warnings);
  auto value = [&](const char* field) { return a.values[rules->FieldIndex(field)]; };
  EXPECT_EQ(a.id, "42");
  EXPECT_EQ(a.owner_id, "7");
  EXPECT_EQ(value("employees").kind, FieldValue::Kind::kNumber);
  EXPECT_EQ(value("employees").number, 6000);
  EXPECT_EQ(value("gross_margin_pct").number, 38.5);
  EXPECT_EQ(value("nps").kind, FieldValue::Kind::kAbsent);
  EXPECT_EQ(value("avg_days_to_pay").kind, FieldValue::Kind::kAbsent);
  EXPECT_EQ(value("tenure_years").kind, FieldValue::Kind::kAbsent);
  EXPECT_EQ(value("has_exec_sponsor").kind, FieldValue::Kind::kBool);
  EXPECT_TRUE(value("has_exec_sponsor").boolean);
  EXPECT_EQ(value("days_since_last_meeting").kind, FieldValue::Kind::kAbsent);
  EXPECT_EQ(value("revenue_last_12m").number, 8000000);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("tenure_years"), std::string::npos);
  AccountResult result;
  ASSERT_TRUE(rules->Evaluate(a, &result).ok());
  EXPECT_EQ(result.account_id, "42");
}

TEST(ExampleRules, ExplainShowsCriteriaTierTasksAndTheNextTier) {
  auto rules = LoadExample();
  ASSERT_NE(rules, nullptr);
  json account = {{"id", "T-2"},
                  {"owner_id", "101"},
                  {"name", "Autoteile Berger AG"},
                  {"industry", "Automotive"},
                  {"employees", 1200},
                  {"revenue_last_12m", 2500000},
                  {"revenue_prev_12m", 2400000},
                  {"gross_margin_pct", 36},
                  {"avg_days_to_pay", 40},
                  {"tenure_years", 5},
                  {"active_contacts", 1},
                  {"has_exec_sponsor", false},
                  {"days_since_last_meeting", 120}};
  Account a;
  ASSERT_TRUE(rules->AccountFromJson(account, &a).ok());
  Status st;
  json e = Explain(*rules, a, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(e["tier"], "key");
  EXPECT_EQ(e["score"], 630);
  ASSERT_EQ(e["criteria"].size(), 6u);
  EXPECT_EQ(e["criteria"][4]["id"], "relationship_depth");
  EXPECT_EQ(e["criteria"][4]["inputs"]["account.active_contacts"], 1);
  EXPECT_EQ(e["tasks"].size(), 3u);
  EXPECT_EQ(e["tasks"][0]["title"], "Win an executive sponsor at Autoteile Berger AG");
  EXPECT_EQ(e["tasks"][0]["why"]["account.has_exec_sponsor"], false);
  // 630 -> strategic needs 750: +120 points. relationship_depth (weight 20) 2 -> 8 is 6 points;
  // no single criterion gets there with fewer points, and the greedy mix needs 6 as well.
  EXPECT_EQ(e["next_tier"]["to"], "strategic");
  EXPECT_TRUE(e["next_tier"]["reachable"]);
  double points = 0;
  for (const auto& c : e["next_tier"]["changes"]) {
    points += c["to"].get<double>() - c["from"].get<double>();
  }
  EXPECT_EQ(points, 6);
  std::string text = e["text"];
  EXPECT_NE(text.find("relationship_depth"), std::string::npos);
  EXPECT_NE(text.find("Next tier:"), std::string::npos);
}

}  // namespace
}  // namespace kam::rules

namespace kam::rules {
namespace {

// The example in rules/README.md ("The rule file") is a valid rule file whose tests pass.
TEST(ReadmeExample, IsAValidRuleFileWhoseTestsPass) {
  std::ifstream in(std::string(KAM_SOURCE_DIR) + "/rules/README.md");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string readme = buffer.str();
  size_t section = readme.find("## The rule file");
  ASSERT_NE(section, std::string::npos);
  size_t start = readme.find("```json\n", section);
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = readme.find("```", start);
  LoadResult r = RuleSet::LoadText(readme.substr(start, end - start), "README.md");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(r.ok());
  TestReport report = RunEmbeddedTests(*r.rules);
  EXPECT_EQ(report.passed, 1);
  EXPECT_EQ(report.failed, 0) << report.ToText();
}

}  // namespace
}  // namespace kam::rules

namespace kam::rules {
namespace {

TEST(ExampleRules, TasksAndHealthFollowTheTierAfterCapacities) {
  LoadResult loaded = RuleSet::LoadFile(kExample);
  ASSERT_TRUE(loaded.ok());
  auto rules = loaded.rules;
  nlohmann::json j = {{"id", "T-2"},
                      {"owner_id", "101"},
                      {"name", "Autoteile Berger AG"},
                      {"industry", "Automotive"},
                      {"employees", 1200},
                      {"revenue_last_12m", 2500000},
                      {"revenue_prev_12m", 2400000},
                      {"gross_margin_pct", 36},
                      {"avg_days_to_pay", 40},
                      {"tenure_years", 5},
                      {"active_contacts", 1},
                      {"has_exec_sponsor", false},
                      {"days_since_last_meeting", 120}};
  Account account;
  ASSERT_TRUE(rules->AccountFromJson(j, &account).ok());
  Evaluator evaluator(rules);
  AccountResult result;
  ASSERT_TRUE(evaluator.Evaluate(account, &result).ok());
  ASSERT_EQ(result.tier, "key");
  ASSERT_EQ(result.tasks.size(), 3u);
  ASSERT_EQ(result.goals.size(), 4u);
  EXPECT_EQ(result.health[0].status, "red");
  // Not capped: nothing changes.
  ASSERT_TRUE(evaluator.ApplyFinalTier(account, &result).ok());
  EXPECT_EQ(result.tasks.size(), 3u);
  // Capped from key to development: the key-tier tasks, goals and the red relationship go away
  // (the example aims tasks and goals at the key tiers only).
  result.final_tier = "development";
  result.capped_reason = "tier key total capacity (0) reached";
  ASSERT_TRUE(evaluator.ApplyFinalTier(account, &result).ok());
  EXPECT_TRUE(result.tasks.empty());
  EXPECT_TRUE(result.goals.empty());
  EXPECT_EQ(result.health[0].status, "amber");
  EXPECT_EQ(result.tier, "key");
  EXPECT_EQ(result.score, 630);
  EXPECT_EQ(result.capped_reason, "tier key total capacity (0) reached");
  result.final_tier = "nonsense";
  EXPECT_FALSE(evaluator.ApplyFinalTier(account, &result).ok());
}

}  // namespace
}  // namespace kam::rules
