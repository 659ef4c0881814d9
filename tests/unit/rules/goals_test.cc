// Goals per tier (`goals` in a rule file): validation with file:line:col and JSON pointer, and
// attainment (met / not_met / unknown, with the value and the target) for CRM values that are
// strings, null, empty or not numbers; goals follow the tier after capacities.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

using nlohmann::json;

const char* kGoalRules = R"({
  "name": "g",
  "version": "1",
  "mapping": {"hubspot": {
    "revenue": {"property": "rev", "type": "number"},
    "revenue_prev": {"property": "rev_prev", "type": "number"},
    "contacts": {"property": "contacts", "type": "number"},
    "contacts_text": {"property": "contacts_text", "type": "string"},
    "sponsor": {"property": "sponsor", "type": "bool"},
    "days_since_meeting": {"property": "days_since_meeting", "type": "number", "unit": "days"},
    "segment": {"property": "segment", "type": "string"}}},
  "criteria": [
    {"id": "value", "weight": 100, "score": {"if": [{">": [{"var": "account.revenue"}, 100]}, 10, 1]}}
  ],
  "tiers": [
    {"id": "key", "label": "Key account", "min_score": 700},
    {"id": "other", "min_score": 0}
  ],
  "goals": [
    {"id": "contacts", "label": "Active contacts", "field": "contacts", "at_least": {"key": 3}},
    {"id": "contacts_text", "field": "contacts_text", "at_least": {"key": 3}},
    {"id": "sponsor", "label": "Executive sponsor", "field": "sponsor", "equals": {"key": true},
     "if_absent": "not_met"},
    {"id": "cadence", "field": "days_since_meeting", "at_most": {"key": 30, "other": 90}},
    {"id": "segment", "field": "segment", "equals": {"key": "enterprise"}},
    {"id": "growth", "unit": "%", "at_least": {"key": 5},
     "value": {"if": [{">": [{"var": ["account.revenue_prev", 0]}, 0]},
                      {"*": [100, {"-": [{"/": [{"var": ["account.revenue", 0]},
                                                {"var": "account.revenue_prev"}]}, 1]}]},
                      null]}}
  ]
})";

std::shared_ptr<const RuleSet> Load(const std::string& text) {
  LoadResult r = RuleSet::LoadText(text, "goals.json");
  std::string errors;
  for (const auto& e : r.errors) errors += e.ToString() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  return r.rules;
}

// Evaluates a HubSpot record (property values as the CRM sends them) and returns its goals by id.
std::map<std::string, GoalResult> GoalsOf(const RuleSet& rules, const json& properties) {
  Account a = rules.MapAccount("hubspot", "1", "7", properties, json::object(), 1764000000);
  AccountResult result;
  Status st = rules.Evaluate(a, &result);
  EXPECT_TRUE(st.ok()) << st.message();
  std::map<std::string, GoalResult> out;
  for (const auto& g : result.goals) out[g.id] = g;
  return out;
}

TEST(RuleGoals, NumbersSentAsStringsAreComparedAsNumbers) {
  auto rules = Load(kGoalRules);
  ASSERT_NE(rules, nullptr);
  auto goals = GoalsOf(*rules, {{"rev", "5000"},
                                {"rev_prev", "4000"},
                                {"contacts", "4"},
                                {"contacts_text", " 3 "},
                                {"sponsor", "true"},
                                {"days_since_meeting", "12"},
                                {"segment", "enterprise"}});
  ASSERT_EQ(goals.size(), 6u);
  EXPECT_EQ(goals["contacts"].status, "met");
  EXPECT_EQ(goals["contacts"].value, "4");
  EXPECT_EQ(goals["contacts"].target, "3");
  EXPECT_EQ(goals["contacts"].comparison, "at_least");
  EXPECT_EQ(goals["contacts"].label, "Active contacts");
  EXPECT_EQ(goals["contacts_text"].status, "met");
  EXPECT_EQ(goals["contacts_text"].value, "\" 3 \"");
  EXPECT_EQ(goals["sponsor"].status, "met");
  EXPECT_EQ(goals["cadence"].status, "met");
  EXPECT_EQ(goals["cadence"].comparison, "at_most");
  EXPECT_EQ(goals["cadence"].unit, "days");  // from the field mapping
  EXPECT_EQ(goals["segment"].status, "met");
  EXPECT_EQ(goals["growth"].status, "met");
  EXPECT_EQ(goals["growth"].value, "25");
  EXPECT_EQ(goals["growth"].unit, "%");
}

TEST(RuleGoals, MissedTargetsAreNotMetWithTheValueAndTheTarget) {
  auto rules = Load(kGoalRules);
  ASSERT_NE(rules, nullptr);
  auto goals = GoalsOf(*rules, {{"rev", 3000},
                                {"rev_prev", 2900},
                                {"contacts", 2},
                                {"contacts_text", "2"},
                                {"sponsor", "false"},
                                {"days_since_meeting", 31},
                                {"segment", "smb"}});
  EXPECT_EQ(goals["contacts"].status, "not_met");
  EXPECT_EQ(goals["contacts"].value, "2");
  EXPECT_EQ(goals["contacts_text"].status, "not_met");
  EXPECT_EQ(goals["sponsor"].status, "not_met");
  EXPECT_EQ(goals["sponsor"].value, "false");
  EXPECT_EQ(goals["sponsor"].target, "true");
  EXPECT_EQ(goals["cadence"].status, "not_met");
  EXPECT_EQ(goals["segment"].status, "not_met");
  EXPECT_EQ(goals["growth"].status, "not_met");
  EXPECT_EQ(goals["growth"].value, "3.45");  // 3.448...: two decimals for people
}

TEST(RuleGoals, NullEmptyAndNonNumericValuesAreUnknownUnlessAbsentMeansNotMet) {
  auto rules = Load(kGoalRules);
  ASSERT_NE(rules, nullptr);
  auto goals = GoalsOf(*rules, {{"rev", "5000"},
                                {"rev_prev", nullptr},
                                {"contacts", "abc"},
                                {"contacts_text", "many"},
                                {"sponsor", ""},
                                {"days_since_meeting", nullptr},
                                {"segment", ""}});
  EXPECT_EQ(goals["contacts"].status, "unknown");  // "abc" is not a number: absent
  EXPECT_EQ(goals["contacts"].value, "null");
  EXPECT_EQ(goals["contacts_text"].status, "unknown");  // a text that is not a number
  EXPECT_EQ(goals["contacts_text"].value, "\"many\"");
  EXPECT_EQ(goals["sponsor"].status, "not_met");  // "if_absent": "not_met"
  EXPECT_EQ(goals["sponsor"].value, "null");
  EXPECT_EQ(goals["cadence"].status, "unknown");
  EXPECT_EQ(goals["segment"].status, "unknown");
  EXPECT_EQ(goals["growth"].status, "unknown");  // the expression gives null
  EXPECT_EQ(goals["growth"].value, "null");
}

TEST(RuleGoals, TypedAccountsWithStringsAndNullsGiveTheSameAttainment) {
  auto rules = Load(kGoalRules);
  ASSERT_NE(rules, nullptr);
  Account a;
  ASSERT_TRUE(rules
                  ->AccountFromJson({{"id", "x"},
                                     {"revenue", 5000},
                                     {"contacts_text", ""},
                                     {"contacts", nullptr},
                                     {"sponsor", true}},
                                    &a)
                  .ok());
  AccountResult r;
  ASSERT_TRUE(rules->Evaluate(a, &r).ok());
  std::map<std::string, std::string> status;
  for (const auto& g : r.goals) status[g.id] = g.status;
  EXPECT_EQ(status["contacts"], "unknown");
  EXPECT_EQ(status["contacts_text"], "unknown");
  EXPECT_EQ(status["sponsor"], "met");
}

TEST(RuleGoals, OnlyTheGoalsOfTheAccountsTierApplyAndTheyFollowTheFinalTier) {
  auto rules = Load(kGoalRules);
  ASSERT_NE(rules, nullptr);
  Account a = rules->MapAccount("hubspot", "1", "7", {{"rev", 50}, {"days_since_meeting", 60}},
                                json::object(), 1764000000);
  AccountResult r;
  ASSERT_TRUE(rules->Evaluate(a, &r).ok());
  ASSERT_EQ(r.tier, "other");
  ASSERT_EQ(r.goals.size(), 1u);  // only "cadence" has a target for "other"
  EXPECT_EQ(r.goals[0].id, "cadence");
  EXPECT_EQ(r.goals[0].target, "90");
  EXPECT_EQ(r.goals[0].status, "met");

  Account k = rules->MapAccount("hubspot", "2", "7", {{"rev", 500}, {"days_since_meeting", 60}},
                                json::object(), 1764000000);
  Evaluator evaluator(rules);
  ASSERT_TRUE(evaluator.Evaluate(k, &r).ok());
  ASSERT_EQ(r.tier, "key");
  EXPECT_EQ(r.goals.size(), 6u);
  r.final_tier = "other";  // capped by the portfolio pass
  ASSERT_TRUE(evaluator.ApplyFinalTier(k, &r).ok());
  ASSERT_EQ(r.goals.size(), 1u);
  EXPECT_EQ(r.goals[0].id, "cadence");
  EXPECT_EQ(r.goals[0].status, "met");  // 60 <= 90 for "other"
  json j = r.ToJson();
  ASSERT_EQ(j["goals"].size(), 1u);
  EXPECT_EQ(j["goals"][0]["value"], 60);
  EXPECT_EQ(j["goals"][0]["target"], 90);
}

TEST(RuleGoals, ExplainListsEachGoalWithValueAndTarget) {
  auto rules = Load(kGoalRules);
  ASSERT_NE(rules, nullptr);
  Account a =
      rules->MapAccount("hubspot", "1", "7", {{"rev", 500}, {"contacts", "1"}, {"sponsor", "yes"}},
                        json::object(), 1764000000);
  Status st;
  json e = Explain(*rules, a, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(e["goals"].size(), 6u);
  EXPECT_EQ(e["goals"][0]["id"], "contacts");
  EXPECT_EQ(e["goals"][0]["status"], "not_met");
  EXPECT_EQ(e["goals"][0]["value"], 1);
  EXPECT_EQ(e["goals"][0]["target"], 3);
  std::string text = e["text"];
  EXPECT_NE(text.find("Goals for tier key (6):"), std::string::npos) << text;
  EXPECT_NE(text.find("Active contacts: NOT met  (at_least 3, value 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Executive sponsor: met"), std::string::npos) << text;
}

TEST(RuleGoals, EmbeddedTestsCompareGoalAttainment) {
  json doc = json::parse(kGoalRules);
  doc["tests"] = {{{"name", "key account"},
                   {"account", {{"id", "t"}, {"revenue", 500}, {"contacts", 5}}},
                   {"expect", {{"goals", {{"contacts", "met"}, {"sponsor", "met"}}}}}},
                  {{"name", "other account"},
                   {"account", {{"id", "u"}, {"revenue", 5}}},
                   {"expect", {{"goals", {{"contacts", "met"}}}}}}};
  auto rules = Load(doc.dump());
  ASSERT_NE(rules, nullptr);
  TestReport report = RunEmbeddedTests(*rules);
  ASSERT_EQ(report.results.size(), 2u);
  ASSERT_EQ(report.results[0].diffs.size(), 1u) << report.ToText();
  EXPECT_EQ(report.results[0].diffs[0],
            "goals.sponsor: expected \"met\", got \"not_met\" (value null)");
  ASSERT_EQ(report.results[1].diffs.size(), 1u) << report.ToText();
  EXPECT_NE(report.results[1].diffs[0].find("has no target for tier other"), std::string::npos);
}

const Diagnostic* Find(const std::vector<Diagnostic>& errors, const std::string& pointer,
                       const std::string& part) {
  for (const auto& e : errors) {
    if (e.pointer == pointer && e.message.find(part) != std::string::npos) return &e;
  }
  return nullptr;
}

TEST(RuleGoals, InvalidGoalsAreReportedWithPositions) {
  const std::string text = R"({
  "name": "g", "version": "1",
  "mapping": {"hubspot": {"contacts": {"property": "c"}, "sponsor": {"property": "s", "type": "bool"}}},
  "criteria": [{"id": "v", "weight": 1, "score": 5}],
  "tiers": [{"id": "key", "min_score": 7}, {"id": "other", "min_score": 0}],
  "goals": [
    {"id": "a", "field": "contact", "at_least": {"kee": 3}},
    {"id": "b", "field": "contacts", "value": 3, "at_least": {"key": "3"}},
    {"id": "c", "field": "sponsor", "at_least": {"key": 1}},
    {"id": "d", "field": "sponsor", "equals": {"key": "yes"}, "if_absent": "maybe"},
    {"id": "e", "value": {"var": "account.contactz"}},
    {"id": "a", "field": "contacts", "at_most": {}, "equals": {"key": 1}}
  ],
  "tests": [{"name": "t", "account": {"id": "x"}, "expect": {"goals": {"z": "met", "a": "ok"}}}]
})";
  LoadResult r = RuleSet::LoadText(text, "bad-goals.json");
  ASSERT_FALSE(r.ok());
  std::string all;
  for (const auto& e : r.errors) all += e.ToString() + "\n";
  const Diagnostic* d = Find(r.errors, "/goals/0/field", "did you mean \"contacts\"");
  ASSERT_NE(d, nullptr) << all;
  EXPECT_EQ(d->file, "bad-goals.json");
  EXPECT_EQ(d->line, 7);
  EXPECT_GT(d->col, 1);
  EXPECT_NE(Find(r.errors, "/goals/0/at_least/kee", "did you mean \"key\""), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/1", "exactly one of \"field\""), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/1/at_least/key", "is a number"), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/2/at_least", "type bool"), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/3/equals/key", "does not fit the field's type bool"), nullptr)
      << all;
  EXPECT_NE(Find(r.errors, "/goals/3/if_absent", "\"not_met\""), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/4/value/var", "no mapping provides account field"), nullptr)
      << all;
  EXPECT_NE(Find(r.errors, "/goals/4", "exactly one of \"at_least\""), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/5/id", "duplicate goal id"), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/5", "exactly one of \"at_least\""), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/goals/5/at_most", "no tier named"), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/tests/0/expect/goals/z", "unknown key"), nullptr) << all;
  EXPECT_NE(Find(r.errors, "/tests/0/expect/goals/a", "\"not_met\""), nullptr) << all;
  for (const auto& e : r.errors) EXPECT_GT(e.line, 0) << e.ToString();
}

TEST(RuleGoals, TheExampleRuleFileHasGoalsForItsKeyTiersOnly) {
  LoadResult r = RuleSet::LoadFile(std::string(KAM_SOURCE_DIR) +
                                   "/packaging/examples/rules/key-accounts.json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rules->goal_ids(), (std::vector<std::string>{"active_contacts", "exec_sponsor",
                                                           "meeting_cadence", "revenue_growth"}));
  EXPECT_TRUE(RunEmbeddedTests(*r.rules).ok()) << RunEmbeddedTests(*r.rules).ToText();
}

}  // namespace
}  // namespace kam::rules
