// Time, encoding and hashing helpers of the sandbox (see internal.h).
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "internal.h"
#include "kam/common/iso_time.h"

namespace kam::sandbox {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoMs(int64_t ms) { return common::FormatIsoMs(ms); }

std::string IsoDate(int64_t ms) { return common::FormatIsoDate(ms); }

bool ParseTimeMs(std::string_view s, int64_t* ms) {
  const bool epoch = !s.empty() && s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) ==
                                       std::string_view::npos;
  if (epoch) {  // HubSpot's epoch-millisecond strings
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *ms);
    return ec == std::errc() && p == s.data() + s.size();
  }
  const auto at = common::ParseIsoMs(s);
  if (at) *ms = *at;
  return at.has_value();
}

std::vector<std::string> SplitTrim(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    const size_t p = s.find(sep);
    std::string part(s.substr(0, p));
    while (!part.empty() && part.back() == ' ') part.pop_back();
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    if (!part.empty()) out.push_back(std::move(part));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::optional<int64_t> WholeInt64(double d) {
  // [-2^63, 2^63): both bounds are exact doubles; NaN fails every comparison.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return std::nullopt;
  if (d != std::trunc(d)) return std::nullopt;
  return static_cast<int64_t>(d);
}

std::optional<int64_t> WholeInt64(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return WholeInt64(v.get<double>());
  return std::nullopt;
}

std::optional<int> IntMember(const json& obj, const char* key, int fallback) {
  if (!obj.is_object()) return fallback;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  const std::optional<int64_t> whole = WholeInt64(*it);
  if (!whole || *whole < INT32_MIN || *whole > INT32_MAX) return std::nullopt;
  return static_cast<int>(*whole);
}

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size()) {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) {
        out.push_back(c);
      } else {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      }
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(data[i]) << 16) |
                       (static_cast<uint8_t>(data[i + 1]) << 8) | static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Unit(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

const std::vector<ObjectType>& ObjectTypes() {
  static const std::vector<ObjectType> kTypes = {
      {"contacts", "0-1", "contact", "CONTACT", "lastmodifieddate"},
      {"companies", "0-2", "company", "COMPANY", "hs_lastmodifieddate"},
      {"deals", "0-3", "deal", "DEAL", "hs_lastmodifieddate"},
      {"tasks", "0-27", "task", "TASK", "hs_lastmodifieddate"},
      {"meetings", "0-47", "meeting", "MEETING", "hs_lastmodifieddate"},
  };
  return kTypes;
}

const ObjectType* FindObjectType(std::string_view name) {
  const std::string lower = ToLower(name);
  for (const auto& t : ObjectTypes()) {
    if (lower == t.name || lower == t.type_id || lower == t.singular) return &t;
  }
  return nullptr;
}

}  // namespace kam::sandbox
