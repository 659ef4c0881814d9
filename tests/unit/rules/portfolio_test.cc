// The portfolio pass: ranking with ties, Pareto flags, tier capacities per owner and in total
// (ties, empty owner, all accounts equal, capacity 0, cascading), determinism; and the
// streaming evaluation of an NDJSON file.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

using nlohmann::json;

// Three tiers; capacities set per test.
std::shared_ptr<const RuleSet> Rules(const json& a_capacity, const json& b_capacity = nullptr,
                                     double pareto_share = 0.8) {
  json doc = {{"name", "p"},
              {"version", "1"},
              {"mapping", {{"hubspot", {{"revenue_last_12m", {{"property", "rev"}}}}}}},
              {"criteria", {{{"id", "c"}, {"weight", 1}, {"score", 1}}}},
              {"tiers", {{{"id", "A"}, {"min_score", 70}},
                         {{"id", "B"}, {"min_score", 40}},
                         {{"id", "C"}, {"min_score", 0}}}},
              {"portfolio", {{"pareto_share", pareto_share}}}};
  if (!a_capacity.is_null()) doc["tiers"][0]["capacity"] = a_capacity;
  if (!b_capacity.is_null()) doc["tiers"][1]["capacity"] = b_capacity;
  LoadResult r = RuleSet::LoadText(doc.dump(), "p.json");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.rules;
}

AccountResult R(std::string id, std::string owner, double score, std::string tier,
                double revenue = 0) {
  AccountResult r;
  r.account_id = std::move(id);
  r.owner_id = std::move(owner);
  r.score = score;
  r.tier = std::move(tier);
  r.revenue = revenue;
  return r;
}

const AccountResult& ById(const std::vector<AccountResult>& v, const std::string& id) {
  return *std::find_if(v.begin(), v.end(),
                       [&](const AccountResult& r) { return r.account_id == id; });
}

TEST(Portfolio, RanksByScoreWithTiesBrokenById) {
  auto rules = Rules(nullptr);
  std::vector<AccountResult> v = {R("b", "o", 50, "B"), R("a", "o", 50, "B"),
                                  R("c", "o", 90, "A")};
  RunPortfolio(*rules, v);
  EXPECT_EQ(ById(v, "c").rank, 1);
  EXPECT_EQ(ById(v, "a").rank, 2);
  EXPECT_EQ(ById(v, "b").rank, 3);
}

TEST(Portfolio, PerOwnerCapacityDropsTheLowerScoresToTheNextTierWithAReason) {
  auto rules = Rules({{"per_owner", 2}});
  std::vector<AccountResult> v = {R("a1", "kam1", 95, "A"), R("a2", "kam1", 90, "A"),
                                  R("a3", "kam1", 80, "A"), R("b1", "kam2", 75, "A")};
  PortfolioSummary s = RunPortfolio(*rules, v);
  EXPECT_EQ(ById(v, "a1").final_tier, "A");
  EXPECT_EQ(ById(v, "a2").final_tier, "A");
  EXPECT_EQ(ById(v, "a3").final_tier, "B");
  EXPECT_EQ(ById(v, "a3").capped_reason, "tier A capacity per owner (2) reached for owner kam1");
  EXPECT_EQ(ById(v, "b1").final_tier, "A");
  EXPECT_TRUE(ById(v, "a1").capped_reason.empty());
  EXPECT_EQ(s.capped, 1);
  ASSERT_EQ(s.capped_accounts.size(), 1u);
  EXPECT_EQ(s.capped_accounts[0].account_id, "a3");
  EXPECT_EQ(s.capped_accounts[0].from_tier, "A");
  EXPECT_EQ(s.capped_accounts[0].to_tier, "B");
  EXPECT_EQ(s.tiers, (std::vector<std::pair<std::string, int64_t>>{{"A", 3}, {"B", 1}, {"C", 0}}));
  EXPECT_EQ(s.tiers_by_score,
            (std::vector<std::pair<std::string, int64_t>>{{"A", 4}, {"B", 0}, {"C", 0}}));
}

TEST(Portfolio, TiesAtTheCapacityBoundaryGoToTheLowerId) {
  auto rules = Rules({{"total", 1}});
  std::vector<AccountResult> v = {R("z", "o1", 80, "A"), R("m", "o2", 80, "A")};
  RunPortfolio(*rules, v);
  EXPECT_EQ(ById(v, "m").final_tier, "A");
  EXPECT_EQ(ById(v, "z").final_tier, "B");
  EXPECT_EQ(ById(v, "z").capped_reason, "tier A total capacity (1) reached");
}

TEST(Portfolio, AccountsWithoutOwnerShareOnePerOwnerCapacity) {
  auto rules = Rules({{"per_owner", 1}});
  std::vector<AccountResult> v = {R("a", "", 90, "A"), R("b", "", 85, "A"),
                                  R("c", "kam", 80, "A")};
  RunPortfolio(*rules, v);
  EXPECT_EQ(ById(v, "a").final_tier, "A");
  EXPECT_EQ(ById(v, "b").final_tier, "B");
  EXPECT_EQ(ById(v, "b").capped_reason,
            "tier A capacity per owner (1) reached for accounts without owner");
  EXPECT_EQ(ById(v, "c").final_tier, "A");
}

TEST(Portfolio, AllAccountsEqualKeepTheFirstIdsUpToTheCapacity) {
  auto rules = Rules({{"total", 2}});
  std::vector<AccountResult> v;
  for (const char* id : {"e", "c", "a", "d", "b"}) v.push_back(R(id, "o", 75, "A", 10));
  PortfolioSummary s = RunPortfolio(*rules, v);
  std::vector<std::string> in_a;
  for (const auto& r : v) {
    if (r.final_tier == "A") in_a.push_back(r.account_id);
  }
  std::sort(in_a.begin(), in_a.end());
  EXPECT_EQ(in_a, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.capped, 3);
  EXPECT_EQ(ById(v, "a").rank, 1);
  EXPECT_EQ(ById(v, "e").rank, 5);
  // Revenue 10 each, 50 in all: 80% (40) is reached with 4 accounts (the revenue before the
  // 4th is 30 < 40, before the 5th 40), ties by id.
  EXPECT_EQ(s.pareto_accounts, 4);
  EXPECT_TRUE(ById(v, "d").pareto);
  EXPECT_FALSE(ById(v, "e").pareto);
}

TEST(Portfolio, CapacityZeroMovesEveryAccountDown) {
  auto rules = Rules({{"total", 0}});
  std::vector<AccountResult> v = {R("a", "o", 90, "A"), R("b", "o", 80, "A")};
  PortfolioSummary s = RunPortfolio(*rules, v);
  EXPECT_EQ(ById(v, "a").final_tier, "B");
  EXPECT_EQ(ById(v, "b").final_tier, "B");
  EXPECT_EQ(ById(v, "a").capped_reason, "tier A total capacity (0) reached");
  EXPECT_EQ(s.capped, 2);
}

TEST(Portfolio, CappedAccountsCompeteInTheNextTierAndCanDropFurther) {
  auto rules = Rules({{"total", 1}}, {{"total", 1}});
  std::vector<AccountResult> v = {R("a", "o", 90, "A"), R("b", "o", 85, "A"),
                                  R("c", "o", 80, "A"), R("d", "o", 60, "B")};
  RunPortfolio(*rules, v);
  EXPECT_EQ(ById(v, "a").final_tier, "A");
  EXPECT_EQ(ById(v, "b").final_tier, "B");
  EXPECT_EQ(ById(v, "c").final_tier, "C");
  EXPECT_EQ(ById(v, "c").capped_reason,
            "tier A total capacity (1) reached; tier B total capacity (1) reached");
  EXPECT_EQ(ById(v, "d").final_tier, "C");
  EXPECT_EQ(ById(v, "d").capped_reason, "tier B total capacity (1) reached");
}

TEST(Portfolio, ParetoFlagsTheAccountsThatMakeUpTheRevenueShare) {
  auto rules = Rules(nullptr);
  std::vector<AccountResult> v = {R("small1", "o", 10, "C", 5), R("big", "o", 10, "C", 80),
                                  R("mid", "o", 10, "C", 10), R("small2", "o", 10, "C", 5)};
  PortfolioSummary s = RunPortfolio(*rules, v);
  EXPECT_TRUE(ById(v, "big").pareto);
  EXPECT_FALSE(ById(v, "mid").pareto);
  EXPECT_EQ(s.pareto_accounts, 1);
  EXPECT_DOUBLE_EQ(s.pareto_account_share, 0.25);
  EXPECT_EQ(s.total_revenue, 100);
}

TEST(Portfolio, NoRevenueMeansNoParetoAccounts) {
  auto rules = Rules(nullptr);
  std::vector<AccountResult> v = {R("a", "o", 10, "C", 0), R("b", "o", 10, "C", 0)};
  PortfolioSummary s = RunPortfolio(*rules, v);
  EXPECT_EQ(s.pareto_accounts, 0);
  EXPECT_FALSE(ById(v, "a").pareto);
}

TEST(Portfolio, AnEmptyPortfolioIsFine) {
  auto rules = Rules({{"total", 1}});
  std::vector<AccountResult> v;
  PortfolioSummary s = RunPortfolio(*rules, v);
  EXPECT_EQ(s.accounts, 0);
  EXPECT_EQ(s.pareto_account_share, 0);
}

TEST(Portfolio, ResultsDoNotDependOnInputOrder) {
  auto rules = Rules({{"per_owner", 3}, {"total", 10}}, {{"total", 15}});
  std::mt19937 rng(7);
  std::vector<AccountResult> v;
  for (int i = 0; i < 60; ++i) {
    double score = static_cast<double>(rng() % 40 + 50);
    std::string tier = score >= 70 ? "A" : "B";
    v.push_back(R("acc" + std::to_string(i), "kam" + std::to_string(i % 4), score, tier,
                  static_cast<double>(rng() % 1000)));
  }
  std::vector<AccountResult> shuffled = v;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  PortfolioSummary s1 = RunPortfolio(*rules, v);
  PortfolioSummary s2 = RunPortfolio(*rules, shuffled);
  EXPECT_EQ(s1.ToJson(), s2.ToJson());
  for (const auto& r : v) {
    const AccountResult& o = ById(shuffled, r.account_id);
    EXPECT_EQ(r.final_tier, o.final_tier) << r.account_id;
    EXPECT_EQ(r.rank, o.rank) << r.account_id;
    EXPECT_EQ(r.pareto, o.pareto) << r.account_id;
    EXPECT_EQ(r.capped_reason, o.capped_reason) << r.account_id;
  }
  EXPECT_GT(s1.capped, 0);
}

class EvalFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kam_rules_eval_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(EvalFileTest, StreamsTheSampleAndMatchesTheBenchDigest) {
  LoadResult loaded = RuleSet::LoadFile(std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json");
  ASSERT_TRUE(loaded.ok());
  std::ifstream in(std::string(KAM_SHARED_DIR) + "/bench/kam_accounts_sample_1000.json");
  json accounts = json::parse(in);
  std::string input = (dir_ / "accounts.ndjson").string();
  {
    std::ofstream out(input);
    for (const auto& a : accounts) out << a.dump() << "\n";
  }
  std::ostringstream results;
  EvalSummary summary;
  Status st = EvalFile(*loaded.rules, input, &results, &summary);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(summary.accounts, 1000);
  EXPECT_EQ(summary.digest, "02818627");
  EXPECT_EQ(summary.sum_score, 541635);
  EXPECT_EQ(summary.portfolio.tiers,
            (std::vector<std::pair<std::string, int64_t>>{
                {"A", 150}, {"B", 327}, {"C", 323}, {"D", 200}}));
  EXPECT_EQ(summary.portfolio.capped, 0);
  EXPECT_GT(summary.portfolio.pareto_accounts, 0);
  EXPECT_LT(summary.portfolio.pareto_accounts, 1000);
  std::istringstream lines(results.str());
  std::string line;
  int n = 0;
  std::set<int64_t> ranks;
  while (std::getline(lines, line)) {
    json r = json::parse(line);
    EXPECT_EQ(r["id"], accounts[static_cast<size_t>(n)]["id"]);
    ranks.insert(r["rank"].get<int64_t>());
    ++n;
  }
  EXPECT_EQ(n, 1000);
  EXPECT_EQ(ranks.size(), 1000u);
  EXPECT_EQ(*ranks.begin(), 1);
}

TEST_F(EvalFileTest, CappedAccountsGetTheTasksOfTheirFinalTier) {
  json doc = {{"name", "cap"},
              {"version", "1"},
              {"mapping", {{"hubspot", {{"revenue_last_12m", {{"property", "rev"}}}}}}},
              {"criteria", {{{"id", "c"}, {"weight", 10},
                             {"score", {{"var", "account.revenue_last_12m"}}}}}},
              {"tiers", {{{"id", "A"}, {"min_score", 50}, {"capacity", {{"per_owner", 1}}}},
                         {{"id", "B"}, {"min_score", 0}}}},
              {"tasks", {{{"id", "top"}, {"title", "Top {{kam.tier}}"},
                          {"when", {{"==", {{{"var", "kam.tier"}}, "A"}}}}}}}};
  std::string rules_path = (dir_ / "cap.json").string();
  std::ofstream(rules_path) << doc.dump();
  LoadResult loaded = RuleSet::LoadFile(rules_path);
  ASSERT_TRUE(loaded.ok());
  std::string input = (dir_ / "cap.ndjson").string();
  std::ofstream(input) << "{\"id\":\"x\",\"owner_id\":\"k\",\"revenue_last_12m\":9}\n"
                       << "{\"id\":\"y\",\"owner_id\":\"k\",\"revenue_last_12m\":8}\n";
  std::ostringstream out;
  EvalSummary summary;
  ASSERT_TRUE(EvalFile(*loaded.rules, input, &out, &summary).ok());
  EXPECT_EQ(summary.portfolio.capped, 1);
  std::istringstream lines(out.str());
  std::string line;
  std::getline(lines, line);
  json x = json::parse(line);
  std::getline(lines, line);
  json y = json::parse(line);
  EXPECT_EQ(x["final_tier"], "A");
  ASSERT_EQ(x["tasks"].size(), 1u);
  EXPECT_EQ(x["tasks"][0]["title"], "Top A");
  EXPECT_EQ(y["tier"], "A");
  EXPECT_EQ(y["final_tier"], "B");
  EXPECT_EQ(y["capped_reason"], "tier A capacity per owner (1) reached for owner k");
  EXPECT_TRUE(y["tasks"].empty()) << y.dump();
}

TEST_F(EvalFileTest, NamesTheLineOfABadAccount) {
  LoadResult loaded = RuleSet::LoadFile(std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json");
  ASSERT_TRUE(loaded.ok());
  std::string input = (dir_ / "bad.ndjson").string();
  {
    std::ofstream out(input);
    out << "{\"id\": \"a\", \"revenue_last_12m\": 5}\n\n{\"id\": \"b\", oops}\n";
  }
  EvalSummary summary;
  Status st = EvalFile(*loaded.rules, input, nullptr, &summary);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("line 3"), std::string::npos) << st.message();
  EXPECT_NE(st.location().find("bad.ndjson:3"), std::string::npos) << st.location();
}

}  // namespace
}  // namespace kam::rules
