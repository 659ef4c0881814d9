// The sandbox's SOQL parser: the query forms the Salesforce connector and jsforce send, and
// MALFORMED_QUERY for what the sandbox does not support.
#include "sf_soql.h"

#include <gtest/gtest.h>

namespace kam::sandbox::soql {
namespace {

Query MustParse(const std::string& text) {
  Query q;
  std::string error;
  EXPECT_TRUE(Parse(text, &q, &error)) << text << "\n" << error;
  return q;
}

std::string ErrorOf(const std::string& text) {
  Query q;
  std::string error;
  EXPECT_FALSE(Parse(text, &q, &error)) << text;
  return error;
}

TEST(SfSoqlParser, ReadsTheIncrementalKeysetQuery) {
  Query q = MustParse(
      "SELECT Id, Name, AnnualRevenue, OwnerId, SystemModstamp FROM Account "
      "WHERE SystemModstamp > 2024-05-01T10:00:00Z OR (SystemModstamp = 2024-05-01T10:00:00Z "
      "AND Id > '001Kd0000000001AAA') ORDER BY SystemModstamp, Id LIMIT 2000");
  ASSERT_EQ(q.select.size(), 5u);
  EXPECT_EQ(q.from, "Account");
  ASSERT_TRUE(q.where);
  EXPECT_EQ(q.where->op, Cond::kOr);
  ASSERT_EQ(q.where->kids.size(), 2u);
  EXPECT_EQ(q.where->kids[0].values[0].kind, Value::kDateTime);
  EXPECT_EQ(q.where->kids[0].values[0].text, "2024-05-01T10:00:00.000+0000");
  EXPECT_EQ(q.where->kids[1].op, Cond::kAnd);
  ASSERT_EQ(q.order_by.size(), 2u);
  EXPECT_FALSE(q.order_by[0].desc);
  EXPECT_EQ(*q.limit, 2000);
  EXPECT_FALSE(q.has_aggregates());
}

TEST(SfSoqlParser, ReadsAggregatesWithAliasesGroupByAndInLists) {
  Query q = MustParse(
      "select AccountId, SUM(Amount) total, count(Id), MAX(CloseDate) last from Opportunity "
      "where IsClosed = false and AccountId IN ('001Kd0000000001AAA', '001Kd0000000002AAA') "
      "group by AccountId");
  ASSERT_EQ(q.select.size(), 4u);
  EXPECT_EQ(q.select[1].func, "SUM");
  EXPECT_EQ(q.select[1].alias, "total");
  EXPECT_EQ(q.select[2].func, "COUNT");
  EXPECT_EQ(q.select[2].alias, "");
  EXPECT_EQ(q.select[3].alias, "last");
  ASSERT_EQ(q.group_by.size(), 1u);
  EXPECT_TRUE(q.has_aggregates());
  ASSERT_EQ(q.where->kids.size(), 2u);
  EXPECT_EQ(q.where->kids[0].values[0].kind, Value::kBool);
  EXPECT_EQ(q.where->kids[1].op, Cond::kIn);
  EXPECT_EQ(q.where->kids[1].values.size(), 2u);
}

TEST(SfSoqlParser, CountWithoutFieldIsACountOnlyQuery) {
  Query q = MustParse("SELECT COUNT() FROM Contact WHERE AccountId != null");
  EXPECT_TRUE(q.count_only);
  EXPECT_EQ(q.where->cmp, "!=");
  EXPECT_EQ(q.where->values[0].kind, Value::kNull);
  EXPECT_NE(ErrorOf("SELECT COUNT(), Id FROM Contact").find("COUNT()"), std::string::npos);
}

TEST(SfSoqlParser, UnescapesStringLiteralsAndKeepsLikeEscapes) {
  Query q = MustParse(
      R"(SELECT Id FROM Account WHERE Name = 'O\'Brien \\ \"Co\"\n' OR Name LIKE '50\%%')");
  EXPECT_EQ(q.where->kids[0].values[0].text, "O'Brien \\ \"Co\"\n");
  EXPECT_EQ(q.where->kids[1].op, Cond::kLike);
  EXPECT_EQ(q.where->kids[1].values[0].text, "50\\%%");
  EXPECT_NE(ErrorOf(R"(SELECT Id FROM Account WHERE Name = 'a\qb')").find("Illegal character"),
            std::string::npos);
  EXPECT_NE(ErrorOf("SELECT Id FROM Account WHERE Name = 'open").find("unterminated"),
            std::string::npos);
}

TEST(SfSoqlParser, ReadsDateLiteralsNumbersAndOrderingOptions) {
  Query q = MustParse(
      "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:365 AND CreatedDate < TODAY AND "
      "Amount >= -12.5 AND CloseDate > 2025-01-31 ORDER BY Amount DESC NULLS LAST, Name ASC "
      "NULLS FIRST LIMIT 10 OFFSET 20");
  const auto& k = q.where->kids;
  EXPECT_EQ(k[0].values[0].kind, Value::kDateLiteral);
  EXPECT_EQ(k[0].values[0].text, "LAST_N_DAYS");
  EXPECT_EQ(k[0].values[0].n, 365);
  EXPECT_EQ(k[1].values[0].text, "TODAY");
  EXPECT_DOUBLE_EQ(k[2].values[0].number, -12.5);
  EXPECT_EQ(k[3].values[0].kind, Value::kDate);
  EXPECT_TRUE(q.order_by[0].desc);
  EXPECT_TRUE(q.order_by[0].nulls_last);
  EXPECT_FALSE(q.order_by[1].nulls_last);
  EXPECT_EQ(*q.offset, 20);
}

TEST(SfSoqlParser, DatetimeLiteralsWithOffsetsAreNormalisedToUtc) {
  Query q = MustParse("SELECT Id FROM Account WHERE SystemModstamp >= 2024-05-01T12:30:00+02:00");
  EXPECT_EQ(q.where->values[0].text, "2024-05-01T10:30:00.000+0000");
  ErrorOf("SELECT Id FROM Account WHERE SystemModstamp >= 2024-05-01T12:30:00");
}

TEST(SfSoqlParser, RejectsWhatTheSandboxDoesNotSupport) {
  for (const char* q :
       {"SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
        "SELECT AccountId, COUNT(Id) FROM Contact GROUP BY AccountId HAVING COUNT(Id) > 1",
        "SELECT FIELDS(ALL) FROM Account LIMIT 200",
        "SELECT CALENDAR_YEAR(CloseDate) FROM Opportunity", "SELECT Id FROM Account FOR UPDATE",
        "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
        "SELECT Id FRM Account", "SELECT Id FROM Account WHERE", "SELECT Id FROM Account LIMIT ten",
        "UPDATE Account SET Name = 'x'"}) {
    const std::string e = ErrorOf(q);
    EXPECT_NE(e.find("ERROR at Row:1:Column:"), std::string::npos) << q << "\n" << e;
  }
}

TEST(SfSoqlDates, FormatsAndParsesSalesforceDatetimes) {
  EXPECT_EQ(SfDateTime(1714557600000), "2024-05-01T10:00:00.000+0000");
  EXPECT_EQ(SfDate(1714557600000), "2024-05-01");
  int64_t ms = 0;
  ASSERT_TRUE(ParseSfDateTime("2024-05-01T10:00:00.000+0000", &ms));
  EXPECT_EQ(ms, 1714557600000);
  ASSERT_TRUE(ParseSfDateTime("2024-05-01T12:00:00+02:00", &ms));
  EXPECT_EQ(ms, 1714557600000);
  ASSERT_TRUE(ParseSfDateTime("2024-05-01T10:00Z", &ms));
  EXPECT_FALSE(ParseSfDateTime("2024-05-01 10:00:00Z", &ms));
  EXPECT_FALSE(ParseSfDate("2024-13-01", &ms));
}

TEST(SfSoqlDates, DateLiteralRangesAreWholeUtcDays) {
  const int64_t now = 1714557600000;  // 2024-05-01T10:00Z
  const int64_t day = 86400000;
  const int64_t today = 1714521600000;
  int64_t s = 0, e = 0;
  Value v;
  v.kind = Value::kDateLiteral;
  v.text = "TODAY";
  DateLiteralRange(v, now, &s, &e);
  EXPECT_EQ(s, today);
  EXPECT_EQ(e, today + day);
  v.text = "LAST_N_DAYS";
  v.n = 90;
  DateLiteralRange(v, now, &s, &e);
  EXPECT_EQ(s, today - 90 * day);
  EXPECT_EQ(e, today + day);
  v.text = "LAST_N_MONTHS";
  v.n = 12;
  DateLiteralRange(v, now, &s, &e);
  EXPECT_EQ(SfDate(s), "2023-05-01");
  EXPECT_EQ(SfDate(e), "2024-05-01");
  v.text = "THIS_YEAR";
  DateLiteralRange(v, now, &s, &e);
  EXPECT_EQ(SfDate(s), "2024-01-01");
  EXPECT_EQ(SfDate(e), "2025-01-01");
}

}  // namespace
}  // namespace kam::sandbox::soql
