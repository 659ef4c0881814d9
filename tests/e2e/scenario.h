// Shared steps of the fault and crash tests: the fault-free reference, what people do in the CRM
// between two syncs, and the checks that a portal has settled.
#ifndef KAM_TESTS_E2E_SCENARIO_H_
#define KAM_TESTS_E2E_SCENARIO_H_

#include <string>
#include <vector>

#include "harness.h"

namespace kam::e2e {

// What people do between two syncs, identical on every sandbox of the same seed (ids are chosen
// by rank, values from what the CRM holds): deals and margins change the score of a few
// companies, two KAMs set a tier by hand, late payers pay on time (their open add-in tasks
// must be completed), new detractors appear (new tasks), one company is archived (its add-in
// tasks are completed). Returns a line per edit for failure messages.
std::vector<std::string> PeopleEdit(Sandbox& sandbox);

// The fault-free, uninterrupted run of the same portal: a fresh sandbox (no faults), provision,
// a full sync; with `incremental`, then PeopleEdit and a second sync. The CRM's footprint after
// the last sync, and how long that sync took (seconds).
struct Reference {
  json footprint;
  double seconds = 0;       // the last sync
  double full_seconds = 0;  // the first sync
};
Reference RunReference(int accounts, uint64_t seed, bool incremental, const json& config = {});

// Facts move with the clock: the sandbox seeds deals closed N days ago at random times of day,
// so a won deal leaves "the last 12 months" at some moment of today, possibly between the
// reference run and the run under test (seen: seed 5, a 136,422 EUR deal, 20:24 UTC). Each
// account and task of `actual` is compared with `later` (a reference taken after the run) where
// it equals it, else with `before`: the expectation at the moment of the run, per key.
json ReferenceAtTheRun(const json& before, const json& later, const json& actual);

// Runs kam and requires exit 0; throws with the outcome otherwise.
Outcome MustRun(const Workspace& ws, const std::vector<std::string>& args, const char* what);

// After the run under test: the outbox is empty (`kam status --json`) and one more sync exits 0
// and makes no write call (sandbox counters). Returns what is wrong, empty when settled.
std::vector<std::string> CheckSettled(const Workspace& ws, Sandbox& sandbox);

}  // namespace kam::e2e

#endif  // KAM_TESTS_E2E_SCENARIO_H_
