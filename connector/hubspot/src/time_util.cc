// HubSpot's instants on the shared ISO 8601 reader/writer (common/iso_time.h); what is HubSpot's
// own is the all-digit epoch-milliseconds form.
#include "time_util.h"

#include "kam/common/iso_time.h"

namespace kam::hubspot::internal {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) { return common::DaysFromCivil(y, m, d); }

std::optional<int64_t> ParseTimeMs(std::string_view s) {
  const size_t start = !s.empty() && s[0] == '-' ? 1 : 0;
  if (start == s.size()) return std::nullopt;
  bool all_digits = true;
  for (size_t i = start; i < s.size() && all_digits; ++i) all_digits = s[i] >= '0' && s[i] <= '9';
  if (!all_digits) return common::ParseIsoMs(s);
  if (s.size() - start > 18) return std::nullopt;
  int64_t v = 0;
  for (size_t i = start; i < s.size(); ++i) v = v * 10 + (s[i] - '0');
  return start != 0 ? -v : v;
}

std::string FormatIsoMs(int64_t epoch_ms) { return common::FormatIsoMs(epoch_ms); }

}  // namespace kam::hubspot::internal
