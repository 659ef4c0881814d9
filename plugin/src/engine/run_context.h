// What the phases of one sync share (DESIGN §4): the state store, the CRM port, the rule file,
// the clock, cancellation, progress, crash checkpoints and the run's counters. Each phase
// (pull.cc, evaluate.cc, diff.cc, outbox.cc, push.cc, run_record.cc, report.cc) is a free
// function over a RunContext; SyncEngine (sync_engine.cc) owns one for its life and runs the
// phases in order. Used by one thread at a time. No JSON or HTTP types in here on purpose.
#ifndef KAM_ENGINE_RUN_CONTEXT_H_
#define KAM_ENGINE_RUN_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "crm.h"
#include "locked_host.h"
#include "operation.h"
#include "status.h"

namespace kam::store {
class Store;
}
namespace kam::rules {
class RuleSet;
}

namespace kam::engine {

inline constexpr int64_t kDayMs = 86'400'000;
inline constexpr const char* kCompaniesCursor = "companies";

// Epoch milliseconds. Injectable so that tests can run two syncs "six hours apart".
using Clock = std::function<int64_t()>;
int64_t SystemClockMs();
// The start (00:00 UTC) of the day that holds `ms`.
int64_t UtcDayStartMs(int64_t ms);
// ISO 8601 UTC with milliseconds, e.g. "2026-12-03T19:04:23.000Z".
std::string IsoUtc(int64_t ms);

// One write error for the run summary (the first 50 are kept).
struct WriteErrorNote {
  std::string account_id;
  std::string kind;
  std::string error;
};

// Run counters, reported in the summary and kept in the run row (run_record.cc renders them).
struct RunCounters {
  int64_t pulled = 0;
  int64_t pages = 0;
  int64_t archived = 0;
  int64_t facts_refreshed = 0;
  int64_t evaluated = 0;
  int64_t eval_errors = 0;
  int64_t changed_accounts = 0;
  int64_t fields_written = 0;
  int64_t accounts_written = 0;
  int64_t tasks_created = 0;
  int64_t tasks_existing = 0;
  int64_t tasks_linked = 0;  // found by key (created earlier) and linked to their company
  int64_t tasks_completed = 0;
  int64_t conflicts = 0;       // new this run (a person's value not reported before)
  int64_t conflicts_kept = 0;  // every field kept with a person's value (respect), new or not
  int64_t capped = 0;
  int64_t write_errors = 0;
  int64_t resumed_entries = 0;
  // Incremental facts (facts.cc): search pages and records of changed deals, contacts and
  // meetings; accounts whose links were read; whether the facts were read as a whole.
  int64_t fact_pages = 0;
  int64_t fact_records = 0;
  int64_t fact_link_reads = 0;
  bool facts_full = false;
  int64_t echoes = 0;         // pulled companies recognised as the echo of the add-in's write
  int64_t write_batches = 0;  // batch write calls planned by the push (one per batch)
  // What the run's data required of the CRM, for minimum_calls (run_record.cc, the engine
  // README's *Call budget*): the archived ids listed, per fact kind searched its changed
  // records, the record batch reads the unknown linked records needed, the calls of a full
  // facts read ("all"), and the open tasks whose status was read.
  int64_t archived_listed = 0;
  std::map<std::string, int64_t> fact_records_by_kind;
  int64_t fact_kinds = 0;  // fact kinds whose links were read (per chunk of accounts)
  int64_t fact_record_reads = 0;
  int64_t facts_all_calls = 0;
  int64_t task_status_keys = 0;
  bool full_pull = false;
  bool pull_resumed = false;  // the full pull went on after an interrupted run's last page
  std::vector<WriteErrorNote> errors;
};

// Where the rule file comes from.
struct RulesSource {
  std::string text;                 // "" = read config.rules_path
  std::string name = "rules.json";  // file name for diagnostics when text is used
};

// The CRM properties the writeback of `rules` needs on `crm` (the port adds its task-key
// property): what provisioning creates, the sync verifies and `kam doctor` checks.
ProvisionSpec WritebackSpecOf(const rules::RuleSet& rules, const std::string& crm);

class RunContext {
 public:
  RunContext(Host& host, EngineConfig config, Clock clock,
             std::function<void(const char* where, int64_t n)> on_checkpoint,
             std::function<std::optional<std::string>(std::string_view)> get_secret);
  ~RunContext();
  RunContext(const RunContext&) = delete;
  RunContext& operator=(const RunContext&) = delete;

  // Every call to the host goes through this lock: the push runs CRM calls on several threads
  // (locked_host.h). Declared before `host`, which refers to it.
  LockedHost locked_host;
  Host& host;
  const EngineConfig cfg;
  Clock clock;

  // Open during one public call of SyncEngine, reset at its end (the state file's lock is held
  // only while a call runs).
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Crm> crm;
  std::shared_ptr<const rules::RuleSet> rules;

  int64_t run_id = 0;
  // The run's start by the clock: timestamps (kam_scored_at, audit rows, cursors, due dates).
  int64_t now_ms = 0;
  // The "now" of the rules (days_since fields) and of the facts' time windows (won revenue in
  // the last 12 months, active contacts, last meeting): anchored to now_ms's UTC day — its last
  // millisecond, so that a deal won or a meeting held earlier today counts (the facts ignore
  // what lies after "now"). Two runs of one day see the same windows, so a second sync a few
  // hours later finds nothing changed (issue 9 item 7).
  int64_t eval_now_ms = 0;
  int64_t started_steady_ms = 0;  // the run's start by the steady clock (its duration)
  RunCounters counters;
  int64_t checkpoints = 0;  // passed in this engine's life (SyncEngineOptions::on_checkpoint)
  bool properties_checked = false;

  // The push's check of the CRM's properties before its first write (CheckPropertiesOnce) is
  // remembered in the state file with the writeback it checked: it is repeated after
  // kPropertyCheckValidMs, when the writeback changes, after a run with a write error or a
  // failure, or when the port needs it every run (Crm::AssumePropertiesVerified). In
  // run_record.cc.
  static constexpr int64_t kPropertyCheckValidMs = 24 * 3'600'000;
  bool PropertyCheckStillValid();
  void RememberPropertyCheck(bool task_key_unique);
  void ForgetPropertyCheck();

  // Reads the clock into now_ms and eval_now_ms.
  void StartClock();

  // A crash-safety checkpoint: every page, batch and commit boundary. Counted per engine; the
  // test hook (if any) may kill the process here.
  void Checkpoint(const char* where);
  // Throws OpError(kCancelled) when the host asked to stop.
  void CheckCancelled(const char* where);
  void Progress(const char* phase, uint64_t done, uint64_t total);
  void Log(int32_t level, const std::string& message);

  // ---- setup (run_context.cc) ----
  void OpenStore();   // takes the state file's lock; OpError kConflict when in use
  void CloseStore();  // releases the CRM and the state file
  void ConnectCrm();  // MakeCrm with the configured secret source
  // Loads (and validates) the rule file; run_tests: also its embedded tests.
  void LoadRules(const RulesSource& source, bool run_tests);
  void RunRuleTests();
  // The portal id, checked against the one the state file is bound to: a state file of another
  // portal is refused (kConflict) before anything is written; a new state file is bound here.
  std::string BoundPortalId();
  // The account properties to pull: what the mapping reads plus the writeback properties.
  std::vector<std::string> PullProperties() const;
  // The CRM properties the rule file's writeback needs (the port adds its task-key property).
  ProvisionSpec WritebackSpec() const { return WritebackSpecOf(*rules, cfg.crm); }

 private:
  std::function<void(const char*, int64_t)> on_checkpoint_;
  std::function<std::optional<std::string>(std::string_view)> get_secret_;
};

// A CRM failure as the operation's error, prefixed with what the engine was doing.
OpError CrmFailure(const CrmError& error, const std::string& what);

}  // namespace kam::engine

#endif  // KAM_ENGINE_RUN_CONTEXT_H_
