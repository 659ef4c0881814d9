// The CRM port over the Salesforce adapter (connector/salesforce): the only engine file that
// names salesforce::. Translates the port's accounts, typed field values, tasks, provisioning
// and errors to and from Salesforce's (Account, Task, KAM_*__c custom fields, org id).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "config.h"
#include "crm.h"
#include "crm_port_common.h"
#include "kam/http/options.h"
#include "kam/http/redact.h"
#include "kam/salesforce/client.h"
#include "operation.h"
#include "proxy_setup.h"

namespace kam::engine {
namespace {

namespace sf = kam::salesforce;

constexpr const char* kNameField = "Name";
constexpr const char* kOwnerField = "OwnerId";

// ---- errors -----------------------------------------------------------------------------------

bool StopsRun(sf::ErrorClass c) {
  return c == sf::ErrorClass::kAuth || c == sf::ErrorClass::kQuota ||
         c == sf::ErrorClass::kCancelled;
}

StatusCode CodeOf(const sf::Error& e) {
  using C = sf::ErrorClass;
  switch (e.error_class) {
    case C::kAuth:
      // A token refused, expired after one refresh, or no credential: the credential. A
      // missing permission (INSUFFICIENT_ACCESS, API disabled): the integration user's setup.
      return e.http_status == 403 || e.error_code.rfind("INSUFFICIENT_ACCESS", 0) == 0 ||
                     e.error_code.rfind("API_", 0) == 0
                 ? StatusCode::kPermissionDenied
                 : StatusCode::kUnauthenticated;
    case C::kQuota:
      return StatusCode::kRateLimited;
    case C::kUnavailable:
      return StatusCode::kUnavailable;
    case C::kRetryable:
      return e.error_code == "UNABLE_TO_LOCK_ROW" ? StatusCode::kConflict
                                                  : StatusCode::kUnavailable;
    case C::kCancelled:
      return StatusCode::kCancelled;
    case C::kPermanent:
      if (e.error_code == "NOT_FOUND" || e.error_code == "ENTITY_IS_DELETED" ||
          e.http_status == 404) {
        return StatusCode::kNotFound;
      }
      if (e.error_code == "DUPLICATE_VALUE") return StatusCode::kConflict;
      return e.http_status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument;
  }
  return StatusCode::kInternal;
}

// `call_level`: the error of a whole call (the port has no way to go on with this request; the
// transport has retried); false: one record of a collection call.
CrmError ErrorOf(const sf::Error& e, bool call_level = true) {
  CrmError out;
  out.code = CodeOf(e);
  out.message = "Salesforce: " + e.ToString();
  if (!e.crm_message.empty() && out.message.find(e.crm_message) == std::string::npos) {
    out.message += ": " + e.crm_message;
  }
  if (!e.fields.empty()) {
    out.message += " (fields:";
    for (const auto& f : e.fields) out.message += " " + f;
    out.message += ")";
  }
  out.endpoint = e.endpoint;
  out.http_status = e.http_status;
  out.retryable = e.retryable() || e.error_class == sf::ErrorClass::kQuota ||
                  e.error_class == sf::ErrorClass::kCancelled;
  out.retry_after_ms = e.retry_after_ms;
  // A call that failed after the transport's retries (5xx, timeouts, an expired locator) cannot
  // go on either: the run stops and resumes from its last committed page or batch.
  out.stops_run = StopsRun(e.error_class) || (call_level && e.retryable());
  return out;
}

// ---- values -----------------------------------------------------------------------------------

// "2024-05-01T10:00:00.000+0000", "...Z", "...+02:00" or "2024-05-01" -> epoch ms; -1 if not.
int64_t ParseTimeMs(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &mo, &d) != 3) return -1;
  int64_t ms = 0;
  int64_t offset_min = 0;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != ' ') ||
        std::sscanf(s.c_str() + 11, "%2d:%2d:%2d", &h, &mi, &sec) != 3) {
      return -1;
    }
    size_t i = 19;
    if (i < s.size() && s[i] == '.') {
      int64_t frac = 0;
      int digits = 0;
      for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (digits < 3) frac = frac * 10 + (s[i] - '0'), ++digits;
      }
      while (digits < 3) frac *= 10, ++digits;
      ms = frac;
    }
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      int oh = 0, om = 0;
      std::string rest = s.substr(i + 1);
      rest.erase(std::remove(rest.begin(), rest.end(), ':'), rest.end());
      if (rest.size() != 4 || std::sscanf(rest.c_str(), "%2d%2d", &oh, &om) != 2) return -1;
      offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    }
  }
  using namespace std::chrono;
  auto day = sys_days(year_month_day(year(y), month(static_cast<unsigned>(mo)),
                                     std::chrono::day(static_cast<unsigned>(d))));
  int64_t epoch_s = duration_cast<seconds>(day.time_since_epoch()).count() + h * 3600 + mi * 60 +
                    sec - offset_min * 60;
  return epoch_s * 1000 + ms;
}

// The UTC day of `ms`: "2026-12-03".
std::string UtcDate(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

// A field of `r` by name, case-insensitively (field names are case-insensitive in Salesforce;
// a rule file may spell them in any case, answers use the canonical case).
const sf::Value* FindField(const sf::Record& r, const std::string& name) {
  auto it = r.fields.find(name);
  if (it != r.fields.end()) return &it->second;
  for (const auto& [k, v] : r.fields) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return &v;
    }
  }
  return nullptr;
}

std::optional<std::string> TextOf(const sf::Value& v) {
  sf::Record r;
  r.fields.emplace("v", v);
  return r.Text("v");
}

std::optional<std::string> FieldText(const sf::Record& r, const std::string& name) {
  const sf::Value* v = FindField(r, name);
  return v ? TextOf(*v) : std::nullopt;
}

CrmAccount AccountOf(const sf::Record& r, const std::vector<std::string>& properties) {
  CrmAccount a;
  a.id = r.id;
  a.name = FieldText(r, kNameField).value_or("");
  a.owner_id = FieldText(r, kOwnerField).value_or("");
  for (const auto& p : properties) a.properties[p] = FieldText(r, p);
  if (auto ts = FieldText(r, "SystemModstamp")) a.modified_ms = ParseTimeMs(*ts);
  return a;
}

// The port's types (PropertySpec::type) as the values Salesforce takes: typed JSON, null
// clears (CRM_API B1).
sf::Value ValueOf(const std::string& text, const std::string& type) {
  if (text.empty()) return sf::Value::Null();
  if (type == "number") {
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() && *end == '\0' && std::isfinite(d)) return sf::Value::Number(d);
  } else if (type == "bool") {
    if (text == "true") return sf::Value::Bool(true);
    if (text == "false") return sf::Value::Bool(false);
  }
  return sf::Value::String(text);
}

// A decimal number rounded half away from zero to `scale` decimals, as Salesforce stores what
// is written to a Number field; trailing zeros dropped ("7.25", 1 -> "7.3"; "7.2", 1 -> "7.2").
// Text that is not a finite number is returned as it is.
std::string RoundToScale(const std::string& text, int scale) {
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(d)) return text;
  std::string plain = text;
  auto is_plain = [](const std::string& t) {
    size_t i = t[0] == '-' || t[0] == '+' ? 1 : 0;
    bool digits = false, dot = false;
    for (; i < t.size(); ++i) {
      if (t[i] == '.' && !dot) {
        dot = true;
      } else if (t[i] >= '0' && t[i] <= '9') {
        digits = true;
      } else {
        return false;
      }
    }
    return digits;
  };
  if (!is_plain(plain)) {
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.*f", std::min(scale + 6, 30), d);
    plain = buf;
  }
  const bool negative = plain[0] == '-';
  if (plain[0] == '-' || plain[0] == '+') plain.erase(0, 1);
  const size_t dot = plain.find('.');
  std::string whole = dot == std::string::npos ? plain : plain.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : plain.substr(dot + 1);
  if (whole.empty()) whole = "0";
  const size_t keep = static_cast<size_t>(std::max(scale, 0));
  const bool up = frac.size() > keep && frac[keep] >= '5';
  if (frac.size() > keep) frac.resize(keep);
  std::string digits = whole + frac;
  if (up) {
    size_t i = digits.size();
    while (i > 0 && digits[i - 1] == '9') digits[--i] = '0';
    if (i == 0) {
      digits.insert(digits.begin(), '1');
    } else {
      ++digits[i - 1];
    }
  }
  whole = digits.substr(0, digits.size() - frac.size());
  frac = digits.substr(digits.size() - frac.size());
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  while (whole.size() > 1 && whole[0] == '0') whole.erase(0, 1);
  std::string out = whole + (frac.empty() ? "" : "." + frac);
  if (negative && out.find_first_not_of("0.") != std::string::npos) out.insert(0, "-");
  return out;
}

// The org's Task Priority value for the port's priority. Orgs rename and add values (CRM_API
// B8): high = the first value that says high/urgent/critical, else the first; low = the first
// that says low, else the last; medium = the default, else one that says normal/medium, else
// the middle one. Unknown values: Salesforce's defaults High / Normal / Low.
std::string PriorityIn(const sf::PicklistValues& p, TaskPriority want) {
  if (p.values.empty()) {
    return want == TaskPriority::kHigh ? "High" : want == TaskPriority::kLow ? "Low" : "Normal";
  }
  auto says = [&](std::initializer_list<const char*> words) -> std::string {
    for (const auto& v : p.values) {
      std::string lower = v;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (const char* w : words) {
        if (lower.find(w) != std::string::npos) return v;
      }
    }
    return "";
  };
  switch (want) {
    case TaskPriority::kHigh:
      if (auto v = says({"high", "urgent", "critical"}); !v.empty()) return v;
      return p.values.front();
    case TaskPriority::kLow:
      if (auto v = says({"low"}); !v.empty()) return v;
      return p.values.back();
    case TaskPriority::kMedium:
      break;
  }
  if (!p.default_value.empty()) return p.default_value;
  if (auto v = says({"normal", "medium"}); !v.empty()) return v;
  return p.values[p.values.size() / 2];
}

// ---- provisioning -----------------------------------------------------------------------------

// The port's type names (PropertySpec::type) as the connector's field types.
bool SameKind(const std::string& type, sf::FieldSpec::Type t) {
  using T = sf::FieldSpec::Type;
  if (type == "number") return t == T::kNumber;
  if (type == "enumeration") return t == T::kPicklist;
  if (type == "datetime") return t == T::kDateTime;
  if (type == "bool") return t == T::kCheckbox;
  return t == T::kText || t == T::kLongText;  // string
}

// The connector's field definition for one of the port's properties: the add-in's own fields
// keep their documented shapes (connector/salesforce's table: KAM_Score__c Number(5,1), ...)
// while the rule file gives them the usual type; any other writeback target (or type) gets a
// field of its type.
sf::FieldSpec FieldSpecOf(const PropertySpec& p) {
  using T = sf::FieldSpec::Type;
  if (auto own = sf::AddinAccountField(p.name); own && SameKind(p.type, own->type)) {
    if (!p.label.empty()) own->label = p.label;
    for (const auto& [value, label] : p.options) own->values.push_back({value, label});
    return *own;
  }
  sf::FieldSpec f;
  f.name = p.name;
  f.label = p.label.empty() ? p.name : p.label;
  f.description = "Written by the KAM add-in.";
  if (p.name == "KAM_Explanation__c" && p.type == "string") {
    // The record card as rich text (rules::RenderCardHtml, at most 131,072 characters).
    f.type = T::kRichText, f.length = 131072;
    f.description = "The KAM card: score, tier, breakdown, next tier, health, goals, open tasks.";
  } else if (p.type == "number") {
    f.type = T::kNumber, f.precision = 18, f.scale = 2;
  } else if (p.type == "enumeration") {
    f.type = T::kPicklist;
  } else if (p.type == "datetime") {
    f.type = T::kDateTime;
  } else if (p.type == "bool") {
    f.type = T::kCheckbox;
  } else {
    f.type = T::kLongText, f.length = 32768;  // free text: breakdowns, hints, reasons
  }
  for (const auto& [value, label] : p.options) f.values.push_back({value, label});
  return f;
}

sf::ProvisionSpec SpecOf(const ProvisionSpec& spec) {
  sf::ProvisionSpec out;
  for (const auto& p : spec.properties) {
    if (p.object != CrmObject::kAccount) continue;  // the task key is the port's own
    if (p.name == sf::kTierField) {
      for (const auto& [value, label] : p.options) out.tiers.push_back({value, label});
    }
    out.account_fields.push_back(FieldSpecOf(p));
  }
  return out;
}

ProvisionItem::Outcome OutcomeOf(sf::ProvisionItem::Outcome o, bool verifying) {
  using O = sf::ProvisionItem::Outcome;
  switch (o) {
    case O::kCreated:
      return ProvisionItem::Outcome::kCreated;
    case O::kUnchanged:
      return ProvisionItem::Outcome::kUnchanged;
    case O::kUpdated:
      // Verifying: "tier values must be added" — present with the right type, values missing.
      return verifying ? ProvisionItem::Outcome::kUnchanged : ProvisionItem::Outcome::kUpdated;
    case O::kConflict:
      return ProvisionItem::Outcome::kConflict;
    case O::kFailed:
      return verifying ? ProvisionItem::Outcome::kMissing : ProvisionItem::Outcome::kFailed;
  }
  return ProvisionItem::Outcome::kFailed;
}

// One item per property of `spec` (in order), then the task key, from the connector's report.
ProvisionReport ReportOf(const ProvisionSpec& spec, const sf::ProvisionReport& r, bool verifying) {
  ProvisionReport out;
  out.task_key_unique = r.task_key_external_id;
  auto item_for = [&](CrmObject object, const std::string& name) {
    ProvisionItem item;
    item.object = object;
    item.name = name;
    item.outcome = ProvisionItem::Outcome::kMissing;
    item.detail = "not reported by Salesforce";
    const std::string sobject = object == CrmObject::kTask ? "Task" : "Account";
    for (const auto& it : r.items) {
      if (it.object != sobject || it.field != name) continue;
      item.outcome = OutcomeOf(it.outcome, verifying);
      item.detail = it.detail;
      if (item.outcome == ProvisionItem::Outcome::kMissing) {
        item.detail += (item.detail.empty() ? "" : "; ") +
                       std::string(
                           "run `kam provision` and grant the integration user Read and "
                           "Edit on it (field-level security)");
      }
      if (item.outcome == ProvisionItem::Outcome::kUnchanged && verifying) item.detail.clear();
    }
    return item;
  };
  for (const auto& p : spec.properties) out.items.push_back(item_for(p.object, p.name));
  out.items.push_back(item_for(CrmObject::kTask, sf::kTaskKeyField));
  return out;
}

// ---- incremental facts ------------------------------------------------------------------------

// The sObject of a fact kind: deals are Opportunities, meetings Events.
// A page callback's answer to the client: nothing when the engine's callback took the page;
// otherwise the engine's own error is kept in *stopped (the pull returns it as it was) and the
// client is told to stop.
sf::Status PassOn(const CrmStatus& st, std::optional<CrmError>* stopped) {
  if (st.ok()) return {};
  *stopped = st.error();
  sf::Error e;
  e.error_class = sf::ErrorClass::kCancelled;
  e.message = "stopped by the page callback";
  return e;
}

std::string SObjectOf(FactKind kind) {
  switch (kind) {
    case FactKind::kDeal:
      return "Opportunity";
    case FactKind::kContact:
      return "Contact";
    case FactKind::kMeeting:
      return "Event";
  }
  return "Opportunity";
}

// What the incremental facts read of a record: the connector's fields (FactFieldsOf) and its
// SystemModstamp.
std::vector<std::string> FactFields(const std::string& sobject) {
  std::vector<std::string> fields = sf::FactFieldsOf(sobject);
  fields.emplace_back("SystemModstamp");
  return fields;
}

// The record as the engine stores it; *account = its AccountId ("" = none).
FactRecord FactRecordOf(FactKind kind, const std::string& sobject, const sf::Record& r,
                        std::string* account) {
  sf::FactInput in = sf::FactInputOf(sobject, r);
  FactRecord f;
  f.kind = kind;
  f.id = r.id;
  if (auto ts = FieldText(r, "SystemModstamp")) f.modified_ms = ParseTimeMs(*ts);
  f.amount = in.amount;
  f.at_ms = in.at_ms ? *in.at_ms : -1;
  f.won = in.won;
  f.closed = in.closed;
  f.executive = in.executive;
  *account = std::move(in.account_id);
  return f;
}

// ---- the port ---------------------------------------------------------------------------------

class SalesforceCrm final : public Crm {
 public:
  SalesforceCrm(std::unique_ptr<sf::SalesforceClient> client, const EngineConfig& cfg)
      : client_(std::move(client)),
        open_status_(cfg.salesforce.task_status_open),
        completed_status_(cfg.salesforce.task_status_completed),
        page_size_(cfg.salesforce.page_size) {
    // What the add-in's own fields take before VerifyProperties/Provision name the types.
    types_[sf::kScoreField] = "number";
    types_[sf::kScoredAtField] = "datetime";
  }

  std::string_view Name() const override { return "salesforce"; }

  CrmResult<std::string> PortalId() override {
    auto r = client_->OrgId();
    if (!r.ok()) return ErrorOf(r.error());
    return *r;
  }

  CrmResult<PullSummary> PullAll(const PullRequest& request, const PageCallback& on_page) override {
    // A full pull is the keyset pull from the start; its pages' cursors are where an
    // incremental pull continues. Each page's token is its keyset position, so a crashed full
    // pull resumes after its last committed page (with the overlap, as an incremental pull).
    if (request.resume_token.empty()) return Pull(request, on_page, PullCursor{}, true);
    PullCursor from;
    if (!ParsePageToken(request.resume_token, &from)) {
      CrmError e;
      e.code = StatusCode::kInvalidArgument;
      e.message = "Salesforce: \"" + request.resume_token.substr(0, 60) +
                  "\" is not a paging token of this port (expected sf1:<ms>:<Account Id>)";
      return e;  // neither retryable nor stopping: the engine starts the full pull over
    }
    auto r = Pull(request, on_page, from, true);
    if (r.ok()) r->resumed = true;
    return r;
  }

  CrmResult<PullSummary> PullChanged(const PullCursor& since, const PullRequest& request,
                                     const PageCallback& on_page) override {
    return Pull(request, on_page, since, false);
  }

  // A full pull's paging token: the keyset position (SystemModstamp, Id) after a page.
  static std::string PageToken(int64_t modstamp_ms, const std::string& id) {
    return "sf1:" + std::to_string(modstamp_ms) + ":" + id;
  }
  static bool ParsePageToken(const std::string& token, PullCursor* out) {
    if (token.rfind("sf1:", 0) != 0) return false;
    const size_t colon = token.find(':', 4);
    if (colon == std::string::npos || colon == 4 || colon > 4 + 15) return false;
    int64_t ms = 0;
    for (size_t i = 4; i < colon; ++i) {
      if (token[i] < '0' || token[i] > '9') return false;
      ms = ms * 10 + (token[i] - '0');
    }
    const std::string id = token.substr(colon + 1);
    if (id.size() != 15 && id.size() != 18) return false;
    for (char c : id) {
      if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    }
    out->modified_ms = ms;
    out->id = id;
    return true;
  }

  CrmResult<std::vector<std::string>> ListArchived(int64_t since_ms) override {
    auto r = client_->ListDeletedAccounts(since_ms);
    if (!r.ok()) return ErrorOf(r.error());
    return *r;
  }

  CrmResult<FactsResult> ReadFacts(const FactsRequest& request) override {
    sf::FactsRequest req;
    req.account_ids = request.account_ids;
    req.aggregates.insert(request.aggregates.begin(), request.aggregates.end());
    req.now_ms = request.now_ms;
    auto r = client_->ReadFacts(req);
    if (!r.ok()) return ErrorOf(r.error());
    return port::FactsResultOf(r->accounts, std::move(r->missing));
  }

  // Incremental facts: a record's link to its account is its own AccountId field, so a link
  // that moves moves the record's SystemModstamp and the keyset pull of changed records sees
  // it, deletions included (queryAll + IsDeleted).
  bool IncrementalFacts() const override { return true; }
  bool LinksMoveRecords() const override { return true; }

  CrmResult<PullSummary> PullChangedFacts(FactKind kind, const PullCursor& since,
                                          const PullRequest& request,
                                          const FactPageCallback& on_page) override {
    const std::string sobject = SObjectOf(kind);
    sf::PullOptions po;
    po.fields = sf::FactFieldsOf(sobject);
    po.overlap_ms = request.overlap_ms;
    po.batch_size = page_size_;
    po.include_deleted = true;  // a deleted record leaves the facts of its account
    po.until_ms = request.until_ms;
    std::optional<CrmError> stopped;  // the caller's own error, returned as it was
    auto cb = [&](const sf::AccountPage& page) -> sf::Status {
      FactPage p;
      p.records.reserve(page.accounts.size() + page.deleted_ids.size());
      for (const auto& r : page.accounts) {
        std::string account;
        p.records.push_back(FactRecordOf(kind, sobject, r, &account));
        auto& links = p.accounts[r.id];
        if (!account.empty()) links.push_back(std::move(account));
      }
      for (const auto& id : page.deleted_ids) {
        FactRecord gone;  // in the recycle bin: linked to no account
        gone.kind = kind;
        gone.id = id;
        p.records.push_back(std::move(gone));
        p.accounts[id];
      }
      p.cursor.modified_ms = page.cursor.modstamp_ms;
      p.cursor.id = page.cursor.id;
      return PassOn(on_page(p), &stopped);
    };
    auto r = client_->PullRecords(sobject, {since.modified_ms, since.id}, po, cb);
    if (stopped) return *stopped;
    if (!r.ok()) return ErrorOf(r.error());
    PullSummary s;
    s.pages = r->pages;
    s.accounts = r->accounts + r->deleted;
    s.cursor.modified_ms = r->cursor.modstamp_ms;
    s.cursor.id = r->cursor.id;
    return s;
  }

  // One query per IN chunk of accounts reads the records themselves, not only their ids: the
  // engine asks for the records it does not store right after (ReadFactRecords), and those are
  // answered from this read instead of a second query by id.
  CrmResult<std::map<std::string, std::vector<std::string>>> ReadFactLinks(
      FactKind kind, const std::vector<std::string>& account_ids) override {
    const std::string sobject = SObjectOf(kind);
    auto r = client_->ReadRecordsWhere(sobject, "AccountId", account_ids, FactFields(sobject));
    if (!r.ok()) return ErrorOf(r.error());
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& id : account_ids) out[id];  // every account is a key
    auto& read = last_link_read_[kind];
    read.clear();
    for (const auto& rec : *r) {
      std::string account;
      FactRecord f = FactRecordOf(kind, sobject, rec, &account);
      if (account.empty()) continue;
      out[account].push_back(f.id);
      read.emplace(f.id, std::move(f));
    }
    return out;
  }

  CrmResult<std::vector<FactRecord>> ReadFactRecords(FactKind kind,
                                                     const std::vector<std::string>& ids) override {
    std::vector<FactRecord> out;
    std::vector<std::string> rest;
    auto& read = last_link_read_[kind];
    for (const auto& id : ids) {
      auto it = read.find(id);
      if (it == read.end()) {
        rest.push_back(id);
      } else {
        out.push_back(it->second);
      }
    }
    read.clear();
    if (!rest.empty()) {
      const std::string sobject = SObjectOf(kind);
      auto r = client_->ReadRecords(sobject, rest, FactFields(sobject));
      if (!r.ok()) return ErrorOf(r.error());
      for (const auto& rec : *r) {
        std::string account;
        out.push_back(FactRecordOf(kind, sobject, rec, &account));
      }
    }
    return out;
  }

  CrmResult<BatchOutcome> WriteFields(const std::vector<FieldUpdate>& updates) override {
    std::vector<sf::RecordUpdate> in;
    in.reserve(updates.size());
    for (const auto& u : updates) {
      sf::RecordUpdate r;
      r.id = u.account_id;
      for (const auto& [field, value] : u.fields) {
        r.fields[field] = ValueOf(StoredValue(field, value), TypeOf(field));
      }
      in.push_back(std::move(r));
    }
    auto r = client_->UpdateAccounts(in);
    if (!r.ok()) return ErrorOf(r.error());
    return Outcome(
        *r, [&](size_t i) { return updates[i].account_id; }, updates.size());
  }

  CrmResult<std::vector<TaskWriteOutcome>> WriteTasks(const std::vector<TaskSpec>& tasks) override {
    if (!priorities_) {
      // Known from VerifyProperties/Provision (the sync's check before its first write), else
      // read once.
      auto p = client_->DescribePicklist("Task", "Priority");
      if (!p.ok()) return ErrorOf(p.error());
      priorities_ = *p;
    }
    if (open_status_.empty() || completed_status_.empty()) {
      // The org's own Task Status values (one query, remembered by the client), unless the
      // configuration names them.
      auto st = client_->TaskStatusValues();
      if (!st.ok()) return ErrorOf(st.error());
      if (open_status_.empty()) open_status_ = st->open;
      if (completed_status_.empty()) completed_status_ = st->completed;
    }
    std::vector<sf::TaskSpec> specs;
    specs.reserve(tasks.size());
    for (const auto& t : tasks) {
      sf::TaskSpec s;
      s.key = t.key;
      s.account_id = t.account_id;
      s.owner_id = t.owner_id;
      s.subject = t.subject;
      s.description = t.body;
      s.status = t.status == CrmTaskStatus::kCompleted ? completed_status_ : open_status_;
      s.priority = PriorityIn(*priorities_, t.priority);
      s.due_date = t.due_ms > 0 ? UtcDate(t.due_ms) : "";
      s.in_doubt = t.in_doubt;
      specs.push_back(std::move(s));
    }
    auto r = client_->WriteTasks(specs);
    if (!r.ok()) return ErrorOf(r.error());
    std::vector<TaskWriteOutcome> out;
    out.reserve(r->tasks.size());
    for (size_t i = 0; i < r->tasks.size(); ++i) {
      const sf::TaskOutcome& o = r->tasks[i];
      // Credentials, the allocation or a cancel: the run stops (nothing is lost: the next run
      // searches these keys before creating anything).
      if (o.error && StopsRun(o.error->error_class)) return ErrorOf(*o.error, false);
      TaskWriteOutcome w = port::TaskOutcomeOf(
          o.key, o.task_id, o.created,
          o.error ? std::optional(ErrorOf(*o.error, false)) : std::nullopt, "Salesforce");
      w.linked = o.linked;
      w.status = o.created && i < tasks.size() ? tasks[i].status : CrmTaskStatus::kOpen;
      out.push_back(std::move(w));
    }
    return out;
  }

  CrmResult<std::vector<CrmTask>> FindTasks(const std::vector<std::string>& keys) override {
    auto r = client_->FindTasksByKey(keys);
    if (!r.ok()) return ErrorOf(r.error());
    std::vector<CrmTask> out;
    out.reserve(r->size());
    for (const auto& t : *r) {
      CrmTask c;
      c.id = t.id;
      c.key = FieldText(t, sf::kTaskKeyField).value_or("");
      c.subject = FieldText(t, "Subject").value_or("");
      c.owner_id = FieldText(t, kOwnerField).value_or("");
      c.status = FieldText(t, "IsClosed").value_or("false") == "true" ? CrmTaskStatus::kCompleted
                                                                      : CrmTaskStatus::kOpen;
      if (auto due = FieldText(t, "ActivityDate"))
        c.due_ms = std::max<int64_t>(0, ParseTimeMs(*due));
      if (auto what = FieldText(t, "WhatId"); what && !what->empty())
        c.account_ids.push_back(*what);
      out.push_back(std::move(c));
    }
    return out;
  }

  CrmResult<BatchOutcome> CompleteTasks(const std::vector<std::string>& task_ids) override {
    // Only tasks that carry the add-in's key are touched (the connector refuses others).
    auto r = client_->CompleteTasksById(task_ids);
    if (!r.ok()) return ErrorOf(r.error());
    return Outcome(
        *r, [&](size_t i) { return task_ids[i]; }, task_ids.size());
  }

  CrmResult<ProvisionReport> Provision(const ProvisionSpec& spec) override {
    RememberTypes(spec);
    sf::ProvisionSpec s = SpecOf(spec);
    auto r = client_->Provision(s);
    if (!r.ok()) return ErrorOf(r.error());
    // Read every field back: what describe shows now, not what the create calls said.
    auto found = client_->VerifyFields(s);
    if (!found.ok()) return ErrorOf(found.error());
    RememberDescribe(*found);
    ProvisionReport out = ReportOf(spec, *r, false);
    ProvisionReport back = ReportOf(spec, *found, true);
    for (size_t i = 0; i < out.items.size() && i < back.items.size(); ++i) {
      ProvisionItem& item = out.items[i];
      const ProvisionItem& b = back.items[i];
      if (b.outcome == ProvisionItem::Outcome::kMissing &&
          item.outcome != ProvisionItem::Outcome::kFailed) {
        item.outcome = ProvisionItem::Outcome::kMissing;
        item.detail = "not found when read back after provisioning (" + b.detail + ")";
      } else if (b.outcome == ProvisionItem::Outcome::kConflict) {
        item.outcome = ProvisionItem::Outcome::kConflict;
        item.detail = b.detail;
      }
    }
    out.task_key_unique = r->task_key_external_id && found->task_key_external_id;
    return out;
  }

  CrmResult<ProvisionReport> VerifyProperties(const ProvisionSpec& spec) override {
    RememberTypes(spec);
    auto r = client_->VerifyFields(SpecOf(spec));
    if (!r.ok()) return ErrorOf(r.error());
    RememberDescribe(*r);
    return ReportOf(spec, *r, true);
  }

  // Numbers are rounded to the field's scale (describe's, else the add-in's own field's, e.g.
  // KAM_Score__c Number(5,1)): Salesforce rounds on save, and the diff must compare like with
  // like or it would rewrite a score of 7.25 (stored as 7.3) on every run.
  std::string StoredValue(const std::string& property, const std::string& value) const override {
    if (value.empty() || TypeOf(property) != "number") return value;
    int scale = -1;
    if (auto it = scales_.find(property); it != scales_.end()) {
      scale = it->second;
    } else if (auto own = sf::AddinAccountField(property);
               own && own->type == sf::FieldSpec::Type::kNumber) {
      scale = own->scale;
    }
    return scale < 0 ? value : RoundToScale(value, scale);
  }

  // SOQL pages hold up to 2,000 records (accounts, deleted accounts through queryAll, tasks by
  // key); a run that gets a token needs that one request (CRM_API.md B2, B5).
  CallLimits MinimumCallLimits() const override {
    CallLimits l;
    l.full_pull_page = 2000;
    l.changed_page = 2000;
    l.archived_page = 2000;
    l.task_status_keys = 2000;
    // Changed Opportunities, Contacts and Events: 2,000 per page, each with its AccountId (no
    // mapping read); a link read returns the records too (no read by id) and holds as many
    // 18-character ids as fit the query's URL-encoded length ('id', = 27 characters each).
    l.fact_page = 2000;
    l.fact_map_batch = 0;
    l.fact_record_batch = 0;
    l.fact_link_accounts = std::max<int64_t>(
        1, std::min<int64_t>(static_cast<int64_t>(client_->options().max_in_ids),
                             static_cast<int64_t>(client_->options().max_query_chars) / 27));
    l.token_calls = client_->Usage().token_requests > 0 ? 1 : 0;
    return l;
  }

  CrmUsage Usage() const override {
    sf::ApiUsage u = client_->Usage();
    CrmUsage out;
    out.calls = u.requests + u.token_requests;
    out.retries = u.retries;
    out.rate_limited = u.quota_refusals;
    out.failed = u.failed;
    out.quota_left = u.daily_remaining;
    out.daily_limit = u.daily_limit;
    return out;
  }

 private:
  CrmResult<PullSummary> Pull(const PullRequest& request, const PageCallback& on_page,
                              const PullCursor& since, bool full) {
    sf::PullOptions po;
    std::set<std::string> fields(request.properties.begin(), request.properties.end());
    fields.insert(kNameField);
    for (const char* own : {"Id", kOwnerField, "SystemModstamp", "IsDeleted"}) fields.erase(own);
    po.fields.assign(fields.begin(), fields.end());
    po.overlap_ms = request.overlap_ms;
    po.batch_size = page_size_;
    // Deletions come from ListArchived (the engine asks after an incremental pull; a full pull
    // archives what it did not see), so the pull reads live accounts only.
    po.include_deleted = false;
    std::optional<CrmError> stopped;  // the caller's own error, returned as it was
    auto cb = [&](const sf::AccountPage& page) -> sf::Status {
      PullPage p;
      p.accounts.reserve(page.accounts.size());
      for (const auto& a : page.accounts) p.accounts.push_back(AccountOf(a, request.properties));
      p.cursor.modified_ms = page.cursor.modstamp_ms;
      p.cursor.id = page.cursor.id;
      if (full) p.cursor.page_token = PageToken(page.cursor.modstamp_ms, page.cursor.id);
      p.total_hint = page.total_hint;
      return PassOn(on_page(p), &stopped);
    };
    auto r = client_->PullAccounts({since.modified_ms, since.id}, po, cb);
    if (stopped) return *stopped;
    if (!r.ok()) return ErrorOf(r.error());
    PullSummary s;
    s.pages = r->pages;
    s.accounts = r->accounts;
    s.cursor.modified_ms = r->cursor.modstamp_ms;
    s.cursor.id = r->cursor.id;
    return s;
  }

  // Per-record outcomes of a collection call; an error that stops the run (credentials, the
  // allocation, a cancel) is returned as the call's error: writes are idempotent, the engine
  // keeps its outbox and the next run repeats them.
  template <typename IdOf>
  CrmResult<BatchOutcome> Outcome(const sf::WriteResult& r, IdOf id_of, size_t n) {
    BatchOutcome out;
    for (size_t i = 0; i < r.records.size(); ++i) {
      const sf::RecordOutcome& o = r.records[i];
      std::string id = i < n ? id_of(i) : o.id;
      if (!o.error) {
        out.written.push_back({id, -1});
        continue;
      }
      if (StopsRun(o.error->error_class)) return ErrorOf(*o.error, false);
      out.failed.push_back({id, ErrorOf(*o.error, false)});
    }
    // Every input in exactly one list, even if the connector answered fewer outcomes.
    for (size_t i = r.records.size(); i < n; ++i) {
      CrmError e;
      e.code = StatusCode::kInternal;
      e.message = "Salesforce returned no outcome for this record";
      e.retryable = true;
      out.failed.push_back({id_of(i), e});
    }
    return out;
  }

  void RememberTypes(const ProvisionSpec& spec) {
    for (const auto& p : spec.properties) {
      if (p.object == CrmObject::kAccount) types_[p.name] = p.type;
    }
  }

  void RememberDescribe(const sf::ProvisionReport& r) {
    for (const auto& [field, scale] : r.number_scales) scales_[field] = scale;
    priorities_ = r.task_priority;
  }

  std::string TypeOf(const std::string& field) const {
    auto it = types_.find(field);
    return it == types_.end() ? "string" : it->second;
  }

  std::unique_ptr<sf::SalesforceClient> client_;
  std::string open_status_;
  std::string completed_status_;
  int page_size_ = 2000;
  std::map<std::string, std::string> types_;      // Account field -> the port's type name
  std::map<std::string, int> scales_;             // Account Number field -> its scale (describe)
  std::optional<sf::PicklistValues> priorities_;  // Task Priority (describe)
  // The records the last ReadFactLinks of each kind read, by id, for the ReadFactRecords that
  // follows it (one chunk of accounts at a time; emptied by that call).
  std::map<FactKind, std::map<std::string, FactRecord>> last_link_read_;
};

}  // namespace

StatusOr<std::unique_ptr<Crm>> MakeSalesforceCrm(const EngineConfig& cfg, Host& host,
                                                 const SecretFn& get_secret) {
  const SalesforceConfig& c = cfg.salesforce;
  sf::SalesforceOptions o;
  using Flow = sf::AuthOptions::Flow;
  std::string needed;  // the secret the flow cannot do without
  if (c.auth_flow == "jwt") {
    o.auth.flow = Flow::kJwtBearer;
    needed = c.key_secret;
  } else if (c.auth_flow == "refresh_token") {
    o.auth.flow = Flow::kRefreshToken;
    needed = c.refresh_token_secret;
  } else if (c.auth_flow == "client_credentials") {
    o.auth.flow = Flow::kClientCredentials;
    needed = c.client_secret_secret;
  } else {
    o.auth.flow = Flow::kAccessToken;
    needed = c.token_secret;
  }
  if (!port::HasSecret(get_secret, needed)) {
    return Status(StatusCode::kUnauthenticated,
                  "no Salesforce credential: the " + c.auth_flow + " flow needs the secret " +
                      needed + " (set it, or " + needed +
                      "_FILE naming a 0600 file; see connector/salesforce/README.md)",
                  "/salesforce/auth");
  }
  o.instance_url = c.instance_url;
  o.api_version = c.api_version;
  o.auth.login_url = c.login_url;
  o.auth.client_id = c.client_id;
  o.auth.username = c.username;
  o.auth.audience = c.audience;
  o.auth.private_key_secret = c.key_secret;
  o.auth.client_secret_secret = c.client_secret_secret;
  o.auth.refresh_token_secret = c.refresh_token_secret;
  o.auth.token_secret = c.token_secret;
  Host* h = &host;
  // Every credential the client reads is also handed to the host's redaction.
  o.auth.get_secret = [h, get_secret](std::string_view name) -> std::optional<std::string> {
    auto v = get_secret(name);
    if (v && !v->empty()) h->AddSecret(*v);
    return v;
  };
  o.auth.on_token = [h](std::string_view token) { h->AddSecret(token); };  // OAuth tokens
  o.http.tls.ca_file = c.ca_file;
  o.http.tls.insecure = c.insecure;
  o.http.max_connections = static_cast<size_t>(c.max_connections);
  o.http.rate_limit.daily_reserve_share = c.daily_reserve_share;
  o.http.retry.max_attempts = c.max_attempts;
  o.http.retry.initial_delay = std::chrono::milliseconds(c.initial_delay_ms);
  o.http.retry.max_delay = std::chrono::milliseconds(c.max_delay_ms);
  if (Status s = ApplyProxyConfig(cfg.proxy, get_secret, &o.http.proxy); !s.ok()) return s;
  o.http.log = [h](http::LogLevel level, std::string_view message) {
    h->Log(static_cast<int32_t>(level), message);
  };
  o.http.cancelled = [h] { return h->IsCancelled(); };
  o.http.on_secret = [h](std::string_view secret) { h->AddSecret(secret); };  // proxy password
  if (c.task_key_mode == "upsert") o.task_key_mode = sf::TaskKeyMode::kUpsert;
  if (c.task_key_mode == "query_insert") o.task_key_mode = sf::TaskKeyMode::kQueryInsert;
  o.completed_status = c.task_status_completed;
  auto client = sf::SalesforceClient::Create(std::move(o));
  if (!client.ok()) {
    return ErrorOf(client.error()).ToStatus("cannot set up the Salesforce client");
  }
  return std::unique_ptr<Crm>(std::make_unique<SalesforceCrm>(std::move(*client), cfg));
}

}  // namespace kam::engine
