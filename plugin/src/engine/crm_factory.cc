// MakeCrm: the one place that turns config.crm into a CRM adapter behind the port (crm.h).
// A new CRM adds its factory declaration to crm.h and one line here.
#include "config.h"
#include "crm.h"

namespace kam::engine {

StatusOr<std::unique_ptr<Crm>> MakeCrm(const EngineConfig& config, Host& host,
                                       const SecretFn& get_secret) {
  if (config.crm == "hubspot") return MakeHubSpotCrm(config, host, get_secret);
  if (config.crm == "salesforce") return MakeSalesforceCrm(config, host, get_secret);
  return Status(StatusCode::kInvalidArgument,
                "config /crm: this build cannot talk to \"" + config.crm +
                    "\" (supported: hubspot, salesforce)",
                "/crm");
}

}  // namespace kam::engine
