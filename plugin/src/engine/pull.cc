// The pull phase (DESIGN §4 steps 1-2): companies into the snapshot page by page, each page in
// one transaction with its cursor; deleted/archived companies; then the facts (aggregates of
// deals, contacts, meetings) the rule file maps.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "kam/addin.h"
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
  // A full pull that an earlier run left after committing some pages goes on after the last
  // committed page: those pages are in the snapshot, their ids in the store's pulled list.
  bool resume = do_full && cur.full_pull_in_progress && !cur.full_pull_after.empty() &&
                cur.full_pull_started_ms > 0;
  PullRequest po;
  po.properties = ctx.PullProperties();
  po.overlap_ms = cfg.overlap_ms;
  std::unordered_set<std::string> seen;     // delivered by this run
  std::unordered_set<std::string> earlier;  // delivered by the interrupted run (resume)
  // Incremental facts keep a company's aggregates when the pull returns only the echo of the
  // add-in's own write (its modification time is the one the write returned): its links are not
  // read again. Any other change (an edit, a link the CRM's rollups record) reads them again.
  const bool keep_echo_facts = cfg.facts == "changed" && ctx.crm->IncrementalFacts();
  store::FactsStore facts(store);
  uint64_t done = 0;
  int64_t expected = store.CountAccounts(false);
  auto start_full = [&] {
    store::Store::Transaction tx(store);
    store::Cursor c = store.GetCursor(kCompaniesCursor);
    c.full_pull_in_progress = true;
    c.full_pull_after.clear();
    c.full_pull_started_ms = now_ms;
    store.SetCursor(kCompaniesCursor, c);
    store.ClearPulled(kCompaniesCursor);
    tx.Commit();
    earlier.clear();
  };
  if (resume) {
    for (auto& id : store.PulledIds(kCompaniesCursor)) earlier.insert(std::move(id));
    ctx.Log(KAM_LOG_INFO, "resuming the interrupted full pull after its " +
                              std::to_string(earlier.size()) + " " +
                              std::string(AccountsNoun(ctx.cfg.crm)) + " already stored");
  } else if (do_full) {
    start_full();
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
      if (do_full) store.AddPulled(kCompaniesCursor, c.id);
      seen.insert(c.id);
    }
    store::Cursor next = store.GetCursor(kCompaniesCursor);
    if (do_full) {
      next.full_pull_after = page.cursor.page_token;  // a resumed pull continues after this page
    } else {
      next.ts_ms = page.cursor.modified_ms;
      next.last_id = page.cursor.id;
      next.updated_ms = now_ms;
    }
    store.SetCursor(kCompaniesCursor, next);
    tx.Commit();
    ctx.Checkpoint("pull.committed");
    ctx.counters.pages++;
    done += page.accounts.size();
    uint64_t total = page.total_hint > 0 ? static_cast<uint64_t>(page.total_hint)
                                         : static_cast<uint64_t>(std::max<int64_t>(expected, 0));
    ctx.Progress("pull", done + earlier.size(), std::max(total, done + earlier.size()));
    return {};
  };
  PullCursor since;
  since.modified_ms = cur.ts_ms;
  since.id = cur.last_id;
  auto pull_all = [&] {
    // The incremental cursor a full pull ends with is the time it started (a resumed one: the
    // interrupted run's start), so that changes made while it ran are read again.
    po.started_at_ms = resume ? cur.full_pull_started_ms : now_ms;
    po.resume_token = resume ? cur.full_pull_after : std::string();
    return ctx.crm->PullAll(po, on_page);
  };
  CrmResult<PullSummary> summary = do_full ? pull_all() : ctx.crm->PullChanged(since, po, on_page);
  if (!summary.ok() && resume && ctx.counters.pages == 0 && !summary.error().stops_run &&
      !summary.error().retryable) {
    // The CRM refused the stored paging token (expired, or another CRM's): start over.
    ctx.Log(KAM_LOG_WARN, "the CRM refused the interrupted full pull's paging token (" +
                              summary.error().ToString() + "); pulling every company again");
    resume = false;
    start_full();
    summary = pull_all();
  }
  if (!summary.ok()) {
    if (summary.error().code == StatusCode::kCancelled) ctx.CheckCancelled("the pull");
    throw CrmFailure(summary.error(), "pulling " + std::string(AccountsNoun(ctx.cfg.crm)));
  }
  // A port that cannot resume started over: every company came again in this run.
  if (resume && !summary->resumed) earlier.clear();
  ctx.counters.pull_resumed = resume && summary->resumed;
  // (A resumed pull may deliver some of the earlier pages' accounts again: Salesforce's resume
  // re-reads its overlap. Each account counts once.)
  for (const auto& id : earlier) seen.insert(id);
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
    if (!archived.ok()) {
      throw CrmFailure(archived.error(),
                       "listing archived " + std::string(AccountsNoun(ctx.cfg.crm)));
    }
    ctx.counters.archived_listed = static_cast<int64_t>(archived->size());
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
      fin.full_pull_after.clear();
      fin.full_pull_started_ms = 0;
      store.ClearPulled(kCompaniesCursor);
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
    const int64_t calls_before = ctx.crm->Usage().calls;
    auto facts = ctx.crm->ReadFacts(req);
    ctx.counters.facts_all_calls += ctx.crm->Usage().calls - calls_before;
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
