// Provisioning through the Tooling API: create missing fields, add missing tier values, report
// conflicts, read everything back.
#include "provision.h"

#include <cctype>
#include <map>
#include <set>

#include "client_impl.h"
#include "kam/http/encoding.h"

namespace kam::salesforce {
namespace internal {

namespace {

FieldDef Def(std::string object, const FieldSpec& f) {
  FieldDef d;
  d.object = object;
  d.metadata_object = object == "Task" ? "Activity" : object;
  d.name = f.name;
  d.label = f.label.empty() ? f.name : f.label;
  d.description = f.description;
  d.length = f.length;
  d.precision = f.precision;
  d.scale = f.scale;
  d.values = f.values;
  using T = FieldSpec::Type;
  switch (f.type) {
    case T::kNumber:
      d.metadata_type = "Number", d.describe_type = "double";
      break;
    case T::kText:
      d.metadata_type = "Text", d.describe_type = "string";
      break;
    case T::kLongText:
      d.metadata_type = "LongTextArea", d.describe_type = "textarea";
      break;
    case T::kPicklist:
      d.metadata_type = "Picklist", d.describe_type = "picklist";
      break;
    case T::kDateTime:
      d.metadata_type = "DateTime", d.describe_type = "datetime";
      break;
    case T::kCheckbox:
      d.metadata_type = "Checkbox", d.describe_type = "boolean";
      break;
    case T::kRichText:  // Rich Text Area; describe says textarea (extraTypeInfo richtextarea)
      d.metadata_type = "Html", d.describe_type = "textarea";
      break;
  }
  return d;
}

}  // namespace

namespace {

// The add-in's own fields, one row each (KAM_Tier__c gets its values from the rule file).
struct FieldRow {
  const char* name;
  const char* label;
  FieldSpec::Type type;
  int precision, scale, length;
  const char* description;
};

using T = FieldSpec::Type;
constexpr FieldRow kAccountRows[] = {
    {kScoreField, "KAM score", T::kNumber, 5, 1, 0,
     "Key-account score computed by the KAM add-in (0-100)."},
    {kTierField, "KAM tier", T::kPicklist, 0, 0, 0,
     "Key-account tier assigned by the KAM add-in's rule file."},
    {kBreakdownField, "KAM score breakdown", T::kLongText, 0, 0, 32768,
     "Per-criterion scores behind the KAM score."},
    {kNextTierHintField, "KAM next-tier hint", T::kLongText, 0, 0, 4000,
     "What would move this account to the next tier."},
    {kRulesVersionField, "KAM rules version", T::kText, 0, 0, 80,
     "Version of the rule file that produced the score."},
    {kScoredAtField, "KAM scored at", T::kDateTime, 0, 0, 0,
     "When the KAM add-in last scored this account."},
};
constexpr FieldRow kTaskKeyRow = {
    kTaskKeyField,
    "KAM task key",
    T::kText,
    0,
    0,
    80,
    "Idempotency key of a task suggested by the KAM add-in; do not edit."};

FieldSpec SpecOf(const FieldRow& row) {
  return {row.name, row.label, row.type, row.precision, row.scale, row.length, {}, row.description};
}

}  // namespace

std::vector<FieldSpec> DefaultAccountFields(const ProvisionSpec& spec) {
  std::vector<FieldSpec> out;
  for (const auto& row : kAccountRows) {
    out.push_back(SpecOf(row));
    if (out.back().name == kTierField) out.back().values = spec.tiers;
  }
  return out;
}

std::vector<FieldDef> DesiredFields(const ProvisionSpec& spec) {
  std::vector<FieldDef> out;
  for (const auto& f :
       spec.account_fields.empty() ? DefaultAccountFields(spec) : spec.account_fields) {
    out.push_back(Def("Account", f));
  }
  FieldDef key = Def("Task", SpecOf(kTaskKeyRow));
  key.external_id = spec.try_external_id_task_key;
  out.push_back(std::move(key));
  return out;
}

Json CustomFieldBody(const FieldDef& def) {
  Json m = {{"label", def.label},
            {"type", def.metadata_type},
            {"description", def.description},
            {"inlineHelpText", def.description}};
  if (def.metadata_type == "Number") {
    m["precision"] = def.precision;
    m["scale"] = def.scale;
  } else if (def.metadata_type == "Text") {
    m["length"] = def.length;
    if (def.external_id) m["externalId"] = true;
  } else if (def.metadata_type == "LongTextArea" || def.metadata_type == "Html") {
    m["length"] = def.length;
    // Rich text areas take at least 10 visible lines in Setup's editor [unconfirmed for the API].
    m["visibleLines"] = def.metadata_type == "Html" ? 10 : 5;
  } else if (def.metadata_type == "Picklist") {
    m = WithPicklistValues(std::move(m), def.values);
  } else if (def.metadata_type == "Checkbox") {
    m["defaultValue"] = "false";
  }
  return {{"FullName", def.metadata_object + "." + def.name}, {"Metadata", std::move(m)}};
}

Json WithPicklistValues(Json metadata, const std::vector<TierValue>& add) {
  Json& vs = metadata["valueSet"];
  if (!vs.is_object()) vs = Json::object();
  if (!vs.contains("restricted")) vs["restricted"] = false;
  Json& def = vs["valueSetDefinition"];
  if (!def.is_object()) def = {{"sorted", false}};
  Json& values = def["value"];
  if (!values.is_array()) values = Json::array();
  std::set<std::string> have;
  for (const auto& v : values) have.insert(Lower(v.value("fullName", "")));
  for (const auto& t : add) {
    if (!have.insert(Lower(t.value)).second) continue;
    values.push_back({{"fullName", t.value},
                      {"label", t.label.empty() ? t.value : t.label},
                      {"default", false}});
  }
  return metadata;
}

ProvisionItem::Outcome CompareField(const FieldDef& def, const Json& described, std::string* detail,
                                    std::vector<TierValue>* missing) {
  const std::string type = described.value("type", "");
  if (type != def.describe_type) {
    *detail = "exists as " + type + ", the add-in needs " + def.describe_type + " (" +
              def.metadata_type +
              "); left unchanged: rename or delete it in Setup, "
              "then provision again";
    return ProvisionItem::Outcome::kConflict;
  }
  if (def.metadata_type == "Number") {
    const int precision = described.value("precision", 0);
    const int scale = described.value("scale", 0);
    if (scale < def.scale || (precision > 0 && precision - scale < def.precision - def.scale)) {
      *detail = "Number(" + std::to_string(precision) + "," + std::to_string(scale) +
                ") is narrower than Number(" + std::to_string(def.precision) + "," +
                std::to_string(def.scale) + "); scores may be rounded or refused";
      return ProvisionItem::Outcome::kConflict;
    }
  }
  if (def.metadata_type == "Picklist") {
    std::set<std::string> have;
    if (auto p = described.find("picklistValues"); p != described.end() && p->is_array()) {
      for (const auto& v : *p) have.insert(Lower(v.value("value", "")));
    }
    for (const auto& t : def.values) {
      if (!have.count(Lower(t.value))) missing->push_back(t);
    }
    if (!missing->empty()) {
      std::string names;
      for (const auto& t : *missing) names += (names.empty() ? "" : ", ") + t.value;
      *detail = "values added: " + names + " (existing values kept)";
      return ProvisionItem::Outcome::kUpdated;
    }
  }
  return ProvisionItem::Outcome::kUnchanged;
}

}  // namespace internal

namespace {

PicklistValues PicklistOf(const internal::Json& described) {
  PicklistValues out;
  if (auto p = described.find("picklistValues"); p != described.end() && p->is_array()) {
    for (const auto& v : *p) {
      if (!v.value("active", true) || !v.contains("value") || !v["value"].is_string()) continue;
      out.values.push_back(v["value"].get<std::string>());
      if (v.value("defaultValue", false)) out.default_value = out.values.back();
    }
  }
  return out;
}

}  // namespace

Result<PicklistValues> SalesforceClient::DescribePicklist(const std::string& sobject,
                                                          const std::string& field) {
  auto d = impl_->DescribeFields(sobject);
  if (!d.ok()) return d.error();
  auto it = d->find(internal::Lower(field));
  if (it == d->end()) return PicklistValues{};
  return PicklistOf(it->second);
}

std::optional<FieldSpec> AddinAccountField(std::string_view name) {
  for (const auto& row : internal::kAccountRows) {
    if (name == row.name) return internal::SpecOf(row);
  }
  return std::nullopt;
}

using internal::Json;
using kam::http::Method;

namespace {

using Described = std::map<std::string, Json>;  // lower-case field name -> describe entry

}  // namespace

Result<ProvisionReport> SalesforceClient::Provision(const ProvisionSpec& spec) {
  auto describe = [&](const std::string& object) { return impl_->DescribeFields(object); };
  auto tooling_field_id = [&](const internal::FieldDef& def) -> Result<std::string> {
    const std::string dev_name = def.name.substr(0, def.name.size() - 3);  // no "__c"
    const std::string soql = "SELECT Id FROM CustomField WHERE TableEnumOrId = '" +
                             def.metadata_object + "' AND DeveloperName = '" + dev_name + "'";
    const std::string endpoint = "GET /tooling/query";
    auto j = impl_->GetJson("/tooling/query?q=" + kam::http::PercentEncode(soql), endpoint);
    if (!j.ok()) return j.error();
    try {
      auto page = internal::ParseQueryPage(*j);
      if (page.records.empty()) return BadAnswer(endpoint, "no CustomField " + def.name);
      return page.records.front().id;
    } catch (const std::exception& ex) {
      return BadAnswer(endpoint, ex.what());
    }
  };

  std::map<std::string, Described> described;
  for (const char* object : {"Account", "Task"}) {
    auto d = describe(object);
    if (!d.ok()) return d.error();
    described[object] = std::move(*d);
  }

  // An existing field: compared with the definition; missing tier values are added (the full
  // definition read, values appended, written back). Returns an error only for a cancel.
  auto update_existing = [&](const internal::FieldDef& def, const Json& entry,
                             ProvisionItem* item) -> Status {
    std::vector<TierValue> missing;
    item->outcome = internal::CompareField(def, entry, &item->detail, &missing);
    if (item->outcome != ProvisionItem::Outcome::kUpdated) return {};
    auto id = tooling_field_id(def);
    Status s = id.ok() ? Status() : Status(id.error());
    if (s.ok()) {
      const std::string rest = "/tooling/sobjects/CustomField/" + *id;
      auto current = impl_->GetJson(rest, "GET /tooling/sobjects/CustomField/{id}");
      if (!current.ok()) {
        s = current.error();
      } else {
        Impl::CallSpec patch;
        patch.method = Method::kPatch;
        patch.path = impl_->DataPath(rest);
        patch.endpoint = "PATCH /tooling/sobjects/CustomField/{id}";
        patch.idempotent = true;
        patch.body = Json{{"Metadata", internal::WithPicklistValues(
                                           current->value("Metadata", Json::object()), missing)}}
                         .dump();
        auto r = impl_->Call(patch);
        if (!r.ok()) s = r.error();
      }
    }
    if (!s.ok()) {
      if (s.error().error_class == ErrorClass::kCancelled) return s.error();
      item->outcome = ProvisionItem::Outcome::kFailed;
      item->detail = "adding values failed: " + s.error().message;
    }
    return {};
  };

  ProvisionReport report;
  for (const auto& def : internal::DesiredFields(spec)) {
    ProvisionItem item{def.object, def.name, ProvisionItem::Outcome::kUnchanged, ""};
    const Described& fields = described[def.object];
    auto existing = fields.find(internal::Lower(def.name));
    if (existing != fields.end()) {
      if (Status s = update_existing(def, existing->second, &item); !s.ok()) return s.error();
    } else {
      // A field is created by its name (FullName): a second create of the same field is
      // refused with DUPLICATE_DEVELOPER_NAME instead of making a copy, so the create is sent
      // as safe to repeat (retried on 5xx, timeouts and dropped connections, as HubSpot's
      // property creates). A duplicate is then our own earlier attempt, applied although its
      // answer was lost, or someone else's: the field is read back and compared.
      internal::FieldDef create = def;
      Impl::CallSpec post;
      post.method = Method::kPost;
      post.path = impl_->DataPath("/tooling/sobjects/CustomField");
      post.endpoint = "POST /tooling/sobjects/CustomField";
      post.idempotent = true;
      post.body = internal::CustomFieldBody(create).dump();
      auto r = impl_->Call(post);
      auto refused_object = [](const Error& e) {
        return e.http_status == 400 && e.crm_message.find("object") != std::string::npos &&
               (e.error_code == "FIELD_INTEGRITY_EXCEPTION" || e.error_code == "INVALID_TYPE");
      };
      if (!r.ok() && create.metadata_object != create.object && refused_object(r.error())) {
        // Task fields are defined on Activity in the Metadata API; an org (or the sandbox)
        // that only takes the object itself gets "Task.KAM_Task_Key__c".
        create.metadata_object = create.object;
        post.body = internal::CustomFieldBody(create).dump();
        r = impl_->Call(post);
        if (r.ok()) {
          // Says why the log shows a refused create (HTTP 400) just before.
          item.detail = "as " + create.object + "." + def.name + ": the org refused " +
                        def.metadata_object + "." + def.name;
        }
      }
      if (!r.ok() && create.external_id && r.error().http_status == 400 &&
          r.error().error_code != "DUPLICATE_DEVELOPER_NAME") {
        // The org refuses an External ID here: plain text, tasks use query-before-insert.
        create.external_id = false;
        post.body = internal::CustomFieldBody(create).dump();
        r = impl_->Call(post);
        if (r.ok()) {
          item.detail += (item.detail.empty() ? "" : "; ") +
                         std::string("created without External ID (the org refused it)");
        }
      }
      if (r.ok()) {
        item.outcome = ProvisionItem::Outcome::kCreated;
      } else if (r.error().error_class == ErrorClass::kCancelled ||
                 r.error().error_class == ErrorClass::kQuota) {
        return r.error();
      } else if (r.error().error_code == "DUPLICATE_DEVELOPER_NAME") {
        auto d = describe(def.object);
        if (!d.ok()) return d.error();
        described[def.object] = std::move(*d);
        const Described& now = described[def.object];
        if (auto it = now.find(internal::Lower(def.name)); it != now.end()) {
          if (Status s = update_existing(def, it->second, &item); !s.ok()) return s.error();
          if (item.outcome == ProvisionItem::Outcome::kUnchanged) {
            item.outcome = ProvisionItem::Outcome::kCreated;
          }
          const std::string there =
              "there when read back after a create refused as a duplicate (an earlier "
              "attempt's lost answer, or made meanwhile)";
          item.detail = item.detail.empty() ? there : there + "; " + item.detail;
        } else {
          item.outcome = ProvisionItem::Outcome::kFailed;
          item.detail =
              "the field exists but the integration user cannot see it: grant read/edit "
              "field-level security on it (README), then provision again";
        }
      } else {
        item.outcome = ProvisionItem::Outcome::kFailed;
        item.detail = "creating it failed: " + r.error().message;
      }
    }
    report.items.push_back(std::move(item));
  }

  // Read back: what was created or updated must now show with the right type.
  if (report.changed()) {
    for (const char* object : {"Account", "Task"}) {
      auto d = describe(object);
      if (!d.ok()) return d.error();
      described[object] = std::move(*d);
    }
    const auto defs = internal::DesiredFields(spec);
    for (std::size_t i = 0; i < defs.size(); ++i) {
      ProvisionItem& item = report.items[i];
      if (item.outcome != ProvisionItem::Outcome::kCreated &&
          item.outcome != ProvisionItem::Outcome::kUpdated) {
        continue;
      }
      const Described& fields = described[defs[i].object];
      auto it = fields.find(internal::Lower(defs[i].name));
      std::string note;
      if (it == fields.end()) {
        note =
            "not visible to the integration user yet: grant read/edit field-level "
            "security on it (README)";
      } else {
        std::vector<TierValue> missing;
        std::string detail;
        if (internal::CompareField(defs[i], it->second, &detail, &missing) !=
            ProvisionItem::Outcome::kUnchanged) {
          item.outcome = ProvisionItem::Outcome::kConflict;
          note = "read back: " + detail;
        }
      }
      if (!note.empty()) item.detail += (item.detail.empty() ? "" : "; ") + note;
    }
  }
  if (auto key = described["Task"].find(internal::Lower(kTaskKeyField));
      key != described["Task"].end()) {
    report.task_key_external_id = key->second.value("externalId", false);
    impl_->RememberTaskKeyMode(report.task_key_external_id);
  }
  return report;
}

Result<ProvisionReport> SalesforceClient::VerifyFields(const ProvisionSpec& spec) {
  std::map<std::string, Described> described;
  for (const char* object : {"Account", "Task"}) {
    auto d = impl_->DescribeFields(object);
    if (!d.ok()) return d.error();
    described[object] = std::move(*d);
  }
  ProvisionReport report;
  for (const auto& def : internal::DesiredFields(spec)) {
    ProvisionItem item{def.object, def.name, ProvisionItem::Outcome::kUnchanged, ""};
    const Described& fields = described[def.object];
    auto it = fields.find(internal::Lower(def.name));
    if (it == fields.end()) {
      item.outcome = ProvisionItem::Outcome::kFailed;
      item.detail =
          "missing, or not visible to the integration user: run `kam provision` and "
          "grant read/edit field-level security on it (README)";
    } else {
      std::vector<TierValue> missing;
      item.outcome = internal::CompareField(def, it->second, &item.detail, &missing);
      if (def.metadata_type == "Number" && it->second.value("type", "") == "double") {
        report.number_scales[def.name] = it->second.value("scale", def.scale);
      }
      if (item.outcome == ProvisionItem::Outcome::kUpdated) {
        std::string names;
        for (const auto& t : missing) names += (names.empty() ? "" : ", ") + t.value;
        item.outcome = ProvisionItem::Outcome::kFailed;
        item.detail = "the picklist lacks the tier values " + names + "; run `kam provision`";
      }
    }
    report.items.push_back(std::move(item));
  }
  if (auto key = described["Task"].find(internal::Lower(kTaskKeyField));
      key != described["Task"].end()) {
    report.task_key_external_id = key->second.value("externalId", false);
    impl_->RememberTaskKeyMode(report.task_key_external_id);
  }
  if (auto p = described["Task"].find("priority"); p != described["Task"].end()) {
    report.task_priority = PicklistOf(p->second);
  }
  return report;
}

}  // namespace kam::salesforce
