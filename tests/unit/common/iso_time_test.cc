// ISO 8601 instants as the CRMs and rule files write them.
#include "kam/common/iso_time.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace kam::common {
namespace {

constexpr int64_t k20240501T10 = 1714557600000;  // 2024-05-01T10:00:00Z

TEST(IsoTime, ReadsTheFormsEachCrmSends) {
  EXPECT_EQ(ParseIsoMs("2024-05-01T10:00:00Z"), k20240501T10);            // SOQL, HubSpot
  EXPECT_EQ(ParseIsoMs("2024-05-01T10:00:00.123Z"), k20240501T10 + 123);  // HubSpot
  EXPECT_EQ(ParseIsoMs("2024-05-01T10:00:00.000+0000"), k20240501T10);    // Salesforce
  EXPECT_EQ(ParseIsoMs("2024-05-01T12:00:00+02:00"), k20240501T10);       // offsets
  EXPECT_EQ(ParseIsoMs("2024-05-01T07:30:00-02:30"), k20240501T10);
  EXPECT_EQ(ParseIsoMs("2024-05-01T12:00+02"), k20240501T10);              // no seconds
  EXPECT_EQ(ParseIsoMs("2024-05-01 10:00:00"), k20240501T10);              // no zone: UTC
  EXPECT_EQ(ParseIsoMs("2024-05-01T10:00:00.1239Z"), k20240501T10 + 123);  // cut, not rounded
  EXPECT_EQ(ParseIsoMs("2024-05-01"), k20240501T10 - 10 * 3'600'000);      // a date
  EXPECT_EQ(ParseIsoMs("1969-12-31T23:59:59.999Z"), -1);                   // before 1970
}

TEST(IsoTime, RefusesWhatIsNotAnInstant) {
  for (const char* bad :
       {"", "2024", "2024-5-01", "2024-05-01T", "2024-05-01T10", "2024-05-01T10:00:00.Z",
        "2024-05-01T24:00:00Z", "2024-05-01T10:60Z", "2023-02-29", "2024-13-01", "2024-04-31",
        "2024-05-01T10:00:00+2", "2024-05-01T10:00:00Zjunk", "2024-05-01T10:00:00+02:00x",
        "1714557600000", "2024-05-01T10:00:00+24:00"}) {
    EXPECT_EQ(ParseIsoMs(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseIsoMs("2024-02-29"), ParseIsoMs("2024-03-01").value() - kDayMs);  // leap day
}

TEST(IsoTime, FormatsInTheThreeShapes) {
  EXPECT_EQ(FormatIsoMs(k20240501T10 + 123), "2024-05-01T10:00:00.123Z");
  EXPECT_EQ(FormatIsoSeconds(k20240501T10 + 123), "2024-05-01T10:00:00Z");
  EXPECT_EQ(FormatIsoDate(k20240501T10), "2024-05-01");
  EXPECT_EQ(FormatIsoMs(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIsoDate(0), "1970-01-01");
}

TEST(IsoTime, FormatThenParseGivesTheSameInstantOverFourCenturies) {
  std::mt19937_64 rng(20261203);
  std::uniform_int_distribution<int64_t> any(-6'000'000'000'000, 7'000'000'000'000);
  for (int i = 0; i < 20000; ++i) {
    const int64_t ms = any(rng);
    ASSERT_EQ(ParseIsoMs(FormatIsoMs(ms)), ms) << FormatIsoMs(ms);
  }
}

TEST(IsoTime, CivilDaysRoundTripAndMatchKnownDays) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  for (int64_t d = -800'000; d <= 800'000; d += 997) {
    const CivilDate c = CivilFromDays(d);
    ASSERT_EQ(DaysFromCivil(c.year, c.month, c.day), d);
  }
  EXPECT_EQ(FloorDiv(-1, kDayMs), -1);
  EXPECT_EQ(FloorDiv(kDayMs, kDayMs), 1);
}

}  // namespace
}  // namespace kam::common
