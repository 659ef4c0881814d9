// The diff (DESIGN §4 step 4): a pure function from this run's evaluation and the prior state
// (what the add-in last wrote, the conflicts it reported, its tasks; loaded in one bulk read by
// LoadPriorState) to the plan: the outbox's typed writes plus what people are told (conflicts,
// tier changes). No I/O, no clock: everything it depends on is in its arguments, so
// tests/unit/engine/diff_test.cc runs it in microseconds.
#ifndef KAM_ENGINE_DIFF_H_
#define KAM_ENGINE_DIFF_H_

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config.h"
#include "kam/rules/rules.h"
#include "kam/rules/task_budget.h"
#include "outbox.h"

namespace kam::store {
class Store;
}

namespace kam::engine {

// What the evaluate phase hands to the diff.
struct Evaluation {
  std::vector<rules::AccountResult> results;  // one per account evaluated without error
  rules::PortfolioSummary portfolio;
  std::unordered_map<std::string, std::string> names;  // account -> the CRM's name
  // account -> the writeback properties' values as the CRM holds them (absent/null = missing)
  std::unordered_map<std::string, std::map<std::string, std::string>> crm_values;
  std::unordered_set<std::string> live_accounts;    // every account not archived in the snapshot
  std::unordered_set<std::string> failed_accounts;  // evaluation failed: keep results and tasks
  struct Error {
    std::string account_id;
    std::string message;
  };
  std::vector<Error> errors;  // the first 50
};

// What the add-in wrote into one field, and the CRM's value right after.
struct LastWrite {
  std::string value;
  std::string crm_value;
};

// One task of the add-in as the state file knows it.
struct KnownTask {
  std::string key;
  std::string account_id;
  std::string rule_id;
  std::string crm_task_id;
  TaskState state = TaskState::kPlanned;
  bool auto_close = false;
};

struct PriorResult {
  std::string tier;
  double score = 0;
  // Goal attainment then (goal id -> met / not_met / unknown); unset when the stored result
  // predates goals in results (the card's goal trend is then unknown).
  std::optional<std::map<std::string, std::string>> goals = std::nullopt;
};

// The goal attainment stored with a result (its receipt's "goals": [{id, label, status}]), as
// goal id -> status; nullopt when the receipt has none (written before goals were stored).
std::optional<std::map<std::string, std::string>> GoalStatusesFromReceipt(
    const std::string& receipt_json);

// The state file's memory, read in one pass per table before the diff.
struct PriorState {
  std::string portal_id;
  // account -> field -> last write
  std::unordered_map<std::string, std::map<std::string, LastWrite>> written;
  // ConflictKey(account, field) -> the person's value already reported (respect)
  std::unordered_map<std::string, std::string> reported_conflicts;
  std::unordered_map<std::string, PriorResult> results;      // account -> stored result
  std::unordered_map<std::string, KnownTask> tasks;          // task key -> task
  std::unordered_map<std::string, std::string> task_owners;  // task key -> owner assigned to
  // Which task keys the state file does not know were certainly never sent. A new state file on
  // a portal the add-in wrote before, or a state restored from a backup, may have lost tasks:
  // unknown keys of the periods before that are searched before they are created.
  // Task keys of periods that began at or after this time were certainly never sent by anyone
  // but this state file; -1 = not decided yet (a new state file: the first diff decides).
  int64_t keys_vouched_since = -1;
  int64_t last_write_ms = 0;  // the newest write this state file recorded
};

std::string ConflictKey(const std::string& account_id, const std::string& field);
// The state file's meta key remembering a reported conflict ("v:" + the person's value).
std::string ConflictMetaKey(const std::string& account_id, const std::string& field);

// Reads the prior state (written values, reported conflicts, results, tasks) in one pass each.
PriorState LoadPriorState(store::Store& store, const std::string& portal_id);
// The run-wide part of it: portal, reported conflicts, keys_vouched_since, last_write_ms.
PriorState LoadPriorGlobals(store::Store& store, const std::string& portal_id);
// Replaces prior's per-account part (written values, results, tasks) with the rows of
// `accounts`, which lie between first and last (by id); tasks_only: only the tasks.
void LoadPriorRows(store::Store& store, const std::string& first, const std::string& last,
                   const std::unordered_set<std::string>& accounts, bool tasks_only,
                   PriorState* prior);
// Replaces prior's per-account part with the tasks of accounts archived or gone from the snapshot.
void LoadGoneTasks(store::Store& store, PriorState* prior);
// Stores Plan::keys_vouched_since (in the transaction that stages the plan).
void SaveVouchedSince(store::Store& store, int64_t since_ms);

struct DiffOptions {
  std::string crm;  // the rule file's mapping key ("hubspot")
  std::vector<rules::WritebackField> writeback;
  // The field policies (EngineConfig::PolicyFor).
  const EngineConfig* config = nullptr;
  int64_t now_ms = 0;  // the run's time: kam_scored_at, task due dates, task periods
  // (property, our value) -> the value the CRM will hold once written (Crm::StoredValue);
  // empty = as is.
  std::function<std::string(const std::string&, const std::string&)> stored_value;
};

// A field a person changed since the add-in's last write.
struct FieldConflict {
  std::string account_id;
  std::string account_name;
  std::string field;
  std::string ours;
  std::string crm;
  std::string last_written;
  ConflictPolicy policy = ConflictPolicy::kRespect;
  // First seen with this CRM value (reported and audited); false: a person's value already
  // reported in an earlier run, kept and listed but not reported again.
  bool is_new = true;
};

// The CRM holds what the rules arrived at (or a person set it): remembered as written.
struct AdoptedValue {
  std::string account_id;
  std::string field;
  std::string value;
};

struct TierChange {
  std::string account_id;
  std::string account_name;
  std::string from;
  std::string to;
};

// A new task suggestion the per-owner budget (tasks.max_open_per_owner) left out this run.
struct BudgetDrop {
  std::string account_id;
  std::string account_name;
  std::string owner_id;
  std::string rule_id;
  std::string title;
  std::string priority;  // high, medium, low
  std::string reason;    // rules::ApplyTaskBudget's, for people
};

struct Plan {
  std::vector<OutboxWrite> writes;  // the outbox: field updates, then task creates, completions
  std::vector<FieldConflict> conflicts;
  std::vector<std::pair<std::string, std::string>> reported_only;  // (account, field)
  std::vector<AdoptedValue> adopted;
  std::vector<TierChange> tier_changes;
  std::vector<std::string> dropped_results;  // accounts gone from the CRM: results deleted
  // Accounts the add-in scored after the last write the state file records (a state restored
  // from a backup): their CRM values were taken as the add-in's own, not as people's edits.
  std::vector<std::string> unrecorded_writes;
  int64_t keys_vouched_since = 0;            // PriorState::keys_vouched_since after this run
  // The task budget: the rule file's max_open_per_owner (none: every suggestion is created),
  // per owner the open tasks, suggestions, kept and dropped, and the dropped suggestions.
  std::optional<int64_t> task_budget;
  std::vector<rules::TaskBudgetOwner> budget_owners;
  std::vector<BudgetDrop> budget_dropped;

  size_t Count(WriteKind kind) const;
  template <typename T>
  std::vector<const T*> All() const {
    std::vector<const T*> out;
    for (const auto& w : writes) {
      if (const T* t = std::get_if<T>(&w)) out.push_back(t);
    }
    return out;
  }
};

// The task budget's outcome for people (dry run, run summary, report): {"max_open_per_owner"
// (null: no budget), "suggested", "kept", "dropped", "owners": [{owner_id, open, suggested, kept,
// dropped}], "dropped_tasks": [{account_id, name, owner_id, rule_id, title, priority, reason}]
// (the first max_listed)}.
nlohmann::json TaskBudgetJson(const Plan& plan, size_t max_listed = 200);

// The plan for this run. `rules` renders the writeback values (RuleSet::WritebackValue).
// Diff over the whole portfolio at once; the sync builds the same plan per chunk of accounts
// with the pieces below (plan.cc).
Plan Diff(const rules::RuleSet& rules, const Evaluation& evaluation, const PriorState& prior,
          const DiffOptions& options);

// ---- The pieces of Diff, for a plan built per chunk of accounts (plan.cc) ----
// Whether the CRM holds any of the add-in's values, and its newest scoring time (-1: none).
struct CrmScan {
  bool has_our_values = false;
  int64_t latest_scored = -1;
};
// Adds one account's CRM values (Evaluation::crm_values) to `scan`.
void ScanCrmValues(const std::map<std::string, std::string>& values, const DiffOptions& options,
                   CrmScan* scan);
// Plan::keys_vouched_since from the prior state and the scan of every live account.
int64_t KeysVouchedSince(const PriorState& prior, const CrmScan& scan, int64_t now_ms);
// The task suggestions of evaluation.results whose key is not known yet (or failed), before the
// budget, in result order.
std::vector<TaskCreateWrite> SuggestedCreates(const Evaluation& evaluation, const PriorState& prior,
                                              const DiffOptions& options, int64_t vouched);
// The add-in's open tasks in prior.tasks to complete: the rule's condition cleared (an account
// of evaluation.results), or the account is not in evaluation.live_accounts (gone). Sorted by
// account, rule, key.
std::vector<TaskCompletionWrite> PlannedCompletions(const Evaluation& evaluation,
                                                    const PriorState& prior);
// What the per-owner budget decides over: open tasks per owner and the new suggestions (their
// task keys alongside), accumulated over the chunks of a run.
struct BudgetInput {
  std::map<std::string, int64_t> open;  // owner -> open or planned tasks (less completions)
  std::vector<rules::BudgetCandidate> candidates;
  std::vector<std::string> keys;  // task key of each candidate
};
// Adds the open and planned tasks of prior.tasks that `completions` do not complete.
void CountOpenTasks(const PriorState& prior, const std::vector<TaskCompletionWrite>& completions,
                    std::map<std::string, int64_t>* open);
// Adds `creates` (SuggestedCreates): in doubt ones count as open, the others are candidates.
void AddBudgetCandidates(const Evaluation& evaluation, const std::vector<TaskCreateWrite>& creates,
                         BudgetInput* input);
struct TaskBudgetDecision {
  std::optional<int64_t> budget;  // tasks.max_open_per_owner; none: nothing is dropped
  std::vector<rules::TaskBudgetOwner> owners;
  std::unordered_map<std::string, std::string> dropped;  // task key -> reason
};
TaskBudgetDecision DecideTaskBudget(const rules::RuleSet& rules, BudgetInput&& input);
// The plan of a part of the portfolio (the accounts of `evaluation`; `prior` holds their rows),
// given the decisions that need the whole portfolio: the vouched time and the task budget.
// Plan::budget_owners stays empty (the decision has them).
Plan DiffPart(const rules::RuleSet& rules, const Evaluation& evaluation, const PriorState& prior,
              const DiffOptions& options, int64_t vouched, const TaskBudgetDecision& budget);

}  // namespace kam::engine

#endif  // KAM_ENGINE_DIFF_H_
