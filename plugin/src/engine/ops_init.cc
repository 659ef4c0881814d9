// init: writes a commented kam.json for HubSpot or Salesforce, checks the token against the CRM
// and, when asked, provisions the add-in's properties. JSON has no comments: the file carries
// them as "//" members beside the keys they explain (the configuration parser ignores every
// member whose name starts with "//"). The host asks the questions; this operation never
// prompts (request keys say what to do).
#include "operation.h"

#ifdef KAM_WITH_SYNC
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config.h"
#include "crm_probe.h"
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

std::string DefaultRules() {
  const char* packaged = "/usr/share/kam-addin/examples/rules/key-accounts.json";
  return fs::exists(packaged) ? packaged : "key-accounts.json";
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
      "\"//\" are comments (kam ignores them). Fill in client_id and username of the "
      "connected app (JWT bearer flow), then check with `kam doctor`.";
  c["crm"] = "salesforce";
  c["rules"] = r.rules.empty() ? DefaultRules() : r.rules;
  c["// state"] = "The state file (SQLite, mode 0600; holds CRM data). One per org.";
  c["state"] = r.state.empty() ? "kam-state.db" : r.state;
  ordered_json s;
  s["// login_url"] =
      "https://login.salesforce.com, https://test.salesforce.com (sandboxes) "
      "or the org's My Domain.";
  s["login_url"] = r.base_url.empty() ? "https://login.salesforce.com" : r.base_url;
  s["// auth"] =
      "jwt (connected app certificate), refresh_token, client_credentials or "
      "access_token.";
  s["auth"] = "jwt";
  s["client_id"] = "";
  s["username"] = "";
  s["// private_key_secret"] =
      "Name of the secret holding the connected app's PEM private key "
      "(environment variable, or <name>_FILE naming a 0600 file).";
  s["private_key_secret"] = r.token_secret.empty() ? "KAM_SALESFORCE_KEY" : r.token_secret;
  c["salesforce"] = s;
  return c;
}

// Writes `text` to `path` atomically (temporary file + rename), mode 0644: it holds no secret.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw OpError(StatusCode::kInvalidArgument, "cannot write " + tmp, path);
    f << text;
    f.close();
    if (!f) throw OpError(StatusCode::kInternal, "writing " + tmp + " failed", path);
  }
  ::chmod(tmp.c_str(), 0644);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw OpError(StatusCode::kInternal, "cannot rename " + tmp + ": " + ec.message(), path);
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
  EngineConfig cfg;
  if (r.crm == "hubspot") cfg = ParseEngineConfig(parsed);  // throws with the bad key's pointer
  WriteFileAtomically(r.file, config.dump(2) + "\n");
  out << "Wrote " << r.file << " (" << r.crm << "; comments are the \"//\" members).\n";

  if (r.crm != "hubspot") {
    out << "Token: not checked (this build talks to HubSpot only; Salesforce follows).\n"
        << "Next: fill in client_id and username, then `kam doctor`.\n";
    result["token"] = "not_checked";
    result["provisioned"] = false;
    result["ok"] = true;
    result["text"] = out.str();
    return result;
  }

  std::string token_state = "not_checked";
  auto probe = CrmProbe::Create(cfg, ctx.host);
  if (!probe.ok()) {
    out << "Token: not checked: " << probe.status().message() << "\n";
    ok = false;
  } else if (!(*probe)->has_token()) {
    token_state = "missing";
    out << "Token: not checked: the secret " << cfg.hubspot.token_secret
        << " is not set. Export it (or " << cfg.hubspot.token_secret
        << "_FILE naming a 0600 file), then run `kam doctor`.\n";
  } else {
    auto reply = (*probe)->Get((*probe)->OwnersPath() + "?limit=1");
    if (reply.ok()) {
      token_state = "ok";
      out << "Token: accepted by " << cfg.hubspot.base_url << ".\n";
    } else if (reply.error().http_status == 401) {
      token_state = "rejected";
      ok = false;
      out << "Token: REJECTED by HubSpot (HTTP 401): store a valid private app token in "
          << cfg.hubspot.token_secret << ".\n";
    } else if (reply.error().http_status == 403) {
      token_state = "missing_scopes";
      ok = false;
      out << "Token: accepted, but it lacks the owners scope (HTTP 403); `kam doctor` lists "
             "every missing scope.\n";
    } else {
      token_state = "unreachable";
      ok = false;
      out << "Token: not checked, the CRM did not answer: " << reply.error().message << "\n";
    }
  }
  result["token"] = token_state;

  bool provisioned = false;
  if (r.provision && token_state == "ok") {
    SyncEngineOptions o;
    o.config = cfg;
    SyncEngine engine(ctx.host, o);
    json p = engine.Provision();
    provisioned = p.value("ok", false);
    ok = ok && provisioned;
    out << p.value("text", "");
    if (!out.str().empty() && out.str().back() != '\n') out << "\n";
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
