// Stub: the implementation follows; the API in jsonlogic.h is final.
#include "kam/jsonlogic/jsonlogic.h"

#include <nlohmann/json.hpp>

namespace kam::jsonlogic {
namespace internal {
struct Program {};
}  // namespace internal

struct Evaluator::State {};

bool IsTruthy(const Value&) { return false; }
nlohmann::json ToJson(const Value&) { return nullptr; }
std::string FormatNumber(double) { return {}; }
double ParseNumber(std::string_view) { return 0; }
int Schema::Add(std::string_view path) {
  if (auto it = index_.find(path); it != index_.end()) return it->second;
  int slot = static_cast<int>(paths_.size());
  paths_.emplace_back(path);
  index_.emplace(std::string(path), slot);
  return slot;
}
int Schema::Find(std::string_view path) const {
  auto it = index_.find(path);
  return it == index_.end() ? -1 : it->second;
}
Rule::Rule() = default;
std::span<const int> Rule::slots_read() const { return {}; }
std::span<const std::string> Rule::unknown_paths() const { return {}; }
bool Rule::has_dynamic_paths() const { return false; }
bool Rule::is_constant() const { return false; }
std::size_t Rule::node_count() const { return 0; }
Expected<Rule> Compile(const nlohmann::json&, const CompileOptions&) {
  return Error{std::string(kUnknownOperator), "not implemented yet", ""};
}
Evaluator::Evaluator() : state_(std::make_unique<State>()) {}
Evaluator::~Evaluator() = default;
Expected<Value> Evaluator::Evaluate(const Rule&, std::span<const Value>, const nlohmann::json*) {
  return Error{std::string(kUnknownOperator), "not implemented yet", ""};
}
Expected<bool> Evaluator::EvaluateTruthy(const Rule&, std::span<const Value>,
                                         const nlohmann::json*) {
  return Error{std::string(kUnknownOperator), "not implemented yet", ""};
}
Expected<nlohmann::json> Apply(const nlohmann::json&, const nlohmann::json&, const Limits&) {
  return Error{std::string(kUnknownOperator), "not implemented yet", ""};
}
Expected<nlohmann::json> ParseJson(std::string_view, std::size_t) {
  return Error{std::string(kInvalidJson), "not implemented yet", ""};
}
}  // namespace kam::jsonlogic
