// `kam demo`: starts the sandbox CRM with seeded companies, provisions, syncs with the example
// key-account rule file (embedded at build time), tells the story for a newcomer, changes data as
// people would (a deal won, a meeting logged, a KAM editing a tier by hand), syncs again and shows
// that only changed accounts were written, the hand edit was kept and no task was duplicated.
#ifndef KAM_ENGINE_DEMO_H_
#define KAM_ENGINE_DEMO_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "operation.h"

namespace kam::engine {

struct DemoOptions {
  int accounts = 3000;
  uint64_t seed = 42;
  std::string crm = "hubspot";  // the sandbox to tell the story on: hubspot or salesforce
};

// Runs the whole demo; the result holds the figures and the story in "text".
nlohmann::json RunDemo(Host& host, const DemoOptions& options);

// The example rule file packaging/examples/rules/key-accounts.json, embedded at build time
// (empty when the file did not exist at configure time).
std::string_view ExampleRules();

}  // namespace kam::engine

#endif  // KAM_ENGINE_DEMO_H_
