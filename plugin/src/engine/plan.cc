// Evaluate, diff and stage per chunk of accounts (DESIGN §4 steps 3-5, issue 13 item 3): the
// memory of a sync does not grow with the portfolio's full results, cards and writes.
//
// The snapshot is read in pages of cfg.plan_chunk_accounts accounts (ordered by id, no statement
// held open between pages). rules::EvaluatePortfolio visits it twice: pass 1 keeps a compact
// record per account for the portfolio pass (score, owner, revenue, tier), and this file scans
// the CRM's writeback values for the vouched time; pass 2 hands over each account's full result,
// and after each page the page's results are diffed against the page's rows of the prior state
// (written values, results, tasks: range reads) and staged in one transaction. Only the task
// budget needs every suggestion of an owner first: with tasks.max_open_per_owner set, one more
// evaluation runs before, collecting the suggestions in a compact form (rules::BudgetCandidate
// and the task key) and the open tasks per owner; the decision (keys left out, with reasons)
// then applies to every chunk. Tasks of accounts archived or gone from the snapshot and their
// results are handled after the last chunk, with the run-wide metas.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "diff.h"
#include "flat_json.h"
#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

constexpr size_t kListedBudgetDrops = 200;  // what TaskBudgetJson lists at most
constexpr size_t kPumpEvery = 100;          // accounts evaluated between two calls of after_chunk

// Adds a chunk's plan to the run's: what people are told, and (keep_writes) the writes.
void Accumulate(Plan&& part, bool keep_writes, PlannedRun* run) {
  Plan& total = run->plan;
  run->updates += part.Count(WriteKind::kFieldUpdate);
  run->creates += part.Count(WriteKind::kTaskCreate);
  run->completions += part.Count(WriteKind::kTaskCompletion);
  run->unrecorded_writes += part.unrecorded_writes.size();
  for (auto& c : part.conflicts) total.conflicts.push_back(std::move(c));
  for (auto& r : part.reported_only) total.reported_only.push_back(std::move(r));
  for (auto& d : part.budget_dropped) {
    if (!keep_writes && total.budget_dropped.size() >= kListedBudgetDrops) break;
    total.budget_dropped.push_back(std::move(d));
  }
  if (!keep_writes) return;
  for (auto& w : part.writes) total.writes.push_back(std::move(w));
  for (auto& t : part.tier_changes) total.tier_changes.push_back(std::move(t));
  for (auto& a : part.adopted) total.adopted.push_back(std::move(a));
  for (auto& d : part.dropped_results) total.dropped_results.push_back(std::move(d));
  for (auto& u : part.unrecorded_writes) total.unrecorded_writes.push_back(std::move(u));
}

}  // namespace

PlannedRun PlanInChunks(RunContext& ctx, const std::string& portal_id, const DiffOptions& options,
                        bool stage, const std::function<void()>& after_chunk) {
  store::Store& store = *ctx.store;
  const rules::RuleSet& rules = *ctx.rules;
  const size_t chunk = static_cast<size_t>(std::max(1, ctx.cfg.plan_chunk_accounts));
  const int64_t total = store.CountAccounts(false);
  // The rules' "now" (days_since fields) is anchored to the run's UTC day, like the facts' time
  // windows: two runs of one day evaluate alike.
  const int64_t now_seconds = ctx.eval_now_ms / 1000;
  PriorState prior = LoadPriorGlobals(store, portal_id);
  PlannedRun run;
  CrmScan scan;
  std::optional<int64_t> vouched;  // decided once pass 1 has scanned every account
  std::unordered_set<std::string> failed;
  bool first_evaluation = true;
  bool pumping = false;  // the staging evaluation, with after_chunk set
  size_t since_pump = 0;

  // One evaluation of the whole portfolio; on_chunk gets each page's evaluated accounts (pass 2)
  // with the page's first and last id.
  using ChunkFn =
      std::function<void(Evaluation & part, const std::string& first, const std::string& last)>;
  auto evaluate = [&](const ChunkFn& on_chunk) {
    int pass = 0;
    int64_t n = 0;
    Evaluation* part = nullptr;
    rules::AccountSource source = [&](const rules::AccountVisitor& visit) -> rules::Status {
      ++pass;
      std::string after;
      for (;;) {
        std::vector<store::AccountRow> rows = store.AccountsAfter(after, chunk, false);
        if (rows.empty()) break;
        after = rows.back().id;
        Evaluation page;
        part = &page;
        for (const auto& row : rows) {
          json props = ParseObjectOrEmpty(row.properties_json);
          json aggs = row.aggregates_json.empty() ? json::object()
                                                  : ParseObjectOrEmpty(row.aggregates_json);
          rules::Account account = rules.MapAccount(ctx.cfg.crm, row.id, row.owner_id, props, aggs,
                                                    now_seconds, nullptr);
          // Only the CRM values the diff needs are kept (the writeback properties).
          std::map<std::string, std::string> kept;
          for (const auto& wb : options.writeback) {
            auto it = props.find(wb.property);
            if (it != props.end() && it->is_string()) kept[wb.property] = it->get<std::string>();
          }
          if (pass == 1) {
            if (first_evaluation) {
              ScanCrmValues(kept, options, &scan);
              if (++n % 5 == 0) {
                if (stage) ctx.Checkpoint("evaluate");
                ctx.CheckCancelled("evaluation");
                ctx.Progress("evaluate", static_cast<uint64_t>(n), static_cast<uint64_t>(total));
              }
            }
          } else {
            auto name = props.find("name");
            page.names[row.id] =
                name != props.end() && name->is_string() ? name->get<std::string>() : std::string();
            page.live_accounts.insert(row.id);
            page.crm_values.emplace(row.id, std::move(kept));
          }
          rules::Status st = visit(account, row.id);
          if (!st.ok()) return st;
          // The push's answers are stored, and its next batches sent, while the chunk is
          // evaluated too (no statement or transaction is open here).
          if (pass == 2 && pumping && ++since_pump >= kPumpEvery) {
            since_pump = 0;
            after_chunk();
          }
        }
        if (pass == 2) {
          for (const auto& id : page.live_accounts) {
            if (failed.count(id)) page.failed_accounts.insert(id);
          }
          if (!vouched) vouched = KeysVouchedSince(prior, scan, ctx.now_ms);
          ctx.CheckCancelled("planning");
          on_chunk(page, rows.front().id, rows.back().id);
        }
        part = nullptr;
      }
      return rules::Status();
    };
    rules::ResultSink sink = [&](rules::AccountResult&& result, std::string_view) {
      part->results.push_back(std::move(result));
      return rules::Status();
    };
    rules::PortfolioEvalOptions eo;
    eo.expected_accounts = static_cast<size_t>(std::max<int64_t>(total, 0));
    // The card (writeback "card") shows the per-criterion inputs, so they are kept when it is
    // written; they dominate a result's memory, but only one chunk's results are held.
    eo.keep_inputs = std::any_of(options.writeback.begin(), options.writeback.end(),
                                 [](const rules::WritebackField& f) { return f.result == "card"; });
    eo.on_error = [&](const rules::Account& account, std::string_view, const rules::Status& st) {
      if (first_evaluation) {
        ctx.counters.eval_errors++;
        if (run.errors.size() < 50) run.errors.emplace_back(account.id, st.message());
      }
      failed.insert(account.id);
      if (part != nullptr) part->failed_accounts.insert(account.id);
      return rules::Status();  // the account keeps its earlier results and tasks
    };
    rules::EvalSummary summary;
    rules::Status st = rules::EvaluatePortfolio(rules, source, sink, eo, &summary);
    if (!st.ok()) {
      throw OpError(StatusCode::kInternal, "evaluating the accounts: " + st.message(),
                    st.location());
    }
    if (first_evaluation) {
      ctx.Progress("evaluate", static_cast<uint64_t>(n), static_cast<uint64_t>(total));
      run.portfolio = std::move(summary.portfolio);
      ctx.counters.capped = run.portfolio.capped;
    }
    first_evaluation = false;
  };

  // ---- the task budget: every suggestion first, in a compact form ----
  TaskBudgetDecision budget;
  PriorState gone = LoadPriorGlobals(store, portal_id);
  LoadGoneTasks(store, &gone);
  const std::vector<TaskCompletionWrite> gone_completions = PlannedCompletions(Evaluation{}, gone);
  if (rules.max_open_tasks_per_owner()) {
    BudgetInput input;
    CountOpenTasks(gone, gone_completions, &input.open);
    evaluate([&](Evaluation& part, const std::string& first, const std::string& last) {
      LoadPriorRows(store, first, last, part.live_accounts, /*tasks_only=*/true, &prior);
      CountOpenTasks(prior, PlannedCompletions(part, prior), &input.open);
      AddBudgetCandidates(part, SuggestedCreates(part, prior, options, *vouched), &input);
    });
    budget = DecideTaskBudget(rules, std::move(input));
  }
  run.plan.task_budget = budget.budget;
  run.plan.budget_owners = budget.owners;

  // ---- each chunk: diff and stage ----
  std::map<std::string, std::vector<int64_t>> pending_updates;
  if (stage) pending_updates = PendingUpdatesByAccount(store);
  bool vouched_saved = false;
  int64_t evaluated = 0;
  pumping = stage && static_cast<bool>(after_chunk);
  evaluate([&](Evaluation& part, const std::string& first, const std::string& last) {
    LoadPriorRows(store, first, last, part.live_accounts, /*tasks_only=*/false, &prior);
    Plan plan = DiffPart(rules, part, prior, options, *vouched, budget);
    evaluated += static_cast<int64_t>(part.results.size());
    if (stage) {
      StageOptions so;
      so.pending_updates = &pending_updates;
      so.save_vouched = !vouched_saved;
      StagePlan(ctx, part, prior, plan, so);
      vouched_saved = true;
    }
    Accumulate(std::move(plan), !stage, &run);
    if (stage && after_chunk) after_chunk();
  });
  if (!vouched) vouched = KeysVouchedSince(prior, scan, ctx.now_ms);
  run.plan.keys_vouched_since = *vouched;
  ctx.counters.evaluated = evaluated;

  // ---- accounts gone from the snapshot: their open tasks completed, their results dropped ----
  Plan last;
  last.keys_vouched_since = *vouched;
  for (const auto& c : gone_completions) last.writes.push_back(c);
  last.dropped_results = store.ResultsOfGoneAccounts();
  if (stage) {
    StageOptions so;
    so.save_vouched = !vouched_saved;
    so.portfolio = &run.portfolio;
    so.budget = &run.plan;
    StagePlan(ctx, Evaluation{}, gone, last, so);
  }
  Accumulate(std::move(last), !stage, &run);
  return run;
}

}  // namespace kam::engine
