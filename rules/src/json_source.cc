#include "json_source.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <utility>

namespace kam::rules::internal {

std::string PointerToken(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  if (n == 2 && b < 0xC2) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

class Parser {
 public:
  Parser(std::string_view text, int max_depth,
         std::unordered_map<std::string, size_t>* value_offsets,
         std::unordered_map<std::string, size_t>* key_offsets)
      : text_(text),
        max_depth_(max_depth),
        value_offsets_(value_offsets),
        key_offsets_(key_offsets) {}

  struct Problem {
    size_t offset;
    std::string pointer;
    std::string message;
  };

  // Returns true on success; syntax problems stop the parse, duplicate keys do not.
  bool Run(nlohmann::json* out, std::vector<Problem>* problems) {
    problems_ = problems;
    while (true) {
      SkipWs();
      std::string pointer = NextPointer();
      if (pos_ >= text_.size()) return Fail("unexpected end of file: expected a value", pointer);
      char c = text_[pos_];
      nlohmann::json value;
      (*value_offsets_)[pointer] = pos_;
      if (c == '{' || c == '[') {
        if (static_cast<int>(stack_.size()) + 1 > max_depth_) {
          return Fail("nesting deeper than " + std::to_string(max_depth_) +
                          " levels; the file is refused",
                      pointer);
        }
        ++pos_;
        Frame frame;
        frame.is_object = c == '{';
        frame.pointer = pointer;
        frame.value = frame.is_object ? nlohmann::json::object() : nlohmann::json::array();
        stack_.push_back(std::move(frame));
        SkipWs();
        char close = c == '{' ? '}' : ']';
        if (pos_ < text_.size() && text_[pos_] == close) {
          ++pos_;
          value = std::move(stack_.back().value);
          stack_.pop_back();
        } else if (c == '{') {
          if (!ReadKey()) return false;
          continue;
        } else {
          continue;
        }
      } else if (!ReadScalar(pointer, &value)) {
        return false;
      }
      // A value is complete: hand it to its container, closing containers as they end.
      while (true) {
        if (stack_.empty()) {
          SkipWs();
          if (pos_ != text_.size()) {
            return Fail("unexpected text after the end of the document", "");
          }
          *out = std::move(value);
          return true;
        }
        Frame& top = stack_.back();
        if (top.is_object) {
          top.value[top.key] = std::move(value);
        } else {
          top.value.push_back(std::move(value));
          ++top.index;
        }
        SkipWs();
        if (pos_ >= text_.size()) {
          return Fail(std::string("unexpected end of file: expected ',' or '") +
                          (top.is_object ? "}" : "]") + "'",
                      top.pointer);
        }
        char d = text_[pos_];
        if (d == ',') {
          ++pos_;
          if (top.is_object) {
            SkipWs();
            if (!ReadKey()) return false;
          }
          break;  // next value
        }
        if (d == (top.is_object ? '}' : ']')) {
          ++pos_;
          value = std::move(top.value);
          stack_.pop_back();
          continue;
        }
        return Fail(std::string("expected ',' or '") + (top.is_object ? "}" : "]") +
                        "' but found '" + std::string(1, d) + "'",
                    top.pointer);
      }
    }
  }

 private:
  struct Frame {
    nlohmann::json value;
    std::string pointer;
    bool is_object = false;
    std::string key;
    size_t index = 0;
  };

  std::string NextPointer() const {
    if (stack_.empty()) return "";
    const Frame& top = stack_.back();
    return top.pointer + "/" + (top.is_object ? PointerToken(top.key) : std::to_string(top.index));
  }

  bool Fail(std::string message, std::string pointer) {
    problems_->push_back({std::min(pos_, text_.size()), std::move(pointer), std::move(message)});
    return false;
  }

  void SkipWs() {
    while (pos_ < text_.size() && IsWs(text_[pos_])) ++pos_;
  }

  // Reads `"key" :` inside the object on top of the stack.
  bool ReadKey() {
    Frame& top = stack_.back();
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      if (pos_ < text_.size() && text_[pos_] == '}') {
        return Fail("trailing comma before '}'", top.pointer);
      }
      return Fail("expected a member name in double quotes", top.pointer);
    }
    size_t key_offset = pos_;
    std::string key;
    if (!ReadString(&key, top.pointer)) return false;
    std::string pointer = top.pointer + "/" + PointerToken(key);
    if (top.value.contains(key)) {
      problems_->push_back({key_offset, pointer, "duplicate key \"" + key + "\""});
    }
    (*key_offsets_)[pointer] = key_offset;
    top.key = std::move(key);
    SkipWs();
    if (pos_ >= text_.size() || text_[pos_] != ':') {
      return Fail("expected ':' after the member name", pointer);
    }
    ++pos_;
    return true;
  }

  bool ReadScalar(const std::string& pointer, nlohmann::json* value) {
    char c = text_[pos_];
    if (c == '"') {
      std::string s;
      if (!ReadString(&s, pointer)) return false;
      *value = std::move(s);
      return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber(pointer, value);
    for (auto [word, v] : {std::pair<std::string_view, int>{"true", 1}, {"false", 0},
                           {"null", -1}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        *value = v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v == 1);
        return true;
      }
    }
    if (c == ']' || c == '}') return Fail("expected a value (trailing comma?)", pointer);
    if (c == '\'') return Fail("strings must use double quotes", pointer);
    return Fail("expected a value but found '" + std::string(1, c) + "'", pointer);
  }

  bool ReadNumber(const std::string& pointer, nlohmann::json* value) {
    size_t start = pos_;
    size_t i = pos_;
    auto digits = [&] {
      size_t from = i;
      while (i < text_.size() && text_[i] >= '0' && text_[i] <= '9') ++i;
      return i - from;
    };
    if (text_[i] == '-') ++i;
    if (i < text_.size() && text_[i] == '0') {
      ++i;
    } else if (digits() == 0) {
      return Fail("invalid number", pointer);
    }
    bool integral = true;
    if (i < text_.size() && text_[i] == '.') {
      ++i;
      integral = false;
      if (digits() == 0) return Fail("invalid number: digits expected after '.'", pointer);
    }
    if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
      ++i;
      integral = false;
      if (i < text_.size() && (text_[i] == '+' || text_[i] == '-')) ++i;
      if (digits() == 0) return Fail("invalid number: digits expected in the exponent", pointer);
    }
    std::string_view token = text_.substr(start, i - start);
    pos_ = i;
    if (integral) {
      int64_t n = 0;
      auto r = std::from_chars(token.data(), token.data() + token.size(), n);
      if (r.ec == std::errc() && r.ptr == token.data() + token.size()) {
        *value = n;
        return true;
      }
    }
    std::string copy(token);
    *value = std::strtod(copy.c_str(), nullptr);
    return true;
  }

  bool ReadHex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = text_[pos_ + k];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return false;
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  bool ReadString(std::string* out, const std::string& pointer) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size()) return Fail("unterminated string", pointer);
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Fail("control character in a string (use \\n, \\t, ...)", pointer);
      }
      if (c != '\\') {
        size_t n = Utf8Length(text_, pos_);
        if (n == 0) return Fail("invalid UTF-8 in a string", pointer);
        out->append(text_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) return Fail("unterminated string", pointer);
      char e = text_[pos_++];
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!ReadHex4(&cp)) return Fail("invalid \\u escape", pointer);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (text_.substr(pos_, 2) != "\\u") return Fail("unpaired surrogate", pointer);
            pos_ += 2;
            if (!ReadHex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) {
              return Fail("unpaired surrogate", pointer);
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Fail("unpaired surrogate", pointer);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Fail(std::string("invalid escape \\") + e, pointer);
      }
    }
  }

  std::string_view text_;
  int max_depth_;
  std::unordered_map<std::string, size_t>* value_offsets_;
  std::unordered_map<std::string, size_t>* key_offsets_;
  std::vector<Problem>* problems_ = nullptr;
  std::vector<Frame> stack_;
  size_t pos_ = 0;
};

}  // namespace

bool JsonSource::Parse(std::string_view text, const std::string& file, int max_depth,
                       nlohmann::json* out, std::vector<Diagnostic>* errors) {
  file_ = file;
  text_owned_.assign(text);
  text_ = text_owned_;
  line_starts_.assign(1, 0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
  value_offsets_.clear();
  key_offsets_.clear();
  std::vector<Parser::Problem> problems;
  Parser parser(text_, max_depth, &value_offsets_, &key_offsets_);
  nlohmann::json value;
  bool ok = parser.Run(&value, &problems);
  for (const auto& p : problems) {
    SourcePos pos = PosOf(p.offset);
    errors->push_back({file_, pos.line, pos.col, p.pointer, p.message});
  }
  *out = ok ? std::move(value) : nlohmann::json();
  return ok;
}

SourcePos JsonSource::PosOf(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
  size_t start = line_starts_[line - 1];
  int col = 1;
  for (size_t i = start; i < offset && i < text_.size(); ++i) {
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++col;
  }
  return {static_cast<int>(line), col};
}

SourcePos JsonSource::ValuePos(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    if (auto it = value_offsets_.find(p); it != value_offsets_.end()) return PosOf(it->second);
    if (p.empty()) return {1, 1};
    p.resize(p.rfind('/'));
  }
}

SourcePos JsonSource::KeyPos(const std::string& pointer) const {
  if (auto it = key_offsets_.find(pointer); it != key_offsets_.end()) return PosOf(it->second);
  return ValuePos(pointer);
}

Diagnostic JsonSource::At(const std::string& pointer, std::string message, bool at_key) const {
  SourcePos pos = at_key ? KeyPos(pointer) : ValuePos(pointer);
  return {file_, pos.line, pos.col, pointer, std::move(message)};
}

}  // namespace kam::rules::internal
