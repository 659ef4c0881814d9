// The phases of a sync (DESIGN §4) as free functions over a RunContext, in the order
// SyncEngine::Sync runs them: pull (pull.cc) -> evaluate, diff (diff.h) and stage the outbox
// (outbox.cc) per chunk of accounts (plan.cc) -> push (push.cc) -> record (run_record.cc); the
// read-side report (report.cc). Each may throw OpError; the run record (RunRecorded) turns what
// escapes into the run's outcome.
#ifndef KAM_ENGINE_PHASES_H_
#define KAM_ENGINE_PHASES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "diff.h"
#include "status.h"

namespace kam::store {
class Store;
}

namespace kam::engine {

class RunContext;
struct RunCounters;
struct CallLimits;

// ---- pull.cc ----
// Pulls changed (or all: full, first run, cursor too old, a full pull in progress) companies
// into the snapshot, one transaction per page with its cursor; marks deleted and archived
// companies. Returns the ids pulled.
std::unordered_set<std::string> PullAccounts(RunContext& ctx, bool full);
// Reads the aggregates the rule file maps, as of RunContext::eval_now_ms: every account
// ("all", or a port without incremental facts), else RefreshFactsIncrementally.
void RefreshFacts(RunContext& ctx, const std::unordered_set<std::string>& pulled);

// ---- facts.cc ----
// "facts": "changed" on a port with incremental facts (RefreshFacts calls it): changed deals,
// contacts and meetings by their modification time, the links of changed companies, the
// aggregates computed locally from the state file as of RunContext::eval_now_ms.
void RefreshFactsIncrementally(RunContext& ctx);

// ---- task_status.cc ----
// With a task budget (tasks.max_open_per_owner) only: reads the CRM status of the add-in's tasks
// the state file holds open (Crm::FindTasks: HubSpot one search per 100 keys, Salesforce one
// SOQL query per up to 2,000) and records, before the diff, those a person completed (state
// completed, never reopened) or re-assigned (owner), with an audit row each, so the budget counts
// only what is open. A task the search does not return is left as it is (indexes lag behind
// writes). A failure that does not stop the run is logged and the state file's view is used.
struct TaskStatusRefresh {
  int64_t checked = 0;     // open tasks whose status was asked for
  int64_t completed = 0;   // found completed in the CRM
  int64_t reassigned = 0;  // found with another owner
  bool failed = false;     // the read failed; nothing was changed
};
TaskStatusRefresh RefreshOpenTaskStatus(RunContext& ctx);

// ---- outbox.cc ----
// Results, history, conflicts, the outbox entries and task rows of `plan`, in one transaction,
// with the run-wide metas (keys_vouched_since, last_portfolio, last_task_budget).
void StagePlan(RunContext& ctx, const Evaluation& evaluation, const PriorState& prior,
               const Plan& plan);
// The pending field updates per account (a new plan for the account supersedes them).
std::map<std::string, std::vector<int64_t>> PendingUpdatesByAccount(store::Store& store);
struct StageOptions {
  // Pending field updates per account; an account's entries are deleted (and taken out of the
  // map) when this plan writes the account's fields.
  std::map<std::string, std::vector<int64_t>>* pending_updates = nullptr;
  bool save_vouched = false;                           // Plan::keys_vouched_since
  const rules::PortfolioSummary* portfolio = nullptr;  // set: stored as last_portfolio
  const Plan* budget = nullptr;                        // set: its task budget as last_task_budget
};
// One part of a plan (a chunk of accounts, plan.cc), in one transaction.
void StagePlan(RunContext& ctx, const Evaluation& evaluation, const PriorState& prior,
               const Plan& plan, const StageOptions& options);

// ---- plan.cc ----
// Evaluate, diff and (stage = true) stage the outbox per chunk of cfg.plan_chunk_accounts
// accounts (DESIGN §4 steps 3-5), keeping for the whole portfolio only what the portfolio pass
// and the task budget need. The returned plan holds what people are told: conflicts, reported
// fields, the budget (dropped suggestions: the first 200 when staging), and — only when not
// staging (the dry run) — the writes and tier changes.
struct PlannedRun {
  Plan plan;
  size_t updates = 0;
  size_t creates = 0;
  size_t completions = 0;
  size_t unrecorded_writes = 0;
  rules::PortfolioSummary portfolio;
  std::vector<std::pair<std::string, std::string>> errors;  // (account, message), the first 50
};
// after_chunk (optional, when staging): called after each chunk's transaction and every 100
// accounts of the evaluation that stages (the push's Pump), never inside a transaction.
PlannedRun PlanInChunks(RunContext& ctx, const std::string& portal_id, const DiffOptions& options,
                        bool stage, const std::function<void()>& after_chunk = {});

// ---- push.cc ----
// Before the first write of a run: every writeback property (and the task-key property) must
// exist with the right type, else nothing is written and the run stops with
// kFailedPrecondition naming them. One call per object type, once per run.
void CheckPropertiesOnce(RunContext& ctx);
// Sends every pending outbox entry; returns the error that stops the run (entries stay pending
// and the next run resumes them), or nothing. Push(ctx) is PushSession(ctx).Finish().
std::optional<OpError> Push(RunContext& ctx);
// The push of a sync, begun while the plan stages its chunks: after StartPumping, each Pump
// (the plan calls it after each chunk's commit and every 100 accounts it evaluates) sends the
// field updates staged since then in full batches, up to Crm::WriteConcurrency() in flight,
// and stores the answers already in, without waiting for the CRM; Finish sends the rest (an earlier
// run's field updates, the plan's last ones, then task creates and completions) and waits for every
// answer. Answers are stored on the run's thread, one transaction per batch, in the order the
// batches were sent, between the plan's chunk transactions. With WriteConcurrency() 1 Pump sends
// nothing.
class PushSession {
 public:
  explicit PushSession(RunContext& ctx);
  ~PushSession();
  PushSession(const PushSession&) = delete;
  PushSession& operator=(const PushSession&) = delete;
  void StartPumping();
  void Pump();
  std::optional<OpError> Finish();

 private:
  struct Impl;
  RunContext& ctx();
  std::unique_ptr<Impl> impl_;
};

// ---- run_record.cc ----
// Runs `body` as one recorded run of `kind` ("sync", "dry_run", "provision"): opens the state
// file, starts the clock and the run row, and ends the row "ok", "error" or "cancelled"; the
// state file and the CRM are closed when it returns or throws.
nlohmann::json RunRecorded(RunContext& ctx, const char* kind,
                           const std::function<nlohmann::json()>& body);
// The run summary: counters, run id, duration, checkpoints, API usage.
nlohmann::json RunSummary(RunContext& ctx);
nlohmann::json UsageJson(RunContext& ctx);
// The calls the run's data required under the CRM's page and batch sizes (`minimum_calls` and
// its parts; plugin/src/engine/README.md, *Call budget*).
nlohmann::json MinimumCalls(const RunCounters& counters, const CallLimits& limits);
std::string SyncText(const nlohmann::json& summary);
// `kam status`: last runs, cursor, outbox backlog, quota, conflicts kept.
nlohmann::json StatusReport(RunContext& ctx);

// ---- report.cc ----
// `kam report`: the portfolio from the last sync's stored results; the HTML page (report_html.h)
// when html_path is set.
nlohmann::json PortfolioReport(RunContext& ctx, const std::string& html_path);

}  // namespace kam::engine

#endif  // KAM_ENGINE_PHASES_H_
