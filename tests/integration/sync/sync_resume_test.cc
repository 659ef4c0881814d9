// A full pull that stops after some pages (cancelled, a crash) goes on after its last committed
// page on the next run (store.h's promise), judged from the sandbox's request counters and the
// CRM's final state against an uninterrupted run of the same portal.
#include <gtest/gtest.h>

#include "sync_test_util.h"

namespace kam::testing {
namespace {

using engine::StatusCode;
// 350 companies = 4 list pages of 100 (the adapter's page size): 2 stored, 2 left.
constexpr int kAccounts = 350;
const char* const kListRoute = "GET /crm/v3/objects/companies";

uint64_t ListCalls(const sandbox::SandboxServer& server) {
  auto c = server.counters().by_route;
  auto it = c.find(kListRoute);
  return it == c.end() ? 0 : it->second;
}

class SyncResume : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartSandbox(kAccounts);
    rules_ = WriteRules(dir_.path);
    options_ = EngineOptions(server_->url(), dir_.path, rules_);
    engine::SyncEngine(host_, options_).Provision();
  }

  // A sync cancelled by the host once `pages` pull pages are stored.
  void SyncCancelledAfterPages(int pages) {
    host_.cancel_after_progress = static_cast<int>(host_.progress.size()) + pages;
    try {
      engine::SyncEngine(host_, options_).Sync(false);
      FAIL() << "expected the sync to be cancelled";
    } catch (const engine::OpError& e) {
      ASSERT_EQ(e.code(), StatusCode::kCancelled) << e.what();
    }
    host_.cancelled = false;
    host_.cancel_after_progress = 0;
  }

  store::Cursor Cursor() {
    auto store = store::Store::Open(options_.config.state_path);
    return store->GetCursor("companies");
  }

  TempDir dir_;
  TestHost host_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::string rules_;
  engine::SyncEngineOptions options_;
};

TEST_F(SyncResume, AnInterruptedFullPullGoesOnAfterItsLastStoredPageAndEndsAsAnUninterruptedRun) {
  SyncCancelledAfterPages(2);
  store::Cursor stopped;
  {
    auto store = store::Store::Open(options_.config.state_path);
    stopped = store->GetCursor("companies");
    EXPECT_TRUE(stopped.full_pull_in_progress);
    EXPECT_FALSE(stopped.full_pull_after.empty()) << "the paging token is stored with the page";
    EXPECT_GT(stopped.full_pull_started_ms, 0);
    EXPECT_EQ(store->CountAccounts(false), 200);
    EXPECT_EQ(store->PulledIds("companies").size(), 200u);
  }

  const uint64_t before = ListCalls(*server_);
  json s = engine::SyncEngine(host_, options_).Sync(false);
  // Only the two pages after the stored one were asked for.
  EXPECT_EQ(ListCalls(*server_) - before, 2u);
  EXPECT_EQ(s["pages"], 2);
  EXPECT_EQ(s["full_pull"], true);
  EXPECT_EQ(s["full_pull_resumed"], true);
  EXPECT_EQ(s["pulled"], kAccounts);
  EXPECT_EQ(s["archived"], 0) << "the companies of the earlier pages are not taken for deleted";
  EXPECT_EQ(s["write_errors"], 0);
  EXPECT_NE(s["text"].get<std::string>().find("(full pull, resumed)"), std::string::npos);
  {
    auto store = store::Store::Open(options_.config.state_path);
    store::Cursor done = store->GetCursor("companies");
    EXPECT_FALSE(done.full_pull_in_progress);
    EXPECT_TRUE(done.full_pull_after.empty());
    EXPECT_EQ(done.full_pull_started_ms, 0);
    EXPECT_GT(done.last_full_pull_ms, 0);
    // Incremental pulls start where the interrupted pull began: nothing changed meanwhile is
    // missed in the pages read before the interruption.
    EXPECT_EQ(done.ts_ms, stopped.full_pull_started_ms);
    EXPECT_TRUE(store->PulledIds("companies").empty());
    EXPECT_EQ(store->CountAccounts(false), kAccounts);
    EXPECT_EQ(store->CountAccounts(true), kAccounts);
  }

  // The CRM equals an uninterrupted run on the same portal.
  auto reference = StartSandbox(kAccounts);
  TempDir ref_dir;
  TestHost ref_host;
  auto ref_options = EngineOptions(reference->url(), ref_dir.path, WriteRules(ref_dir.path));
  engine::SyncEngine(ref_host, ref_options).Provision();
  json ref = engine::SyncEngine(ref_host, ref_options).Sync(false);
  EXPECT_EQ(ref["pages"], 4);
  json got = CrmReader(server_->url()).Footprint();
  json want = CrmReader(reference->url()).Footprint();
  EXPECT_EQ(got["companies"], want["companies"]);
  EXPECT_EQ(got["tasks"], want["tasks"]);
  EXPECT_FALSE(got["tasks"].empty());

  // And the next sync is an incremental one that writes nothing.
  const uint64_t writes = WriteCalls(*server_);
  json again = engine::SyncEngine(host_, options_).Sync(false);
  EXPECT_EQ(again["full_pull"], false);
  EXPECT_EQ(WriteCalls(*server_), writes);
}

TEST_F(SyncResume, AFinishedFullPullLeavesNothingToResume) {
  json s = engine::SyncEngine(host_, options_).Sync(false);
  EXPECT_EQ(s["full_pull_resumed"], false);
  EXPECT_EQ(s["pages"], 4);
  store::Cursor c = Cursor();
  EXPECT_FALSE(c.full_pull_in_progress);
  EXPECT_TRUE(c.full_pull_after.empty());
  // `--full` starts a new full pull from the first page.
  const uint64_t before = ListCalls(*server_);
  json full = engine::SyncEngine(host_, options_).Sync(true);
  EXPECT_EQ(full["full_pull_resumed"], false);
  EXPECT_EQ(ListCalls(*server_) - before, 4u);
  EXPECT_EQ(full["archived"], 0);
}

TEST_F(SyncResume, APagingTokenTheCrmRefusesStartsTheFullPullOver) {
  SyncCancelledAfterPages(1);
  {
    auto store = store::Store::Open(options_.config.state_path);
    store::Cursor c = store->GetCursor("companies");
    ASSERT_TRUE(c.full_pull_in_progress);
    c.full_pull_after = "not a paging token";
    store->SetCursor("companies", c);
  }
  const uint64_t before = ListCalls(*server_);
  json s = engine::SyncEngine(host_, options_).Sync(false);
  EXPECT_EQ(s["full_pull_resumed"], false);
  EXPECT_EQ(s["pages"], 4);
  EXPECT_EQ(ListCalls(*server_) - before, 5u);  // the refused page, then all four
  EXPECT_EQ(s["pulled"], kAccounts);
  EXPECT_EQ(s["archived"], 0);
  EXPECT_EQ(s["write_errors"], 0);
  EXPECT_FALSE(Cursor().full_pull_in_progress);
}

}  // namespace
}  // namespace kam::testing
