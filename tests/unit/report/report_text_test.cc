// The plain-text and JSON `kam report` (report.cc) from a state file: it counts key accounts per
// KAM with the HTML report's notion of a key tier (a tier with a capacity), not "every tier above
// the lowest".
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "kam/store/store.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {
namespace {

using nlohmann::json;

class QuietHost : public Host {
 public:
  void Log(int32_t, std::string_view) override {}
  void Progress(std::string_view, uint64_t, uint64_t) override {}
  std::optional<std::string> GetSecret(std::string_view) override { return std::nullopt; }
  bool IsCancelled() override { return false; }
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("kam-report-text-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

void AddResult(store::Store& s, const std::string& id, const std::string& owner, double score,
               const std::string& tier) {
  store::ResultRow r;
  r.account_id = id;
  r.owner_id = owner;
  r.score = score;
  r.tier = tier;
  r.health_json = "[]";
  s.UpsertResult(r);
}

TEST(ReportText, CountsOnlyTiersWithACapacityAsKeyAccountsPerKam) {
  TempDir dir;
  EngineConfig cfg;
  cfg.state_path = (dir.path / "state.db").string();
  cfg.rules_path = KAM_EXAMPLE_RULES_FILE;  // strategic, key (capacities), development, standard
  {
    auto s = store::Store::Open(cfg.state_path);
    AddResult(*s, "1", "o1", 800, "strategic");
    AddResult(*s, "2", "o1", 650, "key");
    AddResult(*s, "3", "o1", 500, "development");
    AddResult(*s, "4", "o1", 480, "development");
    AddResult(*s, "5", "o2", 100, "standard");
  }
  QuietHost host;
  RunContext ctx(host, cfg, nullptr, nullptr, nullptr);
  ctx.LoadRules(RulesSource{}, false);
  json report = PortfolioReport(ctx, "");
  ASSERT_EQ(report["workload"].size(), 2u);
  EXPECT_EQ(report["workload"][0]["owner_id"], "o1");
  EXPECT_EQ(report["workload"][0]["key_accounts"], 2);  // strategic + key, not development
  EXPECT_EQ(report["workload"][1]["key_accounts"], 0);
  EXPECT_NE(report["text"].get<std::string>().find("  o1: 2, 0\n"), std::string::npos)
      << report["text"].get<std::string>();
}

}  // namespace
}  // namespace kam::engine
