// Redaction by value and by shape (see redact.h).
#include "kam/http/redact.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <mutex>

namespace kam::http {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Case-insensitive search for `needle` (given in lower case) from `from`.
std::size_t FindNoCase(std::string_view hay, std::string_view needle, std::size_t from) {
  if (needle.empty() || hay.size() < needle.size()) return std::string_view::npos;
  const char first_lower = needle[0];
  const char first_upper = static_cast<char>(std::toupper(static_cast<unsigned char>(first_lower)));
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
    if (hay[i] != first_lower && hay[i] != first_upper) continue;
    std::size_t k = 1;
    while (k < needle.size() && Lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

bool StartsWithNoCase(std::string_view text, std::size_t at, std::string_view word) {
  if (at + word.size() > text.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k) {
    if (Lower(text[at + k]) != word[k]) return false;
  }
  return true;
}

// Replaces text[start, end) by the mark unless it already is the mark. Returns the index after
// the replacement (or after the range when nothing changed) and sets *changed.
std::size_t Replace(std::string& text, std::size_t start, std::size_t end, bool* changed) {
  if (end <= start) return end;
  if (text.compare(start, kRedactedMark.size(), kRedactedMark) == 0) {
    return start + kRedactedMark.size();  // already redacted (the run may stop inside the mark)
  }
  text.replace(start, end - start, kRedactedMark);
  *changed = true;
  return start + kRedactedMark.size();
}

constexpr std::size_t kMinTokenRun = 6;

// Characters of a bearer token / base64 credentials (RFC 6750 b64token).
bool IsTokenChar(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}

std::size_t SkipSpaces(std::string_view t, std::size_t p) {
  while (p < t.size() && (t[p] == ' ' || t[p] == '\t')) ++p;
  return p;
}

// "<scheme> <token>": redacts the token run after `at` (which points after the scheme word).
std::size_t RedactTokenAfter(std::string& text, std::size_t at, bool* changed) {
  std::size_t start = SkipSpaces(text, at);
  if (start == at) return at;  // "bearer" not followed by a space: an ordinary word
  std::size_t end = start;
  while (end < text.size() && IsTokenChar(text[end])) ++end;
  // Credentials are long; "the bearer of" is prose.
  if (end - start < kMinTokenRun) return end;
  return Replace(text, start, end, changed);
}

void RedactBearer(std::string& text, bool* changed) {
  std::size_t pos = 0;
  while ((pos = FindNoCase(text, "bearer", pos)) != std::string::npos) {
    pos = RedactTokenAfter(text, pos + 6, changed);
  }
  pos = 0;
  while ((pos = FindNoCase(text, "authorization", pos)) != std::string::npos) {
    std::size_t p = pos + 13;
    while (p < text.size() && (text[p] == ':' || text[p] == ' ' || text[p] == '\t' ||
                               text[p] == '"' || text[p] == '\'' || text[p] == '=')) {
      ++p;
    }
    pos = StartsWithNoCase(text, p, "basic") ? RedactTokenAfter(text, p + 5, changed) : p;
  }
}

bool IsJsonLiteral(std::string_view v) {
  if (v == "null" || v == "true" || v == "false") return true;
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-';
  });
}

// The secret-bearing keys of RedactKeyValues.
constexpr std::string_view kKeys[] = {"access_token", "refresh_token", "client_secret",
                                      "hapikey",      "id_token",      "password"};

// key=value, key: value, "key": "value", \"key\":\"value\" for the secret-bearing keys.
void RedactKeyValues(std::string& text, bool* changed) {
  auto is_quote = [](char c) { return c == '"' || c == '\'' || c == '\\'; };
  for (std::string_view key : kKeys) {
    std::size_t pos = 0;
    while ((pos = FindNoCase(text, key, pos)) != std::string::npos) {
      std::size_t p = pos + key.size();
      pos = p;
      while (p < text.size() && (is_quote(text[p]) || text[p] == ' ' || text[p] == '\t')) ++p;
      if (p >= text.size() || (text[p] != ':' && text[p] != '=')) continue;
      const bool form = text[p] == '=';
      ++p;
      bool quoted = false;
      while (p < text.size() && (is_quote(text[p]) || text[p] == ' ' || text[p] == '\t')) {
        quoted = quoted || is_quote(text[p]);
        ++p;
      }
      std::size_t end = p;
      while (end < text.size() && !is_quote(text[end]) &&
             std::string_view("&,;}] \t\r\n<>").find(text[end]) == std::string_view::npos) {
        ++end;
      }
      if (end == p) continue;
      if (!form && !quoted && IsJsonLiteral(std::string_view(text).substr(p, end - p))) continue;
      pos = Replace(text, p, end, changed);
    }
  }
}

// HubSpot private-app tokens: "pat-" + region + '-' + uuid, e.g. pat-na1-0f3c…
void RedactPrivateAppTokens(std::string& text, bool* changed) {
  std::size_t pos = 0;
  while ((pos = FindNoCase(text, "pat-", pos)) != std::string::npos) {
    if (pos > 0 && (IsAlnum(text[pos - 1]) || text[pos - 1] == '_')) {
      pos += 4;
      continue;
    }
    std::size_t end = pos + 4;
    bool digit = false;
    while (end < text.size() && (IsAlnum(text[end]) || text[end] == '-')) {
      digit = digit || std::isdigit(static_cast<unsigned char>(text[end]));
      ++end;
    }
    if (end - pos - 4 >= 8 && digit) {
      pos = Replace(text, pos, end, changed);
    } else {
      pos = end;
    }
  }
}

std::string JsonEscaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string UrlEncoded(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
      out += kHex[static_cast<unsigned char>(c) & 0xF];
    }
  }
  return out;
}

}  // namespace

void WipeSecret(void* p, std::size_t n) noexcept {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

void WipeSecret(std::string& s) noexcept {
  // The whole capacity: bytes past size() may hold an earlier, longer value.
  WipeSecret(s.data(), s.capacity());
  s.clear();
}

namespace {

// Every pattern above starts at a case-insensitive match of one of these words (lower case):
// a text without any of them is left as it is by all of them. Most text bound into the state
// file (a company's properties, the record card) holds none, and one pass over it that looks
// at each pair of adjacent letters is much cheaper than the patterns' ten searches.
class PatternWords {
 public:
  PatternWords() {
    for (int c = 0; c < 256; ++c) fold_[c] = static_cast<unsigned char>(std::tolower(c));
    words_.push_back("bearer");
    words_.push_back("authorization");
    for (std::string_view k : kKeys) words_.push_back(k);
    words_.push_back("pat-");
    for (std::string_view w : words_) {
      const unsigned pair =
          Pair(static_cast<unsigned char>(w[0]), static_cast<unsigned char>(w[1]));
      pairs_[pair / 64] |= uint64_t{1} << (pair % 64);
    }
  }

  // True when `text` holds one of the words in any letter case.
  bool AnyIn(std::string_view text) const {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
      const unsigned pair = Pair(fold_[p[i]], fold_[p[i + 1]]);
      if ((pairs_[pair / 64] >> (pair % 64) & 1) == 0) continue;
      for (std::string_view w : words_) {
        if (Pair(static_cast<unsigned char>(w[0]), static_cast<unsigned char>(w[1])) != pair ||
            i + w.size() > text.size()) {
          continue;
        }
        std::size_t k = 2;
        while (k < w.size() && fold_[p[i + k]] == static_cast<unsigned char>(w[k])) ++k;
        if (k == w.size()) return true;
      }
    }
    return false;
  }

 private:
  static unsigned Pair(unsigned char a, unsigned char b) { return a << 8 | b; }

  unsigned char fold_[256] = {};
  uint64_t pairs_[65536 / 64] = {};
  std::vector<std::string_view> words_;
};

}  // namespace

bool RedactPatterns(std::string& text) {
  static const PatternWords kWords;
  if (!kWords.AnyIn(text)) return false;
  bool changed = false;
  RedactBearer(text, &changed);
  RedactKeyValues(text, &changed);
  RedactPrivateAppTokens(text, &changed);
  return changed;
}

Redactor::~Redactor() {
  for (auto& f : forms_) WipeSecret(*f);
}

bool Redactor::AddForm(std::string_view form) {
  for (const auto& f : forms_) {
    if (*f == form) return true;
  }
  auto copy = std::make_unique<std::string>(form);
  auto at = std::find_if(forms_.begin(), forms_.end(),
                         [&](const auto& f) { return f->size() < form.size(); });
  forms_.insert(at, std::move(copy));
  return true;
}

bool Redactor::Add(std::string_view secret) {
  if (secret.size() < kMinSecretLength) return false;
  std::string json = JsonEscaped(secret);
  std::string url = UrlEncoded(secret);
  {
    std::unique_lock lock(mu_);
    AddForm(secret);
    if (json != secret) AddForm(json);
    if (url != secret) AddForm(url);
  }
  WipeSecret(json);
  WipeSecret(url);
  return true;
}

bool Redactor::Redact(std::string& text) const {
  bool changed = false;
  {
    std::shared_lock lock(mu_);
    for (const auto& f : forms_) {
      std::size_t pos = 0;
      while ((pos = text.find(*f, pos)) != std::string::npos) {
        text.replace(pos, f->size(), kRedactedMark);
        pos += kRedactedMark.size();
        changed = true;
      }
    }
  }
  return RedactPatterns(text) || changed;
}

std::string Redactor::Redacted(std::string_view text) const {
  std::string out(text);
  Redact(out);
  return out;
}

std::size_t Redactor::size() const {
  std::shared_lock lock(mu_);
  return forms_.size();
}

}  // namespace kam::http
