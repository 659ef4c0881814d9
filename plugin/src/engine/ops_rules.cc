// rules.check, rules.test, rules.explain, rules.eval, rules.bench and jsonlogic.apply: the rules
// module behind the ABI. Each result carries a human rendering in "text"; "ok": false means the
// operation ran and found problems (the host exits 3).
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "kam/addin.h"
#include "kam/jsonlogic/jsonlogic.h"
#include "kam/rules/bench.h"
#include "kam/rules/rules.h"
#include "operation.h"

namespace kam::engine {
namespace {

using nlohmann::json;

std::string RequireString(const json& request, const char* key) {
  if (!request.is_object()) throw OpError(StatusCode::kInvalidArgument, "the request must be an object");
  auto it = request.find(key);
  if (it == request.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw OpError(StatusCode::kInvalidArgument,
                  std::string("the request needs \"") + key + "\" (a non-empty string)",
                  std::string("/") + key);
  }
  return it->get<std::string>();
}

void RequireExists(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw OpError(StatusCode::kNotFound, std::string(what) + " " + path + " does not exist", path);
  }
}

json ErrorsJson(const std::vector<rules::Diagnostic>& errors) {
  json out = json::array();
  for (const auto& e : errors) {
    out.push_back({{"file", e.file},
                   {"line", e.line},
                   {"col", e.col},
                   {"pointer", e.pointer},
                   {"message", e.message}});
  }
  return out;
}

// Loads a rule file for the operations that need a valid one: a missing file is kNotFound,
// an invalid one kInvalidArgument listing every problem, located at the first.
std::shared_ptr<const rules::RuleSet> LoadValid(const json& request) {
  std::string file = RequireString(request, "file");
  RequireExists(file, "the rule file");
  rules::LoadResult loaded = rules::RuleSet::LoadFile(file);
  if (loaded.ok()) return loaded.rules;
  std::string message = "the rule file is invalid (" + std::to_string(loaded.errors.size()) +
                        (loaded.errors.size() == 1 ? " problem" : " problems") +
                        "; run `kam rules check`):";
  for (const auto& e : loaded.errors) message += "\n  " + e.ToString();
  throw OpError(StatusCode::kInvalidArgument, message,
                loaded.errors.empty() ? file : loaded.errors.front().Location());
}

json RulesCheck(OpContext&, const json& request) {
  std::string file = RequireString(request, "file");
  RequireExists(file, "the rule file");
  rules::LoadResult loaded = rules::RuleSet::LoadFile(file);
  if (!loaded.ok() && loaded.errors.size() == 1 && loaded.errors[0].line == 0) {
    throw OpError(StatusCode::kInvalidArgument, loaded.errors[0].message, file);
  }
  json out = {{"ok", loaded.ok()}, {"file", file}, {"errors", ErrorsJson(loaded.errors)}};
  std::string text;
  if (loaded.ok()) {
    const auto& r = *loaded.rules;
    out["name"] = r.name();
    out["version"] = r.version();
    out["hash"] = r.hash();
    text = file + ": OK — " + r.name() + (r.version().empty() ? "" : " version " + r.version()) +
           ", " + std::to_string(r.criterion_ids().size()) + " criteria, " +
           std::to_string(r.tiers().size()) + " tiers, " + std::to_string(r.task_ids().size()) +
           " task rules" + (r.bench_shape() ? " (bench shape)" : "") + ", hash " + r.hash() +
           "\n";
  } else {
    out["name"] = nullptr;
    out["version"] = nullptr;
    out["hash"] = nullptr;
    for (const auto& e : loaded.errors) text += e.ToString() + "\n";
    text += std::to_string(loaded.errors.size()) +
            (loaded.errors.size() == 1 ? " problem\n" : " problems\n");
  }
  out["text"] = text;
  return out;
}

json RulesTest(OpContext&, const json& request) {
  auto rules = LoadValid(request);
  rules::TestReport report = rules::RunEmbeddedTests(*rules);
  json results = json::array();
  for (const auto& r : report.results) {
    results.push_back({{"name", r.name}, {"ok", r.ok}, {"diff", r.diffs}});
  }
  return {{"ok", report.ok()},
          {"passed", report.passed},
          {"failed", report.failed},
          {"results", results},
          {"text", report.ToText()}};
}

json RulesExplain(OpContext&, const json& request) {
  auto rules = LoadValid(request);
  auto it = request.find("account");
  if (it == request.end() || !it->is_object()) {
    throw OpError(StatusCode::kInvalidArgument, "the request needs \"account\" (a JSON object)",
                  "/account");
  }
  rules::Account account;
  if (rules::Status st = rules->AccountFromJson(*it, &account); !st.ok()) {
    throw OpError(StatusCode::kInvalidArgument, st.message(), "/account" + st.location());
  }
  rules::Status st;
  json out = rules::Explain(*rules, account, &st);
  if (!st.ok()) throw OpError(StatusCode::kInvalidArgument, st.message(), st.location());
  out["ok"] = true;
  return out;
}

json RulesEval(OpContext&, const json& request) {
  auto rules = LoadValid(request);
  std::string accounts = RequireString(request, "accounts");
  RequireExists(accounts, "the accounts file");
  std::ofstream output;
  if (auto it = request.find("output"); it != request.end() && !it->is_null()) {
    if (!it->is_string()) throw OpError(StatusCode::kInvalidArgument, "\"output\" must be a path", "/output");
    output.open(it->get<std::string>(), std::ios::trunc);
    if (!output) {
      throw OpError(StatusCode::kInvalidArgument, "cannot write " + it->get<std::string>(), "/output");
    }
  }
  rules::EvalSummary summary;
  rules::Status st = rules::EvalFile(*rules, accounts, output.is_open() ? &output : nullptr,
                                     &summary);
  if (!st.ok()) throw OpError(StatusCode::kInvalidArgument, st.message(), st.location());
  json out = summary.ToJson();
  out["ok"] = true;
  out["text"] = summary.ToText();
  return out;
}

json RulesBench(OpContext&, const json& request) {
  auto rules = LoadValid(request);
  rules::BenchOptions options;
  if (auto it = request.find("generate"); it != request.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() <= 0) {
      throw OpError(StatusCode::kInvalidArgument, "\"generate\" must be a positive whole number",
                    "/generate");
    }
    options.generate = it->get<uint64_t>();
    if (auto s = request.find("seed"); s != request.end()) {
      if (!s->is_number_integer() || s->get<int64_t>() < 0 || s->get<int64_t>() > 0xFFFFFFFFll) {
        throw OpError(StatusCode::kInvalidArgument, "\"seed\" must be a 32-bit unsigned number", "/seed");
      }
      options.seed = static_cast<uint32_t>(s->get<uint64_t>());
    }
  } else {
    options.accounts_path = RequireString(request, "accounts");
    RequireExists(options.accounts_path, "the accounts file");
  }
  rules::BenchReport report;
  rules::Status st = rules::RunBench(*rules, options, &report);
  if (!st.ok()) throw OpError(StatusCode::kInvalidArgument, st.message(), st.location());
  json out = report.ToJson();
  out["text"] = report.ToText();
  return out;
}

json JsonLogicApply(OpContext&, const json& request) {
  if (!request.is_object() || !request.contains("rule")) {
    throw OpError(StatusCode::kInvalidArgument, "the request needs \"rule\" (and optionally \"data\")",
                  "/rule");
  }
  static const json kEmpty = json::object();
  auto data = request.find("data");
  auto result = jsonlogic::Apply(request["rule"], data == request.end() ? kEmpty : *data);
  if (result) return {{"result", *result}};
  json error = {{"type", result.error().type}, {"message", result.error().message}};
  if (!result.error().thrown.empty()) {
    error["thrown"] = json::parse(result.error().thrown, nullptr, false);
  }
  return {{"error", error}};
}

}  // namespace

void RegisterRulesOps(OpTable& table) {
  table["rules.check"] = &RulesCheck;
  table["rules.test"] = &RulesTest;
  table["rules.explain"] = &RulesExplain;
  table["rules.eval"] = &RulesEval;
  table["rules.bench"] = &RulesBench;
  table["jsonlogic.apply"] = &JsonLogicApply;
}

}  // namespace kam::engine
