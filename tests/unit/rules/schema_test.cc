// The JSON Schema for rule files (packaging/schema/kam-rules.schema.json) accepts the example
// rule files and the bench rule file, and rejects invalid ones (with the subset validator of
// schema_subset.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "schema_subset.h"

namespace {

using nlohmann::json;

using kam::schema_subset::SubsetValidator;

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
