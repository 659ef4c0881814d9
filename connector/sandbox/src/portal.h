// The sandbox's CRM state: records, property definitions, groups, associations and owners in
// SQLite (one connection; the caller serialises access), plus HubSpot's value rules (types,
// options, read-only and unique properties) and the search-to-SQL translation.
#ifndef KAM_SANDBOX_SRC_PORTAL_H_
#define KAM_SANDBOX_SRC_PORTAL_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "internal.h"
#include "kam/sandbox/sandbox_server.h"

namespace kam::sandbox {

struct PropDef {
  json def;  // as GET /crm/v3/properties/{type}/{name} returns it
  std::string name, type, field_type;
  bool unique = false;
  bool read_only = false;
  bool hubspot_defined = false;
  bool owner_ref = false;  // values are owner ids (hubspot_owner_id)
  bool archived = false;   // def["archived"], kept apart: Prop() runs for every value served
  std::set<std::string> options;
};

struct Record {
  int64_t id = 0;
  const ObjectType* type = nullptr;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  bool archived = false;
  int64_t archived_ms = 0;
  json props = json::object();  // name -> string (never null)
};

// One association type between two object types (CRM_API A9).
struct AssocType {
  const char* from;
  const char* to;
  int type_id;
  int inverse_id;
  const char* label;  // null for unlabelled defaults
};
// The default (unlabelled) type from -> to, or nullptr when the pair is not associable.
const AssocType* DefaultAssoc(const ObjectType& from, const ObjectType& to);
// Any known type id from -> to (default or primary), or nullptr.
const AssocType* FindAssoc(const ObjectType& from, const ObjectType& to, int type_id);

struct AssocEdge {
  int64_t to_id;
  int type_id;
};

class Portal {
 public:
  // Opens the database (":memory:" when db_path is empty) and loads or seeds it.
  explicit Portal(const SandboxOptions& options);

  const SandboxOptions& options() const { return options_; }
  int64_t base_time_ms() const { return base_time_ms_; }

  // Drops everything and seeds again from the options.
  void Reset();
  // Adds `count` seeded companies (with contacts, deals, meetings); returns the first new id.
  int64_t SeedCompanies(int count, uint64_t salt);

  // --- property definitions ---
  const PropDef* Prop(const ObjectType& t, const std::string& name) const;
  const std::map<std::string, PropDef, std::less<>>& Props(const ObjectType& t) const;
  void PutProp(const ObjectType& t, const json& def);  // insert or replace
  void DeleteProp(const ObjectType& t, const std::string& name);
  json Groups(const ObjectType& t) const;  // array
  std::optional<json> Group(const ObjectType& t, const std::string& name) const;
  void PutGroup(const ObjectType& t, const json& group);
  void DeleteGroup(const ObjectType& t, const std::string& name);

  // --- owners ---
  const json& owners() const { return owners_; }
  bool IsOwner(const std::string& id) const;

  // --- records ---
  std::optional<Record> Load(int64_t id) const;  // archived ones too
  std::optional<Record> LoadOfType(const ObjectType& t, int64_t id, bool archived) const;
  // Whether a record of type t with that archived state exists (its properties are not read).
  bool Exists(const ObjectType& t, int64_t id, bool archived) const;
  std::optional<int64_t> FindUnique(const ObjectType& t, const std::string& prop,
                                    const std::string& value) const;
  // Validates and normalises a properties map for a write. Returns name -> string, or null to
  // clear. Throws ApiError (400 VALIDATION_ERROR) listing every bad property.
  json Normalize(const ObjectType& t, const json& properties, bool by_admin) const;
  // Throws ApiError 409 when a unique value is taken by another record.
  void CheckUnique(const ObjectType& t, const json& changes, int64_t self_id) const;
  Record Insert(const ObjectType& t, const json& changes, int64_t now_ms);
  void Update(Record& r, const json& changes, int64_t now_ms);
  bool Archive(const ObjectType& t, int64_t id, int64_t now_ms);
  // Sets updated_ms on records of a type (all, or the first `count` by id when count > 0).
  int64_t Touch(const ObjectType& t, int64_t count, const std::vector<int64_t>& ids,
                int64_t updated_ms);

  // --- associations ---
  void Associate(int64_t from_id, const ObjectType& from, int64_t to_id, const ObjectType& to,
                 int type_id);  // stores both directions
  void Dissociate(int64_t from_id, int64_t to_id);
  // Edges from -> records of type `to`, ordered by to_id, starting after `after_to_id`.
  std::vector<AssocEdge> Edges(int64_t from_id, const ObjectType& to, int64_t after_to_id,
                               int limit) const;
  int64_t CountEdges(int64_t from_id, const ObjectType& to) const;

  // --- listing and search ---
  std::vector<Record> List(const ObjectType& t, bool archived, int64_t after_id, int limit) const;
  struct SearchResult {
    int64_t total = 0;
    std::vector<Record> records;
  };
  // body is the parsed search request; throws ApiError 400 for bad filters or sorts.
  SearchResult Search(const ObjectType& t, const json& body, int64_t offset, int limit) const;
  std::vector<Record> AllOfType(const ObjectType& t, bool include_archived) const;

  SQLite::Database& db() { return *db_; }

  // Makes every write until its end one SQLite transaction: one commit per API request instead
  // of one per statement (a commit of the in-memory database walks its whole page cache, so a
  // batch of 100 updates paid that walk a few hundred times). Nested scopes join the outer one.
  // The writes are committed whatever happens in between, as statements in autocommit were.
  class WriteScope {
   public:
    explicit WriteScope(Portal& portal);
    ~WriteScope();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

   private:
    Portal& portal_;
    bool owner_ = false;
  };

 private:
  void CreateSchema();
  void CreateIndexes();
  void Seed();
  void SaveMeta(const std::string& key, const std::string& value);
  std::optional<std::string> LoadMeta(const std::string& key) const;
  void LoadDefinitions();
  void DefineStandardProperties();
  Record RowToRecord(SQLite::Statement& q) const;
  // A prepared statement for `sql` (a string literal: the cache is keyed by its address),
  // reset with its bindings cleared. Hand it to a StatementUse so that it is reset after use:
  // a statement left stepping keeps its read transaction open and delays every commit.
  SQLite::Statement& Cached(const char* sql) const;
  struct StatementUse {
    SQLite::Statement& q;
    explicit StatementUse(SQLite::Statement& s) : q(s) {}
    ~StatementUse() {
      try {
        q.reset();
      } catch (...) {
      }
    }
  };
  void WriteUnique(const ObjectType& t, const json& before, const json& after, int64_t id);

  SandboxOptions options_;
  int64_t base_time_ms_ = 0;
  std::unique_ptr<SQLite::Database> db_;
  int64_t next_id_ = 10001;
  // type name -> name -> def (transparent: lookups by const char* allocate nothing)
  std::map<std::string, std::map<std::string, PropDef, std::less<>>, std::less<>> props_;
  // Prepared statements by the address of their SQL text (see Cached()).
  mutable std::map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
  json owners_ = json::array();
  std::set<std::string> owner_ids_;
  uint64_t seed_salt_ = 0;

  friend class Seeder;
};

// Property definition JSON with every response field (CRM_API A11), from a create request.
json CompletePropertyDef(const json& create, bool hubspot_defined, int64_t now_ms);
PropDef ToPropDef(const json& def);
// Valid type/fieldType pair (A11); empty string if fine, else the reason.
std::string CheckTypeFieldType(const std::string& type, const std::string& field_type);

}  // namespace kam::sandbox

#endif  // KAM_SANDBOX_SRC_PORTAL_H_
