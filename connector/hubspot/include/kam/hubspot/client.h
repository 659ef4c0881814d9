// HubSpotClient: the HubSpot CRM adapter the sync engine uses. Companies (full and incremental
// pulls page by page, batch read, batch update), the aggregated facts rule files read, tasks
// (idempotent by kam_task_key), provisioning of the add-in's properties, owners, account details.
// Thread-safety: every method may be called from several threads at once (the auth state is
// locked; the HTTP layer is thread-safe, paces all calls through one rate limiter and counts them
// in one set of counters). Batch methods already spread their chunks over up to
// http.max_connections concurrent requests; RunConcurrently() runs the engine's own independent
// calls side by side. The hooks in HubSpotOptions (http.log, http.cancelled, http.on_secret,
// auth.get_secret, auth.on_token) are then called from several threads, possibly at once.
#ifndef KAM_HUBSPOT_CLIENT_H_
#define KAM_HUBSPOT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kam/http/options.h"
#include "kam/hubspot/status.h"
#include "kam/hubspot/transport.h"
#include "kam/hubspot/types.h"

namespace kam::hubspot {

// Returns the secret called `name` (e.g. "KAM_HUBSPOT_TOKEN"), or nullopt when the host has
// none. Called whenever a token is needed; never logged.
using SecretGetter = std::function<std::optional<std::string>(std::string_view name)>;

struct AuthOptions {
  enum class Kind {
    kPrivateAppToken,    // Bearer token of a private (static) app: secret `token_secret`
    kOAuthRefreshToken,  // OAuth 2: refresh token -> access token (kept in memory only)
  };
  Kind kind = Kind::kPrivateAppToken;
  SecretGetter get_secret;
  std::string token_secret = "KAM_HUBSPOT_TOKEN";
  // OAuth only.
  std::string client_id;
  std::string client_secret_secret = "KAM_HUBSPOT_CLIENT_SECRET";
  std::string refresh_token_secret = "KAM_HUBSPOT_REFRESH_TOKEN";
  std::string token_path;  // empty = "/oauth/v1/token" (or "/oauth/<date>/token")
  // Refresh this long before expires_in runs out.
  int64_t refresh_margin_ms = 60'000;
  // Called with every token the CRM hands out (OAuth access and refresh tokens), so that the
  // caller can redact them wherever text leaves (kam::http::Redactor). May be empty.
  std::function<void(std::string_view token)> on_token;
};

struct HubSpotOptions {
  // base_url (default "https://api.hubapi.com"), TLS, timeouts, retry, rate limit, log hook and
  // cancel hook of the HTTP layer.
  kam::http::ClientOptions http;
  // The API path family, one setting: "v3" = /crm/v3/... with /crm/v4/associations/...;
  // a date version such as "2026-03" = /crm/objects/2026-03/..., /crm/associations/2026-03/...
  std::string api_version = "v3";
  AuthOptions auth;
  // How tasks are written; kAuto reads the kam_task_key property definition once.
  TaskKeyMode task_key_mode = TaskKeyMode::kAuto;
  // Search body limit (CRM_API A7: keep the whole body under 3,000 characters).
  int max_search_body_chars = 3000;
};

class HubSpotClient {
 public:
  // A client over kam::http (options.http.base_url empty = "https://api.hubapi.com").
  static Result<std::unique_ptr<HubSpotClient>> Create(HubSpotOptions options);
  // A client over a given transport (tests, or a shared http client).
  static std::unique_ptr<HubSpotClient> Create(HubSpotOptions options,
                                               std::shared_ptr<Transport> transport);
  ~HubSpotClient();
  HubSpotClient(const HubSpotClient&) = delete;
  HubSpotClient& operator=(const HubSpotClient&) = delete;

  // ---- Companies ----
  // Every company by list paging (limit 100, `after`), page by page. The final cursor is
  // options.started_at_ms (or the largest hs_lastmodifieddate seen).
  Result<PullSummary> PullAllCompanies(const PullOptions& options, const PageCallback& on_page);
  // Companies modified since `since` (minus options.overlap_ms) by search on
  // hs_lastmodifieddate, ascending, de-duplicated by id; moves the window past the 10,000-result
  // cap and splits by id when more than 10,000 share one timestamp. Each page's cursor is safe
  // to resume from.
  Result<PullSummary> PullChangedCompanies(const Cursor& since, const PullOptions& options,
                                           const PageCallback& on_page);
  // Batch read (chunks of 100) of any object type; missing ids are reported, not an error.
  Result<BatchReadResult> ReadObjects(const std::string& object_type,
                                      const std::vector<std::string>& ids,
                                      const std::vector<std::string>& properties);
  Result<BatchReadResult> ReadCompanies(const std::vector<std::string>& ids,
                                        const std::vector<std::string>& properties);
  // Companies archived (deleted) at or after `since_ms` (list with archived=true).
  Result<std::vector<CrmObject>> ListArchivedCompanies(int64_t since_ms);
  // Batch update (chunks of 100) with per-record outcomes from 200/207 answers; a chunk that
  // fails as a whole reports each of its records as failed. Error only when nothing could be
  // attempted (e.g. 401 on the first chunk) or the call was cancelled. A written record carries
  // its id, timestamps and modification-time properties (ModifiedMs()), not the values written:
  // the answer repeats them in full, and they are skipped while it is parsed.
  Result<BatchWriteResult> UpdateCompanies(const std::vector<CompanyUpdate>& updates);

  // ---- Changed objects (incremental facts) ----
  // Records of `object_type` ("deals", "contacts", "meetings", any type with a last-modified
  // property) modified since `since`, by the same windowed keyset search as
  // PullChangedCompanies (hs_lastmodifieddate; lastmodifieddate for contacts), page size
  // options.search_page_size (HubSpot's maximum, 200, by default), past the 10,000 cap.
  Result<PullSummary> PullChangedObjects(const std::string& object_type, const Cursor& since,
                                         const PullOptions& options, const PageCallback& on_page);
  // The ids associated from each of `from_ids` (e.g. deals -> companies, so that changed facts
  // can be mapped to their companies): v4 association batch reads of 1,000 inputs, following
  // per-result paging; every input id is a key of the answer (empty list = none).
  Result<std::map<std::string, std::vector<std::string>>> ReadAssociatedIds(
      const std::string& from_type, const std::string& to_type,
      const std::vector<std::string>& from_ids);

  // ---- Facts ----
  // The requested properties and aggregates (kAggregateNames) of each company: v4 association
  // batch reads (<= 1,000 inputs, per-result paging) then object batch reads (<= 100).
  Result<FactsResult> ReadFacts(const FactsRequest& request);

  // ---- Tasks ----
  // Writes tasks idempotently by key (see TaskKeyMode); each is associated with its company
  // (type 192) and assigned to owner_id. Same key twice -> still one task. Keys marked in_doubt
  // are searched first and an existing task is left as it is (created = false).
  Result<TaskWriteResult> WriteTasks(const std::vector<TaskSpec>& tasks);
  // Tasks whose kam_task_key is one of `keys` (search IN, chunked so each body stays under the
  // size limit). Properties returned: kam_task_key, hs_task_status, hs_task_subject,
  // hubspot_owner_id, hs_timestamp plus `extra_properties`.
  Result<std::vector<CrmObject>> FindTasksByKey(
      const std::vector<std::string>& keys, const std::vector<std::string>& extra_properties = {});
  // Sets hs_task_status = COMPLETED on the given task ids (batch update, chunks of 100).
  Result<BatchWriteResult> CompleteTasks(const std::vector<std::string>& task_ids);
  // The mode WriteTasks uses (resolves kAuto by reading the property once).
  Result<TaskKeyMode> ResolveTaskKeyMode();
  // Resolves kAuto from a definition of kam_task_key the caller has just read (its
  // `hasUniqueValue`), so that WriteTasks makes no call of its own for it. No effect when the
  // mode is set by the options or already resolved. Thread-safe.
  void NoteTaskKeyUnique(bool unique);

  // ---- Provisioning ----
  // Creates the `kam` property group, the company properties (kam_score, kam_tier,
  // kam_breakdown, kam_next_tier_hint, kam_rules_version, kam_scored_at) and kam_task_key on
  // tasks. Idempotent: compares before creating; adds missing kam_tier options; a property that
  // exists with another type is reported as a conflict, never overwritten.
  Result<ProvisionReport> Provision(const ProvisionSpec& spec);

  // ---- Owners, account ----
  Result<std::vector<Owner>> ListOwners();
  Result<AccountDetails> GetAccountDetails();

  // ---- Concurrency ----
  // Runs independent jobs side by side, at most Concurrency() at a time, and returns each job's
  // Status in input order. Jobs may call any method of this client (e.g. UpdateCompanies of
  // several batches, ReadFacts of several company sets); requests stay within max_connections
  // and the rate limiter. A job that throws is reported as kInternal.
  std::vector<Status> RunConcurrently(const std::vector<std::function<Status()>>& jobs);
  // How many requests this client runs at once: http.max_connections over kam::http, 1 over a
  // transport that is not thread-safe.
  int Concurrency() const;

  // ---- Usage of this run ----
  ApiUsage Usage() const;
  void ResetUsage();

  const HubSpotOptions& options() const;

  struct Impl;

 private:
  explicit HubSpotClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Company properties the add-in writes (provisioned by Provision()).
inline constexpr const char* kScoreProperty = "kam_score";
inline constexpr const char* kTierProperty = "kam_tier";
inline constexpr const char* kBreakdownProperty = "kam_breakdown";
inline constexpr const char* kNextTierHintProperty = "kam_next_tier_hint";
inline constexpr const char* kRulesVersionProperty = "kam_rules_version";
inline constexpr const char* kScoredAtProperty = "kam_scored_at";
inline constexpr const char* kTaskKeyProperty = "kam_task_key";
inline constexpr const char* kPropertyGroup = "kam";

}  // namespace kam::hubspot

#endif  // KAM_HUBSPOT_CLIENT_H_
