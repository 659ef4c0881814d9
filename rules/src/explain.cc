// Explain one account for a person (criteria with weights and inputs, why the tier, the tasks
// and why, the path to the next tier) and run a rule file's embedded tests with readable diffs.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "internal.h"
#include "kam/rules/card.h"

namespace kam::rules {

using nlohmann::json;

namespace {

std::string Num(double v) { return internal::FormatNumber(v); }

json InputsJson(const std::vector<InputValue>& inputs) {
  json out = json::object();
  for (const auto& in : inputs) {
    out[in.path] = in.value == "absent" ? json("absent") : json::parse(in.value, nullptr, false);
  }
  return out;
}

std::string InputsText(const std::vector<InputValue>& inputs) {
  std::string out;
  for (const auto& in : inputs) {
    out += (out.empty() ? "" : ", ") + in.path + " = " + in.value;
  }
  return out.empty() ? "(reads no account field)" : out;
}

// The inputs a compiled rule reads, with their values in the evaluated record.
std::vector<InputValue> ReadInputs(const RuleSet::Impl& rs, const jl::Rule& rule,
                                   std::span<const jl::Value> record) {
  std::vector<InputValue> out;
  for (int slot : rule.slots_read()) {
    out.push_back({rs.schema.path(slot), internal::ValueJson(record[static_cast<size_t>(slot)])});
  }
  return out;
}

std::string GoalStatusText(const GoalResult& g) {
  if (g.status == "met") return "met";
  if (g.status == "not_met") return "NOT met";
  return "unknown";
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

json Explain(const RuleSet& rules, const Account& account, Status* status) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  jl::Evaluator ev;
  std::vector<jl::Value> record(rs.record_size());
  rs.FillRecord(account, record);
  internal::CoreResult core;
  *status = rs.Core(ev, record, &core);
  if (!status->ok()) return json();
  AccountResult result;
  rs.FillResult(account, record, core, ev, &result);
  // FillResult's next-tier search restores kam.* slots, so the record still holds this account.

  std::ostringstream text;
  text << "Account " << (account.id.empty() ? "(no id)" : account.id);
  if (!account.owner_id.empty()) text << " (owner " << account.owner_id << ")";
  text << "\n\n";

  json criteria = json::array();
  text << "Criteria (weight x score = points):\n";
  size_t id_width = 0;
  for (const auto& c : rs.criteria) id_width = std::max(id_width, c.id.size());
  for (size_t i = 0; i < rs.criteria.size(); ++i) {
    const auto& def = rs.criteria[i];
    const auto& c = result.criteria[i];
    criteria.push_back({{"id", c.id},
                        {"description", def.description},
                        {"weight", c.weight},
                        {"score", c.score},
                        {"points", c.weight * c.score},
                        {"inputs", InputsJson(c.inputs)}});
    text << "  " << Pad(c.id, id_width) << "  " << Num(c.weight) << " x " << Num(c.score) << " = "
         << Num(c.weight * c.score);
    if (!def.description.empty()) text << "  (" << def.description << ")";
    text << "\n      " << InputsText(c.inputs) << "\n";
  }

  const TierSpec& tier = rs.tiers[static_cast<size_t>(core.tier)];
  std::string tier_reason;
  if (rs.tier_rule) {
    tier_reason = "the tier rule gives " + tier.id + " for score " + Num(core.score);
  } else {
    tier_reason = "score " + Num(core.score) +
                  (std::isfinite(tier.min_score)
                       ? " >= " + Num(tier.min_score) + " (the minimum of tier " + tier.id + ")"
                       : "");
    if (core.tier > 0) {
      const TierSpec& above = rs.tiers[static_cast<size_t>(core.tier - 1)];
      tier_reason += "; tier " + above.id + " needs " + Num(above.min_score);
    }
  }
  text << "\nScore " << Num(core.score)
       << (rs.score_rule ? " (by the file's score rule)" : " (weighted sum)") << "\n";
  text << "Tier " << tier.id;
  if (tier.label != tier.id) text << " \"" << tier.label << "\"";
  text << ": " << tier_reason << "\n";
  if (tier.capacity_per_owner || tier.capacity_total) {
    text << "  (tier " << tier.id << " has a capacity; the portfolio pass may move this account "
         << "down if the tier is full)\n";
  }

  json health = json::array();
  if (!rs.health.empty()) {
    text << "\nHealth:\n";
    for (size_t i = 0; i < rs.health.size(); ++i) {
      const auto& h = result.health[i];
      std::vector<InputValue> inputs;
      const auto& def = rs.health[i];
      if (def.red) inputs = ReadInputs(rs, *def.red, record);
      if (def.amber) {
        for (auto& in : ReadInputs(rs, *def.amber, record)) {
          if (std::none_of(inputs.begin(), inputs.end(),
                           [&](const InputValue& x) { return x.path == in.path; })) {
            inputs.push_back(in);
          }
        }
      }
      health.push_back(
          {{"id", h.id}, {"label", h.label}, {"status", h.status}, {"inputs", InputsJson(inputs)}});
      text << "  " << h.label << ": " << h.status << "  (" << InputsText(inputs) << ")\n";
    }
  }

  json tasks = json::array();
  text << "\nTasks (" << result.tasks.size() << "):\n";
  if (result.tasks.empty()) text << "  none\n";
  for (const auto& t : result.tasks) {
    auto def = std::find_if(rs.tasks.begin(), rs.tasks.end(),
                            [&](const internal::TaskDef& d) { return d.id == t.rule_id; });
    std::vector<InputValue> inputs = ReadInputs(rs, def->when, record);
    tasks.push_back({{"id", t.rule_id},
                     {"title", t.title},
                     {"body", t.body},
                     {"priority", t.priority},
                     {"due_in_days", t.due_in_days},
                     {"cooldown_days", t.cooldown_days},
                     {"auto_close", t.auto_close},
                     {"why", InputsJson(inputs)}});
    text << "  [" << t.priority << "] " << t.title << "  (" << t.rule_id << ", due in "
         << t.due_in_days << " days)\n      because " << InputsText(inputs) << "\n";
  }

  json goals = json::array();
  if (!rs.goals.empty()) {
    text << "\nGoals for tier " << tier.id << " (" << result.goals.size() << "):\n";
    if (result.goals.empty()) text << "  none for this tier\n";
    for (const auto& g : result.goals) {
      goals.push_back(internal::GoalJson(g));
      text << "  " << g.label << ": " << GoalStatusText(g) << "  (" << g.comparison << " "
           << g.target << (g.unit.empty() ? "" : " " + g.unit) << ", value " << g.value << ")\n";
    }
  }

  json changes = json::array();
  for (const auto& c : result.next_tier.changes) {
    changes.push_back({{"criterion", c.criterion}, {"from", c.from}, {"to", c.to}});
  }
  text << "\nNext tier: " << result.next_tier.hint << "\n";

  return {{"account_id", account.id},
          {"owner_id", account.owner_id},
          {"criteria", criteria},
          {"score", core.score},
          {"tier", tier.id},
          {"tier_label", tier.label},
          {"tier_reason", tier_reason},
          {"health", health},
          {"tasks", tasks},
          {"goals", goals},
          {"next_tier",
           {{"to", result.next_tier.to_tier},
            {"reachable", result.next_tier.reachable},
            {"changes", changes},
            {"hint", result.next_tier.hint}}},
          {"card", json::parse(BuildCard(rules, result, {}))},
          {"receipt",
           {{"input_hash", result.receipt.input_hash},
            {"rules_hash", result.receipt.rules_hash},
            {"rules_version", result.receipt.rules_version}}},
          {"text", text.str()}};
}

// ---- embedded tests ----
TestReport RunEmbeddedTests(const RuleSet& rules) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  TestReport report;
  jl::Evaluator ev;
  std::vector<jl::Value> record(rs.record_size());
  for (const auto& test : rs.tests) {
    TestCaseResult tc;
    tc.name = test.name;
    Account account;
    Status st = rs.AccountFromJson(test.account, &account);
    if (account.id.empty()) account.id = "test:" + test.name;
    internal::CoreResult core;
    if (st.ok()) {
      std::fill(record.begin(), record.end(), jl::Value::Absent());
      rs.FillRecord(account, record);
      st = rs.Core(ev, record, &core);
    }
    if (!st.ok()) {
      tc.diffs.push_back("evaluation failed: " + st.message());
    } else {
      const json& expect = test.expect;
      if (auto it = expect.find("scores"); it != expect.end()) {
        for (const auto& [id, want] : it->items()) {
          for (size_t i = 0; i < rs.criteria.size(); ++i) {
            if (rs.criteria[i].id != id || core.scores[i] == want.get<double>()) continue;
            tc.diffs.push_back("scores." + id + ": expected " + Num(want.get<double>()) + ", got " +
                               Num(core.scores[i]) + "  (" +
                               InputsText(ReadInputs(rs, rs.criteria[i].rule, record)) + ")");
          }
        }
      }
      if (auto it = expect.find("score"); it != expect.end() && it->get<double>() != core.score) {
        std::string parts;
        for (size_t i = 0; i < rs.criteria.size(); ++i) {
          parts += (parts.empty() ? "" : ", ") + rs.criteria[i].id + " " + Num(core.scores[i]);
        }
        tc.diffs.push_back("score: expected " + Num(it->get<double>()) + ", got " +
                           Num(core.score) + "  (" + parts + ")");
      }
      const std::string& got_tier = rs.tiers[static_cast<size_t>(core.tier)].id;
      if (auto it = expect.find("tier"); it != expect.end() && *it != got_tier) {
        tc.diffs.push_back("tier: expected \"" + it->get<std::string>() + "\", got \"" + got_tier +
                           "\"  (score " + Num(core.score) + ")");
      }
      if (auto it = expect.find("tasks"); it != expect.end()) {
        std::vector<std::string> want, missing, extra;
        for (const auto& t : *it) want.push_back(t.get<std::string>());
        for (size_t j = 0; j < rs.tasks.size(); ++j) {
          bool got = (core.tasks >> j & 1) != 0;
          bool expected = std::find(want.begin(), want.end(), rs.tasks[j].id) != want.end();
          if (expected && !got) missing.push_back(rs.tasks[j].id);
          if (got && !expected) extra.push_back(rs.tasks[j].id);
        }
        for (const auto& id : missing) {
          auto def = std::find_if(rs.tasks.begin(), rs.tasks.end(),
                                  [&](const internal::TaskDef& d) { return d.id == id; });
          tc.diffs.push_back("tasks: expected " + id + " but it was not suggested  (" +
                             InputsText(ReadInputs(rs, def->when, record)) + ")");
        }
        for (const auto& id : extra) {
          auto def = std::find_if(rs.tasks.begin(), rs.tasks.end(),
                                  [&](const internal::TaskDef& d) { return d.id == id; });
          tc.diffs.push_back("tasks: " + id + " was suggested but not expected  (" +
                             InputsText(ReadInputs(rs, def->when, record)) + ")");
        }
      }
      if (auto it = expect.find("health"); it != expect.end()) {
        static constexpr const char* kNames[] = {"green", "amber", "red"};
        for (const auto& [id, want] : it->items()) {
          for (size_t i = 0; i < rs.health.size(); ++i) {
            if (rs.health[i].id != id) continue;
            std::string got = kNames[core.health[i]];
            if (want != got) {
              tc.diffs.push_back("health." + id + ": expected \"" + want.get<std::string>() +
                                 "\", got \"" + got + "\"");
            }
          }
        }
      }
      if (auto it = expect.find("goals"); it != expect.end()) {
        for (const auto& [id, want] : it->items()) {
          for (size_t i = 0; i < rs.goals.size(); ++i) {
            if (rs.goals[i].id != id) continue;
            uint8_t state = core.goal_state.size() > i ? core.goal_state[i] : 0;
            if (state == internal::kGoalNotApplicable) {
              tc.diffs.push_back("goals." + id + ": expected \"" + want.get<std::string>() +
                                 "\", but the goal has no target for tier " + got_tier);
            } else if (want != internal::kGoalStateNames[state]) {
              tc.diffs.push_back("goals." + id + ": expected \"" + want.get<std::string>() +
                                 "\", got \"" + std::string(internal::kGoalStateNames[state]) +
                                 "\" (value " + core.goal_value[i] + ")");
            }
          }
        }
      }
    }
    tc.ok = tc.diffs.empty();
    (tc.ok ? report.passed : report.failed)++;
    report.results.push_back(std::move(tc));
  }
  return report;
}

std::string TestReport::ToText() const {
  std::ostringstream out;
  for (const auto& r : results) {
    out << (r.ok ? "PASS " : "FAIL ") << r.name << "\n";
    for (const auto& d : r.diffs) out << "    - " << d << "\n";
  }
  out << passed << " passed, " << failed << " failed";
  if (results.empty()) out << " (the rule file has no tests)";
  out << "\n";
  return out.str();
}

}  // namespace kam::rules
