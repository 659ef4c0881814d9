// The Salesforce flavour's org: schema, ids, seeding from the HubSpot generator, record writes
// with Salesforce's validation, Tooling custom fields and the describe/record JSON views.
#include "sf_portal.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "portal.h"
#include "sf_soql.h"

namespace kam::sandbox::sf {
namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kSuffix[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
constexpr uint64_t kApiCreatedBase = 1000000000000ULL;  // ids of records created through the API

std::string Lower(std::string_view s) { return ToLower(s); }

// CreatedDate / LastModifiedDate / SystemModstamp of a write: Salesforce keeps them to the
// second (the API renders .000, and SOQL compares datetimes without milliseconds), so records
// written within one second share a stamp and keyset pulls order them by Id.
std::string AuditStamp(int64_t now_ms) { return soql::SfDateTime(now_ms - now_ms % 1000); }

std::string Suffix(std::string_view id15) {
  std::string out;
  for (int chunk = 0; chunk < 3; ++chunk) {
    int bits = 0;
    for (int i = 0; i < 5; ++i) {
      const char c = id15[chunk * 5 + i];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    out.push_back(kSuffix[bits]);
  }
  return out;
}

bool IsAlnum(std::string_view s) {
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

SfError Err(std::string code, std::string message, std::vector<std::string> fields = {},
            int status = 400) {
  return SfError{status, std::move(code), std::move(message), std::move(fields)};
}

// --- schema building ---
struct FB {
  Field f;
  FB(const char* name, const char* type, const char* label) {
    f.name = name;
    f.type = type;
    f.label = label;
    const std::string t = type;
    if (t == "string" || t == "picklist" || t == "combobox" || t == "email" || t == "phone" ||
        t == "url") {
      f.length = 255;
    } else if (t == "textarea") {
      f.length = 32000;
    } else if (t == "id" || t == "reference") {
      f.length = 18;
    } else if (t == "double" || t == "currency" || t == "percent") {
      f.precision = 18;
      f.scale = 2;
    } else if (t == "int") {
      f.digits = 9;
    } else if (t == "boolean") {
      f.nillable = false;
      f.default_value = false;
      f.defaulted_on_create = true;
    }
  }
  FB& Len(int n) {
    f.length = n;
    return *this;
  }
  FB& Num(int p, int s) {
    f.precision = p;
    f.scale = s;
    return *this;
  }
  FB& ReadOnly() {
    f.createable = false;
    f.updateable = false;
    return *this;
  }
  FB& CreateOnly() {
    f.updateable = false;
    return *this;
  }
  FB& Required() {
    f.nillable = false;
    return *this;
  }
  FB& Calculated() {
    f.calculated = true;
    return ReadOnly();
  }
  FB& Ref(std::vector<std::string> to, const char* rel) {
    f.reference_to = std::move(to);
    f.relationship_name = rel;
    return *this;
  }
  FB& Pick(std::initializer_list<const char*> values, const char* def = nullptr,
           bool restricted = false) {
    for (const char* v : values) {
      PickValue p;
      p.value = p.label = v;
      p.is_default = def && std::string(def) == v;
      f.picklist.push_back(p);
    }
    f.restricted_picklist = restricted;
    if (def) {
      f.defaulted_on_create = true;
      f.default_value = def;
    }
    return *this;
  }
  FB& Defaulted() {
    f.defaulted_on_create = true;
    return *this;
  }
  FB& Custom() {
    f.custom = true;
    return *this;
  }
  operator Field() const { return f; }  // NOLINT
};

void AddSystemFields(Object& o, const char* id_label) {
  Field id = FB("Id", "id", id_label).ReadOnly().Required();
  id.id_lookup = true;
  o.AddField(id);
  o.AddField(FB("IsDeleted", "boolean", "Deleted").ReadOnly());
}

void AddAuditFields(Object& o) {
  o.AddField(FB("CreatedDate", "datetime", "Created Date").ReadOnly().Required().Defaulted());
  o.AddField(FB("CreatedById", "reference", "Created By ID")
                 .ReadOnly()
                 .Required()
                 .Defaulted()
                 .Ref({"User"}, "CreatedBy"));
  o.AddField(
      FB("LastModifiedDate", "datetime", "Last Modified Date").ReadOnly().Required().Defaulted());
  o.AddField(FB("LastModifiedById", "reference", "Last Modified By ID")
                 .ReadOnly()
                 .Required()
                 .Defaulted()
                 .Ref({"User"}, "LastModifiedBy"));
  o.AddField(FB("SystemModstamp", "datetime", "System Modstamp").ReadOnly().Required().Defaulted());
}

const char* const kIndustryMap[][2] = {{"COMPUTER_SOFTWARE", "Software"},
                                       {"INFORMATION_TECHNOLOGY_AND_SERVICES", "Technology"},
                                       {"MACHINERY", "Machinery"},
                                       {"AUTOMOTIVE", "Automotive"},
                                       {"CHEMICALS", "Chemicals"},
                                       {"FINANCIAL_SERVICES", "Finance"},
                                       {"HOSPITAL_HEALTH_CARE", "Healthcare"},
                                       {"LOGISTICS_AND_SUPPLY_CHAIN", "Transportation"},
                                       {"FOOD_PRODUCTION", "Food & Beverage"},
                                       {"RETAIL", "Retail"},
                                       {"TELECOMMUNICATIONS", "Telecommunications"},
                                       {"CONSTRUCTION", "Construction"},
                                       {"MEDICAL_DEVICES", "Medical Devices"},
                                       {"ELECTRICAL_ELECTRONIC_MANUFACTURING", "Electronics"}};

// The ERP fields of the HubSpot seed, as custom Account fields.
struct ErpField {
  const char* hubspot;
  const char* name;
  const char* label;
  int precision, scale;
};
const ErpField kErpFields[] = {
    {"gross_margin_pct", "Gross_Margin_Pct__c", "Gross margin (%)", 5, 1},
    {"avg_days_to_pay", "Avg_Days_To_Pay__c", "Average days to pay", 4, 0},
    {"nps", "NPS__c", "Net promoter score", 4, 0},
    {"support_tickets_open", "Support_Tickets_Open__c", "Open support tickets", 6, 0},
    {"tenure_years", "Tenure_Years__c", "Customer tenure (years)", 4, 0}};

const char* OpportunityStage(const std::string& hubspot_stage) {
  if (hubspot_stage == "closedwon") return "Closed Won";
  if (hubspot_stage == "closedlost") return "Closed Lost";
  if (hubspot_stage == "appointmentscheduled") return "Prospecting";
  if (hubspot_stage == "qualifiedtobuy") return "Qualification";
  if (hubspot_stage == "presentationscheduled") return "Value Proposition";
  if (hubspot_stage == "decisionmakerboughtin") return "Id. Decision Makers";
  return "Negotiation/Review";  // contractsent
}

int StageProbability(const std::string& stage) {
  static const std::map<std::string, int> kP = {
      {"Prospecting", 10},          {"Qualification", 10},
      {"Needs Analysis", 20},       {"Value Proposition", 50},
      {"Id. Decision Makers", 60},  {"Perception Analysis", 70},
      {"Proposal/Price Quote", 75}, {"Negotiation/Review", 90},
      {"Closed Won", 100},          {"Closed Lost", 0}};
  auto it = kP.find(stage);
  return it == kP.end() ? 50 : it->second;
}

json NumberOrNull(const json& props, const char* key) {
  auto it = props.find(key);
  if (it == props.end() || !it->is_string()) return nullptr;
  double d;
  if (!ParseDouble(it->get<std::string>(), &d)) return nullptr;
  return d;
}

std::string Str(const json& props, const char* key) {
  auto it = props.find(key);
  return it != props.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json DateTimeOrNull(const json& props, const char* key) {
  int64_t ms;
  const std::string v = Str(props, key);
  if (v.empty() || !ParseTimeMs(v, &ms)) return nullptr;
  return soql::SfDateTime(ms);
}

json DateOrNull(const json& props, const char* key) {
  json v = DateTimeOrNull(props, key);
  if (v.is_null()) return v;
  return v.get<std::string>().substr(0, 10);
}

}  // namespace

std::string SfIndustry(const std::string& hubspot_value) {
  for (const auto& m : kIndustryMap) {
    if (hubspot_value == m[0]) return m[1];
  }
  return hubspot_value;
}

std::string MakeId(std::string_view prefix, uint64_t n) {
  std::string digits(9, '0');
  for (int i = 8; i >= 0 && n > 0; --i) {
    digits[i] = kBase62[n % 62];
    n /= 62;
  }
  std::string id15 = std::string(prefix) + "Kd0" + digits;
  return id15 + Suffix(id15);
}

std::optional<std::string> NormalizeId(std::string_view id) {
  if ((id.size() != 15 && id.size() != 18) || !IsAlnum(id)) return std::nullopt;
  std::string id15(id.substr(0, 15));
  if (id.size() == 18) {
    // Restore the case of the first 15 characters from the checksum.
    for (int chunk = 0; chunk < 3; ++chunk) {
      const char s = static_cast<char>(std::toupper(static_cast<unsigned char>(id[15 + chunk])));
      const char* p = std::strchr(kSuffix, s);
      if (!p || !*p) return std::nullopt;
      const int bits = static_cast<int>(p - kSuffix);
      for (int i = 0; i < 5; ++i) {
        char& c = id15[chunk * 5 + i];
        if (!std::isalpha(static_cast<unsigned char>(c))) continue;
        c = (bits & (1 << i)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  }
  return id15 + Suffix(id15);
}

const Field* Object::Find(std::string_view name) const {
  auto it = index.find(Lower(name));
  return it == index.end() || fields[it->second].hidden ? nullptr : &fields[it->second];
}

Field* Object::FindAny(std::string_view name) {
  auto it = index.find(Lower(name));
  return it == index.end() ? nullptr : &fields[it->second];
}

const Field* Object::FindRelationship(std::string_view rel) const {
  const std::string r = Lower(rel);
  for (const auto& f : fields) {
    if (!f.relationship_name.empty() && Lower(f.relationship_name) == r) return &f;
  }
  return nullptr;
}

void Object::AddField(Field f) {
  const std::string key = Lower(f.name);
  auto it = index.find(key);
  if (it != index.end()) {
    fields[it->second] = std::move(f);
    return;
  }
  index[key] = fields.size();
  fields.push_back(std::move(f));
}

// ---------------------------------------------------------------------------------------------
Org::Org(const SandboxOptions& options) : options_(options) {
  base_time_ms_ = options.base_time_ms;
  if (base_time_ms_ == 0) base_time_ms_ = NowMs() / 86400000 * 86400000;
  org_id_ = MakeId("00D", 1);
  api_user_id_ = MakeId("005", 1);
  Build();
}

Org::~Org() = default;

void Org::Reset() {
  objects_.clear();
  by_name_.clear();
  by_prefix_.clear();
  indexes_.clear();
  owner_to_user_.clear();
  undo_.clear();
  in_tx_ = false;
  generator_.reset();
  salt_ = 0;
  hide_new_fields = false;
  Build();
}

void Org::Build() {
  DefineSchema();
  Seed();
}

Object* Org::FindObject(std::string_view name, bool tooling) {
  auto it = by_name_.find(Lower(name));
  if (it == by_name_.end() || it->second->tooling != tooling) return nullptr;
  return it->second;
}

Object* Org::ObjectOfId(std::string_view id18) {
  if (id18.size() < 3) return nullptr;
  auto it = by_prefix_.find(std::string(id18.substr(0, 3)));
  return it == by_prefix_.end() ? nullptr : it->second;
}

void Org::DefineSchema() {
  auto add = [&](const char* name, const char* label, const char* plural, const char* prefix,
                 bool tooling = false) -> Object& {
    auto o = std::make_unique<Object>();
    o->name = name;
    o->label = label;
    o->label_plural = plural;
    o->key_prefix = prefix;
    o->tooling = tooling;
    o->next_id = kApiCreatedBase;
    Object& ref = *o;
    by_name_[Lower(name)] = o.get();
    by_prefix_[prefix] = o.get();
    objects_.push_back(std::move(o));
    return ref;
  };

  Object& user = add("User", "User", "Users", "005");
  AddSystemFields(user, "User ID");
  user.fields.pop_back();  // User has no IsDeleted
  user.index.erase("isdeleted");
  user.AddField(FB("Username", "string", "Username").Len(80).Required());
  user.AddField(FB("Email", "email", "Email").Len(128).Required());
  user.AddField(FB("FirstName", "string", "First Name").Len(40));
  user.AddField(FB("LastName", "string", "Last Name").Len(80).Required());
  user.AddField(FB("Name", "string", "Full Name").Len(121).Calculated());
  user.AddField(FB("Alias", "string", "Alias").Len(8));
  user.AddField(FB("IsActive", "boolean", "Active"));
  user.AddField(FB("Department", "string", "Department").Len(80));
  user.AddField(FB("Title", "string", "Title").Len(80));
  AddAuditFields(user);

  std::vector<const char*> industries = {
      "Agriculture",        "Apparel",         "Banking",      "Biotechnology",
      "Chemicals",          "Communications",  "Construction", "Consulting",
      "Education",          "Electronics",     "Energy",       "Engineering",
      "Entertainment",      "Environmental",   "Finance",      "Food & Beverage",
      "Government",         "Healthcare",      "Hospitality",  "Insurance",
      "Machinery",          "Manufacturing",   "Media",        "Not For Profit",
      "Recreation",         "Retail",          "Shipping",     "Technology",
      "Telecommunications", "Transportation",  "Utilities",    "Software",
      "Automotive",         "Medical Devices", "Aerospace",    "Other"};
  Object& account = add("Account", "Account", "Accounts", "001");
  AddSystemFields(account, "Account ID");
  account.AddField(FB("Name", "string", "Account Name").Required());
  account.AddField(FB("Type", "picklist", "Account Type")
                       .Len(255)
                       .Pick({"Prospect", "Customer - Direct", "Customer - Channel",
                              "Channel Partner / Reseller", "Installation Partner",
                              "Technology Partner", "Other"}));
  {
    Field ind = FB("Industry", "picklist", "Industry").Len(255);
    for (const char* v : industries) ind.picklist.push_back(PickValue{v, v, true, false});
    account.AddField(ind);
  }
  account.AddField(FB("AnnualRevenue", "currency", "Annual Revenue").Num(18, 0));
  {
    Field emp = FB("NumberOfEmployees", "int", "Employees");
    emp.digits = 8;
    account.AddField(emp);
  }
  account.AddField(FB("BillingCity", "string", "Billing City").Len(40));
  account.AddField(FB("BillingCountry", "string", "Billing Country").Len(80));
  account.AddField(FB("Website", "url", "Website"));
  account.AddField(FB("Phone", "phone", "Account Phone").Len(40));
  account.AddField(FB("Description", "textarea", "Account Description"));
  account.AddField(FB("Rating", "picklist", "Account Rating").Pick({"Hot", "Warm", "Cold"}));
  account.AddField(
      FB("OwnerId", "reference", "Owner ID").Required().Defaulted().Ref({"User"}, "Owner"));
  account.AddField(FB("LastActivityDate", "date", "Last Activity").ReadOnly());
  AddAuditFields(account);

  Object& contact = add("Contact", "Contact", "Contacts", "003");
  AddSystemFields(contact, "Contact ID");
  contact.AddField(FB("AccountId", "reference", "Account ID").Ref({"Account"}, "Account"));
  contact.AddField(FB("FirstName", "string", "First Name").Len(40));
  contact.AddField(FB("LastName", "string", "Last Name").Len(80).Required());
  contact.AddField(FB("Name", "string", "Full Name").Len(121).Calculated());
  contact.AddField(FB("Email", "email", "Email").Len(80));
  contact.AddField(FB("Title", "string", "Title").Len(128));
  contact.AddField(FB("Phone", "phone", "Business Phone").Len(40));
  contact.AddField(FB("Department", "string", "Department").Len(80));
  contact.AddField(
      FB("OwnerId", "reference", "Owner ID").Required().Defaulted().Ref({"User"}, "Owner"));
  contact.AddField(FB("LastActivityDate", "date", "Last Activity").ReadOnly());
  AddAuditFields(contact);

  Object& opp = add("Opportunity", "Opportunity", "Opportunities", "006");
  AddSystemFields(opp, "Opportunity ID");
  opp.AddField(FB("AccountId", "reference", "Account ID").Ref({"Account"}, "Account"));
  opp.AddField(FB("Name", "string", "Name").Len(120).Required());
  opp.AddField(FB("Amount", "currency", "Amount").Num(18, 2));
  opp.AddField(FB("StageName", "picklist", "Stage")
                   .Required()
                   .Pick({"Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
                          "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote",
                          "Negotiation/Review", "Closed Won", "Closed Lost"},
                         nullptr, true));
  opp.AddField(FB("CloseDate", "date", "Close Date").Required());
  opp.AddField(FB("Type", "picklist", "Opportunity Type")
                   .Pick({"Existing Customer - Upgrade", "Existing Customer - Replacement",
                          "Existing Customer - Downgrade", "New Customer"}));
  opp.AddField(FB("Probability", "percent", "Probability (%)").Num(3, 0).Defaulted());
  opp.AddField(FB("IsClosed", "boolean", "Closed").ReadOnly());
  opp.AddField(FB("IsWon", "boolean", "Won").ReadOnly());
  opp.AddField(
      FB("OwnerId", "reference", "Owner ID").Required().Defaulted().Ref({"User"}, "Owner"));
  AddAuditFields(opp);

  auto activity = [&](Object& o, const char* id_label) {
    AddSystemFields(o, id_label);
    o.AddField(
        FB("Subject", "combobox", "Subject").Pick({"Call", "Send Letter", "Send Quote", "Other"}));
    o.fields.back().defaulted_on_create = false;
    o.AddField(FB("WhatId", "reference", "Related To ID").Ref({"Account", "Opportunity"}, "What"));
    o.AddField(FB("WhoId", "reference", "Name ID").Ref({"Contact"}, "Who"));
    o.AddField(FB("AccountId", "reference", "Account ID").ReadOnly().Ref({"Account"}, "Account"));
    o.AddField(
        FB("OwnerId", "reference", "Assigned To ID").Required().Defaulted().Ref({"User"}, "Owner"));
    o.AddField(FB("ActivityDate", "date", "Due Date Only"));
    o.AddField(FB("Description", "textarea", "Description"));
    o.AddField(FB("Type", "picklist", "Type").Len(40).Pick({"Call", "Email", "Meeting", "Other"}));
    o.AddField(FB("IsArchived", "boolean", "Archived").ReadOnly());
  };
  Object& task = add("Task", "Task", "Tasks", "00T");
  activity(task, "Activity ID");
  task.AddField(
      FB("Status", "picklist", "Status")
          .Len(40)
          .Required()
          .Pick({"Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"},
                "Not Started", true));
  task.AddField(FB("Priority", "picklist", "Priority")
                    .Len(40)
                    .Required()
                    .Pick({"High", "Normal", "Low"}, "Normal", true));
  task.AddField(FB("IsClosed", "boolean", "Closed").ReadOnly());
  task.AddField(FB("IsHighPriority", "boolean", "High Priority").ReadOnly());
  task.AddField(FB("TaskSubtype", "picklist", "Task Subtype")
                    .Len(40)
                    .CreateOnly()
                    .Pick({"Task", "Email", "ListEmail", "Cadence", "Call"}, "Task", true));
  task.AddField(FB("CompletedDateTime", "datetime", "Completed Date/Time").ReadOnly());
  AddAuditFields(task);

  Object& event = add("Event", "Event", "Events", "00U");
  activity(event, "Activity ID");
  event.AddField(FB("StartDateTime", "datetime", "Start Date Time"));
  event.AddField(FB("EndDateTime", "datetime", "End Date Time"));
  event.AddField(FB("ActivityDateTime", "datetime", "Due Date Time"));
  event.AddField(FB("DurationInMinutes", "int", "Duration"));
  event.AddField(FB("Location", "string", "Location"));
  AddAuditFields(event);

  Object& status = add("TaskStatus", "Task Status Value", "Task Status Values", "01J");
  status.createable = status.updateable = status.deletable = false;
  AddSystemFields(status, "Task Status Value ID");
  status.fields.pop_back();
  status.index.erase("isdeleted");
  status.AddField(FB("MasterLabel", "string", "Master Label").ReadOnly());
  status.AddField(FB("ApiName", "string", "Api Name").ReadOnly());
  status.AddField(FB("IsClosed", "boolean", "Closed").ReadOnly());
  status.AddField(FB("IsDefault", "boolean", "Is Default").ReadOnly());
  status.AddField(FB("SortOrder", "int", "Sort Order").ReadOnly());
  AddAuditFields(status);

  // The org itself (one record, the org id): SELECT Id FROM Organization is how a client with
  // a ready access token (no identity URL) learns the org id.
  Object& org = add("Organization", "Organization", "Organizations", "00D");
  org.createable = org.updateable = org.deletable = false;
  AddSystemFields(org, "Organization ID");
  org.fields.pop_back();
  org.index.erase("isdeleted");
  org.AddField(FB("Name", "string", "Name").Len(80).ReadOnly());
  org.AddField(FB("OrganizationType", "picklist", "Edition").ReadOnly());
  org.AddField(FB("IsSandbox", "boolean", "Is Sandbox").ReadOnly());
  org.AddField(FB("InstanceName", "string", "Instance Name").Len(5).ReadOnly());
  AddAuditFields(org);

  Object& cf = add("CustomField", "Custom Field", "Custom Fields", "00N", true);
  AddSystemFields(cf, "Custom Field ID");
  cf.fields.pop_back();
  cf.index.erase("isdeleted");
  cf.AddField(FB("DeveloperName", "string", "Field Name").Len(40).ReadOnly());
  cf.AddField(FB("TableEnumOrId", "string", "Table Enum or ID").Len(40).ReadOnly());
  cf.AddField(FB("FullName", "string", "Full Name").Len(255));
  cf.AddField(FB("NamespacePrefix", "string", "Namespace Prefix").Len(15).ReadOnly());
  cf.AddField(FB("Description", "textarea", "Description").ReadOnly());
  cf.AddField(FB("Length", "int", "Length").ReadOnly());
  cf.AddField(FB("ManageableState", "picklist", "Manageable State").ReadOnly().Pick({"unmanaged"}));
  cf.AddField(FB("Metadata", "complexvalue", "Metadata"));
  AddAuditFields(cf);

  // Indexes: reference fields and external ids.
  for (const auto& o : objects_) {
    for (const auto& f : o->fields) {
      if ((f.type == "reference" && f.name != "CreatedById" && f.name != "LastModifiedById") ||
          f.external_id) {
        indexes_[{o.get(), f.name}];
      }
    }
  }
}

std::string Org::NewId(Object& o) { return MakeId(o.key_prefix, o.next_id++); }

void Org::IndexRecord(const Object& o, const std::string& id18, const json& record, bool add) {
  for (auto& [key, index] : indexes_) {
    if (key.first != &o) continue;
    auto it = record.find(key.second);
    if (it == record.end() || !it->is_string()) continue;
    const std::string v = Lower(it->get<std::string>());
    if (add) {
      index[v].insert(id18);
    } else if (auto hit = index.find(v); hit != index.end()) {
      hit->second.erase(id18);
      if (hit->second.empty()) index.erase(hit);
    }
  }
}

void Org::Put(Object& o, const std::string& id18, json record) {
  auto it = o.records.find(id18);
  if (in_tx_) {
    undo_.emplace_back(&o, id18,
                       it == o.records.end() ? std::nullopt : std::optional<json>(it->second));
  }
  if (it != o.records.end()) {
    IndexRecord(o, id18, it->second, false);
    it->second = std::move(record);
    IndexRecord(o, id18, it->second, true);
  } else {
    IndexRecord(o, id18, record, true);
    o.records.emplace(id18, std::move(record));
  }
}

void Org::Erase(Object& o, const std::string& id18) {
  auto it = o.records.find(id18);
  if (it == o.records.end()) return;
  IndexRecord(o, id18, it->second, false);
  o.records.erase(it);
}

void Org::SetTaskStatuses(const std::vector<std::string>& values, const std::string& def,
                          const std::set<std::string>& closed, int64_t now_ms) {
  Object& status = *FindObject("TaskStatus", false);
  std::vector<std::string> old;
  for (const auto& [id, r] : status.records) old.push_back(id);
  for (const auto& id : old) Erase(status, id);
  int order = 1;
  for (const auto& s : values) {
    const std::string id = MakeId("01J", static_cast<uint64_t>(order));
    const std::string ts = soql::SfDateTime(now_ms);
    Put(status, id,
        {{"Id", id},
         {"MasterLabel", s},
         {"ApiName", s},
         {"IsClosed", closed.count(s) > 0},
         {"IsDefault", s == def},
         {"SortOrder", order},
         {"CreatedDate", ts},
         {"CreatedById", api_user_id_},
         {"LastModifiedDate", ts},
         {"LastModifiedById", api_user_id_},
         {"SystemModstamp", ts}});
    ++order;
  }
  status.next_id = static_cast<uint64_t>(order);
}

bool Org::TaskStatusClosed(const std::string& status) const {
  const Object* o = const_cast<Org*>(this)->FindObject("TaskStatus", false);
  if (o != nullptr) {
    for (const auto& [id, r] : o->records) {
      if (r.value("ApiName", "") == status) return r.value("IsClosed", false);
    }
  }
  return status == "Completed";
}

void Org::BeginTransaction() {
  in_tx_ = true;
  undo_.clear();
}

void Org::Rollback() {
  in_tx_ = false;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    auto& [o, id, before] = *it;
    Erase(*o, id);
    if (before) Put(*o, id, *before);
  }
  undo_.clear();
}

void Org::Commit() {
  in_tx_ = false;
  undo_.clear();
}

const json* Org::Get(const Object& o, const std::string& id18) const {
  auto it = o.records.find(id18);
  return it == o.records.end() ? nullptr : &it->second;
}

std::vector<std::string> Org::FindByExternalId(const Object& o, const Field& f,
                                               const std::string& value) const {
  std::vector<std::string> out;
  auto idx = indexes_.find({&o, f.name});
  if (idx != indexes_.end()) {
    auto hit = idx->second.find(Lower(value));
    if (hit != idx->second.end()) {
      for (const auto& id : hit->second) {
        const json* r = Get(o, id);
        if (r && !r->value("IsDeleted", false)) out.push_back(id);
      }
    }
    return out;
  }
  const std::string want = Lower(value);
  for (const auto& [id, r] : o.records) {
    auto it = r.find(f.name);
    if (it != r.end() && it->is_string() && Lower(it->get<std::string>()) == want &&
        !r.value("IsDeleted", false)) {
      out.push_back(id);
    }
  }
  return out;
}

// ---------- writes ----------
json Org::Normalize(const Object& o, const json& fields, bool create) const {
  if (!fields.is_object()) {
    throw Err("JSON_PARSER_ERROR",
              "Cannot deserialize instance of " + o.name + " from a non-object value");
  }
  json out = json::object();
  std::vector<std::string> not_writable;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const std::string& key = it.key();
    if (key == "attributes") continue;
    const Field* f = o.Find(key);
    if (!f) {
      throw Err("INVALID_FIELD", "No such column '" + key + "' on sobject of type " + o.name,
                {key});
    }
    if (f->name == "Id") continue;  // handled by the caller
    if (create ? !f->createable : !f->updateable) {
      not_writable.push_back(f->name);
      continue;
    }
    const json& v = it.value();
    const std::string& t = f->type;
    if (v.is_null()) {
      out[f->name] = nullptr;
      continue;
    }
    auto bad_value = [&](const std::string& want) {
      return Err("JSON_PARSER_ERROR",
                 "Cannot deserialize instance of " + want + " from " +
                     (v.is_string() ? "VALUE_STRING" : "a JSON") + " value " + v.dump() +
                     " for field " + f->name,
                 {f->name});
    };
    if (t == "double" || t == "currency" || t == "percent" || t == "int") {
      double d;
      if (v.is_number()) {
        d = v.get<double>();
      } else if (v.is_string() && ParseDouble(v.get<std::string>(), &d)) {
      } else {
        throw bad_value(t == "int" ? "int" : "double");
      }
      if (t == "int") {
        // A whole number that fits: a float out of range is no int (and no UB to convert).
        const std::optional<int64_t> whole = WholeInt64(d);
        if (!whole) throw bad_value("int");
        out[f->name] = *whole;
      } else {
        const double scale = std::pow(10.0, f->scale);
        d = std::round(d * scale) / scale;
        if (f->precision > 0 && std::fabs(d) >= std::pow(10.0, f->precision - f->scale)) {
          throw Err("NUMBER_OUTSIDE_VALID_RANGE",
                    f->label + ": value outside of valid range on numeric field: " + json(d).dump(),
                    {f->name});
        }
        out[f->name] = d;
      }
    } else if (t == "boolean") {
      if (v.is_boolean()) {
        out[f->name] = v.get<bool>();
      } else if (v.is_string() && (Lower(v.get<std::string>()) == "true" ||
                                   Lower(v.get<std::string>()) == "false")) {
        out[f->name] = Lower(v.get<std::string>()) == "true";
      } else {
        throw bad_value("boolean");
      }
    } else if (t == "date") {
      int64_t ms;
      if (!v.is_string() || !(soql::ParseSfDate(v.get<std::string>(), &ms) ||
                              soql::ParseSfDateTime(v.get<std::string>(), &ms))) {
        throw bad_value("date");
      }
      out[f->name] = soql::SfDate(ms);
    } else if (t == "datetime") {
      int64_t ms;
      if (!v.is_string() || !(soql::ParseSfDateTime(v.get<std::string>(), &ms) ||
                              soql::ParseSfDate(v.get<std::string>(), &ms))) {
        throw bad_value("datetime");
      }
      out[f->name] = soql::SfDateTime(ms);
    } else if (t == "reference") {
      if (!v.is_string()) throw bad_value("id");
      auto id = NormalizeId(v.get<std::string>());
      if (!id) {
        throw Err("MALFORMED_ID",
                  f->label + ": id value of incorrect type: " + v.get<std::string>(), {f->name});
      }
      out[f->name] = *id;
    } else if (t == "complexvalue") {
      out[f->name] = v;
    } else {  // text-like
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      if (f->length > 0 && static_cast<int>(s.size()) > f->length) {
        throw Err("STRING_TOO_LONG",
                  f->label + ": data value too large: " + s.substr(0, 80) +
                      " (max length=" + std::to_string(f->length) + ")",
                  {f->name});
      }
      if (t == "picklist" && f->restricted_picklist) {
        bool ok = false;
        for (const auto& p : f->picklist) ok = ok || (p.active && p.value == s);
        if (!ok) {
          throw Err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f->label + ": bad value for restricted picklist field: " + s, {f->name});
        }
      }
      out[f->name] = std::move(s);
    }
  }
  if (!not_writable.empty()) {
    std::string list;
    for (const auto& n : not_writable) list += (list.empty() ? "" : ", ") + n;
    throw Err("INVALID_FIELD_FOR_INSERT_UPDATE",
              std::string("Unable to ") + (create ? "create" : "update") + " fields: " + list +
                  ". Please check the security settings of this field and verify that it is "
                  "read/write for your profile or permission set.",
              not_writable);
  }
  return out;
}

void Org::Derive(Object& o, json& r) const {
  if (o.name == "Contact" || o.name == "User") {
    std::string first =
        r.value("FirstName", json()).is_string() ? r["FirstName"].get<std::string>() : "";
    std::string last =
        r.value("LastName", json()).is_string() ? r["LastName"].get<std::string>() : "";
    r["Name"] = first.empty() ? last : first + " " + last;
  } else if (o.name == "Opportunity") {
    const std::string stage =
        r.value("StageName", json()).is_string() ? r["StageName"].get<std::string>() : "";
    r["IsClosed"] = stage == "Closed Won" || stage == "Closed Lost";
    r["IsWon"] = stage == "Closed Won";
    if (r["Probability"].is_null()) r["Probability"] = StageProbability(stage);
  } else if (o.name == "Task" || o.name == "Event") {
    json account = nullptr;
    if (r["WhatId"].is_string()) {
      const std::string what = r["WhatId"];
      if (what.rfind("001", 0) == 0) {
        account = what;
      } else if (what.rfind("006", 0) == 0) {
        auto* opp = const_cast<Org*>(this)->FindObject("Opportunity", false);
        if (const json* rec = Get(*opp, what)) account = rec->value("AccountId", json());
      }
    }
    r["AccountId"] = account;
    if (o.name == "Task") {
      const std::string status =
          r.value("Status", json()).is_string() ? r["Status"].get<std::string>() : "";
      const bool closed = TaskStatusClosed(status);
      if (closed && !r.value("IsClosed", false)) r["CompletedDateTime"] = r["LastModifiedDate"];
      if (!closed) r["CompletedDateTime"] = nullptr;
      r["IsClosed"] = closed;
      r["IsHighPriority"] = r.value("Priority", json()) == "High";
    } else {
      if (r["ActivityDateTime"].is_null()) r["ActivityDateTime"] = r["StartDateTime"];
      if (r["StartDateTime"].is_null()) r["StartDateTime"] = r["ActivityDateTime"];
      if (r["ActivityDateTime"].is_string()) {
        r["ActivityDate"] = r["ActivityDateTime"].get<std::string>().substr(0, 10);
      }
      int64_t s, e;
      if (r["EndDateTime"].is_null() && r["StartDateTime"].is_string() &&
          soql::ParseSfDateTime(r["StartDateTime"].get<std::string>(), &s)) {
        // Bounded: a stored 1e18 must not overflow the end time (Salesforce caps events at 14
        // days; the sandbox only keeps the arithmetic defined).
        const int64_t minutes = std::clamp<int64_t>(WholeInt64(r["DurationInMinutes"]).value_or(60),
                                                    -1'000'000'000, 1'000'000'000);
        r["EndDateTime"] = soql::SfDateTime(s + minutes * 60000);
      }
      if (r["DurationInMinutes"].is_null() && r["StartDateTime"].is_string() &&
          r["EndDateTime"].is_string() &&
          soql::ParseSfDateTime(r["StartDateTime"].get<std::string>(), &s) &&
          soql::ParseSfDateTime(r["EndDateTime"].get<std::string>(), &e)) {
        r["DurationInMinutes"] = (e - s) / 60000;
      }
    }
  }
}

std::string Org::Create(Object& o, const json& fields, int64_t now_ms) {
  if (!o.createable) {
    throw Err("INVALID_TYPE", "entity type " + o.name + " does not support insert");
  }
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (Lower(it.key()) == "id") {
        throw Err("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", {"Id"});
      }
    }
  }
  const json changes = Normalize(o, fields, true);
  json r = json::object();
  for (const auto& f : o.fields) r[f.name] = f.type == "boolean" ? json(false) : json(nullptr);
  for (const auto& f : o.fields) {
    if (f.defaulted_on_create && !f.default_value.is_null()) r[f.name] = f.default_value;
  }
  if (o.Find("OwnerId")) r["OwnerId"] = api_user_id_;
  for (auto it = changes.begin(); it != changes.end(); ++it) r[it.key()] = it.value();
  const std::string ts = AuditStamp(now_ms);
  r["CreatedDate"] = r["LastModifiedDate"] = r["SystemModstamp"] = ts;
  r["CreatedById"] = r["LastModifiedById"] = api_user_id_;
  std::vector<std::string> missing;
  for (const auto& f : o.fields) {
    if (!f.nillable && f.createable && r[f.name].is_null()) missing.push_back(f.name);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& n : missing) list += (list.empty() ? "" : ", ") + n;
    throw Err("REQUIRED_FIELD_MISSING", "Required fields are missing: [" + list + "]", missing);
  }
  const std::string id = NewId(o);
  r["Id"] = id;
  // References and unique values.
  for (const auto& f : o.fields) {
    const json& v = r[f.name];
    if (f.type == "reference" && v.is_string() && f.createable) {
      Object* target = ObjectOfId(v.get<std::string>());
      const bool ok = target &&
                      std::find(f.reference_to.begin(), f.reference_to.end(), target->name) !=
                          f.reference_to.end() &&
                      Get(*target, v.get<std::string>()) != nullptr &&
                      !Get(*target, v.get<std::string>())->value("IsDeleted", false);
      if (!ok) {
        throw Err("INVALID_CROSS_REFERENCE_KEY",
                  f.label + ": id value of incorrect type: " + v.get<std::string>(), {f.name});
      }
    }
    if (f.unique && v.is_string() && !FindByExternalId(o, f, v.get<std::string>()).empty()) {
      throw Err("DUPLICATE_VALUE",
                "duplicate value found: " + f.name + " duplicates value on record with id: " +
                    FindByExternalId(o, f, v.get<std::string>()).front(),
                {f.name});
    }
  }
  Derive(o, r);
  Put(o, id, std::move(r));
  return id;
}

void Org::Update(Object& o, const std::string& id18, const json& fields, int64_t now_ms,
                 bool by_person) {
  const json* existing = Get(o, id18);
  if (!existing) {
    throw Err("NOT_FOUND", "The requested resource does not exist", {}, 404);
  }
  if (existing->value("IsDeleted", false)) {
    throw Err("ENTITY_IS_DELETED", "entity is deleted", {}, 404);
  }
  if (!o.updateable)
    throw Err("INVALID_TYPE", "entity type " + o.name + " does not support update");
  const json changes = Normalize(o, fields, false);
  json r = *existing;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    const Field* f = o.Find(it.key());
    if (it.value().is_null() && !f->nillable) {
      throw Err("REQUIRED_FIELD_MISSING", "Required fields are missing: [" + f->name + "]",
                {f->name});
    }
    if (f->type == "reference" && it.value().is_string()) {
      Object* target = ObjectOfId(it.value().get<std::string>());
      const bool ok = target &&
                      std::find(f->reference_to.begin(), f->reference_to.end(), target->name) !=
                          f->reference_to.end() &&
                      Get(*target, it.value().get<std::string>()) != nullptr;
      if (!ok) {
        throw Err("INVALID_CROSS_REFERENCE_KEY",
                  f->label + ": id value of incorrect type: " + it.value().get<std::string>(),
                  {f->name});
      }
    }
    if (f->unique && it.value().is_string()) {
      for (const auto& other : FindByExternalId(o, *f, it.value().get<std::string>())) {
        if (other != id18) {
          throw Err(
              "DUPLICATE_VALUE",
              "duplicate value found: " + f->name + " duplicates value on record with id: " + other,
              {f->name});
        }
      }
    }
    r[it.key()] = it.value();
  }
  const std::string ts = AuditStamp(now_ms);
  r["LastModifiedDate"] = r["SystemModstamp"] = ts;
  r["LastModifiedById"] = by_person && r.contains("OwnerId") && r["OwnerId"].is_string()
                              ? r["OwnerId"]
                              : json(api_user_id_);
  Derive(o, r);
  Put(o, id18, std::move(r));
}

void Org::Delete(Object& o, const std::string& id18, int64_t now_ms) {
  const json* existing = Get(o, id18);
  if (!existing) throw Err("NOT_FOUND", "The requested resource does not exist", {}, 404);
  if (existing->value("IsDeleted", false))
    throw Err("ENTITY_IS_DELETED", "entity is deleted", {}, 404);
  if (!o.deletable || !o.Find("IsDeleted")) {
    throw Err("INVALID_TYPE", "entity type " + o.name + " does not support delete");
  }
  json r = *existing;
  r["IsDeleted"] = true;
  r["SystemModstamp"] = AuditStamp(now_ms);
  Put(o, id18, std::move(r));
  if (o.name == "Account") {  // cascade like Salesforce: contacts, opportunities, activities
    for (const char* child : {"Contact", "Opportunity", "Task", "Event"}) {
      Object* c = FindObject(child, false);
      auto idx = indexes_.find({c, "AccountId"});
      if (idx == indexes_.end()) continue;
      auto hit = idx->second.find(Lower(id18));
      if (hit == idx->second.end()) continue;
      const std::set<std::string> ids = hit->second;
      for (const auto& cid : ids) {
        const json* cr = Get(*c, cid);
        if (!cr || cr->value("IsDeleted", false)) continue;
        json copy = *cr;
        copy["IsDeleted"] = true;
        copy["SystemModstamp"] = AuditStamp(now_ms);
        Put(*c, cid, std::move(copy));
      }
    }
  }
}

int64_t Org::Touch(Object& o, const std::vector<std::string>& ids, int64_t count, int64_t ms) {
  const std::string ts = soql::SfDateTime(ms);
  int64_t n = 0;
  auto touch = [&](const std::string& id) {
    const json* r = Get(o, id);
    if (!r) return;
    json copy = *r;
    copy["SystemModstamp"] = ts;
    if (copy.contains("LastModifiedDate")) copy["LastModifiedDate"] = ts;
    Put(o, id, std::move(copy));
    ++n;
  };
  if (!ids.empty()) {
    for (const auto& id : ids) {
      if (auto norm = NormalizeId(id)) touch(*norm);
    }
    return n;
  }
  std::vector<std::string> all;
  for (const auto& [id, r] : o.records) {
    if (count > 0 && static_cast<int64_t>(all.size()) >= count) break;
    all.push_back(id);
  }
  for (const auto& id : all) touch(id);
  return n;
}

// ---------- Tooling CustomField ----------
Field Org::FieldFromMetadata(const std::string& name, const json& m) const {
  const std::string type = m.value("type", "");
  const std::string label = m.value("label", name);
  Field f;
  f.name = name;
  f.label = label;
  f.custom = true;
  if (type == "Number" || type == "Currency" || type == "Percent") {
    f.type = type == "Number" ? "double" : (type == "Currency" ? "currency" : "percent");
    f.precision = IntMember(m, "precision", 18).value_or(-1);
    f.scale = IntMember(m, "scale", 0).value_or(-1);
    if (f.precision < 1 || f.precision > 18 || f.scale < 0 || f.scale > f.precision) {
      throw Err("FIELD_INTEGRITY_EXCEPTION",
                "Length, decimal places: the sum must be 18 or less and the length at least 1");
    }
  } else if (type == "Text") {
    f.type = "string";
    f.length = IntMember(m, "length", 0).value_or(-1);
    if (f.length < 1 || f.length > 255) {
      throw Err("FIELD_INTEGRITY_EXCEPTION", "Length: the length of a text field must be 1..255");
    }
  } else if (type == "TextArea") {
    f.type = "textarea";
    f.length = 255;
  } else if (type == "LongTextArea" || type == "Html") {
    f.type = "textarea";
    f.length = IntMember(m, "length", 32768).value_or(-1);
    if (f.length < 256 || f.length > 131072) {
      throw Err("FIELD_INTEGRITY_EXCEPTION",
                "Length: a long text area holds 256..131072 characters");
    }
  } else if (type == "Picklist" || type == "MultiselectPicklist") {
    f.type = type == "Picklist" ? "picklist" : "multipicklist";
    f.length = 255;
    const json vs = m.value("valueSet", json::object());
    f.restricted_picklist = vs.value("restricted", false);
    const json def = vs.value("valueSetDefinition", json::object());
    for (const auto& v : def.value("value", json::array())) {
      PickValue p;
      p.value = v.value("fullName", "");
      p.label = v.value("label", p.value);
      p.is_default = v.value("default", false);
      p.active = v.value("isActive", true);
      if (p.value.empty()) {
        throw Err("FIELD_INTEGRITY_EXCEPTION", "Picklist value: every value needs a fullName");
      }
      f.picklist.push_back(p);
    }
    if (f.picklist.empty()) {
      throw Err("FIELD_INTEGRITY_EXCEPTION", "Picklist: at least one value is required");
    }
  } else if (type == "DateTime") {
    f.type = "datetime";
  } else if (type == "Date") {
    f.type = "date";
  } else if (type == "Checkbox") {
    f.type = "boolean";
    f.nillable = false;
    f.defaulted_on_create = true;
    f.default_value = Lower(m.value("defaultValue", std::string("false"))) == "true";
  } else if (type == "Email") {
    f.type = "email";
    f.length = 80;
  } else if (type == "Url") {
    f.type = "url";
    f.length = 255;
  } else if (type == "Phone") {
    f.type = "phone";
    f.length = 40;
  } else {
    throw Err("FIELD_INTEGRITY_EXCEPTION",
              "type: unsupported custom field type in the sandbox: '" + type + "'");
  }
  f.external_id = m.value("externalId", false);
  f.unique = m.value("unique", false);
  if (m.value("required", false)) f.nillable = false;
  return f;
}

json Org::CustomFieldRecord(const Object& table, const Field& f, const json& metadata,
                            int64_t now_ms) const {
  const std::string ts = soql::SfDateTime(now_ms);
  const std::string dev = f.name.substr(0, f.name.size() - 3);
  json r = {{"Id", f.custom_field_id},
            {"DeveloperName", dev},
            {"TableEnumOrId", table.name},
            {"FullName", table.name + "." + f.name},
            {"NamespacePrefix", nullptr},
            {"Description", metadata.value("description", json())},
            {"Length", f.length > 0 ? json(f.length) : json(nullptr)},
            {"ManageableState", "unmanaged"},
            {"Metadata", metadata},
            {"CreatedDate", ts},
            {"CreatedById", api_user_id_},
            {"LastModifiedDate", ts},
            {"LastModifiedById", api_user_id_},
            {"SystemModstamp", ts}};
  return r;
}

namespace {
// Completes Metadata the way Salesforce echoes it back.
json CompleteMetadata(const json& m, const Field& f) {
  json out = m;
  if (!out.contains("externalId")) out["externalId"] = f.external_id;
  if (!out.contains("unique")) out["unique"] = f.unique;
  if (!out.contains("required")) out["required"] = !f.nillable && f.type != "boolean";
  if (f.type == "double" || f.type == "currency" || f.type == "percent") {
    out["precision"] = f.precision;
    out["scale"] = f.scale;
  }
  if (f.length > 0 && (f.type == "string" || f.type == "textarea")) out["length"] = f.length;
  return out;
}
}  // namespace

std::string Org::CreateCustomField(const json& body, int64_t now_ms) {
  if (!body.is_object()) throw Err("JSON_PARSER_ERROR", "The body must be a JSON object");
  std::string full = body.value("FullName", "");
  const json metadata = body.value("Metadata", json::object());
  if (full.empty() && metadata.contains("fullName")) full = metadata.value("fullName", "");
  const size_t dot = full.find('.');
  if (dot == std::string::npos) {
    throw Err("REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName]", {"FullName"});
  }
  Object* table = FindObject(full.substr(0, dot), false);
  if (!table || table->name == "TaskStatus") {
    throw Err("FIELD_INTEGRITY_EXCEPTION",
              "FullName: invalid object '" + full.substr(0, dot) + "' for a custom field",
              {"FullName"});
  }
  std::string name = full.substr(dot + 1);
  if (name.size() < 4 || name.substr(name.size() - 3) != "__c" ||
      !std::isalpha(static_cast<unsigned char>(name[0]))) {
    throw Err("FIELD_INTEGRITY_EXCEPTION",
              "FullName: a custom field name must start with a letter and end in __c: " + name,
              {"FullName"});
  }
  if (table->FindAny(name)) {
    throw Err("DUPLICATE_DEVELOPER_NAME",
              "There is already a field named " + name.substr(0, name.size() - 3) + " on " +
                  table->name + ".",
              {});
  }
  Field f = FieldFromMetadata(name, metadata);
  if (f.external_id && (table->name == "Task" || table->name == "Event") &&
      !options_.task_key_unique) {
    throw Err("FIELD_INTEGRITY_EXCEPTION",
              "External ID: activity custom fields cannot be external IDs in this org "
              "(sandbox option task_key_unique=false)",
              {"Metadata"});
  }
  Object* cf = FindObject("CustomField", true);
  f.custom_field_id = NewId(*cf);
  f.hidden = hide_new_fields;
  const json record = CustomFieldRecord(*table, f, CompleteMetadata(metadata, f), now_ms);
  table->AddField(f);
  if (f.external_id || f.unique) indexes_[{table, f.name}];
  // Existing records get the default (null, false for checkboxes).
  for (auto& [id, r] : table->records) r[f.name] = f.default_value;
  if (f.external_id || f.unique) {
    for (auto& [id, r] : table->records) IndexRecord(*table, id, r, true);
  }
  Put(*cf, f.custom_field_id, record);
  return f.custom_field_id;
}

void Org::UpdateCustomField(const std::string& id18, const json& body, int64_t now_ms) {
  Object* cf = FindObject("CustomField", true);
  const json* rec = Get(*cf, id18);
  if (!rec) throw Err("NOT_FOUND", "The requested resource does not exist", {}, 404);
  Object* table = FindObject(rec->value("TableEnumOrId", ""), false);
  const std::string name = rec->value("DeveloperName", "") + "__c";
  const Field* old = table ? table->FindAny(name) : nullptr;
  if (!old) throw Err("NOT_FOUND", "The requested resource does not exist", {}, 404);
  json metadata = body.value("Metadata", json::object());
  Field f = FieldFromMetadata(name, metadata);
  if (f.type != old->type) {
    throw Err("FIELD_INTEGRITY_EXCEPTION",
              "Cannot change the type of " + name + " from " + old->type + " to " + f.type +
                  " in the sandbox",
              {"Metadata"});
  }
  f.custom_field_id = old->custom_field_id;
  f.hidden = old->hidden;
  table->AddField(f);
  if (f.external_id || f.unique) {
    indexes_[{table, f.name}];
    for (auto& [id, r] : table->records) IndexRecord(*table, id, r, true);
  }
  json record = *rec;
  record["Metadata"] = CompleteMetadata(metadata, f);
  record["Length"] = f.length > 0 ? json(f.length) : json(nullptr);
  record["LastModifiedDate"] = record["SystemModstamp"] = soql::SfDateTime(now_ms);
  Put(*cf, id18, std::move(record));
}

void Org::DeleteCustomField(const std::string& id18, int64_t) {
  Object* cf = FindObject("CustomField", true);
  const json* rec = Get(*cf, id18);
  if (!rec) throw Err("NOT_FOUND", "The requested resource does not exist", {}, 404);
  Object* table = FindObject(rec->value("TableEnumOrId", ""), false);
  const std::string name = Lower(rec->value("DeveloperName", "") + "__c");
  if (table) {
    auto it = table->index.find(name);
    if (it != table->index.end()) {
      const std::string canonical = table->fields[it->second].name;
      indexes_.erase({table, canonical});
      table->fields.erase(table->fields.begin() + static_cast<long>(it->second));
      table->index.clear();
      for (size_t i = 0; i < table->fields.size(); ++i)
        table->index[Lower(table->fields[i].name)] = i;
      for (auto& [id, r] : table->records) r.erase(canonical);
    }
  }
  Erase(*cf, id18);
}

// ---------- JSON views ----------
json Org::RecordJson(const Object& o, const json& record, const std::vector<std::string>* fields,
                     const std::string& version) const {
  const std::string id = record.value("Id", "");
  json out = {{"attributes",
               {{"type", o.name},
                {"url", "/services/data/v" + version + (o.tooling ? "/tooling" : "") +
                            "/sobjects/" + o.name + "/" + id}}}};
  if (fields) {
    for (const auto& name : *fields) {
      const Field* f = o.Find(name);
      if (!f) continue;
      auto it = record.find(f->name);
      out[f->name] = it == record.end() ? json(nullptr) : *it;
    }
    if (!out.contains("Id")) out["Id"] = id;
  } else {
    for (const auto& f : o.fields) {
      if (f.hidden) continue;
      auto it = record.find(f.name);
      out[f.name] = it == record.end() ? json(nullptr) : *it;
    }
  }
  return out;
}

void Org::SetFieldSecurity(const std::vector<std::string>& hide,
                           const std::vector<std::string>& show) {
  auto apply = [&](const std::string& full, bool hidden) {
    const size_t dot = full.find('.');
    Object* o = dot == std::string::npos ? nullptr : FindObject(full.substr(0, dot), false);
    Field* f = o ? o->FindAny(full.substr(dot + 1)) : nullptr;
    if (!f || f->name == "Id") throw Err("INVALID_FIELD", "no such field: " + full, {full});
    f->hidden = hidden;
  };
  for (const auto& h : hide) apply(h, true);
  for (const auto& s : show) apply(s, false);
}

json Org::Describe(const Object& o, const std::string& version) const {
  const std::string base =
      "/services/data/v" + version + (o.tooling ? "/tooling" : "") + "/sobjects/" + o.name;
  json fields = json::array();
  for (const auto& f : o.fields) {
    if (f.hidden) continue;
    json picks = json::array();
    for (const auto& p : f.picklist) {
      picks.push_back({{"active", p.active},
                       {"defaultValue", p.is_default},
                       {"label", p.label},
                       {"validFor", nullptr},
                       {"value", p.value}});
    }
    static const std::map<std::string, std::string> kSoap = {{"id", "tns:ID"},
                                                             {"reference", "tns:ID"},
                                                             {"boolean", "xsd:boolean"},
                                                             {"double", "xsd:double"},
                                                             {"currency", "xsd:double"},
                                                             {"percent", "xsd:double"},
                                                             {"int", "xsd:int"},
                                                             {"date", "xsd:date"},
                                                             {"datetime", "xsd:dateTime"},
                                                             {"complexvalue", "urn:JsonNode"}};
    auto soap = kSoap.find(f.type);
    const bool text = f.type == "string" || f.type == "textarea" || f.type == "picklist" ||
                      f.type == "combobox" || f.type == "email" || f.type == "phone" ||
                      f.type == "url" || f.type == "multipicklist";
    fields.push_back(
        {{"name", f.name},
         {"label", f.label},
         {"type", f.type},
         {"soapType", soap == kSoap.end() ? "xsd:string" : soap->second},
         {"custom", f.custom},
         {"nillable", f.nillable},
         {"createable", f.createable},
         {"updateable", f.updateable},
         {"calculated", f.calculated},
         {"length", text || f.type == "id" || f.type == "reference" ? f.length : 0},
         {"byteLength", (text || f.type == "id" || f.type == "reference") ? f.length * 3 : 0},
         {"precision", f.precision},
         {"scale", f.scale},
         {"digits", f.digits},
         {"picklistValues", picks},
         {"restrictedPicklist", f.restricted_picklist},
         {"referenceTo", f.reference_to},
         {"relationshipName",
          f.relationship_name.empty() ? json(nullptr) : json(f.relationship_name)},
         {"externalId", f.external_id},
         {"unique", f.unique},
         {"idLookup", f.id_lookup || f.external_id},
         {"defaultValue", f.default_value},
         {"defaultedOnCreate", f.defaulted_on_create},
         {"filterable", f.type != "textarea" && f.type != "complexvalue"},
         {"sortable", f.type != "textarea" && f.type != "complexvalue"},
         {"groupable", f.type != "textarea" && f.type != "complexvalue" && f.type != "double" &&
                           f.type != "currency" && f.type != "percent" && f.type != "datetime"},
         {"aggregatable", f.type != "textarea" && f.type != "complexvalue"},
         {"caseSensitive", false},
         {"autoNumber", false},
         {"nameField", f.name == "Name" || (o.name == "Task" && f.name == "Subject")},
         {"permissionable", f.custom || f.nillable},
         {"htmlFormatted", false},
         {"dependentPicklist", false},
         {"inlineHelpText", nullptr},
         {"cascadeDelete", false},
         {"restrictedDelete", false},
         {"writeRequiresMasterRead", false}});
  }
  json children = json::array();
  if (o.name == "Account") {
    for (const char* c : {"Contact", "Opportunity", "Task", "Event"}) {
      children.push_back(
          {{"childSObject", c},
           {"field", "AccountId"},
           {"relationshipName",
            std::string(c) == "Opportunity" ? "Opportunities" : std::string(c) + "s"},
           {"cascadeDelete", true},
           {"deprecatedAndHidden", false},
           {"restrictedDelete", false}});
    }
  }
  return {{"name", o.name},
          {"label", o.label},
          {"labelPlural", o.label_plural},
          {"keyPrefix", o.key_prefix},
          {"custom", o.custom},
          {"createable", o.createable},
          {"updateable", o.updateable},
          {"deletable", o.deletable},
          {"queryable", true},
          {"retrieveable", true},
          {"searchable", !o.tooling},
          {"undeletable", o.deletable},
          {"triggerable", !o.tooling},
          {"layoutable", !o.tooling},
          {"activateable", false},
          {"feedEnabled", false},
          {"customSetting", false},
          {"deprecatedAndHidden", false},
          {"mergeable", o.name == "Account" || o.name == "Contact"},
          {"replicateable", true},
          {"fields", fields},
          {"childRelationships", children},
          {"recordTypeInfos", json::array()},
          {"supportedScopes", json::array({{{"label", "All"}, {"name", "everything"}}})},
          {"urls",
           {{"sobject", base}, {"describe", base + "/describe"}, {"rowTemplate", base + "/{ID}"}}}};
}

json Org::DescribeGlobal(const std::string& version, bool tooling) const {
  json list = json::array();
  for (const auto& o : objects_) {
    if (o->tooling != tooling) continue;
    const std::string base =
        "/services/data/v" + version + (tooling ? "/tooling" : "") + "/sobjects/" + o->name;
    list.push_back(
        {{"name", o->name},
         {"label", o->label},
         {"labelPlural", o->label_plural},
         {"keyPrefix", o->key_prefix},
         {"custom", o->custom},
         {"queryable", true},
         {"createable", o->createable},
         {"updateable", o->updateable},
         {"deletable", o->deletable},
         {"retrieveable", true},
         {"searchable", !tooling},
         {"layoutable", !tooling},
         {"urls",
          {{"sobject", base}, {"describe", base + "/describe"}, {"rowTemplate", base + "/{ID}"}}}});
  }
  return {{"encoding", "UTF-8"}, {"maxBatchSize", 200}, {"sobjects", list}};
}

// ---------- seeding ----------
class Seeder {
 public:
  explicit Seeder(Org& org) : org_(org) {}

  void Users() {
    Object& user = *org_.FindObject("User", false);
    const int64_t t0 = org_.base_time_ms_ - 900LL * 86400000;
    auto add = [&](const std::string& id, const std::string& first, const std::string& last,
                   const std::string& email, const std::string& dept, const char* title,
                   int64_t created) {
      json r = json::object();
      for (const auto& f : user.fields)
        r[f.name] = f.type == "boolean" ? json(false) : json(nullptr);
      const std::string ts = soql::SfDateTime(created);
      r["Id"] = id;
      r["Username"] = email;
      r["Email"] = email;
      r["FirstName"] = first;
      r["LastName"] = last;
      r["Alias"] = ToLower(first.substr(0, 1) + last.substr(0, std::min<size_t>(4, last.size())));
      r["IsActive"] = true;
      r["Department"] = dept;
      r["Title"] = title;
      r["CreatedDate"] = r["LastModifiedDate"] = r["SystemModstamp"] = ts;
      r["CreatedById"] = r["LastModifiedById"] = org_.api_user_id_;
      org_.Derive(user, r);
      org_.Put(user, id, std::move(r));
    };
    add(org_.api_user_id_, "KAM", "Integration", "kam-integration@kam-sandbox.example",
        "Integration", "API user", t0);
    int i = 0;
    for (const auto& o : org_.generator_->owners()) {
      const std::string id = MakeId("005", 100 + i);
      org_.owner_to_user_[o.value("id", "")] = id;
      std::string team;
      if (o.contains("teams") && !o["teams"].empty()) team = o["teams"][0].value("name", "");
      int64_t created = t0;
      ParseTimeMs(o.value("createdAt", ""), &created);
      add(id, o.value("firstName", ""), o.value("lastName", ""), o.value("email", ""), team,
          "Key Account Manager", created);
      ++i;
    }
    // The organization record.
    Object& org = *org_.FindObject("Organization", false);
    json o = json::object();
    for (const auto& f : org.fields) o[f.name] = f.type == "boolean" ? json(false) : json(nullptr);
    o["Id"] = org_.org_id_;
    o["Name"] = "KAM Sandbox";
    o["OrganizationType"] = "Developer Edition";
    o["InstanceName"] = "KAM1";
    o["CreatedDate"] = o["LastModifiedDate"] = o["SystemModstamp"] = soql::SfDateTime(t0);
    o["CreatedById"] = o["LastModifiedById"] = org_.api_user_id_;
    org_.Put(org, org_.org_id_, std::move(o));
    org.next_id = 2;
    // Task status values.
    org_.SetTaskStatuses(
        {"Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"},
        "Not Started", {"Completed"}, t0);
  }

  void ErpFields() {
    Object& account = *org_.FindObject("Account", false);
    Object& cf = *org_.FindObject("CustomField", true);
    int n = 1;
    for (const auto& e : kErpFields) {
      Field f;
      f.name = e.name;
      f.label = e.label;
      f.type = "double";
      f.precision = e.precision;
      f.scale = e.scale;
      f.custom = true;
      f.custom_field_id = MakeId("00N", n++);
      const json metadata = {{"label", e.label},         {"type", "Number"},
                             {"precision", e.precision}, {"scale", e.scale},
                             {"externalId", false},      {"unique", false},
                             {"required", false},        {"description", "From the ERP (seeded)"}};
      org_.Put(
          cf, f.custom_field_id,
          org_.CustomFieldRecord(account, f, metadata, org_.base_time_ms_ - 1000LL * 86400000));
      account.AddField(f);
    }
  }

  // Translates every generator record with id >= first_id.
  std::string Translate(int64_t first_id) {
    SQLite::Database& db = org_.generator_->db();
    std::unordered_map<int64_t, int64_t> company_of;
    {
      SQLite::Statement q(
          db, "SELECT from_id, to_id FROM assoc WHERE to_type = 'companies' AND from_id >= ?");
      q.bind(1, first_id);
      while (q.executeStep()) company_of[q.getColumn(0).getInt64()] = q.getColumn(1).getInt64();
    }
    std::string first_account;
    SQLite::Statement q(db,
                        "SELECT id, type, created_ms, updated_ms, props FROM objects WHERE id >= ? "
                        "AND archived = 0 ORDER BY id");
    q.bind(1, first_id);
    Object& account = *org_.FindObject("Account", false);
    Object& contact = *org_.FindObject("Contact", false);
    Object& opp = *org_.FindObject("Opportunity", false);
    Object& event = *org_.FindObject("Event", false);
    Object& task = *org_.FindObject("Task", false);
    while (q.executeStep()) {
      const int64_t hs_id = q.getColumn(0).getInt64();
      const std::string type = q.getColumn(1).getString();
      const int64_t created = q.getColumn(2).getInt64();
      const int64_t updated = q.getColumn(3).getInt64();
      const json p = json::parse(q.getColumn(4).getString());
      const std::string owner = User(Str(p, "hubspot_owner_id"));
      json account_id = nullptr;
      if (auto it = company_of.find(hs_id); it != company_of.end()) {
        account_id = MakeId("001", static_cast<uint64_t>(it->second));
      }
      if (type == "companies") {
        json r = Base(account, created, updated);
        const std::string id = MakeId("001", static_cast<uint64_t>(hs_id));
        if (first_account.empty()) first_account = id;
        r["Id"] = id;
        r["Name"] = Str(p, "name");
        r["Website"] = Str(p, "website");
        r["Industry"] = SfIndustry(Str(p, "industry"));
        r["AnnualRevenue"] = NumberOrNull(p, "annualrevenue");
        json emp = NumberOrNull(p, "numberofemployees");
        const std::optional<int64_t> employees =
            emp.is_null() ? std::nullopt : WholeInt64(std::trunc(emp.get<double>()));
        r["NumberOfEmployees"] = employees ? json(*employees) : json(nullptr);
        r["BillingCountry"] = Str(p, "country");
        r["BillingCity"] = Str(p, "city");
        r["OwnerId"] = owner;
        const std::string stage = Str(p, "lifecyclestage");
        r["Type"] = stage == "customer" ? "Customer - Direct" : "Prospect";
        r["LastActivityDate"] = DateOrNull(p, "notes_last_contacted");
        for (const auto& e : kErpFields) r[e.name] = NumberOrNull(p, e.hubspot);
        org_.Put(account, id, std::move(r));
      } else if (type == "contacts") {
        json r = Base(contact, created, updated);
        const std::string id = MakeId("003", static_cast<uint64_t>(hs_id));
        r["Id"] = id;
        r["AccountId"] = account_id;
        r["FirstName"] = Str(p, "firstname");
        r["LastName"] = Str(p, "lastname");
        r["Email"] = Str(p, "email");
        r["Title"] = Str(p, "jobtitle");
        r["OwnerId"] = owner;
        r["LastActivityDate"] = DateOrNull(p, "notes_last_contacted");
        org_.Derive(contact, r);
        org_.Put(contact, id, std::move(r));
      } else if (type == "deals") {
        json r = Base(opp, created, updated);
        const std::string id = MakeId("006", static_cast<uint64_t>(hs_id));
        r["Id"] = id;
        r["AccountId"] = account_id;
        r["Name"] = Str(p, "dealname");
        r["Amount"] = NumberOrNull(p, "amount");
        r["StageName"] = OpportunityStage(Str(p, "dealstage"));
        r["CloseDate"] = DateOrNull(p, "closedate");
        r["Type"] =
            Str(p, "dealtype") == "newbusiness" ? "New Customer" : "Existing Customer - Upgrade";
        r["OwnerId"] = owner;
        org_.Derive(opp, r);
        org_.Put(opp, id, std::move(r));
      } else if (type == "meetings") {
        json r = Base(event, created, updated);
        const std::string id = MakeId("00U", static_cast<uint64_t>(hs_id));
        r["Id"] = id;
        r["WhatId"] = account_id;
        r["Subject"] = Str(p, "hs_meeting_title");
        r["StartDateTime"] = DateTimeOrNull(p, "hs_meeting_start_time");
        r["EndDateTime"] = DateTimeOrNull(p, "hs_meeting_end_time");
        r["ActivityDateTime"] = DateTimeOrNull(p, "hs_timestamp");
        r["DurationInMinutes"] = 60;
        r["Type"] = "Meeting";
        r["OwnerId"] = owner;
        org_.Derive(event, r);
        org_.Put(event, id, std::move(r));
      } else if (type == "tasks") {
        json r = Base(task, created, updated);
        const std::string id = MakeId("00T", static_cast<uint64_t>(hs_id));
        r["Id"] = id;
        r["WhatId"] = account_id;
        r["Subject"] = Str(p, "hs_task_subject");
        r["Description"] = Str(p, "hs_task_body");
        r["ActivityDate"] = DateOrNull(p, "hs_timestamp");
        r["Status"] = "Not Started";
        const std::string prio = Str(p, "hs_task_priority");
        r["Priority"] = prio == "HIGH" ? "High" : (prio == "LOW" ? "Low" : "Normal");
        r["Type"] = "Call";
        r["TaskSubtype"] = "Task";
        r["OwnerId"] = owner;
        r["CreatedById"] = r["LastModifiedById"] = owner;  // made by a person
        org_.Derive(task, r);
        org_.Put(task, id, std::move(r));
      }
    }
    return first_account;
  }

 private:
  std::string User(const std::string& hubspot_owner) {
    auto it = org_.owner_to_user_.find(hubspot_owner);
    return it == org_.owner_to_user_.end() ? org_.api_user_id_ : it->second;
  }

  json Base(const Object& o, int64_t created, int64_t updated) {
    json r = json::object();
    for (const auto& f : o.fields) r[f.name] = f.type == "boolean" ? json(false) : json(nullptr);
    for (const auto& f : o.fields) {
      if (f.defaulted_on_create && !f.default_value.is_null()) r[f.name] = f.default_value;
    }
    r["CreatedDate"] = soql::SfDateTime(created);
    r["LastModifiedDate"] = r["SystemModstamp"] = soql::SfDateTime(std::max(created, updated));
    r["CreatedById"] = r["LastModifiedById"] = org_.api_user_id_;
    return r;
  }

  Org& org_;
};

void Org::Seed() {
  SandboxOptions gen = options_;
  gen.crm = "hubspot";
  gen.db_path.clear();
  gen.faults.clear();
  gen.base_time_ms = base_time_ms_;
  generator_ = std::make_unique<Portal>(gen);
  Seeder seeder(*this);
  seeder.Users();
  seeder.ErpFields();
  seeder.Translate(0);
}

std::string Org::AddCompanies(int count, uint64_t salt) {
  if (count <= 0) return {};
  (void)salt;
  const int64_t first = generator_->SeedCompanies(count, ++salt_);
  Seeder seeder(*this);
  return seeder.Translate(first);
}

}  // namespace kam::sandbox::sf
