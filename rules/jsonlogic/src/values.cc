// Value helpers with JavaScript semantics: truthiness, Number <-> string conversion, JSON
// conversion; the Schema; and the depth-limited JSON parser.
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "kam/jsonlogic/jsonlogic.h"
#include "program.h"

namespace kam::jsonlogic {

bool IsTruthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kAbsent:
    case Kind::kNull:
      return false;
    case Kind::kBool:
      return v.as_bool();
    case Kind::kNumber: {
      double d = v.as_number();
      return d != 0 && !std::isnan(d);
    }
    case Kind::kString:
      return !v.as_string().empty();
    case Kind::kArray:
      return !v.as_array().empty();
    case Kind::kJson: {
      const nlohmann::json* j = v.as_json();
      return !(j->is_array() && j->empty());
    }
  }
  return false;
}

std::string FormatNumber(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";  // also -0
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  std::string out;
  std::size_t pos = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    pos = 1;
  }
  std::size_t e_pos = sci.find('e');
  std::string digits;
  for (std::size_t i = pos; i < e_pos; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exp = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  int k = static_cast<int>(digits.size());
  int n = exp + 1;  // position of the decimal point relative to the digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

namespace {

bool IsJsSpace(std::string_view s, std::size_t i, std::size_t* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
    *len = 1;
    return true;
  }
  // U+00A0 (C2 A0), U+FEFF (EF BB BF), U+2028/2029 (E2 80 A8/A9)
  if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {
    *len = 2;
    return true;
  }
  if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBB &&
      static_cast<unsigned char>(s[i + 2]) == 0xBF) {
    *len = 3;
    return true;
  }
  if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
       static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
    *len = 3;
    return true;
  }
  return false;
}

std::string_view TrimJs(std::string_view s) {
  std::size_t len = 0;
  while (!s.empty() && IsJsSpace(s, 0, &len)) s.remove_prefix(len);
  // Trailing: check the last 1..3 bytes.
  for (bool changed = true; changed && !s.empty();) {
    changed = false;
    for (std::size_t l = 1; l <= 3 && l <= s.size(); ++l) {
      std::size_t i = s.size() - l;
      if (IsJsSpace(s, i, &len) && len == l) {
        s.remove_suffix(l);
        changed = true;
        break;
      }
    }
  }
  return s;
}

double ParseRadix(std::string_view digits, int radix) {
  if (digits.empty()) return std::numeric_limits<double>::quiet_NaN();
  double v = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (d >= radix) return std::numeric_limits<double>::quiet_NaN();
    v = v * radix + d;
  }
  return v;
}

}  // namespace

double ParseNumber(std::string_view s) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  s = TrimJs(s);
  if (s.empty()) return 0;
  if (s.size() > 2 && s[0] == '0') {
    char p = s[1];
    if (p == 'x' || p == 'X') return ParseRadix(s.substr(2), 16);
    if (p == 'o' || p == 'O') return ParseRadix(s.substr(2), 8);
    if (p == 'b' || p == 'B') return ParseRadix(s.substr(2), 2);
  }
  bool negative = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "Infinity") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  // StrDecimalLiteral: digits [. digits] [e [+-] digits] | . digits [exp]
  std::size_t i = 0;
  std::size_t int_digits = 0;
  std::size_t frac_digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return kNaN;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return kNaN;
  }
  if (i != body.size()) return kNaN;
  double v = 0;
  auto res = std::from_chars(body.data(), body.data() + body.size(), v);
  if (res.ec == std::errc::result_out_of_range) {
    // Overflow gives Infinity, underflow 0, as in JavaScript.
    bool big = false;
    std::size_t e = body.find_first_of("eE");
    if (e == std::string_view::npos || body[e + 1] != '-') big = true;
    v = big ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (res.ec != std::errc()) {
    return kNaN;
  }
  return negative ? -v : v;
}

nlohmann::json ToJson(const Value& v) {
  switch (v.kind()) {
    case Kind::kAbsent:
    case Kind::kNull:
      return nullptr;
    case Kind::kBool:
      return v.as_bool();
    case Kind::kNumber: {
      double d = v.as_number();
      if (!std::isfinite(d)) return nullptr;
      if (d == std::trunc(d) && std::fabs(d) < 9.007199254740992e15) {
        return static_cast<std::int64_t>(d);
      }
      return d;
    }
    case Kind::kString:
      return std::string(v.as_string());
    case Kind::kArray: {
      nlohmann::json arr = nlohmann::json::array();
      for (const Value& item : v.as_array()) arr.push_back(ToJson(item));
      return arr;
    }
    case Kind::kJson:
      return *v.as_json();
  }
  return nullptr;
}

namespace internal {

Value FromJson(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::Null();
    case nlohmann::json::value_t::boolean:
      return Value::Bool(j.get_ref<const bool&>());
    case nlohmann::json::value_t::number_integer:
      return Value::Number(static_cast<double>(j.get_ref<const std::int64_t&>()));
    case nlohmann::json::value_t::number_unsigned:
      return Value::Number(static_cast<double>(j.get_ref<const std::uint64_t&>()));
    case nlohmann::json::value_t::number_float:
      return Value::Number(j.get_ref<const double&>());
    case nlohmann::json::value_t::string:
      return Value::String(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::object:
      return Value::Json(&j);
    default:
      return Value::Null();  // binary / discarded: not produced by JSON text
  }
}

namespace {
void AppendJsonJsString(const nlohmann::json& j, std::string& out) {
  if (j.is_array()) {
    bool first = true;
    for (const auto& item : j) {
      if (!first) out.push_back(',');
      first = false;
      if (!item.is_null()) AppendJsString(FromJson(item), out);
    }
  } else if (j.is_object()) {
    out += "[object Object]";
  } else {
    AppendJsString(FromJson(j), out);
  }
}
}  // namespace

void AppendJsString(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Kind::kAbsent:
      out += "undefined";
      return;
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Kind::kNumber:
      out += FormatNumber(v.as_number());
      return;
    case Kind::kString:
      out += v.as_string();
      return;
    case Kind::kArray: {
      bool first = true;
      for (const Value& item : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        if (!item.is_null() && !item.is_absent()) AppendJsString(item, out);
      }
      return;
    }
    case Kind::kJson:
      AppendJsonJsString(*v.as_json(), out);
      return;
  }
}

}  // namespace internal

int Schema::Add(std::string_view path) {
  if (auto it = index_.find(path); it != index_.end()) return it->second;
  int slot = static_cast<int>(paths_.size());
  paths_.emplace_back(path);
  index_.emplace(std::string(path), slot);
  return slot;
}

int Schema::Find(std::string_view path) const {
  auto it = index_.find(path);
  return it == index_.end() ? -1 : it->second;
}

Expected<nlohmann::json> ParseJson(std::string_view text, std::size_t max_depth) {
  // Pre-scan: nesting depth outside strings, without recursion.
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return Error{std::string(kExceededDepth),
                     "JSON nesting deeper than " + std::to_string(max_depth) + " at byte " +
                         std::to_string(i) + "; flatten the input",
                     ""};
      }
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Error{std::string(kInvalidJson),
                 "invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what(), ""};
  } catch (const nlohmann::json::exception& e) {
    // A number the parser cannot hold (e.g. 1e400 is out_of_range.406, not a parse_error).
    return Error{std::string(kInvalidJson), std::string("invalid JSON: ") + e.what(), ""};
  }
}

}  // namespace kam::jsonlogic
