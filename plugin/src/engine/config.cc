// Strict parsing of the instance configuration (see config.h and README.md).
#include "config.h"

#include <nlohmann/json.hpp>
#include <set>

#include "kam/addin.h"
#include "kam/http/url_policy.h"
#include "operation.h"

namespace kam::engine {
namespace {

using nlohmann::json;

[[noreturn]] void Bad(const std::string& pointer, const std::string& message) {
  throw OpError(StatusCode::kInvalidArgument, "config " + pointer + ": " + message, pointer);
}

void CheckKeys(const json& object, const std::string& pointer,
               const std::set<std::string>& allowed) {
  if (!object.is_object()) Bad(pointer.empty() ? "/" : pointer, "expected an object");
  for (const auto& [key, value] : object.items()) {
    if (key.rfind("//", 0) == 0) continue;  // a comment ("//", "// rules"): kam init writes them
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      Bad(pointer + "/" + key, "unknown key \"" + key + "\" (allowed here: " + list + ")");
    }
  }
}

std::string Str(const json& o, const std::string& key, const std::string& pointer,
                const std::string& fallback) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_string()) Bad(pointer + "/" + key, "expected a string");
  return o[key].get<std::string>();
}

bool Bool(const json& o, const std::string& key, const std::string& pointer, bool fallback) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_boolean()) Bad(pointer + "/" + key, "expected true or false");
  return o[key].get<bool>();
}

double Num(const json& o, const std::string& key, const std::string& pointer, double fallback,
           double lo, double hi) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_number()) Bad(pointer + "/" + key, "expected a number");
  double v = o[key].get<double>();
  if (v < lo || v > hi) {
    Bad(pointer + "/" + key,
        "out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
  }
  return v;
}

ConflictPolicy ParsePolicy(const json& v, const std::string& pointer) {
  if (!v.is_string()) Bad(pointer, "expected \"respect\", \"overwrite\" or \"report\"");
  std::string s = v.get<std::string>();
  if (s == "respect") return ConflictPolicy::kRespect;
  if (s == "overwrite") return ConflictPolicy::kOverwrite;
  if (s == "report") return ConflictPolicy::kReport;
  Bad(pointer, "unknown policy \"" + s + "\" (use respect, overwrite or report)");
}

// Secret names (security): a configuration may only ask the host for secrets named KAM_…, so
// that a config file cannot send, say, AWS_SECRET_ACCESS_KEY to a base_url it chooses.
void CheckSecretName(const std::string& name, const std::string& pointer) {
  bool ok = name.size() > 4 && name.rfind("KAM_", 0) == 0;
  for (char ch : name) {
    ok = ok && ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_');
  }
  if (!ok) {
    Bad(pointer, "the secret name \"" + name +
                     "\" must start with KAM_ and hold only A-Z, 0-9 and _ (for example "
                     "KAM_HUBSPOT_TOKEN); the add-in asks the host only for KAM_ secrets");
  }
}

// Transport (security): plain http:// only to a loopback address, checked on the resolved
// addresses; everything else must be https://.
void CheckBaseUrl(const std::string& url, const std::string& pointer) {
  http::Status s = http::CheckTransportSecurity(url);
  if (!s.ok()) Bad(pointer, s.error().message);
}

void ParseSalesforce(const json& s, SalesforceConfig* c) {
  const std::string p = "/salesforce";
  CheckKeys(
      s, p,
      {"login_url", "instance_url", "api_version", "auth", "token_secret", "tls", "retry",
       "daily_reserve_share", "max_connections", "task_key_mode", "task_status", "page_size"});
  c->login_url = Str(s, "login_url", p, s.contains("instance_url") ? "" : c->login_url);
  c->instance_url = Str(s, "instance_url", p, "");
  if (c->login_url.empty() && c->instance_url.empty()) {
    Bad(p,
        "set login_url (the OAuth host, e.g. https://login.salesforce.com) or instance_url "
        "(the org's My Domain URL)");
  }
  if (!c->login_url.empty()) CheckBaseUrl(c->login_url, p + "/login_url");
  if (!c->instance_url.empty()) CheckBaseUrl(c->instance_url, p + "/instance_url");
  c->api_version = Str(s, "api_version", p, c->api_version);
  if (!c->api_version.empty() && c->api_version.front() == 'v') c->api_version.erase(0, 1);
  {
    // "NN.N", at least 46.0 (upsert through sObject Collections).
    const std::string& v = c->api_version;
    size_t dot = v.find('.');
    bool ok = dot != std::string::npos && dot > 0 && dot + 2 == v.size() && v[dot + 1] == '0';
    for (size_t i = 0; ok && i < dot; ++i) ok = v[i] >= '0' && v[i] <= '9';
    if (!ok || std::stoi(v.substr(0, dot)) < 46) {
      Bad(p + "/api_version",
          "expected a Salesforce API version like \"67.0\" (46.0 or newer), got \"" + v + "\"");
    }
  }
  c->token_secret = Str(s, "token_secret", p, c->token_secret);
  CheckSecretName(c->token_secret, p + "/token_secret");
  if (s.contains("auth")) {
    const json& a = s["auth"];
    const std::string ap = p + "/auth";
    CheckKeys(a, ap,
              {"flow", "client_id", "username", "audience", "key_secret", "client_secret_secret",
               "refresh_token_secret"});
    c->auth_flow = Str(a, "flow", ap, c->auth_flow);
    c->client_id = Str(a, "client_id", ap, "");
    c->username = Str(a, "username", ap, "");
    c->audience = Str(a, "audience", ap, "");
    c->key_secret = Str(a, "key_secret", ap, c->key_secret);
    CheckSecretName(c->key_secret, ap + "/key_secret");
    c->client_secret_secret = Str(a, "client_secret_secret", ap, c->client_secret_secret);
    CheckSecretName(c->client_secret_secret, ap + "/client_secret_secret");
    c->refresh_token_secret = Str(a, "refresh_token_secret", ap, c->refresh_token_secret);
    CheckSecretName(c->refresh_token_secret, ap + "/refresh_token_secret");
    if (!c->audience.empty()) CheckBaseUrl(c->audience, ap + "/audience");
  } else if (!s.contains("login_url") && s.contains("instance_url")) {
    c->auth_flow = "access_token";  // only an org URL: a ready token from token_secret
  }
  const std::string& f = c->auth_flow;
  if (f != "jwt" && f != "refresh_token" && f != "client_credentials" && f != "access_token") {
    Bad(p + "/auth/flow", "expected jwt, refresh_token, client_credentials or access_token");
  }
  if (f != "access_token" && c->client_id.empty()) {
    Bad(p + "/auth/client_id", "the " + f + " flow needs the connected app's consumer key");
  }
  if (f != "access_token" && c->login_url.empty()) {
    Bad(p + "/login_url", "the " + f + " flow needs the OAuth host (login_url)");
  }
  if (f == "jwt" && c->username.empty()) {
    Bad(p + "/auth/username", "the jwt flow needs the integration user's username");
  }
  if (f == "access_token" && c->instance_url.empty()) {
    Bad(p + "/instance_url", "the access_token flow needs the org's URL (instance_url)");
  }
  if (s.contains("tls")) {
    CheckKeys(s["tls"], p + "/tls", {"ca_file", "insecure"});
    c->ca_file = Str(s["tls"], "ca_file", p + "/tls", "");
    c->insecure = Bool(s["tls"], "insecure", p + "/tls", false);
  }
  if (s.contains("retry")) {
    const std::string rp = p + "/retry";
    CheckKeys(s["retry"], rp, {"max_attempts", "initial_delay_ms", "max_delay_ms"});
    c->max_attempts = static_cast<int>(Num(s["retry"], "max_attempts", rp, 5, 1, 20));
    c->initial_delay_ms =
        static_cast<int64_t>(Num(s["retry"], "initial_delay_ms", rp, 500, 0, 600000));
    c->max_delay_ms = static_cast<int64_t>(Num(s["retry"], "max_delay_ms", rp, 30000, 0, 3600000));
  }
  c->daily_reserve_share = Num(s, "daily_reserve_share", p, c->daily_reserve_share, 0, 0.95);
  c->max_connections = static_cast<int>(Num(s, "max_connections", p, c->max_connections, 1, 25));
  c->page_size = static_cast<int>(Num(s, "page_size", p, c->page_size, 200, 2000));
  c->task_key_mode = Str(s, "task_key_mode", p, c->task_key_mode);
  if (c->task_key_mode != "auto" && c->task_key_mode != "upsert" &&
      c->task_key_mode != "query_insert") {
    Bad(p + "/task_key_mode", "expected auto, upsert or query_insert");
  }
  if (s.contains("task_status")) {
    const std::string tp = p + "/task_status";
    CheckKeys(s["task_status"], tp, {"open", "completed"});
    c->task_status_open = Str(s["task_status"], "open", tp, c->task_status_open);
    c->task_status_completed = Str(s["task_status"], "completed", tp, c->task_status_completed);
    for (const char* k : {"open", "completed"}) {
      if (s["task_status"].contains(k) && Str(s["task_status"], k, tp, "").empty()) {
        Bad(tp + "/" + k, "must not be empty (leave it out for the org's own value)");
      }
    }
  }
}

void ParseProxy(const json& x, ProxyConfig* c) {
  const std::string p = "/proxy";
  CheckKeys(x, p, {"url", "url_secret", "no_proxy"});
  c->configured = true;
  c->url = Str(x, "url", p, "");
  c->url_secret = Str(x, "url_secret", p, "");
  c->no_proxy = Str(x, "no_proxy", p, "");
  if (!c->url.empty() && !c->url_secret.empty()) {
    Bad(p, "set url or url_secret, not both");
  }
  if (!c->url_secret.empty()) CheckSecretName(c->url_secret, p + "/url_secret");
  if (!c->url.empty()) {
    if (c->url.rfind("http://", 0) != 0) {
      Bad(p + "/url", "expected http://host:port (the proxy is reached with HTTP CONNECT; the "
                      "TLS session to the CRM runs end to end through it)");
    }
    if (c->url.find('@') != std::string::npos) {
      Bad(p + "/url",
          "proxy credentials do not belong in kam.json: put the whole URL "
          "(http://user:password@host:port) into a secret such as KAM_PROXY_URL and name it in "
          "proxy.url_secret");
    }
  }
}

}  // namespace

const char* ConflictPolicyName(ConflictPolicy policy) {
  switch (policy) {
    case ConflictPolicy::kRespect:
      return "respect";
    case ConflictPolicy::kOverwrite:
      return "overwrite";
    case ConflictPolicy::kReport:
      return "report";
  }
  return "respect";
}

ConflictPolicy EngineConfig::PolicyFor(const std::string& property) const {
  auto it = field_policies.find(property);
  return it == field_policies.end() ? default_policy : it->second;
}

EngineConfig ParseEngineConfig(const json& config) {
  EngineConfig c;
  if (config.is_null()) return c;
  CheckKeys(config, "",
            {"crm", "hubspot", "salesforce", "rules", "state", "conflicts", "full_pull_after_days",
             "overlap_minutes", "facts", "facts_full_refresh_hours", "batch_size", "task_type",
             "$schema", "comment", "config_dir", "retention_days", "proxy", "plan_chunk_accounts"});
  // The host passes the folder of the configuration file as config_dir; relative paths in the
  // file (rules, state, tls.ca_file) are relative to that folder, as an admin expects.
  const std::string config_dir = Str(config, "config_dir", "", "");
  auto resolve = [&config_dir](const std::string& path) {
    if (path.empty() || path[0] == '/' || config_dir.empty()) return path;
    return config_dir + "/" + path;
  };
  c.crm = Str(config, "crm", "", c.crm);
  if (c.crm != "hubspot" && c.crm != "salesforce") {
    Bad("/crm", "unsupported CRM \"" + c.crm + "\" (use hubspot or salesforce)");
  }
  if (config.contains("salesforce")) {
    ParseSalesforce(config["salesforce"], &c.salesforce);
  } else if (c.crm == "salesforce") {
    Bad("/salesforce",
        "\"crm\": \"salesforce\" needs a \"salesforce\" block (login_url, auth "
        "with client_id and username; see connector/salesforce/README.md)");
  }
  if (config.contains("hubspot")) {
    const json& h = config["hubspot"];
    const std::string p = "/hubspot";
    CheckKeys(h, p,
              {"base_url", "api_version", "api_prefix", "token_secret", "tls", "rate", "retry",
               "max_connections", "task_key_mode"});
    c.hubspot.base_url = Str(h, "base_url", p, c.hubspot.base_url);
    c.hubspot.api_version = Str(h, "api_version", p, c.hubspot.api_version);
    c.hubspot.api_version = Str(h, "api_prefix", p, c.hubspot.api_version);
    c.hubspot.token_secret = Str(h, "token_secret", p, c.hubspot.token_secret);
    CheckSecretName(c.hubspot.token_secret, p + "/token_secret");
    CheckBaseUrl(c.hubspot.base_url, p + "/base_url");
    if (h.contains("tls")) {
      CheckKeys(h["tls"], p + "/tls", {"ca_file", "insecure"});
      c.hubspot.ca_file = Str(h["tls"], "ca_file", p + "/tls", "");
      c.hubspot.insecure = Bool(h["tls"], "insecure", p + "/tls", false);
    }
    if (h.contains("rate")) {
      const std::string rp = p + "/rate";
      CheckKeys(
          h["rate"], rp,
          {"enabled", "window_share", "daily_reserve_share", "search_per_second", "initial_max"});
      c.hubspot.rate_enabled = Bool(h["rate"], "enabled", rp, true);
      c.hubspot.window_share = Num(h["rate"], "window_share", rp, 0.9, 0.05, 1.0);
      c.hubspot.daily_reserve_share = Num(h["rate"], "daily_reserve_share", rp, 0.1, 0, 0.95);
      c.hubspot.search_per_second =
          static_cast<int>(Num(h["rate"], "search_per_second", rp, 5, 0, 1000));
      c.hubspot.initial_max = static_cast<int>(Num(h["rate"], "initial_max", rp, 100, 0, 1e6));
    }
    if (h.contains("retry")) {
      const std::string rp = p + "/retry";
      CheckKeys(h["retry"], rp, {"max_attempts", "initial_delay_ms", "max_delay_ms"});
      c.hubspot.max_attempts = static_cast<int>(Num(h["retry"], "max_attempts", rp, 5, 1, 20));
      c.hubspot.initial_delay_ms =
          static_cast<int64_t>(Num(h["retry"], "initial_delay_ms", rp, 500, 0, 600000));
      c.hubspot.max_delay_ms =
          static_cast<int64_t>(Num(h["retry"], "max_delay_ms", rp, 30000, 0, 3600000));
    }
    c.hubspot.max_connections =
        static_cast<int>(Num(h, "max_connections", p, c.hubspot.max_connections, 1, 64));
    c.hubspot.task_key_mode = Str(h, "task_key_mode", p, c.hubspot.task_key_mode);
    if (c.hubspot.task_key_mode != "auto" && c.hubspot.task_key_mode != "upsert" &&
        c.hubspot.task_key_mode != "search_create") {
      Bad(p + "/task_key_mode", "expected auto, upsert or search_create");
    }
  }
  if (config.contains("proxy")) ParseProxy(config["proxy"], &c.proxy);
  c.rules_path = resolve(Str(config, "rules", "", ""));
  const std::string state = Str(config, "state", "", c.state_path);
  if (state.empty()) Bad("/state", "must not be empty");
  c.state_path = resolve(state);
  c.hubspot.ca_file = resolve(c.hubspot.ca_file);
  c.salesforce.ca_file = resolve(c.salesforce.ca_file);
  if (config.contains("conflicts")) {
    const json& k = config["conflicts"];
    CheckKeys(k, "/conflicts", {"default", "fields"});
    if (k.contains("default")) c.default_policy = ParsePolicy(k["default"], "/conflicts/default");
    if (k.contains("fields")) {
      if (!k["fields"].is_object()) Bad("/conflicts/fields", "expected an object");
      for (const auto& [field, v] : k["fields"].items()) {
        c.field_policies[field] = ParsePolicy(v, "/conflicts/fields/" + field);
      }
    }
  }
  c.full_pull_after_days =
      static_cast<int>(Num(config, "full_pull_after_days", "", c.full_pull_after_days, 0, 3650));
  c.overlap_ms = static_cast<int64_t>(Num(config, "overlap_minutes", "", 5, 0, 1440) * 60000);
  c.facts = Str(config, "facts", "", c.facts);
  if (c.facts != "all" && c.facts != "changed") Bad("/facts", "expected \"all\" or \"changed\"");
  c.facts_full_refresh_hours = static_cast<int>(
      Num(config, "facts_full_refresh_hours", "", c.facts_full_refresh_hours, 0, 24 * 3650));
  c.batch_size = static_cast<int>(Num(config, "batch_size", "", c.batch_size, 1, 100));
  c.plan_chunk_accounts =
      static_cast<int>(Num(config, "plan_chunk_accounts", "", c.plan_chunk_accounts, 1, 1'000'000));
  c.retention_days =
      static_cast<int>(Num(config, "retention_days", "", c.retention_days, 0, 36500));
  c.task_type = Str(config, "task_type", "", c.task_type);
  if (c.task_type != "TODO" && c.task_type != "CALL" && c.task_type != "EMAIL") {
    Bad("/task_type", "expected TODO, CALL or EMAIL");
  }
  return c;
}

}  // namespace kam::engine
