#include "time_util.h"

#include <gtest/gtest.h>

namespace kam::hubspot::internal {
namespace {

TEST(TimeUtil, ParsesIsoWithMillisecondsAndZ) {
  EXPECT_EQ(ParseTimeMs("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(ParseTimeMs("2019-10-30T03:30:17.883Z"), 1572406217883);
}

TEST(TimeUtil, ParsesDatesEpochStringsAndOffsets) {
  EXPECT_EQ(ParseTimeMs("2024-05-01"), 1714521600000);
  EXPECT_EQ(ParseTimeMs("1714521600000"), 1714521600000);
  EXPECT_EQ(ParseTimeMs("2024-05-01T02:00:00+02:00"), 1714521600000);
  EXPECT_EQ(ParseTimeMs("2024-05-01T10:00:00Z"), 1714557600000);
}

TEST(TimeUtil, RejectsGarbage) {
  EXPECT_FALSE(ParseTimeMs(""));
  EXPECT_FALSE(ParseTimeMs("yesterday"));
  EXPECT_FALSE(ParseTimeMs("2024-13-01"));
  EXPECT_FALSE(ParseTimeMs("2024-05-01T10:00:00Q"));
}

TEST(TimeUtil, FormatsRoundTrip) {
  for (int64_t ms : {int64_t{0}, int64_t{1572406217883}, int64_t{1714557600123},
                     int64_t{951782400000} /* 2000-02-29 */}) {
    EXPECT_EQ(ParseTimeMs(FormatIsoMs(ms)), ms) << FormatIsoMs(ms);
  }
  EXPECT_EQ(FormatIsoMs(1572406217883), "2019-10-30T03:30:17.883Z");
}

}  // namespace
}  // namespace kam::hubspot::internal
