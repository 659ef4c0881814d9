// Runs the rule benchmark R times in one process and prints each run and the median
// accounts/s (the README's performance figures come from here and from `kam rules bench`).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kam/rules/bench.h"
#include "kam/rules/rules.h"

int main(int argc, char** argv) {
  std::string rules_path = std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json";
  kam::rules::BenchOptions options;
  options.generate = 1000000;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--rules") {
      rules_path = value;
    } else if (flag == "--generate") {
      options.generate = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--accounts") {
      options.generate = 0;
      options.accounts_path = value;
    } else if (flag == "--seed") {
      options.seed = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else if (flag == "--runs") {
      runs = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto loaded = kam::rules::RuleSet::LoadFile(rules_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 3;
  }
  std::vector<double> rates;
  for (int r = 0; r < runs; ++r) {
    kam::rules::BenchReport report;
    kam::rules::Status st = kam::rules::RunBench(*loaded.rules, options, &report);
    if (!st.ok()) {
      std::fprintf(stderr, "%s (%s)\n", st.message().c_str(), st.location().c_str());
      return 1;
    }
    std::printf("%s\n", report.ToJson().dump().c_str());
    rates.push_back(report.accounts_per_s);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("median accounts/s over %d runs: %.0f\n", runs, rates[rates.size() / 2]);
  return 0;
}
