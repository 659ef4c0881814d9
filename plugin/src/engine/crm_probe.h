// A plain HTTP view of the configured HubSpot portal for the admin commands: `kam doctor`'s
// probes (which need the raw status, headers such as Date and X-HubSpot-RateLimit-*, and the
// transport's error kind), `kam init`'s token check, and the report's owner names. One attempt
// per request and short timeouts: an admin waits for the answer. The sync itself never uses it.
#ifndef KAM_ENGINE_CRM_PROBE_H_
#define KAM_ENGINE_CRM_PROBE_H_

#include <map>
#include <memory>
#include <string>

#include "config.h"
#include "kam/http/client.h"
#include "operation.h"

namespace kam::engine {

class CrmProbe {
 public:
  // The client for cfg.hubspot (base URL, TLS settings, proxy from the environment); the token
  // from the secret cfg.hubspot.token_secret, asked from the host (empty when there is none).
  // Errors: kInvalidArgument for settings the HTTP client refuses.
  static StatusOr<std::unique_ptr<CrmProbe>> Create(const EngineConfig& cfg, Host& host);
  ~CrmProbe();
  CrmProbe(const CrmProbe&) = delete;
  CrmProbe& operator=(const CrmProbe&) = delete;

  bool has_token() const { return !token_.empty(); }
  const EngineConfig& config() const { return cfg_; }

  // GET target (a path on the base URL) with the token; any HTTP status is a Response (no
  // retries), transport failures are http::Error.
  http::Result<http::Response> Get(const std::string& target);

  // The owners path for the configured API version ("/crm/v3/owners" or "/crm/owners/<date>").
  std::string OwnersPath() const;

 private:
  CrmProbe(EngineConfig cfg, std::unique_ptr<http::Client> client, std::string token);
  EngineConfig cfg_;
  std::unique_ptr<http::Client> client_;
  std::string token_;
};

// Owner id -> "First Last" (or the e-mail when a name is empty) from the owners API, every page.
// Errors: the HTTP error or status as a message for the report's note.
StatusOr<std::map<std::string, std::string>> FetchOwnerNames(CrmProbe& probe);

}  // namespace kam::engine

#endif  // KAM_ENGINE_CRM_PROBE_H_
