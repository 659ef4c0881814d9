// The state file: owner-only modes whatever the umask, every text column redacted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kam/http/redact.h"
#include "kam/store/store.h"

namespace kam::store {
namespace {

namespace fs = std::filesystem;

class StateSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kam_state_security_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    old_umask_ = umask(022);
  }
  void TearDown() override {
    umask(old_umask_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static unsigned ModeOf(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return 07777;
    return st.st_mode & 0777;
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
  mode_t old_umask_ = 0;
};

TEST_F(StateSecurityTest, DatabaseWalShmAndLockAreOwnerOnlyUnderUmask022) {
  const std::string db = dir_ + "/kam.db";
  auto store = Store::Open(db);
  store->SetMeta("portal_id", "42");  // a write: the -wal and -shm exist now
  ASSERT_TRUE(fs::exists(db + "-wal"));
  ASSERT_TRUE(fs::exists(db + "-shm"));
  EXPECT_EQ(ModeOf(db), 0600u);
  EXPECT_EQ(ModeOf(db + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(db + "-shm"), 0600u);
  EXPECT_EQ(ModeOf(db + ".lock"), 0600u);
}

TEST_F(StateSecurityTest, AMissingStateFolderIsCreatedOwnerOnlyButNotAMissingTree) {
  const std::string db = dir_ + "/state/kam.db";
  auto store = Store::Open(db);
  store->SetMeta("portal_id", "42");
  EXPECT_EQ(ModeOf(dir_ + "/state"), 0700u);
  EXPECT_EQ(ModeOf(db), 0600u);
  store.reset();

  const std::string deep = dir_ + "/typo/state/kam.db";
  try {
    Store::Open(deep);
    ADD_FAILURE() << "a state path whose parent folders are missing must be refused";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(deep + ".lock"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("state directory exists"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(dir_ + "/typo"));
}

TEST_F(StateSecurityTest, AnExistingStateFileWithAWiderModeIsTightened) {
  const std::string db = dir_ + "/kam.db";
  Store::Open(db).reset();
  ASSERT_EQ(chmod(db.c_str(), 0644), 0);
  ASSERT_EQ(chmod((db + ".lock").c_str(), 0666), 0);
  auto store = Store::Open(db);
  EXPECT_EQ(ModeOf(db), 0600u);
  EXPECT_EQ(ModeOf(db + ".lock"), 0600u);
}

TEST_F(StateSecurityTest, EveryTextColumnIsRedactedBeforeItIsWritten) {
  const std::string db = dir_ + "/kam.db";
  const std::string secret = "Zx9-sEcReT-7f3a91c0";
  auto redactor = std::make_shared<http::Redactor>();
  redactor->Add(secret);
  StoreOptions options;
  options.redact = [redactor](std::string& text) { redactor->Redact(text); };
  {
    auto store = Store::Open(db, options);
    int64_t run = store->StartRun("sync", 1);
    store->FinishRun(run, 2, "error", "{}", "HTTP 401: token " + secret + " rejected");
    AccountRow a;
    a.id = "1";
    a.properties_json = R"({"name":"Acme )" + secret + R"("})";
    store->UpsertAccount(a);
    OutboxEntry e;
    e.kind = "update";
    e.idem_key = "k1";
    e.account_id = "1";
    e.last_error = "Bearer another-token-never-seen";
    store->AddOutbox(e);
    AuditRow au;
    au.action = "conflict";
    au.detail = R"({"access_token":"at-never-seen"})";
    store->AddAudit(au);
    auto runs = store->LastRuns(1);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].error, "HTTP 401: token [redacted] rejected");
    EXPECT_EQ(store->GetAccount("1")->properties_json, R"({"name":"Acme [redacted]"})");
  }
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::string bytes = Slurp(entry.path());
    EXPECT_EQ(bytes.find(secret), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("another-token-never-seen"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("at-never-seen"), std::string::npos) << entry.path();
  }
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(StateSecurityTest, PruneRemovesCompaniesArchivedBeforeTheCutoffWithWhatIsKeptAboutThem) {
  auto store = Store::Open(dir_ + "/kam.db");
  EXPECT_EQ(store->SchemaVersion(), kSchemaVersion);
  for (const char* id : {"gone", "live"}) {
    AccountRow a;
    a.id = id;
    store->UpsertAccount(a);
    ResultRow r;
    r.account_id = id;
    store->UpsertResult(r);
    store->SetWritten(id, "kam_tier", {"key", "key", 1});
    store->AddHistory({id, 1, 5.0, "key", 1});
    TaskRow t;
    t.task_key = std::string("t-") + id;
    t.account_id = id;
    t.state = "completed";
    store->UpsertTask(t);
  }
  store->SetArchived("gone", true);
  const int64_t day = 24LL * 3600 * 1000;
  // Archived just now: inside the retention, nothing goes.
  Store::PruneCounts kept = store->Prune(NowMs() - 90 * day);
  EXPECT_EQ(kept.accounts, 0);
  EXPECT_TRUE(store->GetAccount("gone").has_value());
  // 91 days later.
  Store::PruneCounts n = store->Prune(NowMs() + day);
  EXPECT_EQ(n.accounts, 1);
  EXPECT_FALSE(store->GetAccount("gone").has_value());
  EXPECT_FALSE(store->GetResult("gone").has_value());
  EXPECT_FALSE(store->GetWritten("gone", "kam_tier").has_value());
  EXPECT_TRUE(store->HistoryFor("gone").empty());
  EXPECT_FALSE(store->GetTask("t-gone").has_value());
  EXPECT_TRUE(store->GetAccount("live").has_value());
  EXPECT_TRUE(store->GetResult("live").has_value());
  EXPECT_TRUE(store->GetTask("t-live").has_value());
  EXPECT_EQ(store->HistoryFor("live").size(), 1u);  // the newest row of an account stays
}

TEST_F(StateSecurityTest, ARestoredCompanyIsNotPurged) {
  auto store = Store::Open(dir_ + "/kam.db");
  AccountRow a;
  a.id = "back";
  store->UpsertAccount(a);
  store->SetArchived("back", true);
  store->UpsertAccount(a);  // pulled again: archived=false
  EXPECT_EQ(store->Prune(NowMs() + 24LL * 3600 * 1000).accounts, 0);
  EXPECT_TRUE(store->GetAccount("back").has_value());
}

TEST_F(StateSecurityTest, PruneDropsOldAuditRunsAndHistoryButKeepsTheNewestRuns) {
  auto store = Store::Open(dir_ + "/kam.db");
  for (int i = 1; i <= 15; ++i) {
    int64_t run = store->StartRun("sync", i * 1000);
    store->FinishRun(run, i * 1000 + 1, "ok", "{}", "");
    store->AddAudit({0, run, i * 1000, "update_field", "1", "kam_tier", "a", "b", ""});
    store->AddHistory({"1", run, static_cast<double>(i), "key", i * 1000});
    OutboxEntry e;
    e.run_id = run;
    e.kind = "update";
    e.idem_key = "update:1:" + std::to_string(run);
    e.account_id = "1";
    e.state = OutboxState::kAcked;
    store->AddOutbox(e);
  }
  Store::PruneCounts n = store->Prune(/*cutoff_ms=*/100000, /*keep_runs=*/10);
  EXPECT_EQ(n.audit, 15);
  EXPECT_EQ(n.runs, 5);
  EXPECT_EQ(n.history, 14);
  EXPECT_EQ(n.outbox, 5);
  EXPECT_EQ(store->LastRuns(100).size(), 10u);
  EXPECT_EQ(store->HistoryFor("1").size(), 1u);
}

TEST_F(StateSecurityTest, IntegrityCheckSaysOkOnAHealthyFile) {
  auto store = Store::Open(dir_ + "/kam.db");
  EXPECT_EQ(store->IntegrityCheck(), std::vector<std::string>{"ok"});
}

}  // namespace
}  // namespace kam::store
