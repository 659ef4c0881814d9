// Small helpers of the rules module: hashes, number formatting, "did you mean", value text.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "internal.h"

namespace kam::rules::internal {

uint64_t Fnv64(std::string_view data, uint64_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint32_t Fnv32(std::string_view data, uint32_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
    return buf;
  }
  return jl::FormatNumber(v);
}

namespace {
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + cost});
      prev = cur;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

namespace {
// Integers below 1e15 as digits, without a temporary string.
bool AppendInteger(double v, std::string& out) {
  if (!(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)) return false;
  char buf[24];
  int n = std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  out.append(buf, static_cast<size_t>(n));
  return true;
}
void AppendNumber(double v, std::string& out) {
  if (!AppendInteger(v, out)) out += jl::FormatNumber(v);
}
}  // namespace

void AppendValueText(const jl::Value& v, std::string& out) {
  switch (v.kind()) {
    case jl::Kind::kAbsent:
    case jl::Kind::kNull:
      return;
    case jl::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case jl::Kind::kNumber:
      AppendNumber(v.as_number(), out);
      return;
    case jl::Kind::kString:
      out += v.as_string();
      return;
    default:
      out += jl::ToJson(v).dump();
  }
}

void AppendValueJson(const jl::Value& v, std::string& out) {
  switch (v.kind()) {
    case jl::Kind::kAbsent:
      out += "absent";
      return;
    case jl::Kind::kNull:
      out += "null";
      return;
    case jl::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case jl::Kind::kNumber:
      if (std::isfinite(v.as_number())) {
        AppendNumber(v.as_number(), out);
      } else {
        out += "null";
      }
      return;
    case jl::Kind::kString: {
      std::string_view s = v.as_string();
      bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
      if (!plain) {  // control characters, UTF-8: nlohmann's escaping and replacement
        out += nlohmann::json(std::string(s))
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
      }
      out += '"';
      for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
      return;
    }
    default:
      out += jl::ToJson(v).dump();
  }
}

std::string ValueText(const jl::Value& v) {
  std::string out;
  AppendValueText(v, out);
  return out;
}

std::string ValueJson(const jl::Value& v) {
  std::string out;
  AppendValueJson(v, out);
  return out;
}

void AssignHex64(uint64_t v, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out.resize(16);
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[v & 15];
    v >>= 4;
  }
}

uint32_t FoldDigestLine(const RuleSet::Impl& rs, std::string_view id, double score, int tier,
                        uint64_t tasks, std::string& line, uint32_t h) {
  line.assign(id);
  line += '|';
  line += FormatNumber(score);
  line += '|';
  line += rs.tiers[static_cast<size_t>(tier)].id;
  line += '|';
  bool first = true;
  for (size_t j = 0; j < rs.tasks.size(); ++j) {
    if ((tasks >> j & 1) == 0) continue;
    if (!first) line += ',';
    line += rs.tasks[j].id;
    first = false;
  }
  line += '\n';
  return Fnv32(line, h);
}

}  // namespace kam::rules::internal
