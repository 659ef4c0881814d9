// The rule engine's public API: load and validate a rule file (DESIGN §5), map CRM records to
// typed accounts, evaluate accounts (criteria scores, score, tier, health, tasks, receipt), run
// the portfolio pass (rank, Pareto, tier capacities), explain one account and run the rule
// file's embedded tests. A loaded RuleSet is immutable and may be shared between threads;
// an Evaluator is per thread.
#ifndef KAM_RULES_RULES_H_
#define KAM_RULES_RULES_H_

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kam/rules/task_budget.h"

namespace kam::rules {

// One problem in a rule file: where (file:line:col and the JSON pointer) and what.
// line and col are 1-based; 0 when unknown (e.g. the file could not be read).
struct Diagnostic {
  std::string file;
  int line = 0;
  int col = 0;
  std::string pointer;  // RFC 6901, "" for the whole document
  std::string message;

  std::string Location() const;  // "file:line:col /pointer"
  std::string ToString() const;  // "file:line:col: /pointer: message"
};

// The outcome of a fallible call: ok, or a message saying what failed and where.
class Status {
 public:
  Status() = default;
  static Status Error(std::string message, std::string location = {}) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    s.location_ = std::move(location);
    return s;
  }
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }
  const std::string& location() const { return location_; }

 private:
  bool ok_ = true;
  std::string message_;
  std::string location_;
};

// Types an account field can have; CRM values (strings) are converted to it by MapAccount.
enum class FieldType { kNumber, kString, kBool, kDate, kDaysSince, kEnum };
std::string_view FieldTypeName(FieldType type);

// Where one account field comes from in one CRM: a record property or an aggregate the
// connector computes (e.g. "deals.won_amount_last_12m"). Exactly one of property/aggregate is set.
struct FieldMapping {
  std::string field;      // account field name, read by rules as "account.<field>"
  std::string property;   // CRM property name, or ""
  std::string aggregate;  // aggregate name, or ""
  FieldType type = FieldType::kNumber;
  std::string unit;                 // informational ("EUR", "days", "%"), shown by explain
  std::vector<std::string> values;  // allowed values for kEnum
  std::string description;
};

// What a connector must fetch for a rule file: CRM properties and aggregates, sorted, unique.
struct CrmNeeds {
  std::vector<std::string> properties;
  std::vector<std::string> aggregates;
};

// A tier, highest first in RuleSet::tiers(). min_score is -infinity for the lowest tier of a
// bench-shaped file. A capacity limits how many accounts may hold the tier (per owner / total).
struct TierSpec {
  std::string id;
  std::string label;
  double min_score = 0;
  std::optional<int64_t> capacity_per_owner;
  std::optional<int64_t> capacity_total;
};

// One result written to one CRM property. `result` is one of: score, tier, breakdown,
// next_tier_hint, rules_version, scored_at, health.<id>, rank, pareto, capped_reason.
// `type` is the CRM property type to provision: number, string, enumeration, datetime, bool.
struct WritebackField {
  std::string result;
  std::string property;
  std::string label;
  std::string type;
};

// A field value of an account. kAbsent (no value) differs from kNull for JsonLogic `var`
// defaults; MapAccount turns "" and null CRM values into kAbsent.
struct FieldValue {
  enum class Kind : uint8_t { kAbsent, kNull, kBool, kNumber, kString };
  Kind kind = Kind::kAbsent;
  bool boolean = false;
  double number = 0;
  std::string string;

  static FieldValue Number(double v);
  static FieldValue String(std::string v);
  static FieldValue Bool(bool v);
  static FieldValue Null();
  std::string ToJson() const;  // "absent" values render as "null"
};

// A typed account. values[i] belongs to RuleSet::account_fields()[i].
struct Account {
  std::string id;
  std::string owner_id;  // the KAM; "" when the account has none
  std::vector<FieldValue> values;
};

// One input a criterion (or task/health rule) read: the path and its value as JSON text
// ("absent" when the account has no value).
struct InputValue {
  std::string path;
  std::string value;
};

struct CriterionResult {
  std::string id;
  double weight = 0;
  double score = 0;
  std::vector<InputValue> inputs;
};

// A health indicator: "red" when its red rule holds, else "amber" when its amber rule holds,
// else "green".
struct HealthResult {
  std::string id;
  std::string label;
  std::string status;
};

// Attainment of one goal of the account's tier (the file's `goals`, DESIGN §5): "met" or
// "not_met" against the tier's target, or "unknown" when the value is absent, null, "" or does not
// compare (a text that is not a number against a numeric target).
struct GoalResult {
  std::string id;
  std::string label;
  std::string status;      // met | not_met | unknown
  std::string comparison;  // at_least | at_most | equals
  std::string value;       // JSON text of the value read ("null" when absent)
  std::string target;      // JSON text of the tier's target
  std::string unit;        // "" or e.g. "days", "%"
};

struct TaskSuggestion {
  std::string rule_id;
  std::string title;  // placeholders {{account.x}}, {{kam.x}} rendered
  std::string body;
  std::string priority;  // low | medium | high
  int due_in_days = 0;
  int cooldown_days = 0;
  bool auto_close = false;
};

// What a result was computed from: a hash over the inputs read, and the rule file's identity.
struct Receipt {
  std::string input_hash;     // 16 hex digits (FNV-1a 64 over the inputs read)
  std::string rules_hash;     // 16 hex digits (FNV-1a 64 over the rule file's bytes)
  std::string rules_version;  // the file's "version"
};

// Smallest change in criterion scores lifting an account to the next tier up (by score,
// ignoring capacities). Empty `changes` with `reachable` false: the top tier, or out of reach.
struct NextTierPath {
  std::string to_tier;  // "" when already in the top tier
  bool reachable = false;
  struct Change {
    std::string criterion;
    double from = 0;
    double to = 0;
  };
  std::vector<Change> changes;  // the fewest score points in total
  std::string hint;             // short text, e.g. "relationship 5→7 lifts to B"
};

struct AccountResult {
  std::string account_id;
  std::string owner_id;
  std::vector<CriterionResult> criteria;  // in rule-file order
  double score = 0;
  std::string tier;  // by score (before capacities)
  std::vector<HealthResult> health;
  std::vector<TaskSuggestion> tasks;  // in rule-file order
  std::vector<GoalResult> goals;      // the goals of the tier (after capacities), file order
  NextTierPath next_tier;
  Receipt receipt;
  double revenue = 0;  // the portfolio's revenue field (0 when absent)

  // Set by RunPortfolio.
  std::string final_tier;     // after capacities (== tier when not capped)
  std::string capped_reason;  // "" when not capped
  int64_t rank = 0;           // 1 = best score; ties by id
  bool pareto = false;        // among the accounts making up the configured revenue share

  std::string Breakdown() const;  // "account_value 8 · growth 5 · …" for the CRM
  nlohmann::json ToJson() const;
};

class RuleSet;

// Outcome of loading a rule file: the rule set, or every problem found (errors non-empty).
struct LoadResult {
  std::shared_ptr<const RuleSet> rules;
  std::vector<Diagnostic> errors;
  bool ok() const { return rules != nullptr && errors.empty(); }
};

struct LoadOptions {
  size_t max_file_bytes = 16u << 20;  // larger files are refused
  int max_depth = 128;                // JSON nesting depth of the file
};

// A loaded, validated and compiled rule file.
class RuleSet {
 public:
  // Reads and validates `path`. A missing file gives one Diagnostic with message starting
  // "cannot open"; every other problem gives Diagnostics with positions.
  static LoadResult LoadFile(const std::string& path, const LoadOptions& options = {});
  // Validates `text`; `file_name` is used in Diagnostics.
  static LoadResult LoadText(std::string_view text, const std::string& file_name,
                             const LoadOptions& options = {});

  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  const std::string& name() const;
  const std::string& version() const;
  const std::string& hash() const;  // 16 hex digits over the file's bytes
  const std::string& file() const;
  bool bench_shape() const;  // loaded from the bench shape (tier as JsonLogic, no mapping)

  const std::vector<TierSpec>& tiers() const;  // highest first
  std::vector<std::string> criterion_ids() const;
  std::vector<std::string> task_ids() const;
  std::vector<std::string> health_ids() const;
  std::vector<std::string> goal_ids() const;
  // The per-owner budget of open tasks (`tasks.max_open_per_owner`); unset: no budget.
  std::optional<int64_t> max_open_tasks_per_owner() const;

  // Account fields, in the order of Account::values (excludes id and owner_id).
  const std::vector<std::string>& account_fields() const;
  // Index of an account field in account_fields(), or -1.
  int FieldIndex(std::string_view field) const;

  // CRMs with a mapping ("hubspot", "salesforce", …) and a CRM's mapping (nullptr if none).
  std::vector<std::string> crms() const;
  const std::vector<FieldMapping>* mapping(std::string_view crm) const;
  CrmNeeds Needs(std::string_view crm) const;
  // What to write to which CRM property (the file's writeback, defaults filled in: kam_score,
  // kam_tier, kam_breakdown, kam_next_tier_hint, kam_rules_version, kam_scored_at).
  std::vector<WritebackField> Writeback(std::string_view crm) const;
  // The string value of a writeback result for one account; scored_at is ISO 8601 UTC.
  std::string WritebackValue(const AccountResult& result, std::string_view result_key,
                             std::string_view scored_at) const;

  // Maps a CRM record to an account. `properties` is the CRM's property object (values are
  // usually strings; "" and null mean absent), `aggregates` an object keyed by aggregate name.
  // now_unix_seconds anchors days_since fields. Values that do not convert (e.g. "abc" for a
  // number) become absent and are listed in *warnings when warnings is not null.
  Account MapAccount(std::string_view crm, std::string_view id, std::string_view owner_id,
                     const nlohmann::json& properties, const nlohmann::json& aggregates,
                     int64_t now_unix_seconds, std::vector<std::string>* warnings = nullptr) const;

  // An account given as {"id", "owner_id", <field>: value, …} with already typed values (rule
  // tests, explain, NDJSON input, the bench records). Unknown keys are an error unless the file
  // is bench-shaped (then they are ignored).
  Status AccountFromJson(const nlohmann::json& object, Account* out) const;

  // Evaluates one account with a temporary Evaluator (convenience; use Evaluator in loops).
  Status Evaluate(const Account& account, AccountResult* out) const;

  struct Impl;  // opaque: the compiled model (rules/src/internal.h)

 private:
  friend class Evaluator;
  friend struct RuleSetAccess;
  explicit RuleSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Evaluates accounts against one RuleSet, reusing scratch space. Not thread-safe: one per thread.
class Evaluator {
 public:
  explicit Evaluator(std::shared_ptr<const RuleSet> rules);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Fills *out (criteria, score, tier, health, tasks, next tier, receipt). An error names the
  // account and the criterion when a criterion's result is outside 1..10 or not a number.
  Status Evaluate(const Account& account, AccountResult* out);

  // After RunPortfolio: when capacities moved the account to another tier (final_tier != tier),
  // re-evaluates health and tasks with kam.tier = final_tier, so that rules such as "top-tier
  // account without a sponsor" follow the tier the KAM sees. Scores, score, tier, receipt and
  // the portfolio fields stay as they are. A no-op for accounts that were not capped.
  Status ApplyFinalTier(const Account& account, AccountResult* result);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One account capped by a tier capacity.
struct CappedAccount {
  std::string account_id;
  std::string owner_id;
  std::string from_tier;
  std::string to_tier;
  std::string reason;
};

struct PortfolioSummary {
  int64_t accounts = 0;
  std::vector<std::pair<std::string, int64_t>> tiers_by_score;  // before capacities, tier order
  std::vector<std::pair<std::string, int64_t>> tiers;           // after capacities
  int64_t capped = 0;
  std::vector<CappedAccount> capped_accounts;  // in tier order, then score order
  std::string revenue_field;
  double revenue_share = 0.8;  // configured share of revenue
  double total_revenue = 0;
  int64_t pareto_accounts = 0;      // accounts making up revenue_share of total_revenue
  double pareto_account_share = 0;  // pareto_accounts / accounts
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// The portfolio pass: ranks by score (ties by id), flags the Pareto accounts and applies tier
// capacities per owner and in total (accounts over capacity drop to the next tier in score
// order, ties by id; an empty owner_id counts as one owner "(no owner)"). Sets rank, pareto,
// final_tier and capped_reason of every result. Deterministic.
PortfolioSummary RunPortfolio(const RuleSet& rules, std::vector<AccountResult>& results);

// Explanation of one account for a person: criteria with weight, score and inputs, why the
// tier, the tasks and why, and the path to the next tier. JSON with a "text" rendering.
nlohmann::json Explain(const RuleSet& rules, const Account& account, Status* status);

// Embedded tests (`tests[]`): each runs its account and compares the expectations.
struct TestCaseResult {
  std::string name;
  bool ok = false;
  std::vector<std::string> diffs;  // one line per mismatch: "tier: expected \"A\", got \"B\""
};
struct TestReport {
  int passed = 0;
  int failed = 0;
  std::vector<TestCaseResult> results;
  bool ok() const { return failed == 0; }
  std::string ToText() const;
};
TestReport RunEmbeddedTests(const RuleSet& rules);

// Streaming evaluation of NDJSON accounts (one object per line) with the portfolio pass,
// keeping only a compact record per account. When `output` is not null, per-account results
// (with portfolio fields) are written to it as NDJSON, in input order; this reads `input_path`
// twice. Errors name the line.
struct GoalSummary {
  std::string id;
  std::string label;
  int64_t met = 0;
  int64_t not_met = 0;
  int64_t unknown = 0;
};
// A task suggestion the budget dropped (EvalSummary lists the first 1000).
struct DroppedTask {
  std::string account_id;
  std::string owner_id;
  std::string rule_id;
  std::string priority;
  std::string reason;
};
struct EvalSummary {
  int64_t accounts = 0;
  double sum_score = 0;
  std::string digest;  // FNV-1a 32 as in shared/bench/README, 8 hex digits
  PortfolioSummary portfolio;
  // Filled when the per-account pass runs (an output, or a file with goals or a task budget):
  // attainment per goal (accounts of the tiers the goal applies to), task suggestions after
  // capacities, and what the budget kept and dropped (no open tasks: a file has no CRM state).
  std::vector<GoalSummary> goals;
  int64_t tasks_suggested = 0;
  std::optional<int64_t> max_open_tasks_per_owner;
  int64_t tasks_kept = 0;
  int64_t tasks_dropped = 0;
  std::vector<TaskBudgetOwner> task_owners;
  std::vector<DroppedTask> dropped_tasks;
  nlohmann::json ToJson() const;
  std::string ToText() const;
  nlohmann::json GoalsJson() const;
  nlohmann::json TasksJson() const;
};
Status EvalFile(const RuleSet& rules, const std::string& input_path, std::ostream* output,
                EvalSummary* summary);

// ---- The one evaluation pipeline (shared by EvalFile / `kam rules eval` and the sync) ----

// Visits every account of a portfolio, in a stable order; a non-ok Status from `visit` stops the
// visit and must be returned. `where` locates the account in messages (file:line, a CRM id).
using AccountVisitor = std::function<Status(const Account& account, std::string_view where)>;
using AccountSource = std::function<Status(const AccountVisitor& visit)>;
// Receives each account's full result (moved; the sink may keep it).
using ResultSink = std::function<Status(AccountResult&& result, std::string_view where)>;

struct PortfolioEvalOptions {
  size_t expected_accounts = 0;     // reservation hint
  size_t max_capped_listed = 1000;  // capped accounts listed in the summary (all are counted)
  // An account whose evaluation fails: return ok to leave it out and go on, or an error to stop.
  // Unset: the first failure stops the run (located at `where`).
  std::function<Status(const Account& account, std::string_view where, const Status& error)>
      on_error;
  // false: results carry no per-criterion inputs and no next-tier changes (the hint stays);
  // the sync keeps every result, and the inputs would dominate its memory.
  bool keep_inputs = true;
};

// Evaluates every account of `source` (pass 1: criteria, score, tier by score), runs the
// portfolio pass (rank, Pareto, tier capacities per owner and in total) and fills `summary`
// (accounts, sum of scores, bench digest, portfolio). When `sink` is set, visits `source` a second
// time and hands each evaluated account's full result to it, with rank, pareto, final_tier and
// capped_reason set and health and tasks evaluated with kam.tier = the tier after capacities.
// `source` must visit the same accounts in the same order both times.
Status EvaluatePortfolio(const RuleSet& rules, const AccountSource& source, const ResultSink& sink,
                         const PortfolioEvalOptions& options, EvalSummary* summary);

}  // namespace kam::rules

#endif  // KAM_RULES_RULES_H_
