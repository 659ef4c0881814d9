// The one evaluation pipeline that `kam rules eval` (EvalFile) and the sync share: every account
// evaluated (criteria, score, tier by score), the portfolio pass (rank, Pareto, capacities), then
// each account's full result with health and tasks evaluated against the tier after capacities.
#include <algorithm>
#include <functional>

#include "internal.h"
#include "portfolio.h"

namespace kam::rules {

Status EvaluatePortfolio(const RuleSet& rules, const AccountSource& source, const ResultSink& sink,
                         const PortfolioEvalOptions& options, EvalSummary* summary) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  jl::Evaluator ev;
  std::vector<jl::Value> record(rs.record_size());
  internal::CoreResult core;
  internal::PortfolioBook book;
  book.Reserve(options.expected_accounts + 1);
  uint32_t digest = 2166136261u;
  double sum = 0;
  std::string line;

  // Pass 1: scores and tier by score, kept compact for the portfolio pass.
  Status st = source([&](const Account& account, std::string_view where) -> Status {
    std::fill(record.begin(), record.end(), jl::Value::Absent());
    rs.FillRecord(account, record);
    if (Status s = rs.Core(ev, record, &core); !s.ok()) {
      if (options.on_error) return options.on_error(account, where, s);
      return Status::Error(s.message(), std::string(where));
    }
    double revenue = 0;
    if (rs.revenue_index >= 0 && record[static_cast<size_t>(rs.revenue_index)].is_number()) {
      revenue = record[static_cast<size_t>(rs.revenue_index)].as_number();
    }
    book.Add(account.id, account.owner_id, core.score, revenue, core.tier);
    digest =
        internal::FoldDigestLine(rs, account.id, core.score, core.tier, core.tasks, line, digest);
    sum += core.score;
    return Status();
  });
  if (!st.ok()) return st;
  summary->accounts = static_cast<int64_t>(book.size());
  summary->sum_score = sum;
  summary->digest = internal::Hex32(digest);
  summary->portfolio = book.Run(rs, options.max_capped_listed);
  if (!sink) return Status();

  // Pass 2: full results with the portfolio fields; health and tasks follow the final tier.
  size_t index = 0;
  AccountResult result;
  return source([&](const Account& account, std::string_view where) -> Status {
    std::fill(record.begin(), record.end(), jl::Value::Absent());
    rs.FillRecord(account, record);
    if (Status s = rs.Core(ev, record, &core); !s.ok()) {
      if (options.on_error) return Status();  // reported in pass 1
      return Status::Error(s.message(), std::string(where));
    }
    if (index >= book.size()) {
      return Status::Error("the accounts changed between the two passes", std::string(where));
    }
    rs.FillResult(account, record, core, ev, &result);
    result.rank = book.rank(index);
    result.pareto = book.pareto(index);
    const int final_tier = book.final_tier(index);
    result.final_tier = rs.tiers[static_cast<size_t>(final_tier)].id;
    result.capped_reason = book.CappedReason(rs, index);
    if (final_tier != core.tier) {
      record[static_cast<size_t>(rs.slot_tier)] =
          jl::Value::String(rs.tiers[static_cast<size_t>(final_tier)].id);
      if (Status s = rs.HealthAndTasks(ev, record, &core); !s.ok()) {
        if (options.on_error) return options.on_error(account, where, s);
        return Status::Error(s.message(), std::string(where));
      }
      rs.FillHealthAndTasks(record, core, &result);
    }
    ++index;
    if (!options.keep_inputs) {
      for (auto& c : result.criteria) std::vector<InputValue>().swap(c.inputs);
      std::vector<NextTierPath::Change>().swap(result.next_tier.changes);
    }
    return sink(std::move(result), where);
  });
}

}  // namespace kam::rules
