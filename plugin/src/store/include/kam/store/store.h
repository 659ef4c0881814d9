// The add-in's durable state for one CRM portal: a SQLite file (WAL) holding the account snapshot,
// pull cursors, evaluation results, the values this add-in last wrote, the outbox, the task map,
// score history, the audit log and the run log. One process owns a state file at a time (an
// exclusive lock on `<db>.lock`); a second Open() is refused with StoreLockedError.
//
// Errors: every call may throw StoreError (a SQLite failure, with what was being done); nothing
// else escapes. A Store is used by one thread at a time. JSON columns are passed as text.
#ifndef KAM_STORE_STORE_H_
#define KAM_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kam::store {

class FactsStore;

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Another process (or another Store in this process) holds the state file.
class StoreLockedError : public StoreError {
 public:
  using StoreError::StoreError;
};

// The number of the newest migration; Open() brings every file up to it.
inline constexpr int kSchemaVersion = 5;

// One company as pulled from the CRM: raw properties and aggregates (JSON objects as text), the
// typed account the rule file's mapping produced (JSON), and the CRM's modification time.
struct AccountRow {
  std::string id;
  std::string owner_id;
  std::string properties_json = "{}";
  std::string aggregates_json = "{}";
  std::string mapped_json = "{}";
  int64_t modified_ms = 0;
  bool archived = false;
};

// Where the next incremental pull starts: (timestamp, id) of the last record committed. A full
// pull in progress keeps its paging token (stored with each committed page), its start time and
// the ids its pages delivered (AddPulled), so that the next run resumes it after the last
// committed page; finishing it clears all three.
struct Cursor {
  int64_t ts_ms = 0;
  std::string last_id;
  int64_t last_full_pull_ms = 0;  // when the last full pull finished; 0 = never
  std::string full_pull_after;    // paging token after the last committed page of a full pull
  bool full_pull_in_progress = false;
  int64_t updated_ms = 0;
  int64_t full_pull_started_ms = 0;  // when the full pull in progress started; 0 = none
};

// The evaluation of one account by the rule file (and the portfolio pass).
struct ResultRow {
  std::string account_id;
  std::string scores_json = "{}";
  double score = 0;
  std::string tier;
  std::string health_json = "{}";
  std::string receipt_json = "{}";
  std::string rules_hash;
  std::string capped_reason;
  std::string owner_id;
  double revenue = 0;
  int64_t evaluated_ms = 0;
};

// What this add-in last wrote into one CRM field, and the CRM's value right after that write.
struct WrittenValue {
  std::string value;
  std::string crm_value;
  int64_t written_ms = 0;
};

enum class OutboxState { kPending, kAcked, kError };

// One planned CRM write. kind: "update" (company fields; payload {"properties":{..}}),
// "create_task" (payload: the task), "complete_task" (payload {"task_id":..}).
struct OutboxEntry {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string kind;
  std::string idem_key;  // unique: planning the same write twice keeps one entry
  std::string account_id;
  std::string payload_json = "{}";
  OutboxState state = OutboxState::kPending;
  int attempts = 0;
  std::string last_error;
};

// A task this add-in created (or is creating): its key, its CRM id once known, and its state
// ("planned", "open", "completed").
struct TaskRow {
  std::string task_key;
  std::string account_id;
  std::string rule_id;
  std::string crm_task_id;
  std::string state;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string owner_id;
  bool auto_close = false;  // complete it when the rule's condition clears
};

struct RunRow {
  int64_t id = 0;
  std::string kind;  // "sync", "dry_run", ...
  int64_t started_ms = 0;
  int64_t ended_ms = 0;  // 0 while running (or crashed)
  std::string outcome;   // "running", "ok", "error", "cancelled", "interrupted"
  std::string counters_json = "{}";
  std::string error;
};

struct AuditRow {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t at_ms = 0;
  std::string action;  // "update_field", "create_task", "complete_task", "conflict", ...
  std::string account_id;
  std::string target;  // the field name or the task key
  std::string old_value;
  std::string new_value;
  std::string detail;
};

struct HistoryRow {
  std::string account_id;
  int64_t run_id = 0;
  double score = 0;
  std::string tier;
  int64_t at_ms = 0;
  // Goal attainment then: a JSON object goal id -> "met" / "not_met" / "unknown" ("{}" when the
  // tier had no goals); "" = not recorded (rows before schema version 5).
  std::string goals_json = "";
};

struct StoreOptions {
  // Applied to every text value written (all columns): the engine redacts secrets here, so that
  // none reaches the state file. Empty = stored as given.
  std::function<void(std::string& text)> redact;
};

class Store {
 public:
  // Opens (creating if needed) the state file at `path`, takes the exclusive lock, sets WAL and a
  // busy timeout, and applies the pending migrations. ":memory:" is allowed (no lock file).
  // The file, its -wal/-shm and the lock file are created (or tightened to) mode 0600, whatever
  // the umask.
  static std::unique_ptr<Store> Open(const std::string& path, StoreOptions options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int SchemaVersion();
  const std::string& path() const;

  // A unit of work: everything done through the Store between Begin() and Commit() is atomic.
  // Destroying an uncommitted Transaction rolls it back. Not nestable.
  class Transaction {
   public:
    explicit Transaction(Store& store);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void Commit();

   private:
    Store& store_;
    bool done_ = false;
  };

  // Accounts (snapshot).
  void UpsertAccount(const AccountRow& row);
  std::optional<AccountRow> GetAccount(std::string_view id);
  // Sets the members of `patch_json` (a JSON object of strings: the values the add-in wrote) in
  // the stored account's properties, keeping the others; properties that are not a JSON object
  // become the patch. Nothing when the account is not stored. One statement: the caller neither
  // reads nor parses the snapshot (SQLite's json_patch, RFC 7396).
  void MergeAccountProperties(std::string_view id, std::string_view patch_json);
  void SetArchived(std::string_view id, bool archived);
  void ForEachAccount(const std::function<void(const AccountRow&)>& fn, bool include_archived);
  // At most `limit` accounts with an id after `after_id` ("" = from the start), ordered by id:
  // a page of a keyset scan that holds no statement open between pages (the caller may write).
  std::vector<AccountRow> AccountsAfter(std::string_view after_id, size_t limit,
                                        bool include_archived);
  int64_t CountAccounts(bool include_archived);

  // Cursors by name (e.g. "companies").
  Cursor GetCursor(std::string_view name);
  void SetCursor(std::string_view name, const Cursor& cursor);
  // The ids a full pull in progress has committed, per cursor name (to tell, after a resume,
  // companies already pulled from deleted ones).
  void AddPulled(std::string_view cursor, std::string_view id);
  std::vector<std::string> PulledIds(std::string_view cursor);
  void ClearPulled(std::string_view cursor);

  // Results.
  void UpsertResult(const ResultRow& row);
  std::optional<ResultRow> GetResult(std::string_view account_id);
  void DeleteResult(std::string_view account_id);
  void ForEachResult(const std::function<void(const ResultRow&)>& fn);
  // The results of the accounts with first <= id <= last (as text, ordered by account).
  void ForEachResultIn(std::string_view first, std::string_view last,
                       const std::function<void(const ResultRow&)>& fn);
  // Results whose account is archived or not in the snapshot (their company is gone).
  std::vector<std::string> ResultsOfGoneAccounts();

  // Last written values.
  std::optional<WrittenValue> GetWritten(std::string_view account_id, std::string_view field);
  void SetWritten(std::string_view account_id, std::string_view field, const WrittenValue& value);
  std::vector<std::pair<std::string, WrittenValue>> WrittenFor(std::string_view account_id);
  // Every written value (account_id, field, value), ordered by account and field: the diff's
  // bulk read of the prior state.
  void ForEachWritten(
      const std::function<void(const std::string& account_id, const std::string& field,
                               const WrittenValue& value)>& fn);

  // The written values of the accounts with first <= id <= last, ordered by account and field.
  void ForEachWrittenIn(
      std::string_view first, std::string_view last,
      const std::function<void(const std::string& account_id, const std::string& field,
                               const WrittenValue& value)>& fn);
  // The newest written_ms of all written values (0 when none).
  int64_t MaxWrittenMs();

  // Outbox. AddOutbox ignores an entry whose idem_key exists; returns true when inserted.
  bool AddOutbox(const OutboxEntry& entry);
  std::vector<OutboxEntry> PendingOutbox(std::string_view kind, size_t limit);
  std::vector<OutboxEntry> PendingOutboxAll();
  // At most `limit` pending entries of `kind` ("" = any kind) with an id above `after_id`,
  // ordered by id: one page of the push (entries that stay pending are not read again by the
  // same scan).
  std::vector<OutboxEntry> PendingOutboxAfter(std::string_view kind, int64_t after_id,
                                              size_t limit);
  // The kinds of the pending entries, each once, sorted.
  std::vector<std::string> PendingOutboxKinds();
  void MarkOutbox(int64_t id, OutboxState state, std::string_view error);
  void BumpOutboxAttempts(int64_t id);
  // Drops a pending entry that a newer plan replaces (recorded as superseded in the audit).
  void DeleteOutbox(int64_t id);
  int64_t CountOutbox(OutboxState state);
  // The largest outbox id so far (0: none): entries added later have larger ids.
  int64_t MaxOutboxId();

  // Tasks.
  void UpsertTask(const TaskRow& row);
  std::optional<TaskRow> GetTask(std::string_view task_key);
  std::vector<TaskRow> TasksFor(std::string_view account_id);
  std::vector<TaskRow> TasksInState(std::string_view state);
  void ForEachTask(const std::function<void(const TaskRow&)>& fn);  // ordered by task_key
  // The tasks of the accounts with first <= account_id <= last, ordered by task_key.
  void ForEachTaskIn(std::string_view first, std::string_view last,
                     const std::function<void(const TaskRow&)>& fn);
  // The tasks whose account is archived or not in the snapshot, ordered by task_key.
  void ForEachTaskOfGoneAccounts(const std::function<void(const TaskRow&)>& fn);

  // Score history and audit.
  void AddHistory(const HistoryRow& row);
  std::vector<HistoryRow> HistoryFor(std::string_view account_id);
  // The newest history row per account from runs before `run_id`.
  std::optional<HistoryRow> PreviousHistory(std::string_view account_id, int64_t run_id);
  void AddAudit(const AuditRow& row);
  std::vector<AuditRow> AuditForRun(int64_t run_id);

  // Runs.
  int64_t StartRun(std::string_view kind, int64_t now_ms);
  void FinishRun(int64_t run_id, int64_t now_ms, std::string_view outcome,
                 std::string_view counters_json, std::string_view error);
  // Marks runs still "running" (their process died) as "interrupted"; returns how many.
  int MarkInterruptedRuns(int64_t now_ms);
  std::vector<RunRow> LastRuns(size_t n, std::string_view kind = {});

  // Small key/value settings (e.g. portal id, whether task keys are unique).
  std::optional<std::string> GetMeta(std::string_view key);
  void SetMeta(std::string_view key, std::string_view value);
  // Every (key, value) whose key starts with `prefix`, ordered by key.
  std::vector<std::pair<std::string, std::string>> MetaWithPrefix(std::string_view prefix);

  // Retention: removes what is older than `cutoff_ms`: companies archived or
  // deleted before it with everything kept about them (snapshot, results, written values,
  // history, finished tasks and outbox entries), audit rows, finished runs (the newest
  // `keep_runs` always stay) with their finished outbox entries, and score history (each
  // account's newest row stays). Deleted content is overwritten (secure_delete). One transaction.
  struct PruneCounts {
    int64_t accounts = 0, audit = 0, runs = 0, history = 0, outbox = 0, tasks = 0;
  };
  PruneCounts Prune(int64_t cutoff_ms, int keep_runs = 10);

  // Maintenance: SQLite's integrity check ("ok" or the problems found, at most
  // `max_errors`) of an open store.
  std::vector<std::string> IntegrityCheck(int max_errors = 100);

  struct Impl;

 private:
  friend class FactsStore;  // facts_store.h: its tables in this file, in these transactions
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

std::string_view OutboxStateName(OutboxState state);

}  // namespace kam::store

#endif  // KAM_STORE_STORE_H_
