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

std::string ValueText(const jl::Value& v) {
  switch (v.kind()) {
    case jl::Kind::kAbsent:
    case jl::Kind::kNull:
      return "";
    case jl::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case jl::Kind::kNumber:
      return FormatNumber(v.as_number());
    case jl::Kind::kString:
      return std::string(v.as_string());
    default:
      return jl::ToJson(v).dump();
  }
}

std::string ValueJson(const jl::Value& v) {
  switch (v.kind()) {
    case jl::Kind::kAbsent:
      return "absent";
    case jl::Kind::kNull:
      return "null";
    case jl::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case jl::Kind::kNumber:
      return std::isfinite(v.as_number()) ? FormatNumber(v.as_number()) : "null";
    case jl::Kind::kString:
      return nlohmann::json(std::string(v.as_string()))
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    default:
      return jl::ToJson(v).dump();
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
