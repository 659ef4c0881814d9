// ISO 8601 instants on std::chrono's calendar types (see iso_time.h).
#include "kam/common/iso_time.h"

#include <chrono>
#include <cstdio>

namespace kam::common {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

// Exactly `n` ASCII digits at text[pos].
bool Digits(std::string_view text, size_t pos, size_t n, int* out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

struct Split {
  CivilDate date;
  int64_t ms_of_day = 0;
};

Split SplitInstant(int64_t epoch_ms) {
  const int64_t day = FloorDiv(epoch_ms, kDayMs);
  return {CivilFromDays(day), epoch_ms - day * kDayMs};
}

// The zone suffix at text[pos]: "Z", "", "+hh", "+hhmm", "+hh:mm" (or '-'); minutes east of UTC.
std::optional<int64_t> ZoneOffsetMinutes(std::string_view text, size_t pos) {
  if (pos == text.size()) return 0;
  if (text[pos] == 'Z') return pos + 1 == text.size() ? std::optional<int64_t>(0) : std::nullopt;
  if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
  int hours = 0;
  int minutes = 0;
  if (!Digits(text, pos + 1, 2, &hours) || hours > 23) return std::nullopt;
  size_t at = pos + 3;
  if (at < text.size()) {
    if (text[at] == ':') ++at;
    if (!Digits(text, at, 2, &minutes) || minutes > 59 || at + 2 != text.size()) {
      return std::nullopt;
    }
  }
  const int64_t total = hours * 60 + minutes;
  return text[pos] == '+' ? total : -total;
}

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  const year_month_day ymd{std::chrono::year{static_cast<int>(year)}, std::chrono::month{month},
                           std::chrono::day{day}};
  return sys_days{ymd}.time_since_epoch().count();
}

CivilDate CivilFromDays(int64_t day_number) {
  const year_month_day ymd{sys_days{days{day_number}}};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day())};
}

std::optional<int64_t> ParseIsoMs(std::string_view s) {
  int y = 0;
  int mo = 0;
  int d = 0;
  if (s.size() < 10 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d)) {
    return std::nullopt;
  }
  const year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                           std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  int64_t ms = sys_days{ymd}.time_since_epoch().count() * kDayMs;
  if (s.size() == 10) return ms;
  int hh = 0;
  int mi = 0;
  int ss = 0;
  if ((s[10] != 'T' && s[10] != ' ') || !Digits(s, 11, 2, &hh) || s.size() < 16 || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || hh > 23 || mi > 59) {
    return std::nullopt;
  }
  size_t pos = 16;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, &ss) || ss > 60) return std::nullopt;
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      const size_t first = ++pos;
      int scale = 100;
      for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos) {
        frac_ms += (s[pos] - '0') * scale;
        scale /= 10;
      }
      if (pos == first) return std::nullopt;
    }
  }
  const auto offset = ZoneOffsetMinutes(s, pos);
  if (!offset) return std::nullopt;
  return ms + ((hh * 60 + mi) * 60 + ss) * 1000LL + frac_ms - *offset * 60'000;
}

std::string FormatIsoMs(int64_t epoch_ms) {
  const Split t = SplitInstant(epoch_ms);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(t.date.year), t.date.month, t.date.day,
                static_cast<long long>(t.ms_of_day / 3'600'000),
                static_cast<long long>(t.ms_of_day / 60'000 % 60),
                static_cast<long long>(t.ms_of_day / 1000 % 60),
                static_cast<long long>(t.ms_of_day % 1000));
  return buf;
}

std::string FormatIsoSeconds(int64_t epoch_ms) {
  std::string text = FormatIsoMs(epoch_ms);
  return text.erase(text.size() - 5, 4);  // drop ".mmm", keep "Z"
}

std::string FormatIsoDate(int64_t epoch_ms) {
  std::string text = FormatIsoMs(epoch_ms);
  return text.substr(0, text.find('T'));
}

}  // namespace kam::common
