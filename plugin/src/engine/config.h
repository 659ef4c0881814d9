// The instance configuration (kam.json, given to create() and seen by operations as ctx.config):
// which CRM, how to reach it, the rule file, the state file, the conflict policy per field and
// pull settings. Parsed strictly: an unknown key or a wrong type is an OpError naming the JSON
// pointer. The README in this folder documents every key.
#ifndef KAM_ENGINE_CONFIG_H_
#define KAM_ENGINE_CONFIG_H_

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace kam::engine {

// What to do with a field a person edited in the CRM since this add-in last wrote it.
enum class ConflictPolicy {
  kRespect,    // keep the person's value, do not write, report the conflict (default)
  kOverwrite,  // write our value over it, report and audit the overwrite
  kReport,     // never write this field; only report what would change
};
const char* ConflictPolicyName(ConflictPolicy policy);

struct HubSpotConfig {
  std::string base_url = "https://api.hubapi.com";
  std::string api_version = "v3";
  std::string token_secret = "KAM_HUBSPOT_TOKEN";
  std::string ca_file;
  bool insecure = false;
  bool rate_enabled = true;
  double window_share = 0.9;
  double daily_reserve_share = 0.10;
  int search_per_second = 5;
  int initial_max = 100;  // assumed window before the CRM's headers arrive; 0 = unpaced
  int max_attempts = 5;
  int64_t initial_delay_ms = 500;
  int64_t max_delay_ms = 30'000;
  int max_connections = 4;
  std::string task_key_mode = "auto";  // auto | upsert | search_create
};

// The "salesforce" block (connector/salesforce/README.md, "Configuration").
struct SalesforceConfig {
  // Where the OAuth token endpoint lives (login.salesforce.com, test.salesforce.com or the
  // org's My Domain); "" with flow access_token = instance_url only.
  std::string login_url = "https://login.salesforce.com";
  std::string instance_url;  // "" = the token answer's instance_url
  std::string api_version = "67.0";
  std::string auth_flow = "jwt";  // jwt | refresh_token | client_credentials | access_token
  std::string client_id;          // the connected app's consumer key
  std::string username;           // jwt: the integration user
  std::string audience;           // jwt aud; "" = login_url
  // Secret names (the host answers NAME or the file named by NAME_FILE).
  std::string key_secret = "KAM_SALESFORCE_KEY";  // jwt: PEM private key
  std::string client_secret_secret = "KAM_SALESFORCE_CLIENT_SECRET";
  std::string refresh_token_secret = "KAM_SALESFORCE_REFRESH_TOKEN";
  std::string token_secret = "KAM_SALESFORCE_TOKEN";  // access_token
  std::string ca_file;
  bool insecure = false;
  double daily_reserve_share = 0.10;  // of the 24-hour API allocation kept for others
  int max_attempts = 5;
  int64_t initial_delay_ms = 500;
  int64_t max_delay_ms = 30'000;
  int max_connections = 4;
  std::string task_key_mode = "auto";  // auto | upsert | query_insert
  // Task Status for new / auto-closed tasks; "" = the org's own (TaskStatus: the default open
  // value; "Completed" if it closes a task, else the first closing value).
  std::string task_status_open;
  std::string task_status_completed;
  int page_size = 2000;  // query page (Sforce-Query-Options batchSize), 200..2,000
};

// The "proxy" block: the outbound HTTP proxy (CONNECT) for every https:// call to the CRM. When
// the block is present the environment (HTTPS_PROXY, NO_PROXY) is not consulted.
struct ProxyConfig {
  bool configured = false;  // the block is present
  std::string url;          // "http://host:port", no credentials ("" = no proxy)
  std::string url_secret;   // a KAM_ secret holding "http://user:password@host:port"
  std::string no_proxy;     // hosts reached directly, as NO_PROXY
};

struct EngineConfig {
  std::string crm = "hubspot";  // hubspot | salesforce
  HubSpotConfig hubspot;
  SalesforceConfig salesforce;
  ProxyConfig proxy;
  std::string rules_path;  // the rule file ("" = none configured)
  std::string state_path = "kam-state.db";
  ConflictPolicy default_policy = ConflictPolicy::kRespect;
  std::map<std::string, ConflictPolicy> field_policies;  // CRM property -> policy
  int full_pull_after_days = 7;
  int64_t overlap_ms = 5 * 60 * 1000;
  // "all": read the aggregates (deals, contacts, meetings) of every account each run;
  // "changed": incremental facts (facts.cc) — deals, contacts and meetings changed since the last
  // run are pulled by their own modification time and mapped to their companies, the state file
  // keeps what the aggregates read, and only affected accounts are computed again (time windows
  // are computed locally). A CRM port without incremental facts reads all of them instead.
  std::string facts = "changed";
  // "changed": every this many hours all facts are read again as a whole (the safety net for
  // what a modification time does not show, e.g. a deleted deal). 0 = only on a full pull.
  int facts_full_refresh_hours = 24;
  int batch_size = 100;  // records per batch write (HubSpot: at most 100)
  // The plan is built, diffed and staged per this many accounts (one transaction each); only
  // a compact record per account is kept for the whole portfolio (plan.cc).
  int plan_chunk_accounts = 100;
  // Retention: archived/deleted companies, audit rows, runs and score history older than this
  // are pruned after each sync (Store::Prune). 0 = keep everything.
  int retention_days = 90;
  std::string task_type = "TODO";

  ConflictPolicy PolicyFor(const std::string& property) const;
};

// Parses `config` ({} gives the defaults). Throws OpError(StatusCode::kInvalidArgument, message,
// "/json/pointer") on an unknown key, a wrong type or a bad value. Relative paths (rules, state,
// hubspot.tls.ca_file, salesforce.tls.ca_file) are relative to `config_dir` (set by the host to the
// configuration file's folder), else to the working directory of the process.
EngineConfig ParseEngineConfig(const nlohmann::json& config);

}  // namespace kam::engine

#endif  // KAM_ENGINE_CONFIG_H_
