// `kam --config kam.json provision|sync|status` with "crm": "salesforce" as an admin runs it —
// the binary, a config file with relative paths, the credential in the environment — against
// `kam sandbox serve --crm salesforce` in a child process with faults on, judged from the
// sandbox's side (SOQL and the /_sandbox/ admin API over a plain socket, tests/e2e/harness.h),
// plus the exit codes of a refused token (4) and a spent API allocation (5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness.h"

namespace kam::e2e {
namespace {

std::string Encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// SOQL through the sandbox's REST API with its static token, all pages.
std::vector<json> Query(Sandbox& sb, const std::string& soql) {
  std::vector<json> out;
  std::string target = "/services/data/v67.0/query?q=" + Encode(soql);
  for (;;) {
    HttpReply r = Http(sb.port(), "GET", target, "", "sandbox-token");
    EXPECT_EQ(r.status, 200) << soql << ": " << r.body;
    if (r.status != 200) break;
    json page = r.Json();
    for (auto& rec : page["records"]) out.push_back(rec);
    if (page.value("done", true)) break;
    target = page["nextRecordsUrl"].get<std::string>();
  }
  return out;
}

// Write calls the sandbox answered (collections, sObject and Tooling writes; not OAuth).
uint64_t SfWriteCalls(Sandbox& sb) {
  uint64_t n = 0;
  const json counters = sb.Counters();
  for (const auto& [route, count] : counters["by_route"].items()) {
    bool write = route.rfind("PATCH ", 0) == 0 || route.rfind("POST ", 0) == 0 ||
                 route.rfind("DELETE ", 0) == 0;
    if (write && route.find("oauth2") == std::string::npos) n += count.get<uint64_t>();
  }
  return n;
}

// conf/kam.json and conf/rules.json (the example rule file), paths relative to the config.
struct SfWorkspace {
  TempDir dir;
  std::map<std::string, std::string> env;

  explicit SfWorkspace(const json& salesforce) {
    fs::create_directories(dir.path() / "conf" / "state");
    fs::create_directories(dir.path() / "elsewhere");
    fs::create_directories(dir.path() / "io");
    fs::copy_file(ExampleRules(), dir.path() / "conf" / "rules.json");
    json config = {{"crm", "salesforce"},
                   {"salesforce", salesforce},
                   {"rules", "rules.json"},
                   {"state", "state/kam.db"}};
    std::ofstream(dir.path() / "conf" / "kam.json") << config.dump(2);
  }

  Outcome Kam(const std::vector<std::string>& args) const {
    Command c;
    c.argv = {KamBinary(), "--config", (dir.path() / "conf" / "kam.json").string()};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.env = env;
    c.unset_env = {"KAM_SALESFORCE_TOKEN", "KAM_SALESFORCE_CLIENT_SECRET", "KAM_SALESFORCE_KEY",
                   "KAM_SALESFORCE_KEY_FILE", "KAM_SALESFORCE_TOKEN_FILE"};
    for (const auto& [k, v] : env) {
      c.unset_env.erase(std::remove(c.unset_env.begin(), c.unset_env.end(), k), c.unset_env.end());
    }
    c.cwd = dir.path() / "elsewhere";
    c.timeout = std::chrono::minutes(5);
    return RunCommand(c, dir.path() / "io");
  }

  // Runs `args` until it exits 0, at most `tries` times; a run may stop resumably on a fault
  // that outlasts the retries (exit 6 unavailable, 5 quota, 7 write errors left in the outbox,
  // 1 provisioning incomplete: a create that failed through all its retries).
  Outcome UntilClean(const std::vector<std::string>& args, int tries, std::vector<int>* codes) {
    Outcome o;
    for (int i = 0; i < tries; ++i) {
      o = Kam(args);
      codes->push_back(o.exit_code);
      if (o.exit_code == 0) break;
      EXPECT_TRUE(o.exit_code == 1 || o.exit_code == 5 || o.exit_code == 6 || o.exit_code == 7)
          << o.Describe();
    }
    return o;
  }
};

TEST(SalesforceCli, ProvisionSyncAndStatusAgainstAFaultySandboxChild) {
  constexpr int kAccounts = 150;
  Sandbox sb({kAccounts,
              42,
              "500=0.03,503=0.03,drop=0.01,partial=0.05,expired=0.02",
              {"--crm", "salesforce"}});
  SfWorkspace ws({{"login_url", sb.url()},
                  {"auth", {{"flow", "client_credentials"}, {"client_id", "kam-cli-test"}}},
                  {"retry", {{"initial_delay_ms", 5}, {"max_delay_ms", 100}}}});
  ws.env["KAM_SALESFORCE_CLIENT_SECRET"] = "sandbox-secret";

  std::vector<int> codes;
  Outcome p = ws.UntilClean({"provision"}, 6, &codes);
  ASSERT_EQ(p.exit_code, 0) << p.Describe();
  EXPECT_NE(p.out.find("KAM_Task_Key__c"), std::string::npos) << p.out;
  codes.clear();
  Outcome s = ws.UntilClean({"sync"}, 8, &codes);
  ASSERT_EQ(s.exit_code, 0) << s.Describe();

  // Judged from the CRM, with the faults off.
  sb.SetFaults("");
  auto accounts =
      Query(sb, "SELECT Id, KAM_Score__c, KAM_Tier__c, KAM_Rules_Version__c FROM Account");
  ASSERT_EQ(accounts.size(), static_cast<size_t>(kAccounts));
  std::set<std::string> tiers;
  for (const auto& a : accounts) {
    EXPECT_TRUE(a["KAM_Score__c"].is_number()) << a.dump();
    ASSERT_TRUE(a["KAM_Tier__c"].is_string()) << a.dump();
    tiers.insert(a["KAM_Tier__c"].get<std::string>());
    EXPECT_EQ(a["KAM_Rules_Version__c"], "2026.11-1") << a.dump();
  }
  EXPECT_GE(tiers.size(), 2u);
  auto tasks = Query(sb,
                     "SELECT Id, KAM_Task_Key__c, WhatId, OwnerId FROM Task "
                     "WHERE KAM_Task_Key__c != null");
  ASSERT_FALSE(tasks.empty());
  std::map<std::string, int> per_key;
  for (const auto& t : tasks) {
    per_key[t["KAM_Task_Key__c"].get<std::string>()]++;
    EXPECT_EQ(t["WhatId"].get<std::string>().substr(0, 3), "001") << t.dump();
    EXPECT_EQ(t["OwnerId"].get<std::string>().substr(0, 3), "005") << t.dump();
  }
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << key;

  // Everything is in place: the next sync writes nothing.
  uint64_t writes = SfWriteCalls(sb);
  Outcome again = ws.Kam({"sync"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(SfWriteCalls(sb), writes) << again.out;

  Outcome st = ws.Kam({"status"});
  EXPECT_EQ(st.exit_code, 0) << st.Describe();
  EXPECT_FALSE(st.out.empty());
}

TEST(SalesforceCli, ARefusedTokenExits4AndASpentAllocationExits5ThenResumes) {
  Sandbox sb({30, 42, "", {"--crm", "salesforce", "--daily-limit", "100000"}});
  // A ready access token in KAM_SALESFORCE_TOKEN.
  SfWorkspace ws(json{{"instance_url", sb.url()}});
  ws.env["KAM_SALESFORCE_TOKEN"] = "not-the-token";
  Outcome refused = ws.Kam({"sync"});
  EXPECT_EQ(refused.exit_code, 4) << refused.Describe();

  ws.env["KAM_SALESFORCE_TOKEN"] = "sandbox-token";
  Outcome p = ws.Kam({"provision"});
  ASSERT_EQ(p.exit_code, 0) << p.Describe();
  sb.Admin("POST", "/_sandbox/limits", {{"used", 100000}});
  uint64_t writes = SfWriteCalls(sb);
  Outcome spent = ws.Kam({"sync"});
  EXPECT_EQ(spent.exit_code, 5) << spent.Describe();
  EXPECT_EQ(SfWriteCalls(sb), writes);

  sb.Admin("POST", "/_sandbox/limits", {{"used", 0}});
  Outcome resumed = ws.Kam({"sync"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.Describe();
  auto accounts = Query(sb, "SELECT Id, KAM_Score__c FROM Account");
  ASSERT_EQ(accounts.size(), 30u);
  for (const auto& a : accounts) EXPECT_TRUE(a["KAM_Score__c"].is_number()) << a.dump();
}

}  // namespace
}  // namespace kam::e2e
