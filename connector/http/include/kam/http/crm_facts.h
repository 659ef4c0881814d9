// The vocabulary of account facts that every CRM adapter produces, so that one rule file maps
// the same aggregate names on HubSpot and on Salesforce: the names, the time windows, and the
// executive-title test behind "contacts.exec_sponsor". Header-only, no dependencies.
#ifndef KAM_HTTP_CRM_FACTS_H_
#define KAM_HTTP_CRM_FACTS_H_

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kam::http::facts {

// The aggregate names rule files may map (exactly these strings), with their meaning:
//   deals.won_amount_last_12m   sum of won deal amounts closed in (now - 365 d, now]
//   deals.won_amount_prev_12m   the same for (now - 730 d, now - 365 d]
//   deals.open_amount / _count  deals not closed
//   contacts.count              contacts of the account
//   contacts.active_count       contacts modified or contacted within 90 days
//   contacts.exec_sponsor       bool: a contact with an executive title (IsExecutiveTitle)
//   meetings.days_since_last    whole days since the latest meeting at or before now; null if none
//   meetings.count_last_90d     meetings in [now - 90 d, now]
inline constexpr const char* kAggregateNames[] = {
    "deals.won_amount_last_12m",
    "deals.won_amount_prev_12m",
    "deals.open_amount",
    "deals.open_count",
    "contacts.count",
    "contacts.active_count",
    "contacts.exec_sponsor",
    "meetings.days_since_last",
    "meetings.count_last_90d",
};

inline constexpr int64_t kDayMs = 86'400'000;
inline constexpr int64_t kYearMs = 365 * kDayMs;         // "12 months"
inline constexpr int64_t kActiveWindowMs = 90 * kDayMs;  // "active", "last 90 days"

// A fact value: null, a number or a boolean.
struct FactValue {
  enum class Kind { kNull, kNumber, kBool };
  Kind kind = Kind::kNull;
  double number = 0;
  bool boolean = false;
  static FactValue Null() { return {}; }
  static FactValue Number(double v) { return {Kind::kNumber, v, false}; }
  static FactValue Bool(bool v) { return {Kind::kBool, 0, v}; }
  bool operator==(const FactValue&) const = default;
};

inline bool IsKnownAggregate(std::string_view name) {
  for (const char* n : kAggregateNames) {
    if (name == n) return true;
  }
  return false;
}

// "a, b, c": the known names, for error messages.
inline std::string KnownAggregateList() {
  std::string out;
  for (const char* n : kAggregateNames) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Single title words that mark an executive, and word pairs ("vice president").
inline constexpr std::string_view kExecutiveWords[] = {
    "ceo", "cfo", "coo", "cto", "cio", "cmo", "cro", "president", "vp", "svp", "evp"};
inline constexpr std::string_view kExecutivePairs[][2] = {
    {"vice", "president"}, {"managing", "director"}, {"head", "of"}};

// True for executive job titles: CEO, CFO, COO, CTO, CIO, CMO, CRO, Chief..., President,
// VP/SVP/EVP, Vice President, Managing Director, Head of (whole words, case-insensitive).
inline bool IsExecutiveTitle(std::string_view title) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : title) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      cur += static_cast<char>(std::tolower(c));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].rfind("chief", 0) == 0) return true;
    for (std::string_view w : kExecutiveWords) {
      if (words[i] == w) return true;
    }
    if (i + 1 == words.size()) continue;
    for (const auto& pair : kExecutivePairs) {
      if (words[i] == pair[0] && words[i + 1] == pair[1]) return true;
    }
  }
  return false;
}

}  // namespace kam::http::facts

#endif  // KAM_HTTP_CRM_FACTS_H_
