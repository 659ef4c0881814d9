// The operations behind kam_addin_api.invoke(): one function per operation name, grouped in
// ops_*.cc files by the module they front. An operation takes the parsed request and returns the
// JSON result, or throws OpError (the engine's StatusCode, message, location; status.h). The ABI
// layer (plugin/src/abi) is the only caller; it maps the StatusCode to a KAM_ status and turns any
// other exception into KAM_INTERNAL.
#ifndef KAM_ENGINE_OPERATION_H_
#define KAM_ENGINE_OPERATION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "status.h"

namespace kam::engine {

// The host's services (kam_host_api), safe to call when the host gave none.
class Host {
 public:
  virtual ~Host() = default;
  virtual void Log(int32_t level, std::string_view message) = 0;  // KAM_LOG_ levels
  virtual void Progress(std::string_view phase, uint64_t done, uint64_t total) = 0;
  // The secret `name` (e.g. "KAM_HUBSPOT_TOKEN"), or nullopt when the host has none.
  virtual std::optional<std::string> GetSecret(std::string_view name) = 0;
  virtual bool IsCancelled() = 0;
  // Redaction (redaction.h): replaces every secret this host handed over or was told of with
  // AddSecret, and token shapes, in `text`. The base class does nothing; RedactingHost does.
  virtual void Redact(std::string& text) { (void)text; }
  virtual void AddSecret(std::string_view secret) { (void)secret; }
};

// What an operation sees: the host and the instance configuration given at create().
struct OpContext {
  Host& host;
  const nlohmann::json& config;
};

using OpFn = nlohmann::json (*)(OpContext& ctx, const nlohmann::json& request);
using OpTable = std::map<std::string, OpFn, std::less<>>;

// Every operation name of DESIGN section 3, each mapped to its function. Names whose module is
// not built yet map to a function that throws StatusCode::kUnimplemented naming the operation.
const OpTable& Operations();

// True for the placeholder of an operation whose module is not built yet; the caller reports
// "unimplemented" with the operation's name.
bool IsUnimplemented(OpFn fn);

// Registration, one per ops_*.cc file.
void RegisterVersionOps(OpTable& table);  // version
void RegisterRulesOps(OpTable& table);    // rules.*, jsonlogic.apply
void RegisterSandboxOps(OpTable& table);  // sandbox.serve
void RegisterSyncOps(OpTable& table);     // sync, dry_run, status, provision, report, demo
void RegisterStateOps(OpTable& table);    // state.check (retention.cc)
void RegisterDoctorOps(OpTable& table);   // doctor (ops_doctor.cc)
void RegisterInitOps(OpTable& table);     // init (ops_init.cc)

}  // namespace kam::engine

#endif  // KAM_ENGINE_OPERATION_H_
