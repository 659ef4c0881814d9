// See flat_json.h. Anything outside the handled subset returns nullopt, never a guess: the
// caller's fallback (nlohmann) then gives the same answer as before.
#include "flat_json.h"

#include <nlohmann/json.hpp>
#include <string>

namespace kam::engine {

namespace {

using nlohmann::json;

class FlatParser {
 public:
  explicit FlatParser(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  std::optional<json> Object() {
    SkipSpace();
    if (!Eat('{')) return std::nullopt;
    json out = json::object();
    auto& members = out.get_ref<json::object_t&>();
    SkipSpace();
    if (Eat('}')) return Finish(std::move(out));
    for (;;) {
      SkipSpace();
      std::string key;
      if (!Eat('"') || !String(&key)) return std::nullopt;
      SkipSpace();
      if (!Eat(':')) return std::nullopt;
      SkipSpace();
      json value;
      if (!Value(&value)) return std::nullopt;
      members[std::move(key)] = std::move(value);  // a repeated name: the last one wins
      SkipSpace();
      if (Eat('}')) return Finish(std::move(out));
      if (!Eat(',')) return std::nullopt;
    }
  }

 private:
  std::optional<json> Finish(json&& out) {
    SkipSpace();
    if (p_ != end_) return std::nullopt;  // trailing text
    return std::move(out);
  }

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool Eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  bool Value(json* out) {
    if (p_ == end_) return false;
    const char c = *p_;
    if (c == '"') {
      ++p_;
      std::string s;
      if (!String(&s)) return false;
      *out = std::move(s);
      return true;
    }
    if (Word("null")) {
      *out = nullptr;
      return true;
    }
    if (Word("true")) {
      *out = true;
      return true;
    }
    if (Word("false")) {
      *out = false;
      return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      // The number's text, parsed by nlohmann alone: the same value and type (integer,
      // unsigned, double) as inside the object.
      const char* start = p_;
      while (p_ != end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '-' || *p_ == '+' || *p_ == '.' ||
                            *p_ == 'e' || *p_ == 'E')) {
        ++p_;
      }
      json n = json::parse(start, p_, nullptr, false);
      if (!n.is_number()) return false;
      *out = std::move(n);
      return true;
    }
    return false;  // an object, an array or invalid: not flat
  }

  bool Word(std::string_view w) {
    if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) {
      return false;
    }
    p_ += w.size();
    return true;
  }

  static bool Continuation(unsigned char c) { return c >= 0x80 && c <= 0xBF; }

  // One UTF-8 sequence starting at p_ (a byte >= 0x80), as nlohmann's lexer accepts them
  // (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). Moves past it.
  bool Utf8() {
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    const size_t left = static_cast<size_t>(end_ - p_);
    const unsigned char b = u[0];
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (left < n || u[1] < lo || u[1] > hi) return false;
    for (size_t i = 2; i < n; ++i) {
      if (!Continuation(u[i])) return false;
    }
    p_ += n;
    return true;
  }

  // The rest of a string after its opening quote, decoded into *out; moves past the closing
  // quote. A \u escape is left to nlohmann (false).
  bool String(std::string* out) {
    const char* run = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out->append(run, p_);
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // a control character must be escaped
      if (c >= 0x80) {
        if (!Utf8()) return false;
        continue;
      }
      if (c != '\\') {
        ++p_;
        continue;
      }
      out->append(run, p_);
      ++p_;
      if (p_ == end_) return false;
      switch (*p_) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        default:
          return false;  // \u…, or an invalid escape
      }
      ++p_;
      run = p_;
    }
    return false;  // unterminated
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::optional<nlohmann::json> ParseFlatObject(std::string_view text) {
  return FlatParser(text).Object();
}

nlohmann::json ParseObjectOrEmpty(std::string_view text) {
  if (auto flat = ParseFlatObject(text)) return std::move(*flat);
  json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_object()) return json::object();
  return parsed;
}

}  // namespace kam::engine
