// The CRM port: everything the sync engine asks of a CRM, in the engine's terms. One
// implementation per CRM (crm_hubspot.cc, crm_salesforce.cc); they are the only engine files
// that name a connector. Record ids are strings; property names are the CRM's own, as the rule
// file's mapping and writeback name them. Every fallible call returns a CrmError on failure —
// one type that says whether a retry can help and whether the run must stop.
//
// Thread-safety: a Crm is used by one thread at a time (the run's thread), except that up to
// WriteConcurrency() calls of WriteFields, WriteTasks and CompleteTasks may run at once on
// different threads (the push sends independent batches side by side). Calls honour the
// host's cancel hook between HTTP requests (a cancelled call fails with StatusCode::kCancelled,
// stops_run = true).
#ifndef KAM_ENGINE_CRM_H_
#define KAM_ENGINE_CRM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "status.h"

namespace kam::engine {

// ---- errors -----------------------------------------------------------------------------------

// One failed CRM call, or one failed record inside a batch.
struct CrmError {
  StatusCode code = StatusCode::kInternal;
  std::string message;      // what happened, to what (the CRM's own message included)
  std::string endpoint;     // "POST /crm/v3/objects/companies/batch/update", or ""
  int32_t http_status = 0;  // 0 when no HTTP answer was received
  // A later attempt may succeed (429, 5xx, timeout, dropped connection). The port has already
  // retried within its own budget; a retryable error that reaches the engine leaves the write
  // in the outbox for the next run.
  bool retryable = false;
  // The run cannot go on: authentication, permission, quota/rate reserve, the CRM unreachable,
  // or cancelled. The engine stops, keeps the outbox, and the next run resumes. false: only
  // this call or record failed (e.g. a validation error on one company); the run continues.
  bool stops_run = false;
  int64_t retry_after_ms = -1;

  std::string ToString() const;  // one line for logs, reports and the audit
  // The error as the engine's Status, prefixed with what the engine was doing, with a hint for
  // the admin (e.g. "check the token in the secret named by hubspot.token_secret").
  Status ToStatus(std::string_view doing) const;
};

// A value or a CrmError.
template <typename T>
class CrmResult {
 public:
  CrmResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit on purpose
  CrmResult(CrmError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const CrmError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, CrmError> v_;
};

// Success or a CrmError.
class CrmStatus {
 public:
  CrmStatus() = default;
  CrmStatus(CrmError error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose
  bool ok() const { return !error_.has_value(); }
  const CrmError& error() const { return *error_; }

 private:
  std::optional<CrmError> error_;
};

// ---- records ----------------------------------------------------------------------------------

// Property name -> value as the CRM sends it; nullopt = requested but empty.
using CrmProperties = std::map<std::string, std::optional<std::string>>;

// One account (HubSpot company, Salesforce Account).
struct CrmAccount {
  std::string id;
  std::string name;          // the display name ("" when none)
  std::string owner_id;      // the owner (the KAM) as the CRM names users; "" when none
  CrmProperties properties;  // the requested properties
  int64_t modified_ms = -1;  // the CRM's modification time (epoch ms), -1 unknown
};

// Where a pull stands. Incremental: every account modified before `modified_ms` has been read
// (ties at `modified_ms` are re-read by the next pull's overlap). Full: `page_token` is the
// CRM's paging token after the last delivered page ("" = from the start / finished).
struct PullCursor {
  int64_t modified_ms = 0;  // 0 = never pulled
  std::string id;           // highest id read at modified_ms (informative)
  std::string page_token;
};

struct PullRequest {
  std::vector<std::string> properties;  // account properties to read besides id/name/owner
  int64_t overlap_ms = 5 * 60 * 1000;   // incremental: start this long before the cursor
  // Full pull only: the cursor to report when the pull ends (the run's start time).
  int64_t started_at_ms = 0;
  // Full pull only: resume after this paging token (from a crashed run's last committed page);
  // "" = from the start. A port that cannot resume ignores it and starts over (PullSummary
  // says so), which re-delivers pages: callers must accept pages they already stored.
  std::string resume_token;
  // Changed facts only (PullChangedFacts): > 0 = records modified at or before this time (the
  // run's start); a record dated later is read by the first run after its time.
  int64_t until_ms = 0;
};

struct PullPage {
  std::vector<CrmAccount> accounts;  // de-duplicated within the pull
  PullCursor cursor;                 // safe to store with this page: a resumed pull starts here
  int64_t total_hint = -1;           // how many the CRM says there are, -1 unknown
};

// Called once per page; a non-ok CrmStatus stops the pull and is returned by it.
using PageCallback = std::function<CrmStatus(const PullPage& page)>;

struct PullSummary {
  int64_t pages = 0;
  int64_t accounts = 0;
  PullCursor cursor;     // final cursor
  bool resumed = false;  // a full pull continued from resume_token
};

// A fact about an account computed from its associated records (deals, contacts, meetings).
struct FactValue {
  enum class Kind : uint8_t { kNull, kNumber, kBool };
  Kind kind = Kind::kNull;
  double number = 0;
  bool boolean = false;
};

struct FactsRequest {
  std::vector<std::string> account_ids;  // at most 1,000 per call
  std::vector<std::string> aggregates;   // the rule file's aggregate names
  int64_t now_ms = 0;                    // "now" for time windows
};

struct AccountFacts {
  std::string id;
  std::map<std::string, FactValue> aggregates;  // exactly the requested names
};

struct FactsResult {
  std::vector<AccountFacts> accounts;  // in request order; unknown accounts left out
  std::vector<std::string> missing;    // accounts the CRM does not know (deleted/archived)
};

// ---- incremental facts ------------------------------------------------------------------------

// The records the aggregates are computed from.
enum class FactKind : uint8_t { kDeal, kContact, kMeeting };
inline constexpr FactKind kFactKinds[] = {FactKind::kDeal, FactKind::kContact, FactKind::kMeeting};
// "deals", "contacts", "meetings" (also the aggregate names' prefixes without the dot).
std::string_view FactKindName(FactKind kind);

// One deal, contact or meeting in the engine's terms: what the aggregates read of it, as the
// port's ReadFacts reads it (the port normalizes its CRM's fields).
struct FactRecord {
  FactKind kind = FactKind::kDeal;
  std::string id;
  int64_t modified_ms = -1;
  double amount = 0;       // deals: the amount (0 when none)
  int64_t at_ms = -1;      // deal: close date; contact: last activity; meeting: its time; -1 none
  bool won = false;        // deals: closed won
  bool closed = false;     // deals: closed (won or lost)
  bool executive = false;  // contacts: an executive job title
};

// One page of changed records with the accounts each is linked to now (every record of the
// page is a key of `accounts`; an empty list = linked to none).
struct FactPage {
  std::vector<FactRecord> records;
  std::map<std::string, std::vector<std::string>> accounts;
  PullCursor cursor;  // safe to store with this page
};
using FactPageCallback = std::function<CrmStatus(const FactPage& page)>;

// ---- writes -----------------------------------------------------------------------------------

struct FieldUpdate {
  std::string account_id;
  std::map<std::string, std::string> fields;  // property -> value; "" clears it
};

struct RecordFailure {
  std::string id;  // the account id, task id or task key the failure is about
  CrmError error;
};

struct WrittenRecord {
  std::string id;
  int64_t modified_ms = -1;  // the CRM's modification time after the write, -1 unknown
};

// Per-record outcome of a batch write: each input is in exactly one of the two lists.
struct BatchOutcome {
  std::vector<WrittenRecord> written;
  std::vector<RecordFailure> failed;
};

enum class TaskPriority : uint8_t { kLow, kMedium, kHigh };
enum class CrmTaskStatus : uint8_t { kOpen, kCompleted };

// A task the add-in wants in the CRM, identified by its idempotency key (DESIGN §4).
struct TaskSpec {
  std::string key;         // unique per (portal, account, rule, period)
  std::string account_id;  // the company / Account the task is linked to
  std::string owner_id;    // assigned to ("" = unassigned)
  std::string subject;
  std::string body;
  TaskPriority priority = TaskPriority::kMedium;
  CrmTaskStatus status = CrmTaskStatus::kOpen;
  int64_t due_ms = 0;
  // The key may already be in the CRM (an earlier write's outcome is unknown, or the state does
  // not know the key's history): the port searches the key first. false = the engine knows the
  // key was never sent; the port may skip the search.
  bool in_doubt = true;
};

// A task found in the CRM by its key.
struct CrmTask {
  std::string id;
  std::string key;
  std::string subject;
  std::string owner_id;
  CrmTaskStatus status = CrmTaskStatus::kOpen;
  int64_t due_ms = 0;
  std::vector<std::string> account_ids;  // the accounts it is linked to
};

struct TaskWriteOutcome {
  std::string key;
  std::string task_id;   // empty when failed
  bool created = false;  // false: a task with this key was already there
  // The task was already there (found by its key) without its link to its account, and the link
  // was made: an orphan (created, but its link lost to a crash or a failed association) is
  // repaired. false for a found task that was linked already.
  bool linked = false;
  CrmTaskStatus status = CrmTaskStatus::kOpen;  // the task's status in the CRM after the call
  std::optional<CrmError> error;
};

// ---- provisioning -----------------------------------------------------------------------------

enum class CrmObject : uint8_t { kAccount, kTask };

// One property the add-in needs. type: number, string, enumeration, datetime, bool.
struct PropertySpec {
  CrmObject object = CrmObject::kAccount;
  std::string name;
  std::string label;
  std::string type;
  std::vector<std::pair<std::string, std::string>> options;  // enumeration: (value, label)
  bool unique = false;  // the task-key property: unique values where the CRM allows
  // Data for an app, not for people (the card's JSON): hidden from record pages and forms where
  // the CRM can (HubSpot). A CRM that shows the card as the field itself ignores it.
  bool hidden = false;
};

// The account properties the rule file's writeback names. The task-key property is the port's
// own (its name differs per CRM): the port provisions and verifies it too and reports it as the
// last item.
struct ProvisionSpec {
  std::vector<PropertySpec> properties;
};

struct ProvisionItem {
  enum class Outcome : uint8_t {
    kCreated,    // did not exist, created and read back with the right type
    kUnchanged,  // exists with the right type
    kUpdated,    // existed; options added
    kConflict,   // exists with another type; never overwritten (detail says which)
    kMissing,    // not there after provisioning (or, when verifying, not there at all)
    kFailed,     // the create failed (detail: the CRM's error)
  };
  CrmObject object = CrmObject::kAccount;
  std::string name;
  Outcome outcome = Outcome::kUnchanged;
  std::string type_found;  // the type the CRM reports, "" when absent
  std::string detail;
  // A property meant to be hidden (PropertySpec::hidden) is shown on record pages or forms.
  // Not an error (the sync writes it all the same): `kam doctor` warns, `kam provision` hides it.
  bool shown = false;
};

struct ProvisionReport {
  std::vector<ProvisionItem> items;  // one per PropertySpec, in spec order, then the task key
  bool task_key_unique = false;      // the task-key property enforces unique values
  // Every property is there with the right type (created, unchanged or updated).
  bool complete() const;
};

std::string_view ProvisionOutcomeName(ProvisionItem::Outcome outcome);

// API calls of this Crm since it was made.
struct CrmUsage {
  int64_t calls = 0;
  int64_t retries = 0;
  int64_t rate_limited = 0;
  int64_t failed = 0;
  int64_t quota_left = -1;   // daily quota left as the CRM last reported it; -1 unknown
  int64_t daily_limit = -1;  // -1 unknown
};

// The CRM API's page and batch sizes that bound a sync's calls from below (run_record.cc's
// `minimum_calls`): records per page of a full pull, of a pull of changed accounts, of the list
// of deleted accounts, and task keys per status lookup; plus the token requests a run cannot do
// without (0 for a ready token). The defaults are HubSpot's (CRM_API.md A5-A9).
struct CallLimits {
  int64_t full_pull_page = 100;
  int64_t changed_page = 200;
  int64_t archived_page = 100;
  int64_t task_status_keys = 100;
  int64_t token_calls = 0;
  // Incremental facts: changed records per page; changed records per read that maps them to
  // their accounts (0 = none: the page carries the links, Salesforce's AccountId); accounts per
  // link read; records per batch read by id (0 = none: the link read returns the records).
  int64_t fact_page = 200;
  int64_t fact_map_batch = 1000;
  int64_t fact_link_accounts = 1000;
  int64_t fact_record_batch = 100;
};

// ---- the port ---------------------------------------------------------------------------------

class Crm {
 public:
  virtual ~Crm() = default;

  // The rule file's mapping key of this CRM ("hubspot", "salesforce").
  virtual std::string_view Name() const = 0;

  // The portal / org id, for task keys and for binding a state file to one portal. Read from the
  // CRM (one call); stable for the life of the portal. Errors: auth, unreachable.
  virtual CrmResult<std::string> PortalId() = 0;

  // Every account, page by page, calling on_page for each (the caller stores the page and its
  // cursor in one transaction). Pages may repeat after a resume; accounts are de-duplicated
  // within one call. A non-ok return of on_page stops the pull and is returned. Read-only, so
  // safe to repeat; transient failures are retried inside the port.
  virtual CrmResult<PullSummary> PullAll(const PullRequest& request,
                                         const PageCallback& on_page) = 0;

  // Accounts modified since `since` (minus request.overlap_ms), in ascending modification time,
  // page by page, past any search-result cap of the CRM. Each page's cursor is safe to resume
  // from. Same errors and idempotency as PullAll.
  virtual CrmResult<PullSummary> PullChanged(const PullCursor& since, const PullRequest& request,
                                             const PageCallback& on_page) = 0;

  // Ids of accounts deleted or archived at or after since_ms. Read-only.
  virtual CrmResult<std::vector<std::string>> ListArchived(int64_t since_ms) = 0;

  // The requested aggregates of each account, computed from its associated records. Accounts
  // the CRM does not know are listed in `missing`, not an error. Read-only.
  virtual CrmResult<FactsResult> ReadFacts(const FactsRequest& request) = 0;

  // ---- incremental facts (optional: IncrementalFacts() false = only ReadFacts) ----
  // Whether the three calls below work. A port without them gets full facts every run
  // ("facts": "changed" falls back to "all"); their defaults fail with kUnimplemented.
  virtual bool IncrementalFacts() const { return false; }
  // A record's link to its account is a field of the record (Salesforce's AccountId): a link
  // made or removed moves the record's modification time, so PullChangedFacts sees it and an
  // account that changed needs no link read. false (HubSpot: an association moves neither
  // side's time): the links of changed accounts are read again.
  virtual bool LinksMoveRecords() const { return false; }
  // Records of `kind` modified since `since` (minus request.overlap_ms), ascending, page by
  // page past any search cap, each with the accounts it is linked to now. Read-only.
  virtual CrmResult<PullSummary> PullChangedFacts(FactKind kind, const PullCursor& since,
                                                  const PullRequest& request,
                                                  const FactPageCallback& on_page);
  // The ids of the records of `kind` linked to each account (every account id is a key).
  virtual CrmResult<std::map<std::string, std::vector<std::string>>> ReadFactLinks(
      FactKind kind, const std::vector<std::string>& account_ids);
  // The records of `kind` with these ids; ids the CRM does not know are left out.
  virtual CrmResult<std::vector<FactRecord>> ReadFactRecords(FactKind kind,
                                                             const std::vector<std::string>& ids);

  // Writes account fields in batches (the CRM's batch size). Per-record failures are in
  // BatchOutcome::failed (e.g. a validation error on one account); an error is returned only when
  // nothing could be attempted or the run must stop. Idempotent: the same values written twice
  // leave the same record, so a retry after an unknown outcome is safe.
  virtual CrmResult<BatchOutcome> WriteFields(const std::vector<FieldUpdate>& updates) = 0;

  // Makes each task exist exactly once by its key, linked to its account and assigned to its
  // owner. A key in doubt is searched first: a task found is left as it is (never reopened,
  // re-titled or re-assigned) except that it is linked to its account (again; linked = true).
  // One outcome per spec, in order; per-task failures are in the outcome. Idempotent by key:
  // repeating the call never makes a second task.
  virtual CrmResult<std::vector<TaskWriteOutcome>> WriteTasks(
      const std::vector<TaskSpec>& tasks) = 0;

  // How many WriteFields / WriteTasks / CompleteTasks calls may run at once, each on its own
  // thread, with nothing else of this Crm running meanwhile (the push: batches of independent
  // records side by side, each answer stored on the run's thread). The port keeps them within
  // its connection limit and rate limiter. 1 (the default): one call at a time.
  virtual int WriteConcurrency() const { return 1; }

  // Tasks whose key is one of `keys`, with status, owner and links. Keys without a task are
  // simply absent. Read-only.
  virtual CrmResult<std::vector<CrmTask>> FindTasks(const std::vector<std::string>& keys) = 0;

  // Marks the given tasks (CRM ids) completed. Per-record failures in BatchOutcome::failed; a
  // task that no longer exists fails with StatusCode::kNotFound. Idempotent.
  virtual CrmResult<BatchOutcome> CompleteTasks(const std::vector<std::string>& task_ids) = 0;

  // Creates what is missing of `spec` (never changes the type of an existing property), then
  // reads every property back and compares its type: the report has one item per property.
  // Transient failures are retried; a property that is still missing is kMissing/kFailed in the
  // report (not an error). An error only when the CRM cannot be used at all. Idempotent.
  virtual CrmResult<ProvisionReport> Provision(const ProvisionSpec& spec) = 0;

  // Read-only check of `spec`: one item per property, kUnchanged when present with the right
  // type, else kMissing or kConflict. One or two calls (the property lists), for the sync's
  // check before its first write.
  virtual CrmResult<ProvisionReport> VerifyProperties(const ProvisionSpec& spec) = 0;
  // The sync's check before its first write passed recently (the state file remembers it, with
  // the task key's uniqueness): true = the port writes without verifying again this run; false
  // (the default) = it needs VerifyProperties' answer (e.g. the types it learns there).
  virtual bool AssumePropertiesVerified(bool /*task_key_unique*/) { return false; }

  // Calls made by this Crm so far, and the quota as last reported.
  virtual CrmUsage Usage() const = 0;

  // This CRM's page and batch sizes for the run summary's minimum (CallLimits).
  virtual CallLimits MinimumCallLimits() const { return {}; }

  // The value the CRM will hold after `value` is written to the account property `property`
  // (e.g. a number rounded to the field's scale): the diff compares and writes this, so that a
  // re-sync writes nothing. Default: `value` unchanged.
  virtual std::string StoredValue(const std::string& property, const std::string& value) const {
    (void)property;
    return value;
  }
};

// What a CRM calls its accounts, for texts people read: "accounts" (Salesforce), "companies"
// (HubSpot, and any other).
std::string_view AccountsNoun(std::string_view crm);

// ---- making one -------------------------------------------------------------------------------

class Host;
struct EngineConfig;

// Answers a secret by name (e.g. "KAM_HUBSPOT_TOKEN"); nullopt when there is none.
using SecretFn = std::function<std::optional<std::string>(std::string_view name)>;

// The CRM named by config.crm, set up from its config section; `host` supplies logging and the
// cancel hook and must outlive the Crm. Errors: kInvalidArgument (bad settings, an unknown CRM),
// kUnauthenticated (no credential in the named secret).
StatusOr<std::unique_ptr<Crm>> MakeCrm(const EngineConfig& config, Host& host,
                                       const SecretFn& get_secret);

// One factory per CRM, defined in crm_<name>.cc; MakeCrm (crm_factory.cc) dispatches on
// config.crm: a new CRM adds its declaration here and one line there.
StatusOr<std::unique_ptr<Crm>> MakeHubSpotCrm(const EngineConfig& config, Host& host,
                                              const SecretFn& get_secret);
StatusOr<std::unique_ptr<Crm>> MakeSalesforceCrm(const EngineConfig& config, Host& host,
                                                 const SecretFn& get_secret);

}  // namespace kam::engine

#endif  // KAM_ENGINE_CRM_H_
