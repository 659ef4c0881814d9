// HubSpotClient::Impl, shared by the .cc files that implement the client's parts (companies,
// facts, tasks, provisioning): authenticated JSON calls over the Transport.
#ifndef KAM_HUBSPOT_SRC_CLIENT_IMPL_H_
#define KAM_HUBSPOT_SRC_CLIENT_IMPL_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codec.h"
#include "kam/http/redact.h"
#include "kam/hubspot/client.h"

namespace kam::hubspot {

struct HubSpotClient::Impl {
  // The tokens are wiped, not just freed (kam/addin.h: the plugin wipes its copies).
  ~Impl() {
    kam::http::WipeSecret(access_token);
    kam::http::WipeSecret(refresh_token);
  }

  HubSpotOptions options;
  std::shared_ptr<Transport> transport;
  internal::ApiPaths paths;

  // Auth state, in memory only.
  std::string access_token;
  std::chrono::steady_clock::time_point access_expiry{};
  bool token_loaded = false;
  std::string refresh_token;  // OAuth: as last returned by the token endpoint

  std::optional<TaskKeyMode> resolved_task_mode;

  // One authenticated JSON call. `body` empty = no body. Non-2xx -> Error (with endpoint).
  // A 401 under OAuth refreshes the access token once and repeats the call.
  Result<internal::Json> Call(const std::string& method, const std::string& target,
                              const std::string& body, bool idempotent, bool search = false);
  // Like Call, also returning the HTTP status (200 vs 207 vs 201).
  Result<std::pair<int, internal::Json>> CallWithStatus(const std::string& method,
                                                        const std::string& target,
                                                        const std::string& body, bool idempotent,
                                                        bool search = false);

  Status EnsureToken(bool force_refresh);
  Status RefreshOAuth();
  void Log(kam::http::LogLevel level, const std::string& message) const;
  bool Cancelled() const;

  // Search one page of `object_type`.
  Result<internal::SearchPage> Search(const std::string& object_type,
                                      const internal::SearchRequest& request);
  // Batch read, chunks of 100; missing ids collected.
  Result<BatchReadResult> BatchRead(const std::string& object_type,
                                    const std::vector<std::string>& ids,
                                    const std::vector<std::string>& properties);
  // v4 association batch read: from_ids -> to ids, following per-result paging.
  Result<std::map<std::string, std::vector<std::string>>> ReadAssociations(
      const std::string& from_type, const std::string& to_type,
      const std::vector<std::string>& from_ids);
};

// An Error for an answer whose shape we did not expect.
Error BadAnswer(const std::string& endpoint, const std::string& what);

}  // namespace kam::hubspot

#endif  // KAM_HUBSPOT_SRC_CLIENT_IMPL_H_
