// The evaluate phase (DESIGN §4 step 3): every account of the snapshot through the one rules
// pipeline rules::EvaluatePortfolio (scores and tier, the portfolio pass, then health and tasks
// with the tier after capacities), as of the run's UTC day (RunContext::eval_now_ms).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "diff.h"
#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

Evaluation EvaluateAccounts(RunContext& ctx, bool persist_checkpoints) {
  Evaluation ev;
  store::Store& store = *ctx.store;
  const rules::RuleSet& rules = *ctx.rules;
  int64_t total = store.CountAccounts(false);
  // Only the CRM values the diff needs are kept (the writeback properties), not whole records.
  std::vector<rules::WritebackField> writeback = rules.Writeback(ctx.cfg.crm);
  // The rules' "now" (days_since fields) is anchored to the run's UTC day, like the facts' time
  // windows: two runs of one day evaluate alike.
  const int64_t now_seconds = ctx.eval_now_ms / 1000;
  // It visits the snapshot twice; the first visit also collects names and the writeback values.
  int pass = 0;
  int64_t n = 0;
  rules::AccountSource source = [&](const rules::AccountVisitor& visit) -> rules::Status {
    ++pass;
    rules::Status status;
    store.ForEachAccount(
        [&](const store::AccountRow& row) {
          if (!status.ok()) return;
          json props = json::parse(row.properties_json, nullptr, false);
          if (!props.is_object()) props = json::object();
          json aggs = row.aggregates_json.empty()
                          ? json::object()
                          : json::parse(row.aggregates_json, nullptr, false);
          if (!aggs.is_object()) aggs = json::object();
          rules::Account account = rules.MapAccount(ctx.cfg.crm, row.id, row.owner_id, props, aggs,
                                                    now_seconds, nullptr);
          if (pass == 1) {
            auto name = props.find("name");
            ev.names[row.id] =
                name != props.end() && name->is_string() ? name->get<std::string>() : std::string();
            ev.live_accounts.insert(row.id);
            std::map<std::string, std::string> kept;
            for (const auto& wb : writeback) {
              auto it = props.find(wb.property);
              if (it != props.end() && it->is_string()) kept[wb.property] = it->get<std::string>();
            }
            ev.crm_values.emplace(row.id, std::move(kept));
            if (++n % 5 == 0) {
              if (persist_checkpoints) ctx.Checkpoint("evaluate");
              ctx.CheckCancelled("evaluation");
              ctx.Progress("evaluate", static_cast<uint64_t>(n), static_cast<uint64_t>(total));
            }
          }
          status = visit(account, row.id);
        },
        false);
    return status;
  };
  rules::ResultSink sink = [&](rules::AccountResult&& result, std::string_view) {
    ev.results.push_back(std::move(result));
    return rules::Status();
  };
  rules::PortfolioEvalOptions options;
  options.expected_accounts = static_cast<size_t>(std::max<int64_t>(total, 0));
  // Keep what the portfolio pass, the diff and the writeback read; the per-criterion inputs
  // (the receipt's detail, shown by explain) dominate memory on a large portfolio.
  // The card (writeback "card") shows the inputs, so they are kept when it is written.
  options.keep_inputs =
      std::any_of(writeback.begin(), writeback.end(),
                  [](const rules::WritebackField& f) { return f.result == "card"; });
  options.on_error = [&](const rules::Account& account, std::string_view, const rules::Status& st) {
    ctx.counters.eval_errors++;
    ev.failed_accounts.insert(account.id);
    if (ev.errors.size() < 50) ev.errors.push_back({account.id, st.message()});
    return rules::Status();  // the account keeps its earlier results and tasks
  };
  rules::EvalSummary summary;
  rules::Status st = rules::EvaluatePortfolio(rules, source, sink, options, &summary);
  if (!st.ok()) {
    throw OpError(StatusCode::kInternal, "evaluating the accounts: " + st.message(), st.location());
  }
  ctx.counters.evaluated = static_cast<int64_t>(ev.results.size());
  ev.portfolio = std::move(summary.portfolio);
  ctx.counters.capped = ev.portfolio.capped;
  ctx.Progress("evaluate", static_cast<uint64_t>(n), static_cast<uint64_t>(total));
  return ev;
}

}  // namespace kam::engine
