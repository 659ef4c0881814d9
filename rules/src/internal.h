// Internals of the rules module shared by its .cc files: the compiled rule-set model (slots of
// the evaluation record, compiled JsonLogic per criterion/task/health rule, templates) and the
// allocation-free evaluation core used by Evaluator, the streaming eval and the benchmark.
#ifndef KAM_RULES_SRC_INTERNAL_H_
#define KAM_RULES_SRC_INTERNAL_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kam/jsonlogic/jsonlogic.h"
#include "kam/rules/rules.h"

namespace kam::rules {

namespace jl = kam::jsonlogic;

namespace internal {

inline constexpr size_t kMaxTiers = 8;
inline constexpr size_t kMaxTasks = 64;
inline constexpr size_t kMaxGoals = 32;

// A title/body template: literal text and {{path}} placeholders resolved to record slots.
struct Template {
  struct Part {
    std::string literal;
    int slot = -1;  // >= 0: a placeholder
  };
  std::vector<Part> parts;
  bool empty() const { return parts.empty(); }
};

struct CriterionDef {
  std::string id;
  std::string label;  // "" = none given (the card shows the id, readable)
  std::string description;
  double weight = 0;
  jl::Rule rule;
  int slot = -1;  // kam.scores.<id>
  std::string pointer;
};

struct HealthDef {
  std::string id;
  std::string label;
  std::string description;
  std::optional<jl::Rule> red;
  std::optional<jl::Rule> amber;
  int slot = -1;  // kam.health.<id>
};

struct TaskDef {
  std::string id;
  std::string title;
  std::string body;
  std::string priority = "medium";
  int due_in_days = 7;
  int cooldown_days = 30;
  bool auto_close = true;
  jl::Rule when;
  Template title_template;
  Template body_template;
  std::string pointer;
};

// A goal's target for one tier: a number (at_least / at_most / equals), a bool or a text
// (equals). `text` is its JSON rendering.
struct GoalTarget {
  bool set = false;
  jl::Kind kind = jl::Kind::kNumber;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::string text;
};

enum class GoalOp : uint8_t { kAtLeast, kAtMost, kEquals };
inline constexpr std::string_view kGoalOpNames[] = {"at_least", "at_most", "equals"};

// Goal attainment states in CoreResult::goal_state.
inline constexpr uint8_t kGoalNotApplicable = 0;
inline constexpr uint8_t kGoalMet = 1;
inline constexpr uint8_t kGoalNotMet = 2;
inline constexpr uint8_t kGoalUnknown = 3;
inline constexpr std::string_view kGoalStateNames[] = {"", "met", "not_met", "unknown"};

struct GoalDef {
  std::string id;
  std::string label;
  std::string description;
  std::string unit;
  int field_slot = -1;            // "field": the account field's slot
  std::optional<jl::Rule> value;  // "value": JsonLogic
  GoalOp op = GoalOp::kAtLeast;
  bool absent_not_met = false;      // "if_absent": "not_met"
  std::vector<GoalTarget> targets;  // per tier index; unset: the goal does not apply
  std::string pointer;
};

struct TestDef {
  std::string name;
  nlohmann::json account;
  nlohmann::json expect;
  std::string pointer;
};

// FNV-1a 64 and 32.
uint64_t Fnv64(std::string_view data, uint64_t h = 14695981039346656037ull);
uint32_t Fnv32(std::string_view data, uint32_t h = 2166136261u);
std::string Hex64(uint64_t v);
std::string Hex32(uint32_t v);

// A goal result as JSON: {id, label, status, comparison, value, target, unit?}.
nlohmann::json GoalJson(const GoalResult& g);

// A number as JavaScript prints it (integers without ".0").
std::string FormatNumber(double v);

// The closest candidate within a small edit distance, or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// Renders a slot value as template text / JSON text.
std::string ValueText(const jl::Value& v);
std::string ValueJson(const jl::Value& v);
// The same, appended to `out` (no temporary strings: the allocation-free result path).
void AppendValueText(const jl::Value& v, std::string& out);
void AppendValueJson(const jl::Value& v, std::string& out);
// 16 lower-case hex digits into `out` (reusing its capacity).
void AssignHex64(uint64_t v, std::string& out);

// Scratch space of the full-result path (FillResult), kept by rules::Evaluator so that
// evaluating into a reused AccountResult allocates nothing once warmed up.
struct FillScratch {
  std::string text;
  std::vector<double> trial, step, best;
  std::vector<TaskSuggestion> spare_tasks;
  std::vector<NextTierPath::Change> spare_changes;
  std::vector<GoalResult> spare_goals;
};

// What the evaluation core computes for one account (no strings, no allocation once sized).
struct CoreResult {
  std::vector<double> scores;  // per criterion
  double score = 0;
  int tier = -1;                        // index into tiers
  std::vector<uint8_t> health;          // 0 green, 1 amber, 2 red
  uint64_t tasks = 0;                   // bit j: task j suggested
  std::vector<uint8_t> goal_state;      // per goal: kGoalNotApplicable, kGoalMet, ...
  std::vector<std::string> goal_value;  // per applicable goal: JSON text of the value read
};

}  // namespace internal

struct RuleSet::Impl {
  std::string file;
  std::string name;
  std::string version;
  std::string hash;
  std::string description;
  bool bench_shape = false;

  std::vector<std::string> account_fields;  // slot i = "account." + account_fields[i]
  std::unordered_map<std::string, int> field_index;
  std::map<std::string, std::vector<FieldMapping>, std::less<>> mappings;
  std::map<std::string, nlohmann::json, std::less<>> writeback;  // per CRM, as written

  jl::Schema schema;
  int slot_id = -1;
  int slot_owner = -1;
  int slot_score = -1;
  int slot_tier = -1;

  std::vector<internal::CriterionDef> criteria;
  std::optional<jl::Rule> score_rule;  // absent: weighted sum
  std::vector<TierSpec> tiers;
  std::optional<jl::Rule> tier_rule;  // absent: by min_score
  std::vector<internal::HealthDef> health;
  std::vector<internal::TaskDef> tasks;
  std::optional<int64_t> max_open_tasks_per_owner;  // tasks.max_open_per_owner
  std::vector<internal::GoalDef> goals;
  std::vector<internal::TestDef> tests;

  std::string revenue_field = "revenue_last_12m";
  int revenue_index = -1;  // into account_fields, -1 when the field is not known
  double pareto_share = 0.8;

  std::vector<int> input_slots;  // account slots read by any rule, sorted

  // The hot path's batches (PrepareBatches, after loading): the criteria rules and their
  // kam.scores.* slots, and the tasks' `when` rules, contiguous for Evaluator::RunScores and
  // Evaluator::TestEach.
  std::vector<jl::Rule> criterion_rules;
  std::vector<int> criterion_slots;
  std::vector<jl::Rule> task_rules;
  void PrepareBatches();

  size_t record_size() const { return schema.size(); }

  // Fills the account part of a record (slots 0..F-1, id, owner) with views into `account`.
  void FillRecord(const Account& account, std::span<jl::Value> record) const;

  // Criteria, score, tier, health and tasks on a filled record. Writes kam.* slots. On error
  // returns a Status naming the account (read from the id slot) and the rule.
  Status Core(jl::Evaluator& ev, std::span<jl::Value> record, internal::CoreResult* out) const;

  // Goal attainment for the tier in the record's kam.tier slot (HealthAndTasks calls it).
  Status Goals(jl::Evaluator& ev, std::span<jl::Value> record, internal::CoreResult* out) const;

  // Health, tasks and goals on a record whose kam.scores/score/tier slots are set.
  Status HealthAndTasks(jl::Evaluator& ev, std::span<jl::Value> record,
                        internal::CoreResult* out) const;
  // The health and task parts of a result from `core` and the record (templates rendered).
  void FillHealthAndTasks(std::span<const jl::Value> record, const internal::CoreResult& core,
                          AccountResult* out, internal::FillScratch* scratch = nullptr) const;

  // Score and tier index for given criterion scores (for the next-tier search).
  Status ScoreAndTier(jl::Evaluator& ev, std::span<jl::Value> record,
                      std::span<const double> scores, double* score, int* tier) const;

  int TierIndex(std::string_view id) const;
  int FieldIndexOf(std::string_view field) const;

  // See RuleSet::AccountFromJson; on error, location() is the pointer of the bad member.
  Status AccountFromJson(const nlohmann::json& object, Account* out) const;

  // Full result (strings, receipt, next tier) from a filled record after Core.
  // With `scratch` (kept across calls) and a reused `out`, allocation-free once warmed up.
  void FillResult(const Account& account, std::span<jl::Value> record,
                  const internal::CoreResult& core, jl::Evaluator& ev, AccountResult* out,
                  internal::FillScratch* scratch = nullptr) const;
};

// Grants the module's .cc files access to a RuleSet's Impl.
struct RuleSetAccess {
  static const RuleSet::Impl& Get(const RuleSet& r) { return *r.impl_; }
  static std::shared_ptr<RuleSet> Make(std::unique_ptr<RuleSet::Impl> impl);
};

namespace internal {
// Folds one account's bench-digest line "id|score|tier|task1,task2,...\n" (shared/bench README)
// into the FNV-1a 32 hash h and returns it; `line` is scratch space reused between calls.
uint32_t FoldDigestLine(const RuleSet::Impl& rs, std::string_view id, double score, int tier,
                        uint64_t tasks, std::string& line, uint32_t h);
}  // namespace internal

}  // namespace kam::rules

#endif  // KAM_RULES_SRC_INTERNAL_H_
