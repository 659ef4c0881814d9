// The Salesforce flavour of the sandbox's HTTP API (CRM_API section B): OAuth token endpoint
// (JWT bearer, refresh token, client credentials, authorization code), versions, identity,
// SOQL query/queryAll with query locators, describe, sObject CRUD and external-id upsert,
// sObject Collections, Tooling CustomField, /limits with Sforce-Limit-Info, Salesforce error
// arrays; plus the shared fault injection and the /_sandbox/ admin API.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <deque>
#include <mutex>
#include <random>
#include <set>

#include "api.h"
#include "faults.h"
#include "sf_portal.h"
#include "sf_soql.h"

namespace kam::sandbox {
namespace {

using sf::SfError;

constexpr const char* kJson = "application/json;charset=UTF-8";
constexpr int kMinVersion = 42;
constexpr int kMaxVersion = 67;
constexpr int kCollectionMax = 200;
constexpr int64_t kSessionMs = 2 * 3600 * 1000;     // default org session timeout
constexpr int64_t kLocatorIdleMs = 15 * 60 * 1000;  // query cursors expire when idle
constexpr size_t kMaxCursors = 100;
constexpr int64_t kUnlimitedDaily = 5000000;  // reported Max when no --daily-limit

SfError Err(int status, std::string code, std::string message) {
  return SfError{status, std::move(code), std::move(message), {}};
}

std::string VersionLabel(int v) {
  const int idx = v - 42;  // 42.0 = Spring '18
  static const char* const kSeason[] = {"Spring", "Summer", "Winter"};
  int year = 18 + idx / 3 + (idx % 3 == 2 ? 1 : 0);
  return std::string(kSeason[idx % 3]) + " '" + std::to_string(year);
}

// "v59.0" -> "59.0"; empty when not a supported version.
std::string ParseVersion(const std::string& seg) {
  if (seg == "latest") return std::to_string(kMaxVersion) + ".0";
  if (seg.size() < 4 || seg[0] != 'v') return {};
  double v;
  if (!ParseDouble(seg.substr(1), &v)) return {};
  const int major = static_cast<int>(v);
  if (v != major || major < kMinVersion || major > kMaxVersion ||
      seg.substr(seg.size() - 2) != ".0") {
    return {};
  }
  return std::to_string(major) + ".0";
}

std::string Base64Url(std::string_view in) {
  std::string s(in);
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4) s.push_back('=');
  std::string out;
  if (!Base64Decode(s, &out)) return {};
  return out;
}

std::string HmacSha256Base64(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

struct Cursor {
  std::vector<json> records;
  int64_t total = 0;
  int batch = 2000;
  int64_t last_used_ms = 0;
};

struct Session {
  std::string user_id;
  int64_t expiry_ms = 0;  // 0 = never
};

class SfApi final : public Api {
 public:
  explicit SfApi(const SandboxOptions& options)
      : options_(options), rng_(Mix(options.seed, 0x5F0CE)), faults_(options.seed) {
    org_ = std::make_unique<sf::Org>(options);
    refresh_tokens_["sandbox-refresh-token"] = org_->api_user_id();
  }

  HttpResponse Handle(const HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return HandleLocked(req);
    } catch (const SfError& e) {
      return Error(e);
    } catch (const std::exception& e) {
      return Error(
          Err(500, "UNKNOWN_EXCEPTION", std::string("Sandbox internal error: ") + e.what()));
    }
  }

  SandboxCounters Counters() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return counters_;
  }
  std::string CountersJson() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return CountersToJson().dump();
  }
  std::string SetFaults(const std::string& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    return faults_.Set(spec);
  }

 private:
  // ---------- responses ----------
  HttpResponse Json(int status, const json& body) {
    HttpResponse r;
    r.status = status;
    if (status != 204) {
      r.headers.emplace_back("Content-Type", kJson);
      r.body = body.dump();
    }
    return r;
  }
  HttpResponse NoContent() { return Json(204, nullptr); }

  HttpResponse Error(const SfError& e) {
    json item = {{"message", e.message}, {"errorCode", e.code}};
    if (!e.fields.empty()) item["fields"] = e.fields;
    return Json(e.status, json::array({item}));
  }

  json CountersToJson() const {
    json by_status = json::object();
    for (const auto& [k, v] : counters_.by_status) by_status[std::to_string(k)] = v;
    return {{"total", counters_.total},
            {"by_route", counters_.by_route},
            {"by_status", by_status},
            {"rate_limited", counters_.rate_limited},
            {"faults_injected", counters_.faults_injected},
            {"faults_by_kind", faults_by_kind_}};
  }

  std::string RandomHex(size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    while (out.size() < n) {
      uint64_t v = rng_();
      for (int i = 0; i < 16 && out.size() < n; ++i, v >>= 4) out.push_back(kHex[v & 15]);
    }
    return out;
  }

  // ---------- limits ----------
  int64_t DailyMax() const {
    return options_.daily_limit > 0 ? options_.daily_limit : kUnlimitedDaily;
  }
  int64_t Used(int64_t now) {
    const int64_t hour = now / 3600000;
    while (!usage_.empty() && usage_.front().first <= hour - 24) usage_.pop_front();
    int64_t sum = 0;
    for (const auto& [h, n] : usage_) sum += n;
    return sum;
  }
  void Count(int64_t now) {
    const int64_t hour = now / 3600000;
    if (usage_.empty() || usage_.back().first != hour) usage_.emplace_back(hour, 0);
    ++usage_.back().second;
  }
  void AddLimitHeader(HttpResponse& r, int64_t now) {
    r.headers.emplace_back("Sforce-Limit-Info", "api-usage=" + std::to_string(Used(now)) + "/" +
                                                    std::to_string(DailyMax()));
  }

  // ---------- pipeline ----------
  std::string RouteName(const HttpRequest& req, const std::vector<std::string>& segs) {
    std::string route = req.method + " ";
    for (size_t i = 0; i < segs.size(); ++i) {
      const std::string& s = segs[i];
      std::string shown = s;
      const std::string prev = i > 0 ? segs[i - 1] : "";
      if ((prev == "query" || prev == "queryAll") && s.find('-') != std::string::npos) {
        shown = "{locator}";
      } else if (prev.size() > 3 && prev.substr(prev.size() - 3) == "__c") {
        shown = "{value}";
      } else if (sf::NormalizeId(s) && std::any_of(s.begin(), s.end(), ::isdigit)) {
        shown = "{id}";
      } else if (i == 3 && segs[0] == "id") {
        shown = "{id}";
      }
      route += "/" + shown;
    }
    return route;
  }

  HttpResponse HandleLocked(const HttpRequest& req) {
    const std::vector<std::string> segs = SplitTrim(req.path, '/');
    if (!segs.empty() && segs[0] == "_sandbox") {
      try {
        return Admin(req, segs);
      } catch (const SfError& e) {
        return Error(e);
      }
    }
    const int64_t now = NowMs();
    ++counters_.total;
    ++counters_.by_route[RouteName(req, segs)];
    HttpResponse r;
    try {
      r = Pipeline(req, segs, now);
    } catch (const SfError& e) {
      r = Error(e);
    }
    ++counters_.by_status[r.status];
    return r;
  }

  std::optional<Session> Authenticate(const HttpRequest& req, int64_t now) {
    std::string token;
    if (req.authorization.size() > 7 && ToLower(req.authorization.substr(0, 7)) == "bearer ") {
      token = req.authorization.substr(7);
    } else if (req.authorization.size() > 6 &&
               ToLower(req.authorization.substr(0, 6)) == "oauth ") {
      token = req.authorization.substr(6);
    } else if (auto t = req.Param("oauth_token")) {
      token = *t;
    }
    if (token.empty()) return std::nullopt;
    if (token == options_.token && !static_expired_) return Session{org_->api_user_id(), 0};
    auto it = sessions_.find(token);
    if (it == sessions_.end()) return std::nullopt;
    if (it->second.expiry_ms != 0 && it->second.expiry_ms <= now) return std::nullopt;
    return it->second;
  }

  HttpResponse Pipeline(const HttpRequest& req, const std::vector<std::string>& segs, int64_t now) {
    const size_t n = segs.size();
    if (n == 3 && segs[0] == "services" && segs[1] == "oauth2") return OAuth(req, segs[2], now);
    if (n == 2 && segs[0] == "services" && segs[1] == "data" && req.method == "GET") {
      json list = json::array();
      for (int v = kMinVersion; v <= kMaxVersion; ++v) {
        const std::string ver = std::to_string(v) + ".0";
        list.push_back(
            {{"label", VersionLabel(v)}, {"url", "/services/data/v" + ver}, {"version", ver}});
      }
      return Json(200, list);
    }
    const bool identity = n == 3 && segs[0] == "id";
    const bool rest = n >= 3 && segs[0] == "services" && segs[1] == "data";
    if (!identity && !rest) throw Err(404, "NOT_FOUND", "The requested resource does not exist");
    std::string version;
    if (rest) {
      version = ParseVersion(segs[2]);
      if (version.empty()) throw Err(404, "NOT_FOUND", "The requested resource does not exist");
    }
    auto session = Authenticate(req, now);
    if (!session) {
      HttpResponse r = Error(Err(401, "INVALID_SESSION_ID", "Session expired or invalid"));
      AddLimitHeader(r, now);
      return r;
    }
    if (identity) return Identity(segs, *session);

    const bool batch = n >= 5 && segs[3] == "composite" && segs[4] == "sobjects";
    current_ = faults_.Draw(req.path, batch, &counters_.faults_injected);
    if (const char* kind = current_.early       ? current_.early->kind.c_str()
                           : current_.drop      ? "drop"
                           : current_.malformed ? "malformed"
                           : current_.partial   ? "partial"
                           : current_.slow_ms   ? "slow"
                                                : nullptr) {
      ++faults_by_kind_[kind];
    }
    HttpResponse r;
    if (current_.early) {
      const std::string& k = current_.early->kind;
      if (k == "429") {
        r = Error(Err(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."));
      } else if (k == "expired") {
        r = Error(Err(401, "INVALID_SESSION_ID", "Session expired or invalid"));
      } else {
        const int status = std::stoi(k);
        r = Error(Err(status, status == 500 ? "UNKNOWN_EXCEPTION" : "SERVER_UNAVAILABLE",
                      status == 500 ? "An unexpected error occurred (sandbox fault)."
                                    : "Server temporarily unavailable (sandbox fault)."));
      }
      AddLimitHeader(r, now);
      r.delay_ms = faults_.LatencyMs(current_, options_.latency_min_ms, options_.latency_max_ms);
      return r;
    }
    if (Used(now) >= DailyMax()) {
      ++counters_.rate_limited;
      r = Error(Err(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));
      AddLimitHeader(r, now);
      return r;
    }
    Count(now);
    try {
      if ((req.method == "POST" || req.method == "PATCH") && !req.body.empty() &&
          !req.content_type.empty() &&
          ToLower(req.content_type).find("json") == std::string::npos) {
        throw Err(415, "UNSUPPORTED_MEDIA_TYPE",
                  "Content type '" + req.content_type + "' not supported");
      }
      r = Route(req, segs, version, *session, now);
    } catch (const SfError& e) {
      r = Error(e);
    }
    AddLimitHeader(r, now);
    if (current_.malformed && !r.body.empty()) {
      r.body = r.body.substr(0, r.body.size() / 2) + "\x01<!-- sandbox malformed fault";
    }
    if (current_.drop) r.drop = true;
    r.delay_ms = current_.slow_ms +
                 faults_.LatencyMs(current_, options_.latency_min_ms, options_.latency_max_ms);
    return r;
  }

  json ParseBody(const HttpRequest& req) {
    if (req.body.empty()) throw Err(400, "JSON_PARSER_ERROR", "The request body is empty");
    try {
      return json::parse(req.body);
    } catch (const json::parse_error& e) {
      throw Err(400, "JSON_PARSER_ERROR",
                std::string("Unexpected character at [line:1, column:") + std::to_string(e.byte) +
                    "]: " + e.what());
    } catch (const json::exception& e) {  // 1e400: out_of_range.406, not a parse_error
      throw Err(400, "JSON_PARSER_ERROR", std::string("Cannot read the request body: ") + e.what());
    }
  }

  sf::Object& ObjectOrThrow(const std::string& name, bool tooling) {
    sf::Object* o = org_->FindObject(name, tooling);
    if (!o) throw Err(404, "NOT_FOUND", "The requested resource does not exist");
    return *o;
  }

  // An id of object o from a path segment or body value; nullopt when malformed or of another type.
  std::optional<std::string> IdOf(const sf::Object& o, const std::string& text) {
    auto id = sf::NormalizeId(text);
    if (!id || id->substr(0, 3) != o.key_prefix) return std::nullopt;
    return id;
  }

  // ---------- routes under /services/data/vNN.N ----------
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string>& segs,
                     const std::string& version, const Session& session, int64_t now) {
    const std::string& m = req.method;
    std::vector<std::string> s(segs.begin() + 3, segs.end());
    bool tooling = false;
    if (!s.empty() && s[0] == "tooling") {
      tooling = true;
      s.erase(s.begin());
    }
    const std::string base = "/services/data/v" + version;
    const size_t n = s.size();
    if (n == 0 && m == "GET" && !tooling) {
      return Json(200, {{"tooling", base + "/tooling"},
                        {"metadata", base + "/metadata"},
                        {"eclair", base + "/eclair"},
                        {"folders", base + "/folders"},
                        {"prechatForms", base + "/prechatForms"},
                        {"sobjects", base + "/sobjects"},
                        {"query", base + "/query"},
                        {"queryAll", base + "/queryAll"},
                        {"composite", base + "/composite"},
                        {"limits", base + "/limits"},
                        {"identity", IdentityUrl(req, session.user_id)}});
    }
    if (n == 1 && s[0] == "limits" && m == "GET" && !tooling) return Limits(now);
    if (n >= 1 && (s[0] == "query" || s[0] == "queryAll") && m == "GET") {
      if (n == 1) return Query(req, version, s[0] == "queryAll", tooling, now);
      if (n == 2) return QueryMore(s[1], version, tooling, now);
    }
    if (n >= 1 && s[0] == "sobjects") return SObjects(req, s, version, tooling, now);
    if (n >= 2 && s[0] == "composite" && s[1] == "sobjects" && !tooling) {
      return Collections(req, s, version, now);
    }
    (void)session;
    throw Err(404, "NOT_FOUND", "The requested resource does not exist");
  }

  std::string Host(const HttpRequest& req) const {
    std::string host = req.Header("Host");
    if (host.empty()) host = options_.host;
    return "http://" + host;
  }

  std::string IdentityUrl(const HttpRequest& req, const std::string& user_id) const {
    return Host(req) + "/id/" + org_->org_id() + "/" + user_id;
  }

  HttpResponse Limits(int64_t now) {
    const int64_t used = Used(now);
    auto entry = [](int64_t max, int64_t remaining) {
      return json{{"Max", max}, {"Remaining", remaining}};
    };
    return Json(200,
                {{"ConcurrentAsyncGetReportInstances", entry(200, 200)},
                 {"ConcurrentSyncReportRuns", entry(20, 20)},
                 {"DailyApiRequests", entry(DailyMax(), std::max<int64_t>(0, DailyMax() - used))},
                 {"DailyAsyncApexExecutions", entry(250000, 250000)},
                 {"DailyBulkApiBatches", entry(15000, 15000)},
                 {"DailyBulkV2QueryJobs", entry(10000, 10000)},
                 {"DailyGenericStreamingApiEvents", entry(10000, 10000)},
                 {"DataStorageMB", entry(1024, 1000)},
                 {"FileStorageMB", entry(1024, 1024)},
                 {"HourlyTimeBasedWorkflow", entry(1000, 1000)},
                 {"SingleEmail", entry(5000, 5000)}});
  }

  HttpResponse QueryResponse(const std::string& version, Cursor cursor, int64_t now) {
    const size_t batch = static_cast<size_t>(cursor.batch);
    json records = json::array();
    const size_t first = std::min(batch, cursor.records.size());
    for (size_t i = 0; i < first; ++i) records.push_back(cursor.records[i]);
    json body = {{"totalSize", cursor.total}, {"done", true}};
    if (cursor.records.size() > batch) {
      const std::string id = NewCursorId();
      body["done"] = false;
      body["nextRecordsUrl"] =
          "/services/data/v" + version + "/query/" + id + "-" + std::to_string(batch);
      cursor.last_used_ms = now;
      cursors_[id] = std::move(cursor);
      EvictCursors(now);
    }
    body["records"] = std::move(records);
    return Json(200, body);
  }

  std::string NewCursorId() {
    std::string id = sf::MakeId("01g", ++cursor_seq_);
    return id.substr(0, 15) + "A" + id.substr(15);  // 19 characters, like real locators' ids
  }

  void EvictCursors(int64_t now) {
    for (auto it = cursors_.begin(); it != cursors_.end();) {
      if (now - it->second.last_used_ms > kLocatorIdleMs) {
        it = cursors_.erase(it);
      } else {
        ++it;
      }
    }
    while (cursors_.size() > kMaxCursors) {
      auto oldest = cursors_.begin();
      for (auto it = cursors_.begin(); it != cursors_.end(); ++it) {
        if (it->second.last_used_ms < oldest->second.last_used_ms) oldest = it;
      }
      cursors_.erase(oldest);
    }
  }

  int BatchSize(const HttpRequest& req) {
    const std::string opts = req.Header("Sforce-Query-Options");
    const size_t p = opts.find("batchSize=");
    if (p == std::string::npos) return 2000;
    double v;
    std::string num;
    for (size_t i = p + 10; i < opts.size() && std::isdigit(static_cast<unsigned char>(opts[i]));
         ++i) {
      num.push_back(opts[i]);
    }
    if (!ParseDouble(num, &v)) return 2000;
    return std::clamp(static_cast<int>(v), 200, 2000);
  }

  HttpResponse Query(const HttpRequest& req, const std::string& version, bool all, bool tooling,
                     int64_t now) {
    auto q = req.Param("q");
    if (!q || q->empty()) throw Err(400, "MALFORMED_QUERY", "A query string has to be specified");
    sf::QueryPage page = org_->Query(*q, all, tooling, version, now);
    Cursor c;
    c.total = page.total;
    c.records = std::move(page.records);
    c.batch = BatchSize(req);
    return QueryResponse(version, std::move(c), now);
  }

  HttpResponse QueryMore(const std::string& locator, const std::string& version, bool tooling,
                         int64_t now) {
    (void)tooling;
    const size_t dash = locator.rfind('-');
    double offset = -1;
    auto it = dash == std::string::npos ? cursors_.end() : cursors_.find(locator.substr(0, dash));
    if (it == cursors_.end() || !ParseDouble(locator.substr(dash + 1), &offset) || offset < 0 ||
        now - it->second.last_used_ms > kLocatorIdleMs ||
        static_cast<size_t>(offset) > it->second.records.size()) {
      if (it != cursors_.end() && now - it->second.last_used_ms > kLocatorIdleMs)
        cursors_.erase(it);
      throw Err(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    }
    Cursor& c = it->second;
    c.last_used_ms = now;
    const size_t start = static_cast<size_t>(offset);
    const size_t end = std::min(c.records.size(), start + static_cast<size_t>(c.batch));
    json records = json::array();
    for (size_t i = start; i < end; ++i) records.push_back(c.records[i]);
    json body = {{"totalSize", c.total}, {"done", end >= c.records.size()}};
    if (end < c.records.size()) {
      body["nextRecordsUrl"] =
          "/services/data/v" + version + "/query/" + it->first + "-" + std::to_string(end);
    }
    body["records"] = std::move(records);
    return Json(200, body);
  }

  // ---------- sObjects ----------
  HttpResponse SObjects(const HttpRequest& req, const std::vector<std::string>& s,
                        const std::string& version, bool tooling, int64_t now) {
    const std::string& m = req.method;
    const size_t n = s.size();
    if (n == 1 && m == "GET") return Json(200, org_->DescribeGlobal(version, tooling));
    sf::Object& o = ObjectOrThrow(s[1], tooling);
    if (n == 2 && m == "GET") {
      json d = org_->Describe(o, version);
      json info = json::object();
      for (auto it = d.begin(); it != d.end(); ++it) {
        if (it.key() != "fields" && it.key() != "childRelationships" &&
            it.key() != "recordTypeInfos" && it.key() != "supportedScopes") {
          info[it.key()] = it.value();
        }
      }
      return Json(200, {{"objectDescribe", info}, {"recentItems", json::array()}});
    }
    if (n == 3 && s[2] == "describe" && m == "GET") return Json(200, org_->Describe(o, version));
    if (n == 2 && m == "POST") {
      const json body = ParseBody(req);
      std::string id = tooling && o.name == "CustomField" ? org_->CreateCustomField(body, now)
                                                          : org_->Create(o, body, now);
      json out = {{"id", id}, {"success", true}, {"errors", json::array()}};
      if (tooling) {
        out["warnings"] = json::array();
        out["infos"] = json::array();
      }
      return Json(201, out);
    }
    if (n == 3) {
      auto id = IdOf(o, s[2]);
      if (!id)
        throw Err(404, "NOT_FOUND",
                  "Provided external ID field does not exist or is not accessible: " + s[2]);
      const json* rec = org_->Get(o, *id);
      if (m == "GET") {
        if (!rec || rec->value("IsDeleted", false)) {
          throw Err(404, "NOT_FOUND", "The requested resource does not exist");
        }
        std::vector<std::string> fields;
        if (auto f = req.Param("fields")) fields = SplitTrim(*f, ',');
        for (const auto& f : fields) {
          if (!o.Find(f))
            throw Err(400, "INVALID_FIELD",
                      "No such column '" + f + "' on entity '" + o.name + "'");
        }
        return Json(200, org_->RecordJson(o, *rec, fields.empty() ? nullptr : &fields, version));
      }
      if (m == "PATCH") {
        if (tooling && o.name == "CustomField") {
          org_->UpdateCustomField(*id, ParseBody(req), now);
        } else {
          org_->Update(o, *id, ParseBody(req), now);
        }
        return NoContent();
      }
      if (m == "DELETE") {
        if (tooling && o.name == "CustomField") {
          org_->DeleteCustomField(*id, now);
        } else {
          org_->Delete(o, *id, now);
        }
        return NoContent();
      }
    }
    if (n == 4 && !tooling) {  // by external id
      const sf::Field* f = o.Find(s[2]);
      if (!f || !(f->external_id || f->name == "Id")) {
        throw Err(404, "NOT_FOUND",
                  "Provided external ID field does not exist or is not accessible: " + s[2]);
      }
      std::vector<std::string> ids;
      if (f->name == "Id") {
        if (auto id = IdOf(o, s[3]); id && org_->Get(o, *id)) ids.push_back(*id);
      } else {
        ids = org_->FindByExternalId(o, *f, s[3]);
      }
      if (ids.size() > 1) {
        json urls = json::array();
        for (const auto& id : ids)
          urls.push_back("/services/data/v" + version + "/sobjects/" + o.name + "/" + id);
        return Json(300, urls);
      }
      if (m == "GET") {
        if (ids.empty()) throw Err(404, "NOT_FOUND", "The requested resource does not exist");
        return Json(200, org_->RecordJson(o, *org_->Get(o, ids[0]), nullptr, version));
      }
      if (m == "PATCH") {
        json body = ParseBody(req);
        if (!body.is_object())
          throw Err(400, "JSON_PARSER_ERROR", "The body must be a JSON object");
        for (auto it = body.begin(); it != body.end();) {
          if (ToLower(it.key()) == ToLower(f->name)) {
            it = body.erase(it);
          } else {
            ++it;
          }
        }
        if (ids.empty()) {
          if (f->name != "Id") body[f->name] = s[3];
          const std::string id = org_->Create(o, body, now);
          return Json(
              201, {{"id", id}, {"success", true}, {"errors", json::array()}, {"created", true}});
        }
        org_->Update(o, ids[0], body, now);
        return Json(
            200,
            {{"id", ids[0]}, {"success", true}, {"errors", json::array()}, {"created", false}});
      }
      if (m == "DELETE") {
        if (ids.empty()) throw Err(404, "NOT_FOUND", "The requested resource does not exist");
        org_->Delete(o, ids[0], now);
        return NoContent();
      }
    }
    throw Err(405, "METHOD_NOT_ALLOWED",
              "HTTP Method '" + m + "' not allowed. Allowed are GET,PATCH,DELETE,POST");
  }

  // ---------- sObject Collections ----------
  static json Failure(const SfError& e, const json& id = nullptr) {
    json out = {
        {"success", false},
        {"errors",
         json::array({{{"statusCode", e.code}, {"message", e.message}, {"fields", e.fields}}})}};
    if (!id.is_null()) out["id"] = id;
    return out;
  }

  HttpResponse Collections(const HttpRequest& req, const std::vector<std::string>& s,
                           const std::string& version, int64_t now) {
    const std::string& m = req.method;
    const size_t n = s.size();
    if (n == 2 && m == "DELETE") {
      std::vector<std::string> ids;
      for (const auto& [k, v] : req.query) {
        if (k == "ids") {
          for (auto& x : SplitTrim(v, ',')) ids.push_back(x);
        }
      }
      if (ids.size() > static_cast<size_t>(kCollectionMax)) throw TooMany();
      bool all_or_none = false;
      if (auto a = req.Param("allOrNone")) all_or_none = ToLower(*a) == "true";
      return Apply(ids.size(), all_or_none, [&](size_t i) -> json {
        auto id = sf::NormalizeId(ids[i]);
        sf::Object* o = id ? org_->ObjectOfId(*id) : nullptr;
        if (!o) throw SfError{400, "MALFORMED_ID", "malformed id " + ids[i], {}};
        org_->Delete(*o, *id, now);
        return {{"id", *id}, {"success", true}, {"errors", json::array()}};
      });
    }
    if (n == 3 && (m == "GET" || m == "POST")) {  // retrieve
      sf::Object& o = ObjectOrThrow(s[2], false);
      std::vector<std::string> ids, fields;
      if (m == "GET") {
        for (const auto& [k, v] : req.query) {
          if (k == "ids")
            for (auto& x : SplitTrim(v, ',')) ids.push_back(x);
          if (k == "fields")
            for (auto& x : SplitTrim(v, ',')) fields.push_back(x);
        }
      } else {
        const json body = ParseBody(req);
        for (const auto& v : body.value("ids", json::array())) {
          if (v.is_string()) ids.push_back(v);
        }
        for (const auto& v : body.value("fields", json::array())) {
          if (v.is_string()) fields.push_back(v);
        }
      }
      if (ids.size() > 2000) throw TooMany();
      for (const auto& f : fields) {
        if (!o.Find(f))
          throw Err(400, "INVALID_FIELD", "No such column '" + f + "' on entity '" + o.name + "'");
      }
      json out = json::array();
      for (const auto& raw : ids) {
        auto id = IdOf(o, raw);
        const json* rec = id ? org_->Get(o, *id) : nullptr;
        if (!rec || rec->value("IsDeleted", false)) {
          out.push_back(nullptr);
        } else {
          out.push_back(org_->RecordJson(o, *rec, fields.empty() ? nullptr : &fields, version));
        }
      }
      return Json(200, out);
    }
    const bool upsert = n == 4 && m == "PATCH";
    if (!(n == 2 && (m == "POST" || m == "PATCH")) && !upsert) {
      throw Err(405, "METHOD_NOT_ALLOWED", "HTTP Method '" + m + "' not allowed here");
    }
    const json body = ParseBody(req);
    if (!body.is_object() || !body.contains("records") || !body["records"].is_array()) {
      throw Err(400, "JSON_PARSER_ERROR", "The body needs a 'records' array");
    }
    const json& records = body["records"];
    if (records.size() > static_cast<size_t>(kCollectionMax)) throw TooMany();
    const bool all_or_none = body.value("allOrNone", false);
    const sf::Field* ext = nullptr;
    sf::Object* upsert_type = nullptr;
    if (upsert) {
      upsert_type = &ObjectOrThrow(s[2], false);
      ext = upsert_type->Find(s[3]);
      if (!ext || !(ext->external_id || ext->name == "Id")) {
        throw Err(400, "INVALID_FIELD",
                  "Field name provided, " + s[3] + " is not an External ID or indexed field for " +
                      upsert_type->name);
      }
    }
    return Apply(records.size(), all_or_none, [&](size_t i) -> json {
      const json& rec = records[i];
      if (!rec.is_object())
        throw SfError{400, "JSON_PARSER_ERROR", "a record must be an object", {}};
      std::string type;
      if (rec.contains("attributes") && rec["attributes"].is_object()) {
        type = rec["attributes"].value("type", "");
      }
      if (type.empty()) throw SfError{400, "INVALID_TYPE", "Must send a concrete entity type.", {}};
      sf::Object* o = org_->FindObject(type, false);
      if (!o)
        throw SfError{400, "INVALID_TYPE", "sObject type '" + type + "' is not supported.", {}};
      if (upsert && o != upsert_type) {
        throw SfError{400,
                      "INVALID_TYPE",
                      "Record type " + type + " does not match " + upsert_type->name,
                      {}};
      }
      json fields = json::object();
      std::string id_text;
      bool has_id = false;
      for (auto it = rec.begin(); it != rec.end(); ++it) {
        if (ToLower(it.key()) == "id") {
          has_id = true;
          id_text = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
        } else if (it.key() != "attributes") {
          fields[it.key()] = it.value();
        }
      }
      if (m == "POST") {
        if (has_id) {
          throw SfError{400, "INVALID_FIELD", "cannot specify Id in an insert call", {"Id"}};
        }
        const std::string id = org_->Create(*o, fields, now);
        return {{"id", id}, {"success", true}, {"errors", json::array()}};
      }
      if (!upsert) {
        if (!has_id)
          throw SfError{400, "MISSING_ARGUMENT", "Id not specified in an update call", {}};
        auto id = IdOf(*o, id_text);
        if (!id)
          throw SfError{
              400, "MALFORMED_ID", o->name + " ID: id value of incorrect type: " + id_text, {"Id"}};
        org_->Update(*o, *id, fields, now);
        return {{"id", *id}, {"success", true}, {"errors", json::array()}};
      }
      // upsert by external id
      std::string value;
      if (ext->name == "Id") {
        value = id_text;
      } else {
        for (auto it = fields.begin(); it != fields.end(); ++it) {
          if (ToLower(it.key()) == ToLower(ext->name) && !it.value().is_null()) {
            value = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
          }
        }
      }
      if (value.empty()) {
        throw SfError{400, "MISSING_ARGUMENT", ext->name + " not specified", {ext->name}};
      }
      std::vector<std::string> ids;
      if (ext->name == "Id") {
        if (auto id = IdOf(*o, value); id && org_->Get(*o, *id)) ids.push_back(*id);
      } else {
        ids = org_->FindByExternalId(*o, *ext, value);
      }
      if (ids.size() > 1) {
        throw SfError{
            300,
            "DUPLICATE_EXTERNAL_ID",
            ext->name + " = " + value + ": more than one record found for external id field",
            {ext->name}};
      }
      if (ids.empty()) {
        if (ext->name == "Id") throw SfError{404, "NOT_FOUND", "no record with id " + value, {}};
        const std::string id = org_->Create(*o, fields, now);
        return {{"id", id}, {"success", true}, {"errors", json::array()}, {"created", true}};
      }
      org_->Update(*o, ids[0], fields, now);
      return {{"id", ids[0]}, {"success", true}, {"errors", json::array()}, {"created", false}};
    });
  }

  SfError TooMany() {
    return Err(400, "EXCEEDED_ID_LIMIT",
               "record limit reached. cannot submit more than 200 records into this call");
  }

  // Runs `one` for each record with per-record results, the partial fault and allOrNone.
  template <typename F>
  HttpResponse Apply(size_t count, bool all_or_none, F one) {
    const std::vector<bool> mask = faults_.PartialMask(current_, count);
    if (all_or_none) org_->BeginTransaction();
    json results = json::array();
    std::vector<bool> failed(count, false);
    bool any_failed = false;
    for (size_t i = 0; i < count; ++i) {
      try {
        if (mask[i]) {
          throw SfError{400,
                        "UNABLE_TO_LOCK_ROW",
                        "unable to obtain exclusive access to this record (sandbox partial fault)",
                        {}};
        }
        results.push_back(one(i));
      } catch (const SfError& e) {
        results.push_back(Failure(e));
        failed[i] = true;
        any_failed = true;
      }
    }
    if (all_or_none) {
      if (any_failed) {
        org_->Rollback();
        for (size_t i = 0; i < count; ++i) {
          if (failed[i]) continue;
          results[i] = Failure(SfError{400,
                                       "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                       "Record rolled back because not all records were valid "
                                       "and the request was using AllOrNone header",
                                       {}});
        }
      } else {
        org_->Commit();
      }
    }
    return Json(200, results);
  }

  // ---------- identity and OAuth ----------
  HttpResponse Identity(const std::vector<std::string>& segs, const Session&) {
    sf::Object& users = *org_->FindObject("User", false);
    auto id = sf::NormalizeId(segs[2]);
    const json* user = id ? org_->Get(users, *id) : nullptr;
    if (segs[1] != org_->org_id() || !user) throw Err(404, "NOT_FOUND", "Bad_Id");
    return Json(200, {{"id", "/id/" + org_->org_id() + "/" + *id},
                      {"asserted_user", true},
                      {"user_id", *id},
                      {"organization_id", org_->org_id()},
                      {"username", user->value("Username", "")},
                      {"nick_name", user->value("Alias", "")},
                      {"display_name", user->value("Name", "")},
                      {"email", user->value("Email", "")},
                      {"email_verified", true},
                      {"first_name", user->value("FirstName", "")},
                      {"last_name", user->value("LastName", "")},
                      {"timezone", "GMT"},
                      {"active", true},
                      {"user_type", "STANDARD"},
                      {"language", "en_US"},
                      {"locale", "en_US"},
                      {"utcOffset", 0},
                      {"is_app_installed", true}});
  }

  HttpResponse OAuthError(const std::string& error, const std::string& description,
                          int status = 400) {
    return Json(status, {{"error", error}, {"error_description", description}});
  }

  HttpResponse OAuth(const HttpRequest& req, const std::string& what, int64_t now) {
    if (req.method != "POST") throw Err(405, "METHOD_NOT_ALLOWED", "use POST");
    std::map<std::string, std::string> form;
    for (const auto& kv : SplitAmp(req.body)) {
      const size_t eq = kv.find('=');
      form[UrlDecode(kv.substr(0, eq), true)] =
          eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1), true);
    }
    for (const auto& [k, v] : req.query) form.emplace(k, v);
    if (what == "revoke") {
      sessions_.erase(form["token"]);
      refresh_tokens_.erase(form["token"]);
      return Json(200, json::object());
    }
    if (what != "token") throw Err(404, "NOT_FOUND", "The requested resource does not exist");
    // HTTP Basic client credentials.
    if (req.authorization.size() > 6 && ToLower(req.authorization.substr(0, 6)) == "basic ") {
      std::string decoded;
      if (Base64Decode(req.authorization.substr(6), &decoded)) {
        const size_t colon = decoded.find(':');
        form.emplace("client_id", UrlDecode(decoded.substr(0, colon), true));
        if (colon != std::string::npos)
          form.emplace("client_secret", UrlDecode(decoded.substr(colon + 1), true));
      }
    }
    const std::string grant = form["grant_type"];
    std::string user_id = org_->api_user_id();
    bool jwt = false;
    std::string refresh;
    if (grant == "refresh_token") {
      if (form["client_id"].empty())
        return OAuthError("invalid_client_id", "client identifier invalid");
      auto it = refresh_tokens_.find(form["refresh_token"]);
      if (it == refresh_tokens_.end())
        return OAuthError("invalid_grant", "expired access/refresh token");
      user_id = it->second;
    } else if (grant == "client_credentials") {
      if (form["client_id"].empty() || form["client_secret"].empty()) {
        return OAuthError("invalid_client", "invalid client credentials");
      }
    } else if (grant == "authorization_code") {
      if (form["code"] != "sandbox-code")
        return OAuthError("invalid_grant", "invalid authorization code");
      if (form["client_id"].empty())
        return OAuthError("invalid_client_id", "client identifier invalid");
      refresh = "sandbox-refresh-token";
    } else if (grant == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      jwt = true;
      std::string error;
      if (!CheckJwt(req, form["assertion"], now, &user_id, &error)) {
        return OAuthError("invalid_grant", error);
      }
    } else {
      return OAuthError("unsupported_grant_type", "grant type not supported");
    }
    const std::string access =
        org_->org_id().substr(0, 15) + "!AQ" + RandomHex(8) + "." + RandomHex(64);
    sessions_[access] = Session{user_id, now + kSessionMs};
    const std::string id_url = IdentityUrl(req, user_id);
    json body = {{"access_token", access},
                 {"instance_url", Host(req)},
                 {"id", id_url},
                 {"token_type", "Bearer"},
                 {"scope", jwt ? "api" : "api refresh_token"}};
    if (!jwt) {
      const std::string issued = std::to_string(now);
      body["issued_at"] = issued;
      const std::string secret =
          form["client_secret"].empty() ? "sandbox-client-secret" : form["client_secret"];
      body["signature"] = HmacSha256Base64(secret, id_url + issued);
    }
    if (!refresh.empty()) {
      refresh_tokens_[refresh] = user_id;
      body["refresh_token"] = refresh;
    }
    return Json(200, body);
  }

  static std::vector<std::string> SplitAmp(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
      const size_t p = s.find('&');
      if (p != 0) out.emplace_back(s.substr(0, p));
      if (p == std::string_view::npos) break;
      s.remove_prefix(p + 1);
    }
    return out;
  }

  // Structure and claims of a JWT bearer assertion (the RS256 signature is not verified).
  bool CheckJwt(const HttpRequest& req, const std::string& assertion, int64_t now,
                std::string* user_id, std::string* error) {
    std::vector<std::string> parts;
    std::string_view rest = assertion;
    while (true) {
      const size_t p = rest.find('.');
      parts.emplace_back(rest.substr(0, p));
      if (p == std::string_view::npos) break;
      rest.remove_prefix(p + 1);
    }
    if (parts.size() != 3 || parts[2].empty()) {
      *error = "invalid assertion";
      return false;
    }
    const json header = json::parse(Base64Url(parts[0]), nullptr, false);
    const json claims = json::parse(Base64Url(parts[1]), nullptr, false);
    if (!header.is_object() || !claims.is_object()) {
      *error = "invalid assertion";
      return false;
    }
    if (header.value("alg", "") != "RS256") {
      *error = "invalid assertion: algorithm must be RS256";
      return false;
    }
    if (claims.value("iss", "").empty()) {
      *error = "invalid client credentials";
      return false;
    }
    std::string aud = claims.value("aud", "");
    while (!aud.empty() && aud.back() == '/') aud.pop_back();
    if (aud != "https://login.salesforce.com" && aud != "https://test.salesforce.com" &&
        aud != Host(req)) {
      *error = "audience is invalid";
      return false;
    }
    const json exp = claims.value("exp", json());
    if (!exp.is_number() || exp.get<double>() * 1000 < static_cast<double>(now)) {
      *error = "expired authorization code";
      return false;
    }
    if (exp.get<double>() * 1000 > static_cast<double>(now + 5 * 60 * 1000)) {
      *error = "invalid assertion: exp is more than 3 minutes ahead";
      return false;
    }
    const std::string sub = ToLower(claims.value("sub", ""));
    sf::Object& users = *org_->FindObject("User", false);
    for (const auto& [id, u] : users.records) {
      if (ToLower(u.value("Username", "")) == sub && u.value("IsActive", false)) {
        *user_id = id;
        return true;
      }
    }
    *error = "user hasn't approved this consumer";
    return false;
  }

  // ---------- admin (/_sandbox/) ----------
  HttpResponse Admin(const HttpRequest& req, const std::vector<std::string>& s) {
    const std::string& m = req.method;
    const size_t n = s.size();
    const int64_t now = NowMs();
    auto body = [&]() -> json {
      if (req.body.empty()) return json::object();
      json b = json::parse(req.body, nullptr, false);
      if (b.is_discarded()) throw Err(400, "JSON_PARSER_ERROR", "invalid JSON");
      return b;
    };
    if (n == 2 && s[1] == "health") return Json(200, {{"status", "ok"}, {"crm", "salesforce"}});
    if (n == 2 && s[1] == "counters" && m == "GET") return Json(200, CountersToJson());
    if (n == 3 && s[1] == "counters" && s[2] == "reset" && m == "POST") {
      counters_ = {};
      faults_by_kind_.clear();
      return Json(200, CountersToJson());
    }
    if (n == 2 && s[1] == "reset" && m == "POST") {
      org_->Reset();
      counters_ = {};
      faults_by_kind_.clear();
      usage_.clear();
      faults_.ResetSequence();
      sessions_.clear();
      cursors_.clear();
      static_expired_ = false;
      refresh_tokens_ = {{"sandbox-refresh-token", org_->api_user_id()}};
      return Json(200, {{"status", "reset"}});
    }
    if (n == 2 && s[1] == "faults") {
      if (m == "GET") return Json(200, {{"spec", faults_.spec()}});
      if (m == "PUT" || m == "POST") {
        const json b = body();
        std::string err = faults_.Set(b.value("spec", ""));
        if (!err.empty()) throw Err(400, "INVALID_FAULT_SPEC", "Invalid fault spec: " + err);
        if (b.value("reset_sequence", true)) faults_.ResetSequence();
        return Json(200, {{"spec", faults_.spec()}});
      }
    }
    if (n == 3 && s[1] == "oauth" && s[2] == "expire" && m == "POST") {
      const json b = body();
      int64_t expired = 0;
      if (b.contains("token")) {
        auto it = sessions_.find(b.value("token", ""));
        if (it != sessions_.end()) {
          it->second.expiry_ms = now - 1000;
          ++expired;
        }
      } else {
        for (auto& [token, session] : sessions_) {
          session.expiry_ms = now - 1000;
          ++expired;
        }
      }
      if (b.value("static", false)) static_expired_ = true;
      return Json(200, {{"expired", expired}, {"static_expired", static_expired_}});
    }
    if (n == 2 && s[1] == "fls" && m == "POST") {
      const json b = body();
      std::vector<std::string> hide, show;
      for (const auto& v : b.value("hide", json::array())) {
        if (v.is_string()) hide.push_back(v);
      }
      for (const auto& v : b.value("show", json::array())) {
        if (v.is_string()) show.push_back(v);
      }
      org_->SetFieldSecurity(hide, show);
      if (b.contains("hide_new_fields")) org_->hide_new_fields = b.value("hide_new_fields", false);
      return Json(200, {{"hide_new_fields", org_->hide_new_fields}});
    }
    if (n == 2 && s[1] == "picklist" && m == "POST") {
      // An org's own picklist: {"object": "Task", "field": "Priority", "values": [...],
      // "default": "..."} replaces the values (as an admin renames them in Setup).
      const json b = body();
      sf::Object& o = ObjectOrThrow(b.value("object", ""), false);
      sf::Field* f = o.FindAny(b.value("field", ""));
      if (f == nullptr || f->type != "picklist") {
        throw Err(404, "NOT_FOUND", "no picklist field " + b.value("field", ""));
      }
      const std::string def = b.value("default", "");
      f->picklist.clear();
      for (const auto& v : b.value("values", json::array())) {
        if (!v.is_string()) continue;
        sf::PickValue p;
        p.value = p.label = v.get<std::string>();
        p.is_default = p.value == def;
        f->picklist.push_back(p);
      }
      f->default_value = def.empty() ? json() : json(def);
      f->defaulted_on_create = !def.empty();
      if (o.name == "Task" && f->name == "Status") {
        // Task Status values are TaskStatus records too: "closed" names the values that close
        // a task (IsClosed); without it, "Completed" if it is one of the values.
        std::vector<std::string> values;
        for (const auto& p : f->picklist) values.push_back(p.value);
        std::set<std::string> closed;
        for (const auto& v : b.value("closed", json::array({"Completed"}))) {
          if (v.is_string()) closed.insert(v.get<std::string>());
        }
        org_->SetTaskStatuses(values, def, closed, now);
      }
      return Json(200, {{"object", o.name}, {"field", f->name}, {"values", f->picklist.size()}});
    }
    if (n == 2 && s[1] == "limits" && m == "POST") {
      const json b = body();
      usage_.clear();
      const int64_t used = b.value("used", int64_t{0});
      if (used > 0) usage_.emplace_back(now / 3600000, used);
      return Json(200, {{"used", Used(now)}, {"max", DailyMax()}});
    }
    if (n == 4 && s[1] == "objects") {
      sf::Object& o = ObjectOrThrow(s[2], false);
      auto id = IdOf(o, s[3]);
      if (!id) throw Err(404, "NOT_FOUND", "no such record");
      if (m == "POST" || m == "PATCH") {
        const json b = body();
        org_->Update(o, *id, b.value("fields", b), now, true);
        return Json(200, org_->RecordJson(o, *org_->Get(o, *id), nullptr, "59.0"));
      }
      if (m == "DELETE") {
        org_->Delete(o, *id, now);
        return NoContent();
      }
    }
    if (n == 2 && s[1] == "companies" && m == "POST") {
      const int count = IntMember(body(), "count", 1).value_or(-1);
      if (count < 0 || count > 1000000)
        throw Err(400, "INVALID_COUNT", "count must be in [0, 1000000]");
      const std::string first = org_->AddCompanies(count, 0);
      return Json(201, {{"created", count}, {"firstId", first}});
    }
    if (n == 2 && s[1] == "touch" && m == "POST") {
      const json b = body();
      sf::Object& o = ObjectOrThrow(b.value("type", "Account"), false);
      int64_t ts = now;
      if (b.contains("timestamp")) {
        const json& t = b["timestamp"];
        if (t.is_number()) {
          const std::optional<int64_t> whole = WholeInt64(t);
          if (!whole) throw Err(400, "INVALID_TIMESTAMP", "bad timestamp");
          ts = *whole;
        } else if (!t.is_string() || !ParseTimeMs(t.get<std::string>(), &ts)) {
          throw Err(400, "INVALID_TIMESTAMP", "bad timestamp");
        }
      }
      std::vector<std::string> ids;
      for (const auto& v : b.value("ids", json::array())) {
        if (v.is_string()) ids.push_back(v);
      }
      const int64_t updated = org_->Touch(o, ids, b.value("count", int64_t{0}), ts);
      return Json(200, {{"updated", updated}, {"timestamp", soql::SfDateTime(ts)}});
    }
    if (n == 2 && s[1] == "tasks" && m == "GET") {
      sf::Object& tasks = *org_->FindObject("Task", false);
      const bool archived = req.Param("archived").value_or("") == "true";
      json records = json::array();
      for (const auto& [id, r] : tasks.records) {
        if (!archived && r.value("IsDeleted", false)) continue;
        records.push_back(org_->RecordJson(tasks, r, nullptr, "59.0"));
      }
      return Json(200, {{"total", records.size()}, {"records", records}});
    }
    if (n == 2 && s[1] == "tasks" && m == "POST") {
      const json b = body();
      sf::Object& tasks = *org_->FindObject("Task", false);
      json fields = b.value("fields", json::object());
      if (b.contains("accountId")) fields["WhatId"] = b["accountId"];
      if (!fields.contains("Subject")) fields["Subject"] = "Follow up (made by hand)";
      if (!fields.contains("OwnerId") && fields.contains("WhatId") &&
          fields["WhatId"].is_string()) {
        sf::Object& accounts = *org_->FindObject("Account", false);
        if (auto aid = IdOf(accounts, fields["WhatId"])) {
          if (const json* a = org_->Get(accounts, *aid))
            fields["OwnerId"] = a->value("OwnerId", json());
        }
      }
      const std::string id = org_->Create(tasks, fields, now);
      return Json(201, org_->RecordJson(tasks, *org_->Get(tasks, id), nullptr, "59.0"));
    }
    if (n == 3 && s[1] == "tasks" && m == "DELETE") {
      sf::Object& tasks = *org_->FindObject("Task", false);
      auto id = IdOf(tasks, s[2]);
      if (!id) throw Err(404, "NOT_FOUND", "no such task");
      org_->Delete(tasks, *id, now);
      return NoContent();
    }
    throw Err(404, "NOT_FOUND", "No admin route for " + m + " " + req.path);
  }

  SandboxOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<sf::Org> org_;
  std::mt19937_64 rng_;
  SandboxCounters counters_;
  FaultInjector faults_;
  std::map<std::string, uint64_t> faults_by_kind_;  // injected faults per kind ("500", "drop", …)
  Faults current_;
  std::deque<std::pair<int64_t, int64_t>> usage_;  // (hour, requests)
  std::map<std::string, Session> sessions_;
  std::map<std::string, std::string> refresh_tokens_ = {};
  bool static_expired_ = false;
  std::map<std::string, Cursor> cursors_;
  uint64_t cursor_seq_ = 0;
};

}  // namespace

std::unique_ptr<Api> CreateSalesforceApi(const SandboxOptions& options, std::string* error) {
  if (!options.db_path.empty()) {
    *error =
        "the Salesforce sandbox keeps its org in memory; --db is not supported with --crm "
        "salesforce";
    return nullptr;
  }
  try {
    auto api = std::make_unique<SfApi>(options);
    if (std::string err = api->SetFaults(options.faults); !err.empty()) {
      *error = "invalid fault spec '" + options.faults + "': " + err;
      return nullptr;
    }
    return api;
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}

}  // namespace kam::sandbox
