#include "codec.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <stdexcept>

#include "kam/http/json_body.h"

namespace kam::hubspot::internal {

namespace {

std::string StringOf(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_number_unsigned()) return std::to_string(j.get<uint64_t>());
  if (j.is_number_float()) return j.dump();
  if (j.is_boolean()) return j.get<bool>() ? "true" : "false";
  return {};
}

std::string StrField(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return StringOf(*it);
}

std::optional<std::string> NextAfter(const Json& j) {
  auto p = j.find("paging");
  if (p == j.end() || !p->is_object()) return std::nullopt;
  auto n = p->find("next");
  if (n == p->end() || !n->is_object()) return std::nullopt;
  auto a = n->find("after");
  if (a == n->end() || a->is_null()) return std::nullopt;
  std::string s = StringOf(*a);
  if (s.empty()) return std::nullopt;
  return s;
}

const Json& Results(const Json& j) {
  if (!j.is_object()) throw std::runtime_error("the answer is not a JSON object");
  auto it = j.find("results");
  if (it == j.end() || !it->is_array()) throw std::runtime_error("the answer has no results array");
  return *it;
}

BatchError ParseStandardError(const Json& e) {
  BatchError out;
  out.error.category = StrField(e, "category");
  out.error.crm_message = StrField(e, "message");
  out.error.message = out.error.crm_message;
  if (out.error.category == "OBJECT_NOT_FOUND") {
    out.error.code = ErrorCode::kNotFound;
    out.error.http_status = 404;
  } else if (out.error.category == "CONFLICT") {
    out.error.code = ErrorCode::kConflict;
    out.error.http_status = 409;
  } else if (out.error.category == "VALIDATION_ERROR") {
    out.error.code = ErrorCode::kInvalidArgument;
    out.error.http_status = 400;
  } else if (out.error.category == "RATE_LIMITS" || out.error.category == "RATE_LIMIT") {
    // The CRM did not process this input (sandbox partial fault, a per-record rate limit).
    out.error.code = ErrorCode::kRateLimited;
    out.error.retryable = true;
  } else if (out.error.category == "INTERNAL_ERROR" ||
             out.error.category == "SERVICE_UNAVAILABLE" || out.error.category == "TIMEOUT" ||
             out.error.category == "BATCH_TIMEOUT") {
    out.error.code = ErrorCode::kUnavailable;
    out.error.retryable = true;
  } else {
    out.error.code = ErrorCode::kInternal;
  }
  if (auto st = e.find("status"); st != e.end() && kam::http::JsonInteger(*st, 100, 599)) {
    out.error.http_status = static_cast<int>(*kam::http::JsonInteger(*st, 100, 599));
    out.error.code = CodeForHttpStatus(out.error.http_status);
    out.error.retryable = out.error.http_status == 429 || out.error.http_status >= 500;
  }
  if (auto ctx = e.find("context"); ctx != e.end() && ctx->is_object()) {
    for (const char* key : {"ids", "id", "fromObjectId", "objectId"}) {
      auto v = ctx->find(key);
      if (v == ctx->end()) continue;
      if (v->is_array()) {
        for (const auto& x : *v) out.ids.push_back(StringOf(x));
      } else {
        out.ids.push_back(StringOf(*v));
      }
    }
  }
  if (auto id = e.find("id"); id != e.end() && !id->is_null() && out.ids.empty()) {
    out.ids.push_back(StringOf(*id));
  }
  return out;
}

}  // namespace

ApiPaths::ApiPaths(std::string version) : version_(std::move(version)) {
  legacy_ = version_.empty() || version_ == "v3";
}

std::string ApiPaths::Objects(const std::string& type) const {
  return legacy_ ? "/crm/v3/objects/" + type : "/crm/objects/" + version_ + "/" + type;
}
std::string ApiPaths::Properties(const std::string& type) const {
  return legacy_ ? "/crm/v3/properties/" + type : "/crm/properties/" + version_ + "/" + type;
}
std::string ApiPaths::AssociationsBatch(const std::string& from, const std::string& to,
                                        const std::string& op) const {
  const std::string base =
      legacy_ ? "/crm/v4/associations/" : "/crm/associations/" + version_ + "/";
  return base + from + "/" + to + "/batch/" + op;
}
std::string ApiPaths::Owners() const {
  return legacy_ ? "/crm/v3/owners" : "/crm/owners/" + version_;
}
std::string ApiPaths::AccountDetails() const {
  // No confirmed date-versioned path for 2026-03 (CRM_API A2): keep v3.
  return "/account-info/v3/details";
}
std::string ApiPaths::OAuthToken() const {
  return legacy_ ? "/oauth/v1/token" : "/oauth/" + version_ + "/token";
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool IdLess(const std::string& a, const std::string& b) {
  auto numeric = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  };
  const bool na = numeric(a), nb = numeric(b);
  if (na != nb) return na;  // numeric ids first
  if (na) {
    auto strip = [](const std::string& s) {
      size_t i = s.find_first_not_of('0');
      return i == std::string::npos ? std::string("0") : s.substr(i);
    };
    const std::string sa = strip(a), sb = strip(b);
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    return sa < sb;
  }
  return a < b;
}

CrmObject ParseObject(const Json& j) {
  if (!j.is_object()) throw std::runtime_error("a record is not a JSON object");
  CrmObject o;
  o.id = StrField(j, "id");
  if (o.id.empty()) throw std::runtime_error("a record has no id");
  if (auto p = j.find("properties"); p != j.end() && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      if (it->is_null()) {
        o.properties.emplace(it.key(), std::nullopt);
      } else {
        o.properties.emplace(it.key(), StringOf(*it));
      }
    }
  }
  o.created_at = StrField(j, "createdAt");
  o.updated_at = StrField(j, "updatedAt");
  o.archived_at = StrField(j, "archivedAt");
  if (auto a = j.find("archived"); a != j.end() && a->is_boolean()) o.archived = a->get<bool>();
  if (auto n = j.find("new"); n != j.end() && n->is_boolean()) o.is_new = n->get<bool>();
  return o;
}

ListPage ParseListPage(const Json& j) {
  ListPage page;
  for (const auto& r : Results(j)) page.results.push_back(ParseObject(r));
  page.after = NextAfter(j);
  return page;
}

std::string BuildSearchBody(const SearchRequest& r) {
  Json body = Json::object();
  Json groups = Json::array();
  for (const auto& g : r.groups) {
    Json filters = Json::array();
    for (const auto& f : g) {
      Json jf = {{"propertyName", f.property}, {"operator", f.op}};
      if (f.op == "IN" || f.op == "NOT_IN") {
        jf["values"] = f.values;
      } else if (f.op != "HAS_PROPERTY" && f.op != "NOT_HAS_PROPERTY") {
        jf["value"] = f.value;
      }
      filters.push_back(std::move(jf));
    }
    groups.push_back({{"filters", std::move(filters)}});
  }
  body["filterGroups"] = std::move(groups);
  if (!r.sort_property.empty()) {
    body["sorts"] = Json::array({{{"propertyName", r.sort_property},
                                  {"direction", r.ascending ? "ASCENDING" : "DESCENDING"}}});
  }
  body["properties"] = r.properties;
  body["limit"] = r.limit;
  body["after"] = std::to_string(r.after);
  return body.dump();
}

SearchPage ParseSearchPage(const Json& j) {
  SearchPage page;
  for (const auto& r : Results(j)) page.results.push_back(ParseObject(r));
  if (auto t = j.find("total"); t != j.end()) {
    if (auto n = kam::http::JsonInteger(*t, 0, std::numeric_limits<int64_t>::max())) page.total = *n;
  }
  page.after = NextAfter(j);
  return page;
}

std::string BuildBatchReadBody(const std::vector<std::string>& ids,
                               const std::vector<std::string>& properties) {
  Json inputs = Json::array();
  for (const auto& id : ids) inputs.push_back({{"id", id}});
  Json body = {{"properties", properties},
               {"propertiesWithHistory", Json::array()},
               {"inputs", std::move(inputs)}};
  return body.dump();
}

std::string BuildBatchUpdateBody(const std::vector<CompanyUpdate>& updates) {
  Json inputs = Json::array();
  for (const auto& u : updates) {
    Json props = Json::object();
    for (const auto& [k, v] : u.properties) props[k] = v;
    inputs.push_back({{"id", u.id}, {"properties", std::move(props)}});
  }
  return Json{{"inputs", std::move(inputs)}}.dump();
}

BatchResponse ParseBatchResponse(const Json& j) {
  BatchResponse out;
  for (const auto& r : Results(j)) out.results.push_back(ParseObject(r));
  if (auto e = j.find("errors"); e != j.end() && e->is_array()) {
    for (const auto& err : *e) out.errors.push_back(ParseStandardError(err));
  }
  return out;
}

Json::parser_callback_t KeepOnlyWriteOutcomes() {
  // Depths as nlohmann counts them: the answer's keys are at 1, a result's keys at 3, the keys
  // of its `properties` (and `propertiesWithHistory`) at 4.
  return [section = std::string()](int depth, Json::parse_event_t event, Json& parsed) mutable {
    if (event != Json::parse_event_t::key) return true;
    if (depth == 1) {
      section = parsed.get<std::string>();
      return true;
    }
    if (depth != 4 || section != "results") return true;
    const auto& name = parsed.get_ref<const std::string&>();
    return name == "hs_lastmodifieddate" || name == "lastmodifieddate" || name == "hs_object_id";
  };
}

std::string BuildAssocReadBody(const std::vector<AssocInput>& inputs) {
  Json arr = Json::array();
  for (const auto& in : inputs) {
    Json x = {{"id", in.id}};
    if (!in.after.empty()) x["after"] = in.after;
    arr.push_back(std::move(x));
  }
  return Json{{"inputs", std::move(arr)}}.dump();
}

AssocReadResponse ParseAssocRead(const Json& j) {
  AssocReadResponse out;
  for (const auto& r : Results(j)) {
    AssocResult a;
    if (auto f = r.find("from"); f != r.end() && f->is_object()) a.from_id = StrField(*f, "id");
    if (a.from_id.empty()) throw std::runtime_error("an association result has no from.id");
    if (auto t = r.find("to"); t != r.end() && t->is_array()) {
      for (const auto& to : *t) {
        std::string id = StrField(to, "toObjectId");
        if (id.empty()) id = StrField(to, "id");
        if (!id.empty()) a.to_ids.push_back(std::move(id));
      }
    }
    a.after = NextAfter(r);
    out.results.push_back(std::move(a));
  }
  if (auto e = j.find("errors"); e != j.end() && e->is_array()) {
    for (const auto& err : *e) out.errors.push_back(ParseStandardError(err));
  }
  return out;
}

ErrorCode CodeForHttpStatus(int s) {
  if (s == 400 || s == 414 || s == 422) return ErrorCode::kInvalidArgument;
  if (s == 401) return ErrorCode::kUnauthenticated;
  if (s == 403) return ErrorCode::kPermissionDenied;
  if (s == 404) return ErrorCode::kNotFound;
  if (s == 409) return ErrorCode::kConflict;
  if (s == 429) return ErrorCode::kRateLimited;
  if (s >= 500 || s == 477 || s == 0) return ErrorCode::kUnavailable;
  return ErrorCode::kInternal;
}

Error ErrorFromCrmAnswer(int http_status, const std::string& body, const std::string& endpoint) {
  Error e;
  e.http_status = http_status;
  e.code = CodeForHttpStatus(http_status);
  e.endpoint = endpoint;
  e.retryable = http_status == 429 || http_status >= 500;
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object()) {
    e.crm_message = StrField(j, "message");
    e.category = StrField(j, "category");
    if (e.category.empty()) e.category = StrField(j, "policyName");
    if (e.category.empty()) e.category = StrField(j, "errorType");
    if (e.category.empty()) e.category = StrField(j, "status");  // OAuth: BAD_REFRESH_TOKEN
    e.correlation_id = StrField(j, "correlationId");
  }
  e.message = endpoint + " answered HTTP " + std::to_string(http_status);
  if (!e.crm_message.empty()) e.message += ": " + e.crm_message;
  return e;
}

Owner ParseOwner(const Json& j) {
  Owner o;
  o.id = StrField(j, "id");
  o.email = StrField(j, "email");
  o.first_name = StrField(j, "firstName");
  o.last_name = StrField(j, "lastName");
  if (auto u = j.find("userId"); u != j.end()) {
    if (auto n = kam::http::JsonInteger(*u, std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max())) {
      o.user_id = *n;
    }
  }
  o.type = StrField(j, "type");
  if (auto a = j.find("archived"); a != j.end() && a->is_boolean()) o.archived = a->get<bool>();
  return o;
}

AccountDetails ParseAccountDetails(const Json& j) {
  if (!j.is_object()) throw std::runtime_error("account details are not a JSON object");
  AccountDetails d;
  if (auto p = j.find("portalId"); p != j.end()) {
    if (auto n = kam::http::JsonInteger(*p, 0, std::numeric_limits<int64_t>::max())) d.portal_id = *n;
  }
  d.account_type = StrField(j, "accountType");
  d.time_zone = StrField(j, "timeZone");
  d.company_currency = StrField(j, "companyCurrency");
  d.utc_offset = StrField(j, "utcOffset");
  if (auto o = j.find("utcOffsetMilliseconds"); o != j.end()) {
    // UTC-14:00 .. UTC+14:00 at most.
    if (auto n = kam::http::JsonInteger(*o, -14 * 3'600'000LL, 14 * 3'600'000LL)) d.utc_offset_ms = *n;
  }
  d.ui_domain = StrField(j, "uiDomain");
  d.data_hosting_location = StrField(j, "dataHostingLocation");
  return d;
}

}  // namespace kam::hubspot::internal
