// The rule benchmark of shared/bench/README.md: the account generator (mulberry32, bit for bit),
// the result digest (FNV-1a 32 over "id|score|tier|task,task\n") and a timed evaluation pass.
#ifndef KAM_RULES_BENCH_H_
#define KAM_RULES_BENCH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kam/rules/rules.h"

namespace kam::rules {

// The first n accounts of the generator for `seed`, as the JSON objects of bench/README (absent
// fields are absent keys; nlohmann::json sorts keys).
std::vector<nlohmann::json> GenerateAccountsJson(uint64_t n, uint32_t seed);

struct BenchOptions {
  uint64_t generate = 0;     // > 0: generate this many accounts
  uint32_t seed = 42;
  std::string accounts_path;  // otherwise: read NDJSON accounts from this file
  uint64_t warmup = 10000;    // accounts evaluated before timing (capped at n)
};

struct BenchReport {
  uint64_t n = 0;
  double seconds = 0;
  double accounts_per_s = 0;
  std::string digest;  // 8 hex digits
  double sum_score = 0;
  std::vector<std::pair<std::string, int64_t>> tiers;  // by tier id, sorted
  // CPU time of the timed pass (the process's; one thread runs it). On a shared machine wall
  // time includes waiting for a core; accounts_per_cpu_s does not.
  double cpu_seconds = 0;
  double accounts_per_cpu_s = 0;
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// Loads or generates the accounts into compact records, warms up, then times only the
// evaluation pass (criteria, score, tier, tasks; no receipts, no JSON).
Status RunBench(const RuleSet& rules, const BenchOptions& options, BenchReport* report);

}  // namespace kam::rules

#endif  // KAM_RULES_BENCH_H_
