// Internal helpers of kam_http (see util.h).
#include "util.h"

#include "kam/common/iso_time.h"
#include "kam/http/redact.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace kam::http::internal {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (EqualsIgnoreCase(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

Error BadUrl(std::string_view url, std::string_view why) {
  Error e;
  e.kind = ErrorKind::kInvalidArgument;
  e.message = "invalid base URL '" + std::string(url) + "': " + std::string(why) +
              "; expected http(s)://host[:port][/prefix]";
  return e;
}

}  // namespace

std::string Url::Origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(tls ? "https://" : "http://") + h + ":" + port;
}

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((tls && port == "443") || (!tls && port == "80")) return h;
  return h + ":" + port;
}

Result<Url> ParseUrl(std::string_view url) {
  Url out;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return BadUrl(url, "the scheme must be http:// or https://");
  }
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return BadUrl(url, "a base URL takes no query or fragment");
  }
  if (authority.find('@') != std::string_view::npos) {
    return BadUrl(url, "credentials in the URL are not supported");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "unclosed '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl(url, "junk after the IPv6 host");
      port = after.substr(1);
    }
  } else {
    std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return BadUrl(url, "the host is empty");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    auto p = ParseInt(port);
    if (!p || *p <= 0 || *p > 65535) return BadUrl(url, "the port must be 1-65535");
    out.port = std::to_string(*p);
  }
  std::transform(out.host.begin(), out.host.end(), out.host.begin(), Lower);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path_prefix = std::string(path);
  return out;
}

std::string EndpointTemplate(std::string_view method, std::string_view target) {
  if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
    std::size_t scheme_end = target.find("://") + 3;
    std::size_t slash = target.find('/', scheme_end);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  std::size_t q = target.find_first_of("?#");
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::string out(method);
  out += ' ';
  std::size_t i = 0;
  if (target.empty()) out += '/';
  while (i < target.size()) {
    if (target[i] == '/') {
      out += '/';
      ++i;
      continue;
    }
    std::size_t end = target.find('/', i);
    if (end == std::string_view::npos) end = target.size();
    std::string_view seg = target.substr(i, end - i);
    bool digits = std::all_of(seg.begin(), seg.end(),
                              [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (digits) {
      out += "{id}";
    } else {
      out += seg;
    }
    i = end;
  }
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (EqualsIgnoreCase(host, "localhost") || host == "::1") return true;
  if (host.substr(0, 4) != "127.") return false;
  // A dotted quad in 127.0.0.0/8.
  int parts = 0;
  std::size_t i = 0;
  while (i <= host.size()) {
    std::size_t end = host.find('.', i);
    if (end == std::string_view::npos) end = host.size();
    auto v = ParseInt(host.substr(i, end - i));
    if (!v || *v < 0 || *v > 255 || end == i) return false;
    ++parts;
    i = end + 1;
  }
  return parts == 4;
}

bool IsSensitiveHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "authorization") || EqualsIgnoreCase(name, "proxy-authorization") ||
         EqualsIgnoreCase(name, "cookie") || EqualsIgnoreCase(name, "set-cookie") ||
         ContainsIgnoreCase(name, "token") || ContainsIgnoreCase(name, "secret") ||
         ContainsIgnoreCase(name, "api-key") || ContainsIgnoreCase(name, "apikey");
}

std::string RedactSecrets(std::string_view text) {
  std::string out(text);
  RedactPatterns(out);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

namespace {

int MonthIndex(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i) {
    if (EqualsIgnoreCase(m, kMonths[i])) return i + 1;
  }
  return 0;
}

std::optional<int> Digits(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "HH:MM:SS" -> seconds of the day.
std::optional<int> TimeOfDay(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = Digits(s.substr(0, 2)), m = Digits(s.substr(3, 2)), sec = Digits(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return *h * 3600 + *m * 60 + *sec;
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ',' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::optional<int64_t> ParseHttpDate(std::string_view value) {
  const auto w = Words(value);
  std::optional<int> day, month, year, tod;
  if (w.size() == 6 && EqualsIgnoreCase(w[5], "GMT")) {
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    day = Digits(w[1]);
    month = MonthIndex(w[2]);
    year = w[3].size() == 4 ? Digits(w[3]) : std::nullopt;
    tod = TimeOfDay(w[4]);
  } else if (w.size() == 4 && EqualsIgnoreCase(w[3], "GMT")) {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit year: 1970-2069)
    const std::string_view d = w[1];
    if (d.size() == 9 && d[2] == '-' && d[6] == '-') {
      day = Digits(d.substr(0, 2));
      month = MonthIndex(d.substr(3, 3));
      if (auto yy = Digits(d.substr(7, 2))) year = *yy < 70 ? 2000 + *yy : 1900 + *yy;
    }
    tod = TimeOfDay(w[2]);
  } else if (w.size() == 5) {
    // asctime: Sun Nov  6 08:49:37 1994
    month = MonthIndex(w[1]);
    day = Digits(w[2]);
    tod = TimeOfDay(w[3]);
    year = w[4].size() == 4 ? Digits(w[4]) : std::nullopt;
  }
  if (!day || !month || *month == 0 || !year || !tod || *day < 1 || *day > 31) {
    return std::nullopt;
  }
  return common::DaysFromCivil(*year, static_cast<unsigned>(*month),
                               static_cast<unsigned>(*day)) *
             86400 +
         *tod;
}

std::optional<int64_t> ParseRetryAfterMs(std::string_view value,
                                         std::chrono::system_clock::time_point now) {
  constexpr int64_t kDayMs = 86'400'000;
  if (auto seconds = ParseInt(value)) {
    if (*seconds < 0) return std::nullopt;
    if (*seconds > 86'400) return kDayMs;
    return *seconds * 1000;
  }
  auto at = ParseHttpDate(value);
  if (!at) return std::nullopt;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const int64_t delta = *at * 1000 - now_ms;
  return std::clamp<int64_t>(delta, 0, kDayMs);
}

}  // namespace kam::http::internal
