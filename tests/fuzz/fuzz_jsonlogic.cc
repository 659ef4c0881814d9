// Fuzz target: JsonLogic parse + compile + apply. The input is JSON text: [rule, data] applies
// rule to data, anything else is applied as a rule to {}. The rule is also compiled against a
// small schema and evaluated on absent slots (the fast path of rule files). Errors are values;
// nothing may crash, hang, overflow the stack or throw.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "kam/jsonlogic/jsonlogic.h"

namespace jl = kam::jsonlogic;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = jl::ParseJson(text);
  if (!parsed) return 0;
  const nlohmann::json& input = *parsed;
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const bool pair = input.is_array() && input.size() == 2;
  const nlohmann::json& rule = pair ? input[0] : input;
  const nlohmann::json& record = pair ? input[1] : kEmpty;
  auto applied = jl::Apply(rule, record);
  if (applied) (void)applied->dump();

  jl::Schema schema;
  schema.Add("account.a");
  schema.Add("account.b");
  schema.Add("kam.tier");
  jl::CompileOptions options;
  options.schema = &schema;
  auto compiled = jl::Compile(rule, options);
  if (compiled) {
    jl::Evaluator evaluator;
    auto value = evaluator.Evaluate(*compiled, {}, &record);
    if (value) (void)jl::ToJson(*value).dump();
  }
  if (input.is_string()) (void)jl::ParseNumber(input.get_ref<const std::string&>());
  return 0;
}
