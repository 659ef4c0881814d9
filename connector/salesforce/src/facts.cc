// ReadFacts: Account fields plus the aggregates rule files map, as SOQL GROUP BY AccountId
// over Opportunity, Contact and Event (soql.h FactQueries), with the same names and windows
// as the HubSpot adapter (kam/http/crm_facts.h).
#include <map>
#include <set>
#include <unordered_map>

#include "client_impl.h"
#include "kam/http/crm_facts.h"
#include "soql.h"
#include "time_format.h"

namespace kam::salesforce {

namespace facts = kam::http::facts;

namespace {

struct Sums {
  double won_last = 0, won_prev = 0, open_amount = 0;
  int64_t open_count = 0, contacts = 0, active_contacts = 0, meetings_90d = 0;
  bool exec = false;
  std::optional<int64_t> last_meeting_ms;
};

void Accumulate(const internal::FactQuery& q, const Record& row, Sums* s) {
  using K = internal::FactQuery::Kind;
  const double total = row.Number("total").value_or(0);
  const auto n = static_cast<int64_t>(row.Number("n").value_or(0));
  switch (q.kind) {
    case K::kWonLast12m:
      s->won_last += total;
      break;
    case K::kWonPrev12m:
      s->won_prev += total;
      break;
    case K::kOpen:
      s->open_amount += total;
      s->open_count += n;
      break;
    case K::kContacts:
      s->contacts += n;
      break;
    case K::kActiveContacts:
      s->active_contacts += n;
      break;
    case K::kExecCandidates:
      if (auto title = row.Text("Title"); title && facts::IsExecutiveTitle(*title)) s->exec = true;
      break;
    case K::kLastMeeting:
      if (auto last = row.Text("last")) {
        if (auto ms = internal::ParseTimeMs(*last)) {
          if (!s->last_meeting_ms || *ms > *s->last_meeting_ms) s->last_meeting_ms = *ms;
        }
      }
      break;
    case K::kMeetings90d:
      s->meetings_90d += n;
      break;
  }
}

std::map<std::string, FactValue> ToAggregates(const std::set<std::string>& names, const Sums& s,
                                              int64_t now_ms) {
  std::map<std::string, FactValue> out;
  auto number = [](auto v) { return FactValue::Number(static_cast<double>(v)); };
  for (const auto& n : names) {
    if (n == "deals.won_amount_last_12m") out[n] = number(s.won_last);
    if (n == "deals.won_amount_prev_12m") out[n] = number(s.won_prev);
    if (n == "deals.open_amount") out[n] = number(s.open_amount);
    if (n == "deals.open_count") out[n] = number(s.open_count);
    if (n == "contacts.count") out[n] = number(s.contacts);
    if (n == "contacts.active_count") out[n] = number(s.active_contacts);
    if (n == "contacts.exec_sponsor") out[n] = FactValue::Bool(s.exec);
    if (n == "meetings.count_last_90d") out[n] = number(s.meetings_90d);
    if (n == "meetings.days_since_last") {
      out[n] = s.last_meeting_ms ? number((now_ms - *s.last_meeting_ms) / facts::kDayMs)
                                 : FactValue::Null();
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& FactFieldsOf(const std::string& sobject) {
  static const std::vector<std::string> kOpportunity = {"AccountId", "Amount", "CloseDate",
                                                        "IsWon", "IsClosed"};
  static const std::vector<std::string> kContact = {"AccountId", "Title", "LastModifiedDate",
                                                    "LastActivityDate"};
  static const std::vector<std::string> kEvent = {"AccountId", "ActivityDateTime"};
  static const std::vector<std::string> kNone;
  if (sobject == "Opportunity") return kOpportunity;
  if (sobject == "Contact") return kContact;
  if (sobject == "Event") return kEvent;
  return kNone;
}

FactInput FactInputOf(const std::string& sobject, const Record& record) {
  FactInput in;
  in.account_id = record.Text("AccountId").value_or("");
  auto time_of = [&](const char* field) -> std::optional<int64_t> {
    auto text = record.Text(field);
    return text ? internal::ParseTimeMs(*text) : std::nullopt;
  };
  if (sobject == "Opportunity") {
    in.amount = record.Number("Amount").value_or(0);
    in.at_ms = time_of("CloseDate");
    in.won = record.Text("IsWon").value_or("false") == "true";
    in.closed = in.won || record.Text("IsClosed").value_or("false") == "true";
  } else if (sobject == "Contact") {
    in.at_ms = time_of("LastModifiedDate");
    if (auto day = time_of("LastActivityDate")) {
      const int64_t end = *day + facts::kDayMs - 1;
      if (!in.at_ms || end > *in.at_ms) in.at_ms = end;
    }
    in.executive = facts::IsExecutiveTitle(record.Text("Title").value_or(""));
  } else if (sobject == "Event") {
    in.at_ms = time_of("ActivityDateTime");
  }
  return in;
}

Result<FactsResult> SalesforceClient::ReadFacts(const FactsRequest& request) {
  for (const auto& name : request.aggregates) {
    if (!facts::IsKnownAggregate(name)) {
      Error e;
      e.message = "unknown aggregate '" + name +
                  "' in the rule file mapping; known: " + facts::KnownAggregateList();
      return e;
    }
  }
  if (!request.aggregates.empty() && request.now_ms <= 0) {
    Error e;
    e.message = "ReadFacts needs now_ms for the aggregate windows";
    return e;
  }
  FactsResult out;
  // The accounts themselves: their fields, and which of them exist.
  std::vector<std::string> fields = request.fields;
  auto accounts = ReadRecords("Account", request.account_ids, fields);
  if (!accounts.ok()) return accounts.error();
  out.queries += 1;
  std::unordered_map<std::string, Record*> by_id;
  for (auto& r : *accounts) by_id[r.id] = &r;

  std::unordered_map<std::string, Sums> sums;
  for (const auto& q : internal::FactQueries(request.aggregates, request.now_ms)) {
    auto rows = impl_->QueryIn(q.soql_template, request.account_ids, &out.queries);
    if (!rows.ok()) return rows.error();
    for (const auto& row : *rows) {
      auto account = row.Text("AccountId");
      if (account) Accumulate(q, row, &sums[*account]);
    }
  }
  // Salesforce answers 18-character ids; a request may use the 15-character form.
  auto find = [&](const std::string& id) -> Record* {
    if (auto it = by_id.find(id); it != by_id.end()) return it->second;
    for (auto& [full, rec] : by_id) {
      if (id.size() == 15 && full.compare(0, 15, id) == 0) return rec;
    }
    return nullptr;
  };
  for (const auto& id : request.account_ids) {
    Record* rec = find(id);
    if (!rec) {
      out.missing.push_back(id);
      continue;
    }
    AccountFacts f;
    f.id = id;
    for (const auto& name : request.fields) {
      auto v = rec->fields.find(name);
      f.fields[name] = v != rec->fields.end() ? v->second : Value::Null();
    }
    auto s = sums.find(rec->id);
    f.aggregates =
        ToAggregates(request.aggregates, s != sums.end() ? s->second : Sums{}, request.now_ms);
    out.accounts.push_back(std::move(f));
  }
  return out;
}

}  // namespace kam::salesforce
