// Slow: more than 10,000 companies changed since the last sync are all pulled and evaluated
// (the incremental pull moves its search window past HubSpot's 10,000-result cap).
#include <gtest/gtest.h>

#include "sync_test_util.h"

namespace kam::testing {
namespace {

TEST(SyncSlow, MoreThanTenThousandChangedCompaniesAreAllSeen) {
  constexpr int kAccounts = 10'600;
  auto server = StartSandbox(kAccounts);
  TempDir dir;
  TestHost host;
  auto options = EngineOptions(server->url(), dir.path, WriteRules(dir.path));
  engine::SyncEngine engine(host, options);
  engine.Provision();
  json first = engine.Sync(false);
  ASSERT_EQ(first["pulled"], kAccounts);

  CrmReader crm(server->url());
  auto all = crm.All("companies", "name");
  std::vector<std::string> ids;
  for (const auto& [id, p] : all) ids.push_back(id);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kAccounts));
  for (size_t i = 0; i < ids.size(); i += 100) {
    json inputs = json::array();
    for (size_t j = i; j < std::min(ids.size(), i + 100); ++j) {
      inputs.push_back({{"id", ids[j]}, {"properties", {{"nps", "17"}}}});
    }
    crm.Call("POST", "/crm/v3/objects/companies/batch/update", {{"inputs", inputs}});
  }
  json second = engine.Sync(false);
  EXPECT_FALSE(second["full_pull"].get<bool>());
  EXPECT_GE(second["pulled"].get<int64_t>(), kAccounts);
  auto store = store::Store::Open(options.config.state_path);
  int64_t seen = 0;
  store->ForEachAccount(
      [&](const store::AccountRow& r) {
        json p = json::parse(r.properties_json);
        if (p.value("nps", "") == "17") seen++;
      },
      false);
  EXPECT_EQ(seen, kAccounts);
}

}  // namespace
}  // namespace kam::testing
