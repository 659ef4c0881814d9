// init: writes a commented kam.json for HubSpot or Salesforce, checks the token against the CRM
// and, when asked, provisions the add-in's properties. JSON has no comments: the file carries
// them as "//" members beside the keys they explain (the configuration parser ignores every
// member whose name starts with "//"). The host asks the questions; this operation never
// prompts (request keys say what to do).
#include "operation.h"

#ifdef KAM_WITH_SYNC

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config.h"
#include "crm.h"
#include "crm_probe.h"
#include "file_write.h"
#include "redaction.h"
#include "sync_engine.h"

namespace kam::engine {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
namespace fs = std::filesystem;

struct InitRequest {
  std::string file;
  std::string crm = "hubspot";
  std::string base_url;
  std::string token_secret;
  std::string rules;
  std::string state;
  bool provision = false;
  bool force = false;
};

InitRequest ParseRequest(const json& request) {
  if (!request.is_object())
    throw OpError(StatusCode::kInvalidArgument, "the request must be an object", "/");
  InitRequest r;
  for (const auto& [k, v] : request.items()) {
    const bool text = k == "file" || k == "crm" || k == "base_url" || k == "token_secret" ||
                      k == "rules" || k == "state";
    const bool flag = k == "provision" || k == "force";
    if (!text && !flag)
      throw OpError(StatusCode::kInvalidArgument, "unknown request key \"" + k + "\"", "/" + k);
    if ((text && !v.is_string()) || (flag && !v.is_boolean())) {
      throw OpError(StatusCode::kInvalidArgument, "request key \"" + k + "\" has the wrong type",
                    "/" + k);
    }
  }
  r.file = request.value("file", "");
  r.crm = request.value("crm", r.crm);
  r.base_url = request.value("base_url", "");
  r.token_secret = request.value("token_secret", "");
  r.rules = request.value("rules", "");
  r.state = request.value("state", "");
  r.provision = request.value("provision", false);
  r.force = request.value("force", false);
  if (r.file.empty())
    throw OpError(StatusCode::kInvalidArgument, "init needs the file to write", "/file");
  if (r.crm != "hubspot" && r.crm != "salesforce") {
    throw OpError(StatusCode::kInvalidArgument,
                  "unknown CRM \"" + r.crm + "\" (use hubspot or salesforce)", "/crm");
  }
  return r;
}

constexpr const char* kPackagedRules = "/usr/share/kam-addin/examples/rules/key-accounts.json";

std::string DefaultRules() {
  return fs::exists(kPackagedRules) ? kPackagedRules : "key-accounts.json";
}

// The commented configuration. Keys in the order an admin reads them.
ordered_json HubSpotConfig(const InitRequest& r) {
  ordered_json c;
  c["//"] =
      "KAM add-in configuration, written by `kam init`. Members named \"//\" are "
      "comments (kam ignores them). Every key: plugin/src/engine/README.md. Check the "
      "setup with `kam doctor`.";
  c["crm"] = "hubspot";
  c["// rules"] =
      "The rule file: criteria, tiers with capacities, tasks, writeback. Relative "
      "paths are relative to this file.";
  c["rules"] = r.rules.empty() ? DefaultRules() : r.rules;
  c["// state"] = "The state file (SQLite, mode 0600; holds CRM data). One per portal.";
  c["state"] = r.state.empty() ? "kam-state.db" : r.state;
  ordered_json h;
  h["// base_url"] =
      "https://api.hubapi.com for every HubSpot account; http:// only to a "
      "loopback address (the sandbox).";
  h["base_url"] = r.base_url.empty() ? "https://api.hubapi.com" : r.base_url;
  h["// token_secret"] =
      "Name of the secret holding the private app token. kam reads it from "
      "the environment variable of that name, or from the 0600 file named by "
      "<name>_FILE. Never put the token itself here.";
  h["token_secret"] = r.token_secret.empty() ? "KAM_HUBSPOT_TOKEN" : r.token_secret;
  c["hubspot"] = h;
  c["// conflicts"] =
      "A field a person edited since kam wrote it: respect (keep theirs), "
      "overwrite, or report only.";
  c["conflicts"] = {{"default", "respect"}};
  return c;
}

ordered_json SalesforceConfig(const InitRequest& r) {
  ordered_json c;
  c["//"] =
      "KAM add-in configuration for Salesforce, written by `kam init`. Members named "
      "\"//\" are comments (kam ignores them). Every key: plugin/src/engine/README.md. "
      "Check the setup with `kam doctor`.";
  c["crm"] = "salesforce";
  c["// rules"] =
      "The rule file: criteria, tiers with capacities, tasks, writeback. Relative "
      "paths are relative to this file.";
  c["rules"] = r.rules.empty() ? DefaultRules() : r.rules;
  c["// state"] = "The state file (SQLite, mode 0600; holds CRM data). One per org.";
  c["state"] = r.state.empty() ? "kam-state.db" : r.state;
  ordered_json s;
  if (!r.base_url.empty()) {
    // An org URL: a ready access token from the secret (the sandbox, or a token made elsewhere).
    s["// instance_url"] =
        "The org's URL; with only this set, kam uses a ready access token "
        "from token_secret (flow access_token).";
    s["instance_url"] = r.base_url;
    s["// token_secret"] =
        "Name of the secret holding the access token: the environment "
        "variable of that name, or <name>_FILE naming a 0600 file.";
    s["token_secret"] = r.token_secret.empty() ? "KAM_SALESFORCE_TOKEN" : r.token_secret;
  } else {
    s["// login_url"] =
        "https://login.salesforce.com, https://test.salesforce.com (sandboxes) "
        "or the org's My Domain.";
    s["login_url"] = "https://login.salesforce.com";
    ordered_json a;
    a["// flow"] =
        "jwt (connected app certificate), refresh_token, client_credentials or "
        "access_token. Replace the two placeholders below with the connected app's "
        "consumer key and the integration user.";
    a["flow"] = "jwt";
    a["client_id"] = "CONNECTED_APP_CONSUMER_KEY";
    a["username"] = "integration.user@example.com";
    a["// key_secret"] = "Name of the secret holding the connected app's PEM private key.";
    a["key_secret"] = r.token_secret.empty() ? "KAM_SALESFORCE_KEY" : r.token_secret;
    s["auth"] = a;
  }
  c["salesforce"] = s;
  return c;
}

// The token against HubSpot's owners API; one line on `out`. Returns ok, missing, rejected,
// missing_scopes or unreachable.
std::string CheckHubSpotToken(OpContext& ctx, const EngineConfig& cfg, std::ostringstream& out) {
  auto probe = CrmProbe::Create(cfg, ctx.host);
  if (!probe.ok()) {
    out << "Token: not checked: " << probe.status().message() << "\n";
    return "unreachable";
  }
  if (!(*probe)->has_token()) {
    out << "Token: not checked: the secret " << cfg.hubspot.token_secret
        << " is not set. Export it (or " << cfg.hubspot.token_secret
        << "_FILE naming a 0600 file), then run `kam doctor`.\n";
    return "missing";
  }
  auto reply = (*probe)->Get((*probe)->OwnersPath() + "?limit=1");
  if (reply.ok()) {
    out << "Token: accepted by " << cfg.hubspot.base_url << ".\n";
    return "ok";
  }
  if (reply.error().http_status == 401) {
    out << "Token: REJECTED by HubSpot (HTTP 401): store a valid private app token in "
        << cfg.hubspot.token_secret << ".\n";
    return "rejected";
  }
  if (reply.error().http_status == 403) {
    out << "Token: accepted, but it lacks the owners scope (HTTP 403); `kam doctor` lists "
           "every missing scope.\n";
    return "missing_scopes";
  }
  out << "Token: not checked, the CRM did not answer: " << reply.error().message << "\n";
  return "unreachable";
}

// Any other CRM: one read through the CRM port (the org id).
std::string CheckCrmToken(OpContext& ctx, const EngineConfig& cfg, std::ostringstream& out) {
  Host* h = &ctx.host;
  auto crm = MakeCrm(cfg, ctx.host, [h](std::string_view name) { return h->GetSecret(name); });
  if (!crm.ok()) {
    const bool missing = crm.status().code() == StatusCode::kUnauthenticated;
    out << "Token: not checked: " << crm.status().message() << "\n";
    return missing ? "missing" : "unreachable";
  }
  auto id = (*crm)->PortalId();
  if (id.ok()) {
    out << "Token: accepted (org " << *id << ").\n";
    return "ok";
  }
  if (id.error().code == StatusCode::kUnauthenticated) {
    out << "Token: REJECTED: " << id.error().ToString() << "\n";
    return "rejected";
  }
  out << "Token: not checked, the CRM did not answer: " << id.error().ToString() << "\n";
  return "unreachable";
}

json Init(OpContext& ctx, const json& request) {
  InitRequest r = ParseRequest(request);
  if (fs::exists(r.file) && !r.force) {
    throw OpError(StatusCode::kInvalidArgument,
                  r.file +
                      " exists; kam init does not overwrite it (use --force, or another "
                      "file)",
                  r.file);
  }
  ordered_json config = r.crm == "hubspot" ? HubSpotConfig(r) : SalesforceConfig(r);
  const std::string dir = fs::path(r.file).parent_path().string();
  if (!dir.empty()) fs::create_directories(dir);
  std::ostringstream out;
  json result = {{"file", r.file}, {"crm", r.crm}};
  bool ok = true;

  // Validate what we are about to write with the parser the add-in uses.
  json parsed = json::parse(config.dump());
  parsed["config_dir"] = dir.empty() ? "." : dir;
  EngineConfig cfg = ParseEngineConfig(parsed);  // throws with the bad key's pointer
  // Mode 0644: it holds no secret. Through a temporary file and a rename, or in place for a
  // path that is no plain file (file_write.h).
  if (const int err = ReplaceFile(r.file, config.dump(2) + "\n", 0644); err != 0) {
    throw OpError(StatusCode::kInvalidArgument,
                  "cannot write " + r.file + ": " + std::strerror(err), r.file);
  }
  out << "Wrote " << r.file << " (" << r.crm << "; comments are the \"//\" members).\n";

  const std::string token_state =
      r.crm == "hubspot" ? CheckHubSpotToken(ctx, cfg, out) : CheckCrmToken(ctx, cfg, out);
  ok = token_state == "ok" || token_state == "missing" || token_state == "not_checked";
  result["token"] = token_state;

  // The rule file is the admin's to write; a template naming one that is not there yet is fine,
  // but say so now rather than as a failure of the first provision or sync.
  std::error_code rules_ec;
  const bool rules_there = fs::exists(cfg.rules_path, rules_ec);
  result["rules"] = rules_there ? "ok" : "missing";
  if (!rules_there) {
    out << "Rules: " << cfg.rules_path << " does not exist yet. Write the rule file there, copy "
        << "the example (" << kPackagedRules << " in the package, "
        << "packaging/examples/rules/key-accounts.json in the source tree), or run `kam init "
        << "--force --rules FILE`.\n";
  }

  bool provisioned = false;
  if (r.provision && token_state == "ok" && !rules_there) {
    out << "Provisioning: skipped (needs the rule file); run `kam provision` once it exists.\n";
    ok = false;  // asked for and not done
  } else if (r.provision && token_state == "ok") {
    SyncEngineOptions o;
    o.config = cfg;
    try {
      SyncEngine engine(ctx.host, o);
      json p = engine.Provision();
      provisioned = p.value("ok", false);
      out << p.value("text", "");
      if (!out.str().empty() && out.str().back() != '\n') out << "\n";
    } catch (const OpError& e) {  // e.g. the rule file: the configuration is written all the same
      out << "Provisioning FAILED: " << e.message() << "\nFix it, then run `kam provision`.\n";
    }
    ok = ok && provisioned;
  } else if (r.provision) {
    out << "Provisioning: skipped (needs a working token); run `kam provision` later.\n";
  } else {
    out << "Provisioning: not done; run `kam provision` to create the properties.\n";
  }
  result["provisioned"] = provisioned;
  out << "Next: `kam --config " << r.file << " doctor`, then `kam --config " << r.file
      << " sync --dry-run`.\n";
  result["ok"] = ok;
  result["text"] = out.str();
  return result;
}

}  // namespace

void RegisterInitOps(OpTable& table) { table["init"] = &Redacted<&Init>; }

}  // namespace kam::engine

#else

namespace kam::engine {
void RegisterInitOps(OpTable&) {}
}  // namespace kam::engine

#endif
