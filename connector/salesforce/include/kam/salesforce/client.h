// SalesforceClient: the Salesforce REST adapter the sync engine uses. OAuth 2 (JWT bearer,
// refresh token, client credentials, or a given access token), the incremental Account pull by
// SOQL keyset on (SystemModstamp, Id) with deletions, the facts rule files read as SOQL
// aggregates, writes through sObject Collections with per-record outcomes, tasks idempotent by
// KAM_Task_Key__c, provisioning of the add-in's custom fields through the Tooling API, and the
// daily API budget (Sforce-Limit-Info, /limits).
// Thread-safety: one client may be used from one thread at a time (the engine's sync thread).
// Secrets: read through AuthOptions::get_secret when needed, kept in memory only, never logged;
// private-key copies are wiped after signing.
#ifndef KAM_SALESFORCE_CLIENT_H_
#define KAM_SALESFORCE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kam/http/options.h"
#include "kam/salesforce/status.h"
#include "kam/salesforce/types.h"

namespace kam::salesforce {

// The newest API version CRM_API.md lists (Summer '26).
inline constexpr const char* kDefaultApiVersion = "67.0";

// Returns the secret called `name` (e.g. "KAM_SALESFORCE_KEY"), or nullopt when the host has
// none. Called whenever a credential is needed; the value is never logged.
using SecretGetter = std::function<std::optional<std::string>(std::string_view name)>;

struct AuthOptions {
  enum class Flow {
    kJwtBearer,          // RS256 assertion signed with the connected app's private key
    kRefreshToken,       // refresh token (authorization-code grant done once by the admin)
    kClientCredentials,  // client id + secret; login_url must be the org's My Domain
    kAccessToken,        // a ready access token (secret token_secret) + instance_url
  };
  Flow flow = Flow::kJwtBearer;
  SecretGetter get_secret;
  // Called with every access token and rotated refresh token the token endpoint hands out, so
  // that the host can redact them from logs (optional).
  std::function<void(std::string_view token)> on_token;
  // Where the token endpoint lives: https://login.salesforce.com, https://test.salesforce.com
  // (sandboxes) or the org's My Domain (https://acme.my.salesforce.com).
  std::string login_url = "https://login.salesforce.com";
  std::string client_id;     // the connected app's consumer key
  std::string username;      // JWT: the integration user (sub)
  std::string audience;      // JWT aud; empty = login_url (test.salesforce.com for sandboxes)
  int jwt_lifetime_s = 180;  // exp = now + this (Salesforce allows at most 3 minutes)
  // Secret names (the host resolves NAME and NAME_FILE).
  std::string private_key_secret = "KAM_SALESFORCE_KEY";  // JWT: PEM private key
  std::string client_secret_secret = "KAM_SALESFORCE_CLIENT_SECRET";
  std::string refresh_token_secret = "KAM_SALESFORCE_REFRESH_TOKEN";
  std::string token_secret = "KAM_SALESFORCE_TOKEN";  // kAccessToken
};

// kam::http options with Salesforce's defaults: retries on 429 and 500/502/503/504
// (UNKNOWN_EXCEPTION, SERVER_UNAVAILABLE), no per-second pacing (Salesforce has none; the
// 10 % daily reserve follows Sforce-Limit-Info), at most 4 requests in flight.
kam::http::ClientOptions DefaultHttpOptions();

struct SalesforceOptions {
  // TLS, timeouts, retries, pacing, log and cancel hooks of the HTTP layer. base_url is set by
  // the client (auth.login_url); max_connections caps concurrent requests (Salesforce limits
  // long-running requests per org).
  kam::http::ClientOptions http = DefaultHttpOptions();
  // The org's API host. Empty = the instance_url of the token response (required for
  // kAccessToken).
  std::string instance_url;
  std::string api_version = kDefaultApiVersion;  // "67.0"
  AuthOptions auth;
  TaskKeyMode task_key_mode = TaskKeyMode::kAuto;
  // Task Status that auto-close sets; "" = the org's own (TaskStatuses::completed, read once
  // from TaskStatus when a task is first completed).
  std::string completed_status = "Completed";
  // Bounds of one GET /query: the URL-encoded SOQL (the request line stays well under the
  // ~16 KB Salesforce accepts) and the ids in one IN list (which also keeps a GROUP BY
  // AccountId answer within one 2,000-row page: aggregate queries have no queryMore).
  std::size_t max_query_chars = 15'000;
  std::size_t max_in_ids = 2000;
};

class SalesforceClient {
 public:
  // Validates the options (URLs, TLS) and sets up the HTTP client. No request is sent yet.
  static Result<std::unique_ptr<SalesforceClient>> Create(SalesforceOptions options);
  ~SalesforceClient();
  SalesforceClient(const SalesforceClient&) = delete;
  SalesforceClient& operator=(const SalesforceClient&) = delete;

  // Gets an access token now (otherwise the first call does). Errors: kAuth with the token
  // endpoint's error and error_description.
  Status Authenticate();
  // The API host in use ("" before authentication when not configured).
  std::string instance_url() const;
  // The org id (00D...): from the token answer's identity URL, else SELECT Id FROM
  // Organization. Stable for the life of the org.
  Result<std::string> OrgId();

  // ---- Accounts ----
  // Accounts changed since `since` (a zero cursor = all accounts), by SOQL keyset on
  // (SystemModstamp, Id), in query windows of options.window_records rows paged by
  // nextRecordsUrl; deleted accounts (queryAll + IsDeleted) in each page's deleted_ids.
  // Records re-read in the overlap are skipped. Every page's cursor is safe to commit.
  Result<PullSummary> PullAccounts(const Cursor& since, const PullOptions& options,
                                   const PageCallback& on_page);
  // The same keyset pull over any sObject with a SystemModstamp (Opportunity, Contact, Event):
  // Id, SystemModstamp, IsDeleted (with include_deleted) and options.fields; the pages'
  // `accounts` hold the live records, `deleted_ids` the deleted ones. options.until_ms > 0
  // leaves out records modified after it.
  Result<PullSummary> PullRecords(const std::string& sobject, const Cursor& since,
                                  const PullOptions& options, const PageCallback& on_page);
  // Ids of accounts deleted (recycle bin, merged) with SystemModstamp >= since_ms (queryAll).
  Result<std::vector<std::string>> ListDeletedAccounts(int64_t since_ms);
  // Records by id (chunked IN lists); ids not returned are simply absent.
  Result<std::vector<Record>> ReadRecords(const std::string& sobject,
                                          const std::vector<std::string>& ids,
                                          const std::vector<std::string>& fields);
  // Records whose `key_field` is one of `values` (SELECT Id, <fields> FROM <sobject> WHERE
  // <key_field> IN (…), chunked, every page): e.g. the Opportunities of some Accounts.
  Result<std::vector<Record>> ReadRecordsWhere(const std::string& sobject,
                                               const std::string& key_field,
                                               const std::vector<std::string>& values,
                                               const std::vector<std::string>& fields);
  // Any SOQL query, following nextRecordsUrl to the end (query_all = /queryAll).
  Result<std::vector<Record>> Query(const std::string& soql, bool query_all = false);
  // PATCH /composite/sobjects in chunks of 200, allOrNone false. Every input has an outcome;
  // a chunk that fails as a whole gives each of its records that error. Error only when
  // nothing could be attempted (auth, quota, cancel on the first chunk).
  Result<WriteResult> UpdateRecords(const std::string& sobject,
                                    const std::vector<RecordUpdate>& updates);
  Result<WriteResult> UpdateAccounts(const std::vector<RecordUpdate>& updates) {
    return UpdateRecords("Account", updates);
  }

  // ---- Facts ----
  // Requested Account fields and aggregates (SOQL GROUP BY AccountId over Opportunity,
  // Contact, Event), chunked by id so each query fits max_query_chars and one 2,000-row page.
  Result<FactsResult> ReadFacts(const FactsRequest& request);

  // ---- Tasks ----
  // One task per key: keys in doubt are queried first (an existing task is left as it is);
  // the rest are upserted on KAM_Task_Key__c (kUpsert) or inserted (kQueryInsert; an insert
  // whose outcome is unknown is queried again, never repeated blindly). An existing task
  // without a WhatId gets its account linked (linked = true); nothing else of it changes.
  Result<TaskWriteResult> WriteTasks(const std::vector<TaskSpec>& tasks);
  // Tasks whose KAM_Task_Key__c is one of `keys` (Id, KAM_Task_Key__c, Status, IsClosed,
  // Subject, OwnerId, WhatId, ActivityDate).
  Result<std::vector<Record>> FindTasksByKey(const std::vector<std::string>& keys);
  // Sets Status = options.completed_status (or the org's: TaskStatusValues) on the open tasks
  // with these keys. Only tasks found by key are touched; outcomes are per key (a key with no
  // task is ok: nothing to close).
  Result<WriteResult> CompleteTasks(const std::vector<std::string>& keys);
  // The same by task id: only tasks that carry a KAM_Task_Key__c are touched (others fail
  // with kPermanent, left alone); an id Salesforce does not know fails with NOT_FOUND;
  // closed tasks are ok without a write.
  Result<WriteResult> CompleteTasksById(const std::vector<std::string>& task_ids);
  Result<TaskKeyMode> ResolveTaskKeyMode();
  // The org's Task Status values: SELECT ApiName, MasterLabel, IsClosed, IsDefault, SortOrder
  // FROM TaskStatus (one query, remembered). An org that refuses the query (a permanent error)
  // gets the defaults (from_org false); auth, quota and unavailable errors are returned.
  Result<TaskStatuses> TaskStatusValues();

  // ---- Provisioning ----
  // Creates the Account fields KAM_Score__c Number(5,1), KAM_Tier__c picklist (the tiers),
  // KAM_Breakdown__c long text, KAM_Next_Tier_Hint__c, KAM_Rules_Version__c text,
  // KAM_Scored_At__c DateTime, and KAM_Task_Key__c on Task (Activity), through the Tooling
  // API. Idempotent; missing tier values are added (never removed); a field that exists with
  // another type is a conflict, never changed. Reads everything back afterwards.
  Result<ProvisionReport> Provision(const ProvisionSpec& spec);
  // Read-only check of the same fields (two describe calls): kUnchanged when present with the
  // right type, kConflict for another type, kFailed "missing" when absent or not visible.
  Result<ProvisionReport> VerifyFields(const ProvisionSpec& spec);
  // A picklist field's active values and default (one describe call).
  Result<PicklistValues> DescribePicklist(const std::string& sobject, const std::string& field);

  // ---- Budget ----
  // GET /limits: the daily API allocation (also primes the daily reserve).
  Result<ApiLimits> GetLimits();
  ApiUsage Usage() const;
  void ResetUsage();

  const SalesforceOptions& options() const;

  struct Impl;

 private:
  explicit SalesforceClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Field API names the add-in writes (provisioned by Provision()).
inline constexpr const char* kScoreField = "KAM_Score__c";
inline constexpr const char* kTierField = "KAM_Tier__c";
inline constexpr const char* kBreakdownField = "KAM_Breakdown__c";
inline constexpr const char* kNextTierHintField = "KAM_Next_Tier_Hint__c";
inline constexpr const char* kRulesVersionField = "KAM_Rules_Version__c";
inline constexpr const char* kScoredAtField = "KAM_Scored_At__c";
inline constexpr const char* kTaskKeyField = "KAM_Task_Key__c";

// The add-in's own Account field of that name (exact API name) as Provision() creates it by
// default — type, size, label, description; KAM_Tier__c without values — or nullopt.
std::optional<FieldSpec> AddinAccountField(std::string_view name);

}  // namespace kam::salesforce

#endif  // KAM_SALESFORCE_CLIENT_H_
