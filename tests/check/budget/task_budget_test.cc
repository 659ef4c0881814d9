// The per-owner task budget (tasks.max_open_per_owner) over several syncs: tasks a KAM completes
// in the CRM give their owner room again on the next sync. Judged from the tasks in the sandbox
// CRM, never from the add-in's summary alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "harness.h"

namespace kam::e2e {
namespace {

constexpr int kBudget = 2;

struct AddInTask {
  std::string id, key, status, owner;
};

// Every task the add-in made (it has a kam_task_key), read through the CRM's list API.
std::vector<AddInTask> AddInTasks(Sandbox& sandbox) {
  std::vector<AddInTask> out;
  std::string after;
  for (;;) {
    json page = sandbox.Api("GET",
                            "/crm/v3/objects/tasks?limit=100&properties=kam_task_key,"
                            "hs_task_status,hubspot_owner_id" +
                                (after.empty() ? std::string() : "&after=" + after));
    for (const auto& r : page["results"]) {
      const json& p = r["properties"];
      if (!p.contains("kam_task_key") || !p["kam_task_key"].is_string()) continue;
      out.push_back({r["id"].get<std::string>(), p["kam_task_key"].get<std::string>(),
                     p.value("hs_task_status", ""), p.value("hubspot_owner_id", "")});
    }
    if (!page.contains("paging")) break;
    after = page["paging"]["next"]["after"].get<std::string>();
  }
  return out;
}

std::map<std::string, int> OpenPerOwner(const std::vector<AddInTask>& tasks) {
  std::map<std::string, int> open;
  for (const auto& t : tasks) {
    if (t.status != "COMPLETED") open[t.owner]++;
  }
  return open;
}

TEST(TaskBudget, TasksAKamCompletedInTheCrmGiveTheOwnerRoomOnTheNextSync) {
  Sandbox sandbox({});
  Workspace ws(sandbox);
  // The example rule file with a budget that certainly bites at 200 companies.
  json rules = json::parse(std::ifstream(ws.config_dir() / "key-accounts.json"));
  ASSERT_TRUE(rules["tasks"].is_object());
  rules["tasks"]["max_open_per_owner"] = kBudget;
  std::ofstream(ws.config_dir() / "key-accounts.json") << rules.dump(2);
  ASSERT_EQ(ws.RunKam({"provision"}).exit_code, 0);

  Outcome first = ws.RunKam({"--json", "sync"});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  // An owner whose budget left suggestions out: the one whose tasks a KAM will complete.
  // (the one with the most left out: they have the most waiting for room).
  std::string owner;
  int waiting = 0;
  const json summary = first.Json();
  for (const auto& o : summary["task_budget"]["owners"]) {
    if (o.value("dropped", 0) > waiting && o.value("open", 0) + o.value("kept", 0) == kBudget) {
      owner = o.value("owner_id", "");
      waiting = o.value("dropped", 0);
    }
  }
  ASSERT_FALSE(owner.empty()) << summary["task_budget"].dump(2);
  std::vector<AddInTask> before = AddInTasks(sandbox);
  ASSERT_EQ(OpenPerOwner(before)[owner], kBudget);

  // The KAM completes their add-in tasks in the CRM.
  std::set<std::string> completed_keys;
  for (const auto& t : before) {
    if (t.owner != owner || t.status == "COMPLETED") continue;
    sandbox.Api("PATCH", "/crm/v3/objects/tasks/" + t.id,
                json{{"properties", {{"hs_task_status", "COMPLETED"}}}});
    completed_keys.insert(t.key);
  }
  ASSERT_EQ(completed_keys.size(), static_cast<size_t>(kBudget));

  Outcome second = ws.RunKam({"--json", "sync"});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  const json s = second.Json();
  EXPECT_EQ(s["tasks_completed_in_crm"], kBudget) << s.dump(2);
  std::vector<AddInTask> after = AddInTasks(sandbox);
  std::map<std::string, int> open = OpenPerOwner(after);
  // The suggestions left out before get the room (the completed ones are not suggested again).
  EXPECT_EQ(open[owner], std::min(kBudget, waiting)) << "the owner's budget is used again";
  EXPECT_GE(s["tasks_created"].get<int>(), std::min(kBudget, waiting)) << s.dump(2);
  for (const auto& [o, n] : open) EXPECT_LE(n, kBudget) << "owner " << o;
  for (const auto& t : after) {
    if (completed_keys.count(t.key)) {
      EXPECT_EQ(t.status, "COMPLETED") << "reopened: " << t.key;
    }
  }
  std::map<std::string, int> per_key;
  for (const auto& t : after) per_key[t.key]++;
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << "duplicate task " << key;

  // Nothing changed since: full budgets stay full, nothing is created.
  Outcome third = ws.RunKam({"--json", "sync"});
  ASSERT_EQ(third.exit_code, 0) << third.Describe();
  const json last = third.Json();
  EXPECT_EQ(last["tasks_created"], 0) << last.dump(2);
  EXPECT_EQ(last["tasks_completed_in_crm"], 0);
  EXPECT_EQ(AddInTasks(sandbox).size(), after.size());
}

}  // namespace
}  // namespace kam::e2e
