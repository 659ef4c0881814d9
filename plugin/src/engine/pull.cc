// The pull phase (DESIGN §4 steps 1-2): companies into the snapshot page by page, each page in
// one transaction with its cursor; deleted/archived companies; then the facts (aggregates of
// deals, contacts, meetings) the rule file maps.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "kam/rules/rules.h"
#include "kam/store/facts_store.h"
#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

json PropertiesJson(const CrmProperties& props) {
  json o = json::object();
  for (const auto& [k, v] : props) o[k] = v ? json(*v) : json(nullptr);
  return o;
}

json FactsJson(const AccountFacts& f) {
  json o = json::object();
  for (const auto& [k, v] : f.aggregates) {
    switch (v.kind) {
      case FactValue::Kind::kNull:
        o[k] = nullptr;
        break;
      case FactValue::Kind::kNumber:
        o[k] = v.number;
        break;
      case FactValue::Kind::kBool:
        o[k] = v.boolean;
        break;
    }
  }
  return o;
}

}  // namespace

std::unordered_set<std::string> PullAccounts(RunContext& ctx, bool full) {
  store::Store& store = *ctx.store;
  const EngineConfig& cfg = ctx.cfg;
  const int64_t now_ms = ctx.now_ms;
  store::Cursor cur = store.GetCursor(kCompaniesCursor);
  bool too_old = cfg.full_pull_after_days > 0 &&
                 now_ms - cur.last_full_pull_ms > cfg.full_pull_after_days * kDayMs;
  bool do_full = full || cur.last_full_pull_ms == 0 || cur.full_pull_in_progress || too_old;
  ctx.counters.full_pull = do_full;
  PullRequest po;
  po.properties = ctx.PullProperties();
  po.overlap_ms = cfg.overlap_ms;
  po.started_at_ms = now_ms;
  std::unordered_set<std::string> seen;
  // Incremental facts keep a company's aggregates when the pull returns only the echo of the
  // add-in's own write (its modification time is the one the write returned): its links are not
  // read again. Any other change (an edit, a link the CRM's rollups record) reads them again.
  const bool keep_echo_facts = cfg.facts == "changed" && ctx.crm->IncrementalFacts();
  store::FactsStore facts(store);
  uint64_t done = 0;
  int64_t expected = store.CountAccounts(false);
  if (do_full) {
    cur.full_pull_in_progress = true;
    store.SetCursor(kCompaniesCursor, cur);
  }
  auto on_page = [&](const PullPage& page) -> CrmStatus {
    if (ctx.host.IsCancelled()) {
      CrmError e;
      e.code = StatusCode::kCancelled;
      e.message = "cancelled by the host";
      e.stops_run = true;
      return e;
    }
    ctx.Checkpoint("pull.page");
    store::Store::Transaction tx(store);
    for (const auto& c : page.accounts) {
      store::AccountRow row;
      row.id = c.id;
      row.owner_id = c.owner_id;
      json props = PropertiesJson(c.properties);
      props["name"] = c.name;
      row.properties_json = props.dump();
      row.aggregates_json = "";  // facts are (re)read in the facts phase
      if (keep_echo_facts) {
        auto echo = facts.Echo(c.id);
        if (echo && *echo == c.modified_ms) {
          auto old = store.GetAccount(c.id);
          if (old && !old->aggregates_json.empty() && !old->archived) {
            row.aggregates_json = old->aggregates_json;
            ctx.counters.echoes++;
          }
        }
      }
      row.modified_ms = c.modified_ms;
      row.archived = false;
      store.UpsertAccount(row);
      seen.insert(c.id);
    }
    if (!do_full) {
      store::Cursor next = store.GetCursor(kCompaniesCursor);
      next.ts_ms = page.cursor.modified_ms;
      next.last_id = page.cursor.id;
      next.updated_ms = now_ms;
      store.SetCursor(kCompaniesCursor, next);
    }
    tx.Commit();
    ctx.Checkpoint("pull.committed");
    ctx.counters.pages++;
    done += page.accounts.size();
    uint64_t total = page.total_hint > 0 ? static_cast<uint64_t>(page.total_hint)
                                         : static_cast<uint64_t>(std::max<int64_t>(expected, 0));
    ctx.Progress("pull", done, std::max(total, done));
    return {};
  };
  PullCursor since;
  since.modified_ms = cur.ts_ms;
  since.id = cur.last_id;
  CrmResult<PullSummary> summary =
      do_full ? ctx.crm->PullAll(po, on_page) : ctx.crm->PullChanged(since, po, on_page);
  if (!summary.ok()) {
    if (summary.error().code == StatusCode::kCancelled) ctx.CheckCancelled("the pull");
    throw CrmFailure(summary.error(), "pulling companies");
  }
  ctx.counters.pulled = static_cast<int64_t>(seen.size());
  // Deleted or archived companies.
  std::vector<std::string> gone;
  if (do_full) {
    store.ForEachAccount(
        [&](const store::AccountRow& r) {
          if (!seen.count(r.id)) gone.push_back(r.id);
        },
        false);
  } else {
    auto archived = ctx.crm->ListArchived(std::max<int64_t>(0, cur.ts_ms - cfg.overlap_ms));
    if (!archived.ok()) throw CrmFailure(archived.error(), "listing archived companies");
    for (const auto& id : *archived) {
      auto row = store.GetAccount(id);
      if (row && !row->archived && !seen.count(id)) gone.push_back(id);
    }
  }
  {
    store::Store::Transaction tx(store);
    for (const auto& id : gone) store.SetArchived(id, true);
    store::Cursor fin = store.GetCursor(kCompaniesCursor);
    if (do_full) {
      fin.ts_ms = summary->cursor.modified_ms > 0 ? summary->cursor.modified_ms : now_ms;
      fin.last_id = summary->cursor.id;
      fin.last_full_pull_ms = now_ms;
      fin.full_pull_in_progress = false;
    } else if (summary->cursor.modified_ms > fin.ts_ms) {
      fin.ts_ms = summary->cursor.modified_ms;
      fin.last_id = summary->cursor.id;
    }
    fin.updated_ms = now_ms;
    store.SetCursor(kCompaniesCursor, fin);
    tx.Commit();
  }
  ctx.counters.archived = static_cast<int64_t>(gone.size());
  ctx.Checkpoint("pull.done");
  return seen;
}

void RefreshFacts(RunContext& ctx, const std::unordered_set<std::string>& /*pulled*/) {
  if (ctx.cfg.facts == "changed" && ctx.crm->IncrementalFacts()) {
    RefreshFactsIncrementally(ctx);
    return;
  }
  store::Store& store = *ctx.store;
  rules::CrmNeeds needs = ctx.rules->Needs(ctx.cfg.crm);
  std::vector<std::string> ids;  // every account (a port without incremental facts, or "all")
  store.ForEachAccount([&](const store::AccountRow& r) { ids.push_back(r.id); }, false);
  if (needs.aggregates.empty()) {
    // Nothing to read; mark the pulled rows as complete.
    store::Store::Transaction tx(store);
    for (const auto& id : ids) {
      auto row = store.GetAccount(id);
      if (row && row->aggregates_json.empty()) {
        row->aggregates_json = "{}";
        store.UpsertAccount(*row);
      }
    }
    tx.Commit();
    return;
  }
  constexpr size_t kChunk = 1000;
  for (size_t i = 0; i < ids.size(); i += kChunk) {
    ctx.CheckCancelled("reading account facts");
    FactsRequest req;
    req.account_ids.assign(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + kChunk)));
    req.aggregates = needs.aggregates;
    // The windows (last 12 months, active in 90 days, days since the last meeting) end with the
    // run's UTC day, not at the run's minute: two runs of one day read the same facts.
    req.now_ms = ctx.eval_now_ms;
    auto facts = ctx.crm->ReadFacts(req);
    if (!facts.ok()) throw CrmFailure(facts.error(), "reading deals, contacts and meetings");
    ctx.Checkpoint("facts.read");
    store::Store::Transaction tx(store);
    for (const auto& f : facts->accounts) {
      auto row = store.GetAccount(f.id);
      if (!row) continue;
      row->aggregates_json = FactsJson(f).dump();
      store.UpsertAccount(*row);
    }
    for (const auto& id : facts->missing) store.SetArchived(id, true);
    tx.Commit();
    ctx.Checkpoint("facts.committed");
    ctx.counters.facts_refreshed += static_cast<int64_t>(facts->accounts.size());
    ctx.Progress("pull", i + req.account_ids.size(), ids.size());
  }
}

}  // namespace kam::engine
