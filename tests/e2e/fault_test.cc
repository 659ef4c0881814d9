// Transient faults survived (issue 9 item 3), through the binary: `kam sandbox serve --faults …`
// injects 500s, 503s, dropped connections, malformed bodies and 207 partial failures; every
// sync must exit 0 (1 % each) or stop with a resumable error that the next run finishes (5 %
// each), and the CRM must end equal to a fault-free run of the same portal — judged from the
// sandbox, with the faults' own counters proving they fired.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "scenario.h"

namespace kam::e2e {
namespace {

std::string Spec(double p) {
  std::string s;
  for (const char* kind : {"500", "503", "drop", "malformed", "partial"}) {
    if (!s.empty()) s += ",";
    s += std::string(kind) + "=" + std::to_string(p);
  }
  return s;
}

struct FaultResult {
  std::vector<Outcome> syncs;
  json faults_by_kind = json::object();
  uint64_t faults = 0;
};

// Provision (faults on; provisioning is idempotent, so an admin may run it again), then the
// syncs under faults. `strict`: every sync must exit 0. Otherwise a sync may stop with exit 5
// or 6 (resumable), and the run after it must finish.
FaultResult RunUnderFaults(Sandbox& sandbox, const Workspace& ws, int syncs, bool strict) {
  FaultResult r;
  Outcome p;
  for (int attempt = 0; attempt < 3; ++attempt) {
    p = ws.RunKam({"provision"});
    if (p.exit_code == 0) break;
  }
  EXPECT_EQ(p.exit_code, 0) << "provision under faults, 3 attempts: " << p.Describe();
  for (int i = 0; i < syncs; ++i) {
    Outcome o = ws.RunKam({"--json", "sync"});
    if (strict) {
      EXPECT_EQ(o.exit_code, 0) << "sync " << i + 1 << " under faults " << sandbox.spec().faults
                                << ": " << o.Describe();
    } else {
      EXPECT_TRUE(o.exit_code == 0 || o.exit_code == 5 || o.exit_code == 6)
          << "sync " << i + 1 << " did not stop with a resumable error: " << o.Describe();
      if (o.exit_code != 0) {
        EXPECT_FALSE(o.err.empty()) << "a stop without a message";
        Outcome next = ws.RunKam({"--json", "sync"});
        EXPECT_EQ(next.exit_code, 0)
            << "the run after a resumable stop did not finish: " << next.Describe();
        r.syncs.push_back(std::move(o));
        o = std::move(next);
      }
    }
    r.syncs.push_back(std::move(o));
  }
  json c = sandbox.Counters();
  r.faults = c.value("faults_injected", uint64_t{0});
  r.faults_by_kind = c.value("faults_by_kind", json::object());
  return r;
}

// One seed: the fault-free reference, the run under faults, then the comparison (faults off).
void FaultsLeaveTheCrmAsAFaultFreeRun(int accounts, uint64_t seed, double p, bool strict,
                                      json* faults_by_kind) {
  SCOPED_TRACE("seed " + std::to_string(seed) + ", " + Spec(p));
  Reference ref = RunReference(accounts, seed, false);
  Sandbox sandbox(SandboxSpec{accounts, seed, Spec(p)});
  Workspace ws(sandbox);
  FaultResult r = RunUnderFaults(sandbox, ws, 2, strict);
  EXPECT_GT(r.faults, 0u) << "no fault fired: the test proves nothing";
  for (const auto& [kind, n] : r.faults_by_kind.items()) {
    (*faults_by_kind)[kind] = faults_by_kind->value(kind, uint64_t{0}) + n.get<uint64_t>();
  }
  ::testing::Test::RecordProperty("faults_" + std::to_string(seed), r.faults_by_kind.dump());
  sandbox.SetFaults("");
  const json fp = Footprint(sandbox);
  EXPECT_EQ(fp["companies"].size(), ref.footprint["companies"].size());
  auto diff = Differences(ref.footprint, fp);
  if (!diff.empty()) {  // the clock may have moved a fact: see ReferenceAtTheRun
    Reference later = RunReference(accounts, seed, false);
    diff = Differences(ReferenceAtTheRun(ref.footprint, later.footprint, fp), fp);
  }
  EXPECT_TRUE(diff.empty()) << "the CRM after syncs under faults differs from a fault-free run:\n"
                            << Join(diff);
  auto wrong = CheckSettled(ws, sandbox);
  EXPECT_TRUE(wrong.empty()) << Join(wrong);
}

void ExpectEveryKindFired(const json& by_kind) {
  for (const char* kind : {"500", "503", "drop", "malformed", "partial"}) {
    EXPECT_GT(by_kind.value(kind, uint64_t{0}), 0u)
        << "the fault " << kind << " never fired: " << by_kind.dump();
  }
}

// The admin's run, as reported (issue 9): `kam sandbox serve --accounts 200 --faults
// 500=0.01,503=0.01,drop=0.01`, a kam.json with the defaults pointing at it, then `kam
// provision`, `kam sync` twice, `kam status` and `kam report --html`. Provisioning exited 6 after
// one 503 on a property-group create, and every sync then exited 3 with no kam_ field in the CRM.
// The sandbox's faults are drawn from its seed and the request sequence: seed 7 puts a 503 on
// the first create of provisioning (the admin's failure); by hand seeds 1-5 and 9, 14, 21, 22
// (other creates hit) pass too. 400 companies (the size of the failing sync): with the
// default "facts": "changed" the second sync reads no facts, and at 200 companies no fault hit the
// syncs at seed 7 (2 of the 3 faults hit them at 400). Judged from the sandbox: the properties and
// their types, every company's kam_ fields, one task per key, the CRM equal to a fault-free run,
// and a second sync that writes nothing.
TEST(Faults, TheAdminsProvisionSyncsStatusAndReportSurviveOnePercentOf500s503sAndDrops) {
  constexpr int kAccounts = 400;
  // KAM_E2E_FAULT_SEED tries another seed by hand (README); 7 is the admin's failure.
  const char* seed_env = std::getenv("KAM_E2E_FAULT_SEED");
  const bool own_seed = seed_env != nullptr && *seed_env != '\0';
  const uint64_t seed = own_seed ? std::stoull(seed_env) : 7;
  SCOPED_TRACE("seed " + std::to_string(seed));
  const std::string faults = "500=0.01,503=0.01,drop=0.01";
  Reference ref = RunReference(kAccounts, seed, false);
  Sandbox sandbox(SandboxSpec{kAccounts, seed, faults});
  // The admin's kam.json: the client's own retry and rate settings, not the harness's.
  Workspace ws(sandbox, {{"hubspot", {{"rate", nullptr}, {"retry", nullptr}}}});
  ASSERT_FALSE(ws.config()["hubspot"].contains("retry"));

  Outcome provision = ws.RunKam({"provision"});
  ASSERT_EQ(provision.exit_code, 0) << "kam provision: " << provision.Describe();
  EXPECT_EQ(provision.out.find("someone else"), std::string::npos) << provision.out;
  const uint64_t provision_faults = sandbox.Counters().value("faults_injected", uint64_t{0});
  if (!own_seed) {
    EXPECT_GT(provision_faults, 0u) << "no fault hit provisioning: the seed no longer reproduces "
                                       "the admin's failure";
  }
  Outcome sync1 = ws.RunKam({"--json", "sync"});
  EXPECT_EQ(sync1.exit_code, 0) << "first sync: " << sync1.Describe();
  const json before_second = sandbox.Counters();
  Outcome sync2 = ws.RunKam({"--json", "sync"});
  EXPECT_EQ(sync2.exit_code, 0) << "second sync: " << sync2.Describe();
  const json after_second = sandbox.Counters();
  EXPECT_EQ(WriteCalls(after_second), WriteCalls(before_second))
      << "the second sync wrote; routes before: " << before_second["by_route"]
      << "\nafter: " << after_second["by_route"];
  Outcome status = ws.RunKam({"--json", "status"});
  EXPECT_EQ(status.exit_code, 0) << "status: " << status.Describe();
  Outcome report = ws.RunKam({"--json", "report", "--html", "report.html"});
  EXPECT_EQ(report.exit_code, 0) << "report: " << report.Describe();
  EXPECT_GT(fs::exists(ws.elsewhere() / "report.html")
                ? fs::file_size(ws.elsewhere() / "report.html")
                : 0u,
            0u)
      << "no HTML report";
  const uint64_t total_faults = after_second.value("faults_injected", uint64_t{0});
  if (!own_seed) {
    EXPECT_GT(total_faults, provision_faults) << "no fault hit the syncs";
  }
  ::testing::Test::RecordProperty("faults", after_second.value("faults_by_kind", json()).dump());

  // The judge reads with the faults off.
  sandbox.SetFaults("");
  // The properties, with the types the add-in writes.
  const std::map<std::string, std::string> types = {
      {"kam_score", "number"},         {"kam_tier", "enumeration"},
      {"kam_breakdown", "string"},     {"kam_next_tier_hint", "string"},
      {"kam_rules_version", "string"}, {"kam_scored_at", "datetime"}};
  for (const auto& [name, type] : types) {
    json p = sandbox.Api("GET", "/crm/v3/properties/companies/" + name);
    EXPECT_EQ(p.value("type", ""), type) << name << ": " << p.dump();
    EXPECT_EQ(p.value("groupName", ""), "kam") << name;
  }
  json tier = sandbox.Api("GET", "/crm/v3/properties/companies/kam_tier");
  std::set<std::string> options;
  for (const auto& o : tier["options"]) options.insert(o.value("value", ""));
  std::ifstream rules_in(ExampleRules());
  const json rules = json::parse(rules_in);
  for (const auto& t : rules["tiers"]) {
    EXPECT_TRUE(options.count(t["id"].get<std::string>())) << "kam_tier lacks the tier " << t["id"];
  }
  json key = sandbox.Api("GET", "/crm/v3/properties/tasks/kam_task_key");
  EXPECT_EQ(key.value("type", ""), "string");
  EXPECT_TRUE(key.value("hasUniqueValue", false)) << key.dump();

  // Every company has its kam_ fields (kam_scored_at included).
  std::string after;
  int companies = 0;
  for (;;) {
    json page = sandbox.Api("GET",
                            "/crm/v3/objects/companies?limit=100&properties=kam_score,kam_tier,"
                            "kam_breakdown,kam_rules_version,kam_scored_at" +
                                (after.empty() ? "" : "&after=" + after));
    for (const auto& c : page["results"]) {
      ++companies;
      for (const char* f :
           {"kam_score", "kam_tier", "kam_breakdown", "kam_rules_version", "kam_scored_at"}) {
        const json v = c["properties"].value(f, json());
        EXPECT_TRUE(v.is_string() && !v.get<std::string>().empty())
            << "company " << c["id"] << " has no " << f;
      }
    }
    if (!page.contains("paging")) break;
    after = page["paging"]["next"]["after"].get<std::string>();
  }
  EXPECT_EQ(companies, kAccounts);

  // One task per key, on one company; the CRM as a fault-free run leaves it.
  const json fp = Footprint(sandbox);
  ASSERT_FALSE(fp["tasks"].empty()) << "no task with a kam_task_key in the CRM";
  for (const auto& [k, t] : fp["tasks"].items()) {
    EXPECT_EQ(t["count"], 1) << "task key " << k << " is in the CRM " << t["count"] << " times";
    EXPECT_EQ(t["companies"].size(), 1u) << "task " << k << ": " << t.dump();
  }
  auto diff = Differences(ref.footprint, fp);
  if (!diff.empty()) {  // the clock may have moved a fact: see ReferenceAtTheRun
    Reference later = RunReference(kAccounts, seed, false);
    diff = Differences(ReferenceAtTheRun(ref.footprint, later.footprint, fp), fp);
  }
  EXPECT_TRUE(diff.empty()) << "the CRM after the admin's run differs from a fault-free run:\n"
                            << Join(diff);
}

// Default run: a small portal with 2 % each, one seed.
TEST(Faults, SyncsUnderTwoPercentOfEachFaultExitZeroAndLeaveTheCrmAsAFaultFreeRun) {
  json by_kind = json::object();
  FaultsLeaveTheCrmAsAFaultFreeRun(200, 11, 0.02, true, &by_kind);
}

// The targets of issue 9 item 3: 2,000 companies, several seeds.
TEST(Faults, SLOW_SyncsUnderOnePercentOfEachFaultExitZeroAndLeaveTheCrmAsAFaultFreeRun) {
  json by_kind = json::object();
  for (uint64_t seed : {1, 2, 3})
    FaultsLeaveTheCrmAsAFaultFreeRun(2000, seed, 0.01, true, &by_kind);
  ExpectEveryKindFired(by_kind);
  std::fprintf(stderr, "faults fired over 3 seeds: %s\n", by_kind.dump().c_str());
}

TEST(Faults, SLOW_SyncsUnderFivePercentOfEachFaultFinishOrStopResumablyAndTheNextRunFinishes) {
  json by_kind = json::object();
  for (uint64_t seed : {4, 5, 6}) {
    FaultsLeaveTheCrmAsAFaultFreeRun(2000, seed, 0.05, false, &by_kind);
  }
  ExpectEveryKindFired(by_kind);
  std::fprintf(stderr, "faults fired over 3 seeds: %s\n", by_kind.dump().c_str());
}

}  // namespace
}  // namespace kam::e2e
