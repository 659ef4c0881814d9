// Incremental facts ("facts": "changed"), judged from the sandbox: after several incremental
// syncs with people's edits between them (deals won, contacts added, meetings logged, links
// moved, a deal deleted, companies edited), a fresh state file doing a full evaluation
// ("facts": "all") agrees with what the CRM holds, and its aggregates equal the incremental
// state's. Also: the add-in's own writes come back as echoes and cost no facts reads, a
// re-sync with nothing changed makes few calls and no write, and the periodic full facts
// refresh catches a link that moved neither record's modification time.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <map>

#include "kam/store/facts_store.h"
#include "run_context.h"
#include "sync_test_util.h"

namespace kam::testing {
namespace {

constexpr int kAccounts = 150;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Iso(int64_t ms) { return engine::IsoUtc(ms); }

class SyncFacts : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartSandbox(kAccounts, /*seed=*/11);
    rules_ = (dir_.path / "rules.json").string();
    std::filesystem::copy_file(KAM_EXAMPLE_RULES_FILE, rules_);
    options_ = EngineOptions(server_->url(), dir_.path, rules_);
    options_.config.facts = "changed";
    options_.clock = [this] { return NowMs() + shift_ms_.load(); };
    engine_ = std::make_unique<engine::SyncEngine>(host_, options_);
    engine_->Provision();
  }

  // Company ids in id order.
  std::vector<std::string> Companies() {
    std::vector<std::string> out;
    for (const auto& [id, p] : crm_().All("companies", "name")) out.push_back(id);
    return out;
  }

  std::vector<std::string> Linked(const std::string& company, const std::string& type) {
    json r = crm_().Call("GET", "/crm/v4/objects/companies/" + company + "/associations/" + type);
    std::vector<std::string> out;
    for (const auto& x : r["results"]) out.push_back(IdOf(x["toObjectId"]));
    return out;
  }

  static std::string IdOf(const json& v) {
    return v.is_string() ? v.get<std::string>() : std::to_string(v.get<int64_t>());
  }

  void Link(const std::string& type, const std::string& id, const std::string& company) {
    crm_().Call(
        "PUT", "/crm/v4/objects/" + type + "/" + id + "/associations/default/companies/" + company);
  }
  void Unlink(const std::string& type, const std::string& id, const std::string& company) {
    crm_().Call("DELETE",
                "/crm/v4/objects/" + type + "/" + id + "/associations/companies/" + company);
  }
  // HubSpot keeps rollups on a company (num_associated_deals, num_associated_contacts,
  // notes_last_updated…), so a link added or removed moves the company's modification time
  // [unconfirmed for every link type]; the sandbox does not model rollups, so the tests move it
  // as HubSpot would.
  void Touch(const std::vector<std::string>& companies) {
    json ids = json::array();
    for (const auto& c : companies) ids.push_back(c);
    crm_().Call("POST", "/_sandbox/touch", {{"type", "companies"}, {"ids", ids}});
  }

  // A fresh state file reading every fact as a whole ("facts": "all") with the same clock: its
  // dry run must find nothing to write (the CRM holds what a full evaluation computes), and its
  // aggregates must equal the incremental state's, account by account.
  void ExpectAgreesWithAFreshFullEvaluation(const std::string& when) {
    SCOPED_TRACE(when);
    TempDir fresh;
    engine::SyncEngineOptions o = options_;
    o.config.facts = "all";
    o.config.state_path = (fresh.path / "state.db").string();
    engine::SyncEngine full(host_, o);
    json d = full.DryRun(false);
    EXPECT_EQ(d["accounts_to_write"], 0) << d["text"];
    auto a = store::Store::Open(options_.config.state_path);
    auto b = store::Store::Open(o.config.state_path);
    int64_t compared = 0;
    b->ForEachAccount(
        [&](const store::AccountRow& rb) {
          auto ra = a->GetAccount(rb.id);
          ASSERT_TRUE(ra.has_value()) << rb.id;
          ASSERT_FALSE(ra->archived) << rb.id;
          json ja = json::parse(ra->aggregates_json);
          json jb = json::parse(rb.aggregates_json);
          ASSERT_EQ(ja.size(), jb.size()) << rb.id;
          for (const auto& [k, vb] : jb.items()) {
            const json& va = ja[k];
            if (vb.is_number()) {
              ASSERT_TRUE(va.is_number()) << rb.id << " " << k;
              EXPECT_NEAR(va.get<double>(), vb.get<double>(), 1e-6) << rb.id << " " << k;
            } else {
              EXPECT_EQ(va, vb) << rb.id << " " << k;
            }
          }
          ++compared;
        },
        false);
    EXPECT_EQ(compared, a->CountAccounts(false));
  }

  CrmReader& crm_() {
    if (!reader_) reader_ = std::make_unique<CrmReader>(server_->url());
    return *reader_;
  }

  TempDir dir_;
  TestHost host_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::unique_ptr<CrmReader> reader_;
  std::string rules_;
  std::atomic<int64_t> shift_ms_{0};
  engine::SyncEngineOptions options_;
  std::unique_ptr<engine::SyncEngine> engine_;
};

TEST_F(SyncFacts, IncrementalSyncsWithEditsAgreeWithAFreshFullEvaluation) {
  json first = engine_->Sync(false);
  EXPECT_TRUE(first["facts_full"].get<bool>());
  EXPECT_EQ(first["write_errors"], 0);
  const auto companies = Companies();
  ASSERT_GE(companies.size(), 20u);
  std::mt19937_64 rng(20261203);
  auto pick = [&] { return companies[rng() % companies.size()]; };
  // A company with at least one linked record of `type`.
  auto pick_with = [&](const std::string& type) {
    for (;;) {
      std::string c = pick();
      if (!Linked(c, type).empty()) return c;
    }
  };
  const int64_t now = NowMs();

  // Round 1: a deal won, a contact added (an executive), a meeting logged, a company edited.
  std::string won_company, won_deal;
  for (int i = 0; i < 50 && won_deal.empty(); ++i) {
    std::string c = pick();
    for (const auto& d : Linked(c, "deals")) {
      json deal = crm_().Call("GET", "/crm/v3/objects/deals/" + d + "?properties=dealstage");
      std::string stage = deal["properties"].value("dealstage", "");
      if (stage != "closedwon" && stage != "closedlost") {
        won_company = c;
        won_deal = d;
        break;
      }
    }
  }
  ASSERT_FALSE(won_deal.empty());
  crm_().Call(
      "PATCH", "/crm/v3/objects/deals/" + won_deal,
      {{"properties",
        {{"dealstage", "closedwon"}, {"amount", "2500000"}, {"closedate", Iso(now - 3600'000)}}}});
  const std::string contact_company = pick();
  json contact = crm_().Call(
      "POST", "/crm/v3/objects/contacts",
      {{"properties", {{"email", "new.ceo@example.com"}, {"jobtitle", "Chief Executive Officer"}}},
       {"associations",
        {{{"to", {{"id", contact_company}}},
          {"types",
           {{{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", 279}}}}}}}});
  const std::string contact_id = contact["id"].get<std::string>();
  const std::string meeting_company = pick();
  crm_().Call("POST", "/crm/v3/objects/meetings",
              {{"properties", {{"hs_timestamp", Iso(now - 600'000)}, {"hs_meeting_title", "QBR"}}},
               {"associations",
                {{{"to", {{"id", meeting_company}}},
                  {"types",
                   {{{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", 188}}}}}}}});
  const std::string edited = pick();
  crm_().Call("PATCH", "/crm/v3/objects/companies/" + edited,
              {{"properties", {{"annualrevenue", "750000000"}, {"gross_margin_pct", "61"}}}});

  json second = engine_->Sync(false);
  EXPECT_FALSE(second["facts_full"].get<bool>());
  EXPECT_GE(second["fact_records"].get<int64_t>(), 3);
  EXPECT_EQ(second["write_errors"], 0);
  // The companies the first sync wrote came back as echoes: their links were not read again.
  EXPECT_GT(second["echoes"].get<int64_t>(), 0);
  EXPECT_LT(second["fact_link_reads"].get<int64_t>(), 10);
  ExpectAgreesWithAFreshFullEvaluation("after round 1");

  // Round 2: a deal moved to another company, a contact unlinked (and edited), a deal deleted,
  // the new contact's title changed, a second deal won on the same company.
  std::string from = pick_with("deals"), to = pick();
  while (to == from) to = pick();
  auto deals = Linked(from, "deals");
  ASSERT_FALSE(deals.empty());
  const std::string moved = deals.front();
  Unlink("deals", moved, from);
  Link("deals", moved, to);
  Touch({from, to});
  std::string unlink_company = pick_with("contacts");
  auto contacts = Linked(unlink_company, "contacts");
  ASSERT_FALSE(contacts.empty());
  Unlink("contacts", contacts.front(), unlink_company);
  crm_().Call("PATCH", "/crm/v3/objects/contacts/" + contacts.front(),
              {{"properties", {{"jobtitle", "Intern"}}}});
  std::string del_company = pick_with("deals");
  auto del_deals = Linked(del_company, "deals");
  ASSERT_FALSE(del_deals.empty());
  crm_().Call("DELETE", "/crm/v3/objects/deals/" + del_deals.back());
  Touch({del_company});
  crm_().Call("PATCH", "/crm/v3/objects/contacts/" + contact_id,
              {{"properties", {{"jobtitle", "Office Manager"}}}});
  json third = engine_->Sync(false);
  EXPECT_FALSE(third["facts_full"].get<bool>());
  EXPECT_EQ(third["write_errors"], 0);
  ExpectAgreesWithAFreshFullEvaluation("after round 2");

  // Nothing changed: no write, and few calls.
  const uint64_t writes = WriteCalls(*server_);
  json quiet = engine_->Sync(false);
  EXPECT_EQ(WriteCalls(*server_), writes);
  EXPECT_EQ(quiet["fields_written"], 0);
  EXPECT_LE(quiet["api_calls"].get<int64_t>(), 20) << quiet.dump();

  // A link that moves neither record's modification time is not seen incrementally; the full
  // facts refresh (facts_full_refresh_hours, 24 by default) a day later catches it.
  std::string lonely = pick();
  json m = crm_().Call("POST", "/crm/v3/objects/meetings",
                       {{"properties", {{"hs_timestamp", Iso(now - 7200'000)}}}});
  crm_().Call("POST", "/_sandbox/touch",
              {{"type", "meetings"}, {"ids", {m["id"]}}, {"timestamp", Iso(now - 86'400'000)}});
  Link("meetings", m["id"].get<std::string>(), lonely);
  shift_ms_ = 25 * 3'600'000LL;
  json later = engine_->Sync(false);
  EXPECT_TRUE(later["facts_full"].get<bool>());
  EXPECT_EQ(later["write_errors"], 0);
  ExpectAgreesWithAFreshFullEvaluation("after the full refresh a day later");
}

TEST_F(SyncFacts, ANoChangeResyncMakesAtMostTwentyCallsAndNoWrite) {
  engine_->Sync(false);
  engine_->Sync(false);  // the first sync's own writes come back once as echoes
  const uint64_t writes = WriteCalls(*server_);
  json s = engine_->Sync(false);
  EXPECT_EQ(WriteCalls(*server_), writes);
  EXPECT_EQ(s["fields_written"], 0);
  EXPECT_EQ(s["tasks_created"], 0);
  EXPECT_FALSE(s["facts_full"].get<bool>());
  EXPECT_EQ(s["fact_link_reads"], 0);
  EXPECT_LE(s["api_calls"].get<int64_t>(), 20) << s.dump();
  EXPECT_GE(s["minimum_calls"].get<int64_t>(), 0);
  EXPECT_NE(s["text"].get<std::string>().find("calls/minimum"), std::string::npos);
}

// Runs one sync with "facts": "changed" in a child process (kam_sync_driver), killed with
// SIGKILL at its crash_at-th checkpoint when crash_at > 0. Returns true when it was killed.
bool RunDriverKilledAt(const std::string& url, const std::string& state, const std::string& rules,
                       int64_t crash_at) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("KAM_TEST_FACTS", "changed", 1);
    if (crash_at > 0) {
      setenv("KAM_TEST_CRASH_AT", std::to_string(crash_at).c_str(), 1);
    } else {
      unsetenv("KAM_TEST_CRASH_AT");
    }
    FILE* f =
        std::freopen(std::getenv("KAM_TEST_VERBOSE") ? "/dev/stderr" : "/dev/null", "w", stdout);
    (void)f;
    execl(KAM_SYNC_DRIVER, KAM_SYNC_DRIVER, url.c_str(), state.c_str(), rules.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGKILL;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "driver status " << status;
  return false;
}

// Killed inside the facts (checkpoints 4 and 5 of an incremental run: the first page of changed
// records before and after its commit), then run again: the state still agrees
// with a fresh full evaluation. One round of edits per kill point. (This test found the facts
// cursor following the sandbox's future-dated open deals past every later change.)
TEST_F(SyncFacts, AKillDuringIncrementalFactsLosesNoChange) {
  ASSERT_FALSE(RunDriverKilledAt(server_->url(), options_.config.state_path, rules_, 0));
  const auto companies = Companies();
  std::mt19937_64 rng(7);
  auto pick = [&] { return companies[rng() % companies.size()]; };
  int killed = 0;
  for (int64_t crash_at : {4, 5}) {
    SCOPED_TRACE("killed at checkpoint " + std::to_string(crash_at));
    const int64_t now = NowMs();
    // A deal won, a meeting logged, a deal moved (the companies' rollups move them).
    std::string c = pick();
    auto deals = Linked(c, "deals");
    if (!deals.empty()) {
      crm_().Call("PATCH", "/crm/v3/objects/deals/" + deals.front(),
                  {{"properties",
                    {{"dealstage", "closedwon"},
                     {"amount", std::to_string(100000 + crash_at)},
                     {"closedate", Iso(now - 60'000)}}}});
      std::string to = pick();
      if (to != c && deals.size() > 1) {
        Unlink("deals", deals.back(), c);
        Link("deals", deals.back(), to);
        Touch({c, to});
      }
    }
    crm_().Call(
        "POST", "/crm/v3/objects/meetings",
        {{"properties", {{"hs_timestamp", Iso(now - 120'000)}}},
         {"associations",
          {{{"to", {{"id", pick()}}},
            {"types",
             {{{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", 188}}}}}}}});
    if (RunDriverKilledAt(server_->url(), options_.config.state_path, rules_, crash_at)) ++killed;
    ASSERT_FALSE(RunDriverKilledAt(server_->url(), options_.config.state_path, rules_, 0));
    ExpectAgreesWithAFreshFullEvaluation("after the rerun");
  }
  EXPECT_EQ(killed, 2);
}

}  // namespace
}  // namespace kam::testing

namespace kam::testing {
namespace {

// The sandbox's own count of one sync's requests, by route.
struct CallCount {
  uint64_t total = 0;
  std::map<std::string, uint64_t> by_route;
};

CallCount CountCalls(const sandbox::SandboxServer& server, const std::function<void()>& run) {
  const auto before = server.counters();
  run();
  const auto after = server.counters();
  CallCount c;
  c.total = after.total - before.total;
  for (const auto& [route, n] : after.by_route) {
    auto it = before.by_route.find(route);
    const uint64_t d = n - (it == before.by_route.end() ? 0 : it->second);
    if (d > 0) c.by_route[route] = d;
  }
  return c;
}

std::string Routes(const CallCount& c) {
  std::string out;
  for (const auto& [route, n] : c.by_route) out += route + " x" + std::to_string(n) + "\n";
  return out;
}

// Issue 13 item 5 at 500 companies, judged by the sandbox's request counter: a re-sync with
// nothing changed makes at most 20 calls and no write; after 1 % of the companies were edited
// and 0.1 % of the deals won, the sync makes at most 1.05 times the minimum its data requires
// (plugin/src/engine/README.md, *Call budget*), and neither re-checks the properties (the check
// of the first sync is remembered) nor reads the task key's definition.
TEST(SyncCallBudget, ANoChangeAndASmallChangeResyncStayWithinTheMinimumAtFiveHundredCompanies) {
  constexpr int kCompanies = 500;
  TempDir dir;
  TestHost host;
  auto server = StartSandbox(kCompanies, /*seed=*/11);
  const std::string rules = (dir.path / "rules.json").string();
  std::filesystem::copy_file(KAM_EXAMPLE_RULES_FILE, rules);
  engine::SyncEngineOptions o = EngineOptions(server->url(), dir.path, rules);
  o.config.facts = "changed";
  o.config.overlap_ms = 0;  // syncs seconds apart: no overlap re-reads
  engine::SyncEngine engine(host, o);
  engine.Provision();
  engine.Sync(false);  // full
  engine.Sync(false);  // the first sync's own writes come back once, as echoes

  json quiet;
  const uint64_t writes_before = WriteCalls(*server);
  CallCount none = CountCalls(*server, [&] { quiet = engine.Sync(false); });
  EXPECT_EQ(WriteCalls(*server), writes_before);
  EXPECT_EQ(quiet["fields_written"], 0);
  EXPECT_EQ(static_cast<int64_t>(none.total), quiet["api_calls"].get<int64_t>()) << Routes(none);
  EXPECT_LE(none.total, 20u) << Routes(none);
  EXPECT_LE(none.total * 100, quiet["minimum_calls"].get<uint64_t>() * 105)
      << Routes(none) << quiet["minimum_calls_detail"].dump();

  // 1 % of the companies edited, 0.1 % of the deals (about 3 per company) won.
  CrmReader crm(server->url());
  crm.Call("POST", "/_sandbox/touch", {{"type", "companies"}, {"count", kCompanies / 100}});
  int won = 0;
  for (const auto& [id, p] : crm.All("deals", "dealstage")) {
    if (won == kCompanies * 3 / 1000) break;
    const std::string stage = p.value("dealstage", "");
    if (stage == "closedwon" || stage == "closedlost") continue;
    crm.Call("PATCH", "/crm/v3/objects/deals/" + id,
             {{"properties", {{"dealstage", "closedwon"}, {"closedate", Iso(NowMs())}}}});
    ++won;
  }
  ASSERT_GT(won, 0);
  json s;
  const uint64_t writes_small = WriteCalls(*server);
  CallCount small = CountCalls(*server, [&] { s = engine.Sync(false); });
  EXPECT_EQ(static_cast<int64_t>(small.total), s["api_calls"].get<int64_t>()) << Routes(small);
  EXPECT_EQ(static_cast<int64_t>(WriteCalls(*server) - writes_small), s["write_batches"]);
  EXPECT_GT(s["write_batches"].get<int64_t>(), 0);  // writes without a property check
  EXPECT_GT(s["fact_records"].get<int64_t>(), 0);
  EXPECT_GT(s["fact_link_reads"].get<int64_t>(), 0);  // the edited companies' links
  EXPECT_LE(small.total * 100, s["minimum_calls"].get<uint64_t>() * 105)
      << Routes(small) << s["minimum_calls_detail"].dump();
  for (const auto& [route, n] : small.by_route) {
    EXPECT_EQ(route.find("/properties/"), std::string::npos) << Routes(small);
  }
  EXPECT_EQ(s["write_errors"], 0);
}

// The full facts refresh reads the links per chunk of 1,000 companies, but each kind's records in
// full batches of 100 across the chunks: 2,500 companies (3 chunks) cost ceil(records / 100)
// batch reads per kind, as one read of all of them would, and every record is stored.
TEST(SyncFactsReads, AFullRefreshReadsEachKindsRecordsInFullBatchesAcrossChunks) {
  constexpr int kCompanies = 2500;
  TempDir dir;
  TestHost host;
  auto server = StartSandbox(kCompanies, /*seed=*/5);
  const std::string rules = (dir.path / "rules.json").string();
  std::filesystem::copy_file(KAM_EXAMPLE_RULES_FILE, rules);
  engine::SyncEngineOptions o = EngineOptions(server->url(), dir.path, rules);
  o.config.facts = "changed";
  engine::SyncEngine engine(host, o);
  engine.Provision();
  json first;
  CallCount c = CountCalls(*server, [&] { first = engine.Sync(false); });
  EXPECT_EQ(first["write_errors"], 0);
  auto st = store::Store::Open(o.config.state_path);
  store::FactsStore facts(*st);
  for (const char* kind : {"deals", "contacts", "meetings"}) {
    const int64_t records = facts.CountRecords(kind);
    EXPECT_GT(records, 1000) << kind;
    const std::string route = std::string("POST /crm/v3/objects/") + kind + "/batch/read";
    EXPECT_EQ(static_cast<int64_t>(c.by_route[route]), (records + 99) / 100)
        << kind << "\n" << Routes(c);
    EXPECT_EQ(c.by_route["POST /crm/v4/associations/companies/" + std::string(kind) +
                         "/batch/read"],
              3u)
        << kind;
  }
}

}  // namespace
}  // namespace kam::testing
