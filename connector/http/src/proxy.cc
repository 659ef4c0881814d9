// The outbound proxy (see proxy.h).
#include "proxy.h"

#include <cctype>
#include <cstdlib>

namespace kam::http::internal {
namespace {

std::string Env(const char* upper, const char* lower) {
  for (const char* name : {upper, lower}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Error BadProxy(const std::string& shown, const std::string& why) {
  Error e;
  e.kind = ErrorKind::kInvalidArgument;
  e.message = "invalid proxy URL '" + shown + "' (HTTPS_PROXY or proxy.url): " + why +
              "; expected http://[user:password@]host:port";
  return e;
}

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Proxy::Display() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + port;
}

Result<std::optional<Proxy>> ProxyFor(const ProxyOptions& options) {
  std::string url = options.url;
  std::string no_proxy = options.no_proxy;
  if (options.from_environment) {
    if (url.empty()) url = Env("HTTPS_PROXY", "https_proxy");
    if (no_proxy.empty()) no_proxy = Env("NO_PROXY", "no_proxy");
  }
  if (url.empty()) return std::optional<Proxy>();
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://") {
    return BadProxy("https://…", "only http:// proxies (HTTP CONNECT) are supported");
  }
  if (rest.substr(0, 7) == "http://") rest.remove_prefix(7);
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Proxy p;
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    std::size_t colon = userinfo.find(':');
    p.user = PercentDecode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) p.password = PercentDecode(userinfo.substr(colon + 1));
  }
  auto parsed = ParseUrl("http://" + std::string(authority));
  if (!parsed.ok()) return BadProxy("http://" + std::string(authority), parsed.error().message);
  if (!parsed->path_prefix.empty()) {
    return BadProxy("http://" + std::string(authority), "a proxy URL takes no path");
  }
  p.host = parsed->host;
  p.port = parsed->port;
  if (!p.user.empty() || !p.password.empty()) {
    p.authorization = "Basic " + Base64(p.user + ":" + p.password);
  }
  p.no_proxy = std::move(no_proxy);
  return std::optional<Proxy>(std::move(p));
}

bool BypassesProxy(std::string_view host, std::string_view no_proxy) {
  const std::string h = Lowered(host);
  std::size_t i = 0;
  while (i < no_proxy.size()) {
    std::size_t end = no_proxy.find_first_of(", \t", i);
    if (end == std::string_view::npos) end = no_proxy.size();
    std::string entry = Lowered(no_proxy.substr(i, end - i));
    i = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']') {
      entry = entry.substr(1, entry.size() - 2);
    }
    if (entry.front() == '.') entry.erase(0, 1);
    if (h == entry) return true;
    if (h.size() > entry.size() && h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
        h[h.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::string ConnectRequest(const Url& target, const Proxy& proxy) {
  std::string authority = target.host.find(':') != std::string::npos
                              ? "[" + target.host + "]:" + target.port
                              : target.host + ":" + target.port;
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!proxy.authorization.empty()) req += "Proxy-Authorization: " + proxy.authorization + "\r\n";
  req += "\r\n";
  return req;
}

int ConnectStatus(std::string_view head) {
  if (head.substr(0, 5) != "HTTP/") return -1;
  std::size_t sp = head.find(' ');
  if (sp == std::string_view::npos || sp + 4 > head.size()) return -1;
  auto code = ParseInt(head.substr(sp + 1, 3));
  return code ? static_cast<int>(*code) : -1;
}

std::string Base64(std::string_view data) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i + 2 < data.size()) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
    i += 3;
  }
  if (i + 1 == data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace kam::http::internal
