// The incremental-facts tables of the state file (migration 3): records, links, dirty marks,
// echoes; the totals are one grouped query over links and records.
#include "kam/store/facts_store.h"

#include "store_impl.h"

namespace kam::store {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kYear = 365 * kDay;
constexpr int64_t kActive = 90 * kDay;

}  // namespace

void FactsStore::UpsertRecord(const FactRecordRow& r) {
  Store::Impl& im = *store_.impl_;
  Guard("saving a fact record", im.path, [&] {
    auto& s = im.Q(
        "INSERT INTO fact_records(kind, id, modified_ms, amount, at_ms, won, closed, executive) "
        "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(kind, id) DO UPDATE SET "
        "modified_ms=excluded.modified_ms, amount=excluded.amount, at_ms=excluded.at_ms, "
        "won=excluded.won, closed=excluded.closed, executive=excluded.executive");
    Bind(s, 1, r.kind);
    Bind(s, 2, r.id);
    s.bind(3, static_cast<int64_t>(r.modified_ms));
    s.bind(4, r.amount);
    if (r.at_ms) {
      s.bind(5, static_cast<int64_t>(*r.at_ms));
    } else {
      s.bind(5);  // NULL
    }
    s.bind(6, r.won ? 1 : 0);
    s.bind(7, r.closed ? 1 : 0);
    s.bind(8, r.executive ? 1 : 0);
    s.exec();
    return 0;
  });
}

std::vector<std::string> FactsStore::Unknown(std::string_view kind,
                                             const std::vector<std::string>& ids) {
  Store::Impl& im = *store_.impl_;
  return Guard("looking up fact records", im.path, [&] {
    std::vector<std::string> out;
    auto& s = im.Q("SELECT 1 FROM fact_records WHERE kind=? AND id=?");
    for (const auto& id : ids) {
      s.reset();
      s.clearBindings();
      Bind(s, 1, kind);
      Bind(s, 2, id);
      if (!s.executeStep()) out.push_back(id);
    }
    return out;
  });
}

std::vector<std::string> FactsStore::ReplaceRecordLinks(
    std::string_view kind, std::string_view record_id,
    const std::vector<std::string>& account_ids) {
  Store::Impl& im = *store_.impl_;
  return Guard("saving a fact record's links", im.path, [&] {
    std::vector<std::string> before;
    {
      auto& s = im.Q("SELECT account_id FROM fact_links WHERE kind=? AND record_id=?");
      Bind(s, 1, kind);
      Bind(s, 2, record_id);
      while (s.executeStep()) before.push_back(s.getColumn(0).getString());
    }
    {
      auto& s = im.Q("DELETE FROM fact_links WHERE kind=? AND record_id=?");
      Bind(s, 1, kind);
      Bind(s, 2, record_id);
      s.exec();
    }
    auto& s = im.Q("INSERT OR IGNORE INTO fact_links(kind, account_id, record_id) VALUES(?,?,?)");
    for (const auto& a : account_ids) {
      s.reset();
      s.clearBindings();
      Bind(s, 1, kind);
      Bind(s, 2, a);
      Bind(s, 3, record_id);
      s.exec();
    }
    return before;
  });
}

void FactsStore::ReplaceAccountLinks(std::string_view kind, std::string_view account_id,
                                     const std::vector<std::string>& record_ids) {
  Store::Impl& im = *store_.impl_;
  Guard("saving an account's fact links", im.path, [&] {
    {
      auto& s = im.Q("DELETE FROM fact_links WHERE kind=? AND account_id=?");
      Bind(s, 1, kind);
      Bind(s, 2, account_id);
      s.exec();
    }
    auto& s = im.Q("INSERT OR IGNORE INTO fact_links(kind, account_id, record_id) VALUES(?,?,?)");
    for (const auto& r : record_ids) {
      s.reset();
      s.clearBindings();
      Bind(s, 1, kind);
      Bind(s, 2, account_id);
      Bind(s, 3, r);
      s.exec();
    }
    return 0;
  });
}

void FactsStore::Clear() {
  Store::Impl& im = *store_.impl_;
  Guard("clearing the fact records", im.path, [&] {
    im.Q("DELETE FROM fact_links").exec();
    im.Q("DELETE FROM fact_records").exec();
    return 0;
  });
}

void FactsStore::MarkDirty(std::string_view account_id) {
  Store::Impl& im = *store_.impl_;
  Guard("marking facts to compute", im.path, [&] {
    auto& s = im.Q("INSERT OR IGNORE INTO fact_dirty(account_id) VALUES(?)");
    Bind(s, 1, account_id);
    s.exec();
    return 0;
  });
}

std::vector<std::string> FactsStore::Dirty() {
  Store::Impl& im = *store_.impl_;
  return Guard("reading the facts to compute", im.path, [&] {
    std::vector<std::string> out;
    auto& s = im.Q("SELECT account_id FROM fact_dirty ORDER BY account_id");
    while (s.executeStep()) out.push_back(s.getColumn(0).getString());
    return out;
  });
}

void FactsStore::ClearDirty() {
  Store::Impl& im = *store_.impl_;
  Guard("clearing the facts to compute", im.path, [&] {
    im.Q("DELETE FROM fact_dirty").exec();
    return 0;
  });
}

void FactsStore::ForEachTotals(
    int64_t now_ms, bool only_dirty,
    const std::function<void(const std::string&, const FactTotals&)>& fn) {
  Store::Impl& im = *store_.impl_;
  Guard("computing the facts", im.path, [&] {
    // ?1 now, ?2 a year, ?3 90 days. A close date, activity or meeting time may be NULL.
    static constexpr const char* kSelect =
        "SELECT l.account_id,"
        " SUM(CASE WHEN r.kind='deals' AND r.won=1 AND r.at_ms<=?1 AND r.at_ms>?1-?2"
        "     THEN r.amount ELSE 0 END),"
        " SUM(CASE WHEN r.kind='deals' AND r.won=1 AND r.at_ms<=?1-?2 AND r.at_ms>?1-2*?2"
        "     THEN r.amount ELSE 0 END),"
        " SUM(CASE WHEN r.kind='deals' AND r.closed=0 THEN r.amount ELSE 0 END),"
        " SUM(CASE WHEN r.kind='deals' AND r.closed=0 THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN r.kind='contacts' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN r.kind='contacts' AND r.at_ms>=?1-?3 THEN 1 ELSE 0 END),"
        " MAX(CASE WHEN r.kind='contacts' THEN r.executive ELSE 0 END),"
        " MAX(CASE WHEN r.kind='meetings' AND r.at_ms<=?1 THEN r.at_ms END),"
        " SUM(CASE WHEN r.kind='meetings' AND r.at_ms<=?1 AND r.at_ms>=?1-?3 THEN 1 ELSE 0 END)"
        " FROM fact_links l JOIN fact_records r ON r.kind=l.kind AND r.id=l.record_id";
    std::string sql = kSelect;
    if (only_dirty) sql += " WHERE l.account_id IN (SELECT account_id FROM fact_dirty)";
    sql += " GROUP BY l.account_id ORDER BY l.account_id";
    auto& s = im.Q(sql);
    s.bind(1, static_cast<int64_t>(now_ms));
    s.bind(2, static_cast<int64_t>(kYear));
    s.bind(3, static_cast<int64_t>(kActive));
    while (s.executeStep()) {
      FactTotals t;
      t.won_last_12m = s.getColumn(1).getDouble();
      t.won_prev_12m = s.getColumn(2).getDouble();
      t.open_amount = s.getColumn(3).getDouble();
      t.open_count = s.getColumn(4).getInt64();
      t.contacts = s.getColumn(5).getInt64();
      t.active_contacts = s.getColumn(6).getInt64();
      t.exec_sponsor = s.getColumn(7).getInt64() != 0;
      if (!s.getColumn(8).isNull()) t.last_meeting_ms = s.getColumn(8).getInt64();
      t.meetings_last_90d = s.getColumn(9).getInt64();
      fn(s.getColumn(0).getString(), t);
    }
    return 0;
  });
}

void FactsStore::SetEcho(std::string_view account_id, int64_t modified_ms) {
  Store::Impl& im = *store_.impl_;
  Guard("saving an echo", im.path, [&] {
    auto& s = im.Q(
        "INSERT INTO echoes(account_id, modified_ms) VALUES(?,?) ON CONFLICT(account_id) "
        "DO UPDATE SET modified_ms=excluded.modified_ms");
    Bind(s, 1, account_id);
    s.bind(2, static_cast<int64_t>(modified_ms));
    s.exec();
    return 0;
  });
}

std::optional<int64_t> FactsStore::Echo(std::string_view account_id) {
  Store::Impl& im = *store_.impl_;
  return Guard("reading an echo", im.path, [&]() -> std::optional<int64_t> {
    auto& s = im.Q("SELECT modified_ms FROM echoes WHERE account_id=?");
    Bind(s, 1, account_id);
    if (s.executeStep()) return s.getColumn(0).getInt64();
    return std::nullopt;
  });
}

int64_t FactsStore::CountRecords(std::string_view kind) {
  Store::Impl& im = *store_.impl_;
  return Guard("counting fact records", im.path, [&] {
    auto& s = im.Q("SELECT count(*) FROM fact_records WHERE kind=?");
    Bind(s, 1, kind);
    s.executeStep();
    return s.getColumn(0).getInt64();
  });
}

int64_t FactsStore::CountLinks(std::string_view kind) {
  Store::Impl& im = *store_.impl_;
  return Guard("counting fact links", im.path, [&] {
    auto& s = im.Q("SELECT count(*) FROM fact_links WHERE kind=?");
    Bind(s, 1, kind);
    s.executeStep();
    return s.getColumn(0).getInt64();
  });
}

}  // namespace kam::store
