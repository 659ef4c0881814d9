// SOQL text: literal escaping, field-name checks, IN-list chunking within the URL and id-count
// bounds, the keyset pull query and the fact aggregates.
#include "soql.h"

#include <gtest/gtest.h>

#include "kam/http/encoding.h"
#include "time_format.h"

namespace kam::salesforce::internal {
namespace {

TEST(SoqlQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Quote("O'Brien"), "'O\\'Brien'");
  EXPECT_EQ(Quote("a\\b"), "'a\\\\b'");
  EXPECT_EQ(Quote("say \"hi\"\n\t"), "'say \\\"hi\\\"\\n\\t'");
  EXPECT_EQ(Quote("' OR Name != '"), "'\\' OR Name != \\''");
}

TEST(SoqlFieldName, AcceptsApiNamesAndRejectsInjection) {
  EXPECT_TRUE(IsFieldName("AnnualRevenue"));
  EXPECT_TRUE(IsFieldName("KAM_Score__c"));
  EXPECT_TRUE(IsFieldName("Owner.Name"));
  EXPECT_FALSE(IsFieldName(""));
  EXPECT_FALSE(IsFieldName("_x"));
  EXPECT_FALSE(IsFieldName("Name FROM User --"));
  EXPECT_FALSE(IsFieldName("Name,Id"));
}

TEST(SoqlChunkInQueries, SplitsByEncodedLengthAndKeepsEveryValueOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("001000000000" + std::to_string(100000 + i));
  ids.push_back(ids.front());  // a duplicate is sent once
  const std::string tmpl = "SELECT Id FROM Account WHERE Id IN ({in})";
  auto q = ChunkInQueries(tmpl, ids, 4000, 2000);
  ASSERT_TRUE(q.ok()) << q.error().message;
  ASSERT_GT(q->size(), 1u);
  std::size_t total = 0;
  for (const auto& s : *q) {
    EXPECT_LE(kam::http::PercentEncodedSize(s), 4000u);
    EXPECT_EQ(s.rfind("SELECT Id FROM Account WHERE Id IN ('", 0), 0u);
    EXPECT_EQ(s.back(), ')');
    total += static_cast<std::size_t>(std::count(s.begin(), s.end(), ',')) + 1;
  }
  EXPECT_EQ(total, 1000u);
}

TEST(SoqlChunkInQueries, HonoursTheValueCountBound) {
  std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
  auto q = ChunkInQueries("X IN ({in})", ids, 100000, 2);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0], "X IN ('a','b')");
  EXPECT_EQ((*q)[2], "X IN ('e')");
}

TEST(SoqlChunkInQueries, RefusesAValueThatCannotFitAndATemplateWithoutPlaceholder) {
  EXPECT_FALSE(ChunkInQueries("X IN ({in})", {std::string(500, 'a')}, 100, 10).ok());
  EXPECT_FALSE(ChunkInQueries("X IN (a)", {"a"}, 100, 10).ok());
  auto empty = ChunkInQueries("X IN ({in})", {}, 100, 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SoqlAccountPull, FullPullHasNoWhereAndOrdersByModstampThenId) {
  EXPECT_EQ(AccountPullQuery({"Name", "Id"}, Cursor{}, true, 50000),
            "SELECT Id, OwnerId, SystemModstamp, IsDeleted, Name FROM Account ORDER BY "
            "SystemModstamp, Id LIMIT 50000");
}

TEST(SoqlAccountPull, KeysetContinuesAfterTheLastTimestampAndId) {
  const int64_t t = *ParseTimeMs("2024-05-01T10:00:00.000+0000");
  EXPECT_EQ(AccountPullQuery({}, Cursor{t, "001A"}, false, 10),
            "SELECT Id, OwnerId, SystemModstamp FROM Account WHERE (SystemModstamp > "
            "2024-05-01T10:00:00Z OR (SystemModstamp = 2024-05-01T10:00:00Z AND Id > '001A')) "
            "ORDER BY SystemModstamp, Id LIMIT 10");
  EXPECT_NE(AccountPullQuery({}, Cursor{t, ""}, false, 10)
                .find("WHERE SystemModstamp >= 2024-05-01T10:00:00Z ORDER BY"),
            std::string::npos);
}

TEST(SoqlFacts, OnlyTheQueriesTheAggregatesNeedWithTheirWindows) {
  const int64_t now = *ParseTimeMs("2026-12-03T12:00:00Z");
  auto q = FactQueries({"deals.won_amount_last_12m", "deals.won_amount_prev_12m"}, now);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].soql_template,
            "SELECT AccountId, SUM(Amount) total FROM Opportunity WHERE IsWon = true AND "
            "CloseDate > 2025-12-03 AND CloseDate <= 2026-12-03 AND AccountId IN ({in}) GROUP "
            "BY AccountId");
  EXPECT_NE(q[1].soql_template.find("CloseDate > 2024-12-03 AND CloseDate <= 2025-12-03"),
            std::string::npos);
  auto all = FactQueries(
      {"deals.open_amount", "deals.open_count", "contacts.count", "contacts.active_count",
       "contacts.exec_sponsor", "meetings.days_since_last", "meetings.count_last_90d"},
      now);
  EXPECT_EQ(all.size(), 6u);  // open amount and count share one query
  for (const auto& f : all) {
    EXPECT_NE(f.soql_template.find("AccountId IN ({in})"), std::string::npos);
    EXPECT_EQ(f.aggregate, f.kind != FactQuery::Kind::kExecCandidates);
  }
  EXPECT_TRUE(FactQueries({}, now).empty());
}

TEST(TimeFormat, ParsesSalesforceOffsetsAndFormatsSoqlLiterals) {
  const auto a = ParseTimeMs("2024-05-01T10:00:00.000+0000");
  const auto b = ParseTimeMs("2024-05-01T12:00:00.000+02:00");
  const auto c = ParseTimeMs("2024-05-01T10:00:00Z");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(*a, 1714557600000);
  EXPECT_EQ(ParseTimeMs("2024-05-10"), 1715299200000);
  EXPECT_FALSE(ParseTimeMs("2024-02-30"));
  EXPECT_FALSE(ParseTimeMs("yesterday"));
  EXPECT_EQ(SoqlDateTime(1714557600123), "2024-05-01T10:00:00Z");
  EXPECT_EQ(SoqlDate(1714557600123), "2024-05-01");
  EXPECT_EQ(IsoDateTime(1714557600123), "2024-05-01T10:00:00.123Z");
}

}  // namespace
}  // namespace kam::salesforce::internal
