// Incremental facts in the state file (schema 3): the deals, contacts and meetings the
// aggregates are computed from (reduced to what the aggregates read), their links to companies,
// the companies whose aggregates must be computed again ("dirty"), and the echo of the add-in's
// own writes (the CRM's modification time right after the add-in last wrote a company).
//
// A FactsStore is a view on an open Store: its statements run inside the Store's transactions,
// so a page of records, its links, the dirty marks and the cursor commit together. Errors:
// StoreError, like the Store.
#ifndef KAM_STORE_FACTS_STORE_H_
#define KAM_STORE_FACTS_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kam/store/store.h"

namespace kam::store {

// One record. kind: "deals", "contacts", "meetings".
struct FactRecordRow {
  std::string kind;
  std::string id;
  int64_t modified_ms = 0;
  double amount = 0;
  std::optional<int64_t> at_ms;  // deal: close date; contact: last activity; meeting: its time
  bool won = false;
  bool closed = false;
  bool executive = false;
};

// What the aggregates of one account are computed from, as of `now_ms` (ForEachTotals).
// The windows are the connector's (connector/hubspot README, "Facts for rule files"):
// 12 months = 365 days, "active" and "last 90 days" = 90 days.
struct FactTotals {
  double won_last_12m = 0;  // won deals closed in (now - 365 d, now]
  double won_prev_12m = 0;  // won deals closed in (now - 730 d, now - 365 d]
  double open_amount = 0;   // deals not closed
  int64_t open_count = 0;
  int64_t contacts = 0;
  int64_t active_contacts = 0;  // last activity at or after now - 90 d
  bool exec_sponsor = false;
  std::optional<int64_t> last_meeting_ms;  // the latest meeting at or before now
  int64_t meetings_last_90d = 0;           // meetings in [now - 90 d, now]
};

class FactsStore {
 public:
  explicit FactsStore(Store& store) : store_(store) {}

  void UpsertRecord(const FactRecordRow& row);
  // The ids among `ids` with no stored record of `kind`.
  std::vector<std::string> Unknown(std::string_view kind, const std::vector<std::string>& ids);
  // Replaces the accounts record `record_id` is linked to; returns the accounts it was linked to
  // before.
  std::vector<std::string> ReplaceRecordLinks(std::string_view kind, std::string_view record_id,
                                              const std::vector<std::string>& account_ids);
  // Replaces the records of `kind` linked to `account_id`.
  void ReplaceAccountLinks(std::string_view kind, std::string_view account_id,
                           const std::vector<std::string>& record_ids);
  // Removes every record and link (a full refresh starts from nothing).
  void Clear();

  // Accounts whose aggregates must be computed again.
  void MarkDirty(std::string_view account_id);
  std::vector<std::string> Dirty();
  void ClearDirty();

  // The totals of every account with at least one linked record (only_dirty: of the dirty
  // ones), as of now_ms. Accounts without records get no call (their totals are all zero).
  void ForEachTotals(
      int64_t now_ms, bool only_dirty,
      const std::function<void(const std::string& account_id, const FactTotals& totals)>& fn);

  // The echo of the add-in's own write: the CRM's modification time of `account_id` right after
  // the add-in last wrote it.
  void SetEcho(std::string_view account_id, int64_t modified_ms);
  std::optional<int64_t> Echo(std::string_view account_id);

  int64_t CountRecords(std::string_view kind);
  int64_t CountLinks(std::string_view kind);

 private:
  Store& store_;
};

}  // namespace kam::store

#endif  // KAM_STORE_FACTS_STORE_H_
