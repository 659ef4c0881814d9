// doctor: checks a setup from the configuration to the CRM and the state file, one line per
// check with ok / warn / fail / skip and, for warn and fail, the fix. Read-only: nothing is
// written to the CRM, and the state file is opened read-only (its mode is reported, not
// changed). The result has "ok": false when a check failed (or warned, with "strict").
#include "operation.h"

#ifdef KAM_WITH_SYNC
#include <fcntl.h>
#include <netdb.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config.h"
#include "crm.h"
#include "crm_probe.h"
#include "kam/rules/rules.h"
#include "redaction.h"
#include "run_context.h"
#include "report_model.h"

namespace kam::engine {
namespace {

using nlohmann::json;

enum class Level { kOk, kWarn, kFail, kSkip };

const char* LevelName(Level l) {
  switch (l) {
    case Level::kOk:
      return "ok";
    case Level::kWarn:
      return "warn";
    case Level::kFail:
      return "fail";
    case Level::kSkip:
      return "skip";
  }
  return "fail";
}

struct Check {
  std::string id;
  Level level = Level::kOk;
  std::string message;
  std::string fix;
};

class Doctor {
 public:
  explicit Doctor(OpContext& ctx) : ctx_(ctx) {}

  json Run(bool strict) {
    if (CheckConfig()) {
      CheckRules();
      CheckCrm();
      CheckState();
    }
    int ok = 0, warn = 0, fail = 0, skip = 0;
    json items = json::array();
    std::ostringstream text;
    for (const Check& c : checks_) {
      (c.level == Level::kOk     ? ok
       : c.level == Level::kWarn ? warn
       : c.level == Level::kFail ? fail
                                 : skip)++;
      json item = {{"check", c.id}, {"status", LevelName(c.level)}, {"message", c.message}};
      if (!c.fix.empty()) item["fix"] = c.fix;
      items.push_back(item);
      char head[48];
      std::snprintf(head, sizeof(head), "%-5s %-12s ", LevelName(c.level), c.id.c_str());
      text << head << c.message;
      if (!c.fix.empty()) text << " Fix: " << c.fix;
      text << "\n";
    }
    text << "doctor: " << CountOf(ok, "check") << " ok, " << CountOf(warn, "warning") << ", "
         << CountOf(fail, "failure");
    if (skip > 0) text << ", " << skip << " skipped";
    text << "\n";
    const bool good = fail == 0 && (!strict || warn == 0);
    return {{"checks", items}, {"ok", good}, {"text", text.str()}};
  }

 private:
  void Add(const std::string& id, Level level, std::string message, std::string fix = {}) {
    checks_.push_back({id, level, std::move(message), std::move(fix)});
  }

  bool CheckConfig() {
    try {
      cfg_ = ParseEngineConfig(ctx_.config);
    } catch (const OpError& e) {
      Add("config", Level::kFail, e.message(),
          "correct the key named (plugin/src/engine/README.md lists every key), or write a new "
          "file with `kam init`.");
      for (const char* id : {"rules", "dns", "connect", "tls", "token", "scopes", "rate_limit",
                             "clock", "properties", "state_file"}) {
        Add(id, Level::kSkip, "needs a valid configuration.");
      }
      return false;
    }
    Add("config", Level::kOk, "crm " + cfg_.crm + " at " + BaseUrl() + ".");
    return true;
  }

  void CheckRules() {
    if (cfg_.rules_path.empty()) {
      Add("rules", Level::kFail, "no rule file configured.",
          "set \"rules\" in kam.json to a rule file (e.g. "
          "/usr/share/kam-addin/examples/rules/key-accounts.json).");
      return;
    }
    rules::LoadResult r = rules::RuleSet::LoadFile(cfg_.rules_path);
    if (!r.ok()) {
      Add("rules", Level::kFail,
          "the rule file is invalid: " + (r.errors.empty() ? "" : r.errors[0].ToString()),
          "run `kam rules check " + cfg_.rules_path + "` and correct what it lists.");
      return;
    }
    if (!r.rules->mapping(cfg_.crm)) {
      Add("rules", Level::kFail, "the rule file has no \"" + cfg_.crm + "\" mapping.",
          "add a mapping for " + cfg_.crm + " to the rule file.");
      return;
    }
    rules_ = r.rules;
    Add("rules", Level::kOk,
        rules_->name() + " " + rules_->version() + " (" + cfg_.rules_path + ").");
  }

  // Host and port of the base URL ("https://host[:port]/...").
  static bool SplitUrl(const std::string& url, std::string* scheme, std::string* host,
                       std::string* port) {
    size_t p = url.find("://");
    if (p == std::string::npos) return false;
    *scheme = url.substr(0, p);
    std::string rest = url.substr(p + 3);
    rest = rest.substr(0, rest.find('/'));
    if (!rest.empty() && rest[0] == '[') {
      size_t close = rest.find(']');
      if (close == std::string::npos) return false;
      *host = rest.substr(1, close - 1);
      *port = close + 2 <= rest.size() ? rest.substr(close + 2) : "";
    } else {
      size_t colon = rest.rfind(':');
      *host = rest.substr(0, colon);
      *port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    }
    if (port->empty()) *port = *scheme == "https" ? "443" : "80";
    return !host->empty();
  }

  void SkipRest(const std::vector<const char*>& ids, const std::string& why) {
    for (const char* id : ids) Add(id, Level::kSkip, why);
  }

  std::string BaseUrl() const {
    if (cfg_.crm != "salesforce") return cfg_.hubspot.base_url;
    return cfg_.salesforce.instance_url.empty() ? cfg_.salesforce.login_url
                                                : cfg_.salesforce.instance_url;
  }

  bool ProxyConfigured() const {
    if (cfg_.proxy.configured) return !cfg_.proxy.url.empty() || !cfg_.proxy.url_secret.empty();
    for (const char* name : {"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"}) {
      const char* v = std::getenv(name);
      if (v != nullptr && *v != '\0') return true;
    }
    return false;
  }

  static bool IsLoopbackName(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  }

  bool CheckDns(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 && !IsLoopbackName(host) && ProxyConfigured()) {
      // Behind a proxy the proxy resolves the name; the connect line says whether that works.
      Add("dns", Level::kWarn,
          "cannot resolve " + host + " here (" + gai_strerror(rc) +
              "); requests go through the proxy (kam.json proxy or HTTPS_PROXY).",
          "nothing, if the connect line is ok; else check the proxy setting.");
      return true;
    }
    if (rc != 0) {
      Add("dns", Level::kFail, "cannot resolve " + host + ": " + gai_strerror(rc) + ".",
          "check the host in the CRM's URL in kam.json and this machine's DNS resolver (or set "
          "proxy in kam.json or HTTPS_PROXY when the network allows only a proxy).");
      return false;
    }
    char addr[NI_MAXHOST] = "";
    getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr), nullptr, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    Add("dns", Level::kOk, host + " resolves to " + addr + ".");
    return true;
  }

  // Salesforce: the checks through the CRM port (the org id read proves connection, TLS and
  // credential); the HTTP-level probes (scopes, quota headers, Date) are HubSpot's only for now.
  void CheckSalesforce() {
    std::string scheme, host, port;
    if (!SplitUrl(BaseUrl(), &scheme, &host, &port)) {
      Add("dns", Level::kFail, "the URL " + BaseUrl() + " has no host.",
          "set salesforce.login_url or salesforce.instance_url.");
    } else {
      CheckDns(host, port);
    }
    Host* h = &ctx_.host;
    auto crm = MakeCrm(cfg_, ctx_.host, [h](std::string_view name) { return h->GetSecret(name); });
    const char* why = "checked for HubSpot only in this build.";
    if (!crm.ok()) {
      Add("connect", Level::kSkip, "needs a credential.");
      Add("tls", Level::kSkip, "needs a credential.");
      Add("token", Level::kFail, crm.status().message(),
          "set the secret named in kam.json (environment variable, or NAME_FILE naming a 0600 "
          "file).");
      SkipRest({"scopes", "rate_limit", "clock", "properties"}, "needs a credential.");
      return;
    }
    auto org = (*crm)->PortalId();
    if (!org.ok()) {
      const CrmError& e = org.error();
      const bool auth =
          e.code == StatusCode::kUnauthenticated || e.code == StatusCode::kPermissionDenied;
      Add("connect", auth ? Level::kOk : Level::kFail,
          auth ? host + " answered." : "no usable answer from " + host + ": " + e.ToString(),
          auth ? "" : "check that the host is reachable from here (firewall, HTTPS_PROXY).");
      Add("tls", auth ? Level::kOk : Level::kSkip,
          auth ? (scheme == "https" ? "certificate of " + host + " verified."
                                    : "plain HTTP to a loopback address (a local sandbox).")
               : "needs a connection.");
      if (auth) {
        Add("token", Level::kFail, "Salesforce refused the credential: " + e.ToString(),
            "check the connected app, the user and the secret named in kam.json.");
      } else {
        Add("token", Level::kSkip, "needs a connection.");
      }
      SkipRest({"scopes", "rate_limit", "clock", "properties"}, "needs a working credential.");
      return;
    }
    Add("connect", Level::kOk, host + " answered.");
    Add("tls", Level::kOk,
        scheme == "https" ? "certificate of " + host + " verified."
                          : "plain HTTP to a loopback address (a local sandbox).");
    Add("token", Level::kOk, "accepted (org " + *org + ").");
    Add("scopes", Level::kSkip, why);
    Add("rate_limit", Level::kSkip, why);
    Add("clock", Level::kSkip, why);
    CheckProperties();
  }

  void CheckCrm() {
    if (cfg_.crm == "salesforce") {
      CheckSalesforce();
      return;
    }
    std::string scheme, host, port;
    if (!SplitUrl(cfg_.hubspot.base_url, &scheme, &host, &port)) {
      Add("dns", Level::kFail, "the base URL " + cfg_.hubspot.base_url + " has no host.",
          "set hubspot.base_url to https://api.hubapi.com.");
      SkipRest({"connect", "tls", "token", "scopes", "rate_limit", "clock", "properties"},
               "needs a base URL.");
      return;
    }
    CheckDns(host, port);

    auto probe = CrmProbe::Create(cfg_, ctx_.host);
    if (!probe.ok()) {
      Add("connect", Level::kFail, probe.status().message(),
          "correct hubspot.base_url or hubspot.tls in kam.json.");
      SkipRest({"tls", "token", "scopes", "rate_limit", "clock", "properties"},
               "needs an HTTP client.");
      return;
    }
    CrmProbe& p = **probe;
    const auto started = std::chrono::steady_clock::now();
    auto owners = p.Get(p.OwnersPath() + "?limit=1");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    const bool answered = owners.ok() || owners.error().http_status != 0;
    const bool https = scheme == "https";
    if (!answered) {
      const http::Error& e = owners.error();
      if (e.kind == http::ErrorKind::kTls) {
        Add("connect", Level::kOk, "TCP connection to " + host + ":" + port + " works.");
        Add("tls", Level::kFail, e.message,
            cfg_.hubspot.ca_file.empty()
                ? "install the system CA certificates (ca-certificates) or set hubspot.tls.ca_file "
                  "to the CA that signs the proxy or server certificate."
                : "check that " + cfg_.hubspot.ca_file + " holds the CA of " + host + ".");
      } else {
        Add("connect", Level::kFail, "no answer from " + host + ":" + port + ": " + e.message,
            "check that the host is reachable from here (firewall, HTTPS_PROXY / NO_PROXY).");
        Add("tls", Level::kSkip, "needs a connection.");
      }
      SkipRest({"token", "scopes", "rate_limit", "clock", "properties"}, "needs a connection.");
      return;
    }
    Add("connect", Level::kOk, host + ":" + port + " answered in " + std::to_string(ms) + " ms.");
    if (https) {
      Add("tls", Level::kOk, "certificate of " + host + " verified.");
    } else {
      Add("tls", Level::kOk,
          "plain HTTP to a loopback address (a local sandbox); any other host needs https.");
    }

    // Token.
    if (!p.has_token()) {
      Add("token", Level::kFail, "no token in the secret " + cfg_.hubspot.token_secret + ".",
          "export " + cfg_.hubspot.token_secret + "=<private app token>, or " +
              cfg_.hubspot.token_secret + "_FILE=/etc/kam/<tenant>.token (mode 0600).");
      SkipRest({"scopes", "rate_limit", "clock", "properties"}, "needs a token.");
      return;
    }
    if (!owners.ok() && owners.error().http_status == 401) {
      Add("token", Level::kFail,
          "HubSpot rejected the token in " + cfg_.hubspot.token_secret + " (HTTP 401).",
          "create or rotate the private app's token in HubSpot (Settings > Integrations > "
          "Private apps) and store it in " +
              cfg_.hubspot.token_secret + ".");
      SkipRest({"scopes", "rate_limit", "clock", "properties"}, "needs a valid token.");
      return;
    }
    Add("token", Level::kOk, "accepted by HubSpot.");

    CheckScopes(p, owners);
    if (owners.ok()) {
      CheckRateLimit(*owners);
      CheckClock(*owners);
    } else {
      Add("rate_limit", Level::kSkip, "needs a successful call.");
      Add("clock", Level::kSkip, "needs a successful call.");
    }
    CheckProperties();
  }

  void CheckScopes(CrmProbe& p, const http::Result<http::Response>& owners) {
    struct Probe {
      const char* scope;
      std::string target;
    };
    const std::vector<Probe> probes = {
        {"crm.objects.companies.read", "/crm/v3/objects/companies?limit=1"},
        {"crm.objects.contacts.read", "/crm/v3/objects/contacts?limit=1"},
        {"crm.objects.deals.read", "/crm/v3/objects/deals?limit=1"},
        {"crm.schemas.companies.read", "/crm/v3/properties/companies/name"},
    };
    std::vector<std::string> missing, other;
    if (!owners.ok() && owners.error().http_status == 403) {
      missing.push_back("crm.objects.owners.read");
    }
    for (const Probe& pr : probes) {
      auto r = p.Get(pr.target);
      if (r.ok()) continue;
      if (r.error().http_status == 403) {
        missing.push_back(pr.scope);
      } else {
        other.push_back(std::string(pr.scope) + ": " + r.error().message);
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& s : missing) list += (list.empty() ? "" : ", ") + s;
      Add("scopes", Level::kFail, "the token lacks " + list + ".",
          "add the scopes to the private app (the README lists them all, with the write "
          "scopes) and store its new token.");
    } else if (!other.empty()) {
      Add("scopes", Level::kWarn, "could not check every scope: " + other.front(),
          "run `kam doctor` again; if it stays, check the CRM's status page.");
    } else {
      Add("scopes", Level::kOk,
          "read scopes present (companies, contacts, deals, owners, schemas); write scopes are "
          "checked by `kam provision` and each sync.");
    }
  }

  static int64_t HeaderInt(const http::Response& r, std::string_view name) {
    std::string v(r.Header(name));
    if (v.empty()) return -1;
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    return end != nullptr && *end == '\0' && n >= 0 ? n : -1;
  }

  void CheckRateLimit(const http::Response& r) {
    const int64_t daily = HeaderInt(r, "X-HubSpot-RateLimit-Daily");
    const int64_t left = HeaderInt(r, "X-HubSpot-RateLimit-Daily-Remaining");
    const int64_t max = HeaderInt(r, "X-HubSpot-RateLimit-Max");
    const int64_t burst_left = HeaderInt(r, "X-HubSpot-RateLimit-Remaining");
    std::string burst =
        max > 0 && burst_left >= 0
            ? "; burst " + std::to_string(burst_left) + " of " + std::to_string(max) + " per window"
            : "";
    if (daily <= 0 || left < 0) {
      Add("rate_limit", Level::kOk, "no daily quota reported (OAuth apps get none)" + burst + ".");
      return;
    }
    const double share = static_cast<double>(left) / daily;
    const std::string what =
        std::to_string(left) + " of " + std::to_string(daily) + " daily calls left" + burst + ".";
    const double reserve = cfg_.hubspot.daily_reserve_share;
    if (share <= reserve) {
      Add("rate_limit", Level::kFail,
          what + " A sync stops at the reserve of " +
              std::to_string(static_cast<int>(reserve * 100)) + "%.",
          "wait for the daily reset (midnight in the portal's time zone), find the other app "
          "using the quota, or lower hubspot.rate.daily_reserve_share.");
    } else if (share <= 2 * reserve || share < 0.2) {
      Add("rate_limit", Level::kWarn, what,
          "the quota runs low: check the other apps of this portal, or sync less often "
          "(\"facts\": \"changed\" uses fewer calls).");
    } else {
      Add("rate_limit", Level::kOk, what);
    }
  }

  void CheckClock(const http::Response& r) {
    std::string date(r.Header("Date"));
    if (date.empty()) {
      Add("clock", Level::kWarn, "the CRM sent no Date header; the clock could not be compared.",
          "make sure the system clock is synchronised (timedatectl set-ntp true).");
      return;
    }
    std::tm tm{};
    const char* end = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr) {
      Add("clock", Level::kWarn, "cannot read the CRM's Date header \"" + date + "\".",
          "make sure the system clock is synchronised (timedatectl set-ntp true).");
      return;
    }
    const int64_t crm_s = timegm(&tm);
    const int64_t now_s = std::time(nullptr);
    const int64_t skew = now_s - crm_s;
    const int64_t overlap_s = cfg_.overlap_ms / 1000;
    const std::string what = "this machine is " + std::to_string(std::llabs(skew)) + " s " +
                             (skew >= 0 ? "ahead of" : "behind") + " the CRM's clock.";
    const std::string fix =
        "synchronise the system clock (timedatectl set-ntp true, or chrony/ntpsec).";
    if (overlap_s > 0 && std::llabs(skew) >= overlap_s) {
      Add("clock", Level::kFail,
          what + " That is more than the pull overlap (" + std::to_string(overlap_s / 60) +
              " min): changes could be missed.",
          fix);
    } else if (std::llabs(skew) > 30) {
      Add("clock", Level::kWarn, what, fix);
    } else {
      Add("clock", Level::kOk, what);
    }
  }

  void CheckProperties() {
    if (!rules_) {
      Add("properties", Level::kSkip, "needs a valid rule file (its writeback names them).");
      return;
    }
    Host* h = &ctx_.host;
    auto crm = MakeCrm(cfg_, ctx_.host, [h](std::string_view name) { return h->GetSecret(name); });
    if (!crm.ok()) {
      Add("properties", Level::kFail, crm.status().message(), "see the token line.");
      return;
    }
    const ProvisionSpec spec = WritebackSpecOf(*rules_, cfg_.crm);
    auto report = (*crm)->VerifyProperties(spec);
    if (!report.ok()) {
      Add("properties", Level::kFail,
          "cannot read the property definitions: " + report.error().ToString(),
          "check the token's crm.schemas.companies.read scope.");
      return;
    }
    std::string missing, conflicts, shown;
    size_t hidden = 0;
    for (const auto& p : spec.properties) hidden += p.hidden;
    for (const auto& item : report->items) {
      if (item.shown) shown += (shown.empty() ? "" : ", ") + item.name + " (" + item.detail + ")";
      if (item.outcome == ProvisionItem::Outcome::kConflict) {
        conflicts += (conflicts.empty() ? "" : ", ") + item.name + " (" + item.type_found + ")";
      } else if (item.outcome != ProvisionItem::Outcome::kUnchanged &&
                 item.outcome != ProvisionItem::Outcome::kCreated &&
                 item.outcome != ProvisionItem::Outcome::kUpdated) {
        missing += (missing.empty() ? "" : ", ") + item.name;
      }
    }
    if (!conflicts.empty()) {
      Add("properties", Level::kFail, "properties with another type: " + conflicts + ".",
          "delete or rename them in HubSpot, or give the rule file's writeback other property "
          "names; then run `kam provision`.");
    } else if (!missing.empty()) {
      Add("properties", Level::kFail, "missing properties: " + missing + ".",
          "run `kam provision` (it creates them; a sync stops until they exist).");
    } else if (!shown.empty()) {
      Add("properties", Level::kWarn,
          "every property exists with the right type, but a property meant to be hidden is "
          "shown: " +
              shown + ".",
          "run `kam provision` (it hides it again; the sync writes it either way).");
    } else {
      std::string what = "all " + std::to_string(report->items.size()) +
                         " properties the add-in writes exist with the right type";
      if (hidden > 0 && cfg_.crm != "salesforce") what += " (the card's data hidden)";
      Add("properties", Level::kOk, what + ".");
    }
  }

  void CheckState() {
    const std::string& path = cfg_.state_path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      Add("state_file", Level::kWarn, path + " does not exist yet.",
          "run `kam sync` (it creates the file with mode 0600); if a file existed, check "
          "\"state\" in kam.json.");
      return;
    }
    std::vector<std::string> loose;
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
      struct stat s {};
      const std::string p = path + suffix;
      if (::stat(p.c_str(), &s) != 0) continue;
      if ((s.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(s.st_mode & 07777));
        loose.push_back(p + " has mode " + mode);
      }
    }
    if (!loose.empty()) {
      std::string list, files;
      for (const auto& l : loose) list += (list.empty() ? "" : ", ") + l;
      Add("state_file", Level::kFail, list + ": others can read the CRM data in it.",
          "chmod 600 " + path + "* (kam tightens the modes itself when it next opens the file).");
      return;
    }
    if (st.st_uid != ::geteuid()) {
      Add("state_file", Level::kWarn,
          path + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user.",
          "run kam as the file's owner (the package's service runs as the user kam).");
    }
    // In use by a running sync? (the store's exclusive lock on <db>.lock)
    const std::string lock_path = path + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      const bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
      ::close(fd);
      if (busy) {
        Add("state_file", Level::kWarn,
            path + " is in use by a running kam; its integrity was not checked.",
            "run `kam doctor` again when the sync has finished.");
        return;
      }
    }
    sqlite3* db = nullptr;
    std::vector<std::string> problems;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(db, 2000);
      sqlite3_stmt* stmt = nullptr;
      rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(20)", -1, &stmt, nullptr);
      while (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(stmt, 0);
        problems.emplace_back(t == nullptr ? "" : reinterpret_cast<const char*>(t));
      }
      if (rc != SQLITE_OK) problems.push_back(sqlite3_errmsg(db));
      sqlite3_finalize(stmt);
    } else {
      problems.push_back(db != nullptr ? sqlite3_errmsg(db) : "cannot open");
    }
    sqlite3_close(db);
    if (problems.size() == 1 && problems[0] == "ok") {
      Add("state_file", Level::kOk, path + ": mode 0600, integrity ok.");
    } else {
      std::string first = problems.empty() ? "no answer" : problems[0];
      Add("state_file", Level::kFail, path + " failed the integrity check: " + first,
          "restore the file from a backup, or move it away and run `kam sync --full` (tasks "
          "are found again by their key, none is duplicated).");
    }
  }

  OpContext& ctx_;
  EngineConfig cfg_;
  std::shared_ptr<const rules::RuleSet> rules_;
  std::vector<Check> checks_;
};

json DoctorOp(OpContext& ctx, const json& request) {
  bool strict = false;
  if (request.is_object()) {
    for (const auto& [k, v] : request.items()) {
      if (k != "strict" || !v.is_boolean()) {
        throw OpError(StatusCode::kInvalidArgument, "doctor takes only {\"strict\": bool}",
                      "/" + k);
      }
      strict = v.get<bool>();
    }
  }
  return Doctor(ctx).Run(strict);
}

}  // namespace

void RegisterDoctorOps(OpTable& table) { table["doctor"] = &Redacted<&DoctorOp>; }

}  // namespace kam::engine

#else

namespace kam::engine {
void RegisterDoctorOps(OpTable&) {}
}  // namespace kam::engine

#endif
