// Encoding helpers every CRM adapter needs around HTTP: percent-encoding of query values and
// form fields (RFC 3986 unreserved characters kept), form bodies, and splitting a list into
// bounded chunks (batch and IN-list limits). Header-only, no dependencies.
#ifndef KAM_HTTP_ENCODING_H_
#define KAM_HTTP_ENCODING_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kam::http {

// RFC 3986 unreserved: A-Z a-z 0-9 - _ . ~
constexpr bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// Percent-encodes everything except A-Z a-z 0-9 - _ . ~ (a space becomes %20).
inline std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The length PercentEncode(s) would have, without building it.
inline std::size_t PercentEncodedSize(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    n += IsUnreserved(c) ? 1 : 3;
  }
  return n;
}

// "a=1&b=x%20y": an application/x-www-form-urlencoded body (names and values percent-encoded).
inline std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(name);
    out += '=';
    out += PercentEncode(value);
  }
  return out;
}

// Splits `items` into consecutive chunks of at most `n` (n = 0 is treated as 1).
template <typename T>
std::vector<std::vector<T>> Chunk(const std::vector<T>& items, std::size_t n) {
  n = std::max<std::size_t>(1, n);
  std::vector<std::vector<T>> out;
  for (std::size_t i = 0; i < items.size(); i += n) {
    out.emplace_back(items.begin() + static_cast<std::ptrdiff_t>(i),
                     items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + n)));
  }
  return out;
}

}  // namespace kam::http

#endif  // KAM_HTTP_ENCODING_H_
