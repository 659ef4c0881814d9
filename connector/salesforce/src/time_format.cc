// Salesforce date/datetime text on the shared ISO 8601 reader/writer (common/iso_time.h), which
// reads Salesforce's "+0000" offsets too.
#include "time_format.h"

#include "kam/common/iso_time.h"

namespace kam::salesforce::internal {

std::optional<int64_t> ParseTimeMs(std::string_view text) { return common::ParseIsoMs(text); }

std::string SoqlDateTime(int64_t epoch_ms) { return common::FormatIsoSeconds(epoch_ms); }

std::string SoqlDate(int64_t epoch_ms) { return common::FormatIsoDate(epoch_ms); }

std::string IsoDateTime(int64_t epoch_ms) { return common::FormatIsoMs(epoch_ms); }

}  // namespace kam::salesforce::internal
