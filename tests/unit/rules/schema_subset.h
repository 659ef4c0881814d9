// A validator for exactly the subset of JSON Schema that packaging/schema/*.schema.json use (no
// new dependency): a keyword outside the subset fails the calling test, so the subset stays
// honest. Shared by the rule-file schema test and the card schema test.
#ifndef KAM_TESTS_UNIT_RULES_SCHEMA_SUBSET_H_
#define KAM_TESTS_UNIT_RULES_SCHEMA_SUBSET_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace kam::schema_subset {

using nlohmann::json;

// The two pattern shapes the schema uses: "^[A-Za-z_][A-Za-z0-9_]*$" and the same after a
// literal prefix ("^health\\.[A-Za-z_]..."). Anything else fails the test.
inline bool MatchesPattern(const std::string& pattern, const std::string& s) {
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

}  // namespace kam::schema_subset

#endif  // KAM_TESTS_UNIT_RULES_SCHEMA_SUBSET_H_
