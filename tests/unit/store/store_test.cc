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

}  // namespace
}  // namespace kam::store
