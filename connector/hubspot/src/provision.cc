// Provisioning: idempotent creation of the add-in's property group and properties.
#include "provision.h"

#include <map>
#include <mutex>
#include <set>

#include "client_impl.h"

namespace kam::hubspot {
namespace internal {

std::vector<PropertyDef> DesiredProperties(const ProvisionSpec& spec) {
  // One property per row (clang-format would put one field per line).
  // clang-format off
  return {
      {"companies", "kam_score", "KAM score", "number", "number",
       "Key-account score computed by the KAM add-in (0-100).", {}, false},
      {"companies", "kam_tier", "KAM tier", "enumeration", "select",
       "Key-account tier assigned by the KAM add-in's rule file.", spec.tiers, false},
      {"companies", "kam_breakdown", "KAM score breakdown", "string", "textarea",
       "Per-criterion scores behind the KAM score.", {}, false},
      {"companies", "kam_next_tier_hint", "KAM next-tier hint", "string", "text",
       "What would move this account to the next tier.", {}, false},
      {"companies", "kam_rules_version", "KAM rules version", "string", "text",
       "Version of the rule file that produced the score.", {}, false},
      {"companies", "kam_scored_at", "KAM scored at", "datetime", "date",
       "When the KAM add-in last scored this account.", {}, false},
      {"companies", "kam_card_json", "KAM card", "string", "textarea",
       "The KAM record card's data (kam.card.v1 JSON), read by the KAM card app.", {}, false,
       /*hidden=*/true},
      {"tasks", "kam_task_key", "KAM task key", "string", "text",
       "Idempotency key of a task suggested by the KAM add-in; do not edit.", {},
       spec.try_unique_task_key},
  };
  // clang-format on
}

Json PropertyCreateBody(const PropertyDef& def) {
  // clang-format off
  Json body = {{"name", def.name},         {"label", def.label},
               {"type", def.type},         {"fieldType", def.field_type},
               {"groupName", "kam"},       {"description", def.description},
               {"formField", false},       {"hidden", def.hidden}};
  // clang-format on
  if (def.unique) body["hasUniqueValue"] = true;
  if (def.type == "enumeration") {
    Json opts = Json::array();
    int order = 0;
    for (const auto& o : def.options) {
      opts.push_back({{"label", o.label.empty() ? o.value : o.label},
                      {"value", o.value},
                      {"displayOrder", order++},
                      {"hidden", false}});
    }
    body["options"] = std::move(opts);
  }
  return body;
}

ProvisionItem::Outcome CompareProperty(const PropertyDef& def, const Json& existing,
                                       std::string* detail, std::vector<TierOption>* missing) {
  const std::string type = existing.value("type", "");
  const std::string field_type = existing.value("fieldType", "");
  if (type != def.type) {
    *detail = "exists with type '" + type + "' (fieldType '" + field_type +
              "'), the add-in needs '" + def.type +
              "'; left unchanged: rename or delete it in HubSpot, then provision again";
    return ProvisionItem::Outcome::kConflict;
  }
  if (field_type != def.field_type) {
    *detail = "fieldType '" + field_type + "' differs from '" + def.field_type + "' (kept)";
  }
  if (def.type == "enumeration") {
    std::set<std::string> have;
    if (auto o = existing.find("options"); o != existing.end() && o->is_array()) {
      for (const auto& opt : *o) have.insert(opt.value("value", ""));
    }
    for (const auto& t : def.options) {
      if (!have.count(t.value)) missing->push_back(t);
    }
    if (!missing->empty()) {
      std::string names;
      for (const auto& t : *missing) names += (names.empty() ? "" : ", ") + t.value;
      *detail = "options added: " + names;
      return ProvisionItem::Outcome::kUpdated;
    }
  }
  return ProvisionItem::Outcome::kUnchanged;
}

}  // namespace internal

using internal::Json;

Result<ProvisionReport> HubSpotClient::Provision(const ProvisionSpec& spec) {
  ProvisionReport report;
  auto& impl = *impl_;
  // Groups and properties are created by name: a repeated create gets 409 "already exists"
  // instead of a second copy, so every create here is sent as safe to repeat (retried on 5xx,
  // timeouts and dropped connections). A 409 is then either our own earlier attempt, applied
  // although its answer was lost, or someone else's: the property is read and compared like
  // any property that existed before.
  for (const std::string object : {"companies", "tasks"}) {
    const std::string target = impl.paths.Properties(object) + "/groups";
    auto groups = impl.Call("GET", target, "", true);
    if (!groups.ok()) return groups.error();
    bool have = false;
    for (const auto& g : groups->value("results", Json::array())) {
      if (g.value("name", "") == kPropertyGroup) have = true;
    }
    ProvisionItem item{object, "group:kam", ProvisionItem::Outcome::kUnchanged, ""};
    if (!have) {
      Json body = {
          {"name", kPropertyGroup}, {"label", "Key account management"}, {"displayOrder", -1}};
      auto r = impl.Call("POST", target, body.dump(), /*idempotent=*/true);
      if (r.ok()) {
        item.outcome = ProvisionItem::Outcome::kCreated;
      } else if (r.error().http_status == 409) {
        item.detail = "already exists";
      } else {
        return r.error();
      }
    }
    report.items.push_back(item);
  }

  std::map<std::string, std::map<std::string, Json>> existing;  // object -> name -> property
  for (const std::string object : {"companies", "tasks"}) {
    const std::string target = impl.paths.Properties(object);
    auto list = impl.Call("GET", target, "", true);
    if (!list.ok()) return list.error();
    for (const auto& p : list->value("results", Json::array())) {
      existing[object][p.value("name", "")] = p;
    }
  }

  for (const auto& def : internal::DesiredProperties(spec)) {
    ProvisionItem item{def.object_type, def.name, ProvisionItem::Outcome::kUnchanged, ""};
    const std::string target = impl.paths.Properties(def.object_type);
    auto& have = existing[def.object_type];
    auto it = have.find(def.name);
    std::string already;  // set when a create found the property there (409)
    if (it == have.end()) {
      if (def.type == "enumeration" && def.options.empty()) {
        item.outcome = ProvisionItem::Outcome::kFailed;
        item.detail = "the rule file defines no tiers, so kam_tier has no options; add tiers";
        report.items.push_back(item);
        continue;
      }
      auto r = impl.Call("POST", target, internal::PropertyCreateBody(def).dump(), true);
      if (!r.ok() && def.unique && r.error().http_status == 400) {
        // The portal refuses unique values on this object (CRM_API A10): fall back.
        internal::PropertyDef plain = def;
        plain.unique = false;
        item.detail = "hasUniqueValue refused (" + r.error().crm_message +
                      "); created without it: tasks are written by search-then-create";
        r = impl.Call("POST", target, internal::PropertyCreateBody(plain).dump(), true);
      }
      if (r.ok()) {
        item.outcome = ProvisionItem::Outcome::kCreated;
        if (r->is_object()) have[def.name] = *r;
      } else if (r.error().http_status == 409) {
        auto got = impl.Call("GET", target + "/" + def.name, "", true);
        if (!got.ok()) return got.error();
        it = have.insert_or_assign(def.name, *got).first;
        already = "already exists";
      } else {
        if (StopsRun(ClassOf(r.error()))) return r.error();
        item.outcome = ProvisionItem::Outcome::kFailed;
        item.detail = r.error().ToString();
      }
    }
    if (it != have.end()) {
      std::vector<TierOption> missing;
      item.outcome = internal::CompareProperty(def, it->second, &item.detail, &missing);
      if (item.outcome == ProvisionItem::Outcome::kUpdated) {
        Json options = it->second.value("options", Json::array());
        int order = static_cast<int>(options.size());
        for (const auto& t : missing) {
          options.push_back({{"label", t.label.empty() ? t.value : t.label},
                             {"value", t.value},
                             {"displayOrder", order++},
                             {"hidden", false}});
        }
        auto r = impl.Call("PATCH", target + "/" + def.name,
                           Json{{"options", std::move(options)}}.dump(), true);
        if (!r.ok()) {
          if (StopsRun(ClassOf(r.error()))) return r.error();
          item.outcome = ProvisionItem::Outcome::kFailed;
          item.detail = r.error().ToString();
        }
      }
      // A property for the card app (kam_card_json) that a person made visible: hidden again.
      const Json& found = it->second;
      const bool shown = !(found.contains("hidden") && found["hidden"].is_boolean() &&
                           found["hidden"].get<bool>()) ||
                         (found.contains("formField") && found["formField"].is_boolean() &&
                          found["formField"].get<bool>());
      if (def.hidden && shown && item.outcome != ProvisionItem::Outcome::kConflict &&
          item.outcome != ProvisionItem::Outcome::kFailed) {
        auto r = impl.Call("PATCH", target + "/" + def.name,
                           Json{{"hidden", true}, {"formField", false}}.dump(), true);
        if (r.ok()) {
          item.outcome = ProvisionItem::Outcome::kUpdated;
          item.detail +=
              (item.detail.empty() ? "" : "; ") + std::string("hidden from record pages and forms");
        } else {
          if (StopsRun(ClassOf(r.error()))) return r.error();
          item.outcome = ProvisionItem::Outcome::kFailed;
          item.detail = r.error().ToString();
        }
      }
      if (!already.empty()) {
        item.detail = item.detail.empty() ? already : already + "; " + item.detail;
      }
    }
    if (def.name == kTaskKeyProperty) {
      auto p = existing["tasks"].find(def.name);
      report.task_key_unique = p != existing["tasks"].end() &&
                               p->second.value("hasUniqueValue", false) &&
                               item.outcome != ProvisionItem::Outcome::kConflict;
    }
    report.items.push_back(item);
  }
  if (impl.options.task_key_mode == TaskKeyMode::kAuto) {
    std::lock_guard lock(impl.auth_mu);
    impl.resolved_task_mode =
        report.task_key_unique ? TaskKeyMode::kUpsert : TaskKeyMode::kSearchCreate;
  }
  return report;
}

}  // namespace kam::hubspot
