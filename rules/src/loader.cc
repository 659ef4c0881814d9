// Loading a rule file: parse with positions, validate every part (collecting all problems, each
// with file:line:col and JSON pointer), lay out the evaluation record and compile the JsonLogic.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "internal.h"
#include "json_source.h"

namespace kam::rules {

using internal::JsonSource;
using internal::PointerToken;
using nlohmann::json;

std::string Diagnostic::Location() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(col);
  if (!pointer.empty()) s += (s.empty() ? "" : " ") + pointer;
  return s;
}

std::string Diagnostic::ToString() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(col);
  s += ": ";
  if (!pointer.empty()) s += pointer + ": ";
  return s + message;
}

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kNumber:
      return "number";
    case FieldType::kString:
      return "string";
    case FieldType::kBool:
      return "bool";
    case FieldType::kDate:
      return "date";
    case FieldType::kDaysSince:
      return "days_since";
    case FieldType::kEnum:
      return "enum";
  }
  return "number";
}

namespace {

const std::vector<std::string> kTopKeys = {
    "$schema", "version",   "name",  "description",   "mapping",        "criteria",
    "score",   "tier",      "tiers", "portfolio",     "health",         "tasks",
    "goals",   "writeback", "tests", "context_shape", "tier_thresholds"};
const std::vector<std::string> kCrms = {"hubspot", "salesforce"};
const std::vector<std::string> kHubspotAggregates = {"deals.won_amount_last_12m",
                                                     "deals.won_amount_prev_12m",
                                                     "deals.open_amount",
                                                     "deals.open_count",
                                                     "contacts.count",
                                                     "contacts.active_count",
                                                     "contacts.exec_sponsor",
                                                     "meetings.days_since_last",
                                                     "meetings.count_last_90d"};
const std::vector<std::string> kFieldTypes = {"number", "string",     "bool",
                                              "date",   "days_since", "enum"};
const std::vector<std::string> kWritebackResults = {
    "score", "tier",   "score_tier",    "breakdown", "next_tier_hint", "rules_version", "scored_at",
    "rank",  "pareto", "capped_reason", "card"};

bool IsIdentifier(const std::string& s) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (s.empty() || !alpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

std::string JoinQuoted(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + Quote(s);
  return out;
}

class Loader {
 public:
  Loader(const JsonSource& src, const json& doc, std::vector<Diagnostic>* errors)
      : src_(src), doc_(doc), errors_(errors), impl_(std::make_unique<RuleSet::Impl>()) {}

  std::unique_ptr<RuleSet::Impl> Run() {
    impl_->file = src_.file();
    if (!doc_.is_object()) {
      Error("", "a rule file is a JSON object with \"name\", \"criteria\", \"tiers\", ...");
      return nullptr;
    }
    CheckKeys(doc_, "", kTopKeys, {});
    impl_->bench_shape = !doc_.contains("tiers") && doc_.contains("tier");
    if (!impl_->bench_shape) {
      for (const char* key : {"version", "name", "criteria", "tiers"}) {
        if (!doc_.contains(key)) Error("", std::string("missing required member \"") + key + "\"");
      }
    } else {
      for (const char* key : {"name", "criteria", "score"}) {
        if (!doc_.contains(key)) Error("", std::string("missing required member \"") + key + "\"");
      }
    }
    impl_->name = GetString(doc_, "", "name").value_or("");
    impl_->version = GetString(doc_, "", "version").value_or("");
    impl_->description = GetString(doc_, "", "description").value_or("");
    if (doc_.contains("$schema") && !doc_["$schema"].is_string()) {
      Error("/$schema", "expected a string");
    }

    LoadMapping();
    CollectCriterionIds();
    CollectHealthIds();
    if (impl_->mappings.empty()) DiscoverFields();
    BuildSchema();
    LoadCriteria();
    LoadScore();
    LoadTiers();
    LoadPortfolio();
    LoadHealth();
    LoadTasks();
    LoadGoals();
    LoadWriteback();
    CollectInputSlots();
    LoadTests();
    return std::move(impl_);
  }

 private:
  // ---- diagnostics and typed getters ----
  void Error(const std::string& pointer, std::string message, bool at_key = false) {
    errors_->push_back(src_.At(pointer, std::move(message), at_key));
  }

  void CheckKeys(const json& obj, const std::string& pointer, const std::vector<std::string>& known,
                 const std::vector<std::string>& required) {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string msg = "unknown key " + Quote(key);
      if (std::string guess = internal::DidYouMean(key, known); !guess.empty()) {
        msg += " (did you mean " + Quote(guess) + "?)";
      } else {
        msg += "; expected one of " + JoinQuoted(known);
      }
      Error(pointer + "/" + PointerToken(key), msg, true);
    }
    for (const auto& key : required) {
      if (!obj.contains(key)) Error(pointer, "missing required member " + Quote(key));
    }
  }

  bool ExpectObject(const json& v, const std::string& pointer, std::string_view what) {
    if (v.is_object()) return true;
    Error(pointer, std::string(what) + " must be an object, not " + v.type_name());
    return false;
  }

  bool ExpectArray(const json& v, const std::string& pointer, std::string_view what) {
    if (v.is_array()) return true;
    Error(pointer, std::string(what) + " must be an array, not " + v.type_name());
    return false;
  }

  std::optional<std::string> GetString(const json& obj, const std::string& pointer,
                                       const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_string()) {
      Error(pointer + "/" + key,
            std::string("\"") + key + "\" must be a string, not " + it->type_name());
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  std::optional<double> GetNumber(const json& obj, const std::string& pointer, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_number()) {
      Error(pointer + "/" + key,
            std::string("\"") + key + "\" must be a number, not " + it->type_name());
      return std::nullopt;
    }
    return it->get<double>();
  }

  std::optional<int64_t> GetCount(const json& obj, const std::string& pointer, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      Error(pointer + "/" + key,
            std::string("\"") + key + "\" must be a whole number >= 0, not " + it->dump());
      return std::nullopt;
    }
    return it->get<int64_t>();
  }

  std::optional<bool> GetBool(const json& obj, const std::string& pointer, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_boolean()) {
      Error(pointer + "/" + key, std::string("\"") + key + "\" must be true or false");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  std::optional<std::string> GetId(const json& obj, const std::string& pointer,
                                   std::set<std::string>* seen, std::string_view what) {
    auto id = GetString(obj, pointer, "id");
    if (!id) {
      if (!obj.contains("id")) Error(pointer, std::string(what) + " needs an \"id\"");
      return std::nullopt;
    }
    if (!IsIdentifier(*id)) {
      Error(pointer + "/id", std::string(what) + " id " + Quote(*id) +
                                 " must be letters, digits and _ (not starting with a digit)");
    }
    if (seen != nullptr && !seen->insert(*id).second) {
      Error(pointer + "/id", "duplicate " + std::string(what) + " id " + Quote(*id));
    }
    return id;
  }

  // ---- mapping and record layout ----
  void LoadMapping() {
    auto it = doc_.find("mapping");
    if (it == doc_.end() || !ExpectObject(*it, "/mapping", "\"mapping\"")) return;
    std::map<std::string, FieldType> types;
    for (const auto& [crm, fields] : it->items()) {
      std::string cp = "/mapping/" + PointerToken(crm);
      if (std::find(kCrms.begin(), kCrms.end(), crm) == kCrms.end()) {
        std::string guess = internal::DidYouMean(crm, kCrms);
        Error(cp,
              "unknown CRM " + Quote(crm) +
                  (guess.empty() ? "; supported: " + JoinQuoted(kCrms)
                                 : " (did you mean " + Quote(guess) + "?)"),
              true);
        continue;
      }
      if (!ExpectObject(fields, cp, "a CRM mapping")) continue;
      auto& list = impl_->mappings[crm];
      for (const auto& [field, spec] : fields.items()) {
        std::string fp = cp + "/" + PointerToken(field);
        if (!IsIdentifier(field)) {
          Error(fp,
                "account field name " + Quote(field) +
                    " must be letters, digits and _ (not starting with a digit)",
                true);
        }
        if (field == "id" || field == "owner_id") {
          Error(fp,
                "account field " + Quote(field) +
                    " is reserved: the connector fills it from the record's id and owner",
                true);
          continue;
        }
        if (!ExpectObject(spec, fp, "a field mapping")) continue;
        CheckKeys(spec, fp, {"property", "aggregate", "type", "unit", "values", "description"}, {});
        FieldMapping m;
        m.field = field;
        m.property = GetString(spec, fp, "property").value_or("");
        m.aggregate = GetString(spec, fp, "aggregate").value_or("");
        m.unit = GetString(spec, fp, "unit").value_or("");
        m.description = GetString(spec, fp, "description").value_or("");
        if (m.property.empty() == m.aggregate.empty()) {
          Error(fp, "a field mapping needs exactly one of \"property\" or \"aggregate\"");
        }
        if (!m.aggregate.empty() && crm == "hubspot" &&
            std::find(kHubspotAggregates.begin(), kHubspotAggregates.end(), m.aggregate) ==
                kHubspotAggregates.end()) {
          std::string guess = internal::DidYouMean(m.aggregate, kHubspotAggregates);
          Error(fp + "/aggregate",
                "unknown HubSpot aggregate " + Quote(m.aggregate) +
                    (guess.empty() ? "; available: " + JoinQuoted(kHubspotAggregates)
                                   : " (did you mean " + Quote(guess) + "?)"));
        }
        std::string type = GetString(spec, fp, "type").value_or("number");
        auto ti = std::find(kFieldTypes.begin(), kFieldTypes.end(), type);
        if (ti == kFieldTypes.end()) {
          std::string guess = internal::DidYouMean(type, kFieldTypes);
          Error(fp + "/type", "unknown type " + Quote(type) +
                                  (guess.empty() ? "; expected one of " + JoinQuoted(kFieldTypes)
                                                 : " (did you mean " + Quote(guess) + "?)"));
        } else {
          m.type = static_cast<FieldType>(ti - kFieldTypes.begin());
        }
        if (auto vi = spec.find("values"); vi != spec.end()) {
          if (!vi->is_array() || vi->empty() ||
              !std::all_of(vi->begin(), vi->end(), [](const json& v) { return v.is_string(); })) {
            Error(fp + "/values", "\"values\" must be a non-empty array of strings");
          } else {
            for (const auto& v : *vi) m.values.push_back(v.get<std::string>());
          }
          if (m.type != FieldType::kEnum) Error(fp + "/values", "\"values\" needs type \"enum\"");
        } else if (m.type == FieldType::kEnum) {
          Error(fp, "type \"enum\" needs \"values\" (the allowed values)");
        }
        auto [pos, fresh] = types.emplace(field, m.type);
        if (fresh) {
          impl_->field_index.emplace(field, static_cast<int>(impl_->account_fields.size()));
          impl_->account_fields.push_back(field);
        } else if (pos->second != m.type) {
          Error(fp + "/type", "field " + Quote(field) + " has type " +
                                  std::string(FieldTypeName(pos->second)) +
                                  " in another CRM's mapping; one field, one type");
        }
        list.push_back(std::move(m));
      }
    }
  }

  void CollectCriterionIds() {
    auto it = doc_.find("criteria");
    if (it == doc_.end() || !it->is_array()) return;
    for (const auto& c : *it) {
      if (c.is_object() && c.contains("id") && c["id"].is_string()) {
        criterion_ids_.push_back(c["id"].get<std::string>());
      }
    }
  }

  void CollectHealthIds() {
    auto it = doc_.find("health");
    if (it == doc_.end() || !it->is_array()) return;
    for (const auto& h : *it) {
      if (h.is_object() && h.contains("id") && h["id"].is_string()) {
        health_ids_.push_back(h["id"].get<std::string>());
      }
    }
  }

  // Every JsonLogic expression of the file with its pointer.
  std::vector<std::pair<const json*, std::string>> Expressions() {
    std::vector<std::pair<const json*, std::string>> out;
    auto each = [&](const char* list, std::initializer_list<const char*> keys) {
      auto it = doc_.find(list);
      if (it == doc_.end()) return;
      std::string base = "/" + std::string(list);
      const json* items = &*it;
      if (it->is_object() && it->contains("rules")) {  // "tasks": {"rules": [...], ...}
        items = &(*it)["rules"];
        base += "/rules";
      }
      if (!items->is_array()) return;
      for (size_t i = 0; i < items->size(); ++i) {
        const json& item = (*items)[i];
        if (!item.is_object()) continue;
        for (const char* key : keys) {
          if (item.contains(key)) {
            out.emplace_back(&item[key], base + "/" + std::to_string(i) + "/" + key);
          }
        }
      }
    };
    each("criteria", {"score"});
    if (doc_.contains("score")) out.emplace_back(&doc_["score"], "/score");
    if (doc_.contains("tier")) out.emplace_back(&doc_["tier"], "/tier");
    each("health", {"red", "amber"});
    each("tasks", {"when"});
    each("goals", {"value"});
    return out;
  }

  // Without a mapping, the account fields are the account.* paths the rules read.
  void DiscoverFields() {
    std::set<std::string> seen;
    for (const auto& [expr, pointer] : Expressions()) {
      auto compiled = jl::Compile(*expr);
      if (!compiled) continue;  // reported when compiled with the schema
      for (const auto& path : compiled->unknown_paths()) {
        if (path.rfind("account.", 0) != 0) continue;
        std::string field = path.substr(8);
        if (field == "id" || field == "owner_id" || !IsIdentifier(field)) continue;
        if (seen.insert(field).second) {
          impl_->field_index.emplace(field, static_cast<int>(impl_->account_fields.size()));
          impl_->account_fields.push_back(field);
        }
      }
    }
  }

  void BuildSchema() {
    auto& s = impl_->schema;
    for (const auto& f : impl_->account_fields) s.Add("account." + f);
    impl_->slot_id = s.Add("account.id");
    impl_->slot_owner = s.Add("account.owner_id");
    for (const auto& id : criterion_ids_) s.Add("kam.scores." + id);
    impl_->slot_score = s.Add("kam.score");
    impl_->slot_tier = s.Add("kam.tier");
    for (const auto& id : health_ids_) s.Add("kam.health." + id);
    for (int i = 0; i < static_cast<int>(s.size()); ++i) known_paths_.push_back(s.path(i));
  }

  // Finds the pointer of the first string equal to `path` inside expr (for precise positions).
  static std::string FindString(const json& expr, const std::string& pointer,
                                const std::string& path, int depth = 0) {
    if (depth > 200) return "";
    if (expr.is_string() && expr.get_ref<const std::string&>() == path) return pointer;
    if (expr.is_array()) {
      for (size_t i = 0; i < expr.size(); ++i) {
        std::string p = FindString(expr[i], pointer + "/" + std::to_string(i), path, depth + 1);
        if (!p.empty()) return p;
      }
    } else if (expr.is_object()) {
      for (const auto& [k, v] : expr.items()) {
        std::string p = FindString(v, pointer + "/" + PointerToken(k), path, depth + 1);
        if (!p.empty()) return p;
      }
    }
    return "";
  }

  std::optional<jl::Rule> CompileExpr(const json& expr, const std::string& pointer) {
    jl::CompileOptions options;
    options.schema = &impl_->schema;
    auto compiled = jl::Compile(expr, options);
    if (!compiled) {
      Error(pointer,
            "invalid JsonLogic: " + compiled.error().type + ": " + compiled.error().message);
      return std::nullopt;
    }
    for (const auto& path : compiled->unknown_paths()) {
      std::string where = FindString(expr, pointer, path);
      if (where.empty()) where = pointer;
      std::string msg;
      if (path.rfind("account.", 0) == 0) {
        msg = "variable " + Quote(path) + ": no mapping provides account field " +
              Quote(path.substr(8));
      } else if (path.rfind("kam.scores.", 0) == 0) {
        msg = "variable " + Quote(path) + ": there is no criterion " + Quote(path.substr(11));
      } else if (path.rfind("kam.health.", 0) == 0) {
        msg =
            "variable " + Quote(path) + ": there is no health indicator " + Quote(path.substr(11));
      } else {
        msg = "variable " + Quote(path) +
              " is not known; rules read account.<field>, kam.scores.<criterion>, kam.score, "
              "kam.tier and kam.health.<id>";
      }
      if (std::string guess = internal::DidYouMean(path, known_paths_); !guess.empty()) {
        msg += " (did you mean " + Quote(guess) + "?)";
      }
      Error(where, msg);
    }
    if (compiled->unknown_paths().empty()) return std::move(*compiled);
    return std::nullopt;
  }

  // ---- criteria, score, tiers ----
  void LoadCriteria() {
    auto it = doc_.find("criteria");
    if (it == doc_.end() || !ExpectArray(*it, "/criteria", "\"criteria\"")) return;
    if (it->empty()) Error("/criteria", "\"criteria\" needs at least one criterion");
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& c = (*it)[i];
      std::string p = "/criteria/" + std::to_string(i);
      if (!ExpectObject(c, p, "a criterion")) continue;
      CheckKeys(c, p, {"id", "label", "weight", "description", "score"}, {"id", "weight", "score"});
      internal::CriterionDef def;
      def.pointer = p;
      def.id = GetId(c, p, &seen, "criterion").value_or("");
      def.description = GetString(c, p, "description").value_or("");
      def.label = GetString(c, p, "label").value_or("");
      if (auto w = GetNumber(c, p, "weight")) {
        if (!(*w > 0) || !std::isfinite(*w)) {
          Error(p + "/weight", "weight must be a positive number, not " + c["weight"].dump());
        }
        def.weight = *w;
      }
      def.slot = impl_->schema.Find("kam.scores." + def.id);
      if (c.contains("score")) {
        if (auto rule = CompileExpr(c["score"], p + "/score")) def.rule = std::move(*rule);
      }
      impl_->criteria.push_back(std::move(def));
    }
  }

  void LoadScore() {
    if (!doc_.contains("score")) return;
    if (auto rule = CompileExpr(doc_["score"], "/score")) impl_->score_rule = std::move(*rule);
  }

  // String results of `if` branches in the bench-shaped tier expression.
  static void CollectIfResults(const json& expr, std::vector<std::string>* out, int depth = 0) {
    if (depth > 200) return;
    if (expr.is_object() && expr.size() == 1 && expr.contains("if") && expr["if"].is_array()) {
      const json& args = expr["if"];
      for (size_t i = 1; i < args.size(); i += 2) {
        if (args[i].is_string()) out->push_back(args[i].get<std::string>());
      }
      if (args.size() % 2 == 1 && args.back().is_string()) {
        out->push_back(args.back().get<std::string>());
      }
    }
    if (expr.is_object() || expr.is_array()) {
      for (const auto& v : expr) CollectIfResults(v, out, depth + 1);
    }
  }

  void LoadTiers() {
    if (doc_.contains("tier")) {
      if (auto rule = CompileExpr(doc_["tier"], "/tier")) impl_->tier_rule = std::move(*rule);
    }
    if (impl_->bench_shape) {
      LoadBenchTiers();
      return;
    }
    auto it = doc_.find("tiers");
    if (it == doc_.end() || !ExpectArray(*it, "/tiers", "\"tiers\"")) return;
    if (it->empty() || it->size() > internal::kMaxTiers) {
      Error("/tiers", "\"tiers\" needs 1 to " + std::to_string(internal::kMaxTiers) + " tiers");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size() && i < internal::kMaxTiers; ++i) {
      const json& t = (*it)[i];
      std::string p = "/tiers/" + std::to_string(i);
      if (!ExpectObject(t, p, "a tier")) continue;
      CheckKeys(t, p, {"id", "label", "min_score", "capacity", "description"}, {"id", "min_score"});
      TierSpec tier;
      tier.id = GetId(t, p, &seen, "tier").value_or("");
      tier.label = GetString(t, p, "label").value_or(tier.id);
      GetString(t, p, "description");
      tier.min_score = GetNumber(t, p, "min_score").value_or(0);
      if (!impl_->tiers.empty() && !(tier.min_score < impl_->tiers.back().min_score)) {
        Error(p + "/min_score", "tiers must be ordered from the highest min_score down: " +
                                    FormatNum(tier.min_score) + " is not below " +
                                    FormatNum(impl_->tiers.back().min_score) + " of tier " +
                                    Quote(impl_->tiers.back().id));
      }
      if (auto ci = t.find("capacity"); ci != t.end()) {
        std::string cp = p + "/capacity";
        if (ExpectObject(*ci, cp, "\"capacity\"")) {
          CheckKeys(*ci, cp, {"per_owner", "total"}, {});
          tier.capacity_per_owner = GetCount(*ci, cp, "per_owner");
          tier.capacity_total = GetCount(*ci, cp, "total");
        }
        if (i + 1 == it->size()) {
          Error(cp,
                "the lowest tier takes every account that did not fit above it; it cannot "
                "have a capacity");
        }
      }
      impl_->tiers.push_back(std::move(tier));
    }
  }

  static std::string FormatNum(double v) { return internal::FormatNumber(v); }

  void LoadBenchTiers() {
    auto it = doc_.find("tier_thresholds");
    std::vector<std::pair<double, std::string>> thresholds;
    if (it != doc_.end() && ExpectObject(*it, "/tier_thresholds", "\"tier_thresholds\"")) {
      for (const auto& [id, v] : it->items()) {
        if (!v.is_number()) {
          Error("/tier_thresholds/" + PointerToken(id), "a tier threshold must be a number");
          continue;
        }
        thresholds.emplace_back(v.get<double>(), id);
      }
    }
    std::sort(thresholds.begin(), thresholds.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [min, id] : thresholds) impl_->tiers.push_back({id, id, min, {}, {}});
    std::vector<std::string> results;
    CollectIfResults(doc_["tier"], &results);
    for (const auto& r : results) {
      if (impl_->TierIndex(r) < 0) {
        impl_->tiers.push_back({r, r, -std::numeric_limits<double>::infinity(), {}, {}});
      }
    }
    if (impl_->tiers.empty() || impl_->tiers.size() > internal::kMaxTiers) {
      Error("/tier", "the tier expression must give 1 to " + std::to_string(internal::kMaxTiers) +
                         " tier ids as string results of \"if\"");
    }
  }

  void LoadPortfolio() {
    auto it = doc_.find("portfolio");
    bool explicit_field = false;
    if (it != doc_.end() && ExpectObject(*it, "/portfolio", "\"portfolio\"")) {
      CheckKeys(*it, "/portfolio", {"revenue_field", "pareto_share"}, {});
      if (auto f = GetString(*it, "/portfolio", "revenue_field")) {
        impl_->revenue_field = *f;
        explicit_field = true;
      }
      if (auto s = GetNumber(*it, "/portfolio", "pareto_share")) {
        if (!(*s > 0 && *s <= 1)) {
          Error("/portfolio/pareto_share",
                "pareto_share is a share of revenue, above 0 and at "
                "most 1 (e.g. 0.8)");
        } else {
          impl_->pareto_share = *s;
        }
      }
    }
    impl_->revenue_index = impl_->FieldIndexOf(impl_->revenue_field);
    if (explicit_field && impl_->revenue_index < 0) {
      std::string guess = internal::DidYouMean(impl_->revenue_field, impl_->account_fields);
      Error("/portfolio/revenue_field",
            "no mapping provides account field " + Quote(impl_->revenue_field) +
                (guess.empty() ? "" : " (did you mean " + Quote(guess) + "?)"));
    }
  }

  // ---- health, tasks, templates ----
  void LoadHealth() {
    auto it = doc_.find("health");
    if (it == doc_.end() || !ExpectArray(*it, "/health", "\"health\"")) return;
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& h = (*it)[i];
      std::string p = "/health/" + std::to_string(i);
      if (!ExpectObject(h, p, "a health indicator")) continue;
      CheckKeys(h, p, {"id", "label", "description", "red", "amber"}, {"id"});
      internal::HealthDef def;
      def.id = GetId(h, p, &seen, "health indicator").value_or("");
      def.label = GetString(h, p, "label").value_or(def.id);
      def.description = GetString(h, p, "description").value_or("");
      if (!h.contains("red") && !h.contains("amber")) {
        Error(p, "a health indicator needs a \"red\" and/or an \"amber\" rule");
      }
      if (h.contains("red")) def.red = CompileExpr(h["red"], p + "/red");
      if (h.contains("amber")) def.amber = CompileExpr(h["amber"], p + "/amber");
      def.slot = impl_->schema.Find("kam.health." + def.id);
      impl_->health.push_back(std::move(def));
    }
  }

  internal::Template ParseTemplate(const std::string& text, const std::string& pointer) {
    internal::Template t;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t open = text.find("{{", pos);
      if (open == std::string::npos) {
        t.parts.push_back({text.substr(pos), -1});
        break;
      }
      if (open > pos) t.parts.push_back({text.substr(pos, open - pos), -1});
      size_t close = text.find("}}", open + 2);
      if (close == std::string::npos) {
        Error(pointer, "unclosed placeholder \"{{\" (placeholders look like {{account.name}})");
        break;
      }
      std::string path = text.substr(open + 2, close - open - 2);
      path.erase(0, path.find_first_not_of(' '));
      path.erase(path.find_last_not_of(' ') + 1);
      int slot = impl_->schema.Find(path);
      if (slot < 0) {
        std::string msg = "placeholder {{" + path + "}} names no known field";
        if (std::string guess = internal::DidYouMean(path, known_paths_); !guess.empty()) {
          msg += " (did you mean {{" + guess + "}}?)";
        }
        Error(pointer, msg);
      }
      t.parts.push_back({"", slot});
      pos = close + 2;
    }
    return t;
  }

  // "tasks" is the list of task rules, or {"max_open_per_owner": N, "rules": [...]}.
  void LoadTasks() {
    auto it = doc_.find("tasks");
    if (it == doc_.end()) return;
    std::string base = "/tasks";
    if (it->is_object()) {
      CheckKeys(*it, base, {"max_open_per_owner", "rules"}, {"rules"});
      if (auto m = GetCount(*it, base, "max_open_per_owner")) {
        impl_->max_open_tasks_per_owner = *m;
      }
      if (!it->contains("rules")) return;
      it = it->find("rules");
      base = "/tasks/rules";
    } else if (!it->is_array()) {
      Error(base, std::string("\"tasks\" must be an array of task rules or an object "
                              "{\"max_open_per_owner\": N, \"rules\": [...]}, not ") +
                      it->type_name());
      return;
    }
    if (!ExpectArray(*it, base, "the task rules")) return;
    if (it->size() > internal::kMaxTasks) {
      Error(base, "at most " + std::to_string(internal::kMaxTasks) + " task rules");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size() && i < internal::kMaxTasks; ++i) {
      const json& t = (*it)[i];
      std::string p = base + "/" + std::to_string(i);
      if (!ExpectObject(t, p, "a task rule")) continue;
      CheckKeys(t, p,
                {"id", "title", "body", "priority", "due_in_days", "when", "cooldown_days",
                 "auto_close", "description"},
                {"id", "title", "when"});
      internal::TaskDef def;
      def.pointer = p;
      def.id = GetId(t, p, &seen, "task").value_or("");
      def.title = GetString(t, p, "title").value_or("");
      def.body = GetString(t, p, "body").value_or("");
      GetString(t, p, "description");
      def.title_template = ParseTemplate(def.title, p + "/title");
      def.body_template = ParseTemplate(def.body, p + "/body");
      if (auto pr = GetString(t, p, "priority")) {
        static const std::vector<std::string> kPriorities = {"low", "medium", "high"};
        if (std::find(kPriorities.begin(), kPriorities.end(), *pr) == kPriorities.end()) {
          std::string guess = internal::DidYouMean(*pr, kPriorities);
          Error(p + "/priority",
                "priority must be \"low\", \"medium\" or \"high\"" +
                    (guess.empty() ? "" : " (did you mean " + Quote(guess) + "?)"));
        } else {
          def.priority = *pr;
        }
      }
      if (auto d = GetCount(t, p, "due_in_days")) def.due_in_days = static_cast<int>(*d);
      if (auto d = GetCount(t, p, "cooldown_days")) def.cooldown_days = static_cast<int>(*d);
      if (auto a = GetBool(t, p, "auto_close")) def.auto_close = *a;
      if (t.contains("when")) {
        if (auto rule = CompileExpr(t["when"], p + "/when")) def.when = std::move(*rule);
      }
      impl_->tasks.push_back(std::move(def));
    }
  }

  // ---- goals ----
  // "goals": [{"id", "label", "field" | "value", "at_least" | "at_most" | "equals": {tier: target},
  //            "unit", "if_absent", "description"}]
  void LoadGoals() {
    auto it = doc_.find("goals");
    if (it == doc_.end() || !ExpectArray(*it, "/goals", "\"goals\"")) return;
    if (it->size() > internal::kMaxGoals) {
      Error("/goals", "at most " + std::to_string(internal::kMaxGoals) + " goals");
    }
    std::vector<std::string> tier_ids;
    for (const auto& t : impl_->tiers) tier_ids.push_back(t.id);
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size() && i < internal::kMaxGoals; ++i) {
      const json& g = (*it)[i];
      std::string p = "/goals/" + std::to_string(i);
      if (!ExpectObject(g, p, "a goal")) continue;
      CheckKeys(g, p,
                {"id", "label", "description", "field", "value", "unit", "at_least", "at_most",
                 "equals", "if_absent"},
                {"id"});
      internal::GoalDef def;
      def.pointer = p;
      def.id = GetId(g, p, &seen, "goal").value_or("");
      def.label = GetString(g, p, "label").value_or(def.id);
      def.description = GetString(g, p, "description").value_or("");
      std::optional<FieldType> field_type;
      if (g.contains("field") == g.contains("value")) {
        Error(p,
              "a goal needs exactly one of \"field\" (an account field) or \"value\" "
              "(a JsonLogic expression)");
      } else if (auto f = GetString(g, p, "field")) {
        def.field_slot = impl_->FieldIndexOf(*f);
        if (def.field_slot < 0) {
          std::string guess = internal::DidYouMean(*f, impl_->account_fields);
          Error(p + "/field", "no mapping provides account field " + Quote(*f) +
                                  (guess.empty() ? "" : " (did you mean " + Quote(guess) + "?)"));
        } else {
          for (const auto& [crm, list] : impl_->mappings) {
            for (const auto& m : list) {
              if (m.field != *f) continue;
              field_type = m.type;
              if (def.unit.empty()) def.unit = m.unit;
            }
          }
        }
      } else if (g.contains("value")) {
        def.value = CompileExpr(g["value"], p + "/value");
      }
      if (auto u = GetString(g, p, "unit")) def.unit = *u;
      if (auto a = GetString(g, p, "if_absent")) {
        if (*a == "not_met") {
          def.absent_not_met = true;
        } else if (*a != "unknown") {
          Error(p + "/if_absent", "\"if_absent\" is \"unknown\" (default) or \"not_met\"");
        }
      }
      int ops = 0;
      for (size_t k = 0; k < 3; ++k) {
        std::string op(internal::kGoalOpNames[k]);
        if (!g.contains(op)) continue;
        ++ops;
        def.op = static_cast<internal::GoalOp>(k);
        LoadGoalTargets(g[op], p + "/" + op, def.op, field_type, tier_ids, &def);
      }
      if (ops != 1) {
        Error(p,
              "a goal needs exactly one of \"at_least\", \"at_most\" or \"equals\", each "
              "an object of targets per tier id (e.g. {\"key\": 3})");
      }
      def.targets.resize(impl_->tiers.size());
      impl_->goals.push_back(std::move(def));
    }
  }

  void LoadGoalTargets(const json& targets, const std::string& p, internal::GoalOp op,
                       std::optional<FieldType> field_type, const std::vector<std::string>& tiers,
                       internal::GoalDef* def) {
    if (!ExpectObject(targets, p, "a goal's targets")) return;
    if (targets.empty()) Error(p, "no tier named: give a target per tier id, e.g. {\"key\": 3}");
    CheckKeys(targets, p, tiers, {});
    const bool numeric = op != internal::GoalOp::kEquals;
    if (numeric && field_type && *field_type != FieldType::kNumber &&
        *field_type != FieldType::kDaysSince && *field_type != FieldType::kString) {
      Error(p,
            "field has type " + std::string(FieldTypeName(*field_type)) +
                "; \"at_least\"/\"at_most\" compare numbers (use \"equals\")",
            true);
    }
    def->targets.resize(impl_->tiers.size());
    for (const auto& [tier, v] : targets.items()) {
      int index = impl_->TierIndex(tier);
      if (index < 0) continue;  // reported by CheckKeys
      std::string tp = p + "/" + PointerToken(tier);
      internal::GoalTarget t;
      t.text = v.dump();
      if (v.is_number()) {
        t.kind = jl::Kind::kNumber;
        t.number = v.get<double>();
      } else if (!numeric && v.is_boolean()) {
        t.kind = jl::Kind::kBool;
        t.boolean = v.get<bool>();
      } else if (!numeric && v.is_string()) {
        t.kind = jl::Kind::kString;
        t.string = v.get<std::string>();
      } else {
        Error(tp, numeric ? "a target of \"at_least\"/\"at_most\" is a number, not " + v.dump()
                          : "a target of \"equals\" is a number, true/false or a text, not " +
                                v.dump());
        continue;
      }
      if (field_type && !numeric) {
        bool fits = (t.kind == jl::Kind::kBool && *field_type == FieldType::kBool) ||
                    (t.kind == jl::Kind::kNumber &&
                     (*field_type == FieldType::kNumber || *field_type == FieldType::kDaysSince)) ||
                    (t.kind == jl::Kind::kString &&
                     (*field_type == FieldType::kString || *field_type == FieldType::kEnum ||
                      *field_type == FieldType::kDate));
        if (!fits) {
          Error(tp, "target " + v.dump() + " does not fit the field's type " +
                        std::string(FieldTypeName(*field_type)));
        }
      }
      t.set = true;
      def->targets[static_cast<size_t>(index)] = std::move(t);
    }
  }

  void LoadWriteback() {
    auto it = doc_.find("writeback");
    if (it == doc_.end() || !ExpectObject(*it, "/writeback", "\"writeback\"")) return;
    std::vector<std::string> results = kWritebackResults;
    for (const auto& id : health_ids_) results.push_back("health." + id);
    for (const auto& [crm, spec] : it->items()) {
      std::string cp = "/writeback/" + PointerToken(crm);
      if (std::find(kCrms.begin(), kCrms.end(), crm) == kCrms.end()) {
        std::string guess = internal::DidYouMean(crm, kCrms);
        Error(cp,
              "unknown CRM " + Quote(crm) +
                  (guess.empty() ? "" : " (did you mean " + Quote(guess) + "?)"),
              true);
        continue;
      }
      if (!ExpectObject(spec, cp, "a writeback spec")) continue;
      CheckKeys(spec, cp, results, {});
      for (const auto& [key, v] : spec.items()) {
        if (!v.is_string() && !v.is_null()) {
          Error(cp + "/" + PointerToken(key),
                "a writeback target is a CRM property name, or null to not write it");
        } else if (v.is_string() && v.get<std::string>().empty()) {
          Error(cp + "/" + PointerToken(key), "empty CRM property name");
        }
      }
      impl_->writeback[crm] = spec;
    }
  }

  void CollectInputSlots() {
    std::set<int> slots;
    auto add = [&](const jl::Rule& r) {
      for (int s : r.slots_read()) {
        if (s < static_cast<int>(impl_->account_fields.size())) slots.insert(s);
      }
    };
    for (const auto& c : impl_->criteria) add(c.rule);
    for (const auto& t : impl_->tasks) add(t.when);
    for (const auto& h : impl_->health) {
      if (h.red) add(*h.red);
      if (h.amber) add(*h.amber);
    }
    if (impl_->score_rule) add(*impl_->score_rule);
    if (impl_->tier_rule) add(*impl_->tier_rule);
    for (const auto& g : impl_->goals) {
      if (g.value) add(*g.value);
      if (g.field_slot >= 0) slots.insert(g.field_slot);
    }
    impl_->input_slots.assign(slots.begin(), slots.end());
  }

  // ---- embedded tests ----
  void LoadTests() {
    auto it = doc_.find("tests");
    if (it == doc_.end() || !ExpectArray(*it, "/tests", "\"tests\"")) return;
    std::vector<std::string> task_ids;
    for (const auto& t : impl_->tasks) task_ids.push_back(t.id);
    std::set<std::string> names;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      std::string p = "/tests/" + std::to_string(i);
      if (!ExpectObject(t, p, "a test")) continue;
      CheckKeys(t, p, {"name", "description", "account", "expect"}, {"name", "account", "expect"});
      internal::TestDef def;
      def.pointer = p;
      def.name = GetString(t, p, "name").value_or("test " + std::to_string(i));
      if (!names.insert(def.name).second) Error(p + "/name", "duplicate test name");
      GetString(t, p, "description");
      if (auto ai = t.find("account");
          ai != t.end() && ExpectObject(*ai, p + "/account", "a test's \"account\"")) {
        Account account;
        Status st = impl_->AccountFromJson(*ai, &account);
        if (!st.ok()) Error(p + "/account" + st.location(), st.message(), true);
        def.account = *ai;
      }
      if (auto ei = t.find("expect");
          ei != t.end() && ExpectObject(*ei, p + "/expect", "a test's \"expect\"")) {
        std::string ep = p + "/expect";
        CheckKeys(*ei, ep, {"scores", "score", "tier", "tasks", "health", "goals"}, {});
        if (auto gi = ei->find("goals");
            gi != ei->end() && ExpectObject(*gi, ep + "/goals", "\"goals\"")) {
          std::vector<std::string> goal_ids;
          for (const auto& g : impl_->goals) goal_ids.push_back(g.id);
          CheckKeys(*gi, ep + "/goals", goal_ids, {});
          for (const auto& [k, v] : gi->items()) {
            if (!v.is_string() || (v != "met" && v != "not_met" && v != "unknown")) {
              Error(ep + "/goals/" + PointerToken(k),
                    "expected \"met\", \"not_met\" or "
                    "\"unknown\"");
            }
          }
        }
        if (auto si = ei->find("scores");
            si != ei->end() && ExpectObject(*si, ep + "/scores", "\"scores\"")) {
          CheckKeys(*si, ep + "/scores", criterion_ids_, {});
          for (const auto& [k, v] : si->items()) {
            if (!v.is_number()) Error(ep + "/scores/" + PointerToken(k), "expected a number");
          }
        }
        if (ei->contains("score") && !(*ei)["score"].is_number()) {
          Error(ep + "/score", "expected a number");
        }
        if (auto ti = ei->find("tier"); ti != ei->end()) {
          if (!ti->is_string() || impl_->TierIndex(ti->get<std::string>()) < 0) {
            Error(ep + "/tier", "expected one of the tier ids");
          }
        }
        if (auto ti = ei->find("tasks");
            ti != ei->end() && ExpectArray(*ti, ep + "/tasks", "\"tasks\"")) {
          for (size_t k = 0; k < ti->size(); ++k) {
            const json& id = (*ti)[k];
            if (!id.is_string() || std::find(task_ids.begin(), task_ids.end(),
                                             id.get<std::string>()) == task_ids.end()) {
              std::string guess =
                  id.is_string() ? internal::DidYouMean(id.get<std::string>(), task_ids) : "";
              Error(ep + "/tasks/" + std::to_string(k),
                    "no task rule " + id.dump() +
                        (guess.empty() ? "" : " (did you mean " + Quote(guess) + "?)"));
            }
          }
        }
        if (auto hi = ei->find("health");
            hi != ei->end() && ExpectObject(*hi, ep + "/health", "\"health\"")) {
          CheckKeys(*hi, ep + "/health", health_ids_, {});
          for (const auto& [k, v] : hi->items()) {
            if (!v.is_string() || (v != "green" && v != "amber" && v != "red")) {
              Error(ep + "/health/" + PointerToken(k), "expected \"green\", \"amber\" or \"red\"");
            }
          }
        }
        def.expect = *ei;
      }
      impl_->tests.push_back(std::move(def));
    }
  }

  const JsonSource& src_;
  const json& doc_;
  std::vector<Diagnostic>* errors_;
  std::unique_ptr<RuleSet::Impl> impl_;
  std::vector<std::string> criterion_ids_;
  std::vector<std::string> health_ids_;
  std::vector<std::string> known_paths_;
};

}  // namespace

LoadResult RuleSet::LoadFile(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return {nullptr,
            {{path, 0, 0, "",
              "cannot open the rule file (does it exist and is it "
              "readable?)"}}};
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > options.max_file_bytes) break;
  }
  return LoadText(text, path, options);
}

LoadResult RuleSet::LoadText(std::string_view text, const std::string& file_name,
                             const LoadOptions& options) {
  LoadResult result;
  if (text.size() > options.max_file_bytes) {
    result.errors.push_back({file_name, 1, 1, "",
                             "the rule file is larger than " +
                                 std::to_string(options.max_file_bytes) + " bytes; refused"});
    return result;
  }
  JsonSource src;
  json doc;
  if (!src.Parse(text, file_name, options.max_depth, &doc, &result.errors)) return result;
  Loader loader(src, doc, &result.errors);
  std::unique_ptr<Impl> impl = loader.Run();
  // In file order, so that a person can work through them top to bottom.
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.line, a.col) < std::tie(b.line, b.col);
                   });
  if (!result.errors.empty() || impl == nullptr) return result;
  impl->hash = internal::Hex64(internal::Fnv64(text));
  impl->PrepareBatches();
  result.rules = RuleSetAccess::Make(std::move(impl));
  return result;
}

}  // namespace kam::rules
