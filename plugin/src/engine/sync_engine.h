// The sync engine (DESIGN section 4): pull -> snapshot -> evaluate -> diff -> outbox -> push ->
// record, over the state store, the rule engine and the CRM port (crm.h); plus the read-side
// operations (dry run, status, report) and provisioning. One file per phase (phases.h); this
// class only sequences them. Every public call opens the state file
// (taking its exclusive lock) and closes it before returning. Errors are OpError (status.h).
#ifndef KAM_ENGINE_SYNC_ENGINE_H_
#define KAM_ENGINE_SYNC_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "operation.h"

namespace kam::engine {

struct SyncEngineOptions {
  EngineConfig config;
  // Secrets (the HubSpot token); empty = host.GetSecret.
  std::function<std::optional<std::string>(std::string_view)> get_secret;
  // The rule file's text; empty = read config.rules_path.
  std::string rules_text;
  std::string rules_name = "rules.json";  // file name for diagnostics when rules_text is used
  // The wall clock in epoch milliseconds; empty = the system clock. Tests move it (a second
  // sync "six hours later"). The rules and the facts' windows see the run's UTC day, not its
  // minute (RunContext::eval_now_ms).
  std::function<int64_t()> clock;
  // Test hook for crash safety: called at every checkpoint (every page, batch and commit
  // boundary of pull, evaluate and push) with its name and its 1-based number in this engine's
  // life. The crash tests' driver raises SIGKILL at the n-th; the library has no kill switch of
  // its own (nothing in a release build reads KAM_TEST_CRASH_AT).
  std::function<void(const char* where, int64_t n)> on_checkpoint;
};

class SyncEngine {
 public:
  SyncEngine(Host& host, SyncEngineOptions options);
  ~SyncEngine();
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  // One sync run; returns the run summary (with "text"). full = re-pull every company.
  nlohmann::json Sync(bool full);
  // Steps 1-4 without writing to the CRM: the impact for a person (tier changes, tasks to create
  // or complete, conflicts, fields to write), with "text".
  nlohmann::json DryRun(bool full);
  // Last runs, cursor age, outbox backlog, quota as last seen.
  nlohmann::json Status();
  // Creates the add-in's CRM properties (idempotent) and records whether task keys are unique.
  nlohmann::json Provision();
  // Portfolio report from the last sync's results; writes an HTML page when html_path is set.
  nlohmann::json Report(const std::string& html_path);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kam::engine

#endif  // KAM_ENGINE_SYNC_ENGINE_H_
