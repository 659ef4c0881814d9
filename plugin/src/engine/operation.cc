#include "operation.h"

#include <nlohmann/json.hpp>

#include "kam/addin.h"

namespace kam::engine {
namespace {

// Every operation DESIGN section 3 names; each must be in the table, built or not.
constexpr std::string_view kOperationNames[] = {
    "version",         "rules.check", "rules.test",  "rules.explain", "rules.eval", "rules.bench",
    "jsonlogic.apply", "sync",        "dry_run",     "status",        "provision",  "report",
    "sandbox.serve",   "demo",        "state.check", "doctor",        "init",
};

nlohmann::json Unimplemented(OpContext&, const nlohmann::json&) {
  throw OpError(StatusCode::kUnimplemented, "operation is not implemented yet");
}

OpTable BuildTable() {
  OpTable table;
  RegisterVersionOps(table);
  RegisterRulesOps(table);
  RegisterSandboxOps(table);
  RegisterSyncOps(table);
  RegisterDoctorOps(table);
  RegisterInitOps(table);
#ifdef KAM_WITH_SYNC
  RegisterStateOps(table);
#endif
  for (std::string_view name : kOperationNames) {
    table.try_emplace(std::string(name), &Unimplemented);
  }
  return table;
}

}  // namespace

const OpTable& Operations() {
  static const OpTable table = BuildTable();
  return table;
}

bool IsUnimplemented(OpFn fn) { return fn == &Unimplemented; }

}  // namespace kam::engine
