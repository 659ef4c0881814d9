// Internal helpers of kam_http (see util.h).
#include "util.h"

#include "kam/http/redact.h"

#include <algorithm>
#include <cctype>
#include <charconv>

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

std::optional<int64_t> ParseRetryAfterMs(std::string_view value) {
  auto seconds = ParseInt(value);
  if (!seconds || *seconds < 0) return std::nullopt;
  if (*seconds > 86'400) return int64_t{86'400'000};
  return *seconds * 1000;
}

}  // namespace kam::http::internal
