#include "tasks.h"

#include <gtest/gtest.h>

#include <set>

namespace kam::hubspot::internal {
namespace {

TaskSpec Spec(std::string key) {
  TaskSpec t;
  t.key = std::move(key);
  t.company_id = "512";
  t.owner_id = "6166860";
  t.subject = "Book QBR";
  t.body = "Quarterly review";
  t.priority = "HIGH";
  t.due_ms = 1715331600000;
  return t;
}

TEST(TaskBodies, UpsertIsKeyedByKamTaskKeyWithoutAssociations) {
  Json j = Json::parse(BuildTaskUpsertBody({Spec("acct512-rule7-2024w18")}));
  const Json& in = j["inputs"][0];
  EXPECT_EQ(in["idProperty"], "kam_task_key");
  EXPECT_EQ(in["id"], "acct512-rule7-2024w18");
  EXPECT_FALSE(in.contains("associations"));
  EXPECT_EQ(in["properties"]["kam_task_key"], "acct512-rule7-2024w18");
  EXPECT_EQ(in["properties"]["hubspot_owner_id"], "6166860");
  EXPECT_EQ(in["properties"]["hs_timestamp"], "2024-05-10T09:00:00.000Z");
  EXPECT_EQ(in["properties"]["hs_task_status"], "NOT_STARTED");
}

TEST(TaskBodies, CreateAssociatesWithTheCompanyByType192) {
  Json j = Json::parse(BuildTaskCreateBody({Spec("k1")}));
  const Json& a = j["inputs"][0]["associations"][0];
  EXPECT_EQ(a["to"]["id"], "512");
  EXPECT_EQ(a["types"][0]["associationCategory"], "HUBSPOT_DEFINED");
  EXPECT_EQ(a["types"][0]["associationTypeId"], 192);
  Json b = Json::parse(BuildTaskAssociationBody({{"77", "512"}}));
  EXPECT_EQ(b["inputs"][0]["from"]["id"], "77");
  EXPECT_EQ(b["inputs"][0]["types"][0]["associationTypeId"], 192);
}

TEST(TaskBodies, UnassignedTaskHasNoOwnerProperty) {
  TaskSpec t = Spec("k");
  t.owner_id.clear();
  EXPECT_FALSE(TaskProperties(t).contains("hubspot_owner_id"));
}

TEST(TaskKeySearch, BodiesStayUnderTheLimitAndCoverEveryKey) {
  std::vector<std::string> keys;
  for (int i = 0; i < 700; ++i) keys.push_back("acct" + std::to_string(1000 + i) + "-rule7-2024w18");
  auto r = BuildTaskKeySearches(keys, {"kam_task_key", "hs_task_status"}, 3000);
  ASSERT_TRUE(r.ok());
  std::set<std::string> covered;
  for (const auto& s : *r) {
    EXPECT_LE(BuildSearchBody(s).size(), 3000u);
    ASSERT_EQ(s.groups.size(), 1u);
    EXPECT_EQ(s.groups[0][0].op, "IN");
    EXPECT_LE(s.groups[0][0].values.size(), 100u);
    covered.insert(s.groups[0][0].values.begin(), s.groups[0][0].values.end());
  }
  EXPECT_EQ(r->size(), 7u);  // short keys: the 100-values cap binds
  for (const auto& k : keys) EXPECT_TRUE(covered.count(k)) << k;
}

TEST(TaskKeySearch, LongKeysAreSplitByBodySize) {
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) keys.push_back(std::string(60, 'k') + std::to_string(i));
  auto r = BuildTaskKeySearches(keys, {"kam_task_key"}, 3000);
  ASSERT_TRUE(r.ok());
  EXPECT_GE(r->size(), 3u);  // ~65 chars per value: at most ~45 values per 3,000-char body
  size_t total = 0;
  for (const auto& s : *r) {
    EXPECT_LE(BuildSearchBody(s).size(), 3000u);
    total += s.groups[0][0].values.size();
  }
  EXPECT_EQ(total, 100u);
}

TEST(TaskKeySearch, MixedCaseKeysAreAlsoSearchedLowerCase) {
  auto r = BuildTaskKeySearches({"Acct-X"}, {"kam_task_key"}, 3000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].groups[0][0].values, (std::vector<std::string>{"Acct-X", "acct-x"}));
}

TEST(TaskKeySearch, AKeyTooLongForOneBodyIsAnError) {
  auto r = BuildTaskKeySearches({std::string(4000, 'k')}, {"kam_task_key"}, 3000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace kam::hubspot::internal
