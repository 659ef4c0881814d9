// Benchmark: the 20 JsonLogic expressions of ../shared/bench/kam_rules.json (6 criteria, score,
// tier, 12 tasks) evaluated on the 1,000 sample accounts through the compiled slot path, as the
// rule engine runs them. Reports rule evaluations/s and accounts/s. Checks the results against
// kam_expected_sample_1000.json before timing.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kam/jsonlogic/jsonlogic.h"

namespace {

namespace jl = kam::jsonlogic;
using nlohmann::json;

json Load(const std::string& name) {
  std::ifstream in(std::string(KAM_BENCH_DIR) + "/" + name);
  if (!in) {
    std::fprintf(stderr, "cannot open %s/%s\n", KAM_BENCH_DIR, name.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

jl::Rule MustCompile(const json& rule, const jl::Schema& schema) {
  jl::CompileOptions options;
  options.schema = &schema;
  auto r = jl::Compile(rule, options);
  if (!r.ok()) {
    std::fprintf(stderr, "compile failed: %s\n", r.error().message.c_str());
    std::exit(2);
  }
  if (!r->unknown_paths().empty()) {
    std::fprintf(stderr, "unknown path %s\n", r->unknown_paths()[0].c_str());
    std::exit(2);
  }
  return *r;
}

struct Workload {
  json rules = Load("kam_rules.json");
  json accounts = Load("kam_accounts_sample_1000.json");
  json expected = Load("kam_expected_sample_1000.json");
  jl::Schema schema;
  std::vector<jl::Rule> criteria;
  std::vector<int> criteria_slots;
  jl::Rule score, tier;
  int score_slot = 0, tier_slot = 0;
  std::vector<jl::Rule> tasks;
  std::size_t width = 0;
  std::vector<jl::Value> records;  // accounts.size() x width, account fields filled in
  std::string strings;  // account string values, packed (as a record builder would keep them)

  Workload() {
    static const char* kFields[] = {"id",
                                    "industry",
                                    "country",
                                    "employees",
                                    "annual_revenue",
                                    "revenue_last_12m",
                                    "revenue_prev_12m",
                                    "gross_margin_pct",
                                    "tenure_years",
                                    "open_deals_value",
                                    "days_since_last_meeting",
                                    "active_contacts",
                                    "has_exec_sponsor",
                                    "avg_days_to_pay",
                                    "nps",
                                    "support_tickets_open"};
    std::vector<int> field_slots;
    for (const char* f : kFields) field_slots.push_back(schema.Add(std::string("account.") + f));
    for (const json& c : rules["criteria"]) {
      criteria_slots.push_back(schema.Add("kam.scores." + c["id"].get<std::string>()));
    }
    score_slot = schema.Add("kam.score");
    tier_slot = schema.Add("kam.tier");
    for (const json& c : rules["criteria"]) criteria.push_back(MustCompile(c["score"], schema));
    score = MustCompile(rules["score"], schema);
    tier = MustCompile(rules["tier"], schema);
    for (const json& t : rules["tasks"]) tasks.push_back(MustCompile(t["when"], schema));
    width = schema.size();
    records.resize(accounts.size() * width);
    std::size_t bytes = 0;
    for (const json& acc : accounts) {
      for (const auto& item : acc.items()) {
        if (item.value().is_string()) bytes += item.value().get_ref<const std::string&>().size();
      }
    }
    strings.reserve(bytes);  // no reallocation: the views below stay valid
    for (std::size_t a = 0; a < accounts.size(); ++a) {
      const json& acc = accounts[a];
      for (std::size_t f = 0; f < std::size(kFields); ++f) {
        auto it = acc.find(kFields[f]);
        jl::Value v;  // absent
        if (it != acc.end()) {
          if (it->is_string()) {
            const std::string& text = it->get_ref<const std::string&>();
            std::size_t at = strings.size();
            strings += text;
            v = jl::Value::String(std::string_view(strings).substr(at, text.size()));
          } else if (it->is_boolean()) {
            v = jl::Value::Bool(it->get<bool>());
          } else if (it->is_number()) {
            v = jl::Value::Number(it->get<double>());
          } else if (it->is_null()) {
            v = jl::Value::Null();
          }
        }
        records[a * width + static_cast<std::size_t>(field_slots[f])] = v;
      }
    }
  }

  // Evaluates one account (20 rules); returns false on an error. Writes results into the record.
  bool EvaluateAccount(jl::Evaluator& ev, std::size_t a, std::uint32_t* task_bits) {
    std::span<jl::Value> rec(records.data() + a * width, width);
    for (std::size_t i = 0; i < criteria.size(); ++i) {
      auto r = ev.Evaluate(criteria[i], rec);
      if (!r.ok()) return false;
      rec[static_cast<std::size_t>(criteria_slots[i])] = *r;
    }
    auto s = ev.Evaluate(score, rec);
    if (!s.ok()) return false;
    rec[static_cast<std::size_t>(score_slot)] = *s;
    auto t = ev.Evaluate(tier, rec);
    if (!t.ok()) return false;
    rec[static_cast<std::size_t>(tier_slot)] = *t;  // a view of a rule constant ("A".."D")
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto w = ev.EvaluateTruthy(tasks[i], rec);
      if (!w.ok()) return false;
      if (*w) bits |= 1u << i;
    }
    *task_bits = bits;
    return true;
  }

  void Verify() {
    jl::Evaluator ev;
    for (std::size_t a = 0; a < accounts.size(); ++a) {
      std::uint32_t bits = 0;
      if (!EvaluateAccount(ev, a, &bits)) {
        std::fprintf(stderr, "evaluation failed on account %zu\n", a);
        std::exit(3);
      }
      std::span<jl::Value> rec(records.data() + a * width, width);
      const json& exp = expected[a];
      json tasks_got = json::array();
      for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (bits & (1u << i)) tasks_got.push_back(rules["tasks"][i]["id"]);
      }
      bool ok = rec[static_cast<std::size_t>(score_slot)].as_number() == exp["score"].get<double>() &&
                rec[static_cast<std::size_t>(tier_slot)].as_string() == exp["tier"].get<std::string>() &&
                tasks_got == exp["tasks"];
      for (std::size_t i = 0; i < criteria.size(); ++i) {
        const std::string id = rules["criteria"][i]["id"];
        ok = ok && rec[static_cast<std::size_t>(criteria_slots[i])].as_number() ==
                       exp["scores"][id].get<double>();
      }
      if (!ok) {
        std::fprintf(stderr, "result mismatch on %s\n", exp["id"].get<std::string>().c_str());
        std::exit(3);
      }
    }
  }
};

Workload& Work() {
  static Workload w;
  return w;
}

void BM_KamRulesSample1000(benchmark::State& state) {
  Workload& w = Work();
  w.Verify();
  jl::Evaluator ev;
  std::uint32_t sink = 0;
  for (auto _ : state) {
    for (std::size_t a = 0; a < w.accounts.size(); ++a) {
      std::uint32_t bits = 0;
      if (!w.EvaluateAccount(ev, a, &bits)) state.SkipWithError("evaluation failed");
      sink ^= bits;
    }
    benchmark::DoNotOptimize(sink);
  }
  const double accounts = static_cast<double>(state.iterations() * w.accounts.size());
  state.counters["accounts_per_s"] = benchmark::Counter(accounts, benchmark::Counter::kIsRate);
  state.counters["evals_per_s"] = benchmark::Counter(accounts * 20, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_KamRulesSample1000)->Unit(benchmark::kMillisecond);

// Generic mode for comparison: Apply-style evaluation of the same 20 rules against JSON data
// (dynamic paths, no schema).
void BM_KamRulesGenericJson(benchmark::State& state) {
  Workload& w = Work();
  std::vector<jl::Rule> all;
  for (const json& c : w.rules["criteria"]) all.push_back(*jl::Compile(c["score"]));
  all.push_back(*jl::Compile(w.rules["score"]));
  all.push_back(*jl::Compile(w.rules["tier"]));
  for (const json& t : w.rules["tasks"]) all.push_back(*jl::Compile(t["when"]));
  std::vector<json> contexts;
  for (const json& exp : w.expected) {
    (void)exp;
  }
  for (std::size_t a = 0; a < w.accounts.size(); ++a) {
    json ctx;
    ctx["account"] = w.accounts[a];
    ctx["kam"] = {{"scores", w.expected[a]["scores"]},
                  {"score", w.expected[a]["score"]},
                  {"tier", w.expected[a]["tier"]}};
    contexts.push_back(std::move(ctx));
  }
  jl::Evaluator ev;
  std::size_t sink = 0;
  for (auto _ : state) {
    for (const json& ctx : contexts) {
      for (const jl::Rule& r : all) {
        auto v = ev.Evaluate(r, {}, &ctx);
        sink += v.ok();
      }
    }
    benchmark::DoNotOptimize(sink);
  }
  const double accounts = static_cast<double>(state.iterations() * contexts.size());
  state.counters["accounts_per_s"] = benchmark::Counter(accounts, benchmark::Counter::kIsRate);
  state.counters["evals_per_s"] = benchmark::Counter(accounts * 20, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_KamRulesGenericJson)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
