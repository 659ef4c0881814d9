// ReadFacts: company properties plus aggregates over associated deals, contacts and meetings.
#include "facts.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <unordered_map>

#include "client_impl.h"
#include "time_util.h"

namespace kam::hubspot {
namespace internal {

const std::vector<std::string> kDealProperties = {
    "amount", "closedate", "dealstage", "pipeline", "hs_is_closed_won", "hs_is_closed"};
const std::vector<std::string> kContactProperties = {"jobtitle", "lastmodifieddate",
                                                     "notes_last_contacted"};
const std::vector<std::string> kMeetingProperties = {"hs_timestamp", "hs_meeting_start_time"};

// Shared with FactInputOf (below).
std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<int64_t> TimeProp(const CrmObject& o, const char* name) {
  if (auto v = o.Get(name)) return ParseTimeMs(*v);
  return std::nullopt;
}

double Amount(const CrmObject& o) {
  auto v = o.Get("amount");
  if (!v || v->empty()) return 0;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  return end == v->c_str() ? 0 : d;
}

bool IsTrue(const CrmObject& o, const char* name) {
  auto v = o.Get(name);
  return v && Lower(*v) == "true";
}

bool IsKnownAggregate(const std::string& name) {
  for (const char* n : kAggregateNames) {
    if (name == n) return true;
  }
  return false;
}

bool IsExecutiveTitle(const std::string& job_title) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : job_title) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      cur += static_cast<char>(std::tolower(c));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  static const std::set<std::string> kWords = {"ceo", "cfo", "coo", "cto", "cio", "cmo", "cro",
                                               "president", "vp", "svp", "evp"};
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (kWords.count(w) || w.rfind("chief", 0) == 0) return true;
    if (i + 1 < words.size()) {
      const std::string& n = words[i + 1];
      if ((w == "vice" && n == "president") || (w == "managing" && n == "director") ||
          (w == "head" && n == "of")) {
        return true;
      }
    }
  }
  return false;
}

std::map<std::string, FactValue> ComputeAggregates(const std::set<std::string>& names,
                                                   const std::vector<const CrmObject*>& deals,
                                                   const std::vector<const CrmObject*>& contacts,
                                                   const std::vector<const CrmObject*>& meetings,
                                                   int64_t now_ms) {
  double won_last = 0, won_prev = 0, open_amount = 0;
  int64_t open_count = 0;
  for (const CrmObject* d : deals) {
    const std::string stage = Lower(d->Get("dealstage").value_or(""));
    const bool won = IsTrue(*d, "hs_is_closed_won") || stage == "closedwon";
    const bool closed = won || IsTrue(*d, "hs_is_closed") || stage == "closedlost";
    if (!closed) {
      open_amount += Amount(*d);
      ++open_count;
      continue;
    }
    if (!won) continue;
    auto close = TimeProp(*d, "closedate");
    if (!close || *close > now_ms) continue;
    if (*close > now_ms - kYearMs) {
      won_last += Amount(*d);
    } else if (*close > now_ms - 2 * kYearMs) {
      won_prev += Amount(*d);
    }
  }
  int64_t active = 0;
  bool exec = false;
  for (const CrmObject* c : contacts) {
    bool is_active = false;
    for (const char* p : {"lastmodifieddate", "notes_last_contacted"}) {
      auto t = TimeProp(*c, p);
      if (t && *t >= now_ms - kActiveWindowMs) is_active = true;
    }
    active += is_active ? 1 : 0;
    if (auto title = c->Get("jobtitle"); title && IsExecutiveTitle(*title)) exec = true;
  }
  std::optional<int64_t> last_meeting;
  int64_t meetings_90d = 0;
  for (const CrmObject* m : meetings) {
    auto t = TimeProp(*m, "hs_timestamp");
    if (!t) t = TimeProp(*m, "hs_meeting_start_time");
    if (!t || *t > now_ms) continue;  // future meetings are not "last"
    if (!last_meeting || *t > *last_meeting) last_meeting = *t;
    if (*t >= now_ms - kActiveWindowMs) ++meetings_90d;
  }

  std::map<std::string, FactValue> out;
  for (const auto& n : names) {
    if (n == "deals.won_amount_last_12m") out[n] = FactValue::Number(won_last);
    else if (n == "deals.won_amount_prev_12m") out[n] = FactValue::Number(won_prev);
    else if (n == "deals.open_amount") out[n] = FactValue::Number(open_amount);
    else if (n == "deals.open_count") out[n] = FactValue::Number(static_cast<double>(open_count));
    else if (n == "contacts.count") out[n] = FactValue::Number(static_cast<double>(contacts.size()));
    else if (n == "contacts.active_count") out[n] = FactValue::Number(static_cast<double>(active));
    else if (n == "contacts.exec_sponsor") out[n] = FactValue::Bool(exec);
    else if (n == "meetings.days_since_last") {
      out[n] = last_meeting ? FactValue::Number(static_cast<double>((now_ms - *last_meeting) / kDayMs))
                            : FactValue::Null();
    } else if (n == "meetings.count_last_90d") {
      out[n] = FactValue::Number(static_cast<double>(meetings_90d));
    }
  }
  return out;
}

}  // namespace internal

const std::vector<std::string>& FactPropertiesOf(const std::string& object_type) {
  static const std::vector<std::string> kNone;
  if (object_type == "deals") return internal::kDealProperties;
  if (object_type == "contacts") return internal::kContactProperties;
  if (object_type == "meetings") return internal::kMeetingProperties;
  return kNone;
}

// The same reading of a record as internal::ComputeAggregates (keep the two in step).
FactInput FactInputOf(const std::string& object_type, const CrmObject& o) {
  using internal::IsTrue;
  using internal::Lower;
  using internal::TimeProp;
  FactInput in;
  if (object_type == "deals") {
    const std::string stage = Lower(o.Get("dealstage").value_or(""));
    in.won = IsTrue(o, "hs_is_closed_won") || stage == "closedwon";
    in.closed = in.won || IsTrue(o, "hs_is_closed") || stage == "closedlost";
    in.amount = internal::Amount(o);
    in.at_ms = TimeProp(o, "closedate");
  } else if (object_type == "contacts") {
    for (const char* p : {"lastmodifieddate", "notes_last_contacted"}) {
      auto t = TimeProp(o, p);
      if (t && (!in.at_ms || *t > *in.at_ms)) in.at_ms = t;
    }
    if (auto title = o.Get("jobtitle"); title) in.executive = internal::IsExecutiveTitle(*title);
  } else if (object_type == "meetings") {
    in.at_ms = TimeProp(o, "hs_timestamp");
    if (!in.at_ms) in.at_ms = TimeProp(o, "hs_meeting_start_time");
  }
  return in;
}

Result<FactsResult> HubSpotClient::ReadFacts(const FactsRequest& request) {
  for (const auto& name : request.aggregates) {
    if (!internal::IsKnownAggregate(name)) {
      Error e;
      e.code = ErrorCode::kInvalidArgument;
      e.message = "unknown aggregate '" + name +
                  "' in the rule file mapping; known: deals.won_amount_last_12m, "
                  "deals.won_amount_prev_12m, deals.open_amount, deals.open_count, "
                  "contacts.count, contacts.active_count, contacts.exec_sponsor, "
                  "meetings.days_since_last, meetings.count_last_90d";
      return e;
    }
  }
  if (!request.aggregates.empty() && request.now_ms <= 0) {
    Error e;
    e.code = ErrorCode::kInvalidArgument;
    e.message = "ReadFacts needs now_ms for the aggregate windows";
    return e;
  }
  FactsResult out;
  std::vector<std::string> ids = request.company_ids;
  // Company properties (also tells which companies exist).
  std::unordered_map<std::string, CrmObject> companies;
  std::set<std::string> missing;
  if (!request.properties.empty()) {
    auto read = impl_->BatchRead("companies", ids, request.properties);
    if (!read.ok()) return read.error();
    for (auto& o : read->found) companies.emplace(o.id, std::move(o));
    missing.insert(read->missing.begin(), read->missing.end());
  }

  auto wants = [&](const char* prefix) {
    return std::any_of(request.aggregates.begin(), request.aggregates.end(),
                       [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
  };
  struct Related {
    std::map<std::string, std::vector<std::string>> links;  // company -> object ids
    std::unordered_map<std::string, CrmObject> objects;
  };
  auto load = [&](const std::string& type,
                  const std::vector<std::string>& props) -> Result<Related> {
    Related rel;
    auto links = impl_->ReadAssociations("companies", type, ids);
    if (!links.ok()) return links.error();
    rel.links = std::move(*links);
    std::set<std::string> all;
    for (const auto& [cid, list] : rel.links) all.insert(list.begin(), list.end());
    auto read = impl_->BatchRead(type, std::vector<std::string>(all.begin(), all.end()), props);
    if (!read.ok()) return read.error();
    for (auto& o : read->found) rel.objects.emplace(o.id, std::move(o));
    return rel;
  };
  Related deals, contacts, meetings;
  if (wants("deals.")) {
    auto r = load("deals", internal::kDealProperties);
    if (!r.ok()) return r.error();
    deals = std::move(*r);
  }
  if (wants("contacts.")) {
    auto r = load("contacts", internal::kContactProperties);
    if (!r.ok()) return r.error();
    contacts = std::move(*r);
  }
  if (wants("meetings.")) {
    auto r = load("meetings", internal::kMeetingProperties);
    if (!r.ok()) return r.error();
    meetings = std::move(*r);
  }
  auto pick = [](const Related& rel, const std::string& cid) {
    std::vector<const CrmObject*> v;
    auto it = rel.links.find(cid);
    if (it == rel.links.end()) return v;
    for (const auto& id : it->second) {
      auto o = rel.objects.find(id);
      if (o != rel.objects.end()) v.push_back(&o->second);  // deleted ones are left out
    }
    return v;
  };
  for (const auto& cid : ids) {
    if (missing.count(cid)) continue;
    CompanyFacts f;
    f.id = cid;
    if (auto it = companies.find(cid); it != companies.end()) {
      for (const auto& p : request.properties) f.properties[p] = it->second.Get(p);
    }
    f.aggregates = internal::ComputeAggregates(request.aggregates, pick(deals, cid),
                                               pick(contacts, cid), pick(meetings, cid),
                                               request.now_ms);
    out.companies.push_back(std::move(f));
  }
  out.missing.assign(missing.begin(), missing.end());
  return out;
}

}  // namespace kam::hubspot
