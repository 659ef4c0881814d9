// The incremental-facts tables: FactsStore's totals (one grouped SQL query) against the HubSpot
// connector's own aggregates (ReadFacts's ComputeAggregates) over the same seeded records, with
// dates on and beside every window edge; links replaced per record and per account; dirty marks;
// echoes.
#include "kam/store/facts_store.h"

#include <gtest/gtest.h>

#include <random>

#include "facts.h"
#include "kam/hubspot/types.h"
#include "kam/store/store.h"
#include "time_util.h"

namespace kam::store {
namespace {

using hubspot::CrmObject;
using hubspot::FactValue;
using hubspot::internal::kDayMs;

constexpr int64_t kNow = 1764806399999;  // 2025-12-03T23:59:59.999Z, the end of a UTC day

CrmObject Obj(std::string id, hubspot::Properties props) {
  CrmObject o;
  o.id = std::move(id);
  o.properties = std::move(props);
  return o;
}

// A time on or beside one of the windows' edges, or anywhere in three years, or none.
std::optional<std::string> SomeTime(std::mt19937_64& rng) {
  static const int64_t kEdges[] = {0, 90 * kDayMs, 365 * kDayMs, 730 * kDayMs};
  switch (rng() % 5) {
    case 0:
      return std::nullopt;
    case 1:
    case 2: {
      int64_t edge = kEdges[rng() % 4];
      int64_t delta = static_cast<int64_t>(rng() % 3) - 1;  // -1, 0, +1 ms
      return hubspot::internal::FormatIsoMs(kNow - edge + delta);
    }
    default:
      return hubspot::internal::FormatIsoMs(kNow - static_cast<int64_t>(rng() % (1100 * kDayMs)) +
                                            30 * kDayMs);
  }
}

std::optional<std::string> Maybe(std::mt19937_64& rng, std::optional<std::string> v) {
  return rng() % 4 == 0 ? std::nullopt : v;
}

TEST(FactsStore, TotalsEqualTheConnectorsAggregatesOnEveryWindowEdge) {
  std::mt19937_64 rng(42);
  auto store = Store::Open(":memory:");
  FactsStore facts(*store);
  const char* stages[] = {"closedwon", "closedlost", "appointmentscheduled", "contractsent"};
  const char* titles[] = {"CEO", "Chief Revenue Officer", "Engineer", "VP Sales", "Intern", ""};
  std::map<std::string, std::vector<CrmObject>> deals, contacts, meetings;
  int next = 1;
  for (int a = 0; a < 200; ++a) {
    const std::string account = "a" + std::to_string(a);
    const int nd = static_cast<int>(rng() % 6), nc = static_cast<int>(rng() % 5),
              nm = static_cast<int>(rng() % 5);
    for (int i = 0; i < nd; ++i) {
      deals[account].push_back(Obj(std::to_string(next++),
                                   {{"amount", Maybe(rng, std::to_string(rng() % 100000) + ".25")},
                                    {"dealstage", Maybe(rng, stages[rng() % 4])},
                                    {"hs_is_closed_won", Maybe(rng, rng() % 2 ? "true" : "false")},
                                    {"closedate", SomeTime(rng)}}));
    }
    for (int i = 0; i < nc; ++i) {
      contacts[account].push_back(
          Obj(std::to_string(next++), {{"jobtitle", Maybe(rng, titles[rng() % 6])},
                                       {"lastmodifieddate", SomeTime(rng)},
                                       {"notes_last_contacted", SomeTime(rng)}}));
    }
    for (int i = 0; i < nm; ++i) {
      meetings[account].push_back(
          Obj(std::to_string(next++),
              {{"hs_timestamp", SomeTime(rng)}, {"hs_meeting_start_time", SomeTime(rng)}}));
    }
  }
  {
    Store::Transaction tx(*store);
    for (const auto* group : {&deals, &contacts, &meetings}) {
      const std::string kind = group == &deals      ? "deals"
                               : group == &contacts ? "contacts"
                                                    : "meetings";
      for (const auto& [account, list] : *group) {
        std::vector<std::string> ids;
        for (const auto& o : list) {
          hubspot::FactInput in = hubspot::FactInputOf(kind, o);
          FactRecordRow row;
          row.kind = kind;
          row.id = o.id;
          row.amount = in.amount;
          row.at_ms = in.at_ms;
          row.won = in.won;
          row.closed = in.closed;
          row.executive = in.executive;
          facts.UpsertRecord(row);
          ids.push_back(o.id);
        }
        facts.ReplaceAccountLinks(kind, account, ids);
      }
    }
    tx.Commit();
  }
  std::map<std::string, FactTotals> totals;
  facts.ForEachTotals(kNow, false,
                      [&](const std::string& id, const FactTotals& t) { totals[id] = t; });
  std::set<std::string> names;
  for (const char* n : hubspot::kAggregateNames) names.insert(n);
  auto ptrs = [](const std::vector<CrmObject>& v) {
    std::vector<const CrmObject*> out;
    for (const auto& o : v) out.push_back(&o);
    return out;
  };
  int compared = 0;
  for (int a = 0; a < 200; ++a) {
    const std::string account = "a" + std::to_string(a);
    auto want = hubspot::internal::ComputeAggregates(
        names, ptrs(deals[account]), ptrs(contacts[account]), ptrs(meetings[account]), kNow);
    FactTotals t = totals.count(account) ? totals[account] : FactTotals{};
    SCOPED_TRACE(account);
    EXPECT_NEAR(t.won_last_12m, want["deals.won_amount_last_12m"].number, 1e-6);
    EXPECT_NEAR(t.won_prev_12m, want["deals.won_amount_prev_12m"].number, 1e-6);
    EXPECT_NEAR(t.open_amount, want["deals.open_amount"].number, 1e-6);
    EXPECT_EQ(static_cast<double>(t.open_count), want["deals.open_count"].number);
    EXPECT_EQ(static_cast<double>(t.contacts), want["contacts.count"].number);
    EXPECT_EQ(static_cast<double>(t.active_contacts), want["contacts.active_count"].number);
    EXPECT_EQ(t.exec_sponsor, want["contacts.exec_sponsor"].boolean);
    const FactValue& days = want["meetings.days_since_last"];
    ASSERT_EQ(t.last_meeting_ms.has_value(), days.kind == FactValue::Kind::kNumber);
    if (t.last_meeting_ms) {
      EXPECT_EQ(static_cast<double>((kNow - *t.last_meeting_ms) / kDayMs), days.number);
    }
    EXPECT_EQ(static_cast<double>(t.meetings_last_90d), want["meetings.count_last_90d"].number);
    ++compared;
  }
  EXPECT_EQ(compared, 200);
}

TEST(FactsStore, LinksAreReplacedPerRecordAndPerAccountAndDirtyMarksAndEchoesPersist) {
  auto store = Store::Open(":memory:");
  FactsStore facts(*store);
  FactRecordRow deal;
  deal.kind = "deals";
  deal.id = "d1";
  deal.amount = 10;
  facts.UpsertRecord(deal);
  EXPECT_EQ(facts.Unknown("deals", {"d1", "d2"}), std::vector<std::string>{"d2"});
  EXPECT_TRUE(facts.ReplaceRecordLinks("deals", "d1", {"a", "b"}).empty());
  EXPECT_EQ(facts.ReplaceRecordLinks("deals", "d1", {"c"}), (std::vector<std::string>{"a", "b"}));
  facts.ReplaceAccountLinks("deals", "a", {"d1"});
  EXPECT_EQ(facts.CountLinks("deals"), 2);
  std::map<std::string, double> open;
  facts.ForEachTotals(
      kNow, false, [&](const std::string& id, const FactTotals& t) { open[id] = t.open_amount; });
  EXPECT_EQ(open, (std::map<std::string, double>{{"a", 10}, {"c", 10}}));
  facts.MarkDirty("c");
  facts.MarkDirty("c");
  EXPECT_EQ(facts.Dirty(), std::vector<std::string>{"c"});
  open.clear();
  facts.ForEachTotals(
      kNow, true, [&](const std::string& id, const FactTotals& t) { open[id] = t.open_amount; });
  EXPECT_EQ(open, (std::map<std::string, double>{{"c", 10}}));
  facts.ClearDirty();
  EXPECT_TRUE(facts.Dirty().empty());
  EXPECT_FALSE(facts.Echo("a"));
  facts.SetEcho("a", 123);
  facts.SetEcho("a", 456);
  EXPECT_EQ(facts.Echo("a"), 456);
  facts.Clear();
  EXPECT_EQ(facts.CountRecords("deals"), 0);
  EXPECT_EQ(facts.CountLinks("deals"), 0);
}

}  // namespace
}  // namespace kam::store
