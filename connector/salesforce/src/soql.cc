// SOQL builders (see soql.h).
#include "soql.h"

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "kam/http/crm_facts.h"
#include "kam/http/encoding.h"
#include "time_format.h"

namespace kam::salesforce::internal {
namespace {

using kam::http::PercentEncodedSize;
namespace facts = kam::http::facts;

// Title words an executive title may contain (SOQL LIKE is case-insensitive); the whole-word
// test (IsExecutiveTitle) runs on what comes back.
constexpr std::string_view kExecLike[] = {"ceo",
                                          "cfo",
                                          "coo",
                                          "cto",
                                          "cio",
                                          "cmo",
                                          "cro",
                                          "chief",
                                          "president",
                                          "vp",
                                          "managing director",
                                          "head of"};

}  // namespace

std::string Quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
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
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += c;
    }
  }
  out += '\'';
  return out;
}

bool IsFieldName(std::string_view name) {
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) || c == '_' || c == '.';
  });
}

Result<std::vector<std::string>> ChunkInQueries(std::string_view soql_template,
                                                const std::vector<std::string>& values,
                                                std::size_t max_encoded_chars,
                                                std::size_t max_values) {
  const std::size_t at = soql_template.find(kInPlaceholder);
  if (at == std::string_view::npos) {
    Error e;
    e.message = "internal: SOQL template without {in}: " + std::string(soql_template);
    return e;
  }
  const std::string_view head = soql_template.substr(0, at);
  const std::string_view tail = soql_template.substr(at + kInPlaceholder.size());
  const std::size_t base = PercentEncodedSize(head) + PercentEncodedSize(tail);
  const std::size_t comma = PercentEncodedSize(",");
  max_values = std::max<std::size_t>(1, max_values);

  std::vector<std::string> out;
  std::string list;
  std::size_t list_size = 0, count = 0;
  auto flush = [&] {
    if (count == 0) return;
    out.push_back(std::string(head) + list + std::string(tail));
    list.clear();
    list_size = 0;
    count = 0;
  };
  std::unordered_set<std::string> seen;
  for (const auto& v : values) {
    if (!seen.insert(v).second) continue;
    const std::string quoted = Quote(v);
    const std::size_t size = PercentEncodedSize(quoted);
    if (base + size > max_encoded_chars) {
      Error e;
      e.message = "the value '" + v.substr(0, 80) + "' makes a query longer than " +
                  std::to_string(max_encoded_chars) + " characters";
      return e;
    }
    const std::size_t extra = (count > 0 ? comma : 0) + size;
    if (count >= max_values || base + list_size + extra > max_encoded_chars) flush();
    if (count > 0) {
      list += ',';
      list_size += comma;
    }
    list += quoted;
    list_size += size;
    ++count;
  }
  flush();
  return out;
}

std::string AccountPullQuery(const std::vector<std::string>& fields, const Cursor& after,
                             bool include_deleted, int limit) {
  std::vector<std::string> select = {"OwnerId"};
  select.insert(select.end(), fields.begin(), fields.end());
  return PullQuery("Account", select, after, include_deleted, limit, 0);
}

std::string PullQuery(std::string_view sobject, const std::vector<std::string>& fields,
                      const Cursor& after, bool include_deleted, int limit, int64_t until_ms) {
  std::vector<std::string> select = {"Id"};
  auto add = [&](const std::string& f) {
    if (std::find_if(select.begin(), select.end(), [&](const std::string& s) {
          return std::equal(s.begin(), s.end(), f.begin(), f.end(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          });
        }) == select.end()) {
      select.push_back(f);
    }
  };
  // Id, then the first of `fields` (the Account pull's OwnerId), then the keyset columns.
  if (!fields.empty()) add(fields.front());
  add("SystemModstamp");
  if (include_deleted) add("IsDeleted");
  for (const auto& f : fields) add(f);
  std::string q = "SELECT ";
  for (std::size_t i = 0; i < select.size(); ++i) q += (i ? ", " : "") + select[i];
  q += " FROM " + std::string(sobject);
  std::vector<std::string> where;
  if (after.modstamp_ms > 0) {
    const std::string t = SoqlDateTime(after.modstamp_ms);
    if (after.id.empty()) {
      where.push_back("SystemModstamp >= " + t);
    } else {
      where.push_back("(SystemModstamp > " + t + " OR (SystemModstamp = " + t + " AND Id > " +
                      Quote(after.id) + "))");
    }
  }
  if (until_ms > 0) where.push_back("SystemModstamp <= " + SoqlDateTime(until_ms));
  for (std::size_t i = 0; i < where.size(); ++i) q += (i ? " AND " : " WHERE ") + where[i];
  q += " ORDER BY SystemModstamp, Id LIMIT " + std::to_string(std::max(1, limit));
  return q;
}

std::vector<FactQuery> FactQueries(const std::set<std::string>& aggregates, int64_t now_ms) {
  auto wants = [&](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(),
                       [&](const char* n) { return aggregates.count(n) > 0; });
  };
  const std::string today = SoqlDate(now_ms);
  const std::string year_ago = SoqlDate(now_ms - facts::kYearMs);
  const std::string two_years_ago = SoqlDate(now_ms - 2 * facts::kYearMs);
  const std::string now = SoqlDateTime(now_ms);
  const std::string active_since = SoqlDateTime(now_ms - facts::kActiveWindowMs);
  const std::string in = " AND AccountId IN ({in}) GROUP BY AccountId";
  std::vector<FactQuery> out;
  using K = FactQuery::Kind;
  if (wants({"deals.won_amount_last_12m"})) {
    out.push_back({K::kWonLast12m,
                   "SELECT AccountId, SUM(Amount) total FROM Opportunity WHERE IsWon = true AND "
                   "CloseDate > " +
                       year_ago + " AND CloseDate <= " + today + in});
  }
  if (wants({"deals.won_amount_prev_12m"})) {
    out.push_back({K::kWonPrev12m,
                   "SELECT AccountId, SUM(Amount) total FROM Opportunity WHERE IsWon = true AND "
                   "CloseDate > " +
                       two_years_ago + " AND CloseDate <= " + year_ago + in});
  }
  if (wants({"deals.open_amount", "deals.open_count"})) {
    out.push_back({K::kOpen,
                   "SELECT AccountId, SUM(Amount) total, COUNT(Id) n FROM Opportunity WHERE "
                   "IsClosed = false" +
                       in});
  }
  if (wants({"contacts.count"})) {
    out.push_back({K::kContacts,
                   "SELECT AccountId, COUNT(Id) n FROM Contact WHERE AccountId IN ({in}) GROUP BY "
                   "AccountId"});
  }
  if (wants({"contacts.active_count"})) {
    out.push_back({K::kActiveContacts,
                   "SELECT AccountId, COUNT(Id) n FROM Contact WHERE ((LastModifiedDate >= " +
                       active_since + " AND LastModifiedDate <= " + now +
                       ") OR (LastActivityDate >= " + SoqlDate(now_ms - facts::kActiveWindowMs) +
                       " AND LastActivityDate <= " + today + "))" + in});
  }
  if (wants({"contacts.exec_sponsor"})) {
    std::string like;
    for (std::string_view w : kExecLike) {
      like += (like.empty() ? "" : " OR ") + std::string("Title LIKE ") +
              Quote("%" + std::string(w) + "%");
    }
    out.push_back({K::kExecCandidates,
                   "SELECT AccountId, Title FROM Contact WHERE (" + like +
                       ") AND AccountId IN ({in}) ORDER BY AccountId",
                   false});
  }
  if (wants({"meetings.days_since_last"})) {
    out.push_back({K::kLastMeeting,
                   "SELECT AccountId, MAX(ActivityDateTime) last FROM Event WHERE "
                   "ActivityDateTime <= " +
                       now + in});
  }
  if (wants({"meetings.count_last_90d"})) {
    out.push_back(
        {K::kMeetings90d, "SELECT AccountId, COUNT(Id) n FROM Event WHERE ActivityDateTime >= " +
                              active_since + " AND ActivityDateTime <= " + now + in});
  }
  return out;
}

std::string TaskByKeyTemplate() {
  return "SELECT Id, KAM_Task_Key__c, Status, IsClosed, Subject, OwnerId, WhatId, ActivityDate "
         "FROM Task WHERE KAM_Task_Key__c IN ({in})";
}

}  // namespace kam::salesforce::internal
