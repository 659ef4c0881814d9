// Incremental facts ("facts": "changed", DESIGN §4 step 2): the deals, contacts and meetings
// that changed since the last run are pulled by their own modification time and mapped to their
// companies; companies the pull returned (not the add-in's own echo) have their links read
// again; the state file keeps what the aggregates read (facts_store.h), and the aggregates are
// computed locally — for the affected accounts, and for every account when the run's day moved
// the time windows. Every `facts_full_refresh_hours` (and on a full pull) everything is read
// again as a whole.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "kam/rules/rules.h"
#include "kam/store/facts_store.h"
#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

constexpr size_t kAccountChunk = 1000;  // accounts per association read (the CRM's maximum)
constexpr const char* kEvalNowMeta = "facts.eval_now_ms";

std::string CursorName(FactKind kind) { return "facts." + std::string(FactKindName(kind)); }

store::FactRecordRow RowOf(const FactRecord& r) {
  store::FactRecordRow row;
  row.kind = std::string(FactKindName(r.kind));
  row.id = r.id;
  row.modified_ms = r.modified_ms;
  row.amount = r.amount;
  if (r.at_ms >= 0) row.at_ms = r.at_ms;
  row.won = r.won;
  row.closed = r.closed;
  row.executive = r.executive;
  return row;
}

// The aggregates JSON of one account (the same shape as the full read's, pull.cc FactsJson).
json AggregatesJson(const std::vector<std::string>& names, const store::FactTotals& t,
                    int64_t now_ms) {
  json o = json::object();
  for (const auto& n : names) {
    if (n == "deals.won_amount_last_12m") {
      o[n] = t.won_last_12m;
    } else if (n == "deals.won_amount_prev_12m") {
      o[n] = t.won_prev_12m;
    } else if (n == "deals.open_amount") {
      o[n] = t.open_amount;
    } else if (n == "deals.open_count") {
      o[n] = static_cast<double>(t.open_count);
    } else if (n == "contacts.count") {
      o[n] = static_cast<double>(t.contacts);
    } else if (n == "contacts.active_count") {
      o[n] = static_cast<double>(t.active_contacts);
    } else if (n == "contacts.exec_sponsor") {
      o[n] = t.exec_sponsor;
    } else if (n == "meetings.days_since_last") {
      o[n] = t.last_meeting_ms ? json(static_cast<double>((now_ms - *t.last_meeting_ms) / kDayMs))
                               : json(nullptr);
    } else if (n == "meetings.count_last_90d") {
      o[n] = static_cast<double>(t.meetings_last_90d);
    }
  }
  return o;
}

bool KnownAggregate(const std::string& n) {
  static const std::set<std::string> kKnown = {"deals.won_amount_last_12m",
                                               "deals.won_amount_prev_12m",
                                               "deals.open_amount",
                                               "deals.open_count",
                                               "contacts.count",
                                               "contacts.active_count",
                                               "contacts.exec_sponsor",
                                               "meetings.days_since_last",
                                               "meetings.count_last_90d"};
  return kKnown.count(n) > 0;
}

// Reads the links of `accounts` and the records not yet stored (all of them when
// `all_records`), for each kind; stores them and marks the accounts dirty, one transaction per
// chunk of 1,000 accounts.
//
// Records are read in full batches of the CRM's size; the ids left over wait for the next
// chunk's (a chunk's transaction may then store links to records the next one stores: the
// aggregates are computed from the state file after the last chunk, and a run that stops before
// reads them again).
void ReadLinksOf(RunContext& ctx, const std::vector<FactKind>& kinds,
                 const std::vector<std::string>& accounts, bool all_records) {
  store::Store& store = *ctx.store;
  store::FactsStore facts(store);
  ctx.counters.fact_kinds = static_cast<int64_t>(kinds.size());
  const int64_t record_batch = ctx.crm->MinimumCallLimits().fact_record_batch;
  std::vector<std::vector<std::string>> carry(kinds.size());  // ids held for the next batch
  for (size_t i = 0; i < accounts.size(); i += kAccountChunk) {
    ctx.CheckCancelled("reading account facts");
    std::vector<std::string> chunk(accounts.begin() + static_cast<std::ptrdiff_t>(i),
                                   accounts.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                          accounts.size(), i + kAccountChunk)));
    std::vector<std::pair<FactKind, std::map<std::string, std::vector<std::string>>>> links;
    std::vector<FactRecord> records;
    for (size_t k = 0; k < kinds.size(); ++k) {
      const FactKind kind = kinds[k];
      auto l = ctx.crm->ReadFactLinks(kind, chunk);
      if (!l.ok()) throw CrmFailure(l.error(), "reading the links of deals, contacts and meetings");
      std::set<std::string> ids;
      for (const auto& [account, list] : *l) ids.insert(list.begin(), list.end());
      std::vector<std::string> want(ids.begin(), ids.end());
      if (!all_records) want = facts.Unknown(FactKindName(kind), want);
      // Records are read in full batches: what does not fill one waits for the next chunk's
      // (the last chunk reads the rest), so chunks of 1,000 companies cost no more record reads
      // than one read of all of them. The aggregates are computed after the last chunk.
      if (!carry[k].empty()) {
        std::set<std::string> both(carry[k].begin(), carry[k].end());
        both.insert(want.begin(), want.end());
        want.assign(both.begin(), both.end());
        carry[k].clear();
      }
      if (record_batch > 0 && i + kAccountChunk < accounts.size()) {
        const size_t full =
            want.size() / static_cast<size_t>(record_batch) * static_cast<size_t>(record_batch);
        carry[k].assign(want.begin() + static_cast<std::ptrdiff_t>(full), want.end());
        want.resize(full);
      }
      if (record_batch > 0) {
        ctx.counters.fact_record_reads +=
            (static_cast<int64_t>(want.size()) + record_batch - 1) / record_batch;
      }
      if (!want.empty()) {
        auto r = ctx.crm->ReadFactRecords(kind, want);
        if (!r.ok()) throw CrmFailure(r.error(), "reading deals, contacts and meetings");
        records.insert(records.end(), r->begin(), r->end());
      }
      links.emplace_back(kind, std::move(*l));
    }
    ctx.Checkpoint("facts.read");
    store::Store::Transaction tx(store);
    for (const auto& r : records) facts.UpsertRecord(RowOf(r));
    for (const auto& [kind, by_account] : links) {
      for (const auto& [account, ids] : by_account) {
        facts.ReplaceAccountLinks(FactKindName(kind), account, ids);
      }
    }
    for (const auto& a : chunk) facts.MarkDirty(a);
    tx.Commit();
    ctx.Checkpoint("facts.committed");
    ctx.counters.fact_link_reads += static_cast<int64_t>(chunk.size());
    ctx.Progress("pull", i + chunk.size(), accounts.size());
  }
}

}  // namespace

void RefreshFactsIncrementally(RunContext& ctx) {
  store::Store& store = *ctx.store;
  store::FactsStore facts(store);
  const EngineConfig& cfg = ctx.cfg;
  rules::CrmNeeds needs = ctx.rules->Needs(cfg.crm);
  for (const auto& n : needs.aggregates) {
    if (!KnownAggregate(n)) {
      throw OpError(StatusCode::kInvalidArgument,
                    "unknown aggregate '" + n +
                        "' in the rule file mapping; known: deals.won_amount_last_12m, "
                        "deals.won_amount_prev_12m, deals.open_amount, deals.open_count, "
                        "contacts.count, contacts.active_count, contacts.exec_sponsor, "
                        "meetings.days_since_last, meetings.count_last_90d");
    }
  }
  std::vector<FactKind> kinds;
  for (FactKind k : kFactKinds) {
    const std::string prefix = std::string(FactKindName(k)) + ".";
    if (std::any_of(needs.aggregates.begin(), needs.aggregates.end(),
                    [&](const std::string& n) { return n.rfind(prefix, 0) == 0; })) {
      kinds.push_back(k);
    }
  }
  std::vector<std::string> live;
  std::vector<std::string> unread;  // pulled this run (or left by a crashed run), not an echo
  store.ForEachAccount(
      [&](const store::AccountRow& r) {
        live.push_back(r.id);
        if (r.aggregates_json.empty()) unread.push_back(r.id);
      },
      false);

  // A full refresh: the first time, after a crash inside one, on a full pull, or when the last
  // one is older than facts_full_refresh_hours.
  bool full = ctx.counters.full_pull;
  for (FactKind k : kinds) {
    store::Cursor c = store.GetCursor(CursorName(k));
    const bool too_old = cfg.facts_full_refresh_hours > 0 &&
                         ctx.now_ms - c.last_full_pull_ms >=
                             static_cast<int64_t>(cfg.facts_full_refresh_hours) * 3'600'000;
    if (c.last_full_pull_ms == 0 || c.full_pull_in_progress || too_old) full = true;
  }
  ctx.counters.facts_full = full && !kinds.empty();

  if (kinds.empty()) {
    // Nothing to read: no aggregates.
  } else if (full) {
    {
      store::Store::Transaction tx(store);
      facts.Clear();
      for (FactKind k : kinds) {
        store::Cursor c = store.GetCursor(CursorName(k));
        c.full_pull_in_progress = true;
        store.SetCursor(CursorName(k), c);
      }
      tx.Commit();
    }
    ReadLinksOf(ctx, kinds, live, /*all_records=*/true);
    store::Store::Transaction tx(store);
    for (FactKind k : kinds) {
      store::Cursor c = store.GetCursor(CursorName(k));
      // Changes after the start of this run are pulled by the next one (with the overlap).
      c.ts_ms = ctx.now_ms;
      c.last_id.clear();
      c.last_full_pull_ms = ctx.now_ms;
      c.full_pull_in_progress = false;
      c.updated_ms = ctx.now_ms;
      store.SetCursor(CursorName(k), c);
    }
    tx.Commit();
  } else {
    // Companies that changed: their links again (a deal, contact or meeting may have been linked
    // or unlinked), and the records not stored yet — unless a link is the record's own field
    // (Salesforce), whose change the records' pull below sees: then only computed again.
    if (ctx.crm->LinksMoveRecords()) {
      store::Store::Transaction tx(store);
      for (const auto& a : unread) facts.MarkDirty(a);
      tx.Commit();
    } else {
      ReadLinksOf(ctx, kinds, unread, /*all_records=*/false);
    }
    // Records that changed: stored with the companies they are linked to now; the companies
    // they were linked to before and now are computed again.
    for (FactKind k : kinds) {
      store::Cursor cur = store.GetCursor(CursorName(k));
      PullCursor since;
      since.modified_ms = cur.ts_ms;
      since.id = cur.last_id;
      PullRequest req;
      req.overlap_ms = cfg.overlap_ms;
      req.started_at_ms = ctx.now_ms;
      req.until_ms = ctx.now_ms;  // a record dated later waits for the first run after its time
      auto on_page = [&](const FactPage& page) -> CrmStatus {
        if (ctx.host.IsCancelled()) {
          CrmError e;
          e.code = StatusCode::kCancelled;
          e.message = "cancelled by the host";
          e.stops_run = true;
          return e;
        }
        ctx.Checkpoint("facts.page");
        store::Store::Transaction tx(store);
        for (const auto& r : page.records) {
          facts.UpsertRecord(RowOf(r));
          auto it = page.accounts.find(r.id);
          static const std::vector<std::string> kNone;
          const auto& now_linked = it == page.accounts.end() ? kNone : it->second;
          for (const auto& a : facts.ReplaceRecordLinks(FactKindName(k), r.id, now_linked)) {
            facts.MarkDirty(a);
          }
          for (const auto& a : now_linked) facts.MarkDirty(a);
        }
        store::Cursor next = store.GetCursor(CursorName(k));
        // Never past the run's start: a record dated in the future (a clock off on the CRM's
        // side, or a test's seed) would otherwise move the cursor past every real change to
        // come. Such a record is read again by each run until its time has passed.
        const int64_t reached = std::min(page.cursor.modified_ms, ctx.now_ms);
        if (reached > next.ts_ms) {
          next.ts_ms = reached;
          next.last_id = reached == page.cursor.modified_ms ? page.cursor.id : std::string();
        }
        next.updated_ms = ctx.now_ms;
        store.SetCursor(CursorName(k), next);
        tx.Commit();
        ctx.Checkpoint("facts.committed");
        ctx.counters.fact_pages++;
        ctx.counters.fact_records += static_cast<int64_t>(page.records.size());
        ctx.counters.fact_records_by_kind[std::string(FactKindName(k))] +=
            static_cast<int64_t>(page.records.size());
        return {};
      };
      ctx.counters.fact_records_by_kind.try_emplace(std::string(FactKindName(k)), 0);  // searched
      auto r = ctx.crm->PullChangedFacts(k, since, req, on_page);
      if (!r.ok()) {
        if (r.error().code == StatusCode::kCancelled) ctx.CheckCancelled("the facts pull");
        throw CrmFailure(r.error(), "pulling changed " + std::string(FactKindName(k)));
      }
    }
  }

  // Compute: the dirty accounts, or every account when the day (the windows) moved or after a
  // full refresh. Accounts without any linked record get zeros.
  const std::optional<std::string> last_eval = store.GetMeta(kEvalNowMeta);
  const bool all =
      full || kinds.empty() || !last_eval || *last_eval != std::to_string(ctx.eval_now_ms);
  std::vector<std::string> targets = all ? live : facts.Dirty();
  std::unordered_map<std::string, store::FactTotals> totals;
  if (!kinds.empty()) {
    facts.ForEachTotals(ctx.eval_now_ms, !all,
                        [&](const std::string& id, const store::FactTotals& t) { totals[id] = t; });
  }
  store::Store::Transaction tx(store);
  int64_t changed = 0;
  for (const auto& id : targets) {
    auto row = store.GetAccount(id);
    if (!row || row->archived) continue;
    auto it = totals.find(id);
    const std::string agg =
        AggregatesJson(needs.aggregates, it == totals.end() ? store::FactTotals{} : it->second,
                       ctx.eval_now_ms)
            .dump();
    if (row->aggregates_json == agg) continue;
    row->aggregates_json = agg;
    store.UpsertAccount(*row);
    ++changed;
  }
  facts.ClearDirty();
  store.SetMeta(kEvalNowMeta, std::to_string(ctx.eval_now_ms));
  tx.Commit();
  ctx.counters.facts_refreshed += changed;
}

}  // namespace kam::engine
