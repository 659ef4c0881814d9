// The incremental pull's windowing against an in-memory search with HubSpot's semantics:
// ascending sort on one property with ties in an order that differs between queries, offset
// paging, and a 400 when after + limit passes 10,000.
#include "pull.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "time_util.h"

namespace kam::hubspot::internal {
namespace {

struct Rec {
  int64_t id;
  int64_t m;
};

class FakeSearch {
 public:
  std::vector<Rec> recs;
  int64_t calls = 0;
  int64_t max_after_plus_limit = 0;
  std::function<void(FakeSearch&)> between_calls;  // simulates concurrent edits

  Result<SearchPage> operator()(const SearchRequest& r) {
    ++calls;
    if (between_calls) between_calls(*this);
    max_after_plus_limit = std::max<int64_t>(max_after_plus_limit, r.after + r.limit);
    if (r.after + r.limit > kSearchCap || r.limit > 200) {
      Error e;
      e.code = ErrorCode::kInvalidArgument;
      e.http_status = 400;
      e.message = "search past 10,000";
      return e;
    }
    if (r.groups.size() != 1) return Bad("one group expected");
    std::vector<const Rec*> hits;
    for (const Rec& x : recs) {
      bool ok = true;
      for (const Filter& f : r.groups[0]) {
        const int64_t v = std::stoll(f.value);
        const int64_t have = f.property == "hs_object_id" ? x.id : x.m;
        if (f.op == "GTE") ok &= have >= v;
        else if (f.op == "GT") ok &= have > v;
        else if (f.op == "EQ") ok &= have == v;
        else if (f.op == "LT") ok &= have < v;
        else return Bad("operator " + f.op);
      }
      if (ok) hits.push_back(&x);
    }
    // Ties in an order that depends on the query (its filters), stable across its pages.
    std::string qkey;
    for (const Filter& f : r.groups[0]) qkey += f.property + f.op + f.value;
    const size_t salt = std::hash<std::string>{}(qkey);
    auto tie = [salt](const Rec* x) { return std::hash<int64_t>{}(x->id * 2654435761 + salt); };
    if (r.sort_property == "hs_object_id") {
      std::sort(hits.begin(), hits.end(), [](const Rec* a, const Rec* b) { return a->id < b->id; });
    } else {
      std::sort(hits.begin(), hits.end(), [&](const Rec* a, const Rec* b) {
        if (a->m != b->m) return a->m < b->m;
        return tie(a) < tie(b);
      });
    }
    SearchPage page;
    page.total = static_cast<int64_t>(hits.size());
    for (int64_t i = r.after; i < static_cast<int64_t>(hits.size()) && i < r.after + r.limit; ++i) {
      CrmObject o;
      o.id = std::to_string(hits[i]->id);
      o.properties["hs_lastmodifieddate"] = FormatIsoMs(hits[i]->m);
      o.properties["hs_object_id"] = o.id;
      page.results.push_back(std::move(o));
    }
    if (r.after + r.limit < static_cast<int64_t>(hits.size())) {
      page.after = std::to_string(r.after + r.limit);
    }
    return page;
  }

 private:
  static Error Bad(const std::string& m) {
    Error e;
    e.code = ErrorCode::kInvalidArgument;
    e.message = m;
    return e;
  }
};

constexpr int64_t kBase = 1714557600000;

struct Collected {
  std::map<std::string, int> times_delivered;
  std::vector<Cursor> page_cursors;
  int64_t pages = 0;
};

Result<PullSummary> Pull(FakeSearch& fake, const Cursor& since, Collected* out,
                         int64_t overlap_ms = 0) {
  PullOptions opts;
  opts.properties = {"name"};
  opts.overlap_ms = overlap_ms;
  auto search = [&fake](const SearchRequest& r) { return fake(r); };
  return RunIncrementalPull(search, since, opts, "hs_lastmodifieddate",
                            [out](const CompanyPage& page) -> Status {
                              for (const auto& c : page.companies) ++out->times_delivered[c.id];
                              out->page_cursors.push_back(page.cursor);
                              ++out->pages;
                              return {};
                            });
}

TEST(IncrementalPull, ReadsMoreThanTenThousandChangedCompaniesExactlyOnce) {
  FakeSearch fake;
  // 25,000 companies, 5 per millisecond: ties everywhere, far past the 10,000 cap.
  for (int64_t i = 0; i < 25'000; ++i) fake.recs.push_back({i + 1, kBase + i / 5});
  Collected got;
  auto r = Pull(fake, Cursor{kBase, ""}, &got);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(got.times_delivered.size(), 25'000u);
  for (const auto& [id, n] : got.times_delivered) ASSERT_EQ(n, 1) << id;
  EXPECT_EQ(r->companies, 25'000);
  EXPECT_LE(fake.max_after_plus_limit, kSearchCap);
  EXPECT_EQ(r->cursor.modified_ms, kBase + 24'999 / 5);
  // Cursors never go backwards.
  for (size_t i = 1; i < got.page_cursors.size(); ++i) {
    EXPECT_FALSE(CursorLess(got.page_cursors[i], got.page_cursors[i - 1]));
  }
}

TEST(IncrementalPull, SplitsByIdWhenMoreThanTenThousandShareOneTimestamp) {
  FakeSearch fake;
  int64_t id = 1;
  for (int i = 0; i < 300; ++i) fake.recs.push_back({id++, kBase - 1000 + i});  // before
  for (int i = 0; i < 12'345; ++i) fake.recs.push_back({id++, kBase});          // one bulk import
  for (int i = 0; i < 500; ++i) fake.recs.push_back({id++, kBase + 1 + i / 3});  // after
  std::shuffle(fake.recs.begin(), fake.recs.end(), std::mt19937(7));
  Collected got;
  auto r = Pull(fake, Cursor{kBase - 1000, ""}, &got);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(got.times_delivered.size(), fake.recs.size());
  for (const auto& [rid, n] : got.times_delivered) ASSERT_EQ(n, 1) << rid;
  EXPECT_GE(r->id_split_windows, 1);
  EXPECT_LE(fake.max_after_plus_limit, kSearchCap);
}

TEST(IncrementalPull, OverlapRereadsRecentRecordsWithoutDuplicatesInOneRun) {
  FakeSearch fake;
  for (int64_t i = 0; i < 1000; ++i) fake.recs.push_back({i + 1, kBase + i * 1000});
  Collected got;
  auto r = Pull(fake, Cursor{kBase + 500'000, "501"}, &got, /*overlap_ms=*/10'000);
  ASSERT_TRUE(r.ok());
  // From 490,000 ms on: records 491..1000 (ids), each once.
  EXPECT_EQ(got.times_delivered.size(), 510u);
  EXPECT_TRUE(got.times_delivered.count("491"));
  EXPECT_FALSE(got.times_delivered.count("490"));
}

TEST(IncrementalPull, RecordEditedDuringThePullIsDeliveredAgainWithItsNewTimestamp) {
  FakeSearch fake;
  for (int64_t i = 0; i < 2000; ++i) fake.recs.push_back({i + 1, kBase + i});
  int edits = 0;
  fake.between_calls = [&edits](FakeSearch& f) {
    // After the third call, a person edits the first company (already read) and one not yet
    // read moves past the end.
    if (f.calls == 3 && edits == 0) {
      f.recs[0].m = kBase + 5000;
      f.recs[1999].m = kBase + 5001;
      ++edits;
    }
  };
  Collected got;
  auto r = Pull(fake, Cursor{kBase, ""}, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got.times_delivered.size(), 2000u);  // nothing skipped by shifting offsets
  EXPECT_EQ(got.times_delivered["1"], 2);        // old and new version
  EXPECT_EQ(r->cursor.modified_ms, kBase + 5001);
}

TEST(IncrementalPull, CallbackErrorStopsThePull) {
  FakeSearch fake;
  for (int64_t i = 0; i < 1000; ++i) fake.recs.push_back({i + 1, kBase + i});
  PullOptions opts;
  int pages = 0;
  auto search = [&fake](const SearchRequest& r) { return fake(r); };
  auto r = RunIncrementalPull(search, Cursor{}, opts, "hs_lastmodifieddate",
                              [&pages](const CompanyPage&) -> Status {
                                if (++pages == 2) {
                                  Error e;
                                  e.code = ErrorCode::kCancelled;
                                  e.message = "stop";
                                  return e;
                                }
                                return {};
                              });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(pages, 2);
}

TEST(IncrementalPull, SearchErrorIsReturned) {
  PullOptions opts;
  auto search = [](const SearchRequest&) -> Result<SearchPage> {
    Error e;
    e.code = ErrorCode::kUnavailable;
    e.http_status = 503;
    e.message = "down";
    return e;
  };
  auto r = RunIncrementalPull(search, Cursor{}, opts, "hs_lastmodifieddate", nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 503);
}

TEST(IncrementalPull, EmptyResultKeepsTheCursor) {
  FakeSearch fake;
  Collected got;
  auto r = Pull(fake, Cursor{kBase, "7"}, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cursor.modified_ms, kBase);
  EXPECT_EQ(r->cursor.id, "7");
  EXPECT_EQ(got.pages, 0);
}

}  // namespace
}  // namespace kam::hubspot::internal
