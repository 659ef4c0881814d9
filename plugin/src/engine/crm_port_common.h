// What the CRM ports (crm_hubspot.cc, crm_salesforce.cc) share: the presence check of a
// credential, a connector's aggregates as the port's facts, and a task write's outcome. Header
// only: each connector has its own types of the same shape (FactValue with kind/number/boolean,
// facts with id/aggregates), so the conversions are templates.
#ifndef KAM_ENGINE_CRM_PORT_COMMON_H_
#define KAM_ENGINE_CRM_PORT_COMMON_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crm.h"
#include "kam/http/redact.h"

namespace kam::engine::port {

// Whether the host has the secret `name`; its value is wiped at once (only its presence is
// checked when the port is made: the connector asks for it when it needs it).
inline bool HasSecret(const SecretFn& get_secret, const std::string& name) {
  std::optional<std::string> v = get_secret(name);
  if (v) http::WipeSecret(*v);
  return v.has_value();
}

// A connector's fact value (Kind::kNull / kNumber / kBool, number, boolean) as the port's.
template <typename V>
FactValue FactValueOf(const V& v) {
  FactValue out;
  switch (v.kind) {
    case V::Kind::kNull:
      break;
    case V::Kind::kNumber:
      out.kind = FactValue::Kind::kNumber;
      out.number = v.number;
      break;
    case V::Kind::kBool:
      out.kind = FactValue::Kind::kBool;
      out.boolean = v.boolean;
      break;
  }
  return out;
}

// A connector's facts answer as the port's: `accounts` are the connector's per-account facts
// (`id`, `aggregates`: name -> fact value), in request order; `missing` the unknown ids.
template <typename Accounts>
FactsResult FactsResultOf(const Accounts& accounts, std::vector<std::string> missing) {
  FactsResult out;
  out.missing = std::move(missing);
  out.accounts.reserve(accounts.size());
  for (const auto& a : accounts) {
    AccountFacts f;
    f.id = a.id;
    for (const auto& [name, v] : a.aggregates) f.aggregates.emplace(name, FactValueOf(v));
    out.accounts.push_back(std::move(f));
  }
  return out;
}

// One task's outcome from what the connector answered: its error, else (no task id named) an
// internal error, so that a task is never taken as written without an id. `crm` names the CRM
// in that message ("HubSpot", "Salesforce").
inline TaskWriteOutcome TaskOutcomeOf(std::string key, std::string task_id, bool created,
                                      std::optional<CrmError> error, std::string_view crm) {
  TaskWriteOutcome w;
  w.key = std::move(key);
  w.task_id = std::move(task_id);
  w.created = created;
  if (error) {
    w.error = std::move(error);
  } else if (w.task_id.empty()) {
    CrmError e;
    e.code = StatusCode::kInternal;
    e.message = std::string(crm) + " returned no task id for key " + w.key;
    w.error = std::move(e);
  }
  return w;
}

}  // namespace kam::engine::port

#endif  // KAM_ENGINE_CRM_PORT_COMMON_H_
