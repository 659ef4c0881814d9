// Salesforce date/datetime text on std::chrono calendar types.
#include "time_format.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace kam::salesforce::internal {
namespace {

using namespace std::chrono;

// Reads exactly `n` digits at text[pos].
std::optional<int> Digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(text.data() + pos, text.data() + pos + n, v);
  if (ec != std::errc() || p != text.data() + pos + n) return std::nullopt;
  return v;
}

struct Civil {
  year_month_day date;
  milliseconds time_of_day{0};
};

Civil ToCivil(int64_t epoch_ms) {
  const sys_time<milliseconds> tp{milliseconds(epoch_ms)};
  const sys_days day = floor<days>(tp);
  return {year_month_day{day}, tp - day};
}

}  // namespace

std::optional<int64_t> ParseTimeMs(std::string_view t) {
  auto y = Digits(t, 0, 4), mo = Digits(t, 5, 2), d = Digits(t, 8, 2);
  if (!y || !mo || !d || t.size() < 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)},
                           day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  milliseconds ms = duration_cast<milliseconds>(sys_days{ymd}.time_since_epoch());
  if (t.size() == 10) return ms.count();
  if (t[10] != 'T' && t[10] != ' ') return std::nullopt;
  auto h = Digits(t, 11, 2), mi = Digits(t, 14, 2), s = Digits(t, 17, 2);
  if (!h || !mi || !s || t.size() < 19 || t[13] != ':' || t[16] != ':' || *h > 23 || *mi > 59 ||
      *s > 60) {
    return std::nullopt;
  }
  ms += hours(*h) + minutes(*mi) + seconds(*s);
  std::size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int scale = 100;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      ms += milliseconds((t[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
  }
  if (pos == t.size() || t.substr(pos) == "Z") return ms.count();
  if (t[pos] != '+' && t[pos] != '-') return std::nullopt;
  const int sign = t[pos] == '+' ? 1 : -1;
  auto oh = Digits(t, pos + 1, 2);
  std::size_t mpos = pos + 3;
  if (mpos < t.size() && t[mpos] == ':') ++mpos;
  auto om = Digits(t, mpos, 2);
  if (!oh || !om || mpos + 2 != t.size()) return std::nullopt;
  ms -= sign * (hours(*oh) + minutes(*om));
  return ms.count();
}

std::string SoqlDateTime(int64_t epoch_ms) {
  const Civil c = ToCivil(epoch_ms);
  const hh_mm_ss<milliseconds> tod{c.time_of_day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(c.date.year()),
                unsigned(c.date.month()), unsigned(c.date.day()), int(tod.hours().count()),
                int(tod.minutes().count()), int(tod.seconds().count()));
  return buf;
}

std::string SoqlDate(int64_t epoch_ms) { return SoqlDateTime(epoch_ms).substr(0, 10); }

std::string IsoDateTime(int64_t epoch_ms) {
  const Civil c = ToCivil(epoch_ms);
  const hh_mm_ss<milliseconds> tod{c.time_of_day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(c.date.year()),
                unsigned(c.date.month()), unsigned(c.date.day()), int(tod.hours().count()),
                int(tod.minutes().count()), int(tod.seconds().count()),
                int(tod.subseconds().count()));
  return buf;
}

}  // namespace kam::salesforce::internal
