// Transient faults survived (issue 9 item 3), through the binary: `kam sandbox serve --faults …`
// injects 500s, 503s, dropped connections, malformed bodies and 207 partial failures; every
// sync must exit 0 (1 % each) or stop with a resumable error that the next run finishes (5 %
// each), and the CRM must end equal to a fault-free run of the same portal — judged from the
// sandbox, with the faults' own counters proving they fired.
#include <gtest/gtest.h>

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

// Default run: a small portal with 2 % each, one seed.
TEST(Faults, PENDING_SyncsUnderTwoPercentOfEachFaultExitZeroAndLeaveTheCrmAsAFaultFreeRun) {
  json by_kind = json::object();
  FaultsLeaveTheCrmAsAFaultFreeRun(200, 11, 0.02, true, &by_kind);
}

// The targets of issue 9 item 3: 2,000 companies, several seeds.
TEST(Faults, PENDING_SLOW_SyncsUnderOnePercentOfEachFaultExitZeroAndLeaveTheCrmAsAFaultFreeRun) {
  json by_kind = json::object();
  for (uint64_t seed : {1, 2, 3})
    FaultsLeaveTheCrmAsAFaultFreeRun(2000, seed, 0.01, true, &by_kind);
  ExpectEveryKindFired(by_kind);
  std::fprintf(stderr, "faults fired over 3 seeds: %s\n", by_kind.dump().c_str());
}

TEST(Faults,
     PENDING_SLOW_SyncsUnderFivePercentOfEachFaultFinishOrStopResumablyAndTheNextRunFinishes) {
  json by_kind = json::object();
  for (uint64_t seed : {4, 5, 6}) {
    FaultsLeaveTheCrmAsAFaultFreeRun(2000, seed, 0.05, false, &by_kind);
  }
  ExpectEveryKindFired(by_kind);
  std::fprintf(stderr, "faults fired over 3 seeds: %s\n", by_kind.dump().c_str());
}

}  // namespace
}  // namespace kam::e2e
