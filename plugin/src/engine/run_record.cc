// The run record (DESIGN §4 step 7): the run row around every sync, dry run and provisioning
// (started, outcome, counters, error), the run summary and its text, and `kam status`.
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kam/addin.h"
#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

json CountersJson(const RunCounters& c) {
  json errors = json::array();
  for (const auto& e : c.errors) {
    errors.push_back({{"account_id", e.account_id}, {"kind", e.kind}, {"error", e.error}});
  }
  return {{"pulled", c.pulled},
          {"pages", c.pages},
          {"full_pull", c.full_pull},
          {"full_pull_resumed", c.pull_resumed},
          {"archived", c.archived},
          {"facts_refreshed", c.facts_refreshed},
          {"evaluated", c.evaluated},
          {"evaluation_errors", c.eval_errors},
          {"changed_accounts", c.changed_accounts},
          {"accounts_written", c.accounts_written},
          {"fields_written", c.fields_written},
          {"tasks_created", c.tasks_created},
          {"tasks_already_there", c.tasks_existing},
          {"tasks_linked", c.tasks_linked},
          {"tasks_completed", c.tasks_completed},
          {"conflicts", c.conflicts},
          {"conflicts_kept", c.conflicts_kept},
          {"capped", c.capped},
          {"write_errors", c.write_errors},
          {"resumed_outbox_entries", c.resumed_entries},
          {"facts_full", c.facts_full},
          {"fact_pages", c.fact_pages},
          {"fact_records", c.fact_records},
          {"fact_link_reads", c.fact_link_reads},
          {"echoes", c.echoes},
          {"write_batches", c.write_batches},
          {"errors", std::move(errors)}};
}

int64_t CeilDiv(int64_t n, int64_t d) { return (n + d - 1) / d; }

}  // namespace

// The calls a sync cannot do without, from what its data required under the CRM API's limits
// (`limits`: HubSpot's by default, CRM_API.md A5-A9; Salesforce's, B5; plugin/src/engine/
// README.md, *Call budget*): the token request, if the run needs one; the portal check; one
// page per `changed_page` accounts changed (a full pull: per `full_pull_page`) and at least
// one; the archived list (at least one page); per fact kind one search page per `fact_page`
// changed records (at least one) and one association read per `fact_map_batch` of them (if the
// CRM needs one), one link read per `fact_link_accounts` companies whose links were read and
// one batch read per `fact_record_batch` records not stored yet (a full facts read: its calls); one lookup per `task_status_keys` open tasks whose status is read;
// one call per batch written. What a run spends beyond it (keyset re-reads of ties, a per-run
// property check, retries) is the overhead `calls_per_minimum` shows.
json MinimumCalls(const RunCounters& c, const CallLimits& limits) {
  json m = json::object();
  if (limits.token_calls > 0) m["token"] = limits.token_calls;
  m["portal_check"] = 1;
  m["company_pages"] = std::max<int64_t>(
      1, CeilDiv(c.pulled, c.full_pull ? limits.full_pull_page : limits.changed_page));
  m["archived_pages"] =
      c.full_pull ? 0 : std::max<int64_t>(1, CeilDiv(c.archived_listed, limits.archived_page));
  int64_t facts =
      c.facts_all_calls + c.fact_record_reads +
      c.fact_kinds * CeilDiv(c.fact_link_reads, limits.fact_link_accounts);
  for (const auto& [kind, records] : c.fact_records_by_kind) {
    facts += std::max<int64_t>(1, CeilDiv(records, limits.fact_page)) +
             (limits.fact_map_batch > 0 ? CeilDiv(records, limits.fact_map_batch) : 0);
  }
  m["facts"] = facts;
  m["task_status"] = CeilDiv(c.task_status_keys, limits.task_status_keys);
  m["write_batches"] = c.write_batches;
  int64_t total = 0;
  for (const auto& [k, v] : m.items()) total += v.get<int64_t>();
  m["total"] = total;
  return m;
}

namespace {

constexpr const char* kPropertyCheckMeta = "property_check";  // "<writeback hash> <ms> <0|1>"

std::string WritebackFingerprint(const ProvisionSpec& spec) {
  std::string text;
  for (const auto& p : spec.properties) {
    text += std::to_string(static_cast<int>(p.object)) + "\x1f" + p.name + "\x1f" + p.type +
            "\x1f" + (p.hidden ? "h" : "") + (p.unique ? "u" : "");
    for (const auto& [value, label] : p.options) text += "\x1f" + value;
    text += "\x1e";
  }
  return std::to_string(std::hash<std::string>{}(text));
}

}  // namespace

bool RunContext::PropertyCheckStillValid() {
  if (!store || !crm) return false;
  const std::optional<std::string> meta = store->GetMeta(kPropertyCheckMeta);
  if (!meta || meta->empty()) return false;
  std::istringstream in(*meta);
  std::string fingerprint;
  int64_t at_ms = 0;
  int unique = 0;
  if (!(in >> fingerprint >> at_ms >> unique)) return false;
  if (fingerprint != WritebackFingerprint(WritebackSpec())) return false;
  if (now_ms < at_ms || now_ms - at_ms >= kPropertyCheckValidMs) return false;
  return crm->AssumePropertiesVerified(unique != 0);
}

void RunContext::RememberPropertyCheck(bool task_key_unique) {
  if (!store) return;
  store->SetMeta(kPropertyCheckMeta, WritebackFingerprint(WritebackSpec()) + " " +
                                         std::to_string(now_ms) + " " +
                                         (task_key_unique ? "1" : "0"));
}

void RunContext::ForgetPropertyCheck() {
  if (store) store->SetMeta(kPropertyCheckMeta, "");
}

json UsageJson(RunContext& ctx) {
  json u = json::object();
  if (!ctx.crm) return u;
  CrmUsage usage = ctx.crm->Usage();
  u["api_calls"] = usage.calls;
  u["retries"] = usage.retries;
  u["rate_limited"] = usage.rate_limited;
  u["failed_calls"] = usage.failed;
  u["quota_left"] = usage.quota_left;
  u["daily_limit"] = usage.daily_limit;
  return u;
}

json RunSummary(RunContext& ctx) {
  json s = CountersJson(ctx.counters);
  s["run_id"] = ctx.run_id;
  s["crm"] = ctx.cfg.crm;
  s["duration_ms"] = SteadyMs() - ctx.started_steady_ms;
  s["checkpoints"] = ctx.checkpoints;
  s.update(UsageJson(ctx));
  // The calls no sync can do without (MinimumCalls); api_calls / minimum_calls is the overhead.
  json detail =
      MinimumCalls(ctx.counters, ctx.crm ? ctx.crm->MinimumCallLimits() : CallLimits{});
  const int64_t minimum = detail["total"].get<int64_t>();
  s["minimum_calls"] = minimum;
  s["minimum_calls_detail"] = std::move(detail);
  if (s.contains("api_calls") && minimum > 0) {
    s["calls_per_minimum"] =
        static_cast<double>(s["api_calls"].get<int64_t>()) / static_cast<double>(minimum);
  } else {
    s["calls_per_minimum"] = nullptr;
  }
  return s;
}

json RunRecorded(RunContext& ctx, const char* kind, const std::function<json()>& body) {
  ctx.started_steady_ms = SteadyMs();  // durations by the steady clock
  struct Close {                       // the state file is held only during a call
    RunContext& ctx;
    ~Close() { ctx.CloseStore(); }
  } close{ctx};
  auto finish = [&](const std::string& outcome, const std::string& error) {
    if (!ctx.store || ctx.run_id == 0) return;
    try {
      // A write that failed (a property deleted since the last check?) or a run that stopped:
      // the next run checks the properties before its first write again.
      if (outcome != "ok" || ctx.counters.write_errors > 0) ctx.ForgetPropertyCheck();
      ctx.store->FinishRun(ctx.run_id, ctx.clock(), outcome, RunSummary(ctx).dump(), error);
    } catch (const store::StoreError& e) {
      ctx.Log(KAM_LOG_ERROR, std::string("could not record the run: ") + e.what());
    }
  };
  ctx.run_id = 0;
  try {
    ctx.StartClock();
    ctx.OpenStore();
    int stale = ctx.store->MarkInterruptedRuns(ctx.now_ms);
    if (stale > 0) ctx.Log(KAM_LOG_WARN, "a previous run was interrupted; resuming its work");
    ctx.run_id = ctx.store->StartRun(kind, ctx.now_ms);
    json out = body();
    finish("ok", "");
    return out;
  } catch (const OpError& e) {
    finish(e.code() == StatusCode::kCancelled ? "cancelled" : "error", e.message());
    throw;
  } catch (const store::StoreError& e) {
    finish("error", e.what());
    throw OpError(StatusCode::kInternal, e.what(), ctx.cfg.state_path);
  } catch (const nlohmann::json::exception& e) {
    finish("error", e.what());
    throw OpError(StatusCode::kInternal, std::string("malformed state or CRM data: ") + e.what());
  }
}

std::string SyncText(const json& s) {
  const std::string noun(AccountsNoun(s.value("crm", "")));
  std::ostringstream o;
  o << "Sync "
    << (s.value("full_pull_resumed", false) ? "(full pull, resumed)"
        : s.value("full_pull", false)       ? "(full pull)"
                                            : "(incremental)")
    << ": pulled " << s.value("pulled", 0) << " " << noun << " in " << s.value("pages", 0)
    << " pages, evaluated " << s.value("evaluated", 0) << ".\n";
  o << "Wrote " << s.value("fields_written", 0) << " fields on " << s.value("accounts_written", 0)
    << " " << noun << "; tasks created " << s.value("tasks_created", 0) << ", completed "
    << s.value("tasks_completed", 0);
  if (s.value("tasks_linked", 0) > 0) {
    o << ", found by key and linked to their " << (noun == "accounts" ? "account " : "company ")
      << s.value("tasks_linked", 0);
  }
  if (s.value("tasks_already_there", 0) > 0) {
    // A create whose answer was lost and repeated, or a state file newer than the tasks: the
    // tasks exist once, found by their key (without this the text says "created 0" for tasks
    // that appeared in the CRM during this run).
    o << "; " << s.value("tasks_already_there", 0)
      << " found already in the CRM by their key (created by an earlier attempt whose answer "
         "was lost, or before this state file; none created twice)";
  }
  o << ".\n";
  o << "Conflicts (edited by people): " << s.value("conflicts", 0) << " new, "
    << s.value("conflicts_kept", 0) << " kept"
    << "; capped by capacity: " << s.value("capped", 0)
    << "; write errors: " << s.value("write_errors", 0) << ".\n";
  o << "API calls: " << s.value("api_calls", 0) << " (calls/minimum " << s.value("api_calls", 0)
    << "/" << s.value("minimum_calls", 0) << ")";
  if (s.value("echoes", 0) > 0) o << ", own writes echoed back " << s.value("echoes", 0);
  if (s.value("quota_left", int64_t{-1}) >= 0) o << ", daily quota left " << s["quota_left"];
  o << ", " << s.value("duration_ms", 0) << " ms.";
  return o.str();
}

json StatusReport(RunContext& ctx) {
  try {
    ctx.OpenStore();
  } catch (const OpError& e) {
    if (e.code() != StatusCode::kConflict) throw;
    return {{"running", true}, {"text", std::string("A sync is running: ") + e.message()}};
  }
  struct Close {
    RunContext& ctx;
    ~Close() { ctx.CloseStore(); }
  } close{ctx};
  store::Store& store = *ctx.store;
  try {
    int64_t now = ctx.clock();
    json runs = json::array();
    for (const auto& r : store.LastRuns(10)) {
      json counters = json::parse(r.counters_json, nullptr, false);
      runs.push_back({{"id", r.id},
                      {"kind", r.kind},
                      {"started", IsoUtc(r.started_ms)},
                      {"ended", r.ended_ms ? IsoUtc(r.ended_ms) : ""},
                      {"outcome", r.outcome},
                      {"error", r.error},
                      {"counters", counters.is_object() ? counters : json::object()}});
    }
    store::Cursor c = store.GetCursor(kCompaniesCursor);
    json out = {
        {"running", false},
        {"state", ctx.cfg.state_path},
        {"runs", runs},
        {"cursor",
         {{"modified", c.ts_ms ? IsoUtc(c.ts_ms) : ""},
          {"age_seconds", c.updated_ms ? (now - c.updated_ms) / 1000 : -1},
          {"last_full_pull", c.last_full_pull_ms ? IsoUtc(c.last_full_pull_ms) : ""},
          {"full_pull_in_progress", c.full_pull_in_progress}}},
        {"outbox",
         {{"pending", store.CountOutbox(store::OutboxState::kPending)},
          {"failed", store.CountOutbox(store::OutboxState::kError)},
          {"acknowledged", store.CountOutbox(store::OutboxState::kAcked)}}},
        {"accounts", store.CountAccounts(false)},
        {"open_tasks", store.TasksInState("open").size()},
        {"portal_id", store.GetMeta("portal_id").value_or("")},
    };
    int64_t quota = -1;
    for (const auto& r : runs) {
      if (r["counters"].contains("quota_left") && r["counters"]["quota_left"].is_number()) {
        quota = r["counters"]["quota_left"].get<int64_t>();
        break;
      }
    }
    out["quota_left"] = quota;
    std::ostringstream o;
    o << "State " << ctx.cfg.state_path << ": " << out["accounts"] << " accounts, "
      << out["open_tasks"] << " open add-in tasks.\n";
    o << "Cursor: " << (c.ts_ms ? IsoUtc(c.ts_ms) : "never pulled");
    if (c.updated_ms) o << " (moved " << (now - c.updated_ms) / 1000 << " s ago)";
    o << "\nOutbox: " << out["outbox"]["pending"] << " pending, " << out["outbox"]["failed"]
      << " failed.\nQuota left: " << (quota >= 0 ? std::to_string(quota) : "unknown") << "\n";
    for (const auto& r : runs) {
      if (r["kind"] != "sync" || !r["counters"].contains("conflicts_kept")) continue;
      out["conflicts_kept"] = r["counters"]["conflicts_kept"];
      o << "Conflicts kept (fields a person edited; the add-in leaves them as they are): "
        << r["counters"]["conflicts_kept"] << " (listed by `kam sync --dry-run`)\n";
      break;
    }
    o << "Last runs:\n";
    for (const auto& r : runs) {
      o << "  #" << r["id"] << " " << r["kind"].get<std::string>() << " "
        << r["started"].get<std::string>() << " " << r["outcome"].get<std::string>();
      if (r["counters"].contains("fields_written")) {
        o << " (pulled " << r["counters"].value("pulled", 0) << ", written "
          << r["counters"].value("fields_written", 0) << " fields, tasks +"
          << r["counters"].value("tasks_created", 0);
        if (r["counters"].value("tasks_already_there", 0) > 0) {
          o << ", " << r["counters"].value("tasks_already_there", 0) << " found by key";
        }
        o << ")";
      }
      if (!r["error"].get<std::string>().empty()) o << ": " << r["error"].get<std::string>();
      o << "\n";
    }
    out["text"] = o.str();
    return out;
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), ctx.cfg.state_path);
  }
}

}  // namespace kam::engine
