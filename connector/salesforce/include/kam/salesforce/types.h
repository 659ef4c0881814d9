// Plain data the Salesforce adapter takes and returns: typed field values and records, the pull
// cursor and pages, per-record write outcomes, the aggregated facts rule files read (the same
// names as the HubSpot adapter), task specs, the provisioning report, and API usage.
#ifndef KAM_SALESFORCE_TYPES_H_
#define KAM_SALESFORCE_TYPES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kam/http/crm_facts.h"
#include "kam/salesforce/status.h"

namespace kam::salesforce {

// A Salesforce field value: JSON-typed (CRM_API B1). Dates and datetimes are strings as sent
// ("2024-05-10", "2024-05-01T10:00:00.000+0000"); kNull clears a field on write.
struct Value {
  enum class Kind { kNull, kString, kNumber, kBool };
  Kind kind = Kind::kNull;
  std::string text;
  double number = 0;
  bool boolean = false;

  static Value Null() { return {}; }
  static Value String(std::string s) { return {Kind::kString, std::move(s), 0, false}; }
  static Value Number(double d) { return {Kind::kNumber, {}, d, false}; }
  static Value Bool(bool b) { return {Kind::kBool, {}, 0, b}; }
  bool is_null() const { return kind == Kind::kNull; }
  bool operator==(const Value&) const = default;
};

// Field API name (canonical case, as Salesforce answers) -> value.
using Fields = std::map<std::string, Value>;

// One record of any sObject. Nested parent fields ("Owner.Name") are flattened with dots.
struct Record {
  std::string type;  // attributes.type, e.g. "Account"
  std::string id;    // 18-character id
  Fields fields;     // every returned field except attributes (Id included)

  // The field as text (numbers and booleans formatted), nullopt when absent or null.
  std::optional<std::string> Text(const std::string& name) const;
  std::optional<double> Number(const std::string& name) const;
  bool IsDeleted() const;  // IsDeleted = true (queryAll)
};

// Position of an incremental pull: every account up to (SystemModstamp, Id) has been read.
// Resuming starts `PullOptions::overlap_ms` before it, so it is safe to commit with a page.
struct Cursor {
  int64_t modstamp_ms = 0;  // SystemModstamp in epoch ms; 0 = never pulled (a full pull)
  std::string id;           // Id of the last account read at modstamp_ms
};

struct AccountPage {
  std::vector<Record> accounts;          // live accounts, in (SystemModstamp, Id) order
  std::vector<std::string> deleted_ids;  // accounts in the recycle bin or merged away
  Cursor cursor;                         // where a resumed pull may continue after this page
  int64_t page_number = 0;               // 1-based
  int64_t total_hint = -1;               // totalSize of the current query window
  int64_t duplicates_skipped = 0;        // re-read in the overlap and left out
};

// Called for every page; a non-ok Status stops the pull and is returned by it.
using PageCallback = std::function<Status(const AccountPage& page)>;

struct PullOptions {
  // Account fields to read besides Id, OwnerId, SystemModstamp (and IsDeleted).
  std::vector<std::string> fields;
  // A resumed or incremental pull starts this much before the cursor: a transaction that
  // commits late can show a SystemModstamp older than records already read.
  int64_t overlap_ms = 5 * 60 * 1000;
  // Records per query window (LIMIT); the next window starts after the last (SystemModstamp,
  // Id) read, so query locators never live long. Pages inside a window follow nextRecordsUrl.
  int window_records = 50'000;
  // Sforce-Query-Options batchSize (200..2,000; a hint the server may lower).
  int batch_size = 2000;
  // Read deleted accounts too (queryAll + IsDeleted) and report them in deleted_ids.
  bool include_deleted = true;
  // > 0: only records with SystemModstamp at or before this time (whole seconds).
  int64_t until_ms = 0;
};

struct PullSummary {
  int64_t pages = 0;
  int64_t accounts = 0;  // live accounts delivered
  int64_t deleted = 0;   // deleted ids delivered
  int64_t duplicates_skipped = 0;
  int64_t queries = 0;  // query windows started (each may have several pages)
  Cursor cursor;        // final cursor
};

// ---- Writes ----------------------------------------------------------------------------------

struct RecordUpdate {
  std::string id;
  Fields fields;  // Value::Null() clears
};

// The outcome of one record of a collection call; `error` set when it failed.
struct RecordOutcome {
  std::string id;  // the input id (or, for tasks, the task key)
  std::optional<Error> error;
  bool ok() const { return !error.has_value(); }
};

struct WriteResult {
  std::vector<RecordOutcome> records;  // one per input, in input order
  int64_t calls = 0;                   // HTTP calls made
  bool all_ok() const;
  int64_t failed() const;
};

// ---- Facts -----------------------------------------------------------------------------------

// A fact value (null, number, bool), the type both CRM adapters produce.
using FactValue = kam::http::facts::FactValue;

struct FactsRequest {
  std::vector<std::string> account_ids;
  std::vector<std::string> fields;   // Account fields to read by name
  std::set<std::string> aggregates;  // names of kam/http/crm_facts.h; unknown ones are an error
  int64_t now_ms = 0;                // "now" for the 12/24-month and 90-day windows (required)
};

struct AccountFacts {
  std::string id;
  Fields fields;                                // the requested fields
  std::map<std::string, FactValue> aggregates;  // exactly the requested aggregate names
};

struct FactsResult {
  std::vector<AccountFacts> accounts;  // in request order; unknown accounts left out
  std::vector<std::string> missing;    // ids Salesforce did not return (deleted, no access)
  int64_t queries = 0;                 // SOQL queries run (pages not counted)
};

// One Opportunity, Contact or Event reduced to what the aggregates read, exactly as ReadFacts
// queries read it, for the engine's incremental facts (it stores these and aggregates them
// itself with the windows of kam/http/crm_facts.h, as of the end of the run's UTC day).
struct FactInput {
  std::string account_id;  // AccountId ("" = linked to no account)
  double amount = 0;       // Opportunity: Amount (0 when null)
  // Opportunity: CloseDate at 00:00 UTC (a date: ReadFacts compares dates, and "> today-365 d"
  // over dates is "at 00:00 > the end of that day" over times). Contact: the later of
  // LastModifiedDate and the end (23:59:59.999 UTC) of LastActivityDate's day (ReadFacts
  // counts that day in). Event: ActivityDateTime. nullopt when none.
  std::optional<int64_t> at_ms;
  bool won = false;        // Opportunity: IsWon
  bool closed = false;     // Opportunity: IsClosed
  bool executive = false;  // Contact: an executive Title (facts::IsExecutiveTitle)
};
// The fields FactInputOf reads of "Opportunity", "Contact" or "Event" (empty for others).
const std::vector<std::string>& FactFieldsOf(const std::string& sobject);
FactInput FactInputOf(const std::string& sobject, const Record& record);

// ---- Tasks -----------------------------------------------------------------------------------

// A task the add-in wants, identified by its idempotency key (KAM_Task_Key__c).
struct TaskSpec {
  std::string key;
  std::string account_id;  // WhatId
  std::string owner_id;    // OwnerId: the account's owner ("" = the API user)
  std::string subject;
  std::string description;
  std::string status = "Not Started";
  std::string priority = "Normal";  // High, Normal, Low (org picklist values)
  std::string due_date;             // ActivityDate "YYYY-MM-DD"; "" = none
  // Whether a task with this key may exist already (an earlier write with unknown outcome, or
  // unknown history): then the key is queried first and an existing task left as it is.
  bool in_doubt = true;
};

// The org's Task Status values (TaskStatus records: orgs rename and add values, and several
// may close a task — CRM_API B8), in the org's order.
struct TaskStatusValue {
  std::string value;  // what Task.Status holds (ApiName, else MasterLabel)
  std::string label;  // MasterLabel
  bool closed = false;
  bool is_default = false;
};
struct TaskStatuses {
  std::vector<TaskStatusValue> values;
  // For new tasks: the default value when it is open, else the first open value.
  std::string open = "Not Started";
  // For auto-close: "Completed" when it closes a task, else the first closing value.
  std::string completed = "Completed";
  // Read from the org (false: it lists none or refused the query; the defaults above).
  bool from_org = false;
};
// Picks open/completed from `values` (kept as they are); the defaults when none qualifies.
TaskStatuses ChooseTaskStatuses(std::vector<TaskStatusValue> values);

enum class TaskKeyMode {
  kAuto,         // describe Task once: KAM_Task_Key__c with externalId -> kUpsert
  kUpsert,       // PATCH /composite/sobjects/Task/KAM_Task_Key__c (safe to repeat)
  kQueryInsert,  // query by key, POST /composite/sobjects only what is missing
};
const char* ToString(TaskKeyMode mode);

struct TaskOutcome {
  std::string key;
  std::string task_id;   // empty when failed
  bool created = false;  // false = existed already (left as found)
  std::optional<Error> error;
  bool linked = false;  // an existing task had no WhatId and was linked to its account now
};

struct TaskWriteResult {
  std::vector<TaskOutcome> tasks;  // one per input spec, in input order
  TaskKeyMode mode_used = TaskKeyMode::kAuto;
  bool all_ok() const;
};

// ---- Provisioning ----------------------------------------------------------------------------

struct TierValue {
  std::string value;  // picklist API value = the rule file's tier id, e.g. "key"
  std::string label;  // "Key account"
};

// One Account field the add-in writes.
struct FieldSpec {
  enum class Type { kNumber, kText, kLongText, kPicklist, kDateTime, kCheckbox, kRichText };
  std::string name;  // API name, e.g. "KAM_Score__c"
  std::string label;
  Type type = Type::kText;
  int precision = 18, scale = 0;  // kNumber
  int length = 255;               // kText (<= 255), kLongText, kRichText (256..131072)
  std::vector<TierValue> values;  // kPicklist
  std::string description;
};

struct ProvisionSpec {
  std::vector<TierValue> tiers;  // values of KAM_Tier__c, in display order
  // Create KAM_Task_Key__c as an External ID (unique) when the org allows it.
  bool try_external_id_task_key = true;
  // The Account fields; empty = the add-in's six (KAM_Score__c Number(5,1), KAM_Tier__c
  // picklist of `tiers`, KAM_Breakdown__c, KAM_Next_Tier_Hint__c, KAM_Rules_Version__c,
  // KAM_Scored_At__c). KAM_Task_Key__c on Task is always added last.
  std::vector<FieldSpec> account_fields;
};

struct ProvisionItem {
  enum class Outcome { kCreated, kUnchanged, kUpdated, kConflict, kFailed };
  std::string object;  // "Account", "Task"
  std::string field;   // "KAM_Score__c"
  Outcome outcome = Outcome::kUnchanged;
  std::string detail;  // why (e.g. "exists as string, the add-in needs double")
};
const char* ToString(ProvisionItem::Outcome outcome);

// A picklist field's values as describe shows them.
struct PicklistValues {
  std::vector<std::string> values;  // the active values, in the org's order
  std::string default_value;        // "" when none
};

struct ProvisionReport {
  std::vector<ProvisionItem> items;
  bool task_key_external_id = false;  // KAM_Task_Key__c is an External ID (upsert possible)
  // VerifyFields: the scale describe shows for each Number field of the spec (API name as
  // specified -> decimals the org keeps; Salesforce rounds what is written to it).
  std::map<std::string, int> number_scales;
  // VerifyFields: Task Priority's picklist (orgs rename and add values: CRM_API B8).
  PicklistValues task_priority;
  bool changed() const;
  bool has_conflicts() const;  // conflicts or failures
};

// ---- Limits and usage ------------------------------------------------------------------------

struct ApiLimits {
  int64_t daily_max = -1;        // DailyApiRequests.Max
  int64_t daily_remaining = -1;  // DailyApiRequests.Remaining
};

struct ApiUsage {
  int64_t requests = 0;  // HTTP attempts, retries included
  int64_t retries = 0;
  int64_t failed = 0;          // calls that ended in an error
  int64_t quota_refusals = 0;  // calls not sent to keep the daily reserve
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
  int64_t daily_limit = -1;      // from Sforce-Limit-Info; -1 unknown
  int64_t daily_remaining = -1;  // estimate; -1 unknown
  int64_t token_requests = 0;    // OAuth token calls
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double latency_p99_ms = 0;
};

}  // namespace kam::salesforce

#endif  // KAM_SALESFORCE_TYPES_H_
