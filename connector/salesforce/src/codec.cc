// Salesforce JSON shapes (see codec.h).
#include "codec.h"

#include <cctype>
#include <limits>
#include <stdexcept>

#include "kam/http/json_body.h"

namespace kam::salesforce::internal {
namespace {

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void Flatten(const Json& j, const std::string& prefix, Record* out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "attributes") continue;
    const std::string name = prefix + it.key();
    if (it->is_object()) {
      Flatten(*it, name + ".", out);
    } else if (!it->is_array()) {
      out->fields[name] = ValueFromJson(*it);
    }
  }
}

std::vector<ApiError> ParseErrorArray(const Json& arr, const char* code_key) {
  std::vector<ApiError> out;
  for (const auto& e : arr) {
    if (!e.is_object()) continue;
    ApiError a;
    a.code = Str(e, code_key);
    if (a.code.empty()) a.code = Str(e, "errorCode");
    if (a.code.empty()) a.code = Str(e, "statusCode");
    a.message = Str(e, "message");
    if (auto f = e.find("fields"); f != e.end() && f->is_array()) {
      for (const auto& x : *f) {
        if (x.is_string()) a.fields.push_back(x.get<std::string>());
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Value ValueFromJson(const Json& j) {
  if (j.is_string()) return Value::String(j.get<std::string>());
  if (j.is_boolean()) return Value::Bool(j.get<bool>());
  if (j.is_number()) return Value::Number(j.get<double>());
  return Value::Null();
}

Json ValueToJson(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kString:
      return v.text;
    case Value::Kind::kNumber:
      return v.number;
    case Value::Kind::kBool:
      return v.boolean;
    case Value::Kind::kNull:
      break;
  }
  return nullptr;
}

Record ParseRecord(const Json& j) {
  if (!j.is_object()) throw std::runtime_error("a record is not an object");
  Record r;
  if (auto a = j.find("attributes"); a != j.end() && a->is_object()) r.type = Str(*a, "type");
  Flatten(j, "", &r);
  if (auto it = r.fields.find("Id"); it != r.fields.end()) r.id = it->second.text;
  return r;
}

QueryPage ParseQueryPage(const Json& j) {
  if (!j.is_object() || !j.contains("records") || !j.at("records").is_array()) {
    throw std::runtime_error("no records array");
  }
  QueryPage p;
  if (auto t = j.find("totalSize"); t != j.end()) {
    p.total_size = kam::http::JsonInteger(*t, 0, std::numeric_limits<int64_t>::max()).value_or(0);
  }
  p.done = j.value("done", true);
  p.next_records_url = Str(j, "nextRecordsUrl");
  if (p.done) p.next_records_url.clear();
  for (const auto& r : j.at("records")) p.records.push_back(ParseRecord(r));
  return p;
}

std::vector<ApiError> ParseErrorBody(std::string_view body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_array()) {
    auto out = ParseErrorArray(j, "errorCode");
    if (!out.empty()) return out;
  } else if (j.is_object()) {
    if (j.contains("error")) {  // OAuth
      return {{Str(j, "error"), Str(j, "error_description"), {}}};
    }
    if (j.contains("errorCode") || j.contains("message")) {
      return ParseErrorArray(Json::array({j}), "errorCode");
    }
  }
  std::string text(body.substr(0, 300));
  return {{"", text, {}}};
}

Error ErrorFromApiErrors(const std::vector<ApiError>& errors, int http_status,
                         const std::string& endpoint) {
  Error e;
  e.http_status = http_status;
  e.endpoint = endpoint;
  if (!errors.empty()) {
    e.error_code = errors.front().code;
    e.crm_message = errors.front().message;
    e.fields = errors.front().fields;
  }
  e.error_class = ClassifyErrorCode(e.error_code, http_status);
  std::string msg;
  for (const auto& a : errors) {
    if (!msg.empty()) msg += "; ";
    msg += a.code.empty() ? a.message : a.code + ": " + a.message;
    if (!a.fields.empty()) {
      msg += " [";
      for (std::size_t i = 0; i < a.fields.size(); ++i) msg += (i ? ", " : "") + a.fields[i];
      msg += "]";
    }
  }
  e.message = msg;
  return e;
}

std::vector<CollectionResult> ParseCollectionResults(const Json& j) {
  if (!j.is_array()) throw std::runtime_error("a collection answer is not an array");
  std::vector<CollectionResult> out;
  for (const auto& r : j) {
    CollectionResult c;
    if (r.is_object()) {
      c.id = Str(r, "id");
      c.success = r.value("success", false);
      if (auto cr = r.find("created"); cr != r.end() && cr->is_boolean()) {
        c.created = cr->get<bool>();
      }
      if (auto e = r.find("errors"); e != r.end() && e->is_array()) {
        c.errors = ParseErrorArray(*e, "statusCode");
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string BuildCollectionUpdateBody(const std::string& sobject,
                                      const std::vector<RecordUpdate>& updates) {
  Json records = Json::array();
  for (const auto& u : updates) {
    Json r = {{"attributes", {{"type", sobject}}}, {"id", u.id}};
    for (const auto& [name, value] : u.fields) r[name] = ValueToJson(value);
    records.push_back(std::move(r));
  }
  return Json{{"allOrNone", false}, {"records", std::move(records)}}.dump();
}

std::string BuildCollectionBody(const std::string& sobject, const std::vector<Fields>& records) {
  Json arr = Json::array();
  for (const auto& fields : records) {
    Json r = {{"attributes", {{"type", sobject}}}};
    for (const auto& [name, value] : fields) r[name] = ValueToJson(value);
    arr.push_back(std::move(r));
  }
  return Json{{"allOrNone", false}, {"records", std::move(arr)}}.dump();
}

TokenResponse ParseTokenResponse(const Json& j) {
  TokenResponse t;
  if (!j.is_object()) throw std::runtime_error("the token answer is not an object");
  t.access_token = Str(j, "access_token");
  t.instance_url = Str(j, "instance_url");
  t.id = Str(j, "id");
  t.refresh_token = Str(j, "refresh_token");
  if (t.access_token.empty()) throw std::runtime_error("no access_token");
  while (!t.instance_url.empty() && t.instance_url.back() == '/') t.instance_url.pop_back();
  return t;
}

ApiLimits ParseLimits(const Json& j) {
  ApiLimits l;
  auto it = j.find("DailyApiRequests");
  if (it == j.end() || !it->is_object()) throw std::runtime_error("no DailyApiRequests");
  l.daily_max = it->value("Max", int64_t{-1});
  l.daily_remaining = it->value("Remaining", int64_t{-1});
  return l;
}

std::map<std::string, Json> DescribeFieldsByName(const Json& describe) {
  std::map<std::string, Json> out;
  auto it = describe.find("fields");
  if (it == describe.end() || !it->is_array()) throw std::runtime_error("no fields array");
  for (const auto& f : *it) out[Lower(Str(f, "name"))] = f;
  return out;
}

}  // namespace kam::salesforce::internal
