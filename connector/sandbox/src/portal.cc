// The sandbox's CRM state in SQLite: schema, property definitions, record reads and writes,
// value validation and the translation of HubSpot search requests to SQL (see portal.h).
#include "portal.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>

namespace kam::sandbox {
namespace {

// Association types of CRM_API A9 (default and primary), each with its inverse.
const std::vector<AssocType>& AssocTypes() {
  static const std::vector<AssocType> kTypes = {
      {"contacts", "companies", 279, 280, nullptr}, {"companies", "contacts", 280, 279, nullptr},
      {"contacts", "companies", 1, 2, "Primary"},   {"companies", "contacts", 2, 1, "Primary"},
      {"deals", "companies", 341, 342, nullptr},    {"companies", "deals", 342, 341, nullptr},
      {"deals", "companies", 5, 6, "Primary"},      {"companies", "deals", 6, 5, "Primary"},
      {"deals", "contacts", 3, 4, nullptr},         {"contacts", "deals", 4, 3, nullptr},
      {"tasks", "companies", 192, 191, nullptr},    {"companies", "tasks", 191, 192, nullptr},
      {"tasks", "contacts", 204, 203, nullptr},     {"contacts", "tasks", 203, 204, nullptr},
      {"tasks", "deals", 216, 215, nullptr},        {"deals", "tasks", 215, 216, nullptr},
      {"meetings", "companies", 188, 187, nullptr}, {"companies", "meetings", 187, 188, nullptr},
      {"meetings", "contacts", 200, 199, nullptr},  {"contacts", "meetings", 199, 200, nullptr},
      {"meetings", "deals", 212, 211, nullptr},     {"deals", "meetings", 211, 212, nullptr},
  };
  return kTypes;
}

// kam_num(text): the numeric value of a stored property (numbers, dates and datetimes as epoch
// ms), or NULL.
void SqlNum(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_INTEGER || sqlite3_value_type(argv[0]) == SQLITE_FLOAT) {
    sqlite3_result_double(ctx, sqlite3_value_double(argv[0]));
    return;
  }
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const std::string_view s(text ? text : "");
  double d;
  if (ParseDouble(s, &d)) {
    sqlite3_result_double(ctx, d);
    return;
  }
  int64_t ms;
  if (ParseTimeMs(s, &ms)) {
    sqlite3_result_double(ctx, static_cast<double>(ms));
    return;
  }
  sqlite3_result_null(ctx);
}

std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      cur.push_back(static_cast<char>(std::tolower(u)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Glob match with '*' only, both lower-case.
bool WildMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string ArgText(sqlite3_value* v) {
  const unsigned char* t = sqlite3_value_text(v);
  return t ? reinterpret_cast<const char*>(t) : "";
}

// kam_token(text, pattern): some whole word of text matches pattern (case-insensitive, '*').
void SqlToken(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const std::string pattern = ToLower(ArgText(argv[1]));
  for (const auto& tok : Tokens(ArgText(argv[0]))) {
    if (WildMatch(pattern, tok)) {
      sqlite3_result_int(ctx, 1);
      return;
    }
  }
  // A pattern with punctuation (e.g. an email) matches the whole value too.
  sqlite3_result_int(ctx, WildMatch(pattern, ToLower(ArgText(argv[0]))) ? 1 : 0);
}

// kam_query(text, query): every word of query is a prefix of some word of text.
void SqlQuery(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto words = Tokens(ArgText(argv[0]));
  for (const auto& q : Tokens(ArgText(argv[1]))) {
    bool found = false;
    for (const auto& w : words) {
      if (w.compare(0, q.size(), q) == 0) {
        found = true;
        break;
      }
    }
    if (!found) {
      sqlite3_result_int(ctx, 0);
      return;
    }
  }
  sqlite3_result_int(ctx, 1);
}

ApiError BadRequest(std::string message) {
  return ApiError{400, "VALIDATION_ERROR", std::move(message)};
}

// A JSON string without escapes at text[*pos] ('"' included); false for anything else.
bool PlainString(std::string_view text, size_t* pos, std::string_view* out) {
  if (*pos >= text.size() || text[*pos] != '"') return false;
  const size_t start = *pos + 1;
  size_t end = start;
  while (end < text.size() && text[end] != '"') {
    const unsigned char c = static_cast<unsigned char>(text[end]);
    if (c == '\\' || c < 0x20) return false;
    ++end;
  }
  if (end >= text.size()) return false;
  *out = text.substr(start, end - start);
  *pos = end + 1;
  return true;
}

// The stored form of a record's properties, {"name":"value",...} as json::dump and the seeder
// write it (no spaces), read without the general parser: it is the sandbox's hottest read.
// Returns false (and leaves *out unusable) for anything else — escapes, non-string values,
// spaces — which the caller then gives to json::parse.
bool ParseFlatStringObject(std::string_view text, json* out) {
  *out = json::object();
  auto& map = out->get_ref<json::object_t&>();
  size_t pos = 0;
  if (text.size() < 2 || text[0] != '{') return false;
  pos = 1;
  if (text[pos] == '}') return pos + 1 == text.size();
  while (true) {
    std::string_view key, value;
    if (!PlainString(text, &pos, &key)) return false;
    if (pos >= text.size() || text[pos] != ':') return false;
    ++pos;
    if (!PlainString(text, &pos, &value)) return false;
    // Keys written by json::dump arrive sorted, so the hint is usually right. A repeated key
    // would keep its first value here and its last in json::parse: leave that to the parser.
    const size_t before = map.size();
    map.emplace_hint(map.end(), std::string(key), json(std::string(value)));
    if (map.size() == before) return false;
    if (pos >= text.size()) return false;
    if (text[pos] == '}') return pos + 1 == text.size();
    if (text[pos] != ',') return false;
    ++pos;
  }
}

std::string ValueText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    std::string s = v.dump();
    return s;
  }
  return v.dump();
}

const char* SearchableProps(const ObjectType& t) {
  const std::string n = t.name;
  if (n == "companies") return "name,domain,website,phone";
  if (n == "contacts") return "firstname,lastname,email,phone,company";
  if (n == "deals") return "dealname";
  if (n == "tasks") return "hs_task_subject,hs_task_body";
  return "hs_meeting_title,hs_meeting_body";
}

}  // namespace

const AssocType* DefaultAssoc(const ObjectType& from, const ObjectType& to) {
  for (const auto& a : AssocTypes()) {
    if (a.label == nullptr && std::string_view(a.from) == from.name &&
        std::string_view(a.to) == to.name) {
      return &a;
    }
  }
  return nullptr;
}

const AssocType* FindAssoc(const ObjectType& from, const ObjectType& to, int type_id) {
  for (const auto& a : AssocTypes()) {
    if (a.type_id == type_id && std::string_view(a.from) == from.name &&
        std::string_view(a.to) == to.name) {
      return &a;
    }
  }
  return nullptr;
}

std::string CheckTypeFieldType(const std::string& type, const std::string& ft) {
  static const std::map<std::string, std::set<std::string>> kPairs = {
      {"string", {"text", "textarea", "html", "file", "phonenumber", "calculation_equation"}},
      {"number", {"number", "calculation_equation"}},
      {"bool", {"booleancheckbox", "calculation_equation"}},
      {"enumeration", {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"}},
      {"date", {"date"}},
      {"datetime", {"date"}},
      {"phone_number", {"phonenumber", "text"}},
  };
  auto it = kPairs.find(type);
  if (it == kPairs.end()) {
    return "Invalid property type '" + type +
           "'. Valid types: string, number, bool, enumeration, date, datetime, phone_number";
  }
  if (!it->second.count(ft)) {
    return "fieldType '" + ft + "' is not valid for a property of type '" + type + "'";
  }
  return {};
}

json CompletePropertyDef(const json& create, bool hubspot_defined, int64_t now_ms) {
  json def = {
      {"name", create.value("name", "")},
      {"label", create.value("label", "")},
      {"type", create.value("type", "string")},
      {"fieldType", create.value("fieldType", "text")},
      {"groupName", create.value("groupName", "")},
      {"description", create.value("description", "")},
      {"options", json::array()},
      // Checked by the API before (DisplayOrder); seeded definitions hold integers.
      {"displayOrder", IntMember(create, "displayOrder", -1).value_or(-1)},
      {"hasUniqueValue", create.value("hasUniqueValue", false)},
      {"hidden", create.value("hidden", false)},
      {"formField", create.value("formField", false)},
      {"calculated", false},
      {"externalOptions", create.value("externalOptions", false)},
      {"hubspotDefined", hubspot_defined},
      {"archived", false},
      {"createdAt", IsoMs(now_ms)},
      {"updatedAt", IsoMs(now_ms)},
      {"modificationMetadata",
       {{"archivable", !hubspot_defined},
        {"readOnlyDefinition", hubspot_defined},
        {"readOnlyValue", create.value("readOnlyValue", false)}}},
  };
  if (create.contains("referencedObjectType")) {
    def["referencedObjectType"] = create["referencedObjectType"];
  }
  if (create.contains("dataSensitivity")) def["dataSensitivity"] = create["dataSensitivity"];
  if (create.contains("options") && create["options"].is_array()) {
    int order = 0;
    for (const auto& o : create["options"]) {
      json opt = {{"label", o.value("label", o.value("value", ""))},
                  {"value", o.value("value", "")},
                  {"displayOrder", o.value("displayOrder", order)},
                  {"hidden", o.value("hidden", false)}};
      if (o.contains("description")) opt["description"] = o["description"];
      def["options"].push_back(opt);
      ++order;
    }
  }
  return def;
}

PropDef ToPropDef(const json& def) {
  PropDef p;
  p.def = def;
  p.name = def.value("name", "");
  p.type = def.value("type", "string");
  p.field_type = def.value("fieldType", "text");
  p.unique = def.value("hasUniqueValue", false);
  p.hubspot_defined = def.value("hubspotDefined", false);
  p.read_only = def.contains("modificationMetadata") &&
                def["modificationMetadata"].value("readOnlyValue", false);
  p.owner_ref = def.value("referencedObjectType", "") == "OWNER";
  p.archived = def.value("archived", false);
  for (const auto& o : def.value("options", json::array())) p.options.insert(o.value("value", ""));
  return p;
}

Portal::Portal(const SandboxOptions& options) : options_(options) {
  base_time_ms_ = options.base_time_ms;
  if (base_time_ms_ == 0) base_time_ms_ = NowMs() / 86400000 * 86400000;
  const std::string path = options.db_path.empty() ? ":memory:" : options.db_path;
  // One connection, used under the API's mutex: SQLite's own locking is not needed.
  db_ = std::make_unique<SQLite::Database>(
      path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  if (!options.db_path.empty()) {
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=NORMAL");
  }
  sqlite3* h = db_->getHandle();
  sqlite3_create_function(h, "kam_num", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, &SqlNum,
                          nullptr, nullptr);
  sqlite3_create_function(h, "kam_token", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                          &SqlToken, nullptr, nullptr);
  sqlite3_create_function(h, "kam_query", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                          &SqlQuery, nullptr, nullptr);
  if (options.db_path.empty()) {
    // Nothing to recover for an in-memory portal: skip the rollback journal.
    db_->exec("PRAGMA journal_mode=OFF");
  }
  CreateSchema();
  if (LoadMeta("seeded")) {
    if (auto b = LoadMeta("base_time_ms")) base_time_ms_ = std::stoll(*b);
    LoadDefinitions();
  } else {
    Seed();
  }
  CreateIndexes();
}

void Portal::CreateIndexes() {
  // Built after the bulk seed: one sorted build is much cheaper than maintaining them per row.
  db_->exec(R"sql(
    CREATE INDEX IF NOT EXISTS objects_by_type_id ON objects(type, archived, id);
    CREATE INDEX IF NOT EXISTS objects_by_type_updated ON objects(type, archived, updated_ms);
    CREATE UNIQUE INDEX IF NOT EXISTS assoc_key ON assoc(from_id, to_type, to_id, type_id);
  )sql");
}

void Portal::CreateSchema() {
  db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS objects(
      id INTEGER PRIMARY KEY, type TEXT NOT NULL, created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0, archived_ms INTEGER,
      props TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS assoc(
      from_id INTEGER NOT NULL, to_type TEXT NOT NULL, to_id INTEGER NOT NULL,
      type_id INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS uniq(
      type TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, id INTEGER NOT NULL,
      PRIMARY KEY(type, name, value)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS propdefs(type TEXT, name TEXT, def TEXT, PRIMARY KEY(type, name));
    CREATE TABLE IF NOT EXISTS propgroups(type TEXT, name TEXT, def TEXT, PRIMARY KEY(type, name));
  )sql");
}

void Portal::SaveMeta(const std::string& key, const std::string& value) {
  SQLite::Statement q(*db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  q.bind(1, key);
  q.bind(2, value);
  q.exec();
}

std::optional<std::string> Portal::LoadMeta(const std::string& key) const {
  SQLite::Statement q(*db_, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (q.executeStep()) return q.getColumn(0).getString();
  return std::nullopt;
}

void Portal::LoadDefinitions() {
  props_.clear();
  SQLite::Statement q(*db_, "SELECT type, def FROM propdefs");
  while (q.executeStep()) {
    PropDef p = ToPropDef(json::parse(q.getColumn(1).getString()));
    props_[q.getColumn(0).getString()][p.name] = std::move(p);
  }
  owners_ = json::parse(LoadMeta("owners").value_or("[]"));
  owner_ids_.clear();
  for (const auto& o : owners_) owner_ids_.insert(o.value("id", ""));
  SQLite::Statement m(*db_, "SELECT coalesce(max(id), 10000) FROM objects");
  m.executeStep();
  next_id_ = m.getColumn(0).getInt64() + 1;
}

void Portal::Reset() {
  db_->exec(
      "DELETE FROM meta; DELETE FROM objects; DELETE FROM assoc; DELETE FROM uniq; "
      "DELETE FROM propdefs; DELETE FROM propgroups;");
  props_.clear();
  next_id_ = 10001;
  db_->exec(
      "DROP INDEX IF EXISTS objects_by_type_id; DROP INDEX IF EXISTS objects_by_type_updated; "
      "DROP INDEX IF EXISTS assoc_key;");
  Seed();
  CreateIndexes();
}

const PropDef* Portal::Prop(const ObjectType& t, const std::string& name) const {
  auto it = props_.find(std::string_view(t.name));
  if (it == props_.end()) return nullptr;
  auto p = it->second.find(name);
  if (p == it->second.end() || p->second.archived) return nullptr;
  return &p->second;
}

const std::map<std::string, PropDef, std::less<>>& Portal::Props(const ObjectType& t) const {
  static const std::map<std::string, PropDef, std::less<>> kEmpty;
  auto it = props_.find(std::string_view(t.name));
  return it == props_.end() ? kEmpty : it->second;
}

void Portal::PutProp(const ObjectType& t, const json& def) {
  PropDef p = ToPropDef(def);
  SQLite::Statement q(*db_, "INSERT OR REPLACE INTO propdefs(type, name, def) VALUES (?, ?, ?)");
  q.bind(1, std::string(t.name));
  q.bind(2, p.name);
  q.bind(3, def.dump());
  q.exec();
  props_[t.name][p.name] = std::move(p);
}

void Portal::DeleteProp(const ObjectType& t, const std::string& name) {
  SQLite::Statement q(*db_, "DELETE FROM propdefs WHERE type = ? AND name = ?");
  q.bind(1, std::string(t.name));
  q.bind(2, name);
  q.exec();
  props_[t.name].erase(name);
}

json Portal::Groups(const ObjectType& t) const {
  json out = json::array();
  SQLite::Statement q(*db_, "SELECT def FROM propgroups WHERE type = ? ORDER BY rowid");
  q.bind(1, std::string(t.name));
  while (q.executeStep()) out.push_back(json::parse(q.getColumn(0).getString()));
  return out;
}

std::optional<json> Portal::Group(const ObjectType& t, const std::string& name) const {
  SQLite::Statement q(*db_, "SELECT def FROM propgroups WHERE type = ? AND name = ?");
  q.bind(1, std::string(t.name));
  q.bind(2, name);
  if (q.executeStep()) return json::parse(q.getColumn(0).getString());
  return std::nullopt;
}

void Portal::PutGroup(const ObjectType& t, const json& group) {
  SQLite::Statement q(*db_,
                      "INSERT INTO propgroups(type, name, def) VALUES (?, ?, ?) "
                      "ON CONFLICT(type, name) DO UPDATE SET def = excluded.def");
  q.bind(1, std::string(t.name));
  q.bind(2, group.value("name", ""));
  q.bind(3, group.dump());
  q.exec();
}

void Portal::DeleteGroup(const ObjectType& t, const std::string& name) {
  SQLite::Statement q(*db_, "DELETE FROM propgroups WHERE type = ? AND name = ?");
  q.bind(1, std::string(t.name));
  q.bind(2, name);
  q.exec();
}

bool Portal::IsOwner(const std::string& id) const { return owner_ids_.count(id) > 0; }

Record Portal::RowToRecord(SQLite::Statement& q) const {
  Record r;
  r.id = q.getColumn(0).getInt64();
  r.type = FindObjectType(q.getColumn(1).getString());
  r.created_ms = q.getColumn(2).getInt64();
  r.updated_ms = q.getColumn(3).getInt64();
  r.archived = q.getColumn(4).getInt() != 0;
  r.archived_ms = q.getColumn(5).isNull() ? 0 : q.getColumn(5).getInt64();
  const SQLite::Column props = q.getColumn(6);
  const std::string_view text(static_cast<const char*>(props.getBlob()),
                              static_cast<size_t>(props.getBytes()));
  if (!ParseFlatStringObject(text, &r.props)) r.props = json::parse(text);
  return r;
}

static constexpr const char* kRecordColumns =
    "SELECT id, type, created_ms, updated_ms, archived, archived_ms, props FROM objects ";

SQLite::Statement& Portal::Cached(const char* sql) const {
  auto& slot = statements_[sql];
  if (!slot) {
    slot = std::make_unique<SQLite::Statement>(*db_, sql);
  } else {
    slot->reset();
    slot->clearBindings();
  }
  return *slot;
}

Portal::WriteScope::WriteScope(Portal& portal) : portal_(portal) {
  if (sqlite3_get_autocommit(portal_.db_->getHandle()) != 0) {
    portal_.db_->exec("BEGIN");
    owner_ = true;
  }
}

Portal::WriteScope::~WriteScope() {
  if (!owner_) return;
  // Every statement is reset by now (StatementUse), so nothing keeps the commit waiting.
  if (sqlite3_get_autocommit(portal_.db_->getHandle()) == 0) {
    sqlite3_exec(portal_.db_->getHandle(), "COMMIT", nullptr, nullptr, nullptr);
  }
}

std::optional<Record> Portal::Load(int64_t id) const {
  static constexpr const char* kSql =
      "SELECT id, type, created_ms, updated_ms, archived, archived_ms, props FROM objects "
      "WHERE id = ?";
  StatementUse use(Cached(kSql));
  use.q.bind(1, id);
  std::optional<Record> out;
  if (use.q.executeStep()) out = RowToRecord(use.q);
  return out;
}

bool Portal::Exists(const ObjectType& t, int64_t id, bool archived) const {
  static constexpr const char* kSql = "SELECT type, archived FROM objects WHERE id = ?";
  StatementUse use(Cached(kSql));
  use.q.bind(1, id);
  if (!use.q.executeStep()) return false;
  const char* type = use.q.getColumn(0).getText();
  return std::string_view(type) == t.name && (use.q.getColumn(1).getInt() != 0) == archived;
}

std::optional<Record> Portal::LoadOfType(const ObjectType& t, int64_t id, bool archived) const {
  auto r = Load(id);
  if (!r || r->type != &t || r->archived != archived) return std::nullopt;
  return r;
}

std::optional<int64_t> Portal::FindUnique(const ObjectType& t, const std::string& prop,
                                          const std::string& value) const {
  if (prop == "hs_object_id") {
    double d;
    if (!ParseDouble(value, &d)) return std::nullopt;
    if (LoadOfType(t, static_cast<int64_t>(d), false)) return static_cast<int64_t>(d);
    return std::nullopt;
  }
  StatementUse use(Cached("SELECT id FROM uniq WHERE type = ? AND name = ? AND value = ?"));
  SQLite::Statement& q = use.q;
  q.bind(1, t.name);
  q.bind(2, prop);
  q.bind(3, value);
  if (q.executeStep()) return q.getColumn(0).getInt64();
  return std::nullopt;
}

json Portal::Normalize(const ObjectType& t, const json& properties, bool by_admin) const {
  json out = json::object();
  json errors = json::array();
  json bad_names = json::array();
  if (!properties.is_object()) throw BadRequest("properties must be a JSON object");
  auto fail = [&](const std::string& name, const std::string& code, const std::string& msg) {
    errors.push_back({{"isValid", false},
                      {"message", msg},
                      {"error", code},
                      {"name", name},
                      {"localizedErrorMessage", msg}});
    bad_names.push_back(name);
  };
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    const std::string& name = it.key();
    const json& raw = it.value();
    const PropDef* def = Prop(t, name);
    if (!def) {
      fail(name, "PROPERTY_DOESNT_EXIST", "Property \"" + name + "\" does not exist");
      continue;
    }
    if (def->read_only && !by_admin) {
      fail(name, "READ_ONLY_VALUE",
           name + " is a read only property; its value cannot be set.");
      continue;
    }
    if (raw.is_null() || (raw.is_string() && raw.get<std::string>().empty())) {
      out[name] = nullptr;
      continue;
    }
    if (raw.is_object() || raw.is_array()) {
      fail(name, "INVALID_VALUE", "Property \"" + name + "\" must be a string value");
      continue;
    }
    std::string v = ValueText(raw);
    if (def->type == "number") {
      double d;
      if (!ParseDouble(v, &d) || !std::isfinite(d)) {
        fail(name, "INVALID_DECIMAL", v + " was not a valid number.");
        continue;
      }
    } else if (def->type == "bool") {
      const std::string l = ToLower(v);
      if (l != "true" && l != "false") {
        fail(name, "INVALID_BOOLEAN", v + " was not a valid boolean (true or false).");
        continue;
      }
      v = l;
    } else if (def->type == "date") {
      int64_t ms;
      if (!ParseTimeMs(v, &ms) || ms % 86400000 != 0) {
        fail(name, "INVALID_DATE",
             v + " is not a valid date: use YYYY-MM-DD or epoch milliseconds at midnight UTC.");
        continue;
      }
      v = IsoDate(ms);
    } else if (def->type == "datetime") {
      int64_t ms;
      if (!ParseTimeMs(v, &ms)) {
        fail(name, "INVALID_DATETIME", v + " is not a valid datetime (ISO 8601 or epoch ms).");
        continue;
      }
      v = IsoMs(ms);
    } else if (def->type == "enumeration") {
      if (def->owner_ref) {
        if (!IsOwner(v)) {
          fail(name, "INVALID_OWNER_ID", v + " is not a valid owner id");
          continue;
        }
      } else {
        bool ok = true;
        std::string_view rest = v;
        while (true) {
          const size_t semi = def->field_type == "checkbox" ? rest.find(';') : std::string::npos;
          if (!def->options.count(std::string(rest.substr(0, semi)))) ok = false;
          if (semi == std::string::npos) break;
          rest.remove_prefix(semi + 1);
        }
        if (!ok) {
          fail(name, "INVALID_OPTION",
               v + " was not one of the allowed options: " + [&] {
                 std::string s;
                 for (const auto& o : def->options) s += (s.empty() ? "" : ", ") + o;
                 return "[" + s + "]";
               }());
          continue;
        }
      }
    }
    out[name] = v;
  }
  if (!errors.empty()) {
    ApiError e = BadRequest("Property values were not valid: " + errors.dump());
    json list = json::array();
    for (const auto& x : errors) {
      list.push_back({{"message", x["message"]},
                      {"code", x["error"]},
                      {"context", {{"propertyName", json::array({x["name"]})}}}});
    }
    e.errors = list;
    e.context = {{"propertyName", bad_names}};
    throw e;
  }
  return out;
}

void Portal::CheckUnique(const ObjectType& t, const json& changes, int64_t self_id) const {
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    if (it.value().is_null()) continue;
    const PropDef* def = Prop(t, it.key());
    if (!def || !def->unique) continue;
    auto other = FindUnique(t, it.key(), it.value().get<std::string>());
    if (other && *other != self_id) {
      std::string message =
          std::string(t.name) == "contacts" && it.key() == "email"
              ? "Contact already exists. Existing ID: " + std::to_string(*other)
              : "A " + std::string(t.singular) + " with " + it.key() + " '" +
                    it.value().get<std::string>() +
                    "' already exists (the property requires unique values). Existing ID: " +
                    std::to_string(*other);
      throw ApiError{409, "CONFLICT", message,
                     json{{"existingId", json::array({std::to_string(*other)})},
                          {"propertyName", json::array({it.key()})}}};
    }
  }
}

void Portal::WriteUnique(const ObjectType& t, const json& before, const json& after, int64_t id) {
  for (const auto& [name, def] : Props(t)) {
    if (!def.unique) continue;
    const std::string b = before.is_object() ? before.value(name, "") : "";
    const std::string a = after.is_object() ? after.value(name, "") : "";
    if (a == b) continue;
    if (!b.empty()) {
      StatementUse use(
          Cached("DELETE FROM uniq WHERE type = ? AND name = ? AND value = ? "
                 "AND id = ?"));
      SQLite::Statement& d = use.q;
      d.bind(1, t.name);
      d.bind(2, name);
      d.bind(3, b);
      d.bind(4, id);
      d.exec();
    }
    if (!a.empty()) {
      StatementUse use(
          Cached("INSERT OR REPLACE INTO uniq(type, name, value, id) "
                 "VALUES (?, ?, ?, ?)"));
      SQLite::Statement& i = use.q;
      i.bind(1, t.name);
      i.bind(2, name);
      i.bind(3, a);
      i.bind(4, id);
      i.exec();
    }
  }
}

namespace {
void ApplyChanges(const ObjectType& t, json& props, const json& changes) {
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    if (it.value().is_null()) {
      props.erase(it.key());
    } else {
      props[it.key()] = it.value();
    }
  }
  if (std::string_view(t.name) == "deals" && changes.contains("dealstage")) {
    const std::string stage = props.value("dealstage", "");
    props["hs_is_closed"] = (stage == "closedwon" || stage == "closedlost") ? "true" : "false";
    props["hs_is_closed_won"] = stage == "closedwon" ? "true" : "false";
  }
}
}  // namespace

Record Portal::Insert(const ObjectType& t, const json& changes, int64_t now_ms) {
  Record r;
  r.id = next_id_++;
  r.type = &t;
  r.created_ms = now_ms;
  r.updated_ms = now_ms;
  ApplyChanges(t, r.props, changes);
  StatementUse use(
      Cached("INSERT INTO objects(id, type, created_ms, updated_ms, archived, props) "
             "VALUES (?, ?, ?, ?, 0, ?)"));
  SQLite::Statement& q = use.q;
  q.bind(1, r.id);
  q.bind(2, t.name);
  q.bind(3, r.created_ms);
  q.bind(4, r.updated_ms);
  q.bind(5, r.props.dump());
  q.exec();
  WriteUnique(t, json::object(), r.props, r.id);
  return r;
}

void Portal::Update(Record& r, const json& changes, int64_t now_ms) {
  // Only the unique properties' old values matter to WriteUnique: no copy of every property.
  json before = json::object();
  for (const auto& [name, def] : Props(*r.type)) {
    if (!def.unique) continue;
    auto it = r.props.find(name);
    if (it != r.props.end()) before[name] = *it;
  }
  ApplyChanges(*r.type, r.props, changes);
  r.updated_ms = std::max(now_ms, r.created_ms);
  StatementUse use(Cached("UPDATE objects SET props = ?, updated_ms = ? WHERE id = ?"));
  SQLite::Statement& q = use.q;
  q.bind(1, r.props.dump());
  q.bind(2, r.updated_ms);
  q.bind(3, r.id);
  q.exec();
  WriteUnique(*r.type, before, r.props, r.id);
}

bool Portal::Archive(const ObjectType& t, int64_t id, int64_t now_ms) {
  auto r = LoadOfType(t, id, false);
  if (!r) return false;
  SQLite::Statement q(*db_,
                      "UPDATE objects SET archived = 1, archived_ms = ?, updated_ms = ? "
                      "WHERE id = ?");
  q.bind(1, now_ms);
  q.bind(2, now_ms);
  q.bind(3, id);
  q.exec();
  WriteUnique(t, r->props, json::object(), id);
  return true;
}

int64_t Portal::Touch(const ObjectType& t, int64_t count, const std::vector<int64_t>& ids,
                      int64_t updated_ms) {
  if (!ids.empty()) {
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_,
                        "UPDATE objects SET updated_ms = ? WHERE id = ? AND type = ? "
                        "AND archived = 0");
    int64_t n = 0;
    for (int64_t id : ids) {
      q.bind(1, updated_ms);
      q.bind(2, id);
      q.bind(3, std::string(t.name));
      n += q.exec();
      q.reset();
    }
    tx.commit();
    return n;
  }
  SQLite::Statement q(*db_,
                      count > 0
                          ? "UPDATE objects SET updated_ms = ? WHERE id IN (SELECT id FROM objects "
                            "WHERE type = ? AND archived = 0 ORDER BY id LIMIT ?)"
                          : "UPDATE objects SET updated_ms = ? WHERE type = ? AND archived = 0");
  q.bind(1, updated_ms);
  q.bind(2, std::string(t.name));
  if (count > 0) q.bind(3, count);
  return q.exec();
}

void Portal::Associate(int64_t from_id, const ObjectType& from, int64_t to_id,
                       const ObjectType& to, int type_id) {
  const AssocType* a = FindAssoc(from, to, type_id);
  const int inverse = a ? a->inverse_id : type_id;
  StatementUse use(
      Cached("INSERT OR IGNORE INTO assoc(from_id, to_type, to_id, type_id) "
             "VALUES (?, ?, ?, ?)"));
  SQLite::Statement& q = use.q;
  q.bind(1, from_id);
  q.bind(2, to.name);
  q.bind(3, to_id);
  q.bind(4, type_id);
  q.exec();
  q.reset();
  q.bind(1, to_id);
  q.bind(2, from.name);
  q.bind(3, from_id);
  q.bind(4, inverse);
  q.exec();
}

void Portal::Dissociate(int64_t from_id, int64_t to_id) {
  SQLite::Statement q(*db_,
                      "DELETE FROM assoc WHERE (from_id = ? AND to_id = ?) OR "
                      "(from_id = ? AND to_id = ?)");
  q.bind(1, from_id);
  q.bind(2, to_id);
  q.bind(3, to_id);
  q.bind(4, from_id);
  q.exec();
}

std::vector<AssocEdge> Portal::Edges(int64_t from_id, const ObjectType& to, int64_t after_to_id,
                                     int limit) const {
  std::vector<AssocEdge> out;
  // Only edges to live (non-archived) records count. Every edge of the first `limit` target
  // ids: the rows come in target order (the assoc_key index), so stop at the next target.
  StatementUse use(
      Cached("SELECT a.to_id, a.type_id FROM assoc a JOIN objects o ON o.id = a.to_id "
             "WHERE a.from_id = ? AND a.to_type = ? AND a.to_id > ? AND "
             "o.archived = 0 ORDER BY a.to_id, a.type_id"));
  SQLite::Statement& q = use.q;
  q.bind(1, from_id);
  q.bind(2, to.name);
  q.bind(3, after_to_id);
  int targets = 0;
  while (q.executeStep()) {
    const int64_t to_id = q.getColumn(0).getInt64();
    if (out.empty() || out.back().to_id != to_id) {
      if (targets == limit) break;
      ++targets;
    }
    out.push_back({to_id, q.getColumn(1).getInt()});
  }
  return out;
}

int64_t Portal::CountEdges(int64_t from_id, const ObjectType& to) const {
  StatementUse use(
      Cached("SELECT count(DISTINCT a.to_id) FROM assoc a JOIN objects o ON "
             "o.id = a.to_id WHERE a.from_id = ? AND a.to_type = ? AND "
             "o.archived = 0"));
  SQLite::Statement& q = use.q;
  q.bind(1, from_id);
  q.bind(2, to.name);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::vector<Record> Portal::List(const ObjectType& t, bool archived, int64_t after_id,
                                 int limit) const {
  std::vector<Record> out;
  StatementUse use(
      Cached("SELECT id, type, created_ms, updated_ms, archived, archived_ms, props "
             "FROM objects WHERE type = ? AND archived = ? AND id > ? ORDER BY id "
             "LIMIT ?"));
  SQLite::Statement& q = use.q;
  q.bind(1, t.name);
  q.bind(2, archived ? 1 : 0);
  q.bind(3, after_id);
  q.bind(4, limit);
  while (q.executeStep()) out.push_back(RowToRecord(q));
  return out;
}

std::vector<Record> Portal::AllOfType(const ObjectType& t, bool include_archived) const {
  std::vector<Record> out;
  SQLite::Statement q(*db_, std::string(kRecordColumns) + "WHERE type = ? " +
                                (include_archived ? "" : "AND archived = 0 ") + "ORDER BY id");
  q.bind(1, std::string(t.name));
  while (q.executeStep()) out.push_back(RowToRecord(q));
  return out;
}

namespace {

struct Bind {
  bool numeric = false;
  double num = 0;
  std::string text;
};

struct SqlBuilder {
  std::string sql;
  std::vector<Bind> binds;
  void Num(double d) {
    sql += "?";
    binds.push_back({true, d, {}});
  }
  void Text(std::string s) {
    sql += "?";
    binds.push_back({false, 0, std::move(s)});
  }
};

}  // namespace

Portal::SearchResult Portal::Search(const ObjectType& t, const json& body, int64_t offset,
                                    int limit) const {
  // How a property is compared: a column, a numeric JSON value or a text JSON value.
  struct Operand {
    std::string value;    // raw value expression
    std::string compare;  // expression used for comparisons
    bool numeric = false;
    bool is_date = false;
  };
  const std::string modified = t.modified_prop;
  auto operand = [&](const std::string& name) -> Operand {
    if (name == "hs_object_id") return {"id", "id", true, false};
    if (name == "createdate") return {"created_ms", "created_ms", true, true};
    if (name == modified || name == "hs_lastmodifieddate" ||
        (std::string_view(t.name) == "contacts" && name == "lastmodifieddate")) {
      return {"updated_ms", "updated_ms", true, true};
    }
    const PropDef* def = Prop(t, name);
    if (!def) {
      throw BadRequest("There was a problem with the request: property '" + name +
                       "' does not exist on " + t.name);
    }
    const std::string v = "json_extract(props, '$." + name + "')";
    const bool numeric = def->type == "number" || def->type == "date" || def->type == "datetime";
    return {v, numeric ? "kam_num(" + v + ")" : "lower(" + v + ")", numeric,
            def->type == "date" || def->type == "datetime"};
  };
  auto convert = [&](const Operand& op, const json& raw, SqlBuilder& b) {
    const std::string v = ValueText(raw);
    if (!op.numeric) {
      b.Text(ToLower(v));
      return;
    }
    double d;
    int64_t ms;
    if (ParseDouble(v, &d)) {
      b.Num(d);
    } else if (op.is_date && ParseTimeMs(v, &ms)) {
      b.Num(static_cast<double>(ms));
    } else {
      throw BadRequest("There was a problem with the request: '" + v +
                       "' is not a valid value to compare with a number or date property");
    }
  };

  SqlBuilder where;
  where.sql = "type = ";
  where.Text(t.name);
  where.sql += " AND archived = 0";

  const json groups = body.value("filterGroups", json::array());
  if (!groups.is_array()) throw BadRequest("filterGroups must be an array");
  if (groups.size() > 5) {
    throw BadRequest("Too many filter groups: at most 5 filterGroups are allowed, got " +
                     std::to_string(groups.size()));
  }
  size_t total_filters = 0;
  std::string ors;
  for (const auto& g : groups) {
    const json filters = g.value("filters", json::array());
    if (filters.size() > 6) {
      throw BadRequest("Too many filters in a group: at most 6 filters per filterGroup");
    }
    total_filters += filters.size();
    std::string ands;
    for (const auto& f : filters) {
      const std::string name = f.value("propertyName", "");
      const std::string oper = f.value("operator", "EQ");
      SqlBuilder& b = where;  // binds follow the textual order of the conditions
      // Appends a condition to `ands`; values are pushed through b in order.
      auto emit = [&](const std::string& s) { ands += (ands.empty() ? "" : " AND ") + s; };
      if (name.rfind("associations.", 0) == 0) {
        const ObjectType* to = FindObjectType(name.substr(13));
        if (!to) throw BadRequest("Unknown association type in filter: " + name);
        std::vector<json> values;
        if (oper == "EQ") {
          values.push_back(f.value("value", json()));
        } else if (oper == "IN") {
          for (const auto& v : f.value("values", json::array())) values.push_back(v);
        } else {
          throw BadRequest("Operator " + oper + " is not supported on " + name);
        }
        std::string s = "EXISTS (SELECT 1 FROM assoc a WHERE a.from_id = objects.id AND "
                        "a.to_type = '" + std::string(to->name) + "' AND a.to_id IN (";
        std::string ph;
        for (size_t i = 0; i < values.size(); ++i) ph += i ? ",?" : "?";
        s += ph + "))";
        emit(s);
        for (const auto& v : values) {
          double d;
          if (!ParseDouble(ValueText(v), &d)) throw BadRequest("Invalid id in " + name);
          b.binds.push_back({true, d, {}});
        }
        continue;
      }
      const Operand op = operand(name);
      auto need_value = [&](const char* key) -> const json& {
        if (!f.contains(key) || f[key].is_null()) {
          throw BadRequest("Filter on '" + name + "' with operator " + oper + " needs '" + key +
                           "'");
        }
        return f[key];
      };
      SqlBuilder local;
      if (oper == "EQ" || oper == "NEQ" || oper == "LT" || oper == "LTE" || oper == "GT" ||
          oper == "GTE") {
        static const std::map<std::string, std::string> kOps = {
            {"EQ", "="}, {"NEQ", "<>"}, {"LT", "<"}, {"LTE", "<="}, {"GT", ">"}, {"GTE", ">="}};
        const json& v = need_value("value");
        if (oper == "NEQ") {
          local.sql = "(" + op.compare + " IS NULL OR " + op.compare + " <> ";
          convert(op, v, local);
          local.sql += ")";
        } else {
          local.sql = op.compare + " " + kOps.at(oper) + " ";
          convert(op, v, local);
        }
      } else if (oper == "BETWEEN") {
        local.sql = op.compare + " BETWEEN ";
        convert(op, need_value("value"), local);
        local.sql += " AND ";
        convert(op, need_value("highValue"), local);
      } else if (oper == "IN" || oper == "NOT_IN") {
        const json& vs = need_value("values");
        if (!vs.is_array() || vs.empty()) {
          throw BadRequest("Filter on '" + name + "' with operator " + oper +
                           " needs a non-empty 'values' array");
        }
        local.sql = oper == "IN" ? op.compare + " IN ("
                                 : "(" + op.compare + " IS NULL OR " + op.compare + " NOT IN (";
        for (size_t i = 0; i < vs.size(); ++i) {
          if (i) local.sql += ",";
          convert(op, vs[i], local);
        }
        local.sql += oper == "IN" ? ")" : "))";
      } else if (oper == "HAS_PROPERTY") {
        local.sql = "(" + op.value + " IS NOT NULL AND " + op.value + " <> '')";
      } else if (oper == "NOT_HAS_PROPERTY") {
        local.sql = "(" + op.value + " IS NULL OR " + op.value + " = '')";
      } else if (oper == "CONTAINS_TOKEN" || oper == "NOT_CONTAINS_TOKEN") {
        const std::string v = ValueText(need_value("value"));
        local.sql = std::string(oper == "CONTAINS_TOKEN" ? "" : "NOT ") + "kam_token(coalesce(" +
                    op.value + ", ''), ";
        local.Text(v);
        local.sql += ")";
      } else {
        throw BadRequest("Unknown filter operator '" + oper +
                         "'. Valid operators: EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, "
                         "HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN");
      }
      emit(local.sql);
      for (auto& bd : local.binds) b.binds.push_back(std::move(bd));
    }
    if (!ands.empty()) ors += (ors.empty() ? "(" : " OR (") + ands + ")";
  }
  if (total_filters > 18) {
    throw BadRequest("Too many filters: at most 18 filters in total across filterGroups");
  }
  if (!ors.empty()) where.sql += " AND (" + ors + ")";

  const std::string query = body.contains("query") && body["query"].is_string()
                                ? body["query"].get<std::string>()
                                : "";
  if (!query.empty()) {
    std::string concat;
    std::string_view list = SearchableProps(t);
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string p(list.substr(0, comma));
      concat += (concat.empty() ? "" : " || ' ' || ") +
                ("coalesce(json_extract(props, '$." + p + "'), '')");
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    where.sql += " AND kam_query(" + concat + ", ";
    where.Text(query);
    where.sql += ")";
  }

  std::string order = "id ASC";
  const json sorts = body.value("sorts", json::array());
  if (!sorts.is_array()) throw BadRequest("sorts must be an array");
  if (sorts.size() > 1) throw BadRequest("Only one sort is allowed per search request");
  if (sorts.size() == 1) {
    std::string name;
    bool desc = false;
    if (sorts[0].is_string()) {
      name = sorts[0].get<std::string>();
      if (!name.empty() && name[0] == '-') {
        desc = true;
        name = name.substr(1);
      }
    } else if (sorts[0].is_object()) {
      name = sorts[0].value("propertyName", "");
      const std::string dir = sorts[0].value("direction", "ASCENDING");
      if (dir != "ASCENDING" && dir != "DESCENDING") {
        throw BadRequest("Sort direction must be ASCENDING or DESCENDING, got '" + dir + "'");
      }
      desc = dir == "DESCENDING";
    } else {
      throw BadRequest("Each sort must be a property name or {propertyName, direction}");
    }
    const Operand op = operand(name);
    // Ties are broken by a fixed scramble of the id, not by id: HubSpot does not order ties.
    order = op.compare + (desc ? " DESC" : " ASC") + ", (id * 2654435761) % 4294967296, id";
  }

  auto bind_all = [&](SQLite::Statement& q) {
    int i = 1;
    for (const auto& b : where.binds) {
      if (b.numeric) {
        q.bind(i++, b.num);
      } else {
        q.bind(i++, b.text);
      }
    }
    return i;
  };
  SearchResult result;
  {
    SQLite::Statement q(*db_, "SELECT count(*) FROM objects WHERE " + where.sql);
    bind_all(q);
    q.executeStep();
    result.total = q.getColumn(0).getInt64();
  }
  SQLite::Statement q(*db_, std::string(kRecordColumns) + "WHERE " + where.sql + " ORDER BY " +
                                order + " LIMIT ? OFFSET ?");
  int i = bind_all(q);
  q.bind(i++, limit);
  q.bind(i, offset);
  while (q.executeStep()) result.records.push_back(RowToRecord(q));
  return result;
}

}  // namespace kam::sandbox
