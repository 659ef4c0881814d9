// Evaluation of the bench-shaped rule file: the 1,000-account equivalence with json-logic-js and
// the benchmark digest.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kam/rules/bench.h"
#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

using nlohmann::json;

const std::string kShared = KAM_SHARED_DIR;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::shared_ptr<const RuleSet> LoadBenchRules() {
  LoadResult r = RuleSet::LoadFile(kShared + "/bench/kam_rules.json");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.rules;
}

TEST(BenchRules, LoadAsIsInTheBenchShape) {
  auto rules = LoadBenchRules();
  ASSERT_NE(rules, nullptr);
  EXPECT_TRUE(rules->bench_shape());
  ASSERT_EQ(rules->tiers().size(), 4u);
  EXPECT_EQ(rules->tiers()[0].id, "A");
  EXPECT_EQ(rules->tiers()[3].id, "D");
  EXPECT_EQ(rules->criterion_ids().size(), 6u);
  EXPECT_EQ(rules->task_ids().size(), 12u);
}

TEST(BenchRules, GiveExactlyTheExpectedResultsForAllThousandSampleAccounts) {
  auto rules = LoadBenchRules();
  ASSERT_NE(rules, nullptr);
  json accounts = ReadJson(kShared + "/bench/kam_accounts_sample_1000.json");
  json expected = ReadJson(kShared + "/bench/kam_expected_sample_1000.json");
  ASSERT_EQ(accounts.size(), 1000u);
  ASSERT_EQ(expected.size(), 1000u);
  Evaluator evaluator(rules);
  int mismatches = 0;
  for (size_t i = 0; i < accounts.size(); ++i) {
    Account account;
    Status st = rules->AccountFromJson(accounts[i], &account);
    ASSERT_TRUE(st.ok()) << st.message();
    AccountResult result;
    st = evaluator.Evaluate(account, &result);
    ASSERT_TRUE(st.ok()) << st.message();
    json got = {{"id", result.account_id}, {"score", result.score}, {"tier", result.tier}};
    json scores = json::object();
    for (const auto& c : result.criteria) scores[c.id] = c.score;
    got["scores"] = scores;
    json tasks = json::array();
    for (const auto& t : result.tasks) tasks.push_back(t.rule_id);
    got["tasks"] = tasks;
    if (got != expected[i] && ++mismatches <= 5) {
      ADD_FAILURE() << "account " << i << "\n got      " << got.dump() << "\n expected "
                    << expected[i].dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(BenchGenerator, ReproducesTheSampleBitForBit) {
  json accounts = ReadJson(kShared + "/bench/kam_accounts_sample_1000.json");
  std::vector<json> generated = GenerateAccountsJson(1000, 42);
  ASSERT_EQ(generated.size(), 1000u);
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(generated[i], accounts[i]) << "account " << i;
  }
}

TEST(Bench, DigestOfTheFirstThousandGeneratedAccountsMatchesTheReadme) {
  auto rules = LoadBenchRules();
  ASSERT_NE(rules, nullptr);
  BenchOptions options;
  options.generate = 1000;
  options.seed = 42;
  BenchReport report;
  Status st = RunBench(*rules, options, &report);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(report.digest, "02818627");
  EXPECT_EQ(report.sum_score, 541635);
  std::vector<std::pair<std::string, int64_t>> tiers = {{"A", 150}, {"B", 327}, {"C", 323},
                                                        {"D", 200}};
  EXPECT_EQ(report.tiers, tiers);
}

}  // namespace
}  // namespace kam::rules
