// rules::Evaluator allocates nothing in steady state: after a warm-up pass over a set of
// accounts, evaluating them again into the same AccountResult makes no call to any global
// operator new or delete (counting_allocator.cc replaces every overload).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "kam/rules/bench.h"
#include "kam/rules/rules.h"

long AllocationCount();
long DeallocationCount();

namespace {

using kam::rules::Account;
using kam::rules::AccountResult;
using kam::rules::FieldType;
using kam::rules::FieldValue;
using kam::rules::RuleSet;

std::shared_ptr<const RuleSet> Load(const std::string& path) {
  auto loaded = RuleSet::LoadFile(path);
  EXPECT_TRUE(loaded.ok()) << path;
  return loaded.rules;
}

// Typed accounts for a rule file with a HubSpot mapping: seeded values of each field's type,
// about one field in eight absent.
std::vector<Account> MappedAccounts(const RuleSet& rules, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  const auto* mapping = rules.mapping("hubspot");
  std::vector<Account> out;
  for (int i = 0; i < n; ++i) {
    Account a;
    a.id = "company-" + std::to_string(1000 + i);
    a.owner_id = "owner-" + std::to_string(i % 7);
    a.values.assign(rules.account_fields().size(), FieldValue());
    for (const auto& m : *mapping) {
      int index = rules.FieldIndex(m.field);
      if (index < 0 || unit(rng) < 0.125) continue;
      FieldValue& v = a.values[static_cast<size_t>(index)];
      switch (m.type) {
        case FieldType::kNumber:
        case FieldType::kDaysSince: {
          double x = unit(rng);
          v = FieldValue::Number(std::floor(x * x * x * 5e6) / (unit(rng) < 0.3 ? 10 : 1));
          break;
        }
        case FieldType::kBool:
          v = FieldValue::Bool(unit(rng) < 0.5);
          break;
        case FieldType::kEnum:
          if (!m.values.empty()) {
            v = FieldValue::String(m.values[static_cast<size_t>(rng() % m.values.size())]);
          }
          break;
        case FieldType::kDate:
          v = FieldValue::String("2026-11-25");
          break;
        case FieldType::kString:
          v = FieldValue::String("Company with a longer name " + std::to_string(rng() % 1000));
          break;
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Account> BenchAccounts(const RuleSet& rules, int n) {
  std::vector<Account> out;
  for (const auto& j : kam::rules::GenerateAccountsJson(static_cast<uint64_t>(n), 42)) {
    Account a;
    EXPECT_TRUE(rules.AccountFromJson(j, &a).ok());
    out.push_back(std::move(a));
  }
  return out;
}

// Evaluates every account twice to warm up, then once more while counting.
void ExpectSteadyStateAllocatesNothing(std::shared_ptr<const RuleSet> rules,
                                       const std::vector<Account>& accounts) {
  kam::rules::Evaluator evaluator(rules);
  AccountResult result;
  double sum = 0;
  size_t tasks = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& a : accounts) ASSERT_TRUE(evaluator.Evaluate(a, &result).ok()) << a.id;
  }
  long news = AllocationCount();
  long deletes = DeallocationCount();
  for (const auto& a : accounts) {
    if (!evaluator.Evaluate(a, &result).ok()) break;
    sum += result.score;
    tasks += result.tasks.size() + result.next_tier.changes.size();
  }
  long new_calls = AllocationCount() - news;
  long delete_calls = DeallocationCount() - deletes;
  EXPECT_EQ(new_calls, 0) << "operator new calls for " << accounts.size() << " accounts";
  EXPECT_EQ(delete_calls, 0) << "operator delete calls for " << accounts.size() << " accounts";
  EXPECT_GT(sum, 0);
  EXPECT_GT(tasks, 0u);
}

TEST(RulesEvaluatorAllocation, CountingAllocatorSeesEveryOverload) {
  long before = AllocationCount();
  long freed = DeallocationCount();
  delete new int(1);
  delete[] new int[3];
  ::operator delete(::operator new(8, std::nothrow), std::nothrow);
  ::operator delete[](::operator new[](8, std::nothrow), std::nothrow);
  struct alignas(64) Wide {
    char bytes[64];
  };
  delete new Wide();
  delete[] new Wide[2];
  ::operator delete (::operator new (64, std::align_val_t{64}, std::nothrow), std::align_val_t{64},
                     std::nothrow);
  ::operator delete[](::operator new[](64, std::align_val_t{64}, std::nothrow),
                      std::align_val_t{64}, std::nothrow);
  ::operator delete(::operator new(16), 16);
  ::operator delete (::operator new (64, std::align_val_t{64}), 64, std::align_val_t{64});
  EXPECT_EQ(AllocationCount() - before, 10);
  EXPECT_EQ(DeallocationCount() - freed, 10);
}

TEST(RulesEvaluatorAllocation, BenchRulesAllocateNothingPerAccountAfterWarmUp) {
  auto rules = Load(std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json");
  ASSERT_NE(rules, nullptr);
  ExpectSteadyStateAllocatesNothing(rules, BenchAccounts(*rules, 2000));
}

TEST(RulesEvaluatorAllocation, ExampleRulesAllocateNothingPerAccountAfterWarmUp) {
  auto rules = Load(std::string(KAM_SOURCE_DIR) + "/packaging/examples/rules/key-accounts.json");
  ASSERT_NE(rules, nullptr);
  ExpectSteadyStateAllocatesNothing(rules, MappedAccounts(*rules, 1500, 7));
}

}  // namespace
