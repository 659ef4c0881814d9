// Time helpers of the HubSpot adapter: ISO 8601 / epoch-ms strings <-> epoch milliseconds.
// HubSpot sends datetimes as "2024-05-01T10:00:00.123Z" and accepts epoch-ms strings.
#ifndef KAM_HUBSPOT_SRC_TIME_UTIL_H_
#define KAM_HUBSPOT_SRC_TIME_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kam::hubspot::internal {

// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with "Z" or "+hh:mm"/"-hh:mm" (or no zone =
// UTC), or an all-digit epoch-ms string. nullopt when it is none of these.
std::optional<int64_t> ParseTimeMs(std::string_view text);

// "2024-05-01T10:00:00.123Z".
std::string FormatIsoMs(int64_t epoch_ms);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_TIME_UTIL_H_
