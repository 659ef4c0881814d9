// The diff: results + prior state -> the outbox's writes, with the conflict policy and the task
// rules (once per key, auto_close only for the add-in's own tasks of accounts that evaluated).
#include "diff.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "kam/rules/card.h"
#include "kam/rules/task_budget.h"
#include "kam/store/store.h"
#include "run_context.h"

namespace kam::engine {
namespace {

constexpr const char* kConflictMetaPrefix = "conflict:";
constexpr const char* kVouchedMetaKey = "task_keys_vouched_since";

// Two CRM values are the same when equal as text or as numbers (HubSpot may render 87 as "87.0").
bool SameValue(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (a.empty() || b.empty()) return false;
  char* ea = nullptr;
  char* eb = nullptr;
  double da = std::strtod(a.c_str(), &ea);
  double db = std::strtod(b.c_str(), &eb);
  if (*ea != '\0' || *eb != '\0') return false;
  return std::fabs(da - db) <= 1e-9 * std::max(1.0, std::fabs(da));
}

TaskPriority PriorityFrom(const std::string& s) {
  std::string u = s;
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u == "LOW") return TaskPriority::kLow;
  if (u == "HIGH") return TaskPriority::kHigh;
  return TaskPriority::kMedium;
}

// A datetime as the CRM renders it: epoch milliseconds, or ISO 8601 UTC. -1 when neither.
int64_t ParseCrmTimeMs(const std::string& s) {
  if (s.empty()) return -1;
  if (std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return s.size() <= 15 ? std::atoll(s.c_str()) : -1;
  }
  std::tm tm{};
  int ms = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms);
  if (n < 6) return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + (n == 7 ? ms : 0);
}

const std::string& Lookup(const std::map<std::string, std::string>& m, const std::string& k) {
  static const std::string kEmpty;
  auto it = m.find(k);
  return it == m.end() ? kEmpty : it->second;
}

// When the period of a task key began (epoch ms); 0 for a rule without cooldown.
int64_t PeriodStartMs(int cooldown_days, int64_t now_ms) {
  if (cooldown_days <= 0) return 0;
  int64_t day = now_ms / kDayMs;
  return (day / cooldown_days) * cooldown_days * kDayMs;
}

// Open in the CRM, or on its way there.
bool IsOpen(TaskState s) { return s == TaskState::kOpen || s == TaskState::kPlanned; }

const char* PriorityText(TaskPriority p) {
  switch (p) {
    case TaskPriority::kHigh:
      return "high";
    case TaskPriority::kLow:
      return "low";
    case TaskPriority::kMedium:
      break;
  }
  return "medium";
}

}  // namespace

std::string ConflictKey(const std::string& account_id, const std::string& field) {
  return account_id + '\x1f' + field;
}

size_t Plan::Count(WriteKind kind) const {
  return static_cast<size_t>(std::count_if(
      writes.begin(), writes.end(), [kind](const OutboxWrite& w) { return KindOf(w) == kind; }));
}

std::optional<std::map<std::string, std::string>> GoalStatusesFromReceipt(
    const std::string& receipt_json) {
  nlohmann::json receipt = nlohmann::json::parse(receipt_json, nullptr, false);
  if (!receipt.is_object()) return std::nullopt;
  auto it = receipt.find("goals");
  if (it == receipt.end() || !it->is_array()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& g : *it) {
    if (g.is_object()) out[g.value("id", "")] = g.value("status", "");
  }
  return out;
}

namespace {

KnownTask KnownTaskOf(const store::TaskRow& t) {
  KnownTask k;
  k.key = t.task_key;
  k.account_id = t.account_id;
  k.rule_id = t.rule_id;
  k.crm_task_id = t.crm_task_id;
  k.state = TaskStateFrom(t.state).value_or(TaskState::kFailed);
  k.auto_close = t.auto_close;
  return k;
}

void AddTask(const store::TaskRow& t, PriorState* prior) {
  if (!t.owner_id.empty()) prior->task_owners.emplace(t.task_key, t.owner_id);
  prior->tasks.emplace(t.task_key, KnownTaskOf(t));
}

}  // namespace

PriorState LoadPriorGlobals(store::Store& store, const std::string& portal_id) {
  PriorState prior;
  prior.portal_id = portal_id;
  prior.last_write_ms = store.MaxWrittenMs();
  for (auto& [key, value] : store.MetaWithPrefix(kConflictMetaPrefix)) {
    if (value.rfind("v:", 0) != 0) continue;  // "" = a conflict that ended
    prior.reported_conflicts.emplace(key.substr(std::string_view(kConflictMetaPrefix).size()),
                                     value.substr(2));
  }
  if (auto v = store.GetMeta(kVouchedMetaKey); v && !v->empty()) {
    prior.keys_vouched_since = std::atoll(v->c_str());
  }
  return prior;
}

void LoadPriorRows(store::Store& store, const std::string& first, const std::string& last,
                   const std::unordered_set<std::string>& accounts, bool tasks_only,
                   PriorState* prior) {
  prior->written.clear();
  prior->results.clear();
  prior->tasks.clear();
  prior->task_owners.clear();
  if (first > last) return;
  store.ForEachTaskIn(first, last, [&](const store::TaskRow& t) {
    if (accounts.count(t.account_id)) AddTask(t, prior);
  });
  if (tasks_only) return;
  store.ForEachWrittenIn(
      first, last,
      [&](const std::string& account, const std::string& field, const store::WrittenValue& v) {
        if (accounts.count(account))
          prior->written[account][field] = LastWrite{v.value, v.crm_value};
      });
  store.ForEachResultIn(first, last, [&](const store::ResultRow& r) {
    if (accounts.count(r.account_id)) {
      prior->results.emplace(
          r.account_id, PriorResult{r.tier, r.score, GoalStatusesFromReceipt(r.receipt_json)});
    }
  });
}

void LoadGoneTasks(store::Store& store, PriorState* prior) {
  prior->written.clear();
  prior->results.clear();
  prior->tasks.clear();
  prior->task_owners.clear();
  store.ForEachTaskOfGoneAccounts([&](const store::TaskRow& t) { AddTask(t, prior); });
}

PriorState LoadPriorState(store::Store& store, const std::string& portal_id) {
  PriorState prior = LoadPriorGlobals(store, portal_id);
  store.ForEachWritten(
      [&](const std::string& account, const std::string& field, const store::WrittenValue& v) {
        prior.written[account][field] = LastWrite{v.value, v.crm_value};
      });
  store.ForEachResult([&](const store::ResultRow& r) {
    prior.results.emplace(r.account_id,
                          PriorResult{r.tier, r.score, GoalStatusesFromReceipt(r.receipt_json)});
  });
  store.ForEachTask([&](const store::TaskRow& t) { AddTask(t, &prior); });
  return prior;
}

void SaveVouchedSince(store::Store& store, int64_t since_ms) {
  store.SetMeta(kVouchedMetaKey, std::to_string(since_ms));
}

std::string ConflictMetaKey(const std::string& account_id, const std::string& field) {
  return kConflictMetaPrefix + ConflictKey(account_id, field);
}

nlohmann::json TaskBudgetJson(const Plan& plan, size_t max_listed) {
  using nlohmann::json;
  int64_t suggested = 0, kept = 0, dropped = 0;
  json owners = json::array();
  for (const auto& o : plan.budget_owners) {
    suggested += o.suggested;
    kept += o.kept;
    dropped += o.dropped;
    owners.push_back({{"owner_id", o.owner_id},
                      {"open", o.open},
                      {"suggested", o.suggested},
                      {"kept", o.kept},
                      {"dropped", o.dropped}});
  }
  json tasks = json::array();
  for (const auto& d : plan.budget_dropped) {
    if (tasks.size() >= max_listed) break;
    tasks.push_back({{"account_id", d.account_id},
                     {"name", d.account_name},
                     {"owner_id", d.owner_id},
                     {"rule_id", d.rule_id},
                     {"title", d.title},
                     {"priority", d.priority},
                     {"reason", d.reason}});
  }
  return {{"max_open_per_owner", plan.task_budget ? json(*plan.task_budget) : json(nullptr)},
          {"suggested", suggested},
          {"kept", kept},
          {"dropped", dropped},
          {"owners", std::move(owners)},
          {"dropped_tasks", std::move(tasks)}};
}

void ScanCrmValues(const std::map<std::string, std::string>& values, const DiffOptions& options,
                   CrmScan* scan) {
  for (const auto& wb : options.writeback) {
    const std::string& v = Lookup(values, wb.property);
    if (v.empty()) continue;
    scan->has_our_values = true;
    if (wb.result == "scored_at") {
      scan->latest_scored = std::max(scan->latest_scored, ParseCrmTimeMs(v));
    }
  }
}

int64_t KeysVouchedSince(const PriorState& prior, const CrmScan& scan, int64_t now_ms) {
  // A new state file on a portal that already holds the add-in's values (the old state file was
  // lost), or a CRM written after the last write this state file knows (restored from a
  // backup): the keys of the current periods may be in the CRM already.
  int64_t vouched = prior.keys_vouched_since;
  if (vouched < 0) return scan.has_our_values ? now_ms : 0;
  if (scan.latest_scored > prior.last_write_ms + 1000) vouched = std::max(vouched, now_ms);
  return vouched;
}

std::vector<TaskCreateWrite> SuggestedCreates(const Evaluation& ev, const PriorState& prior,
                                              const DiffOptions& options, int64_t vouched) {
  std::vector<TaskCreateWrite> creates;
  for (const auto& r : ev.results) {
    auto nit = ev.names.find(r.account_id);
    for (const auto& t : r.tasks) {
      std::string key =
          TaskKey(prior.portal_id, r.account_id, t.rule_id, t.cooldown_days, options.now_ms);
      auto known = prior.tasks.find(key);
      // Already suggested in this period (open, completed by a person or by the add-in, or on
      // its way): never again.
      if (known != prior.tasks.end() && known->second.state != TaskState::kFailed) continue;
      TaskCreateWrite w;
      // A failed write may still have created it; an unknown key may come from a lost state.
      w.in_doubt =
          known != prior.tasks.end() || PeriodStartMs(t.cooldown_days, options.now_ms) < vouched;
      w.rule_id = t.rule_id;
      w.account_name = nit == ev.names.end() ? "" : nit->second;
      w.auto_close = t.auto_close;
      w.spec.key = key;
      w.spec.account_id = r.account_id;
      w.spec.owner_id = r.owner_id;
      w.spec.subject = t.title;
      w.spec.body = t.body;
      w.spec.priority = PriorityFrom(t.priority);
      w.spec.due_ms = options.now_ms + static_cast<int64_t>(t.due_in_days) * kDayMs;
      w.spec.in_doubt = w.in_doubt;
      creates.push_back(std::move(w));
    }
  }
  return creates;
}

std::vector<TaskCompletionWrite> PlannedCompletions(const Evaluation& ev, const PriorState& prior) {
  std::set<std::pair<std::string, std::string>> holds;  // (account, rule) suggested this run
  for (const auto& r : ev.results) {
    for (const auto& t : r.tasks) holds.insert({r.account_id, t.rule_id});
  }
  std::vector<const KnownTask*> open;
  for (const auto& [key, t] : prior.tasks) {
    if (t.state == TaskState::kOpen && !t.crm_task_id.empty()) open.push_back(&t);
  }
  std::sort(open.begin(), open.end(), [](const KnownTask* a, const KnownTask* b) {
    return std::tie(a->account_id, a->rule_id, a->key) <
           std::tie(b->account_id, b->rule_id, b->key);
  });
  std::vector<TaskCompletionWrite> completions;
  for (const KnownTask* t : open) {
    bool archived = !ev.live_accounts.count(t->account_id);
    // An account whose evaluation failed this run keeps its tasks: its condition is unknown.
    if (!archived && ev.failed_accounts.count(t->account_id)) continue;
    bool cleared = t->auto_close && !holds.count({t->account_id, t->rule_id});
    if (!archived && !cleared) continue;
    completions.push_back(TaskCompletionWrite{
        t->key, t->crm_task_id, t->account_id, t->rule_id,
        archived ? "the company was archived or deleted" : "the rule's condition no longer holds"});
  }
  return completions;
}

void CountOpenTasks(const PriorState& prior, const std::vector<TaskCompletionWrite>& completions,
                    std::map<std::string, int64_t>* open) {
  std::set<std::string> completing;
  for (const auto& c : completions) completing.insert(c.task_key);
  for (const auto& [key, t] : prior.tasks) {
    if (!IsOpen(t.state) || completing.count(key)) continue;
    auto owner = prior.task_owners.find(key);
    (*open)[owner == prior.task_owners.end() ? std::string() : owner->second]++;
  }
}

void AddBudgetCandidates(const Evaluation& ev, const std::vector<TaskCreateWrite>& creates,
                         BudgetInput* input) {
  std::unordered_map<std::string, double> score_of;
  for (const auto& r : ev.results) score_of[r.account_id] = r.score;
  for (const auto& c : creates) {
    if (c.in_doubt) {
      input->open[c.spec.owner_id]++;
      continue;
    }
    input->candidates.push_back({c.spec.account_id, c.spec.owner_id, c.rule_id,
                                 PriorityText(c.spec.priority), score_of[c.spec.account_id]});
    input->keys.push_back(c.spec.key);
  }
}

TaskBudgetDecision DecideTaskBudget(const rules::RuleSet& rules, BudgetInput&& input) {
  // The per-owner task budget: of this run's new suggestions, each owner keeps the best
  // max(0, budget - open) (rules::ApplyTaskBudget: priority, account score, account id, rule
  // id); the others are dropped with their reason and suggested again next run. Open: the
  // add-in's tasks the state file knows open or planned, less this run's completions. Creates in
  // doubt (a failed or interrupted write, a key the state file cannot vouch for) may exist
  // already: they are always kept and count as open.
  TaskBudgetDecision d;
  d.budget = rules.max_open_tasks_per_owner();
  if (!d.budget) return d;
  rules::TaskBudgetResult result = rules::ApplyTaskBudget(input.candidates, input.open, d.budget);
  d.owners = std::move(result.owners);
  for (auto& dropped : result.dropped) {
    d.dropped.emplace(std::move(input.keys[dropped.index]), std::move(dropped.reason));
  }
  return d;
}

Plan DiffPart(const rules::RuleSet& rules, const Evaluation& ev, const PriorState& prior,
              const DiffOptions& options, int64_t vouched, const TaskBudgetDecision& budget) {
  Plan plan;
  const std::string scored_at = IsoUtc(options.now_ms);
  std::string scored_at_property;
  std::string tier_property;
  for (const auto& wb : options.writeback) {
    if (wb.result == "scored_at") scored_at_property = wb.property;
    if (wb.result == "tier") tier_property = wb.property;
  }
  static const std::map<std::string, std::string> kNoValues;
  static const std::map<std::string, LastWrite> kNoWrites;
  plan.keys_vouched_since = vouched;
  plan.task_budget = budget.budget;

  // ---- tasks: suggested ones not yet created, less what the per-owner budget left out ----
  std::vector<OutboxWrite> creates;
  for (auto& c : SuggestedCreates(ev, prior, options, vouched)) {
    if (!c.in_doubt && budget.budget) {
      if (auto d = budget.dropped.find(c.spec.key); d != budget.dropped.end()) {
        plan.budget_dropped.push_back({c.spec.account_id, c.account_name, c.spec.owner_id,
                                       c.rule_id, c.spec.subject, PriorityText(c.spec.priority),
                                       d->second});
        continue;
      }
    }
    creates.push_back(std::move(c));
  }

  // ---- add-in tasks whose condition cleared or whose company is gone ----
  std::vector<OutboxWrite> completions;
  for (auto& c : PlannedCompletions(ev, prior)) completions.push_back(std::move(c));

  // The add-in's open tasks per account after this run (the card shows them): the state file's
  // open and planned ones, less this run's completions, plus this run's creates.
  std::unordered_map<std::string, int64_t> open_tasks;
  {
    std::set<std::string> completing;
    for (const auto& w : completions) completing.insert(std::get<TaskCompletionWrite>(w).task_key);
    for (const auto& [key, t] : prior.tasks) {
      if (IsOpen(t.state) && !completing.count(key)) open_tasks[t.account_id]++;
    }
    for (const auto& w : creates) open_tasks[std::get<TaskCreateWrite>(w).spec.account_id]++;
  }
  // The card (kam.card.v1 JSON; for Salesforce its rich-text rendering) of one account.
  auto card_value = [&](const rules::AccountResult& r) {
    rules::CardOptions co;
    co.scored_at = scored_at;
    auto it = open_tasks.find(r.account_id);
    co.open_tasks = it == open_tasks.end() ? 0 : it->second;
    // The goal trend: against this account's attainment at the run before (its stored result).
    if (auto prev = prior.results.find(r.account_id); prev != prior.results.end()) {
      co.previous_goals = prev->second.goals;
    }
    std::string card = rules::BuildCard(rules, r, co);
    return options.crm == "salesforce" ? rules::RenderCardHtml(card) : card;
  };

  // ---- company fields ----
  std::vector<OutboxWrite> updates;
  for (const auto& r : ev.results) {
    auto vit = ev.crm_values.find(r.account_id);
    const auto& crm_values = vit == ev.crm_values.end() ? kNoValues : vit->second;
    auto wit = prior.written.find(r.account_id);
    const auto& written = wit == prior.written.end() ? kNoWrites : wit->second;
    auto nit = ev.names.find(r.account_id);
    const std::string name = nit == ev.names.end() ? "" : nit->second;
    FieldUpdateWrite up;
    up.account_id = r.account_id;
    up.account_name = name;
    // The add-in scored this company after the last write the state file records (a state
    // restored from a backup, or a write whose record was lost): the CRM's kam_ values are the
    // add-in's own writes, not people's edits — except a value a person set that the state file
    // already reported (under `respect` the add-in never wrote over it).
    const std::string& crm_scored = Lookup(crm_values, scored_at_property);
    auto scored_it = scored_at_property.empty() ? written.end() : written.find(scored_at_property);
    const bool scored_known = scored_it != written.end();
    const bool unrecorded_writes =
        scored_known && ParseCrmTimeMs(crm_scored) > ParseCrmTimeMs(scored_it->second.value) + 1000;
    if (unrecorded_writes) plan.unrecorded_writes.push_back(r.account_id);
    for (const auto& wb : options.writeback) {
      if (wb.result == "scored_at") continue;
      // The card's scored_at changes every run, its rank and pareto flag with other accounts:
      // compared without them (rules::SameCard).
      const bool is_card = wb.result == "card";
      auto same = [is_card](const std::string& a, const std::string& b) {
        return is_card ? rules::SameCard(a, b) : SameValue(a, b);
      };
      std::string ours = is_card ? card_value(r) : rules.WritebackValue(r, wb.result, scored_at);
      if (options.stored_value) ours = options.stored_value(wb.property, ours);
      const std::string& crm = Lookup(crm_values, wb.property);
      auto last_it = written.find(wb.property);
      const LastWrite* last = last_it == written.end() ? nullptr : &last_it->second;
      bool crm_moved = last != nullptr && !same(crm, last->crm_value);
      bool human_edit = crm_moved;
      if (crm_moved && unrecorded_writes) {
        auto rc = prior.reported_conflicts.find(ConflictKey(r.account_id, wb.property));
        human_edit = rc != prior.reported_conflicts.end() && same(rc->second, crm);
        // The add-in's own value: remembered as written, then diffed like any other.
        if (!human_edit && !same(ours, crm)) {
          plan.adopted.push_back({r.account_id, wb.property, crm});
        }
      }
      ConflictPolicy policy = options.config != nullptr ? options.config->PolicyFor(wb.property)
                                                        : ConflictPolicy::kRespect;
      if (same(ours, crm)) {
        if (crm_moved || last == nullptr ||
            (is_card ? !same(last->value, ours) : last->value != ours)) {
          plan.adopted.push_back({r.account_id, wb.property, crm});
        }
        continue;
      }
      if (policy == ConflictPolicy::kReport) {
        plan.reported_only.emplace_back(r.account_id, wb.property);
        continue;
      }
      if (human_edit) {
        FieldConflict c{r.account_id, name, wb.property, ours, crm, last->value, policy};
        if (policy == ConflictPolicy::kRespect) {
          // Reported once per value the person set: again only when they change it.
          auto rc = prior.reported_conflicts.find(ConflictKey(r.account_id, wb.property));
          c.is_new = rc == prior.reported_conflicts.end() || rc->second != crm;
          plan.conflicts.push_back(std::move(c));
          continue;
        }
        plan.conflicts.push_back(std::move(c));
      }
      up.properties[wb.property] = ours;
      up.old_values[wb.property] = crm;
    }
    if (!up.properties.empty()) {
      if (!scored_at_property.empty()) {
        up.properties[scored_at_property] = scored_at;
        up.old_values[scored_at_property] = crm_scored;
      }
      updates.push_back(std::move(up));
    } else if (!crm_scored.empty() && (unrecorded_writes || !scored_known)) {
      // Nothing to write: the CRM's scoring time becomes the state file's record of it.
      plan.adopted.push_back({r.account_id, scored_at_property, crm_scored});
    }
    // Tier changes for people: against the previous result, else the CRM's field.
    std::string from;
    if (auto prev = prior.results.find(r.account_id); prev != prior.results.end()) {
      from = prev->second.tier;
    } else if (!tier_property.empty()) {
      from = Lookup(crm_values, tier_property);
    }
    const std::string& to = r.final_tier.empty() ? r.tier : r.final_tier;
    if (from != to) plan.tier_changes.push_back({r.account_id, name, from, to});
  }

  for (const auto& [account, r] : prior.results) {
    if (!ev.live_accounts.count(account)) plan.dropped_results.push_back(account);
  }
  std::sort(plan.dropped_results.begin(), plan.dropped_results.end());

  plan.writes.reserve(updates.size() + creates.size() + completions.size());
  for (auto* part : {&updates, &creates, &completions}) {
    for (auto& w : *part) plan.writes.push_back(std::move(w));
  }
  return plan;
}

Plan Diff(const rules::RuleSet& rules, const Evaluation& ev, const PriorState& prior,
          const DiffOptions& options) {
  CrmScan scan;
  for (const auto& [account, values] : ev.crm_values) ScanCrmValues(values, options, &scan);
  const int64_t vouched = KeysVouchedSince(prior, scan, options.now_ms);
  TaskBudgetDecision budget;
  if (rules.max_open_tasks_per_owner()) {
    BudgetInput input;
    CountOpenTasks(prior, PlannedCompletions(ev, prior), &input.open);
    AddBudgetCandidates(ev, SuggestedCreates(ev, prior, options, vouched), &input);
    budget = DecideTaskBudget(rules, std::move(input));
  }
  Plan plan = DiffPart(rules, ev, prior, options, vouched, budget);
  plan.budget_owners = budget.owners;
  return plan;
}

}  // namespace kam::engine
