// The SQLite state store: migrations, the exclusive lock, and one prepared statement per query.
#include "kam/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "file_modes.h"
#include "store_impl.h"

namespace kam::store {
namespace {

// Migration n (1-based) brings the schema from version n-1 to n. Never edit a released one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts(
  id TEXT PRIMARY KEY, owner_id TEXT NOT NULL DEFAULT '',
  properties TEXT NOT NULL, aggregates TEXT NOT NULL, mapped TEXT NOT NULL,
  modified_ms INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE cursors(
  name TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, last_id TEXT NOT NULL,
  last_full_pull_ms INTEGER NOT NULL, full_pull_after TEXT NOT NULL,
  full_pull_in_progress INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE results(
  account_id TEXT PRIMARY KEY, scores TEXT NOT NULL, score REAL NOT NULL, tier TEXT NOT NULL,
  health TEXT NOT NULL, receipt TEXT NOT NULL, rules_hash TEXT NOT NULL,
  capped_reason TEXT NOT NULL, owner_id TEXT NOT NULL, revenue REAL NOT NULL,
  evaluated_ms INTEGER NOT NULL);
CREATE TABLE written(
  account_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, crm_value TEXT NOT NULL,
  written_ms INTEGER NOT NULL, PRIMARY KEY(account_id, field));
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, kind TEXT NOT NULL,
  idem_key TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL, payload TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX outbox_state ON outbox(state, kind, id);
CREATE TABLE tasks(
  task_key TEXT PRIMARY KEY, account_id TEXT NOT NULL, rule_id TEXT NOT NULL,
  crm_task_id TEXT NOT NULL, state TEXT NOT NULL, created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, owner_id TEXT NOT NULL DEFAULT '',
  auto_close INTEGER NOT NULL DEFAULT 0);
CREATE INDEX tasks_account ON tasks(account_id);
CREATE INDEX tasks_state ON tasks(state);
CREATE TABLE score_history(
  account_id TEXT NOT NULL, run_id INTEGER NOT NULL, score REAL NOT NULL, tier TEXT NOT NULL,
  at_ms INTEGER NOT NULL, PRIMARY KEY(account_id, run_id));
CREATE TABLE audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, at_ms INTEGER NOT NULL,
  action TEXT NOT NULL, account_id TEXT NOT NULL, target TEXT NOT NULL, old_value TEXT NOT NULL,
  new_value TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_run ON audit(run_id);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, started_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL, counters TEXT NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT '');
)sql",
    // 2: when a company was archived or deleted (for retention, Store::Prune). Set by triggers,
    // so that every way of archiving (SetArchived, an upsert) records it; existing archived rows
    // start their retention now.
    R"sql(
ALTER TABLE accounts ADD COLUMN archived_ms INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET archived_ms = CAST(strftime('%s','now') AS INTEGER) * 1000 WHERE archived=1;
CREATE TRIGGER accounts_archived AFTER UPDATE OF archived ON accounts
  WHEN NEW.archived=1 AND OLD.archived=0
  BEGIN UPDATE accounts SET archived_ms = CAST(strftime('%s','now') AS INTEGER) * 1000
        WHERE id=NEW.id; END;
CREATE TRIGGER accounts_restored AFTER UPDATE OF archived ON accounts
  WHEN NEW.archived=0 AND OLD.archived=1
  BEGIN UPDATE accounts SET archived_ms = 0 WHERE id=NEW.id; END;
CREATE TRIGGER accounts_inserted_archived AFTER INSERT ON accounts WHEN NEW.archived=1
  BEGIN UPDATE accounts SET archived_ms = CAST(strftime('%s','now') AS INTEGER) * 1000
        WHERE id=NEW.id; END;
CREATE INDEX accounts_archived_ms ON accounts(archived_ms) WHERE archived=1;
CREATE INDEX audit_at ON audit(at_ms);
)sql",
    // 3: incremental facts (facts_store.h): the deals, contacts and meetings the aggregates are
    // computed from, their links to companies, the companies whose aggregates need computing,
    // and the modification time of the add-in's own last write per company (its echo).
    R"sql(
CREATE TABLE fact_records(
  kind TEXT NOT NULL, id TEXT NOT NULL, modified_ms INTEGER NOT NULL,
  amount REAL NOT NULL DEFAULT 0, at_ms INTEGER, won INTEGER NOT NULL DEFAULT 0,
  closed INTEGER NOT NULL DEFAULT 0, executive INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(kind, id));
CREATE TABLE fact_links(
  kind TEXT NOT NULL, account_id TEXT NOT NULL, record_id TEXT NOT NULL,
  PRIMARY KEY(kind, account_id, record_id));
CREATE INDEX fact_links_record ON fact_links(kind, record_id);
CREATE TABLE fact_dirty(account_id TEXT PRIMARY KEY);
CREATE TABLE echoes(account_id TEXT PRIMARY KEY, modified_ms INTEGER NOT NULL);
)sql",
    // 4: a full pull resumes after a crash. The cursor keeps when the interrupted full pull
    // started (the incremental cursor it ends with), and pull_seen the ids its committed pages
    // delivered (a resumed pull must not take them for deleted companies); both are cleared
    // when the full pull finishes.
    R"sql(
ALTER TABLE cursors ADD COLUMN full_pull_started_ms INTEGER NOT NULL DEFAULT 0;
CREATE TABLE pull_seen(
  cursor TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(cursor, id)) WITHOUT ROWID;
)sql",
    // 5: goal attainment per history row (goal id -> met / not_met / unknown, JSON), so that
    // the report and the card can show a goal trend. Rows written before it have '' (unknown).
    R"sql(
ALTER TABLE score_history ADD COLUMN goals TEXT NOT NULL DEFAULT '';
)sql",
};

OutboxState ParseState(const std::string& s) {
  if (s == "acked") return OutboxState::kAcked;
  if (s == "error") return OutboxState::kError;
  return OutboxState::kPending;
}

}  // namespace

std::string_view OutboxStateName(OutboxState state) {
  switch (state) {
    case OutboxState::kPending:
      return "pending";
    case OutboxState::kAcked:
      return "acked";
    case OutboxState::kError:
      return "error";
  }
  return "pending";
}

namespace {

AccountRow ReadAccount(SQLite::Statement& s) {
  AccountRow r;
  r.id = s.getColumn(0).getString();
  r.owner_id = s.getColumn(1).getString();
  r.properties_json = s.getColumn(2).getString();
  r.aggregates_json = s.getColumn(3).getString();
  r.mapped_json = s.getColumn(4).getString();
  r.modified_ms = s.getColumn(5).getInt64();
  r.archived = s.getColumn(6).getInt() != 0;
  return r;
}

ResultRow ReadResult(SQLite::Statement& s) {
  ResultRow r;
  r.account_id = s.getColumn(0).getString();
  r.scores_json = s.getColumn(1).getString();
  r.score = s.getColumn(2).getDouble();
  r.tier = s.getColumn(3).getString();
  r.health_json = s.getColumn(4).getString();
  r.receipt_json = s.getColumn(5).getString();
  r.rules_hash = s.getColumn(6).getString();
  r.capped_reason = s.getColumn(7).getString();
  r.owner_id = s.getColumn(8).getString();
  r.revenue = s.getColumn(9).getDouble();
  r.evaluated_ms = s.getColumn(10).getInt64();
  return r;
}

OutboxEntry ReadOutbox(SQLite::Statement& s) {
  OutboxEntry e;
  e.id = s.getColumn(0).getInt64();
  e.run_id = s.getColumn(1).getInt64();
  e.kind = s.getColumn(2).getString();
  e.idem_key = s.getColumn(3).getString();
  e.account_id = s.getColumn(4).getString();
  e.payload_json = s.getColumn(5).getString();
  e.state = ParseState(s.getColumn(6).getString());
  e.attempts = s.getColumn(7).getInt();
  e.last_error = s.getColumn(8).getString();
  return e;
}

TaskRow ReadTask(SQLite::Statement& s) {
  TaskRow t;
  t.task_key = s.getColumn(0).getString();
  t.account_id = s.getColumn(1).getString();
  t.rule_id = s.getColumn(2).getString();
  t.crm_task_id = s.getColumn(3).getString();
  t.state = s.getColumn(4).getString();
  t.created_ms = s.getColumn(5).getInt64();
  t.updated_ms = s.getColumn(6).getInt64();
  t.owner_id = s.getColumn(7).getString();
  t.auto_close = s.getColumn(8).getInt() != 0;
  return t;
}

HistoryRow ReadHistory(SQLite::Statement& s) {
  return HistoryRow{s.getColumn(0).getString(), s.getColumn(1).getInt64(),
                    s.getColumn(2).getDouble(), s.getColumn(3).getString(),
                    s.getColumn(4).getInt64(),  s.getColumn(5).getString()};
}

constexpr const char* kAccountCols =
    "id, owner_id, properties, aggregates, mapped, modified_ms, archived";
constexpr const char* kResultCols =
    "account_id, scores, score, tier, health, receipt, rules_hash, capped_reason, owner_id, "
    "revenue, evaluated_ms";
constexpr const char* kOutboxCols =
    "id, run_id, kind, idem_key, account_id, payload, state, attempts, last_error";
constexpr const char* kTaskCols =
    "task_key, account_id, rule_id, crm_task_id, state, created_ms, updated_ms, owner_id, "
    "auto_close";

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const { return impl_->path; }

std::unique_ptr<Store> Store::Open(const std::string& path, StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = std::move(options);
  if (path != ":memory:") {
    std::string lock_path = path + ".lock";
    EnsureStateDirectory(path);
    impl->lock_fd = OpenPrivateFile(lock_path);
    if (impl->lock_fd < 0) {
      throw StoreError("cannot open the lock file " + lock_path + ": " + std::strerror(errno) +
                       " (check that the state directory exists and is writable)");
    }
    if (flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      if (err == EWOULDBLOCK) {
        throw StoreLockedError("the state file " + path +
                               " is in use by another kam process (lock " + lock_path +
                               "); wait for it to finish or stop it, then retry");
      }
      throw StoreError("cannot lock " + lock_path + ": " + std::strerror(err));
    }
  }
  if (path != ":memory:") CreatePrivateStateFiles(path);
  Guard("opening", path, [&] {
    impl->db = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX);
    impl->db->setBusyTimeout(5000);
    if (path != ":memory:") impl->db->exec("PRAGMA journal_mode=WAL");
    impl->db->exec("PRAGMA synchronous=NORMAL");
    impl->db->exec("PRAGMA foreign_keys=ON");
    int version = impl->db->execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion) {
      throw StoreError("state store " + path + " has schema version " + std::to_string(version) +
                       ", newer than this build understands (" + std::to_string(kSchemaVersion) +
                       "); use a newer kam or another state file");
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      SQLite::Transaction tx(*impl->db);
      impl->db->exec(kMigrations[v]);
      impl->db->exec("PRAGMA user_version=" + std::to_string(v + 1));
      tx.commit();
    }
    return 0;
  });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

int Store::SchemaVersion() {
  return Guard("reading the schema version", impl_->path,
               [&] { return impl_->db->execAndGet("PRAGMA user_version").getInt(); });
}

Store::Transaction::Transaction(Store& store) : store_(store) {
  Guard("beginning a transaction", store_.impl_->path, [&] {
    if (store_.impl_->tx) throw StoreError("nested transactions are not supported");
    store_.impl_->tx = std::make_unique<SQLite::Transaction>(*store_.impl_->db);
    return 0;
  });
}

Store::Transaction::~Transaction() {
  if (!done_) store_.impl_->tx.reset();  // SQLite::Transaction rolls back
}

void Store::Transaction::Commit() {
  Guard("committing", store_.impl_->path, [&] {
    store_.impl_->ResetStatements();  // so that the checkpoint after the commit can run
    store_.impl_->tx->commit();
    store_.impl_->tx.reset();
    done_ = true;
    return 0;
  });
}

void Store::UpsertAccount(const AccountRow& r) {
  Guard("saving account", impl_->path, [&] {
    auto& s = impl_->Q(
        "INSERT INTO accounts(id, owner_id, properties, aggregates, mapped, modified_ms, archived) "
        "VALUES(?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET owner_id=excluded.owner_id, "
        "properties=excluded.properties, aggregates=excluded.aggregates, mapped=excluded.mapped, "
        "modified_ms=excluded.modified_ms, archived=excluded.archived");
    Bind(s, 1, r.id);
    Bind(s, 2, r.owner_id);
    Bind(s, 3, r.properties_json);
    Bind(s, 4, r.aggregates_json);
    Bind(s, 5, r.mapped_json);
    s.bind(6, static_cast<int64_t>(r.modified_ms));
    s.bind(7, r.archived ? 1 : 0);
    s.exec();
    return 0;
  });
}

std::optional<AccountRow> Store::GetAccount(std::string_view id) {
  return Guard("reading account", impl_->path, [&]() -> std::optional<AccountRow> {
    auto& s = impl_->Q(std::string("SELECT ") + kAccountCols + " FROM accounts WHERE id=?");
    Bind(s, 1, id);
    if (!s.executeStep()) return std::nullopt;
    return ReadAccount(s);
  });
}

void Store::MergeAccountProperties(std::string_view id, std::string_view patch_json) {
  Guard("saving account properties", impl_->path, [&] {
    auto& s = impl_->Q(
        "UPDATE accounts SET properties = json_patch(CASE WHEN json_valid(properties) AND "
        "json_type(properties) = 'object' THEN properties ELSE '{}' END, ?) WHERE id=?");
    Bind(s, 1, patch_json);
    Bind(s, 2, id);
    s.exec();
    return 0;
  });
}

void Store::SetArchived(std::string_view id, bool archived) {
  Guard("archiving account", impl_->path, [&] {
    auto& s = impl_->Q("UPDATE accounts SET archived=? WHERE id=?");
    s.bind(1, archived ? 1 : 0);
    Bind(s, 2, id);
    s.exec();
    return 0;
  });
}

void Store::ForEachAccount(const std::function<void(const AccountRow&)>& fn,
                           bool include_archived) {
  Guard("listing accounts", impl_->path, [&] {
    // A dedicated statement: fn may call back into the store.
    SQLite::Statement s(*impl_->db, std::string("SELECT ") + kAccountCols + " FROM accounts" +
                                        (include_archived ? "" : " WHERE archived=0") +
                                        " ORDER BY id");
    while (s.executeStep()) fn(ReadAccount(s));
    return 0;
  });
}

std::vector<AccountRow> Store::AccountsAfter(std::string_view after_id, size_t limit,
                                             bool include_archived) {
  return Guard("listing accounts", impl_->path, [&] {
    auto& s = impl_->Q(std::string("SELECT ") + kAccountCols + " FROM accounts WHERE id>?" +
                       (include_archived ? "" : " AND archived=0") + " ORDER BY id LIMIT ?");
    Bind(s, 1, after_id);
    s.bind(2, static_cast<int64_t>(limit));
    std::vector<AccountRow> out;
    while (s.executeStep()) out.push_back(ReadAccount(s));
    return out;
  });
}

int64_t Store::CountAccounts(bool include_archived) {
  return Guard("counting accounts", impl_->path, [&] {
    auto& s = impl_->Q(include_archived ? "SELECT COUNT(*) FROM accounts"
                                        : "SELECT COUNT(*) FROM accounts WHERE archived=0");
    s.executeStep();
    return s.getColumn(0).getInt64();
  });
}

Cursor Store::GetCursor(std::string_view name) {
  return Guard("reading cursor", impl_->path, [&] {
    auto& s = impl_->Q(
        "SELECT ts_ms, last_id, last_full_pull_ms, full_pull_after, full_pull_in_progress, "
        "updated_ms, full_pull_started_ms FROM cursors WHERE name=?");
    Bind(s, 1, name);
    Cursor c;
    if (s.executeStep()) {
      c.ts_ms = s.getColumn(0).getInt64();
      c.last_id = s.getColumn(1).getString();
      c.last_full_pull_ms = s.getColumn(2).getInt64();
      c.full_pull_after = s.getColumn(3).getString();
      c.full_pull_in_progress = s.getColumn(4).getInt() != 0;
      c.updated_ms = s.getColumn(5).getInt64();
      c.full_pull_started_ms = s.getColumn(6).getInt64();
    }
    return c;
  });
}

void Store::SetCursor(std::string_view name, const Cursor& c) {
  Guard("moving cursor", impl_->path, [&] {
    auto& s = impl_->Q(
        "INSERT OR REPLACE INTO cursors(name, ts_ms, last_id, last_full_pull_ms, "
        "full_pull_after, full_pull_in_progress, updated_ms, full_pull_started_ms) "
        "VALUES(?,?,?,?,?,?,?,?)");
    Bind(s, 1, name);
    s.bind(2, static_cast<int64_t>(c.ts_ms));
    Bind(s, 3, c.last_id);
    s.bind(4, static_cast<int64_t>(c.last_full_pull_ms));
    Bind(s, 5, c.full_pull_after);
    s.bind(6, c.full_pull_in_progress ? 1 : 0);
    s.bind(7, static_cast<int64_t>(c.updated_ms));
    s.bind(8, static_cast<int64_t>(c.full_pull_started_ms));
    s.exec();
    return 0;
  });
}

void Store::AddPulled(std::string_view cursor, std::string_view id) {
  Guard("recording a pulled id", impl_->path, [&] {
    auto& s = impl_->Q("INSERT OR IGNORE INTO pull_seen(cursor, id) VALUES(?,?)");
    Bind(s, 1, cursor);
    Bind(s, 2, id);
    s.exec();
    return 0;
  });
}

std::vector<std::string> Store::PulledIds(std::string_view cursor) {
  return Guard("reading pulled ids", impl_->path, [&] {
    auto& s = impl_->Q("SELECT id FROM pull_seen WHERE cursor=? ORDER BY id");
    Bind(s, 1, cursor);
    std::vector<std::string> out;
    while (s.executeStep()) out.push_back(s.getColumn(0).getString());
    return out;
  });
}

void Store::ClearPulled(std::string_view cursor) {
  Guard("clearing pulled ids", impl_->path, [&] {
    auto& s = impl_->Q("DELETE FROM pull_seen WHERE cursor=?");
    Bind(s, 1, cursor);
    s.exec();
    return 0;
  });
}

void Store::UpsertResult(const ResultRow& r) {
  Guard("saving result", impl_->path, [&] {
    auto& s = impl_->Q(std::string("INSERT OR REPLACE INTO results(") + kResultCols +
                       ") VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    Bind(s, 1, r.account_id);
    Bind(s, 2, r.scores_json);
    s.bind(3, r.score);
    Bind(s, 4, r.tier);
    Bind(s, 5, r.health_json);
    Bind(s, 6, r.receipt_json);
    Bind(s, 7, r.rules_hash);
    Bind(s, 8, r.capped_reason);
    Bind(s, 9, r.owner_id);
    s.bind(10, r.revenue);
    s.bind(11, static_cast<int64_t>(r.evaluated_ms));
    s.exec();
    return 0;
  });
}

std::optional<ResultRow> Store::GetResult(std::string_view account_id) {
  return Guard("reading result", impl_->path, [&]() -> std::optional<ResultRow> {
    auto& s = impl_->Q(std::string("SELECT ") + kResultCols + " FROM results WHERE account_id=?");
    Bind(s, 1, account_id);
    if (!s.executeStep()) return std::nullopt;
    return ReadResult(s);
  });
}

void Store::DeleteResult(std::string_view account_id) {
  Guard("deleting result", impl_->path, [&] {
    auto& s = impl_->Q("DELETE FROM results WHERE account_id=?");
    Bind(s, 1, account_id);
    s.exec();
    return 0;
  });
}

void Store::ForEachResult(const std::function<void(const ResultRow&)>& fn) {
  Guard("listing results", impl_->path, [&] {
    SQLite::Statement s(*impl_->db,
                        std::string("SELECT ") + kResultCols + " FROM results ORDER BY account_id");
    while (s.executeStep()) fn(ReadResult(s));
    return 0;
  });
}

void Store::ForEachResultIn(std::string_view first, std::string_view last,
                            const std::function<void(const ResultRow&)>& fn) {
  Guard("listing results", impl_->path, [&] {
    SQLite::Statement s(*impl_->db, std::string("SELECT ") + kResultCols +
                                        " FROM results WHERE account_id BETWEEN ? AND ? ORDER BY "
                                        "account_id");
    s.bind(1, std::string(first));
    s.bind(2, std::string(last));
    while (s.executeStep()) fn(ReadResult(s));
    return 0;
  });
}

std::vector<std::string> Store::ResultsOfGoneAccounts() {
  return Guard("listing results", impl_->path, [&] {
    auto& s = impl_->Q(
        "SELECT account_id FROM results WHERE account_id NOT IN (SELECT id FROM accounts WHERE "
        "archived=0) ORDER BY account_id");
    std::vector<std::string> out;
    while (s.executeStep()) out.push_back(s.getColumn(0).getString());
    return out;
  });
}

std::optional<WrittenValue> Store::GetWritten(std::string_view account_id, std::string_view field) {
  return Guard("reading written value", impl_->path, [&]() -> std::optional<WrittenValue> {
    auto& s =
        impl_->Q("SELECT value, crm_value, written_ms FROM written WHERE account_id=? AND field=?");
    Bind(s, 1, account_id);
    Bind(s, 2, field);
    if (!s.executeStep()) return std::nullopt;
    return WrittenValue{s.getColumn(0).getString(), s.getColumn(1).getString(),
                        s.getColumn(2).getInt64()};
  });
}

void Store::SetWritten(std::string_view account_id, std::string_view field, const WrittenValue& v) {
  Guard("saving written value", impl_->path, [&] {
    auto& s = impl_->Q(
        "INSERT OR REPLACE INTO written(account_id, field, value, crm_value, written_ms) "
        "VALUES(?,?,?,?,?)");
    Bind(s, 1, account_id);
    Bind(s, 2, field);
    Bind(s, 3, v.value);
    Bind(s, 4, v.crm_value);
    s.bind(5, static_cast<int64_t>(v.written_ms));
    s.exec();
    return 0;
  });
}

std::vector<std::pair<std::string, WrittenValue>> Store::WrittenFor(std::string_view account_id) {
  return Guard("reading written values", impl_->path, [&] {
    auto& s = impl_->Q(
        "SELECT field, value, crm_value, written_ms FROM written WHERE account_id=? ORDER BY "
        "field");
    Bind(s, 1, account_id);
    std::vector<std::pair<std::string, WrittenValue>> out;
    while (s.executeStep()) {
      out.emplace_back(s.getColumn(0).getString(),
                       WrittenValue{s.getColumn(1).getString(), s.getColumn(2).getString(),
                                    s.getColumn(3).getInt64()});
    }
    return out;
  });
}

void Store::ForEachWritten(
    const std::function<void(const std::string&, const std::string&, const WrittenValue&)>& fn) {
  Guard("listing written values", impl_->path, [&] {
    SQLite::Statement s(*impl_->db,
                        "SELECT account_id, field, value, crm_value, written_ms FROM written "
                        "ORDER BY account_id, field");
    while (s.executeStep()) {
      fn(s.getColumn(0).getString(), s.getColumn(1).getString(),
         WrittenValue{s.getColumn(2).getString(), s.getColumn(3).getString(),
                      s.getColumn(4).getInt64()});
    }
    return 0;
  });
}

void Store::ForEachWrittenIn(
    std::string_view first, std::string_view last,
    const std::function<void(const std::string&, const std::string&, const WrittenValue&)>& fn) {
  Guard("listing written values", impl_->path, [&] {
    SQLite::Statement s(*impl_->db,
                        "SELECT account_id, field, value, crm_value, written_ms FROM written "
                        "WHERE account_id BETWEEN ? AND ? ORDER BY account_id, field");
    s.bind(1, std::string(first));
    s.bind(2, std::string(last));
    while (s.executeStep()) {
      fn(s.getColumn(0).getString(), s.getColumn(1).getString(),
         WrittenValue{s.getColumn(2).getString(), s.getColumn(3).getString(),
                      s.getColumn(4).getInt64()});
    }
    return 0;
  });
}

int64_t Store::MaxWrittenMs() {
  return Guard("reading written values", impl_->path, [&] {
    auto& s = impl_->Q("SELECT COALESCE(MAX(written_ms), 0) FROM written");
    s.executeStep();
    return s.getColumn(0).getInt64();
  });
}

bool Store::AddOutbox(const OutboxEntry& e) {
  return Guard("adding outbox entry", impl_->path, [&] {
    auto& s = impl_->Q(
        "INSERT OR IGNORE INTO outbox(run_id, kind, idem_key, account_id, payload, state, "
        "attempts, last_error) VALUES(?,?,?,?,?,?,?,?)");
    s.bind(1, static_cast<int64_t>(e.run_id));
    Bind(s, 2, e.kind);
    Bind(s, 3, e.idem_key);
    Bind(s, 4, e.account_id);
    Bind(s, 5, e.payload_json);
    Bind(s, 6, OutboxStateName(e.state));
    s.bind(7, e.attempts);
    Bind(s, 8, e.last_error);
    return s.exec() > 0;
  });
}

std::vector<OutboxEntry> Store::PendingOutbox(std::string_view kind, size_t limit) {
  return Guard("reading outbox", impl_->path, [&] {
    auto& s = impl_->Q(std::string("SELECT ") + kOutboxCols +
                       " FROM outbox WHERE state='pending' AND kind=? ORDER BY id LIMIT ?");
    Bind(s, 1, kind);
    s.bind(2, static_cast<int64_t>(limit));
    std::vector<OutboxEntry> out;
    while (s.executeStep()) out.push_back(ReadOutbox(s));
    return out;
  });
}

std::vector<OutboxEntry> Store::PendingOutboxAll() {
  return Guard("reading outbox", impl_->path, [&] {
    auto& s = impl_->Q(std::string("SELECT ") + kOutboxCols +
                       " FROM outbox WHERE state='pending' ORDER BY id");
    std::vector<OutboxEntry> out;
    while (s.executeStep()) out.push_back(ReadOutbox(s));
    return out;
  });
}

std::vector<OutboxEntry> Store::PendingOutboxAfter(std::string_view kind, int64_t after_id,
                                                   size_t limit) {
  return Guard("reading outbox", impl_->path, [&] {
    // Two statements rather than "(kind=?1 OR ?1='')": with the kind bound, the page is a range
    // of the outbox_state index (state, kind, id), not a scan of every pending entry.
    auto& s = kind.empty() ? impl_->Q(std::string("SELECT ") + kOutboxCols +
                                      " FROM outbox WHERE state='pending' AND id>?2 "
                                      "ORDER BY id LIMIT ?3")
                           : impl_->Q(std::string("SELECT ") + kOutboxCols +
                                      " FROM outbox WHERE state='pending' AND kind=?1 AND id>?2 "
                                      "ORDER BY id LIMIT ?3");
    if (!kind.empty()) Bind(s, 1, kind);
    s.bind(2, static_cast<int64_t>(after_id));
    s.bind(3, static_cast<int64_t>(limit));
    std::vector<OutboxEntry> out;
    while (s.executeStep()) out.push_back(ReadOutbox(s));
    return out;
  });
}

std::vector<std::string> Store::PendingOutboxKinds() {
  return Guard("reading outbox kinds", impl_->path, [&] {
    auto& s = impl_->Q("SELECT DISTINCT kind FROM outbox WHERE state='pending' ORDER BY kind");
    std::vector<std::string> out;
    while (s.executeStep()) out.push_back(s.getColumn(0).getString());
    return out;
  });
}

void Store::MarkOutbox(int64_t id, OutboxState state, std::string_view error) {
  Guard("updating outbox entry", impl_->path, [&] {
    auto& s = impl_->Q("UPDATE outbox SET state=?, last_error=? WHERE id=?");
    Bind(s, 1, OutboxStateName(state));
    Bind(s, 2, error);
    s.bind(3, static_cast<int64_t>(id));
    s.exec();
    return 0;
  });
}

void Store::BumpOutboxAttempts(int64_t id) {
  Guard("updating outbox attempts", impl_->path, [&] {
    auto& s = impl_->Q("UPDATE outbox SET attempts=attempts+1 WHERE id=?");
    s.bind(1, static_cast<int64_t>(id));
    s.exec();
    return 0;
  });
}

void Store::DeleteOutbox(int64_t id) {
  Guard("deleting outbox entry", impl_->path, [&] {
    auto& s = impl_->Q("DELETE FROM outbox WHERE id=? AND state='pending'");
    s.bind(1, static_cast<int64_t>(id));
    s.exec();
    return 0;
  });
}

int64_t Store::MaxOutboxId() {
  return Guard("reading the outbox", impl_->path, [&] {
    auto& s = impl_->Q("SELECT COALESCE(MAX(id), 0) FROM outbox");
    s.executeStep();
    const int64_t id = s.getColumn(0).getInt64();
    s.reset();
    return id;
  });
}

int64_t Store::CountOutbox(OutboxState state) {
  return Guard("counting outbox", impl_->path, [&] {
    auto& s = impl_->Q("SELECT COUNT(*) FROM outbox WHERE state=?");
    Bind(s, 1, OutboxStateName(state));
    s.executeStep();
    return s.getColumn(0).getInt64();
  });
}

void Store::UpsertTask(const TaskRow& t) {
  Guard("saving task", impl_->path, [&] {
    auto& s = impl_->Q(std::string("INSERT OR REPLACE INTO tasks(") + kTaskCols +
                       ") VALUES(?,?,?,?,?,?,?,?,?)");
    Bind(s, 1, t.task_key);
    Bind(s, 2, t.account_id);
    Bind(s, 3, t.rule_id);
    Bind(s, 4, t.crm_task_id);
    Bind(s, 5, t.state);
    s.bind(6, static_cast<int64_t>(t.created_ms));
    s.bind(7, static_cast<int64_t>(t.updated_ms));
    Bind(s, 8, t.owner_id);
    s.bind(9, t.auto_close ? 1 : 0);
    s.exec();
    return 0;
  });
}

std::optional<TaskRow> Store::GetTask(std::string_view task_key) {
  return Guard("reading task", impl_->path, [&]() -> std::optional<TaskRow> {
    auto& s = impl_->Q(std::string("SELECT ") + kTaskCols + " FROM tasks WHERE task_key=?");
    Bind(s, 1, task_key);
    if (!s.executeStep()) return std::nullopt;
    return ReadTask(s);
  });
}

std::vector<TaskRow> Store::TasksFor(std::string_view account_id) {
  return Guard("reading tasks", impl_->path, [&] {
    auto& s = impl_->Q(std::string("SELECT ") + kTaskCols +
                       " FROM tasks WHERE account_id=? ORDER BY task_key");
    Bind(s, 1, account_id);
    std::vector<TaskRow> out;
    while (s.executeStep()) out.push_back(ReadTask(s));
    return out;
  });
}

std::vector<TaskRow> Store::TasksInState(std::string_view state) {
  return Guard("reading tasks", impl_->path, [&] {
    auto& s = impl_->Q(std::string("SELECT ") + kTaskCols +
                       " FROM tasks WHERE state=? ORDER BY task_key");
    Bind(s, 1, state);
    std::vector<TaskRow> out;
    while (s.executeStep()) out.push_back(ReadTask(s));
    return out;
  });
}

void Store::ForEachTask(const std::function<void(const TaskRow&)>& fn) {
  Guard("listing tasks", impl_->path, [&] {
    SQLite::Statement s(*impl_->db,
                        std::string("SELECT ") + kTaskCols + " FROM tasks ORDER BY task_key");
    while (s.executeStep()) fn(ReadTask(s));
    return 0;
  });
}

void Store::ForEachTaskIn(std::string_view first, std::string_view last,
                          const std::function<void(const TaskRow&)>& fn) {
  Guard("listing tasks", impl_->path, [&] {
    SQLite::Statement s(*impl_->db, std::string("SELECT ") + kTaskCols +
                                        " FROM tasks WHERE account_id BETWEEN ? AND ? ORDER BY "
                                        "task_key");
    s.bind(1, std::string(first));
    s.bind(2, std::string(last));
    while (s.executeStep()) fn(ReadTask(s));
    return 0;
  });
}

void Store::ForEachTaskOfGoneAccounts(const std::function<void(const TaskRow&)>& fn) {
  Guard("listing tasks", impl_->path, [&] {
    SQLite::Statement s(*impl_->db,
                        std::string("SELECT ") + kTaskCols +
                            " FROM tasks WHERE account_id NOT IN (SELECT id FROM accounts WHERE "
                            "archived=0) ORDER BY task_key");
    while (s.executeStep()) fn(ReadTask(s));
    return 0;
  });
}

void Store::AddHistory(const HistoryRow& h) {
  Guard("saving score history", impl_->path, [&] {
    auto& s = impl_->Q(
        "INSERT OR REPLACE INTO score_history(account_id, run_id, score, tier, at_ms, goals) "
        "VALUES(?,?,?,?,?,?)");
    Bind(s, 1, h.account_id);
    s.bind(2, static_cast<int64_t>(h.run_id));
    s.bind(3, h.score);
    Bind(s, 4, h.tier);
    s.bind(5, static_cast<int64_t>(h.at_ms));
    Bind(s, 6, h.goals_json);
    s.exec();
    return 0;
  });
}

std::vector<HistoryRow> Store::HistoryFor(std::string_view account_id) {
  return Guard("reading score history", impl_->path, [&] {
    auto& s = impl_->Q(
        "SELECT account_id, run_id, score, tier, at_ms, goals FROM score_history "
        "WHERE account_id=? ORDER BY run_id");
    Bind(s, 1, account_id);
    std::vector<HistoryRow> out;
    while (s.executeStep()) out.push_back(ReadHistory(s));
    return out;
  });
}

std::optional<HistoryRow> Store::PreviousHistory(std::string_view account_id, int64_t run_id) {
  return Guard("reading score history", impl_->path, [&]() -> std::optional<HistoryRow> {
    auto& s = impl_->Q(
        "SELECT account_id, run_id, score, tier, at_ms, goals FROM score_history "
        "WHERE account_id=? AND run_id<? ORDER BY run_id DESC LIMIT 1");
    Bind(s, 1, account_id);
    s.bind(2, static_cast<int64_t>(run_id));
    if (!s.executeStep()) return std::nullopt;
    return ReadHistory(s);
  });
}

void Store::AddAudit(const AuditRow& a) {
  Guard("writing audit log", impl_->path, [&] {
    auto& s = impl_->Q(
        "INSERT INTO audit(run_id, at_ms, action, account_id, target, old_value, new_value, "
        "detail) VALUES(?,?,?,?,?,?,?,?)");
    s.bind(1, static_cast<int64_t>(a.run_id));
    s.bind(2, static_cast<int64_t>(a.at_ms));
    Bind(s, 3, a.action);
    Bind(s, 4, a.account_id);
    Bind(s, 5, a.target);
    Bind(s, 6, a.old_value);
    Bind(s, 7, a.new_value);
    Bind(s, 8, a.detail);
    s.exec();
    return 0;
  });
}

std::vector<AuditRow> Store::AuditForRun(int64_t run_id) {
  return Guard("reading audit log", impl_->path, [&] {
    auto& s = impl_->Q(
        "SELECT id, run_id, at_ms, action, account_id, target, old_value, new_value, detail "
        "FROM audit WHERE run_id=? ORDER BY id");
    s.bind(1, static_cast<int64_t>(run_id));
    std::vector<AuditRow> out;
    while (s.executeStep()) {
      out.push_back(
          {s.getColumn(0).getInt64(), s.getColumn(1).getInt64(), s.getColumn(2).getInt64(),
           s.getColumn(3).getString(), s.getColumn(4).getString(), s.getColumn(5).getString(),
           s.getColumn(6).getString(), s.getColumn(7).getString(), s.getColumn(8).getString()});
    }
    return out;
  });
}

int64_t Store::StartRun(std::string_view kind, int64_t now_ms) {
  return Guard("starting run", impl_->path, [&] {
    auto& s = impl_->Q("INSERT INTO runs(kind, started_ms, outcome) VALUES(?,?,'running')");
    Bind(s, 1, kind);
    s.bind(2, static_cast<int64_t>(now_ms));
    s.exec();
    return impl_->db->getLastInsertRowid();
  });
}

void Store::FinishRun(int64_t run_id, int64_t now_ms, std::string_view outcome,
                      std::string_view counters_json, std::string_view error) {
  Guard("finishing run", impl_->path, [&] {
    auto& s = impl_->Q("UPDATE runs SET ended_ms=?, outcome=?, counters=?, error=? WHERE id=?");
    s.bind(1, static_cast<int64_t>(now_ms));
    Bind(s, 2, outcome);
    Bind(s, 3, counters_json);
    Bind(s, 4, error);
    s.bind(5, static_cast<int64_t>(run_id));
    s.exec();
    return 0;
  });
}

int Store::MarkInterruptedRuns(int64_t now_ms) {
  return Guard("closing interrupted runs", impl_->path, [&] {
    auto& s = impl_->Q(
        "UPDATE runs SET outcome='interrupted', ended_ms=?, error='the process stopped before "
        "the run finished; the next run resumed it' WHERE outcome='running'");
    s.bind(1, static_cast<int64_t>(now_ms));
    return s.exec();
  });
}

std::vector<RunRow> Store::LastRuns(size_t n, std::string_view kind) {
  return Guard("reading runs", impl_->path, [&] {
    auto& s = impl_->Q(
        "SELECT id, kind, started_ms, ended_ms, outcome, counters, error FROM runs WHERE (?='' "
        "OR kind=?) ORDER BY id DESC LIMIT ?");
    Bind(s, 1, kind);
    Bind(s, 2, kind);
    s.bind(3, static_cast<int64_t>(n));
    std::vector<RunRow> out;
    while (s.executeStep()) {
      out.push_back({s.getColumn(0).getInt64(), s.getColumn(1).getString(),
                     s.getColumn(2).getInt64(), s.getColumn(3).getInt64(),
                     s.getColumn(4).getString(), s.getColumn(5).getString(),
                     s.getColumn(6).getString()});
    }
    return out;
  });
}

std::optional<std::string> Store::GetMeta(std::string_view key) {
  return Guard("reading setting", impl_->path, [&]() -> std::optional<std::string> {
    auto& s = impl_->Q("SELECT value FROM meta WHERE key=?");
    Bind(s, 1, key);
    if (!s.executeStep()) return std::nullopt;
    return s.getColumn(0).getString();
  });
}

void Store::SetMeta(std::string_view key, std::string_view value) {
  Guard("saving setting", impl_->path, [&] {
    auto& s = impl_->Q("INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)");
    Bind(s, 1, key);
    Bind(s, 2, value);
    s.exec();
    return 0;
  });
}

// ---- Retention and maintenance ------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> Store::MetaWithPrefix(std::string_view prefix) {
  return Guard("reading settings", impl_->path, [&] {
    auto& s = impl_->Q("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key");
    s.bind(1, static_cast<int64_t>(prefix.size()));
    Bind(s, 2, prefix);
    std::vector<std::pair<std::string, std::string>> out;
    while (s.executeStep())
      out.emplace_back(s.getColumn(0).getString(), s.getColumn(1).getString());
    return out;
  });
}

Store::PruneCounts Store::Prune(int64_t cutoff_ms, int keep_runs) {
  return Guard("pruning old data", impl_->path, [&] {
    PruneCounts n;
    SQLite::Database& db = *impl_->db;
    db.exec("PRAGMA secure_delete=ON");  // what retention removes is overwritten, not just freed
    struct Restore {
      SQLite::Database& db;
      ~Restore() {
        try {
          db.exec("PRAGMA secure_delete=OFF");
        } catch (...) {
        }
      }
    } restore{db};
    SQLite::Transaction tx(db);
    auto run = [&](const char* sql, auto... values) {
      SQLite::Statement st(db, sql);
      int i = 0;
      ((st.bind(++i, static_cast<int64_t>(values))), ...);
      (void)i;
      return static_cast<int64_t>(st.exec());
    };
    db.exec("CREATE TEMP TABLE IF NOT EXISTS purge(id TEXT PRIMARY KEY)");
    db.exec("DELETE FROM temp.purge");
    run("INSERT INTO temp.purge SELECT id FROM accounts WHERE archived=1 AND archived_ms>0 AND "
        "archived_ms<?",
        cutoff_ms);
    run("DELETE FROM results WHERE account_id IN (SELECT id FROM temp.purge)");
    run("DELETE FROM written WHERE account_id IN (SELECT id FROM temp.purge)");
    n.history += run("DELETE FROM score_history WHERE account_id IN (SELECT id FROM temp.purge)");
    n.tasks = run(
        "DELETE FROM tasks WHERE account_id IN (SELECT id FROM temp.purge) AND state<>'planned'");
    n.outbox += run(
        "DELETE FROM outbox WHERE account_id IN (SELECT id FROM temp.purge) AND state<>'pending'");
    n.accounts = run("DELETE FROM accounts WHERE id IN (SELECT id FROM temp.purge)");
    db.exec("DELETE FROM temp.purge");
    n.audit = run("DELETE FROM audit WHERE at_ms<?", cutoff_ms);
    n.runs =
        run("DELETE FROM runs WHERE ended_ms>0 AND started_ms<? AND id NOT IN "
            "(SELECT id FROM runs ORDER BY id DESC LIMIT ?)",
            cutoff_ms, keep_runs);
    // Outbox entries that are done and belong to runs no longer kept (ids never come back:
    // AUTOINCREMENT), so their idempotency keys cannot be planned again.
    n.outbox +=
        run("DELETE FROM outbox WHERE state<>'pending' AND run_id < "
            "(SELECT COALESCE(MIN(id), 0) FROM runs)");
    n.history +=
        run("DELETE FROM score_history WHERE at_ms<? AND run_id < (SELECT MAX(h.run_id) FROM "
            "score_history h WHERE h.account_id=score_history.account_id)",
            cutoff_ms);
    tx.commit();
    return n;
  });
}

std::vector<std::string> Store::IntegrityCheck(int max_errors) {
  return Guard("checking integrity", impl_->path, [&] {
    SQLite::Statement st(*impl_->db, "PRAGMA integrity_check(" + std::to_string(max_errors) + ")");
    std::vector<std::string> out;
    while (st.executeStep()) out.push_back(st.getColumn(0).getString());
    return out;
  });
}

}  // namespace kam::store
