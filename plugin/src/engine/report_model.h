// The portfolio report's model: what `kam report --html` shows (tiers against capacity, the
// Pareto curve, the score distribution, capped accounts, movers since the previous run, health
// by indicator, and per KAM the key accounts, open tasks and accounts needing attention), built
// as plain data by a pure function so that it is testable without a store or a CRM. The HTML
// renderer (report_html.h) draws it; ReadReportData fills the input from the state store.
#ifndef KAM_ENGINE_REPORT_MODEL_H_
#define KAM_ENGINE_REPORT_MODEL_H_

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kam::rules {
class RuleSet;
}
namespace kam::store {
class Store;
struct HistoryRow;
}

namespace kam::engine {

struct ReportTier {
  std::string id;
  std::string label;
  double min_score = 0;
  std::optional<int64_t> capacity_total;
  std::optional<int64_t> capacity_per_owner;
  // A key tier is one with a capacity (per KAM or in total): KAM time is the scarce resource
  // that key-account management rations. Tiers without one (development, standard) are not
  // counted as key accounts.
  bool key() const { return capacity_total.has_value() || capacity_per_owner.has_value(); }
};

struct ReportHealth {
  std::string id;
  std::string label;
  std::string status;  // green, amber, red
};

// One goal of an account (rules GoalResult, stored with the result): met, not_met or unknown.
struct ReportGoal {
  std::string id;
  std::string label;
  std::string status;
};

// The last sync's task budget (tasks.max_open_per_owner), as the diff left it.
struct ReportBudget {
  std::optional<int64_t> max_open_per_owner;  // unset: no budget (or no sync since it exists)
  struct Owner {
    std::string owner_id;
    int64_t open = 0, suggested = 0, kept = 0, dropped = 0;
  };
  std::vector<Owner> owners;
  struct Dropped {
    std::string account_id, name, owner_id, title, priority, reason;
  };
  std::vector<Dropped> dropped;  // the first ones, with their reason
  int64_t dropped_total = 0;
};

struct ReportAccount {
  std::string id;
  std::string name;
  std::string owner_id;  // "" = no owner
  double score = 0;
  std::string tier;
  double revenue = 0;
  std::vector<ReportHealth> health;
  std::string capped_reason;      // "" = not capped
  std::vector<ReportGoal> goals;  // the goals of its tier (after capacities)
  // The score and tier of the run before the latest one (score history), if any.
  std::optional<double> previous_score;
  std::string previous_tier;
  // Goal attainment at the run before the last sync (goal id -> met / not_met / unknown, score
  // history); unset when not known (a first sync, or history from before goals were recorded).
  std::optional<std::map<std::string, std::string>> previous_goals;
};

struct ReportData {
  std::string rules_name;
  std::string rules_version;
  int64_t generated_ms = 0;  // when the report was made (UTC, ms)
  int64_t last_run_ms = 0;   // when the last sync finished; 0 = unknown
  double pareto_share = 0.8;
  std::vector<ReportTier> tiers;  // highest first
  std::vector<ReportAccount> accounts;
  std::map<std::string, int64_t> open_tasks;       // owner id -> open add-in tasks
  std::map<std::string, std::string> owner_names;  // owner id -> "First Last" (CRM owners API)
  std::string owner_names_note;                    // why names are missing, "" when fetched
  ReportBudget budget;
};

// "1 account", "2 accounts": a count with its noun in the right number. `plural` defaults to
// singular + "s".
std::string CountOf(int64_t n, const std::string& singular, const std::string& plural = "");

// The report model (JSON, "kam.report.v1"): deterministic for the same input. Lists are capped
// (capped accounts 50, movers 10, attention 5 per KAM) with their full counts given.
nlohmann::json BuildReportModel(const ReportData& data);

// In one account's score history (oldest first), the row the movers compare the newest with: the
// newest row before it with another score or tier (rows that recorded only a change of goal
// attainment are skipped); nullptr when there is none.
const store::HistoryRow* PreviousScoreRow(const std::vector<store::HistoryRow>& history);

// In one account's score history (oldest first), its goal attainment as of the run before the one
// that evaluated it at `evaluated_ms`: the newest row written before then, if it recorded goals.
std::optional<std::map<std::string, std::string>> PreviousGoals(
    const std::vector<store::HistoryRow>& history, int64_t evaluated_ms);

// The input from the state store: every evaluated account with its name, health and previous
// history row, open tasks per owner, the last finished sync. Owner names are left empty.
// Throws store::StoreError.
ReportData ReadReportData(store::Store& store, const rules::RuleSet& rules, int64_t now_ms);
// The last sync's task budget (the state file's meta "last_task_budget", written with the plan).
ReportBudget ReadReportBudget(store::Store& store);

}  // namespace kam::engine

#endif  // KAM_ENGINE_REPORT_MODEL_H_
