// Unit tests of the state store: migrations, the exclusive lock, transactions, outbox and tasks.
#include "kam/store/store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace kam::store {
namespace {

namespace fs = std::filesystem;

AccountRow Acct(std::string id, int64_t modified_ms) {
  AccountRow r;
  r.id = std::move(id);
  r.modified_ms = modified_ms;
  return r;
}

Cursor At(int64_t ts_ms, std::string last_id) {
  Cursor c;
  c.ts_ms = ts_ms;
  c.last_id = std::move(last_id);
  return c;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("kam_store_test_" + std::to_string(getpid()) + "_" +
                                        std::to_string(rd()));
    fs::create_directories(dir_);
    path_ = (dir_ / "state.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

TEST_F(StoreTest, OpenAppliesEveryMigrationToANewFile) {
  auto store = Store::Open(path_);
  EXPECT_EQ(store->SchemaVersion(), kSchemaVersion);
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  for (const char* table : {"meta", "accounts", "cursors", "results", "written", "outbox", "tasks",
                            "score_history", "audit", "runs"}) {
    EXPECT_TRUE(db.tableExists(table)) << table;
  }
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST_F(StoreTest, ReopeningKeepsDataAndDoesNotReapplyMigrations) {
  {
    auto store = Store::Open(path_);
    store->SetMeta("portal", "42");
  }
  auto store = Store::Open(path_);
  EXPECT_EQ(store->GetMeta("portal").value_or(""), "42");
  EXPECT_EQ(store->SchemaVersion(), kSchemaVersion);
}

TEST_F(StoreTest, AFileFromANewerSchemaIsRefused) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version=999");
  }
  try {
    Store::Open(path_);
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, ASecondOpenOfTheSameFileIsRefusedWithAClearMessage) {
  auto first = Store::Open(path_);
  try {
    Store::Open(path_);
    FAIL() << "expected StoreLockedError";
  } catch (const StoreLockedError& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another kam process"), std::string::npos);
  }
  first.reset();
  EXPECT_NO_THROW(Store::Open(path_));  // released on close
}

TEST_F(StoreTest, ASecondProcessIsRefusedWhileTheFirstHoldsTheFile) {
  auto first = Store::Open(path_);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 2;
    try {
      Store::Open(path_);
      code = 0;
    } catch (const StoreLockedError&) {
      code = 1;
    } catch (...) {
      code = 3;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST_F(StoreTest, AnUncommittedTransactionLeavesNoTrace) {
  auto store = Store::Open(path_);
  {
    Store::Transaction tx(*store);
    store->UpsertAccount(Acct("1", 5));
    store->SetCursor("companies", At(5, "1"));
  }
  EXPECT_FALSE(store->GetAccount("1").has_value());
  EXPECT_EQ(store->GetCursor("companies").ts_ms, 0);
  {
    Store::Transaction tx(*store);
    store->UpsertAccount(Acct("1", 5));
    store->SetCursor("companies", At(5, "1"));
    tx.Commit();
  }
  EXPECT_TRUE(store->GetAccount("1").has_value());
  EXPECT_EQ(store->GetCursor("companies").last_id, "1");
}

TEST_F(StoreTest, ACrashedProcessLeavesOnlyCommittedPages) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = Store::Open(path_);
    {
      Store::Transaction tx(*store);
      store->UpsertAccount(Acct("a", 1));
      store->SetCursor("companies", At(1, "a"));
      tx.Commit();
    }
    Store::Transaction tx(*store);
    store->UpsertAccount(Acct("b", 2));
    store->SetCursor("companies", At(2, "b"));
    raise(SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto store = Store::Open(path_);  // the lock died with the process
  EXPECT_TRUE(store->GetAccount("a").has_value());
  EXPECT_FALSE(store->GetAccount("b").has_value());
  EXPECT_EQ(store->GetCursor("companies").last_id, "a");
}

TEST_F(StoreTest, AccountsRoundTripAndArchivedOnesAreSkipped) {
  auto store = Store::Open(path_);
  AccountRow one = Acct("1", 10);
  one.owner_id = "o1";
  one.properties_json = R"({"name":"A"})";
  store->UpsertAccount(one);
  store->UpsertAccount(Acct("2", 11));
  store->SetArchived("2", true);
  auto a = store->GetAccount("1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->owner_id, "o1");
  EXPECT_EQ(a->properties_json, R"({"name":"A"})");
  EXPECT_EQ(store->CountAccounts(false), 1);
  EXPECT_EQ(store->CountAccounts(true), 2);
  std::vector<std::string> ids;
  store->ForEachAccount([&](const AccountRow& r) { ids.push_back(r.id); }, false);
  EXPECT_EQ(ids, std::vector<std::string>{"1"});
}

TEST_F(StoreTest, CommitsReachTheDatabaseFileWhileALookupOfOneRowIsLeftUnfinished) {
  // A one-row lookup (GetAccount) leaves its statement on the row; before the commit reset it,
  // that read pinned the WAL, no checkpoint could copy a page back, and the WAL grew for as long
  // as the store stayed open (540 MB in a 20,000-company sync).
  auto store = Store::Open(path_);
  store->UpsertAccount(Acct("0", 1));
  const std::string big(8000, 'x');
  for (int i = 1; i <= 1500; ++i) {  // ~12 MB of rows: about three default checkpoints' worth
    ASSERT_TRUE(store->GetAccount("0"));
    Store::Transaction tx(*store);
    AccountRow r = Acct(std::to_string(i), i);
    r.properties_json = big;
    store->UpsertAccount(r);
    tx.Commit();
  }
  // Still open: what the commits wrote is in the database file, and the WAL was reused.
  EXPECT_GT(fs::file_size(path_), 8u << 20);
  EXPECT_LT(fs::file_size(path_ + "-wal"), 8u << 20);
}

TEST_F(StoreTest, MergeAccountPropertiesSetsTheGivenMembersAndKeepsTheOthers) {
  auto store = Store::Open(path_);
  AccountRow one = Acct("1", 10);
  one.properties_json = R"({"name":"A","kam_tier":"key","industry":"x"})";
  store->UpsertAccount(one);
  AccountRow two = Acct("2", 11);
  two.properties_json = "not json";
  store->UpsertAccount(two);
  AccountRow three = Acct("3", 12);
  three.properties_json = R"(["an","array"])";
  store->UpsertAccount(three);
  const std::string patch = R"({"kam_card_json":"{\"a\":\"\u00e9 \\ ·\"}","kam_tier":"growth"})";
  for (const char* id : {"1", "2", "3", "4"}) store->MergeAccountProperties(id, patch);
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  // name, kam_tier, kam_card_json (decoded), number of members
  auto props = [&](const char* id) {
    SQLite::Statement q(db,
                        "SELECT json_extract(properties, '$.name'), "
                        "json_extract(properties, '$.kam_tier'), "
                        "json_extract(properties, '$.kam_card_json'), "
                        "(SELECT COUNT(*) FROM json_each(properties)) FROM accounts WHERE id=?");
    q.bind(1, id);
    EXPECT_TRUE(q.executeStep()) << id;
    return std::vector<std::string>{q.getColumn(0).getString(), q.getColumn(1).getString(),
                                    q.getColumn(2).getString(), q.getColumn(3).getString()};
  };
  const std::string card = "{\"a\":\"\xC3\xA9 \\ \xC2\xB7\"}";  // {"a":"é \ ·"}
  EXPECT_EQ(props("1"), (std::vector<std::string>{"A", "growth", card, "4"}));
  // Not a JSON object: the patch alone, as when the stored properties could not be parsed.
  EXPECT_EQ(props("2"), (std::vector<std::string>{"", "growth", card, "2"}));
  EXPECT_EQ(props("3"), (std::vector<std::string>{"", "growth", card, "2"}));
  EXPECT_FALSE(store->GetAccount("4"));  // not stored: nothing is created
}

TEST_F(StoreTest, TheOutboxKeepsOneEntryPerIdempotencyKey) {
  auto store = Store::Open(path_);
  OutboxEntry e;
  e.run_id = 1;
  e.kind = "update";
  e.idem_key = "k1";
  e.account_id = "1";
  EXPECT_TRUE(store->AddOutbox(e));
  EXPECT_FALSE(store->AddOutbox(e));
  e.idem_key = "k2";
  EXPECT_TRUE(store->AddOutbox(e));
  auto pending = store->PendingOutbox("update", 10);
  ASSERT_EQ(pending.size(), 2u);
  store->BumpOutboxAttempts(pending[0].id);
  store->MarkOutbox(pending[0].id, OutboxState::kAcked, "");
  store->MarkOutbox(pending[1].id, OutboxState::kError, "400 bad value");
  EXPECT_EQ(store->CountOutbox(OutboxState::kPending), 0);
  EXPECT_EQ(store->CountOutbox(OutboxState::kAcked), 1);
  EXPECT_EQ(store->CountOutbox(OutboxState::kError), 1);
  EXPECT_TRUE(store->PendingOutbox("update", 10).empty());
}

TEST_F(StoreTest, PendingOutboxAfterPagesOneKindInIdOrderAndKindsListsWhatIsPending) {
  auto store = Store::Open(path_);
  OutboxEntry e;
  e.run_id = 1;
  for (int i = 0; i < 7; ++i) {
    e.kind = i % 2 == 0 ? "update" : "create_task";
    e.idem_key = "k" + std::to_string(i);
    e.account_id = std::to_string(i);
    ASSERT_TRUE(store->AddOutbox(e));
  }
  e.kind = "future_kind";
  e.idem_key = "f";
  ASSERT_TRUE(store->AddOutbox(e));
  EXPECT_EQ(store->PendingOutboxKinds(),
            (std::vector<std::string>{"create_task", "future_kind", "update"}));
  // Updates are accounts 0, 2, 4, 6: two pages of two, then nothing.
  auto page1 = store->PendingOutboxAfter("update", 0, 2);
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].account_id, "0");
  EXPECT_EQ(page1[1].account_id, "2");
  // An entry of the first page done meanwhile does not move the scan.
  store->MarkOutbox(page1[0].id, OutboxState::kAcked, "");
  auto page2 = store->PendingOutboxAfter("update", page1.back().id, 2);
  ASSERT_EQ(page2.size(), 2u);
  EXPECT_EQ(page2[0].account_id, "4");
  EXPECT_EQ(page2[1].account_id, "6");
  EXPECT_TRUE(store->PendingOutboxAfter("update", page2.back().id, 2).empty());
  // "" = any kind, still in id order.
  auto any = store->PendingOutboxAfter("", 0, 100);
  ASSERT_EQ(any.size(), 7u);
  EXPECT_EQ(any[0].account_id, "1");
  EXPECT_EQ(any.back().kind, "future_kind");
  store->MarkOutbox(any.back().id, OutboxState::kError, "unknown kind");
  EXPECT_EQ(store->PendingOutboxKinds(), (std::vector<std::string>{"create_task", "update"}));
}

TEST_F(StoreTest, WrittenValuesTasksHistoryAndRunsRoundTrip) {
  auto store = Store::Open(path_);
  store->SetWritten("1", "kam_tier", {"key", "key", 7});
  auto w = store->GetWritten("1", "kam_tier");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->crm_value, "key");
  EXPECT_FALSE(store->GetWritten("1", "kam_score"));

  TaskRow task;
  task.task_key = "t1";
  task.account_id = "1";
  task.rule_id = "r";
  task.state = "planned";
  store->UpsertTask(task);
  task.crm_task_id = "99";
  task.state = "open";
  store->UpsertTask(task);
  EXPECT_EQ(store->GetTask("t1")->crm_task_id, "99");
  EXPECT_EQ(store->TasksInState("open").size(), 1u);

  int64_t r1 = store->StartRun("sync", 100);
  store->AddHistory({"1", r1, 50, "key", 100});
  store->FinishRun(r1, 200, "ok", R"({"pulled":1})", "");
  int64_t r2 = store->StartRun("sync", 300);
  EXPECT_GT(r2, r1);
  EXPECT_EQ(store->PreviousHistory("1", r2)->score, 50);
  EXPECT_FALSE(store->PreviousHistory("1", r1));
  EXPECT_EQ(store->MarkInterruptedRuns(400), 1);
  auto runs = store->LastRuns(5);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].outcome, "interrupted");
  EXPECT_EQ(runs[1].counters_json, R"({"pulled":1})");
}

TEST_F(StoreTest, HistoryRowsKeepTheirGoalAttainmentAndOlderRowsReadAsNotRecorded) {
  {
    auto store = Store::Open(path_);
    int64_t run = store->StartRun("sync", 100);
    store->AddHistory({"1", run, 50, "key", 100, R"({"sponsor":"met"})"});
    store->AddHistory({"2", run, 40, "key", 100});  // nothing recorded
  }
  {  // a row as a version-4 build wrote it: no goals column value
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(
        "INSERT INTO score_history(account_id, run_id, score, tier, at_ms) "
        "VALUES('1', 0, 30, 'standard', 50)");
  }
  auto store = Store::Open(path_);
  auto h = store->HistoryFor("1");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].goals_json, "");
  EXPECT_EQ(h[1].goals_json, R"({"sponsor":"met"})");
  EXPECT_EQ(store->PreviousHistory("1", 99)->goals_json, R"({"sponsor":"met"})");
  EXPECT_EQ(store->HistoryFor("2")[0].goals_json, "");
}

// The layout of schema version 1 exactly as the first release created it (migration 1): files of
// that release must open with every later build.
constexpr const char* kVersionOneLayout = R"sql(
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
PRAGMA user_version=1;
)sql";

// What a version-1 add-in had stored after a sync.
constexpr const char* kVersionOneData = R"sql(
INSERT INTO meta VALUES('portal_id','42');
INSERT INTO accounts VALUES('1','7','{"name":"Acme"}','{"won":3}','{}',1000,0);
INSERT INTO accounts VALUES('2','','{"name":"Gone"}','{}','{}',900,1);
INSERT INTO cursors VALUES('companies',5000,'1',4000,'',0,5000);
INSERT INTO results VALUES('1','{"fit":80}',80.5,'key','{}','{}','h1','','7',1200.0,5000);
INSERT INTO written VALUES('1','kam_tier','key','key',5000);
INSERT INTO outbox(run_id,kind,idem_key,account_id,payload,state)
  VALUES(1,'update','u:1:h','1','{"properties":{"kam_score":"80.5"}}','pending');
INSERT INTO tasks VALUES('kam-00000000000000aa','1','meet','77','open',5000,5000,'7',1);
INSERT INTO score_history VALUES('1',1,80.5,'key',5000);
INSERT INTO audit(run_id,at_ms,action,account_id,target,old_value,new_value,detail)
  VALUES(1,5000,'update_field','1','kam_tier','','key','');
INSERT INTO runs(kind,started_ms,ended_ms,outcome) VALUES('sync',4000,5000,'ok');
)sql";

TEST_F(StoreTest, AVersionOneFileOpensUpgradedToTheCurrentSchemaWithItsDataIntact) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(kVersionOneLayout);
    db.exec(kVersionOneData);
    ASSERT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 1);
  }
  {
    auto store = Store::Open(path_);
    EXPECT_EQ(store->SchemaVersion(), kSchemaVersion);
    EXPECT_EQ(store->GetMeta("portal_id").value_or(""), "42");
    auto a = store->GetAccount("1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->owner_id, "7");
    EXPECT_EQ(a->properties_json, R"({"name":"Acme"})");
    EXPECT_EQ(a->aggregates_json, R"({"won":3})");
    EXPECT_EQ(a->modified_ms, 1000);
    EXPECT_EQ(store->CountAccounts(false), 1);
    EXPECT_EQ(store->CountAccounts(true), 2);
    Cursor c = store->GetCursor("companies");
    EXPECT_EQ(c.ts_ms, 5000);
    EXPECT_EQ(c.last_id, "1");
    EXPECT_EQ(c.last_full_pull_ms, 4000);
    EXPECT_FALSE(c.full_pull_in_progress);
    EXPECT_EQ(c.full_pull_started_ms, 0);  // version 4's column, defaulted
    auto r = store->GetResult("1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tier, "key");
    EXPECT_DOUBLE_EQ(r->score, 80.5);
    EXPECT_EQ(r->rules_hash, "h1");
    EXPECT_EQ(store->GetWritten("1", "kam_tier")->crm_value, "key");
    auto pending = store->PendingOutboxAll();
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0].idem_key, "u:1:h");
    auto t = store->GetTask("kam-00000000000000aa");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->crm_task_id, "77");
    EXPECT_TRUE(t->auto_close);
    ASSERT_EQ(store->HistoryFor("1").size(), 1u);
    EXPECT_EQ(store->HistoryFor("1")[0].goals_json, "");  // version 5's column: not recorded
    EXPECT_EQ(store->AuditForRun(1).size(), 1u);
    auto runs = store->LastRuns(5);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].outcome, "ok");
    // Version 4's table works on the upgraded file.
    store->AddPulled("companies", "1");
    EXPECT_EQ(store->PulledIds("companies"), std::vector<std::string>{"1"});
  }
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), kSchemaVersion);
  // Version 2: a company archived before the upgrade starts its retention at the upgrade.
  EXPECT_GT(db.execAndGet("SELECT archived_ms FROM accounts WHERE id='2'").getInt64(), 0);
  EXPECT_EQ(db.execAndGet("SELECT archived_ms FROM accounts WHERE id='1'").getInt64(), 0);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

// Migration 2 as released.
constexpr const char* kVersionTwoMigration = R"sql(
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
PRAGMA user_version=2;
)sql";

TEST_F(StoreTest, AVersionTwoFullPullInProgressKeepsItsTokenAcrossTheUpgrade) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(kVersionOneLayout);
    db.exec(kVersionTwoMigration);
    db.exec("INSERT INTO cursors VALUES('companies',0,'',0,'token-3',1,5000)");
    db.exec("INSERT INTO accounts VALUES('1','','{}','{}','{}',1000,1,777)");
  }
  {
    auto store = Store::Open(path_);
    EXPECT_EQ(store->SchemaVersion(), kSchemaVersion);
    EXPECT_EQ(store->CountAccounts(true), 1);
    Cursor c = store->GetCursor("companies");
    EXPECT_TRUE(c.full_pull_in_progress);
    EXPECT_EQ(c.full_pull_after, "token-3");
    // Its start time was never recorded: the engine starts that full pull over.
    EXPECT_EQ(c.full_pull_started_ms, 0);
  }
}

TEST_F(StoreTest, PulledIdsAreKeptPerCursorUntilCleared) {
  auto store = Store::Open(path_);
  {
    Store::Transaction tx(*store);
    store->AddPulled("companies", "b");
    store->AddPulled("companies", "a");
    store->AddPulled("companies", "a");
    store->AddPulled("deals", "x");
    Cursor c;
    c.full_pull_in_progress = true;
    c.full_pull_after = "after-2";
    c.full_pull_started_ms = 1234;
    store->SetCursor("companies", c);
    tx.Commit();
  }
  store.reset();
  store = Store::Open(path_);
  EXPECT_EQ(store->PulledIds("companies"), (std::vector<std::string>{"a", "b"}));
  Cursor c = store->GetCursor("companies");
  EXPECT_EQ(c.full_pull_after, "after-2");
  EXPECT_EQ(c.full_pull_started_ms, 1234);
  store->ClearPulled("companies");
  EXPECT_TRUE(store->PulledIds("companies").empty());
  EXPECT_EQ(store->PulledIds("deals"), std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace kam::store
