// Calendar arithmetic and the ISO 8601 text of instants, shared by the rules, the connectors and
// the sandbox (each CRM and the rule files write dates a little differently; this reads them
// all). Instants are milliseconds since 1970-01-01T00:00:00Z; dates are proleptic Gregorian.
#ifndef KAM_COMMON_ISO_TIME_H_
#define KAM_COMMON_ISO_TIME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kam::common {

inline constexpr int64_t kDayMs = 86'400'000;

struct CivilDate {
  int64_t year = 1970;
  unsigned month = 1;  // 1-12
  unsigned day = 1;    // 1-31
};

// Days since 1970-01-01 of year-month-day (month 1-12, day 1-31; not checked).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// The date of a day number (days since 1970-01-01, negative before).
CivilDate CivilFromDays(int64_t days);

// a / b rounded towards negative infinity (b > 0): the day of an instant before 1970 too.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Reads "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DD" + 'T' or ' ' + "HH:MM[:SS[.fraction]]"
// followed by "Z", an offset "+hh", "+hhmm" or "+hh:mm" (or '-'), or nothing (UTC). Digits
// beyond milliseconds are cut. nullopt for anything else, including impossible dates
// (2023-02-29) and times (24:00).
std::optional<int64_t> ParseIsoMs(std::string_view text);

std::string FormatIsoMs(int64_t epoch_ms);       // "2024-05-01T10:00:00.123Z"
std::string FormatIsoSeconds(int64_t epoch_ms);  // "2024-05-01T10:00:00Z"
std::string FormatIsoDate(int64_t epoch_ms);     // "2024-05-01"

}  // namespace kam::common

#endif  // KAM_COMMON_ISO_TIME_H_
