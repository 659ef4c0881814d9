// The admin's path through the binary (issue 9 item 2): `kam --config kam.json provision | sync |
// sync --dry-run | status | report` against `kam sandbox serve` in a child process, the config
// file's relative paths resolved against its own folder, judged from what the CRM holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "harness.h"

namespace kam::e2e {
namespace {

constexpr int kAccounts = 100;

class AdminPath : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = std::make_unique<Sandbox>(SandboxSpec{kAccounts, 42, ""});
    ws_ = std::make_unique<Workspace>(*sandbox_);
  }

  // Runs kam and expects exit 0.
  Outcome Ok(const std::vector<std::string>& args) {
    Outcome o = ws_->RunKam(args);
    EXPECT_EQ(o.exit_code, 0) << "kam " << args[0] << ": " << o.Describe();
    return o;
  }

  std::unique_ptr<Sandbox> sandbox_;
  std::unique_ptr<Workspace> ws_;
};

// Provision twice, then a dry run: the properties exist, the second provision and the dry run
// make no write call, and the sync then does what the dry run announced.
TEST_F(AdminPath, ProvisionIsIdempotentADryRunWritesNothingAndTheSyncDoesWhatItAnnounced) {
  Ok({"provision"});
  for (const char* name : {"kam_score", "kam_tier", "kam_breakdown", "kam_next_tier_hint",
                           "kam_rules_version", "kam_scored_at"}) {
    EXPECT_NO_THROW(sandbox_->Api("GET", std::string("/crm/v3/properties/companies/") + name))
        << name;
  }
  EXPECT_NO_THROW(sandbox_->Api("GET", "/crm/v3/properties/tasks/kam_task_key"));
  const uint64_t provisioned = WriteCalls(sandbox_->Counters());
  Ok({"provision"});
  EXPECT_EQ(WriteCalls(sandbox_->Counters()), provisioned)
      << "the second provision wrote: " << sandbox_->Counters()["by_route"];

  const json before = Footprint(*sandbox_);
  Outcome dry = Ok({"--json", "sync", "--dry-run"});
  EXPECT_EQ(WriteCalls(sandbox_->Counters()), provisioned) << "the dry run wrote to the CRM";
  const json after_dry = Footprint(*sandbox_);
  EXPECT_EQ(after_dry, before) << Join(Differences(before, after_dry));
  json d = dry.Json();
  ASSERT_TRUE(d.is_object()) << dry.Describe();
  EXPECT_EQ(d.value("accounts_to_write", -1), kAccounts) << d.dump().substr(0, 2000);
  ASSERT_GT(d.value("tasks_to_create", 0), 0) << d.dump().substr(0, 2000);
  // The text form, for a person.
  Outcome text = Ok({"sync", "--dry-run"});
  EXPECT_NE(text.out.find("Tier changes"), std::string::npos) << text.out;
  EXPECT_EQ(WriteCalls(sandbox_->Counters()), provisioned);

  Ok({"sync"});
  const json fp = Footprint(*sandbox_);
  EXPECT_EQ(static_cast<int>(fp["tasks"].size()), d["tasks_to_create"].get<int>())
      << "tasks in the CRM against the dry run's announcement";
}

// The first sync through the binary, judged from the CRM; then a second sync, status and
// report; all with a config file whose relative paths resolve against its own folder while kam
// runs elsewhere (the bug fixed in 28308b1: every config file failed).
TEST_F(AdminPath, TheSyncThroughTheBinaryWritesTheCrmAndASecondSyncWritesNothing) {
  const json before = Footprint(*sandbox_);
  Ok({"provision"});
  Outcome sync = Ok({"--json", "sync"});
  const json fp = Footprint(*sandbox_);

  // Every company is scored in the CRM.
  ASSERT_EQ(fp["companies"].size(), static_cast<size_t>(kAccounts));
  int scored = 0;
  for (const auto& [id, f] : fp["companies"].items()) {
    if (f["kam_score"].is_string() && f["kam_tier"].is_string()) ++scored;
  }
  EXPECT_EQ(scored, kAccounts) << "companies without kam_score/kam_tier in the CRM";

  // One task per key, open, on exactly one company, assigned to that company's owner.
  std::map<std::string, std::string> owner;
  std::string after;
  for (;;) {
    json page = sandbox_->Api("GET",
                              "/crm/v3/objects/companies?limit=100&properties="
                              "hubspot_owner_id" +
                                  (after.empty() ? "" : "&after=" + after));
    for (const auto& r : page["results"]) {
      owner[r["id"].get<std::string>()] = r["properties"].value("hubspot_owner_id", "");
    }
    if (!page.contains("paging")) break;
    after = page["paging"]["next"]["after"].get<std::string>();
  }
  ASSERT_FALSE(fp["tasks"].empty()) << "no task with a kam_task_key in the CRM";
  for (const auto& [key, t] : fp["tasks"].items()) {
    EXPECT_EQ(t["count"], 1) << "task key " << key << " is in the CRM more than once";
    ASSERT_EQ(t["companies"].size(), 1u) << "task " << key << " is not on exactly one company";
    EXPECT_EQ(t["owner"], owner[t["companies"][0].get<std::string>()]) << key;
    EXPECT_EQ(t["status"], "NOT_STARTED") << key;
    EXPECT_TRUE(t["subject"].is_string() && t["due"].is_string()) << key << ": " << t.dump();
  }
  // People's own tasks are untouched.
  EXPECT_EQ(fp["others"], before["others"]) << Join(Differences(before, fp));
  json s = sync.Json();
  ASSERT_TRUE(s.is_object()) << sync.Describe();
  EXPECT_EQ(s.value("tasks_created", -1), static_cast<int>(fp["tasks"].size()))
      << "the summary disagrees with the CRM";

  // Relative paths: rules and state next to kam.json, nothing in the working folder.
  EXPECT_TRUE(fs::exists(ws_->state_file())) << ws_->state_file();
  EXPECT_TRUE(fs::is_empty(ws_->elsewhere())) << "kam wrote into its working folder";

  // A second sync makes no write call.
  const json counters = sandbox_->Counters();
  Outcome again = Ok({"--json", "sync"});
  const json counters2 = sandbox_->Counters();
  EXPECT_EQ(WriteCalls(counters2), WriteCalls(counters))
      << "write calls by route before: " << counters["by_route"]
      << "\nafter: " << counters2["by_route"];
  const json fp2 = Footprint(*sandbox_);
  EXPECT_EQ(fp2, fp) << Join(Differences(fp, fp2));
  json s2 = again.Json();
  ASSERT_TRUE(s2.is_object()) << again.Describe();
  EXPECT_EQ(s2.value("fields_written", -1), 0);
  EXPECT_EQ(s2.value("tasks_created", -1), 0);

  // Status with a relative --config path from yet another folder.
  fs::path other = ws_->root() / "other" / "deeper";
  fs::create_directories(other);
  Command c = ws_->Kam({"--json", "status"});
  c.argv[2] = fs::relative(ws_->config_file(), other).string();
  ASSERT_EQ(c.argv[2].rfind("../", 0), 0u) << c.argv[2];
  c.cwd = other;
  Outcome st = RunCommand(c, ws_->io_dir());
  ASSERT_EQ(st.exit_code, 0) << st.Describe();
  json j = st.Json();
  ASSERT_TRUE(j.is_object()) << st.Describe();
  ASSERT_GE(j["runs"].size(), 2u) << "status did not find the state of the two syncs: " << j;
  EXPECT_EQ(j["runs"][0]["outcome"], "ok") << j;
  EXPECT_EQ(j["outbox"]["pending"], 0) << j;
  EXPECT_EQ(j["outbox"]["failed"], 0) << j;
  EXPECT_EQ(j.value("accounts", -1), kAccounts) << j;
  EXPECT_TRUE(fs::is_empty(other));
  // `cd conf && kam --config kam.json status`: a bare file name (its folder is ".").
  Command here = ws_->Kam({"--json", "status"});
  here.argv[2] = "kam.json";
  here.cwd = ws_->config_dir();
  Outcome st_here = RunCommand(here, ws_->io_dir());
  ASSERT_EQ(st_here.exit_code, 0) << st_here.Describe();
  EXPECT_EQ(st_here.Json()["runs"].size(), j["runs"].size()) << st_here.out;
  // Status as text through $KAM_CONFIG instead of --config.
  Command e = ws_->Kam({});
  e.argv = {KamBinary(), "status"};
  e.env["KAM_CONFIG"] = ws_->config_file().string();
  e.unset_env.erase(std::remove(e.unset_env.begin(), e.unset_env.end(), "KAM_CONFIG"),
                    e.unset_env.end());
  Outcome viaenv = RunCommand(e, ws_->io_dir());
  EXPECT_EQ(viaenv.exit_code, 0) << viaenv.Describe();
  EXPECT_NE(viaenv.out.find("Outbox"), std::string::npos) << viaenv.out;

  // The report counts what the CRM holds per tier.
  std::map<std::string, int64_t> crm_tiers;
  for (const auto& [id, f] : fp2["companies"].items()) {
    crm_tiers[f["kam_tier"].is_string() ? f["kam_tier"].get<std::string>() : "(none)"]++;
  }
  // A report from before, readable by all (an older kam wrote it with the umask's mode).
  const fs::path html = ws_->elsewhere() / "report.html";
  { std::ofstream(html) << "stale"; }
  fs::permissions(html, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  Outcome r = Ok({"--json", "report", "--html", "report.html"});
  json rj = r.Json();
  ASSERT_TRUE(rj.is_object()) << r.Describe();
  EXPECT_EQ(rj.value("accounts", -1), kAccounts);
  std::map<std::string, int64_t> reported;
  for (const auto& t : rj["tiers"]) {
    if (t["accounts"].get<int64_t>() > 0) reported[t.value("tier", "?")] = t["accounts"];
  }
  EXPECT_EQ(reported, crm_tiers);
  // --html is a command-line path: relative to the working folder, as for any command.
  // The page holds CRM data: owner-only whatever the umask, the old file replaced whole, no
  // temporary file left behind.
  ASSERT_TRUE(fs::exists(html));
  EXPECT_EQ(fs::status(html).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(html);
  std::string head(9, '\0');
  in.read(head.data(), 9);
  EXPECT_EQ(head, "<!doctype") << "the stale report was not replaced";
  EXPECT_FALSE(fs::exists(ws_->elsewhere() / "report.html.tmp"));

  // Not a plain file: written through in place, never renamed over. A link the admin made stays
  // a link (its target gets the page, owner-only).
  const fs::path target = ws_->elsewhere() / "target.html";
  { std::ofstream(target) << "stale"; }
  fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  fs::create_symlink("target.html", ws_->elsewhere() / "linked.html");
  Ok({"report", "--html", "linked.html"});
  EXPECT_TRUE(fs::is_symlink(ws_->elsewhere() / "linked.html"));
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream linked(target);
  std::string linked_head(9, '\0');
  linked.read(linked_head.data(), 9);
  EXPECT_EQ(linked_head, "<!doctype");
  // /dev/stderr (kam logs nothing there on success; stdout has the text report): the page goes
  // to the stream, and /dev/stderr is still the link it was, with no temporary file beside it.
  Outcome piped = Ok({"report", "--html", "/dev/stderr"});
  EXPECT_EQ(piped.err.rfind("<!doctype html>", 0), 0u) << piped.Describe();
  EXPECT_NE(piped.err.find("</html>"), std::string::npos) << piped.Describe();
  EXPECT_TRUE(fs::is_symlink("/dev/stderr"));
  EXPECT_FALSE(fs::exists("/dev/stderr.tmp"));

  // Without the token the page is written all the same, with owner ids: the missing secret is a
  // warning that says where to put it, not an error beside exit 0.
  Command no_token = ws_->Kam({"report", "--html", "ids.html"});
  no_token.env.erase("KAM_HUBSPOT_TOKEN");
  no_token.unset_env.push_back("KAM_HUBSPOT_TOKEN");
  Outcome ids = RunCommand(no_token, ws_->io_dir());
  EXPECT_EQ(ids.exit_code, 0) << ids.Describe();
  EXPECT_NE(ids.err.find("kam: warning: no secret KAM_HUBSPOT_TOKEN"), std::string::npos)
      << ids.Describe();
  EXPECT_EQ(ids.err.find("error"), std::string::npos) << ids.Describe();
  EXPECT_TRUE(fs::exists(ws_->elsewhere() / "ids.html"));
}

TEST_F(AdminPath, ABadConfigExitsThreeAndNamesTheJsonPointer) {
  json c = ws_->config();
  c["hubspot"]["tls"] = {{"cafile", "/etc/ssl/ca.pem"}};
  ws_->WriteConfig(c);
  const uint64_t before = sandbox_->Counters().value("total", 0);
  for (const char* verb : {"sync", "provision", "status"}) {
    Outcome o = ws_->RunKam({verb});
    EXPECT_EQ(o.exit_code, 3) << verb << ": " << o.Describe();
    EXPECT_NE(o.err.find("/hubspot/tls/cafile"), std::string::npos) << verb << ": " << o.err;
  }
  EXPECT_EQ(sandbox_->Counters().value("total", 0), before) << "a bad config reached the CRM";

  c = ws_->config();
  c["hubspot"].erase("tls");
  c["conflicts"] = {{"default", "ignore"}};
  ws_->WriteConfig(c);
  Outcome o = ws_->RunKam({"sync"});
  EXPECT_EQ(o.exit_code, 3) << o.Describe();
  EXPECT_NE(o.err.find("/conflicts/default"), std::string::npos) << o.err;
}

TEST_F(AdminPath, AMissingRuleFileNextToTheConfigExitsThreeNamingIt) {
  fs::remove(ws_->config_dir() / "key-accounts.json");
  Outcome o = ws_->RunKam({"sync"});
  EXPECT_EQ(o.exit_code, 3) << o.Describe();
  EXPECT_NE(o.err.find("key-accounts.json"), std::string::npos) << o.err;
}

// A config file nested far deeper than any real one (a stack-overflow attempt) gets the
// add-in's clear error with its position, from every command, and never reaches the CRM.
TEST_F(AdminPath, AConfigNestedTwoHundredThousandLevelsDeepExitsThreeWithItsPosition) {
  std::string deep = "{\"x\": " + std::string(200'000, '[') + std::string(200'000, ']') + "}";
  std::ofstream(ws_->config_file(), std::ios::trunc) << deep;
  const uint64_t before = sandbox_->Counters().value("total", 0);
  for (const char* verb : {"sync", "status"}) {
    Outcome o = ws_->RunKam({verb});
    EXPECT_EQ(o.exit_code, 3) << verb << ": " << o.Describe();
    EXPECT_NE(o.err.find("nested deeper"), std::string::npos) << verb << ": " << o.err;
  }
  EXPECT_EQ(sandbox_->Counters().value("total", 0), before);
}

TEST_F(AdminPath, AWrongTokenExitsFour) {
  Command c = ws_->Kam({"sync"});
  c.env["KAM_HUBSPOT_TOKEN"] = "not-the-token";
  Outcome o = RunCommand(c, ws_->io_dir());
  EXPECT_EQ(o.exit_code, 4) << o.Describe();
}

}  // namespace
}  // namespace kam::e2e
