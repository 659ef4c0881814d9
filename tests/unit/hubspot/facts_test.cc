#include "facts.h"

#include <gtest/gtest.h>

#include "time_util.h"

namespace kam::hubspot::internal {
namespace {

constexpr int64_t kNow = 1714557600000;  // 2024-05-01T10:00:00Z

CrmObject Obj(std::string id, Properties props) {
  CrmObject o;
  o.id = std::move(id);
  o.properties = std::move(props);
  return o;
}

std::vector<const CrmObject*> Ptrs(const std::vector<CrmObject>& v) {
  std::vector<const CrmObject*> out;
  for (const auto& o : v) out.push_back(&o);
  return out;
}

std::set<std::string> All() {
  std::set<std::string> s;
  for (const char* n : kAggregateNames) s.insert(n);
  return s;
}

TEST(Facts, RevenueWindowsSplitWonDealsByCloseDate) {
  std::vector<CrmObject> deals = {
      Obj("1", {{"amount", "1000"}, {"dealstage", "closedwon"},
                {"closedate", FormatIsoMs(kNow - 10 * kDayMs)}}),
      Obj("2", {{"amount", "500.5"}, {"hs_is_closed_won", "true"}, {"hs_is_closed", "true"},
                {"closedate", FormatIsoMs(kNow - 400 * kDayMs)}}),
      Obj("3", {{"amount", "700"}, {"dealstage", "closedwon"},
                {"closedate", FormatIsoMs(kNow - 800 * kDayMs)}}),  // older than 24 months
      Obj("4", {{"amount", "300"}, {"dealstage", "closedlost"},
                {"closedate", FormatIsoMs(kNow - 10 * kDayMs)}}),
      Obj("5", {{"amount", "250"}, {"dealstage", "appointmentscheduled"}}),
      Obj("6", {{"amount", std::nullopt}, {"dealstage", "qualifiedtobuy"}}),
  };
  auto f = ComputeAggregates(All(), Ptrs(deals), {}, {}, kNow);
  EXPECT_EQ(f["deals.won_amount_last_12m"], FactValue::Number(1000));
  EXPECT_EQ(f["deals.won_amount_prev_12m"], FactValue::Number(500.5));
  EXPECT_EQ(f["deals.open_amount"], FactValue::Number(250));
  EXPECT_EQ(f["deals.open_count"], FactValue::Number(2));
}

TEST(Facts, ActiveContactsAndExecutiveSponsor) {
  std::vector<CrmObject> contacts = {
      Obj("1", {{"jobtitle", "VP Sales"}, {"lastmodifieddate", FormatIsoMs(kNow - 5 * kDayMs)}}),
      Obj("2", {{"jobtitle", "Engineer"},
                {"lastmodifieddate", FormatIsoMs(kNow - 200 * kDayMs)},
                {"notes_last_contacted", FormatIsoMs(kNow - 30 * kDayMs)}}),
      Obj("3", {{"jobtitle", "MVP developer"},
                {"lastmodifieddate", FormatIsoMs(kNow - 100 * kDayMs)}}),
  };
  auto f = ComputeAggregates(All(), {}, Ptrs(contacts), {}, kNow);
  EXPECT_EQ(f["contacts.count"], FactValue::Number(3));
  EXPECT_EQ(f["contacts.active_count"], FactValue::Number(2));
  EXPECT_EQ(f["contacts.exec_sponsor"], FactValue::Bool(true));
  contacts.erase(contacts.begin());
  auto g = ComputeAggregates(All(), {}, Ptrs(contacts), {}, kNow);
  EXPECT_EQ(g["contacts.exec_sponsor"], FactValue::Bool(false));
}

TEST(Facts, ExecutiveTitlesMatchWholeWords) {
  for (const char* t : {"CEO", "Chief Revenue Officer", "cfo & co-founder", "President",
                        "Vice President, Sales", "Managing Director", "Head of Procurement",
                        "SVP Operations", "CTO"}) {
    EXPECT_TRUE(IsExecutiveTitle(t)) << t;
  }
  for (const char* t : {"", "Engineer", "MVP developer", "Vpn admin", "Director", "Headcount analyst",
                        "Coordinator"}) {
    EXPECT_FALSE(IsExecutiveTitle(t)) << t;
  }
}

TEST(Facts, MeetingsDaysSinceLastIsNullWithoutPastMeetings) {
  std::vector<CrmObject> meetings = {
      Obj("1", {{"hs_timestamp", FormatIsoMs(kNow + 3 * kDayMs)}}),  // future
  };
  auto f = ComputeAggregates(All(), {}, {}, Ptrs(meetings), kNow);
  EXPECT_EQ(f["meetings.days_since_last"], FactValue::Null());
  EXPECT_EQ(f["meetings.count_last_90d"], FactValue::Number(0));
  meetings.push_back(Obj("2", {{"hs_timestamp", FormatIsoMs(kNow - 12 * kDayMs - 1000)}}));
  meetings.push_back(Obj("3", {{"hs_timestamp", FormatIsoMs(kNow - 120 * kDayMs)}}));
  auto g = ComputeAggregates(All(), {}, {}, Ptrs(meetings), kNow);
  EXPECT_EQ(g["meetings.days_since_last"], FactValue::Number(12));
  EXPECT_EQ(g["meetings.count_last_90d"], FactValue::Number(1));
}

TEST(Facts, OnlyRequestedAggregatesAreReturned) {
  auto f = ComputeAggregates({"deals.open_count"}, {}, {}, {}, kNow);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f["deals.open_count"], FactValue::Number(0));
  EXPECT_TRUE(IsKnownAggregate("contacts.exec_sponsor"));
  EXPECT_FALSE(IsKnownAggregate("contacts.vip"));
}

}  // namespace
}  // namespace kam::hubspot::internal
