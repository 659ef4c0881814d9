// A small driver that runs one sync in its own process, so that the crash test can kill it
// (KAM_TEST_CRASH_AT=<n>: the driver's checkpoint hook raises SIGKILL at the n-th checkpoint).
// Usage: kam_sync_driver URL STATE_DB RULES_FILE [BATCH_SIZE]
// Prints the run summary as JSON on stdout; exit 0 on success, 1 on an OpError, 2 on bad usage.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sync_engine.h"

namespace {

class DriverHost : public kam::engine::Host {
 public:
  void Log(int32_t, std::string_view) override {}
  void Progress(std::string_view, uint64_t, uint64_t) override {}
  std::optional<std::string> GetSecret(std::string_view) override {
    return std::string("sandbox-token");
  }
  bool IsCancelled() override { return false; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URL STATE_DB RULES_FILE [BATCH_SIZE]\n", argv[0]);
    return 2;
  }
  DriverHost host;
  kam::engine::SyncEngineOptions o;
  o.config.hubspot.base_url = argv[1];
  o.config.hubspot.rate_enabled = false;
  o.config.state_path = argv[2];
  o.config.rules_path = argv[3];
  if (argc > 4) o.config.batch_size = std::atoi(argv[4]);
  // KAM_TEST_FACTS=changed: incremental facts (sync_facts_test.cc).
  if (const char* facts = std::getenv("KAM_TEST_FACTS")) o.config.facts = facts;
  if (const char* at = std::getenv("KAM_TEST_CRASH_AT"); at != nullptr && std::atoll(at) > 0) {
    const int64_t crash_at = std::atoll(at);
    o.on_checkpoint = [crash_at](const char*, int64_t n) {
      if (n == crash_at) raise(SIGKILL);
    };
  }
  bool full = false;
  try {
    kam::engine::SyncEngine engine(host, o);
    nlohmann::json s = engine.Sync(full);
    std::cout << s.dump() << std::endl;
    return 0;
  } catch (const kam::engine::OpError& e) {
    std::fprintf(stderr, "sync failed: %s\n", e.status().ToString().c_str());
    return 1;
  }
}
