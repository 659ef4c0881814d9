// The sandbox's HubSpot API: routing, Bearer authentication, the ten-secondly/daily/search rate
// limits with HubSpot's headers and 429 bodies, seeded fault injection, request counters, the
// CRM routes of CRM_API.md section A and the admin routes under /_sandbox/.
#include "api.h"

#include <deque>
#include <mutex>
#include <random>

#include "faults.h"
#include "portal.h"

namespace kam::sandbox {
namespace {

constexpr int kBatchMax = 100;
constexpr int kAssocBatchMax = 1000;
constexpr int kAssocPage = 500;
constexpr int kSearchCap = 10000;
constexpr int kSearchMaxLimit = 200;
constexpr size_t kSearchBodyMax = 3000;
constexpr int64_t kPortalId = 24681357;
constexpr int64_t kOAuthLifetimeMs = 1800 * 1000;
constexpr const char* kJson = "application/json;charset=utf-8";

ApiError BadRequest(std::string message) {
  return ApiError{400, "VALIDATION_ERROR", std::move(message)};
}
ApiError NotFound(std::string message) {
  return ApiError{404, "OBJECT_NOT_FOUND", std::move(message)};
}
ApiError UnknownType(const std::string& name) {
  return ApiError{400, "", "Unable to infer object type from: " + name};
}

// A list parameter given repeated or comma-joined (or both).
std::vector<std::string> QueryList(const HttpRequest& r, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r.query) {
    if (k == key) {
      for (auto& x : SplitTrim(v, ',')) out.push_back(std::move(x));
    }
  }
  return out;
}

bool QueryBool(const HttpRequest& r, const std::string& key) {
  auto v = r.Param(key);
  return v && ToLower(*v) == "true";
}

std::optional<int64_t> ParseId(const json& v) {
  std::string s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_number_integer()) {
    return v.get<int64_t>();
  } else {
    return std::nullopt;
  }
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    out = out * 10 + (c - '0');
  }
  return out;
}

// An association spec's associationTypeId (absent: 0, which no association type has).
int AssociationTypeId(const json& spec) {
  const std::optional<int> id = IntMember(spec, "associationTypeId", 0);
  if (!id) {
    throw BadRequest("associationTypeId must be an integer, got " +
                     spec.at("associationTypeId").dump());
  }
  return *id;
}

// A property group's or property's displayOrder (absent: -1).
int DisplayOrder(const json& in) {
  const std::optional<int> order = IntMember(in, "displayOrder", -1);
  if (!order) {
    throw BadRequest("displayOrder must be an integer, got " + in.at("displayOrder").dump());
  }
  return *order;
}

std::string IdText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string EncodeCursor(int64_t id) { return Base64Encode(std::to_string(id)); }

int64_t DecodeCursor(const std::string& after) {
  std::string raw;
  if (!Base64Decode(after, &raw)) throw BadRequest("Invalid 'after' paging cursor: " + after);
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == ' ')) raw.pop_back();
  auto id = ParseId(json(raw));
  if (!id) throw BadRequest("Invalid 'after' paging cursor: " + after);
  return *id;
}

json Paging(const std::string& after) {
  return {{"next", {{"after", after}, {"link", "?after=" + UrlEncode(after)}}}};
}

const std::vector<std::string>& DefaultProps(const ObjectType& t) {
  static const std::map<std::string, std::vector<std::string>> kDefaults = {
      {"companies", {"name", "domain"}},
      {"contacts", {"firstname", "lastname", "email"}},
      {"deals", {"dealname", "amount", "closedate", "pipeline", "dealstage"}},
      {"tasks", {"hs_task_subject", "hs_task_status", "hs_task_priority", "hs_timestamp"}},
      {"meetings", {"hs_meeting_title", "hs_timestamp"}},
  };
  return kDefaults.at(t.name);
}

json ParseBody(const HttpRequest& req, bool required = true) {
  if (req.body.empty()) {
    if (!required) return json::object();
    throw BadRequest("Invalid input JSON: the request body is empty");
  }
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    throw BadRequest(std::string("Invalid input JSON on line 1, column ") +
                     std::to_string(e.byte) + ": " + e.what());
  } catch (const json::exception& e) {  // 1e400: out_of_range.406, not a parse_error
    throw BadRequest(std::string("Invalid input JSON: ") + e.what());
  }
}

const json& Inputs(const json& body, size_t max) {
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_array()) {
    throw BadRequest("Invalid input JSON: 'inputs' must be an array");
  }
  if (body["inputs"].size() > max) {
    throw BadRequest("Batch input limit exceeded: at most " + std::to_string(max) +
                     " inputs are allowed per request, got " +
                     std::to_string(body["inputs"].size()));
  }
  return body["inputs"];
}

json StandardError(const std::string& category, const std::string& message, json context) {
  return {{"status", "error"},
          {"category", category},
          {"message", message},
          {"context", context.is_null() ? json::object() : context},
          {"errors", json::array()},
          {"links", json::object()}};
}

std::vector<std::string> StringList(const json& body, const char* key) {
  std::vector<std::string> out;
  if (body.is_object() && body.contains(key) && body[key].is_array()) {
    for (const auto& v : body[key]) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

class ApiImpl final : public Api {
 public:
  explicit ApiImpl(const SandboxOptions& options)
      : options_(options), rng_(Mix(options.seed, 0xC0FFEE)), faults_(options.seed) {
    portal_ = std::make_unique<Portal>(options);
  }

  std::string SetFaultsLocked(const std::string& spec) { return faults_.Set(spec); }

  std::string SetFaults(const std::string& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    return SetFaultsLocked(spec);
  }

  SandboxCounters Counters() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return counters_;
  }

  std::string CountersJson() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return CountersToJson().dump();
  }

  HttpResponse Handle(const HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return HandleLocked(req);
    } catch (const ApiError& e) {
      return Error(e);
    } catch (const std::exception& e) {
      return Error(ApiError{500, "INTERNAL_ERROR", std::string("Sandbox internal error: ") +
                                                       e.what()});
    }
  }

 private:
  // ---------- responses ----------
  std::string Uuid() {
    const uint64_t a = rng_(), b = rng_();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx",
                  static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xFFFF),
                  static_cast<unsigned>(a & 0xFFF),
                  static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3FFF)),
                  static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return buf;
  }

  HttpResponse Json(int status, const json& body, const std::string& correlation = {}) {
    HttpResponse r;
    r.status = status;
    const std::string id = correlation.empty() ? Uuid() : correlation;
    r.headers.emplace_back("X-HubSpot-Correlation-Id", id);
    if (status != 204) {
      r.headers.emplace_back("Content-Type", kJson);
      // Messages may echo request paths and ids that are not UTF-8: replace such bytes rather
      // than throw from the error path (found by tests/fuzz sandbox_request).
      r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return r;
  }

  HttpResponse NoContent() { return Json(204, nullptr); }

  HttpResponse Error(const ApiError& e) {
    const std::string id = Uuid();
    json body = {{"status", "error"}, {"message", e.message}, {"correlationId", id}};
    if (!e.category.empty()) body["category"] = e.category;
    if (!e.errors.is_null()) body["errors"] = e.errors;
    if (!e.context.is_null()) body["context"] = e.context;
    return Json(e.status, body, id);
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

  // ---------- objects as JSON ----------
  json PropValue(const Record& r, const std::string& name) {
    const ObjectType& t = *r.type;
    if (name == "hs_object_id") return std::to_string(r.id);
    if (name == "createdate") return IsoMs(r.created_ms);
    if (name == t.modified_prop || name == "hs_lastmodifieddate") return IsoMs(r.updated_ms);
    if (std::string_view(t.name) == "companies" &&
        (name == "num_associated_contacts" || name == "num_associated_deals")) {
      const ObjectType* to = FindObjectType(name == "num_associated_contacts" ? "contacts" : "deals");
      return std::to_string(portal_->CountEdges(r.id, *to));
    }
    auto it = r.props.find(name);
    if (it != r.props.end()) return *it;
    return nullptr;
  }

  // names == nullptr: every stored property (write responses).
  json ObjectJson(const Record& r, const std::vector<std::string>* names,
                  const std::vector<std::string>& with_history = {}) {
    const ObjectType& t = *r.type;
    json props = json::object();
    if (names) {
      for (const auto& n : *names) {
        if (props.contains(n)) continue;
        if (!portal_->Prop(t, n) && n != "hs_lastmodifieddate") continue;  // unknown: omitted
        props[n] = PropValue(r, n);
      }
    } else {
      for (auto it = r.props.begin(); it != r.props.end(); ++it) props[it.key()] = it.value();
    }
    props["hs_object_id"] = PropValue(r, "hs_object_id");
    props["createdate"] = PropValue(r, "createdate");
    props[t.modified_prop] = PropValue(r, t.modified_prop);
    json out = json::object();
    out["id"] = std::to_string(r.id);
    out["properties"] = std::move(props);
    out["createdAt"] = IsoMs(r.created_ms);
    out["updatedAt"] = IsoMs(r.updated_ms);
    out["archived"] = r.archived;
    if (r.archived) out["archivedAt"] = IsoMs(r.archived_ms);
    if (!with_history.empty()) {
      json h = json::object();
      for (const auto& n : with_history) {
        if (!portal_->Prop(t, n)) continue;
        json v = PropValue(r, n);
        h[n] = json::array();
        if (!v.is_null()) {
          h[n].push_back({{"value", v},
                          {"timestamp", IsoMs(r.updated_ms)},
                          {"sourceType", "API"},
                          {"sourceId", "sandbox"}});
        }
      }
      out["propertiesWithHistory"] = h;
    }
    return out;
  }

  std::vector<std::string> RequestedProps(const ObjectType& t, std::vector<std::string> names) {
    if (names.empty()) return DefaultProps(t);
    return names;
  }

  const ObjectType& TypeOrThrow(const std::string& name) {
    const ObjectType* t = FindObjectType(name);
    if (!t) throw UnknownType(name);
    return *t;
  }

  // Resolves {id} or a unique-property value (idProperty) to a live record.
  std::optional<Record> Resolve(const ObjectType& t, const std::string& id,
                                const std::string& id_property, bool archived = false) {
    if (!id_property.empty() && id_property != "hs_object_id") {
      const PropDef* def = portal_->Prop(t, id_property);
      if (!def || !def->unique) {
        throw BadRequest("Unable to perform update/upsert by non-unique " + std::string(t.singular) +
                         " property: " + id_property);
      }
      auto found = portal_->FindUnique(t, id_property, id);
      if (!found) return std::nullopt;
      return portal_->LoadOfType(t, *found, archived);
    }
    auto n = ParseId(json(id));
    if (!n) return std::nullopt;
    return portal_->LoadOfType(t, *n, archived);
  }

  // ---------- associations on create ----------
  struct PlannedLink {
    int64_t to_id;
    const ObjectType* to;
    int type_id;
  };

  std::vector<PlannedLink> PlanAssociations(const ObjectType& from, const json& list) {
    std::vector<PlannedLink> out;
    if (list.is_null()) return out;
    if (!list.is_array()) throw BadRequest("associations must be an array");
    for (const auto& a : list) {
      const json to = a.value("to", json::object());
      auto to_id = ParseId(to.value("id", json()));
      std::optional<Record> target;
      if (to_id) target = portal_->Load(*to_id);
      if (!target || target->archived) {
        throw BadRequest("Association target " + IdText(to.value("id", json())) +
                         " was not found. Check that ids are valid.");
      }
      const json types = a.value("types", json::array());
      if (!types.is_array() || types.empty()) {
        throw BadRequest("Each association needs 'types' with associationTypeId");
      }
      for (const auto& ty : types) {
        const int type_id = AssociationTypeId(ty);
        if (!FindAssoc(from, *target->type, type_id)) {
          throw BadRequest(std::to_string(type_id) + " is not a valid association type between " +
                           from.name + " and " + target->type->name);
        }
        out.push_back({*to_id, target->type, type_id});
      }
    }
    return out;
  }

  // ---------- fault helpers ----------
  std::vector<bool> PartialMask(size_t n) { return faults_.PartialMask(current_, n); }

  json PartialError(const json& input, size_t index) {
    json ctx = json::object();
    if (input.is_object() && input.contains("id")) {
      ctx["ids"] = json::array({IdText(input["id"])});
    } else {
      ctx["inputIndex"] = json::array({std::to_string(index)});
    }
    json e = StandardError("RATE_LIMITS",
                           "This input was not processed (sandbox partial-failure fault); it is "
                           "safe to retry it.",
                           ctx);
    if (input.is_object() && input.contains("objectWriteTraceId")) {
      e["id"] = input["objectWriteTraceId"];
    }
    return e;
  }

  // Takes the arrays by value: callers move them in (a batch's results are most of its answer).
  json BatchBody(json results, json errors, int64_t started) {
    json out = json::object();
    out["status"] = "COMPLETE";
    out["results"] = std::move(results);
    out["startedAt"] = IsoMs(started);
    out["completedAt"] = IsoMs(NowMs());
    if (!errors.empty()) {
      out["numErrors"] = errors.size();
      out["errors"] = std::move(errors);
    }
    return out;
  }

  // ---------- rate limits ----------
  static void Prune(std::deque<int64_t>& q, int64_t now, int64_t window) {
    while (!q.empty() && q.front() <= now - window) q.pop_front();
  }

  void RollDay(int64_t now) {
    const int64_t day = now / 86400000;  // the portal's time zone is UTC
    if (day != day_) {
      day_ = day;
      daily_used_ = 0;
    }
  }

  void AddRateHeaders(HttpResponse& r, const std::string& token, bool oauth, int64_t now) {
    const int max = options_.rate_limit_max > 0 ? options_.rate_limit_max : 1000000;
    const int interval = options_.rate_limit_interval_ms > 0 ? options_.rate_limit_interval_ms
                                                             : 10000;
    auto& q = window_[token];
    Prune(q, now, interval);
    const int used = static_cast<int>(q.size());
    int last_second = 0;
    for (auto it = q.rbegin(); it != q.rend() && *it > now - 1000; ++it) ++last_second;
    const int secondly = std::max(1, max * 1000 / interval);
    if (!oauth) {
      const int64_t daily = options_.daily_limit > 0 ? options_.daily_limit : 100000000;
      r.headers.emplace_back("X-HubSpot-RateLimit-Daily", std::to_string(daily));
      r.headers.emplace_back("X-HubSpot-RateLimit-Daily-Remaining",
                             std::to_string(std::max<int64_t>(0, daily - daily_used_)));
    }
    r.headers.emplace_back("X-HubSpot-RateLimit-Interval-Milliseconds", std::to_string(interval));
    r.headers.emplace_back("X-HubSpot-RateLimit-Max", std::to_string(max));
    r.headers.emplace_back("X-HubSpot-RateLimit-Remaining", std::to_string(std::max(0, max - used)));
    r.headers.emplace_back("X-HubSpot-RateLimit-Secondly", std::to_string(secondly));
    r.headers.emplace_back("X-HubSpot-RateLimit-Secondly-Remaining",
                           std::to_string(std::max(0, secondly - last_second)));
  }

  HttpResponse RateLimited(const std::string& policy) {
    const std::string id = Uuid();
    json body = {{"status", "error"}, {"errorType", "RATE_LIMIT"}, {"correlationId", id}};
    if (policy == "DAILY") {
      body["message"] = "You have reached your daily limit.";
      body["policyName"] = "DAILY";
      body["groupName"] = "publicapi:private_app-api-calls-daily:" + std::to_string(kPortalId);
      body["requestId"] = Uuid();
    } else if (policy == "SECONDLY") {
      body["message"] = "You have reached your secondly limit.";
      body["policyName"] = "SECONDLY";
      body["groupName"] = "publicapi:search-api-calls-secondly:" + std::to_string(kPortalId);
    } else {
      body["message"] = "You have reached your ten_secondly_rolling limit.";
      body["policyName"] = "TEN_SECONDLY_ROLLING";
      body["groupName"] = "publicapi:private_app-api-calls-ten-secondly:1512050:" +
                          std::to_string(kPortalId);
    }
    return Json(429, body, id);
  }

  // ---------- the request pipeline ----------
  HttpResponse HandleLocked(const HttpRequest& req) {
    const std::vector<std::string> segs = SplitTrim(req.path, '/');
    if (!segs.empty() && segs[0] == "_sandbox") return Admin(req, segs);

    const int64_t now = NowMs();
    std::string route = req.method + " ";
    for (const auto& s : segs) {
      route += "/";
      route += ParseId(json(s)) ? "{id}" : s;
    }
    ++counters_.total;
    ++counters_.by_route[route];
    HttpResponse r = Pipeline(req, segs, now);
    ++counters_.by_status[r.status];
    return r;
  }

  HttpResponse Pipeline(const HttpRequest& req, const std::vector<std::string>& segs,
                        int64_t now) {
    if (!segs.empty() && segs[0] == "oauth") return OAuth(req, segs, now);

    // Authentication.
    std::string token;
    if (req.authorization.size() > 7 && ToLower(req.authorization.substr(0, 7)) == "bearer ") {
      token = req.authorization.substr(7);
    }
    bool oauth = false;
    if (token.empty() || token != options_.token) {
      auto it = oauth_tokens_.find(token);
      if (token.empty() || it == oauth_tokens_.end()) {
        return Error(ApiError{401, "INVALID_AUTHENTICATION",
                              "Authentication credentials not found. This API supports OAuth 2.0 "
                              "authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview"});
      }
      if (it->second <= now) {
        return Error(ApiError{401, "EXPIRED_AUTHENTICATION",
                              "The OAuth token used to make this call expired " +
                                  std::to_string((now - it->second) / 1000) + " second(s) ago."});
      }
      oauth = true;
    }

    const bool search = req.method == "POST" && !segs.empty() && segs.back() == "search";
    bool batch = false;
    for (const auto& s : segs) batch = batch || s == "batch";

    current_ = faults_.Draw(req.path, batch, &counters_.faults_injected);
    if (const char* kind = current_.early       ? current_.early->kind.c_str()
                           : current_.drop      ? "drop"
                           : current_.malformed ? "malformed"
                           : current_.partial   ? "partial"
                           : current_.slow_ms   ? "slow"
                                                : nullptr) {
      ++faults_by_kind_[kind];
    }
    if (current_.early) {
      const std::string& k = current_.early->kind;
      if (k == "429") {
        HttpResponse r = search ? RateLimited("SECONDLY") : RateLimited("TEN_SECONDLY_ROLLING");
        if (!search) AddRateHeaders(r, token, oauth, now);
        return r;
      }
      if (k == "expired") {
        return Error(ApiError{401, "EXPIRED_AUTHENTICATION",
                              "The OAuth token used to make this call expired 1 second(s) ago."});
      }
      const int status = std::stoi(k);
      return Error(ApiError{status, "", status == 500 ? "Internal Server Error (sandbox fault)"
                                                      : "Service Unavailable (sandbox fault)"});
    }

    // Rate limits: search has its own per-second bucket and no headers.
    RollDay(now);
    if (options_.daily_limit > 0 && daily_used_ >= options_.daily_limit) {
      ++counters_.rate_limited;
      HttpResponse r = RateLimited("DAILY");
      if (!search) AddRateHeaders(r, token, oauth, now);
      return r;
    }
    if (search) {
      if (options_.search_per_second > 0) {
        auto& q = search_window_[token];
        Prune(q, now, 1000);
        if (static_cast<int>(q.size()) >= options_.search_per_second) {
          ++counters_.rate_limited;
          return RateLimited("SECONDLY");
        }
        q.push_back(now);
      }
    } else if (options_.rate_limit_max > 0) {
      auto& q = window_[token];
      Prune(q, now, options_.rate_limit_interval_ms);
      if (static_cast<int>(q.size()) >= options_.rate_limit_max) {
        ++counters_.rate_limited;
        HttpResponse r = RateLimited("TEN_SECONDLY_ROLLING");
        AddRateHeaders(r, token, oauth, now);
        return r;
      }
      q.push_back(now);
    }
    ++daily_used_;

    HttpResponse r;
    {
      Portal::WriteScope unit(*portal_);  // one commit for the whole request
      try {
        r = Route(req, segs, now);
      } catch (const ApiError& e) {
        r = Error(e);
      }
    }
    if (!search) AddRateHeaders(r, token, oauth, now);
    if (current_.malformed && !r.body.empty()) {
      r.body = r.body.substr(0, r.body.size() / 2) + "\x01<!-- sandbox malformed fault";
    }
    if (current_.drop) r.drop = true;
    r.delay_ms = current_.slow_ms;
    r.delay_ms += faults_.LatencyMs(current_, options_.latency_min_ms, options_.latency_max_ms);
    return r;
  }

  HttpResponse Route(const HttpRequest& req, const std::vector<std::string>& segs, int64_t now) {
    const std::string& m = req.method;
    // Normalise the date-versioned aliases to the legacy layout.
    std::vector<std::string> s = segs;
    if (s.size() >= 3 && s[0] == "crm" && s[2] == "2026-03" &&
        (s[1] == "objects" || s[1] == "properties" || s[1] == "owners")) {
      s = std::vector<std::string>{"crm", "v3", s[1]};
      s.insert(s.end(), segs.begin() + 3, segs.end());
      // v4-style association paths on dated objects.
      if (s.size() >= 6 && s[2] == "objects" && s[5] == "associations") s[1] = "v4";
    } else if (s.size() >= 3 && s[0] == "crm" && s[1] == "associations" &&
               (s[2] == "2026-03" || s[2] == "v4")) {
      s = std::vector<std::string>{"crm", "v4", "associations"};
      s.insert(s.end(), segs.begin() + 3, segs.end());
    }
    const size_t n = s.size();
    if (n >= 4 && s[0] == "crm" && s[1] == "v3" && s[2] == "objects") {
      const ObjectType& t = TypeOrThrow(s[3]);
      if (n == 4 && m == "GET") return ListObjects(t, req);
      if (n == 4 && m == "POST") return CreateObject(t, req, now);
      if (n == 5 && s[4] == "search" && m == "POST") return Search(t, req);
      if (n == 6 && s[4] == "batch" && m == "POST") return Batch(t, s[5], req, now);
      if (n == 5 && m == "GET") return GetObject(t, s[4], req);
      if (n == 5 && m == "PATCH") return UpdateObject(t, s[4], req, now);
      if (n == 5 && m == "DELETE") {
        if (auto id = ParseId(json(s[4]))) portal_->Archive(t, *id, now);
        return NoContent();
      }
      return MethodNotAllowed(req);
    }
    if (n >= 4 && s[0] == "crm" && s[1] == "v3" && s[2] == "properties") {
      return Properties(TypeOrThrow(s[3]), s, req, now);
    }
    if (n >= 6 && s[0] == "crm" && s[1] == "v4" && s[2] == "associations") {
      return AssociationsBatch(TypeOrThrow(s[3]), TypeOrThrow(s[4]), s, req);
    }
    if (n >= 7 && s[0] == "crm" && s[1] == "v4" && s[2] == "objects" && s[5] == "associations") {
      return RecordAssociations(TypeOrThrow(s[3]), s, req);
    }
    if (n >= 3 && s[0] == "crm" && s[1] == "v3" && s[2] == "owners" && m == "GET") {
      if (n == 3) return ListOwners(req);
      if (n == 4) return GetOwner(s[3], req);
    }
    if (n >= 3 && s[0] == "account-info" && m == "GET") {
      if (s[2] == "details") return AccountDetails();
      if (n == 6 && s[2] == "api-usage") return ApiUsage(now);
    }
    throw ApiError{404, "OBJECT_NOT_FOUND", "No route for " + req.method + " " + req.path};
  }

  HttpResponse MethodNotAllowed(const HttpRequest& req) {
    return Error(ApiError{405, "VALIDATION_ERROR",
                          "Method " + req.method + " is not allowed on " + req.path});
  }

  // ---------- objects ----------
  HttpResponse ListObjects(const ObjectType& t, const HttpRequest& req) {
    int limit = 10;
    if (auto l = req.Param("limit")) {
      auto v = ParseId(json(*l));
      if (!v || *v < 1 || *v > 100) {
        throw BadRequest("limit must be an integer between 1 and 100, got '" + *l + "'");
      }
      limit = static_cast<int>(*v);
    }
    int64_t after = 0;
    if (auto a = req.Param("after"); a && !a->empty()) after = DecodeCursor(*a);
    const bool archived = QueryBool(req, "archived");
    const auto names = RequestedProps(t, QueryList(req, "properties"));
    const auto history = QueryList(req, "propertiesWithHistory");
    const auto assoc = QueryList(req, "associations");
    auto records = portal_->List(t, archived, after, limit + 1);
    json results = json::array();
    const bool more = static_cast<int>(records.size()) > limit;
    if (more) records.pop_back();
    for (const auto& r : records) {
      json o = ObjectJson(r, &names, history);
      AddV3Associations(o, r, assoc);
      results.push_back(std::move(o));
    }
    json body = {{"results", results}};
    if (more) body["paging"] = Paging(EncodeCursor(records.back().id));
    return Json(200, body);
  }

  void AddV3Associations(json& o, const Record& r, const std::vector<std::string>& types) {
    if (types.empty()) return;
    json a = json::object();
    for (const auto& name : types) {
      const ObjectType& to = TypeOrThrow(name);
      json list = json::array();
      for (const auto& e : portal_->Edges(r.id, to, 0, kAssocPage)) {
        list.push_back({{"id", std::to_string(e.to_id)},
                        {"type", std::string(r.type->singular) + "_to_" + to.singular}});
      }
      if (!list.empty()) a[to.name] = {{"results", list}};
    }
    if (!a.empty()) o["associations"] = a;
  }

  HttpResponse GetObject(const ObjectType& t, const std::string& id, const HttpRequest& req) {
    const std::string id_property = req.Param("idProperty").value_or("");
    auto r = Resolve(t, id, id_property, QueryBool(req, "archived"));
    if (!r) throw NotFound("Object not found.  objectId are usually numeric.");
    const auto names = RequestedProps(t, QueryList(req, "properties"));
    json o = ObjectJson(*r, &names, QueryList(req, "propertiesWithHistory"));
    AddV3Associations(o, *r, QueryList(req, "associations"));
    return Json(200, o);
  }

  json RequireTaskTimestamp(const ObjectType& t, const json& changes) {
    if (std::string_view(t.name) == "tasks" &&
        (!changes.contains("hs_timestamp") || changes["hs_timestamp"].is_null())) {
      ApiError e = BadRequest(
          "Property values were not valid: [{\"isValid\":false,\"message\":\"hs_timestamp is "
          "required\",\"error\":\"REQUIRED_FIELD\",\"name\":\"hs_timestamp\"}]");
      e.context = {{"propertyName", json::array({"hs_timestamp"})}};
      throw e;
    }
    return changes;
  }

  HttpResponse CreateObject(const ObjectType& t, const HttpRequest& req, int64_t now) {
    const json body = ParseBody(req);
    const json changes = RequireTaskTimestamp(
        t, portal_->Normalize(t, body.value("properties", json::object()), false));
    portal_->CheckUnique(t, changes, 0);
    const auto links = PlanAssociations(t, body.value("associations", json()));
    Record r = portal_->Insert(t, changes, now);
    for (const auto& l : links) portal_->Associate(r.id, t, l.to_id, *l.to, l.type_id);
    return Json(201, ObjectJson(r, nullptr));
  }

  HttpResponse UpdateObject(const ObjectType& t, const std::string& id, const HttpRequest& req,
                            int64_t now) {
    const json body = ParseBody(req);
    auto r = Resolve(t, id, req.Param("idProperty").value_or(""));
    if (!r) throw NotFound("Object not found.  objectId are usually numeric.");
    const json changes = portal_->Normalize(t, body.value("properties", json::object()), false);
    portal_->CheckUnique(t, changes, r->id);
    portal_->Update(*r, changes, now);
    return Json(200, ObjectJson(*r, nullptr));
  }

  HttpResponse Batch(const ObjectType& t, const std::string& op, const HttpRequest& req,
                     int64_t now) {
    const int64_t started = now;
    const json body = ParseBody(req);
    if (op == "read") return BatchRead(t, body, req, started);
    if (op == "create") return BatchCreate(t, body, started, now);
    if (op == "update") return BatchUpdate(t, body, started, now, false);
    if (op == "upsert") return BatchUpdate(t, body, started, now, true);
    if (op == "archive") {
      for (const auto& in : Inputs(body, kBatchMax)) {
        if (auto id = ParseId(in.value("id", json()))) portal_->Archive(t, *id, now);
      }
      return NoContent();
    }
    throw ApiError{404, "OBJECT_NOT_FOUND", "Unknown batch operation: " + op};
  }

  HttpResponse BatchRead(const ObjectType& t, const json& body, const HttpRequest& req,
                         int64_t started) {
    const json& inputs = Inputs(body, kBatchMax);
    const std::string id_property = body.value("idProperty", "");
    const bool archived = QueryBool(req, "archived");
    const auto names = RequestedProps(t, StringList(body, "properties"));
    const auto history = StringList(body, "propertiesWithHistory");
    const auto mask = PartialMask(inputs.size());
    json results = json::array(), errors = json::array(), missing = json::array();
    std::set<int64_t> seen;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const json id = inputs[i].value("id", json());
      if (mask[i]) {
        errors.push_back(PartialError(inputs[i], i));
        continue;
      }
      auto r = Resolve(t, IdText(id), id_property, archived);
      if (!r) {
        missing.push_back(IdText(id));
        continue;
      }
      if (!seen.insert(r->id).second) continue;
      results.push_back(ObjectJson(*r, &names, history));
    }
    if (!missing.empty()) {
      errors.push_back(StandardError(
          "OBJECT_NOT_FOUND",
          "Could not get some " + std::string(t.upper) +
              " objects, they may be deleted or not exist. Check that ids are valid.",
          {{"ids", missing}}));
    }
    const int status = errors.empty() ? 200 : 207;
    return Json(status, BatchBody(std::move(results), std::move(errors), started));
  }

  HttpResponse BatchCreate(const ObjectType& t, const json& body, int64_t started, int64_t now) {
    const json& inputs = Inputs(body, kBatchMax);
    // Validate everything first: a bad input fails the whole request (as HubSpot does).
    std::vector<json> changes;
    std::vector<std::vector<PlannedLink>> links;
    std::map<std::string, std::set<std::string>> batch_unique;
    for (const auto& in : inputs) {
      json c = RequireTaskTimestamp(
          t, portal_->Normalize(t, in.value("properties", json::object()), false));
      portal_->CheckUnique(t, c, 0);
      for (auto it = c.begin(); it != c.end(); ++it) {
        const PropDef* def = portal_->Prop(t, it.key());
        if (def && def->unique && it.value().is_string() &&
            !batch_unique[it.key()].insert(it.value().get<std::string>()).second) {
          throw ApiError{409, "CONFLICT",
                         "Duplicate value '" + it.value().get<std::string>() + "' for unique " +
                             "property " + it.key() + " within the batch"};
        }
      }
      changes.push_back(std::move(c));
      links.push_back(PlanAssociations(t, in.value("associations", json())));
    }
    const auto mask = PartialMask(inputs.size());
    json results = json::array(), errors = json::array();
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (mask[i]) {
        errors.push_back(PartialError(inputs[i], i));
        continue;
      }
      Record r = portal_->Insert(t, changes[i], now);
      for (const auto& l : links[i]) portal_->Associate(r.id, t, l.to_id, *l.to, l.type_id);
      json o = ObjectJson(r, nullptr);
      if (inputs[i].contains("objectWriteTraceId")) {
        o["objectWriteTraceId"] = inputs[i]["objectWriteTraceId"];
      }
      results.push_back(std::move(o));
    }
    const int status = errors.empty() ? 201 : 207;
    return Json(status, BatchBody(std::move(results), std::move(errors), started));
  }

  HttpResponse BatchUpdate(const ObjectType& t, const json& body, int64_t started, int64_t now,
                           bool upsert) {
    const json& inputs = Inputs(body, kBatchMax);
    std::set<std::string> ids;
    std::vector<json> changes;
    for (const auto& in : inputs) {
      if (!in.contains("id")) throw BadRequest("Each input needs an 'id'");
      const std::string key = in.value("idProperty", "") + "\x1f" + IdText(in["id"]);
      if (!ids.insert(key).second) {
        throw BadRequest("Duplicate IDs found in batch input: [" + IdText(in["id"]) +
                         "]. IDs must be unique");
      }
      if (upsert) {
        const std::string prop = in.value("idProperty", "");
        const PropDef* def = prop.empty() ? nullptr : portal_->Prop(t, prop);
        if (!def || !def->unique) {
          throw BadRequest("Unable to perform update/upsert by non-unique " +
                           std::string(t.singular) + " property: " +
                           (prop.empty() ? std::string("(none; idProperty is required)") : prop));
        }
      }
      changes.push_back(portal_->Normalize(t, in.value("properties", json::object()), false));
    }
    const auto mask = PartialMask(inputs.size());
    json results = json::array(), errors = json::array(), missing = json::array();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const json& in = inputs[i];
      if (mask[i]) {
        errors.push_back(PartialError(in, i));
        continue;
      }
      const std::string id = IdText(in["id"]);
      const std::string prop = in.value("idProperty", "");
      auto r = Resolve(t, id, prop);
      json c = changes[i];
      bool created = false;
      if (!r) {
        if (!upsert) {
          missing.push_back(id);
          continue;
        }
        c[prop] = id;
        c = RequireTaskTimestamp(t, c);
        portal_->CheckUnique(t, c, 0);
        r = portal_->Insert(t, c, now);
        created = true;
      } else {
        portal_->CheckUnique(t, c, r->id);
        portal_->Update(*r, c, now);
      }
      json o = ObjectJson(*r, nullptr);
      if (upsert) o["new"] = created;
      if (in.contains("objectWriteTraceId")) o["objectWriteTraceId"] = in["objectWriteTraceId"];
      results.push_back(std::move(o));
    }
    if (!missing.empty()) {
      errors.push_back(StandardError("OBJECT_NOT_FOUND",
                                     "Could not update some " + std::string(t.upper) +
                                         " objects, they may be deleted or not exist.",
                                     {{"ids", missing}}));
    }
    const int status = errors.empty() ? 200 : 207;
    return Json(status, BatchBody(std::move(results), std::move(errors), started));
  }

  HttpResponse Search(const ObjectType& t, const HttpRequest& req) {
    if (req.body.size() > kSearchBodyMax) {
      throw BadRequest("The search request is too long: at most 3000 characters are allowed");
    }
    const json body = ParseBody(req, false);
    if (!body.is_object()) throw BadRequest("Invalid input JSON: expected an object");
    int64_t limit = 10;
    if (body.contains("limit") && !body["limit"].is_null()) {
      auto l = body["limit"].is_number() ? WholeInt64(body["limit"]) : ParseId(body["limit"]);
      if (!l || *l < 0) throw BadRequest("limit must be a non-negative integer");
      if (*l > kSearchMaxLimit) {
        throw BadRequest("limit must be less than or equal to 200, got " + std::to_string(*l));
      }
      limit = *l;
    }
    int64_t after = 0;
    if (body.contains("after") && !body["after"].is_null()) {
      auto a = ParseId(body["after"]);
      if (!a && body["after"].is_string() && body["after"].get<std::string>().empty()) a = 0;
      if (!a) throw BadRequest("after must be an offset such as \"200\"");
      after = *a;
    }
    if (after + limit > kSearchCap) {
      throw BadRequest("Search results are limited to 10000: after (" + std::to_string(after) +
                       ") + limit (" + std::to_string(limit) +
                       ") must not exceed 10000. Narrow the filters and search again.");
    }
    const auto names = RequestedProps(t, StringList(body, "properties"));
    auto found = portal_->Search(t, body, after, static_cast<int>(limit));
    json results = json::array();
    for (const auto& r : found.records) results.push_back(ObjectJson(r, &names));
    json out = {{"total", found.total}, {"results", results}};
    const int64_t next = after + static_cast<int64_t>(found.records.size());
    if (!found.records.empty() && next < found.total) out["paging"] = Paging(std::to_string(next));
    return Json(200, out);
  }

  // ---------- properties ----------
  HttpResponse Properties(const ObjectType& t, const std::vector<std::string>& s,
                          const HttpRequest& req, int64_t now) {
    const std::string& m = req.method;
    const size_t n = s.size();
    if (n == 4 && m == "GET") {
      const bool archived = QueryBool(req, "archived");
      const auto only = QueryList(req, "properties");
      json results = json::array();
      for (const auto& [name, def] : portal_->Props(t)) {
        if (def.def.value("archived", false) != archived) continue;
        if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
        results.push_back(def.def);
      }
      return Json(200, {{"results", results}});
    }
    if (n == 4 && m == "POST") return Json(201, CreateProperty(t, ParseBody(req), now));
    if (n >= 5 && s[4] == "groups") return Groups(t, s, req);
    if (n == 6 && s[4] == "batch" && m == "POST") {
      const json body = ParseBody(req);
      const json& inputs = Inputs(body, kBatchMax);
      json results = json::array(), errors = json::array();
      if (s[5] == "create") {
        for (const auto& in : inputs) {
          try {
            results.push_back(CreateProperty(t, in, now));
          } catch (const ApiError& e) {
            errors.push_back(StandardError(e.category.empty() ? "VALIDATION_ERROR" : e.category,
                                           e.message,
                                           {{"name", json::array({in.value("name", "")})}}));
          }
        }
        const int status = errors.empty() ? 201 : 207;
        return Json(status, BatchBody(std::move(results), std::move(errors), now));
      }
      if (s[5] == "read") {
        json missing = json::array();
        for (const auto& in : inputs) {
          const std::string name = in.value("name", "");
          if (const PropDef* d = portal_->Prop(t, name)) {
            results.push_back(d->def);
          } else {
            missing.push_back(name);
          }
        }
        if (!missing.empty()) {
          errors.push_back(StandardError("OBJECT_NOT_FOUND", "Some properties were not found",
                                         {{"names", missing}}));
        }
        const int status = errors.empty() ? 200 : 207;
        return Json(status, BatchBody(std::move(results), std::move(errors), now));
      }
      if (s[5] == "archive") {
        for (const auto& in : inputs) ArchiveProperty(t, in.value("name", ""), now, false);
        return NoContent();
      }
    }
    if (n == 5) {
      const std::string& name = s[4];
      if (m == "GET") {
        const PropDef* d = portal_->Prop(t, name);
        if (!d) throw NotFound("Unable to find property " + name + " on object type " + t.name);
        return Json(200, d->def);
      }
      if (m == "PATCH") return Json(200, UpdateProperty(t, name, ParseBody(req), now));
      if (m == "DELETE") {
        ArchiveProperty(t, name, now, true);
        return NoContent();
      }
    }
    return MethodNotAllowed(req);
  }

  void ValidatePropertyShape(const ObjectType& t, const json& def) {
    const std::string type = def.value("type", "");
    const std::string ft = def.value("fieldType", "");
    if (std::string err = CheckTypeFieldType(type, ft); !err.empty()) throw BadRequest(err);
    const std::string group = def.value("groupName", "");
    if (!portal_->Group(t, group)) {
      throw BadRequest("Property group '" + group + "' does not exist on " + t.name +
                       "; create it first (POST /crm/v3/properties/" + t.name + "/groups)");
    }
    if (type == "enumeration" && !def.value("externalOptions", false) &&
        (!def.contains("options") || !def["options"].is_array() || def["options"].empty())) {
      throw BadRequest("Enumeration properties require options: 'options' must list at least "
                       "one {label, value}");
    }
    std::set<std::string> values;
    for (const auto& o : def.value("options", json::array())) {
      if (!o.is_object() || !o.contains("value") || !o["value"].is_string() ||
          !o.contains("label")) {
        throw BadRequest("Each option needs 'label' and 'value' strings");
      }
      if (!values.insert(o["value"].get<std::string>()).second) {
        throw BadRequest("Duplicate option value '" + o["value"].get<std::string>() + "'");
      }
    }
  }

  json CreateProperty(const ObjectType& t, const json& in, int64_t now) {
    if (!in.is_object()) throw BadRequest("Invalid input JSON: expected a property object");
    for (const char* key : {"name", "label", "type", "fieldType", "groupName"}) {
      if (!in.contains(key) || !in[key].is_string() || in[key].get<std::string>().empty()) {
        throw BadRequest(std::string("Missing required field '") + key + "'");
      }
    }
    const std::string name = in["name"].get<std::string>();
    bool valid = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
    for (char c : name) valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!valid) {
      throw BadRequest("Invalid property name '" + name +
                       "': use lower-case letters, digits and underscores, starting with a letter");
    }
    auto& all = portal_->Props(t);
    auto existing = all.find(name);
    if (existing != all.end() && !existing->second.def.value("archived", false)) {
      throw ApiError{409, "CONFLICT", "A property named '" + name + "' already exists.",
                     json{{"name", json::array({name})}}};
    }
    ValidatePropertyShape(t, in);
    (void)DisplayOrder(in);  // a 400 for a displayOrder that is no integer
    if (in.value("hasUniqueValue", false) && std::string_view(t.name) == "tasks" &&
        !options_.task_key_unique) {
      throw BadRequest("Unique value properties (hasUniqueValue) are not supported on tasks in "
                       "this portal");
    }
    json def = CompletePropertyDef(in, false, now);
    portal_->PutProp(t, def);
    return def;
  }

  json UpdateProperty(const ObjectType& t, const std::string& name, const json& in, int64_t now) {
    const PropDef* d = portal_->Prop(t, name);
    if (!d) throw NotFound("Unable to find property " + name + " on object type " + t.name);
    if (!in.is_object()) throw BadRequest("Invalid input JSON: expected an object");
    if (d->hubspot_defined) {
      throw BadRequest("Property " + name + " is defined by HubSpot; its definition is read-only");
    }
    if (in.contains("hasUniqueValue") && in["hasUniqueValue"] != d->def["hasUniqueValue"]) {
      throw BadRequest("hasUniqueValue cannot be changed after a property is created");
    }
    if (in.contains("name") && in["name"] != name) {
      throw BadRequest("A property cannot be renamed");
    }
    json def = d->def;
    for (const char* key : {"label", "type", "fieldType", "groupName", "description",
                            "displayOrder", "hidden", "formField"}) {
      if (in.contains(key)) def[key] = in[key];
    }
    if (in.contains("options")) {
      def["options"] = CompletePropertyDef({{"options", in["options"]}}, false, now)["options"];
    }
    if (def.value("type", "") != "enumeration" && def.value("type", "") != "bool" &&
        !in.contains("options")) {
      def["options"] = json::array();
    }
    ValidatePropertyShape(t, def);
    def["updatedAt"] = IsoMs(now);
    portal_->PutProp(t, def);
    return def;
  }

  void ArchiveProperty(const ObjectType& t, const std::string& name, int64_t now, bool strict) {
    const PropDef* d = portal_->Prop(t, name);
    if (!d) {
      if (strict) throw NotFound("Unable to find property " + name + " on object type " + t.name);
      return;
    }
    if (d->hubspot_defined) {
      throw BadRequest("Property " + name + " is defined by HubSpot and cannot be deleted");
    }
    json def = d->def;
    def["archived"] = true;
    def["archivedAt"] = IsoMs(now);
    portal_->PutProp(t, def);
  }

  HttpResponse Groups(const ObjectType& t, const std::vector<std::string>& s,
                      const HttpRequest& req) {
    const std::string& m = req.method;
    if (s.size() == 5 && m == "GET") return Json(200, {{"results", portal_->Groups(t)}});
    if (s.size() == 5 && m == "POST") {
      const json in = ParseBody(req);
      for (const char* key : {"name", "label"}) {
        if (!in.contains(key) || !in[key].is_string() || in[key].get<std::string>().empty()) {
          throw BadRequest(std::string("Missing required field '") + key + "'");
        }
      }
      const std::string name = in["name"].get<std::string>();
      if (portal_->Group(t, name)) {
        throw ApiError{409, "CONFLICT", "A property group named '" + name + "' already exists.",
                       json{{"name", json::array({name})}}};
      }
      json g = {{"name", name},
                {"label", in["label"]},
                {"displayOrder", DisplayOrder(in)},
                {"archived", false}};
      portal_->PutGroup(t, g);
      return Json(201, g);
    }
    if (s.size() == 6) {
      auto g = portal_->Group(t, s[5]);
      if (!g) throw NotFound("Unable to find property group " + s[5] + " on " + t.name);
      if (m == "GET") return Json(200, *g);
      if (m == "PATCH") {
        const json in = ParseBody(req);
        for (const char* key : {"label", "displayOrder"}) {
          if (in.contains(key)) (*g)[key] = in[key];
        }
        portal_->PutGroup(t, *g);
        return Json(200, *g);
      }
      if (m == "DELETE") {
        portal_->DeleteGroup(t, s[5]);
        return NoContent();
      }
    }
    return MethodNotAllowed(req);
  }

  // ---------- associations v4 ----------
  json AssociationTypesJson(const ObjectType& from, const ObjectType& to,
                            const std::vector<int>& ids) {
    json out = json::array();
    for (int id : ids) {
      const AssocType* a = FindAssoc(from, to, id);
      out.push_back({{"category", "HUBSPOT_DEFINED"},
                     {"typeId", id},
                     {"label", a && a->label ? json(a->label) : json(nullptr)}});
    }
    return out;
  }

  // One page of associations from a record, grouped by target id.
  json AssocPage(const ObjectType& from, int64_t from_id, const ObjectType& to, int64_t after,
                 int limit, std::string* next_after) {
    const auto edges = portal_->Edges(from_id, to, after, limit + 1);
    json list = json::array();
    std::vector<int> types;
    int64_t current = -1;
    int groups = 0;
    auto flush = [&] {
      if (current >= 0) {
        list.push_back({{"toObjectId", std::to_string(current)},
                        {"associationTypes", AssociationTypesJson(from, to, types)}});
      }
      types.clear();
    };
    next_after->clear();
    for (const auto& e : edges) {
      if (e.to_id != current) {
        if (groups == limit) {
          *next_after = EncodeCursor(current);
          break;
        }
        flush();
        current = e.to_id;
        ++groups;
      }
      types.push_back(e.type_id);
    }
    flush();
    return list;
  }

  HttpResponse AssociationsBatch(const ObjectType& from, const ObjectType& to,
                                 const std::vector<std::string>& s, const HttpRequest& req) {
    const int64_t started = NowMs();
    const size_t n = s.size();
    if (n == 6 && s[5] == "labels" && req.method == "GET") {
      json results = json::array();
      const AssocType* d = DefaultAssoc(from, to);
      if (!d) throw BadRequest(std::string("No association is defined between ") + from.name +
                               " and " + to.name);
      results.push_back({{"category", "HUBSPOT_DEFINED"}, {"typeId", d->type_id}, {"label", nullptr}});
      for (int primary : {1, 2, 5, 6}) {
        const AssocType* p = FindAssoc(from, to, primary);
        if (p) results.push_back({{"category", "HUBSPOT_DEFINED"}, {"typeId", p->type_id},
                                  {"label", p->label}});
      }
      return Json(200, {{"results", results}});
    }
    if (req.method != "POST" || n < 7 || s[5] != "batch") return MethodNotAllowed(req);
    const json body = ParseBody(req);
    const std::string op = n == 8 ? s[6] + "/" + s[7] : s[6];
    if (op == "read") {
      const json& inputs = Inputs(body, kAssocBatchMax);
      json results = json::array(), errors = json::array();
      const auto mask = PartialMask(inputs.size());
      for (size_t i = 0; i < inputs.size(); ++i) {
        const json& in = inputs[i];
        if (mask[i]) {
          errors.push_back(PartialError(in, i));
          continue;
        }
        auto id = ParseId(in.value("id", json()));
        if (!id || !portal_->Exists(from, *id, false)) {
          errors.push_back(StandardError(
              "OBJECT_NOT_FOUND",
              "No " + std::string(from.singular) + " is associated with id " +
                  IdText(in.value("id", json())),
              {{"fromObjectId", json::array({IdText(in.value("id", json()))})}}));
          continue;
        }
        int64_t after = 0;
        if (in.contains("after") && in["after"].is_string() &&
            !in["after"].get<std::string>().empty()) {
          after = DecodeCursor(in["after"].get<std::string>());
        }
        std::string next;
        json item = {{"from", {{"id", std::to_string(*id)}}},
                     {"to", AssocPage(from, *id, to, after, kAssocPage, &next)}};
        if (!next.empty()) item["paging"] = Paging(next);
        results.push_back(std::move(item));
      }
      const int status = errors.empty() ? 200 : 207;
      return Json(status, BatchBody(std::move(results), std::move(errors), started));
    }
    if (op == "create" || op == "associate/default" || op == "archive") {
      const json& inputs = Inputs(body, op == "archive" ? kAssocBatchMax : kBatchMax * 10);
      json results = json::array(), errors = json::array();
      for (const auto& in : inputs) {
        auto from_id = ParseId(in.value("from", json::object()).value("id", json()));
        if (op == "archive") {
          if (!from_id) continue;
          for (const auto& t : in.value("to", json::array())) {
            if (auto to_id = ParseId(t.value("id", json()))) portal_->Dissociate(*from_id, *to_id);
          }
          continue;
        }
        auto to_id = ParseId(in.value("to", json::object()).value("id", json()));
        if (!from_id || !to_id || !portal_->Exists(from, *from_id, false) ||
            !portal_->Exists(to, *to_id, false)) {
          json ids = json::array({in.value("from", json::object()).value("id", json()),
                                  in.value("to", json::object()).value("id", json())});
          for (auto& v : ids) v = IdText(v);
          errors.push_back(StandardError("OBJECT_NOT_FOUND",
                                         "One or both records of the association do not exist",
                                         {{"ids", ids}}));
          continue;
        }
        if (op == "associate/default") {
          const AssocType* d = DefaultAssoc(from, to);
          if (!d) throw BadRequest(std::string("No default association between ") + from.name +
                                   " and " + to.name);
          portal_->Associate(*from_id, from, *to_id, to, d->type_id);
          results.push_back(
              {{"from", {{"id", std::to_string(*from_id)}}},
               {"to", {{"id", std::to_string(*to_id)}}},
               {"associationSpec",
                {{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", d->type_id}}}});
          continue;
        }
        const json types = in.value("types", json::array());
        if (!types.is_array() || types.empty()) {
          throw BadRequest("Each input needs 'types' with associationCategory and "
                           "associationTypeId");
        }
        json labels = json::array();
        for (const auto& ty : types) {
          const int type_id = AssociationTypeId(ty);
          const AssocType* a = FindAssoc(from, to, type_id);
          if (!a) {
            throw BadRequest(std::to_string(type_id) + " is not a valid association type id " +
                             "from " + from.name + " to " + to.name);
          }
          portal_->Associate(*from_id, from, *to_id, to, type_id);
          if (a->label) labels.push_back(a->label);
        }
        results.push_back({{"fromObjectTypeId", from.type_id},
                           {"fromObjectId", std::to_string(*from_id)},
                           {"toObjectTypeId", to.type_id},
                           {"toObjectId", std::to_string(*to_id)},
                           {"labels", labels}});
      }
      if (op == "archive") return NoContent();
      const int ok = op == "create" ? 201 : 200;
      const int status = errors.empty() ? ok : 207;
      return Json(status, BatchBody(std::move(results), std::move(errors), started));
    }
    throw ApiError{404, "OBJECT_NOT_FOUND", "Unknown association batch operation: " + op};
  }

  HttpResponse RecordAssociations(const ObjectType& from, const std::vector<std::string>& s,
                                  const HttpRequest& req) {
    auto from_id = ParseId(json(s[4]));
    if (!from_id || !portal_->Exists(from, *from_id, false)) {
      throw NotFound("Object not found.  objectId are usually numeric.");
    }
    const size_t n = s.size();
    const int64_t now = NowMs();
    if (n == 7 && req.method == "GET") {
      const ObjectType& to = TypeOrThrow(s[6]);
      int limit = kAssocPage;
      if (auto l = req.Param("limit")) {
        auto v = ParseId(json(*l));
        if (!v || *v < 1 || *v > kAssocPage) throw BadRequest("limit must be between 1 and 500");
        limit = static_cast<int>(*v);
      }
      int64_t after = 0;
      if (auto a = req.Param("after"); a && !a->empty()) after = DecodeCursor(*a);
      std::string next;
      json body = {{"results", AssocPage(from, *from_id, to, after, limit, &next)}};
      if (!next.empty()) body["paging"] = Paging(next);
      return Json(200, body);
    }
    if (n == 9 && s[6] == "default" && req.method == "PUT") {
      const ObjectType& to = TypeOrThrow(s[7]);
      auto to_id = ParseId(json(s[8]));
      if (!to_id || !portal_->Exists(to, *to_id, false)) throw NotFound("Target not found");
      const AssocType* d = DefaultAssoc(from, to);
      if (!d) throw BadRequest(std::string("No default association between ") + from.name +
                               " and " + to.name);
      portal_->Associate(*from_id, from, *to_id, to, d->type_id);
      json results = json::array(
          {{{"from", {{"id", std::to_string(*from_id)}}},
            {"to", {{"id", std::to_string(*to_id)}}},
            {"associationSpec",
             {{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", d->type_id}}}}});
      return Json(200, BatchBody(std::move(results), json::array(), now));
    }
    if (n == 8) {
      const ObjectType& to = TypeOrThrow(s[6]);
      auto to_id = ParseId(json(s[7]));
      if (req.method == "DELETE") {
        if (to_id) portal_->Dissociate(*from_id, *to_id);
        return NoContent();
      }
      if (req.method == "PUT") {
        if (!to_id || !portal_->Exists(to, *to_id, false)) throw NotFound("Target not found");
        const json specs = ParseBody(req);
        if (!specs.is_array() || specs.empty()) {
          throw BadRequest("The body must be a non-empty array of association specs");
        }
        json labels = json::array();
        for (const auto& sp : specs) {
          const int type_id = AssociationTypeId(sp);
          const AssocType* a = FindAssoc(from, to, type_id);
          if (!a) throw BadRequest(std::to_string(type_id) + " is not a valid association type");
          portal_->Associate(*from_id, from, *to_id, to, type_id);
          if (a->label) labels.push_back(a->label);
        }
        return Json(201, {{"fromObjectTypeId", from.type_id},
                          {"fromObjectId", std::to_string(*from_id)},
                          {"toObjectTypeId", to.type_id},
                          {"toObjectId", std::to_string(*to_id)},
                          {"labels", labels}});
      }
    }
    return MethodNotAllowed(req);
  }

  // ---------- owners, account, oauth ----------
  HttpResponse ListOwners(const HttpRequest& req) {
    int limit = 100;
    if (auto l = req.Param("limit")) {
      auto v = ParseId(json(*l));
      if (!v || *v < 1 || *v > 500) throw BadRequest("limit must be between 1 and 500");
      limit = static_cast<int>(*v);
    }
    int64_t offset = 0;
    if (auto a = req.Param("after"); a && !a->empty()) offset = DecodeCursor(*a);
    const auto email = req.Param("email");
    json all = json::array();
    if (!QueryBool(req, "archived")) {
      for (const auto& o : portal_->owners()) {
        if (email && ToLower(o.value("email", "")) != ToLower(*email)) continue;
        all.push_back(o);
      }
    }
    json results = json::array();
    for (int64_t i = offset; i < static_cast<int64_t>(all.size()) && i < offset + limit; ++i) {
      results.push_back(all[i]);
    }
    json body = {{"results", results}};
    if (offset + limit < static_cast<int64_t>(all.size())) {
      body["paging"] = Paging(EncodeCursor(offset + limit));
    }
    return Json(200, body);
  }

  HttpResponse GetOwner(const std::string& id, const HttpRequest& req) {
    const std::string by = req.Param("idProperty").value_or("id");
    for (const auto& o : portal_->owners()) {
      const std::string v = by == "userId" ? std::to_string(o.value("userId", 0))
                                           : o.value("id", "");
      if (v == id) return Json(200, o);
    }
    throw NotFound("Owner " + id + " not found");
  }

  HttpResponse AccountDetails() {
    return Json(200, {{"portalId", kPortalId},
                      {"accountType", "STANDARD"},
                      {"timeZone", "UTC"},
                      {"companyCurrency", "EUR"},
                      {"additionalCurrencies", json::array({"USD"})},
                      {"utcOffset", "+00:00"},
                      {"utcOffsetMilliseconds", 0},
                      {"uiDomain", "app.hubspot.com"},
                      {"dataHostingLocation", "na1"}});
  }

  HttpResponse ApiUsage(int64_t now) {
    RollDay(now);
    const int64_t daily = options_.daily_limit > 0 ? options_.daily_limit : 100000000;
    return Json(200, {{"results",
                       json::array({{{"name", "private-apps-api-calls-daily"},
                                     {"usageLimit", daily},
                                     {"currentUsage", daily_used_},
                                     {"collectedAt", IsoMs(now)},
                                     {"fetchStatus", "SUCCESS"},
                                     {"resetsAt", IsoMs((now / 86400000 + 1) * 86400000)}}})}});
  }

  HttpResponse OAuth(const HttpRequest& req, const std::vector<std::string>& segs, int64_t now) {
    if (segs.size() != 3 || segs[2] != "token" || req.method != "POST") {
      throw ApiError{404, "OBJECT_NOT_FOUND", "No route for " + req.method + " " + req.path};
    }
    std::map<std::string, std::string> form;
    for (const auto& kv : SplitTrim(req.body, '&')) {
      const size_t eq = kv.find('=');
      form[UrlDecode(kv.substr(0, eq), true)] =
          eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1), true);
    }
    auto fail = [&](const std::string& status, const std::string& error,
                    const std::string& message) {
      const std::string id = Uuid();
      return Json(400, {{"status", status},
                        {"message", message},
                        {"error", error},
                        {"error_description", message},
                        {"correlationId", id}},
                  id);
    };
    const std::string grant = form["grant_type"];
    std::string refresh;
    if (grant == "refresh_token") {
      refresh = form["refresh_token"];
      if (!refresh_tokens_.count(refresh)) {
        return fail("BAD_REFRESH_TOKEN", "invalid_grant", "missing or unknown refresh token");
      }
    } else if (grant == "authorization_code") {
      if (form["code"] != "sandbox-code") {
        return fail("BAD_AUTH_CODE", "invalid_grant", "missing or unknown auth code");
      }
      refresh = "sandbox-refresh-token";
    } else if (grant == "client_credentials") {
      refresh.clear();
    } else {
      return fail("BAD_GRANT_TYPE", "unsupported_grant_type",
                  "grant_type must be refresh_token, authorization_code or client_credentials");
    }
    const std::string access = "sbx-oauth-" + Uuid();
    oauth_tokens_[access] = now + kOAuthLifetimeMs;
    json body = {{"token_type", "bearer"},
                 {"access_token", access},
                 {"expires_in", 1800},
                 {"hub_id", kPortalId}};
    if (!refresh.empty()) body["refresh_token"] = refresh;
    return Json(200, body);
  }

  // ---------- admin (/_sandbox/) ----------
  HttpResponse Admin(const HttpRequest& req, const std::vector<std::string>& s) {
    const std::string& m = req.method;
    const size_t n = s.size();
    const int64_t now = NowMs();
    try {
      if (n == 2 && s[1] == "health") return Json(200, {{"status", "ok"}});
      if (n == 2 && s[1] == "counters" && m == "GET") return Json(200, CountersToJson());
      if (n == 3 && s[1] == "counters" && s[2] == "reset" && m == "POST") {
        counters_ = {};
        faults_by_kind_.clear();
        return Json(200, CountersToJson());
      }
      if (n == 2 && s[1] == "reset" && m == "POST") {
        portal_->Reset();
        counters_ = {};
        faults_by_kind_.clear();
        window_.clear();
        search_window_.clear();
        daily_used_ = 0;
        faults_.ResetSequence();
        oauth_tokens_.clear();
        return Json(200, {{"status", "reset"}});
      }
      if (n == 2 && s[1] == "faults") {
        if (m == "GET") return Json(200, {{"spec", faults_.spec()}});
        if (m == "PUT" || m == "POST") {
          const json body = ParseBody(req, false);
          const std::string spec = body.value("spec", "");
          std::string err = SetFaultsLocked(spec);
          if (!err.empty()) throw BadRequest("Invalid fault spec: " + err);
          if (body.value("reset_sequence", true)) faults_.ResetSequence();
          return Json(200, {{"spec", faults_.spec()}});
        }
      }
      if (n == 3 && s[1] == "oauth" && s[2] == "expire" && m == "POST") {
        for (auto& [token, expiry] : oauth_tokens_) expiry = now - 1000;
        return Json(200, {{"expired", oauth_tokens_.size()}});
      }
      if (n == 4 && s[1] == "objects" && (m == "POST" || m == "PATCH")) {
        const ObjectType& t = TypeOrThrow(s[2]);
        auto r = Resolve(t, s[3], "");
        if (!r) throw NotFound("Object not found");
        const json body = ParseBody(req);
        const json changes = portal_->Normalize(t, body.value("properties", json::object()), false);
        portal_->CheckUnique(t, changes, r->id);
        portal_->Update(*r, changes, now);
        return Json(200, ObjectJson(*r, nullptr));
      }
      if (n == 2 && s[1] == "companies" && m == "POST") {
        const json body = ParseBody(req, false);
        const int count = IntMember(body, "count", 1).value_or(-1);
        if (count < 0 || count > 1000000) throw BadRequest("count must be in [0, 1000000]");
        const int64_t first = portal_->SeedCompanies(count, ++extra_salt_);
        return Json(201, {{"created", count}, {"firstId", std::to_string(first)}});
      }
      if (n == 2 && s[1] == "touch" && m == "POST") {
        const json body = ParseBody(req, false);
        const ObjectType& t = TypeOrThrow(body.value("type", "companies"));
        int64_t ts = now;
        if (body.contains("timestamp")) {
          if (!ParseTimeMs(IdText(body["timestamp"]), &ts)) throw BadRequest("bad timestamp");
        }
        std::vector<int64_t> ids;
        for (const auto& v : body.value("ids", json::array())) {
          if (auto id = ParseId(v)) ids.push_back(*id);
        }
        const int64_t updated = portal_->Touch(t, body.value("count", int64_t{0}), ids, ts);
        return Json(200, {{"updated", updated}, {"timestamp", IsoMs(ts)}});
      }
      if (n == 2 && s[1] == "tasks" && m == "GET") {
        const ObjectType& tasks = *FindObjectType("tasks");
        const ObjectType& companies = *FindObjectType("companies");
        json results = json::array();
        for (const auto& r : portal_->AllOfType(tasks, QueryBool(req, "archived"))) {
          json o = ObjectJson(r, nullptr);
          json ids = json::array();
          for (const auto& e : portal_->Edges(r.id, companies, 0, 1000)) {
            ids.push_back(std::to_string(e.to_id));
          }
          o["companyIds"] = ids;
          results.push_back(std::move(o));
        }
        return Json(200, {{"total", results.size()}, {"results", results}});
      }
      if (n == 2 && s[1] == "tasks" && m == "POST") {
        const ObjectType& tasks = *FindObjectType("tasks");
        const json body = ParseBody(req);
        json props = body.value("properties", json::object());
        if (!props.contains("hs_timestamp")) props["hs_timestamp"] = IsoMs(now + 86400000);
        const json changes = portal_->Normalize(tasks, props, false);
        portal_->CheckUnique(tasks, changes, 0);
        std::optional<Record> company;
        if (body.contains("companyId")) {
          auto cid = ParseId(body["companyId"]);
          if (cid) company = portal_->LoadOfType(*FindObjectType("companies"), *cid, false);
          if (!company) throw BadRequest("companyId does not name a live company");
        }
        Record r = portal_->Insert(tasks, changes, now);
        if (company) portal_->Associate(r.id, tasks, company->id, *company->type, 192);
        return Json(201, ObjectJson(r, nullptr));
      }
      if (n == 3 && s[1] == "tasks" && m == "DELETE") {
        auto id = ParseId(json(s[2]));
        if (!id || !portal_->Archive(*FindObjectType("tasks"), *id, now)) {
          throw NotFound("Task " + s[2] + " not found");
        }
        return NoContent();
      }
      throw ApiError{404, "OBJECT_NOT_FOUND", "No admin route for " + m + " " + req.path};
    } catch (const ApiError& e) {
      return Error(e);
    }
  }

  SandboxOptions options_;
  mutable std::mutex mu_;  // guards everything below; one request at a time touches the portal
  std::unique_ptr<Portal> portal_;
  std::mt19937_64 rng_;
  SandboxCounters counters_;
  FaultInjector faults_;
  std::map<std::string, uint64_t> faults_by_kind_;  // injected faults per kind ("500", "drop", …)
  Faults current_;
  std::map<std::string, std::deque<int64_t>> window_;
  std::map<std::string, std::deque<int64_t>> search_window_;
  int64_t day_ = -1;
  int64_t daily_used_ = 0;
  std::map<std::string, int64_t> oauth_tokens_;  // access token -> expiry (ms)
  std::set<std::string> refresh_tokens_ = {"sandbox-refresh-token"};
  uint64_t extra_salt_ = 0;
};

}  // namespace

std::unique_ptr<Api> Api::Create(const SandboxOptions& options, std::string* error) {
  if (options.crm == "salesforce") return CreateSalesforceApi(options, error);
  if (options.crm != "hubspot") {
    *error = "unknown crm '" + options.crm + "' (known: hubspot, salesforce)";
    return nullptr;
  }
  try {
    auto api = std::make_unique<ApiImpl>(options);
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

bool ParseRateLimit(const std::string& spec, int* max, int* interval_ms) {
  const size_t slash = spec.find('/');
  double m;
  if (!ParseDouble(spec.substr(0, slash), &m) || m < 0 || m != std::floor(m)) return false;
  int interval = 10000;
  if (slash != std::string::npos) {
    std::string unit = spec.substr(slash + 1);
    double factor = 1000;
    if (unit.size() > 2 && unit.substr(unit.size() - 2) == "ms") {
      factor = 1;
      unit.resize(unit.size() - 2);
    } else if (!unit.empty() && unit.back() == 's') {
      unit.pop_back();
    } else if (!unit.empty() && unit.back() == 'm') {
      factor = 60000;
      unit.pop_back();
    } else {
      return false;
    }
    double v = 1;
    if (!unit.empty() && !ParseDouble(unit, &v)) return false;
    if (v <= 0) return false;
    interval = static_cast<int>(v * factor);
  }
  *max = static_cast<int>(m);
  *interval_ms = interval;
  return true;
}

bool ParseLatency(const std::string& spec, int* min_ms, int* max_ms) {
  const size_t dash = spec.find('-');
  double a, b;
  if (!ParseDouble(spec.substr(0, dash), &a) || a < 0) return false;
  b = a;
  if (dash != std::string::npos && (!ParseDouble(spec.substr(dash + 1), &b) || b < a)) return false;
  *min_ms = static_cast<int>(a);
  *max_ms = static_cast<int>(b);
  return true;
}

}  // namespace kam::sandbox
