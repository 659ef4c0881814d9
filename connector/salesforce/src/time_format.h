// Salesforce dates and datetimes <-> epoch milliseconds (CRM_API B1, B4): answers carry
// "2024-05-01T10:00:00.000+0000" (offset without colon) and dates "2024-05-10"; SOQL literals
// are unquoted "2024-05-01T10:00:00Z" and "2024-05-01". Built on <chrono> calendar types.
#ifndef KAM_SALESFORCE_SRC_TIME_FORMAT_H_
#define KAM_SALESFORCE_SRC_TIME_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kam::salesforce::internal {

// "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hhmm|+hh:mm|-...)".
std::optional<int64_t> ParseTimeMs(std::string_view text);

// SOQL datetime literal, whole seconds (Salesforce stores datetimes to the second):
// "2024-05-01T10:00:00Z". Fractions are cut (floor).
std::string SoqlDateTime(int64_t epoch_ms);
// SOQL date literal of the UTC day: "2024-05-01".
std::string SoqlDate(int64_t epoch_ms);
// A datetime value to write: "2024-05-01T10:00:00.000Z".
std::string IsoDateTime(int64_t epoch_ms);

}  // namespace kam::salesforce::internal

#endif  // KAM_SALESFORCE_SRC_TIME_FORMAT_H_
