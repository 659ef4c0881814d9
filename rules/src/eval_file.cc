// Streaming evaluation of an NDJSON accounts file with the portfolio pass, through
// EvaluatePortfolio (evaluate_portfolio.cc): pass 1 keeps only a compact record per account; when
// per-account output is asked for, pass 2 reads the file again and writes each full result with
// its portfolio fields, health and tasks following the tier after capacities.
#include <algorithm>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include "internal.h"
#include "portfolio.h"

namespace kam::rules {

using nlohmann::json;

namespace {

// Reads the NDJSON file line by line; calls fn(account, where) for every non-blank line.
template <class Fn>
Status ForEachAccount(const RuleSet::Impl& rs, const std::string& path, Fn fn) {
  std::ifstream in(path);
  if (!in) return Status::Error("cannot open the accounts file " + path, path);
  std::string line;
  Account account;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = path + ":" + std::to_string(line_no);
    auto parsed = jl::ParseJson(line, 64);
    if (!parsed) {
      return Status::Error(
          "line " + std::to_string(line_no) + " is not valid JSON: " + parsed.error().message,
          where);
    }
    if (Status st = rs.AccountFromJson(*parsed, &account); !st.ok()) {
      return Status::Error("line " + std::to_string(line_no) + ": " + st.message(),
                           where + " " + st.location());
    }
    if (account.id.empty()) {
      return Status::Error("line " + std::to_string(line_no) + ": the account has no \"id\"",
                           where);
    }
    if (Status st = fn(account, where); !st.ok()) return st;
  }
  if (in.bad()) return Status::Error("reading " + path + " failed", path);
  return Status();
}

}  // namespace

Status EvalFile(const RuleSet& rules, const std::string& input_path, std::ostream* output,
                EvalSummary* summary) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  PortfolioEvalOptions options;
  {
    // Reserve exactly, so that growing the compact records never holds two copies at once.
    std::ifstream count(input_path, std::ios::binary);
    uint64_t lines = 0;
    char buf[1 << 16];
    while (count.read(buf, sizeof(buf)) || count.gcount() > 0) {
      lines += static_cast<uint64_t>(std::count(buf, buf + count.gcount(), '\n'));
    }
    options.expected_accounts = lines;
  }
  AccountSource source = [&](const AccountVisitor& visit) {
    return ForEachAccount(rs, input_path, [&](const Account& account, const std::string& where) {
      return visit(account, where);
    });
  };
  // The per-account pass also runs for goal attainment and the task budget.
  const bool tally = !rs.goals.empty() || rs.max_open_tasks_per_owner.has_value();
  std::vector<GoalSummary> goals(rs.goals.size());
  for (size_t i = 0; i < rs.goals.size(); ++i) {
    goals[i].id = rs.goals[i].id;
    goals[i].label = rs.goals[i].label;
  }
  std::vector<BudgetCandidate> candidates;
  int64_t suggested = 0;
  ResultSink sink;
  if (output != nullptr || tally) {
    sink = [&](AccountResult&& result, std::string_view where) {
      for (const auto& g : result.goals) {
        for (auto& sum : goals) {
          if (sum.id != g.id) continue;
          (g.status == "met" ? sum.met : g.status == "not_met" ? sum.not_met : sum.unknown)++;
        }
      }
      suggested += static_cast<int64_t>(result.tasks.size());
      if (rs.max_open_tasks_per_owner) {
        for (const auto& t : result.tasks) {
          candidates.push_back(
              {result.account_id, result.owner_id, t.rule_id, t.priority, result.score});
        }
      }
      if (output == nullptr) return Status();
      *output << result.ToJson().dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      if (!*output) {
        return Status::Error("writing the per-account results failed", std::string(where));
      }
      return Status();
    };
  }
  Status st = EvaluatePortfolio(rules, source, sink, options, summary);
  if (!st.ok() || !sink) return st;
  summary->goals = std::move(goals);
  summary->tasks_suggested = suggested;
  summary->tasks_kept = suggested;
  summary->max_open_tasks_per_owner = rs.max_open_tasks_per_owner;
  if (rs.max_open_tasks_per_owner) {
    TaskBudgetResult budget = ApplyTaskBudget(candidates, {}, rs.max_open_tasks_per_owner);
    summary->tasks_kept = static_cast<int64_t>(budget.kept.size());
    summary->tasks_dropped = static_cast<int64_t>(budget.dropped.size());
    summary->task_owners = std::move(budget.owners);
    for (auto& d : budget.dropped) {
      if (summary->dropped_tasks.size() >= options.max_capped_listed) break;
      const BudgetCandidate& c = candidates[d.index];
      summary->dropped_tasks.push_back(
          {c.account_id, c.owner_id, c.rule_id, c.priority, std::move(d.reason)});
    }
  }
  return st;
}

json EvalSummary::ToJson() const {
  json p = portfolio.ToJson();
  return {{"n", accounts},
          {"sum_score", sum_score},
          {"digest", digest},
          {"tiers", p["tiers"]},
          {"tiers_by_score", p["tiers_by_score"]},
          {"capped", portfolio.capped},
          {"capped_accounts", p["capped_accounts"]},
          {"pareto", p["pareto"]},
          {"goals", GoalsJson()},
          {"tasks", TasksJson()}};
}

json EvalSummary::GoalsJson() const {
  json out = json::array();
  for (const auto& g : goals) {
    out.push_back({{"id", g.id},
                   {"label", g.label},
                   {"met", g.met},
                   {"not_met", g.not_met},
                   {"unknown", g.unknown}});
  }
  return out;
}

json EvalSummary::TasksJson() const {
  json owners = json::array();
  for (const auto& o : task_owners) {
    owners.push_back({{"owner_id", o.owner_id},
                      {"suggested", o.suggested},
                      {"kept", o.kept},
                      {"dropped", o.dropped}});
  }
  json dropped = json::array();
  for (const auto& d : dropped_tasks) {
    dropped.push_back({{"account_id", d.account_id},
                       {"owner_id", d.owner_id},
                       {"rule_id", d.rule_id},
                       {"priority", d.priority},
                       {"reason", d.reason}});
  }
  json out = {{"suggested", tasks_suggested}, {"kept", tasks_kept}, {"dropped", tasks_dropped}};
  if (max_open_tasks_per_owner) {
    out["max_open_per_owner"] = *max_open_tasks_per_owner;
    out["owners"] = std::move(owners);
    out["dropped_tasks"] = std::move(dropped);
  }
  return out;
}

std::string EvalSummary::ToText() const {
  std::ostringstream out;
  out << portfolio.ToText();
  if (!goals.empty()) {
    out << "Goals (accounts of the tiers with a target: met / not met / unknown):\n";
    for (const auto& g : goals) {
      out << "  " << g.label << ": " << g.met << " / " << g.not_met << " / " << g.unknown << "\n";
    }
  }
  if (max_open_tasks_per_owner) {
    int64_t most = 0;
    for (const auto& o : task_owners) most = std::max(most, o.kept);
    out << "Tasks: " << tasks_suggested << " suggested, " << tasks_kept << " kept, "
        << tasks_dropped << " dropped by the budget of " << *max_open_tasks_per_owner
        << " open tasks per owner (tasks.max_open_per_owner); " << task_owners.size()
        << (task_owners.size() == 1 ? " owner" : " owners") << ", at most " << most
        << " new per owner\n";
    size_t shown = 0;
    for (const auto& d : dropped_tasks) {
      if (++shown > 5) {
        out << "  ... " << (tasks_dropped - 5) << " more dropped (see --json)\n";
        break;
      }
      out << "  dropped " << d.rule_id << " on " << d.account_id << ": " << d.reason << "\n";
    }
  }
  out << "Sum of scores " << internal::FormatNumber(sum_score) << ", digest " << digest << "\n";
  return out.str();
}

}  // namespace kam::rules
