// The CRM port's small shared pieces: error texts and the provisioning report.
#include "crm.h"

#include "operation.h"

namespace kam::engine {

std::string CrmError::ToString() const {
  std::string out(StatusCodeName(code));
  out += ": " + message;
  if (http_status != 0 &&
      message.find("HTTP " + std::to_string(http_status)) == std::string::npos) {
    out += " [HTTP " + std::to_string(http_status) + "]";
  }
  if (!endpoint.empty() && message.find(endpoint) == std::string::npos)
    out += " (" + endpoint + ")";
  return out;
}

Status CrmError::ToStatus(std::string_view doing) const {
  std::string msg = std::string(doing) + ": " + ToString();
  switch (code) {
    case StatusCode::kUnauthenticated:
      msg += " (check the CRM credential in the secret named in the config)";
      break;
    case StatusCode::kPermissionDenied:
      msg += " (the CRM credential lacks a scope; the README lists the scopes the add-in needs)";
      break;
    case StatusCode::kRateLimited:
      msg += " (the CRM's rate limit or the daily reserve was reached; the next run resumes)";
      break;
    case StatusCode::kUnavailable:
      msg += " (the CRM could not be reached; the next run resumes where this one stopped)";
      break;
    default:
      break;
  }
  Status s(code == StatusCode::kOk ? StatusCode::kInternal : code, std::move(msg), endpoint);
  s.http_status = http_status;
  s.retryable = retryable;
  s.retry_after_ms = retry_after_ms;
  return s;
}

bool ProvisionReport::complete() const {
  for (const auto& item : items) {
    if (item.outcome != ProvisionItem::Outcome::kCreated &&
        item.outcome != ProvisionItem::Outcome::kUnchanged &&
        item.outcome != ProvisionItem::Outcome::kUpdated) {
      return false;
    }
  }
  return true;
}

std::string_view ProvisionOutcomeName(ProvisionItem::Outcome outcome) {
  switch (outcome) {
    case ProvisionItem::Outcome::kCreated:
      return "created";
    case ProvisionItem::Outcome::kUnchanged:
      return "unchanged";
    case ProvisionItem::Outcome::kUpdated:
      return "updated";
    case ProvisionItem::Outcome::kConflict:
      return "conflict";
    case ProvisionItem::Outcome::kMissing:
      return "missing";
    case ProvisionItem::Outcome::kFailed:
      return "failed";
  }
  return "failed";
}

std::string_view FactKindName(FactKind kind) {
  switch (kind) {
    case FactKind::kDeal:
      return "deals";
    case FactKind::kContact:
      return "contacts";
    case FactKind::kMeeting:
      return "meetings";
  }
  return "deals";
}

namespace {
CrmError NoIncrementalFacts(std::string_view crm) {
  CrmError e;
  e.code = StatusCode::kUnimplemented;
  e.message = "the " + std::string(crm) + " port reads facts only as a whole (ReadFacts)";
  return e;
}
}  // namespace

CrmResult<PullSummary> Crm::PullChangedFacts(FactKind, const PullCursor&, const PullRequest&,
                                             const FactPageCallback&) {
  return NoIncrementalFacts(Name());
}

CrmResult<std::map<std::string, std::vector<std::string>>> Crm::ReadFactLinks(
    FactKind, const std::vector<std::string>&) {
  return NoIncrementalFacts(Name());
}

CrmResult<std::vector<FactRecord>> Crm::ReadFactRecords(FactKind, const std::vector<std::string>&) {
  return NoIncrementalFacts(Name());
}

std::string_view AccountsNoun(std::string_view crm) {
  return crm == "salesforce" ? "accounts" : "companies";
}

}  // namespace kam::engine
