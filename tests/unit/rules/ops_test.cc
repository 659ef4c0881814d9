// The rules.* and jsonlogic.apply operations as the ABI layer calls them: JSON in, JSON out,
// "ok": false for problems found, OpError with a StatusCode for requests that cannot run.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kam/addin.h"
#include "operation.h"

namespace kam::engine {
namespace {

using nlohmann::json;

class NullHost : public Host {
 public:
  void Log(int32_t, std::string_view) override {}
  void Progress(std::string_view, uint64_t, uint64_t) override {}
  std::optional<std::string> GetSecret(std::string_view) override { return std::nullopt; }
  bool IsCancelled() override { return false; }
};

class RulesOps : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterRulesOps(table_);
    dir_ = std::filesystem::temp_directory_path() /
           ("kam_rules_ops_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  json Call(const std::string& op, const json& request) {
    auto it = table_.find(op);
    EXPECT_NE(it, table_.end()) << op;
    OpContext ctx{host_, config_};
    return it->second(ctx, request);
  }
  StatusCode StatusOf(const std::string& op, const json& request, std::string* location = nullptr) {
    try {
      Call(op, request);
    } catch (const OpError& e) {
      if (location != nullptr) *location = e.location();
      return e.code();
    }
    return StatusCode::kOk;
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  OpTable table_;
  NullHost host_;
  json config_ = json::object();
  std::filesystem::path dir_;
  const std::string example_ =
      std::string(KAM_SOURCE_DIR) + "/packaging/examples/rules/key-accounts.json";
  const std::string bench_rules_ = std::string(KAM_SHARED_DIR) + "/bench/kam_rules.json";
};

TEST_F(RulesOps, RegistersEveryRulesOperation) {
  for (const char* op : {"rules.check", "rules.test", "rules.explain", "rules.eval",
                         "rules.bench", "jsonlogic.apply"}) {
    EXPECT_NE(table_.find(op), table_.end()) << op;
  }
}

TEST_F(RulesOps, CheckAcceptsTheExampleFile) {
  json r = Call("rules.check", {{"file", example_}});
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["name"], "key-accounts");
  EXPECT_EQ(r["version"], "2026.11-1");
  EXPECT_EQ(r["hash"].get<std::string>().size(), 16u);
  EXPECT_TRUE(r["errors"].empty());
  EXPECT_NE(r["text"].get<std::string>().find("OK"), std::string::npos);
}

TEST_F(RulesOps, CheckListsEveryProblemWithPositions) {
  std::string path = Write("bad.json", "{\n  \"name\": 5,\n  \"criterai\": []\n}\n");
  json r = Call("rules.check", {{"file", path}});
  EXPECT_EQ(r["ok"], false);
  ASSERT_GE(r["errors"].size(), 3u) << r.dump(2);
  bool found = false;
  for (const auto& e : r["errors"]) {
    if (e["pointer"] == "/criterai") {
      found = true;
      EXPECT_EQ(e["line"], 3);
      EXPECT_EQ(e["col"], 3);
      EXPECT_EQ(e["file"], path);
      EXPECT_NE(e["message"].get<std::string>().find("did you mean \"criteria\""),
                std::string::npos);
    }
  }
  EXPECT_TRUE(found) << r.dump(2);
  EXPECT_NE(r["text"].get<std::string>().find(path + ":3:3: /criterai: unknown key"),
            std::string::npos)
      << r["text"];
}

TEST_F(RulesOps, AMissingFileIsNotFoundAndAMalformedRequestIsInvalid) {
  EXPECT_EQ(StatusOf("rules.check", {{"file", (dir_ / "nope.json").string()}}), StatusCode::kNotFound);
  EXPECT_EQ(StatusOf("rules.test", {{"file", (dir_ / "nope.json").string()}}), StatusCode::kNotFound);
  EXPECT_EQ(StatusOf("rules.check", json::object()), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusOf("rules.check", {{"file", 5}}), StatusCode::kInvalidArgument);
}

TEST_F(RulesOps, AnInvalidRuleFileIsInvalidArgumentLocatedAtTheFirstProblem) {
  std::string path = Write("bad.json", "{\n  \"name\": \"x\",\n  \"criteria\": [}\n");
  std::string location;
  EXPECT_EQ(StatusOf("rules.test", {{"file", path}}, &location), StatusCode::kInvalidArgument);
  EXPECT_EQ(location.rfind(path + ":3:", 0), 0u) << location;
}

TEST_F(RulesOps, TestRunsTheEmbeddedTests) {
  json r = Call("rules.test", {{"file", example_}});
  EXPECT_EQ(r["ok"], true) << r["text"];
  EXPECT_EQ(r["failed"], 0);
  EXPECT_EQ(r["passed"], r["results"].size());
  EXPECT_GE(r["passed"].get<int>(), 4);
}

TEST_F(RulesOps, TestReportsFailuresWithADiff) {
  std::ifstream in(example_);
  json doc = json::parse(in);
  doc["tests"][0]["expect"]["tier"] = "key";
  std::string path = Write("failing.json", doc.dump(2));
  json r = Call("rules.test", {{"file", path}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["failed"], 1);
  EXPECT_EQ(r["results"][0]["ok"], false);
  EXPECT_EQ(r["results"][0]["diff"][0].get<std::string>().rfind(
                "tier: expected \"key\", got \"strategic\"", 0),
            0u)
      << r.dump(2);
}

TEST_F(RulesOps, ExplainDescribesOneAccount) {
  json account = {{"id", "A-1"}, {"name", "Acme"}, {"revenue_last_12m", 9000000},
                  {"gross_margin_pct", 41}, {"active_contacts", 2}};
  json r = Call("rules.explain", {{"file", example_}, {"account", account}});
  EXPECT_EQ(r["account_id"], "A-1");
  EXPECT_EQ(r["criteria"].size(), 6u);
  EXPECT_TRUE(r.contains("next_tier"));
  EXPECT_TRUE(r["text"].is_string());
  std::string location;
  EXPECT_EQ(StatusOf("rules.explain", {{"file", example_}, {"account", {{"revenue", 1}}}},
                     &location),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(location, "/account/revenue");
}

TEST_F(RulesOps, EvalSummarisesAnNdjsonFileAndWritesPerAccountResults) {
  std::string accounts = Write("a.ndjson",
                               "{\"id\":\"1\",\"owner_id\":\"k\",\"revenue_last_12m\":9000000,"
                               "\"gross_margin_pct\":41,\"active_contacts\":7,"
                               "\"has_exec_sponsor\":true,\"days_since_last_meeting\":3}\n"
                               "{\"id\":\"2\",\"revenue_last_12m\":1000}\n");
  std::string output = (dir_ / "out.ndjson").string();
  json r = Call("rules.eval", {{"file", example_}, {"accounts", accounts}, {"output", output}});
  EXPECT_EQ(r["n"], 2);
  EXPECT_EQ(r["digest"].get<std::string>().size(), 8u);
  EXPECT_TRUE(r["text"].is_string());
  std::ifstream in(output);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    EXPECT_TRUE(j.contains("final_tier"));
    ++lines;
  }
  EXPECT_EQ(lines, 2);
}

TEST_F(RulesOps, BenchGeneratesAndMatchesTheThousandAccountDigest) {
  json r = Call("rules.bench", {{"file", bench_rules_}, {"generate", 1000}, {"seed", 42}});
  EXPECT_EQ(r["n"], 1000);
  EXPECT_EQ(r["digest"], "02818627");
  EXPECT_EQ(r["sum_score"], 541635);
  EXPECT_EQ(r["tiers"], json({{"A", 150}, {"B", 327}, {"C", 323}, {"D", 200}}));
  EXPECT_GT(r["accounts_per_s"].get<double>(), 0);
  EXPECT_EQ(StatusOf("rules.bench", {{"file", bench_rules_}, {"generate", -1}}),
            StatusCode::kInvalidArgument);
}

TEST_F(RulesOps, JsonLogicApplyGivesAResultOrATypedError) {
  json r = Call("jsonlogic.apply", {{"rule", {{"+", {1, {{"var", "a"}}}}}}, {"data", {{"a", 2}}}});
  EXPECT_EQ(r, json({{"result", 3}}));
  r = Call("jsonlogic.apply", {{"rule", {{"frobnicate", {1}}}}});
  ASSERT_TRUE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["error"]["type"], "Unknown Operator");
  EXPECT_EQ(StatusOf("jsonlogic.apply", {{"data", 1}}), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kam::engine
