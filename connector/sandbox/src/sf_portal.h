// The Salesforce flavour of the sandbox: an in-memory org with sObject schemas (describe
// metadata, picklists, references, custom fields added through the Tooling API), records with
// 18-character ids, typed values and Salesforce's write rules (required fields, restricted
// picklists, lengths, references, external ids), SOQL execution (sf_query.cc) and seeding from
// the HubSpot sandbox's generator, so a seed gives the same companies, owners and facts in both.
#ifndef KAM_SANDBOX_SRC_SF_PORTAL_H_
#define KAM_SANDBOX_SRC_SF_PORTAL_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "internal.h"
#include "kam/sandbox/sandbox_server.h"

namespace kam::sandbox {
class Portal;
}

namespace kam::sandbox::sf {

// A Salesforce error: becomes [{message, errorCode, fields}] with `status` for whole requests,
// or {statusCode, message, fields} inside a collection result.
struct SfError {
  int status = 400;
  std::string code;
  std::string message;
  std::vector<std::string> fields;
};

struct PickValue {
  std::string value;
  std::string label;
  bool active = true;
  bool is_default = false;
};

struct Field {
  std::string name;
  std::string label;
  std::string type;  // describe type: id string textarea picklist reference boolean double ...
  int length = 0, precision = 0, scale = 0, digits = 0;
  bool custom = false, nillable = true, createable = true, updateable = true;
  bool calculated = false, external_id = false, unique = false, id_lookup = false;
  bool defaulted_on_create = false, restricted_picklist = false;
  std::vector<PickValue> picklist;
  std::vector<std::string> reference_to;
  std::string relationship_name;
  json default_value = nullptr;
  std::string custom_field_id;  // 00N… for custom fields (Tooling CustomField record)
  // Field-level security: a hidden field is invisible to the API user (describe, SOQL, reads,
  // writes), as when the integration user's profile lacks read access to it.
  bool hidden = false;
};

struct Object {
  std::string name, label, label_plural, key_prefix;
  bool custom = false;
  bool tooling = false;  // served under /tooling only
  bool createable = true, updateable = true, deletable = true;
  std::vector<Field> fields;
  std::map<std::string, size_t> index;  // lower-case name -> fields position
  uint64_t next_id = 1;
  std::map<std::string, json> records;  // 18-char id -> record (canonical names, typed values)

  // A field visible to the API user (nullptr when unknown or hidden by field-level security).
  const Field* Find(std::string_view name) const;
  // Any field, hidden ones too.
  Field* FindAny(std::string_view name);
  // The reference field whose relationshipName is `rel` (case-insensitive), or nullptr.
  const Field* FindRelationship(std::string_view rel) const;
  void AddField(Field f);
};

// --- ids ---
// 18-character id: prefix (3) + pod "Kd" + "0" + base62 n (9) + case checksum (3).
std::string MakeId(std::string_view prefix, uint64_t n);
// Canonical 18-character form of a 15- or 18-character id (case restored from the checksum of
// an 18-character one); nullopt when malformed.
std::optional<std::string> NormalizeId(std::string_view id);

struct QueryPage {
  std::vector<json> records;  // projected, with attributes
  int64_t total = 0;
};

class Org {
 public:
  explicit Org(const SandboxOptions& options);
  ~Org();

  void Reset();
  // Adds `count` seeded companies (accounts with contacts, opportunities, events, tasks); returns
  // the id of the first new account (empty when count is 0).
  std::string AddCompanies(int count, uint64_t salt);

  const std::string& org_id() const { return org_id_; }
  const std::string& api_user_id() const { return api_user_id_; }
  int64_t base_time_ms() const { return base_time_ms_; }

  Object* FindObject(std::string_view name, bool tooling);
  const std::vector<std::unique_ptr<Object>>& objects() const { return objects_; }
  // The object an id belongs to (by key prefix), or nullptr.
  Object* ObjectOfId(std::string_view id18);

  // --- records ---
  // nullptr when absent. Deleted records are returned too (IsDeleted true).
  const json* Get(const Object& o, const std::string& id18) const;
  // Validates and writes; throws SfError. Returns the new id.
  std::string Create(Object& o, const json& fields, int64_t now_ms);
  void Update(Object& o, const std::string& id18, const json& fields, int64_t now_ms,
              bool by_person = false);
  void Delete(Object& o, const std::string& id18, int64_t now_ms);
  // Ids of live records whose external-id field equals value (case-insensitive).
  std::vector<std::string> FindByExternalId(const Object& o, const Field& f,
                                            const std::string& value) const;
  // Sets SystemModstamp (and LastModifiedDate) of records: the listed ids, else the first
  // `count` by id (0 = all).
  int64_t Touch(Object& o, const std::vector<std::string>& ids, int64_t count, int64_t ms);

  // Undo log for allOrNone collections: Begin, then Rollback or Commit.
  void BeginTransaction();
  void Rollback();
  void Commit();

  // --- JSON views ---
  json RecordJson(const Object& o, const json& record, const std::vector<std::string>* fields,
                  const std::string& version) const;
  json Describe(const Object& o, const std::string& version) const;
  json DescribeGlobal(const std::string& version, bool tooling) const;

  // --- SOQL (sf_query.cc) ---
  // Runs a query; throws SfError (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, …).
  QueryPage Query(const std::string& soql, bool include_deleted, bool tooling,
                  const std::string& version, int64_t now_ms);

  // --- Tooling CustomField ---
  // Creates a custom field from {FullName, Metadata}; returns the 00N… id.
  std::string CreateCustomField(const json& body, int64_t now_ms);
  void UpdateCustomField(const std::string& id18, const json& body, int64_t now_ms);
  void DeleteCustomField(const std::string& id18, int64_t now_ms);

  // Field-level security for tests: hide or show "Object.Field" names; when hide_new is set,
  // custom fields created later start hidden (as in an org where the integration user's
  // profile gets no access to new fields). Throws SfError for unknown names.
  void SetFieldSecurity(const std::vector<std::string>& hide, const std::vector<std::string>& show);
  bool hide_new_fields = false;

  // The org's Task Status values (the TaskStatus records and the Task.Status picklist), as an
  // admin edits them in Setup: `closed` are the values that close a task (IsClosed), `def` the
  // default. A task's IsClosed follows its status's TaskStatus record.
  void SetTaskStatuses(const std::vector<std::string>& values, const std::string& def,
                       const std::set<std::string>& closed, int64_t now_ms);
  // Whether a task with this Status is closed (its TaskStatus record's IsClosed).
  bool TaskStatusClosed(const std::string& status) const;

 private:
  void Build();
  void DefineSchema();
  void Seed();
  void Put(Object& o, const std::string& id18, json record);  // keeps indexes
  void Erase(Object& o, const std::string& id18);
  void IndexRecord(const Object& o, const std::string& id18, const json& record, bool add);
  json Normalize(const Object& o, const json& fields, bool create) const;
  void Derive(Object& o, json& record) const;
  Field FieldFromMetadata(const std::string& name, const json& metadata) const;
  json CustomFieldRecord(const Object& table, const Field& f, const json& metadata,
                         int64_t now_ms) const;
  std::string NewId(Object& o);

  friend class QueryRunner;
  friend class Seeder;

  SandboxOptions options_;
  int64_t base_time_ms_ = 0;
  std::string org_id_;
  std::string api_user_id_;
  std::vector<std::unique_ptr<Object>> objects_;
  std::map<std::string, Object*> by_name_;    // lower-case name -> object (REST)
  std::map<std::string, Object*> by_prefix_;  // key prefix -> object
  // (object, field) -> value (lower-case) -> ids: reference fields and external ids.
  std::map<std::pair<const Object*, std::string>,
           std::unordered_map<std::string, std::set<std::string>>>
      indexes_;
  std::map<std::string, std::string> owner_to_user_;  // HubSpot owner id -> User id
  bool in_tx_ = false;
  std::vector<std::tuple<Object*, std::string, std::optional<json>>> undo_;
  std::unique_ptr<kam::sandbox::Portal> generator_;  // the HubSpot portal the data is seeded from
  uint64_t salt_ = 0;
};

// Salesforce's Industry value for a HubSpot industry enum value (one to one).
std::string SfIndustry(const std::string& hubspot_value);

}  // namespace kam::sandbox::sf

#endif  // KAM_SANDBOX_SRC_SF_PORTAL_H_
