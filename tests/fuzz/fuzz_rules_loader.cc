// Fuzz target: the rule-file loader and validator (rules::RuleSet::LoadText), and for a file
// that loads, its embedded tests and an explanation of an empty account. Loading must report
// problems as Diagnostics, never crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "kam/rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  kam::rules::LoadResult loaded = kam::rules::RuleSet::LoadText(text, "fuzz.json");
  if (!loaded.ok()) return 0;
  const kam::rules::RuleSet& rules = *loaded.rules;
  kam::rules::RunEmbeddedTests(rules);
  kam::rules::Account account;
  account.id = "1";
  account.values.resize(rules.account_fields().size());
  kam::rules::Status status;
  kam::rules::Explain(rules, account, &status);
  return 0;
}
