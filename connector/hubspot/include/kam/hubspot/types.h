// Plain data the HubSpot adapter returns and takes: CRM records, pull cursors and pages, batch
// write outcomes, owners, account details, the aggregated facts rule files read, task specs and
// the provisioning report. Property values stay strings, as HubSpot sends them (CRM_API A1).
#ifndef KAM_HUBSPOT_TYPES_H_
#define KAM_HUBSPOT_TYPES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kam/hubspot/status.h"

namespace kam::hubspot {

// Property name -> value; nullopt = requested but empty (HubSpot's null).
using Properties = std::map<std::string, std::optional<std::string>>;

// One CRM record (company, contact, deal, task, meeting).
struct CrmObject {
  std::string id;  // numeric string, e.g. "512"
  Properties properties;
  std::string created_at;   // ISO 8601 as sent
  std::string updated_at;   // ISO 8601 as sent
  std::string archived_at;  // empty unless archived
  bool archived = false;
  // Set by batch upsert: true when the record was created, false when updated.
  std::optional<bool> is_new;

  // The value of `name`, or nullopt when absent or null.
  std::optional<std::string> Get(const std::string& name) const;
  // hs_lastmodifieddate (or lastmodifieddate for contacts) in epoch ms, else updated_at;
  // -1 when neither parses.
  int64_t ModifiedMs() const;
};

// Position of an incremental pull: every company modified before `modified_ms` has been read,
// and so have those at exactly `modified_ms` (the next pull re-reads that millisecond and the
// overlap window before it anyway). `id` is the highest id read at `modified_ms`; informative.
struct Cursor {
  int64_t modified_ms = 0;  // epoch ms (hs_lastmodifieddate); 0 = never pulled
  std::string id;
};

// One page of a pull, handed to the caller's callback; the engine commits it in one
// transaction together with `cursor`.
struct CompanyPage {
  std::vector<CrmObject> companies;  // de-duplicated within the run
  Cursor cursor;                     // where a resumed pull may start after this page
  int64_t page_number = 0;           // 1-based
  int64_t total_hint = -1;           // search `total` of the current query window, -1 unknown
  int64_t duplicates_skipped = 0;    // records already delivered in this run (this page)
  // Full pull only: the list's paging token after this page ("" on the last page). A pull
  // resumed with PullOptions::resume_after = this token continues with the next page.
  std::string after;
};

// Called for every page; a non-ok Status stops the pull and is returned by the pull.
using PageCallback = std::function<Status(const CompanyPage& page)>;

struct PullOptions {
  std::vector<std::string> properties;  // company properties to read (besides the always-returned)
  int64_t overlap_ms = 5 * 60 * 1000;   // incremental: start this much before the cursor
  int search_page_size = 200;           // 1..200
  int list_page_size = 100;             // 1..100
  // Full pull only: the cursor to report at the end (the time the pull started, by the caller's
  // clock; 0 = the largest hs_lastmodifieddate seen).
  int64_t started_at_ms = 0;
  // Full pull only: continue after this paging token (a CompanyPage::after of an interrupted
  // pull) instead of starting from the first page; "" = from the start.
  std::string resume_after;
  // Incremental pulls: > 0 = only records modified at or before this time (LTE), so that a
  // record dated in the future is read once its time has passed, not by every pull before.
  int64_t until_ms = 0;
};

struct PullSummary {
  int64_t pages = 0;
  int64_t companies = 0;           // delivered (after de-duplication)
  int64_t duplicates_skipped = 0;  // re-read because of overlap / window restarts
  int64_t queries = 0;             // search queries started (windows)
  int64_t id_split_windows = 0;    // windows split by id because >10,000 shared one timestamp
  Cursor cursor;                   // final cursor
  bool resumed = false;            // full pull: continued from PullOptions::resume_after
};

// Outcome of one record in a batch write.
struct RecordError {
  std::string id;  // the input id (or task key) the error is about; empty if the CRM named none
  Error error;
};

struct BatchWriteResult {
  std::vector<CrmObject> written;    // the CRM's echo of each successful record
  std::vector<RecordError> failed;   // per-record failures (207 or a failed chunk)
  int64_t calls = 0;                 // HTTP calls made
  bool all_ok() const { return failed.empty(); }
};

struct BatchReadResult {
  std::vector<CrmObject> found;
  std::vector<std::string> missing;  // ids the CRM reported OBJECT_NOT_FOUND (deleted/archived)
};

// One company property update.
struct CompanyUpdate {
  std::string id;
  std::map<std::string, std::string> properties;  // "" clears a value
};

struct Owner {
  std::string id;  // the value of hubspot_owner_id
  std::string email;
  std::string first_name;
  std::string last_name;
  int64_t user_id = 0;
  std::string type;  // PERSON or QUEUE
  bool archived = false;
};

struct AccountDetails {
  int64_t portal_id = 0;
  std::string account_type;
  std::string time_zone;  // e.g. "US/Eastern": the daily quota resets at its midnight
  std::string company_currency;
  std::string utc_offset;
  int64_t utc_offset_ms = 0;
  std::string ui_domain;
  std::string data_hosting_location;
};

// ---- Facts over associated objects --------------------------------------------------------

// The aggregate names rule files may map (exactly these strings).
inline constexpr const char* kAggregateNames[] = {
    "deals.won_amount_last_12m", "deals.won_amount_prev_12m", "deals.open_amount",
    "deals.open_count",          "contacts.count",            "contacts.active_count",
    "contacts.exec_sponsor",     "meetings.days_since_last",  "meetings.count_last_90d",
};

// A fact value: null, a number or a boolean.
struct FactValue {
  enum class Kind { kNull, kNumber, kBool };
  Kind kind = Kind::kNull;
  double number = 0;
  bool boolean = false;
  static FactValue Null() { return {}; }
  static FactValue Number(double v) { return {Kind::kNumber, v, false}; }
  static FactValue Bool(bool v) { return {Kind::kBool, 0, v}; }
  bool operator==(const FactValue&) const = default;
};

struct FactsRequest {
  std::vector<std::string> company_ids;
  std::vector<std::string> properties;  // standard/custom company properties to read by name
  std::set<std::string> aggregates;     // subset of kAggregateNames; unknown names are an error
  int64_t now_ms = 0;                   // "now" for the 12/24-month and 90-day windows (required)
};

struct CompanyFacts {
  std::string id;
  Properties properties;                       // the requested properties
  std::map<std::string, FactValue> aggregates;  // exactly the requested aggregate names
};

struct FactsResult {
  std::vector<CompanyFacts> companies;  // in request order; missing companies are left out
  std::vector<std::string> missing;     // company ids the CRM did not know
};

// One deal, contact or meeting reduced to what the aggregates read, exactly as ReadFacts reads
// it: the engine stores these for incremental facts and aggregates them itself.
struct FactInput {
  double amount = 0;             // deals: `amount` (0 when empty or not a number)
  std::optional<int64_t> at_ms;  // deals: `closedate`; contacts: the later of
                                 // `lastmodifieddate` and `notes_last_contacted`; meetings:
                                 // `hs_timestamp`, else `hs_meeting_start_time`
  bool won = false;              // deals: `hs_is_closed_won` or stage `closedwon`
  bool closed = false;           // deals: won, `hs_is_closed` or stage `closedlost`
  bool executive = false;        // contacts: an executive `jobtitle` (see ReadFacts)
};
// The properties FactInputOf reads for "deals", "contacts" or "meetings" (empty for others).
const std::vector<std::string>& FactPropertiesOf(const std::string& object_type);
FactInput FactInputOf(const std::string& object_type, const CrmObject& record);

// ---- Tasks ----------------------------------------------------------------------------------

// A task the add-in wants in the CRM, identified by its idempotency key (DESIGN section 4).
struct TaskSpec {
  std::string key;         // kam_task_key, e.g. "acct512-rule7-2024W18"
  std::string company_id;  // associated with type 192 (task -> company)
  std::string owner_id;    // hubspot_owner_id of the company owner ("" = unassigned)
  std::string subject;
  std::string body;
  std::string status = "NOT_STARTED";
  std::string priority = "MEDIUM";  // LOW, MEDIUM, HIGH
  std::string type = "TODO";        // EMAIL, CALL, TODO
  int64_t due_ms = 0;               // hs_timestamp (required by HubSpot)
  // Whether a task with this key may already exist (an earlier write whose outcome is unknown,
  // or unknown history). true: WriteTasks searches the key first and leaves an existing task as
  // it is. false (the caller knows the key was never sent): no search; in upsert mode an
  // existing task with the key would be overwritten, in search-create mode duplicated.
  bool in_doubt = true;
};

enum class TaskKeyMode {
  kAuto,      // ask the CRM whether kam_task_key has hasUniqueValue (once per client)
  kUpsert,    // kam_task_key is unique: batch upsert on it, then associate
  kSearchCreate,  // not unique: search by key, create only what is missing (with association)
};

struct TaskWriteOutcome {
  std::string key;
  std::string task_id;  // empty when failed
  bool created = false;  // false = the task already existed (updated or left as found)
  std::optional<Error> error;
};

struct TaskWriteResult {
  std::vector<TaskWriteOutcome> tasks;  // one per input spec, in input order
  TaskKeyMode mode_used = TaskKeyMode::kAuto;
  // Keys of tasks found without the link to their company, which was made (orphans repaired).
  std::set<std::string> linked_keys;
  bool all_ok() const;
};

// ---- Provisioning ---------------------------------------------------------------------------

struct TierOption {
  std::string value;  // option value, e.g. "strategic"
  std::string label;  // "Strategic key account"
};

struct ProvisionSpec {
  std::vector<TierOption> tiers;  // options of kam_tier, in display order
  bool try_unique_task_key = true;  // create kam_task_key with hasUniqueValue true when possible
};

struct ProvisionItem {
  enum class Outcome { kCreated, kUnchanged, kUpdated, kConflict, kFailed };
  std::string object_type;  // "companies", "tasks"
  std::string name;         // property or group name ("group:kam" for the group)
  Outcome outcome = Outcome::kUnchanged;
  std::string detail;       // why (e.g. "exists with type string, expected number")
};

struct ProvisionReport {
  std::vector<ProvisionItem> items;
  bool task_key_unique = false;  // kam_task_key exists with hasUniqueValue true
  bool changed() const;          // anything created or updated
  bool has_conflicts() const;
};

const char* ProvisionOutcomeName(ProvisionItem::Outcome outcome);

}  // namespace kam::hubspot

#endif  // KAM_HUBSPOT_TYPES_H_
