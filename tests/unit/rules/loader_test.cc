// Loading and validating rule files: syntax and semantic errors with file:line:col and JSON
// pointer, all in one run, "did you mean", hostile nesting, and run-time range errors.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

using nlohmann::json;

// 1-based line and column of the first occurrence of `needle` in `text`.
std::pair<int, int> PosOf(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, static_cast<int>(at - line_start) + 1};
}

const Diagnostic* Find(const std::vector<Diagnostic>& errors, const std::string& pointer,
                       const std::string& message_part) {
  for (const auto& e : errors) {
    if (e.pointer == pointer && e.message.find(message_part) != std::string::npos) return &e;
  }
  return nullptr;
}

std::string Dump(const std::vector<Diagnostic>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

const char* kValid = R"({
  "name": "t",
  "version": "1",
  "mapping": {"hubspot": {"revenue": {"property": "rev", "type": "number"},
                          "name": {"property": "name", "type": "string"}}},
  "criteria": [
    {"id": "value", "weight": 60, "score": {"if": [{">": [{"var": "account.revenue"}, 100]}, 10, 1]}},
    {"id": "fit", "weight": 40, "score": 5}
  ],
  "tiers": [
    {"id": "A", "min_score": 700, "capacity": {"per_owner": 1, "total": 2}},
    {"id": "B", "min_score": 0}
  ],
  "tasks": [{"id": "call", "title": "Call {{account.name}}", "when": {"==": [{"var": "kam.tier"}, "A"]}}]
})";

TEST(Loader, AcceptsAMinimalValidFile) {
  LoadResult r = RuleSet::LoadText(kValid, "valid.json");
  ASSERT_TRUE(r.ok()) << Dump(r.errors);
  EXPECT_EQ(r.rules->name(), "t");
  // Fields are ordered by name within a CRM mapping.
  EXPECT_EQ(r.rules->account_fields(), (std::vector<std::string>{"name", "revenue"}));
  Account a;
  ASSERT_TRUE(r.rules->AccountFromJson({{"id", "x"}, {"revenue", 500}, {"name", "Acme"}}, &a).ok());
  AccountResult res;
  ASSERT_TRUE(r.rules->Evaluate(a, &res).ok());
  EXPECT_EQ(res.score, 60 * 10 + 40 * 5);
  EXPECT_EQ(res.tier, "A");
  ASSERT_EQ(res.tasks.size(), 1u);
  EXPECT_EQ(res.tasks[0].title, "Call Acme");
  EXPECT_EQ(res.tasks[0].priority, "medium");
  ASSERT_EQ(res.criteria[0].inputs.size(), 1u);
  EXPECT_EQ(res.criteria[0].inputs[0].path, "account.revenue");
  EXPECT_EQ(res.criteria[0].inputs[0].value, "500");
  EXPECT_EQ(res.receipt.rules_hash, r.rules->hash());
  EXPECT_EQ(res.receipt.input_hash.size(), 16u);
}

TEST(Loader, ReportsASyntaxErrorWithLineAndColumn) {
  std::string text = "{\n  \"name\": \"t\"\n  \"version\": \"1\"\n}";
  LoadResult r = RuleSet::LoadText(text, "broken.json");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  auto [line, col] = PosOf(text, "\"version\"");
  EXPECT_EQ(r.errors[0].line, line);
  EXPECT_EQ(r.errors[0].col, col);
  EXPECT_EQ(r.errors[0].file, "broken.json");
  EXPECT_NE(r.errors[0].message.find("expected ','"), std::string::npos);
  EXPECT_EQ(r.errors[0].ToString().rfind("broken.json:3:3: ", 0), 0u) << r.errors[0].ToString();
}

TEST(Loader, ReportsATrailingComma) {
  std::string text = "{\"name\": \"t\", \"criteria\": [1, 2, ]}";
  LoadResult r = RuleSet::LoadText(text, "f.json");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("trailing comma"), std::string::npos);
  EXPECT_EQ(r.errors[0].pointer, "/criteria/2");
}

TEST(Loader, ReportsEverySemanticErrorInOneRunWithPositionsAndSuggestions) {
  std::string text = R"({
  "name": "broken",
  "version": "1",
  "mapping": {"hubspot": {"revenue": {"aggregate": "deals.won_amount_last_12n", "type": "number"},
                          "name": {"property": "name", "type": "text"}}},
  "criteria": [
    {"id": "value", "wieght": 60, "score": {"var": "account.revenu"}},
    {"id": "value", "weight": -5, "score": 5},
    {"id": "fit", "weight": "40", "score": {"var": "kam.scores.fitt"}}
  ],
  "tiers": [
    {"id": "A", "min_score": 500},
    {"id": "B", "min_score": 700, "capacity": {"total": 3}}
  ],
  "tasks": [{"id": "call", "title": "Call {{account.nam}}", "priority": "urgent", "when": true}],
  "tier": "A",
  "tier": "B"
})";
  LoadResult r = RuleSet::LoadText(text, "broken.json");
  ASSERT_FALSE(r.ok());
  struct Expected {
    std::string pointer;
    std::string message;
    std::string needle;  // where the error must point
  };
  std::vector<Expected> expected = {
      {"/mapping/hubspot/revenue/aggregate",
       "unknown HubSpot aggregate \"deals.won_amount_last_12n\" (did you mean "
       "\"deals.won_amount_last_12m\"?)",
       "\"deals.won_amount_last_12n\""},
      {"/mapping/hubspot/name/type", "unknown type \"text\"", "\"text\""},
      {"/criteria/0/wieght", "unknown key \"wieght\" (did you mean \"weight\"?)", "\"wieght\""},
      {"/criteria/0", "missing required member \"weight\"", "{\"id\": \"value\", \"wieght\""},
      {"/criteria/0/score/var",
       "no mapping provides account field \"revenu\" (did you mean \"account.revenue\"?)",
       "\"account.revenu\""},
      {"/criteria/1/id", "duplicate criterion id \"value\"", "\"value\", \"weight\": -5"},
      {"/criteria/1/weight", "weight must be a positive number", "-5"},
      {"/criteria/2/weight", "\"weight\" must be a number", "\"40\""},
      {"/criteria/2/score/var", "there is no criterion \"fitt\"", "\"kam.scores.fitt\""},
      {"/tiers/1/min_score", "ordered from the highest min_score down", "700"},
      {"/tiers/1/capacity", "cannot have a capacity", "{\"total\": 3}"},
      {"/tasks/0/title", "placeholder {{account.nam}} names no known field (did you mean "
                         "{{account.name}}?)",
       "\"Call {{account.nam}}\""},
      {"/tasks/0/priority", "priority must be", "\"urgent\""},
      {"/tier", "duplicate key \"tier\"", "\"tier\": \"B\""},
  };
  for (const auto& want : expected) {
    const Diagnostic* got = Find(r.errors, want.pointer, want.message);
    if (got == nullptr) {
      ADD_FAILURE() << "missing error at " << want.pointer << ": " << want.message << "\ngot:\n"
                    << Dump(r.errors);
      continue;
    }
    auto [line, col] = PosOf(text, want.needle);
    EXPECT_EQ(got->line, line) << got->ToString();
    EXPECT_EQ(got->col, col) << got->ToString();
    EXPECT_EQ(got->file, "broken.json");
  }
}

TEST(Loader, RefusesAHundredThousandDeepFileQuicklyWithoutOverflowingTheStack) {
  std::string text = "{\"name\": \"deep\", \"criteria\": [{\"id\": \"x\", \"weight\": 1, \"score\": ";
  text += std::string(100000, '[') + std::string(100000, ']') + "}]}";
  auto start = std::chrono::steady_clock::now();
  LoadResult r = RuleSet::LoadText(text, "deep.json");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("nesting deeper than"), std::string::npos);
  EXPECT_LT(seconds, 2.0);
}

TEST(Loader, RefusesAFileLargerThanTheLimit) {
  LoadOptions options;
  options.max_file_bytes = 10;
  LoadResult r = RuleSet::LoadText(kValid, "big.json", options);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("larger than"), std::string::npos);
}

TEST(Loader, SaysWhenTheFileCannotBeOpened) {
  LoadResult r = RuleSet::LoadFile("/nonexistent/rules.json");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_NE(r.errors[0].message.find("cannot open"), std::string::npos);
}

TEST(Loader, ReportsInvalidJsonLogicAtTheExpression) {
  std::string text = kValid;
  text.replace(text.find("\"score\": 5"), 10, "\"score\": {\"frobnicate\": [1]}");
  LoadResult r = RuleSet::LoadText(text, "f.json");
  ASSERT_FALSE(r.ok());
  const Diagnostic* d = Find(r.errors, "/criteria/1/score", "Unknown Operator");
  ASSERT_NE(d, nullptr) << Dump(r.errors);
  EXPECT_EQ(d->line, PosOf(text, "{\"frobnicate\"").first);
}

TEST(Loader, ChecksEmbeddedTestsAgainstTheModel) {
  json doc = json::parse(kValid);
  doc["tests"] = json::array(
      {{{"name", "t1"},
        {"account", {{"revenu", 5}}},
        {"expect", {{"tier", "Z"}, {"tasks", {"cal"}}, {"scores", {{"valu", 1}}}}}}});
  LoadResult r = RuleSet::LoadText(doc.dump(2), "f.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Find(r.errors, "/tests/0/account/revenu", "did you mean \"revenue\""), nullptr)
      << Dump(r.errors);
  EXPECT_NE(Find(r.errors, "/tests/0/expect/tier", "tier ids"), nullptr) << Dump(r.errors);
  EXPECT_NE(Find(r.errors, "/tests/0/expect/tasks/0", "did you mean \"call\""), nullptr)
      << Dump(r.errors);
  EXPECT_NE(Find(r.errors, "/tests/0/expect/scores/valu", "did you mean \"value\""), nullptr)
      << Dump(r.errors);
}

TEST(Evaluation, ACriterionResultOutsideOneToTenNamesTheAccountAndTheCriterion) {
  std::string text = kValid;
  text.replace(text.find("\"score\": 5"), 10, "\"score\": {\"var\": \"account.revenue\"}");
  LoadResult r = RuleSet::LoadText(text, "f.json");
  ASSERT_TRUE(r.ok()) << Dump(r.errors);
  Account a;
  ASSERT_TRUE(r.rules->AccountFromJson({{"id", "ACC-7"}, {"revenue", 11}}, &a).ok());
  AccountResult res;
  Status st = r.rules->Evaluate(a, &res);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ACC-7"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("criterion fit"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("outside 1..10"), std::string::npos) << st.message();
  ASSERT_TRUE(r.rules->AccountFromJson({{"id", "ACC-8"}, {"revenue", 10}}, &a).ok());
  EXPECT_TRUE(r.rules->Evaluate(a, &res).ok());
}

TEST(Evaluation, AccountFieldsOfTheWrongTypeAreRefused) {
  LoadResult r = RuleSet::LoadText(kValid, "f.json");
  ASSERT_TRUE(r.ok());
  Account a;
  Status st = r.rules->AccountFromJson({{"id", "x"}, {"revenue", "lots"}}, &a);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.location(), "/revenue");
  EXPECT_TRUE(r.rules->AccountFromJson({{"id", "x"}, {"revenue", nullptr}}, &a).ok());
}

TEST(Mapping, ConvertsDatesBooleansAndEnumsFromCrmStrings) {
  json doc = json::parse(kValid);
  doc["mapping"]["hubspot"]["last_contact"] = {{"property", "notes_last_contacted"},
                                               {"type", "days_since"}};
  doc["mapping"]["hubspot"]["last_order"] = {{"property", "last_order"}, {"type", "days_since"}};
  doc["mapping"]["hubspot"]["since"] = {{"property", "createdate"}, {"type", "date"}};
  doc["mapping"]["hubspot"]["segment"] = {{"property", "seg"}, {"type", "enum"},
                                          {"values", {"gold", "silver"}}};
  doc["mapping"]["hubspot"]["vip"] = {{"property", "vip"}, {"type", "bool"}};
  LoadResult r = RuleSet::LoadText(doc.dump(), "m.json");
  ASSERT_TRUE(r.ok()) << Dump(r.errors);
  const int64_t now = 1795564800;  // 2026-11-25T00:00:00Z
  json props = {{"notes_last_contacted", "2026-11-15T12:00:00Z"},
                {"last_order", "1792972800000"},  // epoch ms: 2026-10-26
                {"createdate", "2020-01-02"},
                {"seg", "bronze"},
                {"vip", "YES"},
                {"rev", "1e3"}};
  std::vector<std::string> warnings;
  Account a = r.rules->MapAccount("hubspot", "1", "", props, json::object(), now, &warnings);
  auto v = [&](const char* f) { return a.values[static_cast<size_t>(r.rules->FieldIndex(f))]; };
  EXPECT_EQ(v("last_contact").number, 9);
  EXPECT_EQ(v("last_order").number, 30);
  EXPECT_EQ(v("since").string, "2020-01-02");
  EXPECT_EQ(v("segment").kind, FieldValue::Kind::kAbsent);
  EXPECT_TRUE(v("vip").boolean);
  EXPECT_EQ(v("revenue").number, 1000);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("segment"), std::string::npos) << warnings[0];
  EXPECT_EQ(r.rules->MapAccount("salesforce", "1", "", props, json::object(), now).values.size(),
            r.rules->account_fields().size());
}

TEST(EmbeddedTests, AFailingTestGivesAReadableDiff) {
  json doc = json::parse(kValid);
  doc["tests"] = json::array(
      {{{"name", "big account is A"},
        {"account", {{"id", "1"}, {"revenue", 500}, {"name", "Acme"}}},
        {"expect", {{"tier", "A"}, {"score", 800}, {"tasks", {"call"}}}}},
       {{"name", "small account is A too (wrong)"},
        {"account", {{"id", "2"}, {"revenue", 50}, {"name", "Mini"}}},
        {"expect", {{"tier", "A"}, {"scores", {{"value", 10}}}, {"tasks", {"call"}}}}}});
  LoadResult r = RuleSet::LoadText(doc.dump(2), "f.json");
  ASSERT_TRUE(r.ok()) << Dump(r.errors);
  TestReport report = RunEmbeddedTests(*r.rules);
  EXPECT_EQ(report.passed, 1);
  EXPECT_EQ(report.failed, 1);
  ASSERT_EQ(report.results.size(), 2u);
  const auto& diffs = report.results[1].diffs;
  ASSERT_EQ(diffs.size(), 3u) << report.ToText();
  EXPECT_EQ(diffs[0], "scores.value: expected 10, got 1  (account.revenue = 50)");
  EXPECT_EQ(diffs[1].rfind("tier: expected \"A\", got \"B\"", 0), 0u) << diffs[1];
  EXPECT_EQ(diffs[2].rfind("tasks: expected call but it was not suggested", 0), 0u) << diffs[2];
  EXPECT_NE(report.ToText().find("FAIL small account is A too (wrong)"), std::string::npos);
}

}  // namespace
}  // namespace kam::rules
