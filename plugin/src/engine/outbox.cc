// The outbox: typed writes and their one JSON form, task keys, and staging a plan (results,
// history, conflicts, outbox entries and task rows in one transaction).
#include "outbox.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "diff.h"
#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

std::string PriorityName(TaskPriority p) {
  switch (p) {
    case TaskPriority::kLow:
      return "LOW";
    case TaskPriority::kMedium:
      return "MEDIUM";
    case TaskPriority::kHigh:
      return "HIGH";
  }
  return "MEDIUM";
}

TaskPriority PriorityFrom(const std::string& s) {
  if (s == "LOW" || s == "low") return TaskPriority::kLow;
  if (s == "HIGH" || s == "high") return TaskPriority::kHigh;
  return TaskPriority::kMedium;
}

json TaskSpecJson(const TaskSpec& t) {
  return {{"key", t.key},
          {"company_id", t.account_id},
          {"owner_id", t.owner_id},
          {"subject", t.subject},
          {"body", t.body},
          {"status", t.status == CrmTaskStatus::kCompleted ? "COMPLETED" : "NOT_STARTED"},
          {"priority", PriorityName(t.priority)},
          {"due_ms", t.due_ms}};
}

TaskSpec TaskSpecFromJson(const json& j) {
  TaskSpec t;
  t.key = j.value("key", "");
  t.account_id = j.value("company_id", "");
  t.owner_id = j.value("owner_id", "");
  t.subject = j.value("subject", "");
  t.body = j.value("body", "");
  t.status = j.value("status", "NOT_STARTED") == "COMPLETED" ? CrmTaskStatus::kCompleted
                                                             : CrmTaskStatus::kOpen;
  t.priority = PriorityFrom(j.value("priority", "MEDIUM"));
  t.due_ms = j.value("due_ms", int64_t{0});
  return t;
}

std::map<std::string, std::string> StringMap(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

}  // namespace

std::string_view TaskStateName(TaskState state) {
  switch (state) {
    case TaskState::kPlanned:
      return "planned";
    case TaskState::kOpen:
      return "open";
    case TaskState::kCompleted:
      return "completed";
    case TaskState::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<TaskState> TaskStateFrom(std::string_view name) {
  for (TaskState s :
       {TaskState::kPlanned, TaskState::kOpen, TaskState::kCompleted, TaskState::kFailed}) {
    if (TaskStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view WriteKindName(WriteKind kind) {
  switch (kind) {
    case WriteKind::kFieldUpdate:
      return "update";
    case WriteKind::kTaskCreate:
      return "create_task";
    case WriteKind::kTaskCompletion:
      return "complete_task";
  }
  return "update";
}

std::optional<WriteKind> WriteKindFrom(std::string_view name) {
  for (WriteKind k :
       {WriteKind::kFieldUpdate, WriteKind::kTaskCreate, WriteKind::kTaskCompletion}) {
    if (WriteKindName(k) == name) return k;
  }
  return std::nullopt;
}

WriteKind KindOf(const OutboxWrite& write) { return static_cast<WriteKind>(write.index()); }

const std::string& AccountOf(const OutboxWrite& write) {
  return std::visit(
      [](const auto& w) -> const std::string& {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, TaskCreateWrite>) {
          return w.spec.account_id;
        } else {
          return w.account_id;
        }
      },
      write);
}

std::string OutboxPayload(const OutboxWrite& write) {
  json p;
  if (const auto* u = std::get_if<FieldUpdateWrite>(&write)) {
    p = {{"properties", u->properties}, {"old", u->old_values}};
  } else if (const auto* t = std::get_if<TaskCreateWrite>(&write)) {
    p = {{"task", TaskSpecJson(t->spec)}, {"rule_id", t->rule_id}, {"in_doubt", t->in_doubt}};
  } else if (const auto* c = std::get_if<TaskCompletionWrite>(&write)) {
    p = {{"task_id", c->task_id}, {"task_key", c->task_key}, {"reason", c->reason}};
  }
  return p.dump();
}

StatusOr<OutboxWrite> ParseOutboxEntry(std::string_view kind, std::string_view account_id,
                                       std::string_view payload) {
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInternal,
                  "an outbox entry (" + std::string(kind) + ", company " + std::string(account_id) +
                      ") cannot be read: " + why,
                  "outbox");
  };
  std::optional<WriteKind> k = WriteKindFrom(kind);
  if (!k) return bad("unknown kind");
  json p = json::parse(payload, nullptr, false);
  if (!p.is_object()) return bad("the payload is not a JSON object");
  try {
    switch (*k) {
      case WriteKind::kFieldUpdate: {
        FieldUpdateWrite u;
        u.account_id = std::string(account_id);
        u.properties = StringMap(p.value("properties", json::object()));
        u.old_values = StringMap(p.value("old", json::object()));
        if (u.properties.empty()) return bad("no properties");
        return OutboxWrite(std::move(u));
      }
      case WriteKind::kTaskCreate: {
        TaskCreateWrite t;
        if (!p.contains("task") || !p["task"].is_object()) return bad("no task");
        t.spec = TaskSpecFromJson(p["task"]);
        if (t.spec.key.empty()) return bad("a task without a key");
        if (t.spec.account_id.empty()) t.spec.account_id = std::string(account_id);
        t.rule_id = p.value("rule_id", "");
        t.in_doubt = p.value("in_doubt", true);
        t.spec.in_doubt = t.in_doubt;
        return OutboxWrite(std::move(t));
      }
      case WriteKind::kTaskCompletion: {
        TaskCompletionWrite c;
        c.account_id = std::string(account_id);
        c.task_id = p.value("task_id", "");
        c.task_key = p.value("task_key", "");
        c.reason = p.value("reason", "");
        if (c.task_id.empty()) return bad("no task id");
        return OutboxWrite(std::move(c));
      }
    }
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  return bad("unknown kind");
}

std::string IdempotencyKey(const OutboxWrite& write, const std::string& payload, int64_t run_id) {
  const std::string run = std::to_string(run_id);
  if (const auto* u = std::get_if<FieldUpdateWrite>(&write)) {
    return "update:" + u->account_id + ":" + run + ":" + Hex64(Fnv1a64ShortBasis(payload));
  }
  if (const auto* t = std::get_if<TaskCreateWrite>(&write))
    return "task:" + t->spec.key + ":" + run;
  const auto& c = std::get<TaskCompletionWrite>(write);
  return "complete:" + c.task_key + ":" + run;
}

uint64_t Fnv1a64ShortBasis(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string TaskKey(const std::string& portal, const std::string& account, const std::string& rule,
                    int cooldown_days, int64_t now_ms) {
  int64_t day = now_ms / kDayMs;
  int64_t period = cooldown_days > 0 ? day / cooldown_days : 0;
  std::string basis = portal + "|" + account + "|" + rule + "|" + std::to_string(period);
  return "kam-" + Hex64(Fnv1a64ShortBasis(basis));
}

// ---- staging a plan ---------------------------------------------------------------------------

std::map<std::string, std::vector<int64_t>> PendingUpdatesByAccount(store::Store& store) {
  std::map<std::string, std::vector<int64_t>> pending_updates;
  int64_t after = 0;
  for (;;) {
    auto page = store.PendingOutboxAfter(WriteKindName(WriteKind::kFieldUpdate), after, 1000);
    if (page.empty()) break;
    after = page.back().id;
    for (const auto& e : page) pending_updates[e.account_id].push_back(e.id);
  }
  return pending_updates;
}

void StagePlan(RunContext& ctx, const Evaluation& ev, const PriorState& prior, const Plan& plan) {
  auto pending_updates = PendingUpdatesByAccount(*ctx.store);
  StageOptions o;
  o.pending_updates = &pending_updates;
  o.save_vouched = true;
  o.portfolio = &ev.portfolio;
  o.budget = &plan;
  StagePlan(ctx, ev, prior, plan, o);
}

void StagePlan(RunContext& ctx, const Evaluation& ev, const PriorState& prior, const Plan& plan,
               const StageOptions& options) {
  store::Store& store = *ctx.store;
  const int64_t run_id = ctx.run_id;
  const int64_t now_ms = ctx.now_ms;
  ctx.Checkpoint("plan.before_commit");
  std::map<std::string, std::vector<int64_t>> no_pending;
  auto& pending_updates = options.pending_updates ? *options.pending_updates : no_pending;
  store::Store::Transaction tx(store);
  for (const auto& r : ev.results) {
    store::ResultRow row;
    row.account_id = r.account_id;
    json scores = json::object();
    for (const auto& c : r.criteria) scores[c.id] = c.score;
    row.scores_json = scores.dump();
    row.score = r.score;
    row.tier = r.final_tier.empty() ? r.tier : r.final_tier;
    json health = json::array();
    for (const auto& h : r.health) {
      health.push_back({{"id", h.id}, {"label", h.label}, {"status", h.status}});
    }
    row.health_json = health.dump();
    json goals = json::array();  // the report's goal attainment reads them
    for (const auto& g : r.goals) {
      goals.push_back({{"id", g.id}, {"label", g.label}, {"status", g.status}});
    }
    row.receipt_json = json{
        {"input_hash", r.receipt.input_hash},
        {"rules_hash", r.receipt.rules_hash},
        {"rules_version", r.receipt.rules_version},
        {"rank", r.rank},
        {"pareto", r.pareto},
        {"tier_by_score", r.tier},
        {"goals",
         std::move(goals)}}.dump();
    row.rules_hash = r.receipt.rules_hash;
    row.capped_reason = r.capped_reason;
    row.owner_id = r.owner_id;
    row.revenue = r.revenue;
    row.evaluated_ms = now_ms;
    // A history row when the score, the tier or the goal attainment changed (or was not
    // recorded before): the report's movers and goal trend read it.
    std::map<std::string, std::string> goal_statuses;
    for (const auto& g : r.goals) goal_statuses[g.id] = g.status;
    auto prev = prior.results.find(r.account_id);
    if (prev == prior.results.end() || prev->second.tier != row.tier ||
        std::fabs(prev->second.score - row.score) > 1e-9 || prev->second.goals != goal_statuses) {
      store.AddHistory(
          {r.account_id, run_id, r.score, row.tier, now_ms, json(goal_statuses).dump()});
    }
    store.UpsertResult(row);
  }
  for (const auto& id : plan.dropped_results) store.DeleteResult(id);
  for (const auto& a : plan.adopted) {
    store.SetWritten(a.account_id, a.field, {a.value, a.value, now_ms});
    // A conflict that ended (the rules reached the person's value) may be reported again.
    auto key = ConflictMetaKey(a.account_id, a.field);
    if (!store.GetMeta(key).value_or("").empty()) store.SetMeta(key, "");
  }
  for (const auto& c : plan.conflicts) {
    if (!c.is_new) continue;
    if (c.policy == ConflictPolicy::kRespect) {
      store.SetMeta(ConflictMetaKey(c.account_id, c.field), "v:" + c.crm);
    }
    store.AddAudit({0, run_id, now_ms, "conflict", c.account_id, c.field, c.last_written, c.crm,
                    std::string("edited in the CRM by a person; policy ") +
                        ConflictPolicyName(c.policy) + "; our value: " + c.ours});
  }
  for (const auto& w : plan.writes) {
    const std::string payload = OutboxPayload(w);
    store::OutboxEntry e;
    e.run_id = run_id;
    e.kind = std::string(WriteKindName(KindOf(w)));
    e.idem_key = IdempotencyKey(w, payload, run_id);
    e.account_id = AccountOf(w);
    e.payload_json = payload;
    if (const auto* u = std::get_if<FieldUpdateWrite>(&w)) {
      auto it = pending_updates.find(u->account_id);
      if (it != pending_updates.end()) {
        for (int64_t id : it->second) store.DeleteOutbox(id);  // superseded by this plan
        pending_updates.erase(it);
      }
    }
    store.AddOutbox(e);
    if (const auto* t = std::get_if<TaskCreateWrite>(&w)) {
      store::TaskRow row;
      row.task_key = t->spec.key;
      row.account_id = t->spec.account_id;
      row.rule_id = t->rule_id;
      row.state = std::string(TaskStateName(TaskState::kPlanned));
      row.created_ms = now_ms;
      row.updated_ms = now_ms;
      row.owner_id = t->spec.owner_id;
      row.auto_close = t->auto_close;
      store.UpsertTask(row);
    }
  }
  if (options.save_vouched) SaveVouchedSince(store, plan.keys_vouched_since);
  if (options.portfolio) store.SetMeta("last_portfolio", options.portfolio->ToJson().dump());
  if (options.budget) {
    store.SetMeta("last_task_budget", TaskBudgetJson(*options.budget).dump());  // kam report
  }
  tx.Commit();
  ctx.Checkpoint("plan.committed");
}

}  // namespace kam::engine
