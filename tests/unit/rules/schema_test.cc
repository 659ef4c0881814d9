// The JSON Schema for rule files (packaging/schema/kam-rules.schema.json) accepts the example
// rule files and the bench rule file, and rejects invalid ones. A small validator for exactly
// the subset of JSON Schema the file uses lives here (no new dependency); a keyword outside the
// subset fails the test, so the subset stays honest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace {

using nlohmann::json;

// The two pattern shapes the schema uses: "^[A-Za-z_][A-Za-z0-9_]*$" and the same after a
// literal prefix ("^health\\.[A-Za-z_]..."). Anything else fails the test.
bool MatchesPattern(const std::string& pattern, const std::string& s) {
  const std::string ident = "[A-Za-z_][A-Za-z0-9_]*$";
  if (pattern.size() < ident.size() + 1 || pattern[0] != '^' ||
      pattern.compare(pattern.size() - ident.size(), ident.size(), ident) != 0) {
    ADD_FAILURE() << "pattern outside the tested subset: " << pattern;
    return false;
  }
  std::string prefix;
  std::string raw = pattern.substr(1, pattern.size() - 1 - ident.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
    prefix += raw[i];
  }
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  std::string rest = s.substr(prefix.size());
  auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  if (rest.empty() || !alpha(rest[0])) return false;
  return std::all_of(rest.begin(), rest.end(), [&](char c) {
    return alpha(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

class SubsetValidator {
 public:
  explicit SubsetValidator(json schema) : root_(std::move(schema)) {}

  // Appends "pointer: problem" lines to *errors.
  void Validate(const json& value, std::vector<std::string>* errors) const {
    Check(root_, value, "", errors);
  }

 private:
  static bool HasType(const json& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "number") return v.is_number();
    if (type == "integer") {
      return v.is_number_integer() ||
             (v.is_number_float() &&
              v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
    }
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    ADD_FAILURE() << "unknown type " << type;
    return false;
  }

  void Check(const json& schema, const json& v, const std::string& at,
             std::vector<std::string>* errors) const {
    static const std::set<std::string> kKnown = {"$schema",
                                                 "$id",
                                                 "title",
                                                 "description",
                                                 "default",
                                                 "examples",
                                                 "$defs",
                                                 "$ref",
                                                 "type",
                                                 "properties",
                                                 "required",
                                                 "additionalProperties",
                                                 "patternProperties",
                                                 "items",
                                                 "enum",
                                                 "minimum",
                                                 "maximum",
                                                 "exclusiveMinimum",
                                                 "minItems",
                                                 "maxItems",
                                                 "minLength",
                                                 "pattern"};
    for (const auto& [k, unused] : schema.items()) {
      if (!kKnown.count(k)) ADD_FAILURE() << "schema keyword outside the tested subset: " << k;
    }
    auto err = [&](const std::string& msg) { errors->push_back(at + ": " + msg); };
    if (auto r = schema.find("$ref"); r != schema.end()) {
      std::string ref = *r;
      ASSERT_EQ(ref.rfind("#/$defs/", 0), 0u) << ref;
      Check(root_["$defs"][ref.substr(8)], v, at, errors);
    }
    if (auto t = schema.find("type"); t != schema.end()) {
      bool ok = false;
      if (t->is_string()) {
        ok = HasType(v, *t);
      } else {
        for (const auto& one : *t) ok = ok || HasType(v, one);
      }
      if (!ok) {
        err("wrong type, expected " + t->dump());
        return;
      }
    }
    if (auto e = schema.find("enum"); e != schema.end()) {
      if (std::find(e->begin(), e->end(), v) == e->end()) err("not one of " + e->dump());
    }
    if (v.is_number()) {
      double d = v.get<double>();
      if (schema.contains("minimum") && d < schema["minimum"].get<double>()) err("below minimum");
      if (schema.contains("maximum") && d > schema["maximum"].get<double>()) err("above maximum");
      if (schema.contains("exclusiveMinimum") && d <= schema["exclusiveMinimum"].get<double>()) {
        err("not above exclusiveMinimum");
      }
    }
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      if (schema.contains("minLength") && s.size() < schema["minLength"].get<size_t>()) {
        err("too short");
      }
      if (schema.contains("pattern") && !MatchesPattern(schema["pattern"].get<std::string>(), s)) {
        err("does not match " + schema["pattern"].dump());
      }
    }
    if (v.is_array()) {
      if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) {
        err("too few items");
      }
      if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) {
        err("too many items");
      }
      if (auto items = schema.find("items"); items != schema.end()) {
        for (size_t i = 0; i < v.size(); ++i) {
          Check(*items, v[i], at + "/" + std::to_string(i), errors);
        }
      }
    }
    if (v.is_object()) {
      if (auto req = schema.find("required"); req != schema.end()) {
        for (const auto& k : *req) {
          if (!v.contains(k.get<std::string>())) err("missing " + k.dump());
        }
      }
      const json* props = schema.contains("properties") ? &schema["properties"] : nullptr;
      const json* patterns =
          schema.contains("patternProperties") ? &schema["patternProperties"] : nullptr;
      for (const auto& [k, child] : v.items()) {
        std::string child_at = at + "/" + k;
        bool matched = false;
        if (props != nullptr && props->contains(k)) {
          matched = true;
          Check((*props)[k], child, child_at, errors);
        }
        if (patterns != nullptr) {
          for (const auto& [pattern, sub] : patterns->items()) {
            if (MatchesPattern(pattern, k)) {
              matched = true;
              Check(sub, child, child_at, errors);
            }
          }
        }
        if (matched) continue;
        if (auto ap = schema.find("additionalProperties"); ap != schema.end()) {
          if (ap->is_boolean()) {
            if (!ap->get<bool>()) errors->push_back(child_at + ": property not allowed");
          } else {
            Check(*ap, child, child_at, errors);
          }
        }
      }
    }
  }

  json root_;
};

json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

const std::filesystem::path kSource = KAM_SOURCE_DIR;

SubsetValidator Validator() {
  return SubsetValidator(ReadJson(kSource / "packaging/schema/kam-rules.schema.json"));
}

TEST(RuleFileSchema, AcceptsEveryExampleRuleFile) {
  SubsetValidator validator = Validator();
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSource / "packaging/examples/rules")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    std::vector<std::string> errors;
    validator.Validate(ReadJson(entry.path()), &errors);
    EXPECT_TRUE(errors.empty()) << entry.path() << ":\n" << ::testing::PrintToString(errors);
  }
  EXPECT_GE(files, 1);
}

TEST(RuleFileSchema, AcceptsTheBenchRuleFile) {
  std::vector<std::string> errors;
  Validator().Validate(ReadJson(std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json"), &errors);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

TEST(RuleFileSchema, RejectsInvalidRuleFiles) {
  SubsetValidator validator = Validator();
  const json example = ReadJson(kSource / "packaging/examples/rules/key-accounts.json");
  struct Case {
    std::string what;
    json::json_pointer pointer;
    json value;
    std::string error_at;
  };
  std::vector<Case> cases = {
      {"unknown top-level key", json::json_pointer("/criterias"), json::array(), "/criterias"},
      {"weight as a string", json::json_pointer("/criteria/0/weight"), "20", "/criteria/0/weight"},
      {"weight zero", json::json_pointer("/criteria/0/weight"), 0, "/criteria/0/weight"},
      {"criterion id with a space", json::json_pointer("/criteria/0/id"), "my id",
       "/criteria/0/id"},
      {"unknown priority", json::json_pointer("/tasks/rules/0/priority"), "urgent",
       "/tasks/rules/0/priority"},
      {"negative task budget", json::json_pointer("/tasks/max_open_per_owner"), -1,
       "/tasks/max_open_per_owner"},
      {"goal target as a string", json::json_pointer("/goals/0/at_least/key"), "3",
       "/goals/0/at_least/key"},
      {"unknown goal key", json::json_pointer("/goals/0/at_leastt"), json::object(),
       "/goals/0/at_leastt"},
      {"unknown goal attainment", json::json_pointer("/tests/0/expect/goals/exec_sponsor"), "yes",
       "/tests/0/expect/goals/exec_sponsor"},
      {"negative capacity", json::json_pointer("/tiers/0/capacity/per_owner"), -1,
       "/tiers/0/capacity/per_owner"},
      {"fractional capacity", json::json_pointer("/tiers/0/capacity/total"), 2.5,
       "/tiers/0/capacity/total"},
      {"unknown field type", json::json_pointer("/mapping/hubspot/nps/type"), "integer",
       "/mapping/hubspot/nps/type"},
      {"pareto share above 1", json::json_pointer("/portfolio/pareto_share"), 2,
       "/portfolio/pareto_share"},
      {"unknown CRM", json::json_pointer("/mapping/pipedrive"), json::object(),
       "/mapping/pipedrive"},
      {"no criteria", json::json_pointer("/criteria"), json::array(), "/criteria"},
      {"expected score above 10", json::json_pointer("/tests/0/expect/scores/growth"), 11,
       "/tests/0/expect/scores/growth"},
      {"unknown writeback result", json::json_pointer("/writeback/hubspot/scor"), "x",
       "/writeback/hubspot/scor"},
  };
  for (const auto& c : cases) {
    json doc = example;
    doc[c.pointer] = c.value;
    std::vector<std::string> errors;
    validator.Validate(doc, &errors);
    bool found = std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
      return e.rfind(c.error_at + ":", 0) == 0;
    });
    EXPECT_TRUE(found) << c.what << ": " << ::testing::PrintToString(errors);
  }
  json no_name = example;
  no_name.erase("name");
  std::vector<std::string> errors;
  validator.Validate(no_name, &errors);
  EXPECT_FALSE(errors.empty());
}

}  // namespace
