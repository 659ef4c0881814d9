// The bench digest for 100,000 generated accounts (about 1 s under ASan -O1).
#include <gtest/gtest.h>

#include "kam/rules/bench.h"
#include "kam/rules/rules.h"

namespace kam::rules {
namespace {

TEST(BenchSlow, DigestOfAHundredThousandGeneratedAccountsMatchesTheReadme) {
  LoadResult loaded = RuleSet::LoadFile(std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json");
  ASSERT_TRUE(loaded.ok());
  BenchOptions options;
  options.generate = 100000;
  options.seed = 42;
  BenchReport report;
  Status st = RunBench(*loaded.rules, options, &report);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(report.digest, "2d56d936");
  EXPECT_EQ(report.sum_score, 53826865);
  std::vector<std::pair<std::string, int64_t>> tiers = {
      {"A", 14405}, {"B", 33010}, {"C", 30951}, {"D", 21634}};
  EXPECT_EQ(report.tiers, tiers);
}

}  // namespace
}  // namespace kam::rules
