// Runs the rule benchmark R times in one process and prints each run and the median
// accounts/s (the README's performance figures come from here and from `kam rules bench`).
//   rules_bench [--rules FILE] [--generate N | --accounts NDJSON] [--seed S] [--runs R]
//   rules_bench --write-ndjson PATH --generate N [--seed S]   write generated accounts as NDJSON
//   rules_bench --eval NDJSON [--rules FILE] [--out PATH]      streaming eval + portfolio pass
//                                                              (measure RSS with /usr/bin/time -v)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
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
  std::string write_ndjson, eval_path, out_path;
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
    } else if (flag == "--write-ndjson") {
      write_ndjson = value;
    } else if (flag == "--eval") {
      eval_path = value;
    } else if (flag == "--out") {
      out_path = value;
    } else if (flag == "--runs") {
      runs = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (!write_ndjson.empty()) {
    std::ofstream out(write_ndjson);
    for (const auto& account : kam::rules::GenerateAccountsJson(options.generate, options.seed)) {
      out << account.dump() << '\n';
    }
    return out ? 0 : 1;
  }
  auto loaded = kam::rules::RuleSet::LoadFile(rules_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 3;
  }
  if (!eval_path.empty()) {
    std::ofstream out;
    if (!out_path.empty()) out.open(out_path);
    kam::rules::EvalSummary summary;
    kam::rules::Status st = kam::rules::EvalFile(*loaded.rules, eval_path,
                                                 out_path.empty() ? nullptr : &out, &summary);
    if (!st.ok()) {
      std::fprintf(stderr, "%s (%s)\n", st.message().c_str(), st.location().c_str());
      return 1;
    }
    std::printf("%s", summary.ToText().c_str());
    return 0;
  }
  std::vector<double> rates, cpu_rates;
  for (int r = 0; r < runs; ++r) {
    kam::rules::BenchReport report;
    kam::rules::Status st = kam::rules::RunBench(*loaded.rules, options, &report);
    if (!st.ok()) {
      std::fprintf(stderr, "%s (%s)\n", st.message().c_str(), st.location().c_str());
      return 1;
    }
    std::printf("%s\n", report.ToJson().dump().c_str());
    rates.push_back(report.accounts_per_s);
    cpu_rates.push_back(report.accounts_per_cpu_s);
  }
  std::sort(rates.begin(), rates.end());
  std::sort(cpu_rates.begin(), cpu_rates.end());
  std::printf("median over %d runs: %.0f accounts/s wall, %.0f accounts per CPU second\n", runs,
              rates[rates.size() / 2], cpu_rates[cpu_rates.size() / 2]);
  return 0;
}
