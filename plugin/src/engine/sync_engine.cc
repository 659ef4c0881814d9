// The sync engine's orchestration: the phases (phases.h) in DESIGN §4's order for a sync, the
// first four for a dry run, and provisioning, status and report. Each phase lives in its own
// file; this one only sequences them and shapes the operations' answers.
#include "sync_engine.h"

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "diff.h"
#include "kam/addin.h"
#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "phases.h"
#include "retention.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

struct SyncEngine::Impl {
  Impl(Host& host, SyncEngineOptions options)
      : ctx(host, std::move(options.config), std::move(options.clock),
            std::move(options.on_checkpoint), std::move(options.get_secret)),
        rules_source{std::move(options.rules_text), std::move(options.rules_name)} {}

  DiffOptions DiffOptionsFor(const RunContext& c) const {
    DiffOptions d;
    d.crm = c.cfg.crm;
    d.writeback = c.rules->Writeback(c.cfg.crm);
    d.config = &c.cfg;
    d.now_ms = c.now_ms;
    if (const Crm* crm = c.crm.get()) {
      d.stored_value = [crm](const std::string& property, const std::string& value) {
        return crm->StoredValue(property, value);
      };
    }
    return d;
  }

  RunContext ctx;
  RulesSource rules_source;
};

namespace {

json EvaluationErrorsJson(const PlannedRun& run) {
  json out = json::array();
  for (const auto& [account, message] : run.errors)
    out.push_back({{"account_id", account}, {"error", message}});
  return out;
}

}  // namespace

SyncEngine::SyncEngine(Host& host, SyncEngineOptions options)
    : impl_(std::make_unique<Impl>(host, std::move(options))) {}

SyncEngine::~SyncEngine() = default;

json SyncEngine::Sync(bool full) {
  RunContext& ctx = impl_->ctx;
  ctx.counters = RunCounters{};
  // A bad or missing rule file: nothing is opened or written.
  ctx.LoadRules(impl_->rules_source, /*run_tests=*/false);
  return RunRecorded(ctx, "sync", [&]() -> json {
    ctx.RunRuleTests();
    ctx.ConnectCrm();
    // The state file belongs to one portal: another portal's state is refused before any write.
    const std::string portal = ctx.BoundPortalId();
    // Resume: writes planned by an interrupted run go out first.
    int64_t pending = ctx.store->CountOutbox(store::OutboxState::kPending);
    if (pending > 0) {
      ctx.counters.resumed_entries = pending;
      ctx.Log(KAM_LOG_INFO, "resuming " + std::to_string(pending) + " planned writes");
      if (auto err = Push(ctx)) throw *err;
    }
    json phase_ms = json::object();
    auto t = std::chrono::steady_clock::now();
    auto lap = [&](const char* phase) {
      auto now = std::chrono::steady_clock::now();
      phase_ms[phase] = std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
      t = now;
    };
    auto pulled = PullAccounts(ctx, full);
    lap("pull");
    RefreshFacts(ctx, pulled);
    lap("facts");
    const TaskStatusRefresh task_status = RefreshOpenTaskStatus(ctx);  // budget: what is open
    // Evaluate, diff and stage per chunk of accounts (plan.cc): one phase time, "plan".
    // The push begins while the plan stages its chunks: each chunk's field updates go out
    // while the next chunk is evaluated (push.cc, PushSession).
    PushSession push(ctx);
    push.StartPumping();
    PlannedRun planned = PlanInChunks(ctx, portal, impl_->DiffOptionsFor(ctx), /*stage=*/true,
                                      [&push] { push.Pump(); });
    const Plan& plan = planned.plan;
    lap("plan");
    if (planned.unrecorded_writes > 0) {
      ctx.Log(KAM_LOG_WARN, std::to_string(planned.unrecorded_writes) +
                                " companies were scored by the add-in after the last write the "
                                "state file records (restored from a backup?): their values are "
                                "taken as the add-in's own, not as people's edits");
    }
    ctx.counters.changed_accounts = static_cast<int64_t>(planned.updates);
    for (const auto& c : plan.conflicts) {
      if (c.is_new) ctx.counters.conflicts++;
      if (c.policy == ConflictPolicy::kRespect) ctx.counters.conflicts_kept++;
    }
    if (auto err = push.Finish()) throw *err;
    lap("push");
    json s = RunSummary(ctx);
    s["phase_ms"] = phase_ms;
    s["own_writes_adopted"] = planned.unrecorded_writes;
    s["pruned"] = PruneExpired(*ctx.store, ctx.cfg.retention_days, ctx.now_ms, ctx.host);
    s["conflict_details"] = json::array();
    for (const auto& c : plan.conflicts) {
      if (s["conflict_details"].size() >= 100) break;
      s["conflict_details"].push_back({{"account_id", c.account_id},
                                       {"name", c.account_name},
                                       {"field", c.field},
                                       {"crm_value", c.crm},
                                       {"our_value", c.ours},
                                       {"policy", ConflictPolicyName(c.policy)},
                                       {"new", c.is_new}});
    }
    s["evaluation_error_details"] = EvaluationErrorsJson(planned);
    s["tiers"] = planned.portfolio.ToJson();
    s["task_budget"] = TaskBudgetJson(plan, 100);
    s["tasks_completed_in_crm"] = task_status.completed;
    // Write errors: the run is recorded and summarised, but the host exits non-zero (kam: 7).
    s["ok"] = ctx.counters.write_errors == 0;
    s["text"] = SyncText(s);
    return s;
  });
}

json SyncEngine::DryRun(bool full) {
  RunContext& ctx = impl_->ctx;
  ctx.counters = RunCounters{};
  ctx.LoadRules(impl_->rules_source, /*run_tests=*/false);
  return RunRecorded(ctx, "dry_run", [&]() -> json {
    ctx.RunRuleTests();
    ctx.ConnectCrm();
    const std::string portal = ctx.BoundPortalId();
    auto pulled = PullAccounts(ctx, full);
    RefreshFacts(ctx, pulled);
    RefreshOpenTaskStatus(ctx);  // the CRM's task status is a read, like the pull
    PlannedRun planned = PlanInChunks(ctx, portal, impl_->DiffOptionsFor(ctx), /*stage=*/false);
    const Plan& plan = planned.plan;
    const auto updates = plan.All<FieldUpdateWrite>();
    const auto creates = plan.All<TaskCreateWrite>();
    const auto completions = plan.All<TaskCompletionWrite>();
    json out;
    std::map<std::string, json> changes;
    for (const auto& t : plan.tier_changes) {
      std::string k = (t.from.empty() ? "(none)" : t.from) + " -> " + t.to;
      json& c = changes[k];
      if (c.is_null())
        c = {{"from", t.from}, {"to", t.to}, {"count", 0}, {"accounts", json::array()}};
      c["count"] = c["count"].get<int64_t>() + 1;
      if (c["accounts"].size() < 20)
        c["accounts"].push_back({{"id", t.account_id}, {"name", t.account_name}});
    }
    json tier_changes = json::array();
    for (auto& [k, v] : changes) tier_changes.push_back(v);
    std::map<std::string, int64_t> fields;
    for (const auto* u : updates) {
      for (const auto& [f, v] : u->properties) fields[f]++;
    }
    json tasks = json::array();
    for (const auto* t : creates) {
      if (tasks.size() >= 100) break;
      tasks.push_back({{"account_id", t->spec.account_id},
                       {"name", t->account_name},
                       {"rule_id", t->rule_id},
                       {"title", t->spec.subject},
                       {"key", t->spec.key}});
    }
    json completes = json::array();
    for (const auto* c : completions) {
      completes.push_back({{"account_id", c->account_id},
                           {"rule_id", c->rule_id},
                           {"task_id", c->task_id},
                           {"reason", c->reason}});
    }
    json conflicts = json::array();
    for (const auto& c : plan.conflicts) {
      if (conflicts.size() >= 100) break;
      conflicts.push_back({{"account_id", c.account_id},
                           {"name", c.account_name},
                           {"field", c.field},
                           {"crm_value", c.crm},
                           {"our_value", c.ours},
                           {"last_written", c.last_written},
                           {"policy", ConflictPolicyName(c.policy)}});
    }
    out["tier_changes"] = tier_changes;
    out["accounts_to_write"] = updates.size();
    out["fields_to_write"] = fields;
    out["tasks_to_create"] = creates.size();
    out["task_details"] = tasks;
    out["tasks_to_complete"] = completes;
    out["task_budget"] = TaskBudgetJson(plan);
    out["conflicts"] = conflicts;
    out["conflict_count"] = plan.conflicts.size();
    out["reported_only"] = plan.reported_only.size();
    out["evaluation_errors"] = EvaluationErrorsJson(planned);
    out["portfolio"] = planned.portfolio.ToJson();
    out.update(UsageJson(ctx));
    std::ostringstream o;
    o << "Dry run: nothing was written to the CRM.\n";
    o << "Tier changes:";
    if (tier_changes.empty()) o << " none";
    o << "\n";
    for (const auto& c : tier_changes) {
      std::string from = c["from"].get<std::string>();
      o << "  " << (from.empty() ? "(none)" : from) << " -> " << c["to"].get<std::string>() << ": "
        << c["count"] << " accounts (";
      size_t n = 0;
      for (const auto& a : c["accounts"]) {
        if (n++ == 5) {
          o << ", ...";
          break;
        }
        o << (n > 1 ? ", " : "") << a["name"].get<std::string>();
      }
      o << ")\n";
    }
    o << "Fields to write on " << updates.size() << " " << AccountsNoun(ctx.cfg.crm) << ":";
    for (const auto& [f, n] : fields) o << " " << f << "=" << n;
    o << "\nTasks to create: " << creates.size() << "; to complete: " << completions.size() << "\n";
    if (plan.task_budget) {
      o << "Task budget (tasks.max_open_per_owner " << *plan.task_budget
        << "): " << plan.budget_dropped.size() << " new suggestions left out";
      o << (plan.budget_dropped.empty() ? "\n" : "; per KAM (open + kept of suggested):\n");
      for (const auto& w : plan.budget_owners) {
        if (w.dropped == 0) continue;
        o << "  " << (w.owner_id.empty() ? "(no owner)" : w.owner_id) << ": " << w.open << " + "
          << w.kept << " of " << w.suggested << "\n";
      }
      for (size_t i = 0; i < plan.budget_dropped.size() && i < 5; ++i) {
        const auto& d = plan.budget_dropped[i];
        o << "  left out: " << d.title << " (" << d.rule_id << ", " << d.account_id
          << "): " << d.reason << "\n";
      }
    }
    o << "Conflicts (edited by people): " << plan.conflicts.size() << "\n";
    for (const auto& c : plan.conflicts) {
      o << "  " << c.account_name << " (" << c.account_id << ") " << c.field << ": CRM \"" << c.crm
        << "\", ours \"" << c.ours << "\" -> " << ConflictPolicyName(c.policy) << "\n";
    }
    out["text"] = o.str();
    return out;
  });
}

json SyncEngine::Provision() {
  RunContext& ctx = impl_->ctx;
  ctx.counters = RunCounters{};
  ctx.LoadRules(impl_->rules_source, /*run_tests=*/false);
  return RunRecorded(ctx, "provision", [&]() -> json {
    ctx.ConnectCrm();
    ctx.BoundPortalId();  // a state file of another portal is refused here too
    ProvisionSpec spec = ctx.WritebackSpec();
    auto r = ctx.crm->Provision(spec);
    if (!r.ok()) throw CrmFailure(r.error(), "provisioning the add-in's properties");
    ctx.store->SetMeta("task_key_unique", r->task_key_unique ? "true" : "false");
    json items = json::array();
    bool changed = false;
    bool conflicts = false;
    std::ostringstream o;
    for (const auto& it : r->items) {
      std::string object(it.object == CrmObject::kTask ? "tasks" : AccountsNoun(ctx.cfg.crm));
      std::string outcome(ProvisionOutcomeName(it.outcome));
      changed = changed || it.outcome == ProvisionItem::Outcome::kCreated ||
                it.outcome == ProvisionItem::Outcome::kUpdated;
      conflicts = conflicts || it.outcome == ProvisionItem::Outcome::kConflict;
      items.push_back({{"object_type", object},
                       {"name", it.name},
                       {"outcome", outcome},
                       {"detail", it.detail}});
      o << "  " << object << " " << it.name << ": " << outcome;
      if (!it.detail.empty()) o << " (" << it.detail << ")";
      o << "\n";
    }
    bool complete = r->complete();
    std::string head = std::string("Provisioning ") +
                       (changed ? "changed the portal" : "found everything in place") + ":\n";
    if (!complete) {
      head =
          "Provisioning is INCOMPLETE: the properties marked below are missing or unusable; "
          "fix them and run `kam provision` again (a sync stops until they exist):\n";
    }
    o << "Task keys unique: "
      << (r->task_key_unique ? "yes (tasks are upserted by key)"
                             : "no (tasks are searched by key first)");
    return json{{"items", items},         {"changed", changed},
                {"conflicts", conflicts}, {"task_key_unique", r->task_key_unique},
                {"ok", complete},         {"text", head + o.str()}};
  });
}

json SyncEngine::Status() { return StatusReport(impl_->ctx); }

json SyncEngine::Report(const std::string& html_path) {
  RunContext& ctx = impl_->ctx;
  ctx.LoadRules(impl_->rules_source, /*run_tests=*/false);
  return PortfolioReport(ctx, html_path);
}

}  // namespace kam::engine
