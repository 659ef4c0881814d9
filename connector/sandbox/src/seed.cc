// Seeded demo data of the sandbox portal: HubSpot's standard property definitions plus the ERP
// custom properties, owners, and companies with contacts, deals, meetings and a few hand-made
// tasks. Everything derives from (seed, base time): the same pair gives the same data.
#include <cmath>

#include "portal.h"

namespace kam::sandbox {
namespace {

constexpr int64_t kDay = 86400000;

struct Rng {
  uint64_t state;
  uint64_t Next() { return state = Mix(state, 0x5EED); }
  double U() { return Unit(Next()); }
  int Int(int lo, int hi) { return lo + static_cast<int>(U() * (hi - lo + 1)); }  // [lo, hi]
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Next() % N];
  }
};

const char* const kNamePrefix[] = {"Nord", "Alpen", "Rhein", "Atlas", "Blue", "Cedar", "Delta",
                                   "Ever", "Falcon", "Granite", "Harbor", "Iron", "Juniper",
                                   "Kestrel", "Linden", "Meridian", "Nova", "Orion", "Pioneer",
                                   "Quartz", "River", "Summit", "Titan", "Union", "Vertex",
                                   "Westfield", "Zenith", "Apex", "Bright", "Crescent"};
const char* const kNameCore[] = {"tech", "werk", "logic", "systems", "motion", "chem", "foods",
                                 "data", "parts", "tools", "labs", "works", "med", "energy",
                                 "freight", "print", "steel", "soft", "trade", "bau"};
const char* const kLegal[] = {"GmbH", "AG", "Inc.", "Ltd", "SA", "BV", "LLC", "SE"};
const char* const kIndustries[] = {"COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES",
                                   "MACHINERY", "AUTOMOTIVE", "CHEMICALS", "FINANCIAL_SERVICES",
                                   "HOSPITAL_HEALTH_CARE", "LOGISTICS_AND_SUPPLY_CHAIN",
                                   "FOOD_PRODUCTION", "RETAIL", "TELECOMMUNICATIONS",
                                   "CONSTRUCTION", "MEDICAL_DEVICES", "ELECTRICAL_ELECTRONIC_MANUFACTURING"};
struct Place {
  const char* country;
  const char* city;
};
const Place kPlaces[] = {{"Germany", "Munich"},       {"Germany", "Hamburg"},
                         {"Germany", "Stuttgart"},    {"United States", "Chicago"},
                         {"United States", "Austin"}, {"United States", "Boston"},
                         {"France", "Lyon"},          {"United Kingdom", "Manchester"},
                         {"Netherlands", "Utrecht"},  {"Switzerland", "Basel"},
                         {"Austria", "Graz"},         {"Sweden", "Gothenburg"},
                         {"Spain", "Valencia"},       {"Italy", "Turin"},
                         {"Poland", "Wroclaw"},       {"Canada", "Toronto"},
                         {"Japan", "Osaka"}};
const char* const kFirst[] = {"Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hugo",
                              "Ines", "Jonas", "Katrin", "Lukas", "Maria", "Noah", "Olivia",
                              "Paul", "Rosa", "Simon", "Tara", "Victor", "Wei", "Yuki", "Amir",
                              "Sofia", "James", "Emma", "Liam", "Chloe", "Mateo", "Nora"};
const char* const kLast[] = {"Schmidt", "Meyer", "Weber", "Fischer", "Wagner", "Becker", "Smith",
                             "Johnson", "Brown", "Martin", "Bernard", "Rossi", "Garcia", "Novak",
                             "Larsen", "Tanaka", "Kowalski", "Dubois", "Jansen", "Keller",
                             "Hoffmann", "Walker", "Lopez", "Nilsson", "Moreau", "Brunner"};
const char* const kExecTitles[] = {"CEO", "CFO", "CTO", "COO", "VP Sales", "VP Procurement",
                                   "Managing Director", "Chief Procurement Officer"};
const char* const kOtherTitles[] = {"Purchasing Manager", "Project Manager", "Engineer",
                                    "Head of Operations", "Controller", "Office Manager",
                                    "Buyer", "IT Administrator", "Product Manager",
                                    "Quality Manager"};
const char* const kProducts[] = {"Service contract", "Framework agreement", "Spare parts",
                                 "Licence renewal", "Expansion", "Pilot project", "Support plan",
                                 "Hardware refresh"};
const char* const kOpenStages[] = {"appointmentscheduled", "qualifiedtobuy",
                                   "presentationscheduled", "decisionmakerboughtin",
                                   "contractsent"};
const char* const kMeetings[] = {"Quarterly business review", "Intro call", "Site visit",
                                 "Roadmap workshop", "Contract negotiation", "Executive dinner"};

json Options(std::initializer_list<const char*> values) {
  json out = json::array();
  int order = 0;
  for (const char* v : values) {
    std::string label = v;
    for (char& c : label) {
      if (c == '_') c = ' ';
    }
    out.push_back({{"label", label}, {"value", v}, {"displayOrder", order++}, {"hidden", false}});
  }
  return out;
}

std::string Slug(const std::string& name) {
  std::string out;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out.push_back(static_cast<char>(std::tolower(u)));
  }
  return out;
}

// Builds a flat JSON object of string values without a DOM: seeding writes ~10 of these per
// company, and nlohmann's DOM + dump dominated the seeding time.
class PropsWriter {
 public:
  PropsWriter& Add(const char* key, std::string_view value) {
    out_ += out_.size() > 1 ? ",\"" : "\"";
    out_ += key;
    out_ += "\":\"";
    for (char c : value) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ += buf;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
    return *this;
  }
  std::string Done() { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

std::string Num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

void Portal::DefineStandardProperties() {
  const int64_t t0 = base_time_ms_ - 3650 * kDay;
  struct G {
    const char* type;
    const char* name;
    const char* label;
  };
  const G groups[] = {{"companies", "companyinformation", "Company information"},
                      {"companies", "erp", "ERP data"},
                      {"contacts", "contactinformation", "Contact information"},
                      {"deals", "dealinformation", "Deal information"},
                      {"tasks", "taskinformation", "Task information"},
                      {"meetings", "meetinginformation", "Meeting information"}};
  int order = 0;
  for (const auto& g : groups) {
    PutGroup(*FindObjectType(g.type),
             {{"name", g.name}, {"label", g.label}, {"displayOrder", order++}, {"archived", false}});
  }
  auto def = [&](const char* type, const char* name, const char* label, const char* ptype,
                 const char* field, const char* group, json options = json::array(),
                 bool read_only = false, bool unique = false, bool owner = false,
                 bool hubspot = true) {
    json create = {{"name", name},     {"label", label},         {"type", ptype},
                   {"fieldType", field}, {"groupName", group},   {"options", options},
                   {"hasUniqueValue", unique}, {"readOnlyValue", read_only}};
    if (owner) {
      create["referencedObjectType"] = "OWNER";
      create["externalOptions"] = true;
    }
    json d = CompletePropertyDef(create, hubspot, t0);
    if (read_only) d["modificationMetadata"]["readOnlyValue"] = true;
    PutProp(*FindObjectType(type), d);
  };
  const json bool_options =
      json::array({{{"label", "Yes"}, {"value", "true"}, {"displayOrder", 0}, {"hidden", false}},
                   {{"label", "No"}, {"value", "false"}, {"displayOrder", 1}, {"hidden", false}}});
  const json lifecycle = Options({"subscriber", "lead", "marketingqualifiedlead",
                                  "salesqualifiedlead", "opportunity", "customer", "evangelist",
                                  "other"});
  for (const auto& t : ObjectTypes()) {
    const std::string group = std::string(t.singular) + "information";
    def(t.name, "hs_object_id", "Record ID", "number", "number", group.c_str(), json::array(),
        true);
    def(t.name, "createdate", "Create date", "datetime", "date", group.c_str(), json::array(),
        true);
    def(t.name, t.modified_prop, "Last modified date", "datetime", "date", group.c_str(),
        json::array(), true);
    def(t.name, "hubspot_owner_id", "Owner", "enumeration", "select", group.c_str(),
        json::array(), false, false, true);
  }
  json industries = json::array();
  for (const char* i : kIndustries) industries.push_back(i);
  json industry_options = json::array();
  for (size_t i = 0; i < industries.size(); ++i) {
    industry_options.push_back({{"label", industries[i]},
                                {"value", industries[i]},
                                {"displayOrder", i},
                                {"hidden", false}});
  }
  const char* c = "companies";
  const char* ci = "companyinformation";
  def(c, "name", "Company name", "string", "text", ci);
  def(c, "domain", "Company domain name", "string", "text", ci);
  def(c, "website", "Website URL", "string", "text", ci);
  def(c, "phone", "Phone number", "string", "phonenumber", ci);
  def(c, "description", "Description", "string", "textarea", ci);
  def(c, "industry", "Industry", "enumeration", "select", ci, industry_options);
  def(c, "annualrevenue", "Annual revenue", "number", "number", ci);
  def(c, "numberofemployees", "Number of employees", "number", "number", ci);
  def(c, "country", "Country/Region", "string", "text", ci);
  def(c, "city", "City", "string", "text", ci);
  def(c, "lifecyclestage", "Lifecycle stage", "enumeration", "radio", ci, lifecycle);
  def(c, "notes_last_contacted", "Last contacted", "datetime", "date", ci);
  def(c, "num_associated_contacts", "Number of associated contacts", "number", "number", ci,
      json::array(), true);
  def(c, "num_associated_deals", "Number of associated deals", "number", "number", ci,
      json::array(), true);
  def(c, "gross_margin_pct", "Gross margin (%)", "number", "number", "erp", json::array(), false,
      false, false, false);
  def(c, "avg_days_to_pay", "Average days to pay", "number", "number", "erp", json::array(),
      false, false, false, false);
  def(c, "nps", "Net promoter score", "number", "number", "erp", json::array(), false, false,
      false, false);
  def(c, "support_tickets_open", "Open support tickets", "number", "number", "erp",
      json::array(), false, false, false, false);
  def(c, "tenure_years", "Customer tenure (years)", "number", "number", "erp", json::array(),
      false, false, false, false);
  const char* k = "contacts";
  const char* ki = "contactinformation";
  def(k, "email", "Email", "string", "text", ki, json::array(), false, true);
  def(k, "firstname", "First name", "string", "text", ki);
  def(k, "lastname", "Last name", "string", "text", ki);
  def(k, "jobtitle", "Job title", "string", "text", ki);
  def(k, "phone", "Phone number", "string", "phonenumber", ki);
  def(k, "company", "Company name", "string", "text", ki);
  def(k, "lifecyclestage", "Lifecycle stage", "enumeration", "radio", ki, lifecycle);
  def(k, "notes_last_contacted", "Last contacted", "datetime", "date", ki);
  const char* d = "deals";
  const char* di = "dealinformation";
  def(d, "dealname", "Deal name", "string", "text", di);
  def(d, "amount", "Amount", "number", "number", di);
  def(d, "dealstage", "Deal stage", "enumeration", "radio", di,
      Options({"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
               "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}));
  def(d, "pipeline", "Pipeline", "enumeration", "select", di, Options({"default"}));
  def(d, "closedate", "Close date", "datetime", "date", di);
  def(d, "dealtype", "Deal type", "enumeration", "radio", di,
      Options({"newbusiness", "existingbusiness"}));
  def(d, "hs_is_closed", "Is deal closed?", "bool", "booleancheckbox", di, bool_options, true);
  def(d, "hs_is_closed_won", "Is closed won", "bool", "booleancheckbox", di, bool_options, true);
  const char* t = "tasks";
  const char* ti = "taskinformation";
  def(t, "hs_timestamp", "Due date", "datetime", "date", ti);
  def(t, "hs_task_subject", "Task title", "string", "text", ti);
  def(t, "hs_task_body", "Task notes", "string", "textarea", ti);
  def(t, "hs_task_status", "Task status", "enumeration", "select", ti,
      Options({"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"}));
  def(t, "hs_task_priority", "Priority", "enumeration", "select", ti,
      Options({"NONE", "LOW", "MEDIUM", "HIGH"}));
  def(t, "hs_task_type", "Task type", "enumeration", "select", ti,
      Options({"EMAIL", "CALL", "TODO", "LINKED_IN"}));
  def(t, "hs_task_reminders", "Reminder", "string", "text", ti);
  def(t, "hs_task_completion_date", "Completed at", "datetime", "date", ti, json::array(), true);
  const char* m = "meetings";
  const char* mi = "meetinginformation";
  def(m, "hs_timestamp", "Activity date", "datetime", "date", mi);
  def(m, "hs_meeting_title", "Meeting name", "string", "text", mi);
  def(m, "hs_meeting_body", "Meeting description", "string", "textarea", mi);
  def(m, "hs_meeting_start_time", "Start time", "datetime", "date", mi);
  def(m, "hs_meeting_end_time", "End time", "datetime", "date", mi);
  def(m, "hs_meeting_outcome", "Meeting outcome", "enumeration", "select", mi,
      Options({"SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"}));
}

void Portal::Seed() {
  SQLite::Transaction tx(*db_);
  SaveMeta("base_time_ms", std::to_string(base_time_ms_));
  SaveMeta("seed", std::to_string(options_.seed));
  DefineStandardProperties();
  // Owners: max(3, N/400), deterministic ids and names.
  owners_ = json::array();
  owner_ids_.clear();
  const int n_owners = std::max(3, options_.accounts / 400);
  Rng rng{Mix(options_.seed, 0x0A11E5)};
  const char* const teams[] = {"North", "South", "West", "Key accounts"};
  for (int i = 0; i < n_owners; ++i) {
    const std::string id = std::to_string(60000000 + i * 1013 + static_cast<int>(rng.Next() % 997));
    const std::string first = kFirst[(i * 7 + 3) % std::size(kFirst)];
    const std::string last = kLast[(i * 11 + 5) % std::size(kLast)];
    const int64_t created = base_time_ms_ - (800 + i) * kDay;
    owners_.push_back({{"id", id},
                       {"email", ToLower(first + "." + last) + std::to_string(i) +
                                     "@kam-sandbox.example"},
                       {"firstName", first},
                       {"lastName", last},
                       {"userId", 1000000 + i},
                       {"userIdIncludingInactive", 1000000 + i},
                       {"type", "PERSON"},
                       {"teams", json::array({{{"id", std::to_string(178000 + i % 4)},
                                               {"name", teams[i % 4]},
                                               {"primary", true}}})},
                       {"createdAt", IsoMs(created)},
                       {"updatedAt", IsoMs(created + 30 * kDay)},
                       {"archived", false}});
    owner_ids_.insert(id);
  }
  SaveMeta("owners", owners_.dump());
  tx.commit();
  SeedCompanies(options_.accounts, 0);
  SaveMeta("seeded", "1");
}

int64_t Portal::SeedCompanies(int count, uint64_t salt) {
  const int64_t first_id = next_id_;
  if (count <= 0) return first_id;
  SQLite::Transaction tx(*db_);
  SQLite::Statement ins(*db_,
                        "INSERT INTO objects(id, type, created_ms, updated_ms, archived, props) "
                        "VALUES (?, ?, ?, ?, 0, ?)");
  SQLite::Statement assoc(*db_,
                          "INSERT OR IGNORE INTO assoc(from_id, to_type, to_id, type_id) "
                          "VALUES (?, ?, ?, ?)");
  auto insert = [&](const char* type, int64_t created, int64_t updated, const std::string& props) {
    const int64_t id = next_id_++;
    ins.bind(1, id);
    ins.bindNoCopy(2, type);
    ins.bind(3, created);
    ins.bind(4, std::max(created, updated));
    ins.bindNoCopy(5, props);
    ins.exec();
    ins.reset();
    return id;
  };
  // Both directions of a default association.
  auto link = [&](int64_t from, const char* from_type, int64_t to, const char* to_type,
                  int type_id, int inverse_id) {
    assoc.bind(1, from);
    assoc.bindNoCopy(2, to_type);
    assoc.bind(3, to);
    assoc.bind(4, type_id);
    assoc.exec();
    assoc.reset();
    assoc.bind(1, to);
    assoc.bindNoCopy(2, from_type);
    assoc.bind(3, from);
    assoc.bind(4, inverse_id);
    assoc.exec();
    assoc.reset();
  };
  const int64_t base = base_time_ms_;
  const uint64_t seed = Mix(options_.seed, salt);
  for (int k = 0; k < count; ++k) {
    Rng r{Mix(seed, static_cast<uint64_t>(k))};
    const std::string owner = owners_[r.Next() % owners_.size()].value("id", "");
    // Pareto(alpha 1.16): about a fifth of the companies carry about 80% of the revenue.
    const double revenue = std::min(4.0e9, 250000.0 / std::pow(1.0 - r.U() * 0.9999, 1.0 / 1.16));
    const double weight = std::min(1.0, std::log10(revenue / 250000.0) / 3.0);  // 0..1
    const std::string name = std::string(r.Pick(kNamePrefix)) + r.Pick(kNameCore) + " " +
                             r.Pick(kLegal);
    const std::string domain = Slug(name) + std::to_string(k + salt * 1000003) + ".example.com";
    const Place& place = r.Pick(kPlaces);
    const int64_t created = base - r.Int(60, 3650) * kDay - r.Int(0, 86399) * 1000LL;
    const int64_t updated = base - r.Int(1, 90) * kDay + r.Int(0, 86399) * 1000LL;
    const int64_t last_contacted = base - static_cast<int64_t>(r.U() * r.U() * 240) * kDay -
                                   r.Int(0, 86399) * 1000LL;
    const double u_stage = r.U();
    const std::string company =
        PropsWriter()
            .Add("name", name)
            .Add("domain", domain)
            .Add("website", "https://www." + domain)
            .Add("industry", r.Pick(kIndustries))
            .Add("annualrevenue", Num(std::round(revenue), 0))
            .Add("numberofemployees",
                 std::to_string(std::max(3, static_cast<int>(revenue / 180000.0 * (0.6 + r.U())))))
            .Add("country", place.country)
            .Add("city", place.city)
            .Add("hubspot_owner_id", owner)
            .Add("lifecyclestage",
                 u_stage < 0.75 ? "customer" : (u_stage < 0.9 ? "opportunity" : "lead"))
            .Add("notes_last_contacted", IsoMs(last_contacted))
            .Add("gross_margin_pct", Num(8 + r.U() * 50 + weight * 8, 1))
            .Add("avg_days_to_pay", std::to_string(r.Int(12, 95)))
            .Add("nps", std::to_string(r.Int(-40, 90)))
            .Add("support_tickets_open", std::to_string(static_cast<int>(r.U() * r.U() * 25)))
            .Add("tenure_years", std::to_string((base - created) / (365 * kDay)))
            .Done();
    const int64_t cid = insert("companies", created, updated, company);

    const int n_contacts = 1 + static_cast<int>(r.U() * 2.5 + weight * 3.0);
    for (int j = 0; j < n_contacts; ++j) {
      const char* first = r.Pick(kFirst);
      const char* last = r.Pick(kLast);
      const bool exec = r.U() < 0.25 + weight * 0.15;
      const int64_t c_created = created + r.Int(0, 30) * kDay;
      // A skewed recency: many contacts were active recently, some long ago.
      const int64_t active = base - static_cast<int64_t>(std::pow(r.U(), 2.0) * 400) * kDay -
                             r.Int(0, 86399) * 1000LL;
      const std::string email = ToLower(std::string(first) + "." + last) + "." +
                                std::to_string(next_id_) + "@" + domain;
      const std::string contact =
          PropsWriter()
              .Add("email", email)
              .Add("firstname", first)
              .Add("lastname", last)
              .Add("jobtitle", exec ? r.Pick(kExecTitles) : r.Pick(kOtherTitles))
              .Add("company", name)
              .Add("lifecyclestage", "customer")
              .Add("hubspot_owner_id", owner)
              .Add("notes_last_contacted", IsoMs(std::max(active, c_created)))
              .Done();
      const int64_t id = insert("contacts", c_created, active, contact);
      link(id, "contacts", cid, "companies", 279, 280);
    }

    const int n_won = static_cast<int>(r.U() * 2.0 + weight * 3.0);
    const int n_open = static_cast<int>(r.U() * 1.5 + weight * 1.5);
    const int n_lost = r.U() < 0.25 ? 1 : 0;
    for (int j = 0; j < n_won + n_open + n_lost; ++j) {
      const bool won = j < n_won;
      const bool open = !won && j < n_won + n_open;
      const double amount = std::round(revenue * (0.03 + r.U() * 0.15));
      const int64_t close = open ? base + r.Int(5, 180) * kDay
                                 : base - r.Int(1, 730) * kDay + r.Int(0, 86399) * 1000LL;
      const int64_t d_created = std::max(created, close - r.Int(20, 200) * kDay);
      const std::string deal =
          PropsWriter()
              .Add("dealname", name + " - " + r.Pick(kProducts))
              .Add("amount", Num(amount, 0))
              .Add("dealstage", won ? "closedwon" : (open ? r.Pick(kOpenStages) : "closedlost"))
              .Add("pipeline", "default")
              .Add("closedate", IsoMs(close))
              .Add("dealtype", j == 0 ? "newbusiness" : "existingbusiness")
              .Add("hubspot_owner_id", owner)
              .Add("hs_is_closed", open ? "false" : "true")
              .Add("hs_is_closed_won", won ? "true" : "false")
              .Done();
      const int64_t updated_deal = open ? base - r.Int(1, 30) * kDay : close;
      const int64_t id = insert("deals", d_created, updated_deal, deal);
      link(id, "deals", cid, "companies", 341, 342);
    }

    const int n_meetings = static_cast<int>(r.U() * 2.5 + weight * 1.5);
    for (int j = 0; j < n_meetings; ++j) {
      const int64_t at = base - static_cast<int64_t>(std::pow(r.U(), 1.5) * 365) * kDay -
                         r.Int(8, 17) * 3600000LL;
      const std::string meeting = PropsWriter()
                                      .Add("hs_timestamp", IsoMs(at))
                                      .Add("hs_meeting_title", r.Pick(kMeetings))
                                      .Add("hs_meeting_start_time", IsoMs(at))
                                      .Add("hs_meeting_end_time", IsoMs(at + 3600000))
                                      .Add("hs_meeting_outcome", "COMPLETED")
                                      .Add("hubspot_owner_id", owner)
                                      .Done();
      const int64_t id = insert("meetings", at, at, meeting);
      link(id, "meetings", cid, "companies", 188, 187);
    }

    if (r.U() < 0.1) {  // a task a person created by hand (not the add-in's)
      const int64_t due = base + r.Int(1, 20) * kDay;
      const std::string task = PropsWriter()
                                   .Add("hs_timestamp", IsoMs(due))
                                   .Add("hs_task_subject", "Follow up on the open quote")
                                   .Add("hs_task_body", "Call " + name + " about the quote.")
                                   .Add("hs_task_status", "NOT_STARTED")
                                   .Add("hs_task_priority", "MEDIUM")
                                   .Add("hs_task_type", "CALL")
                                   .Add("hubspot_owner_id", owner)
                                   .Done();
      const int64_t id = insert("tasks", base - r.Int(1, 10) * kDay, base - kDay, task);
      link(id, "tasks", cid, "companies", 192, 191);
    }
  }
  // Unique e-mails in one sorted pass: far cheaper than a random-order insert per contact.
  SQLite::Statement uniq(*db_,
                         "INSERT OR REPLACE INTO uniq(type, name, value, id) "
                         "SELECT 'contacts', 'email', json_extract(props, '$.email'), id "
                         "FROM objects WHERE type = 'contacts' AND id >= ? "
                         "ORDER BY json_extract(props, '$.email')");
  uniq.bind(1, first_id);
  uniq.exec();
  tx.commit();
  return first_id;
}

}  // namespace kam::sandbox
