// SOQL text the adapter sends (CRM_API B4), kept pure for unit tests: string literals with
// escaping, field-name checks, IN lists split so that each query stays within the URL length
// and id-count bounds, the keyset Account pull, and the GROUP BY AccountId fact aggregates.
#ifndef KAM_SALESFORCE_SRC_SOQL_H_
#define KAM_SALESFORCE_SRC_SOQL_H_

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kam/salesforce/status.h"
#include "kam/salesforce/types.h"

namespace kam::salesforce::internal {

// The placeholder an IN-list template carries once: "... AccountId IN ({in}) ...".
inline constexpr std::string_view kInPlaceholder = "{in}";

// 'value' with \ ' " and control characters escaped as SOQL requires.
std::string Quote(std::string_view value);

// True for API names SOQL can take unquoted: letters, digits, '_' and '.' (relationships),
// starting with a letter. Everything the adapter puts into SOQL unquoted is checked.
bool IsFieldName(std::string_view name);

// The queries `soql_template` gives when its {in} is filled with `values` (quoted, comma
// separated), split so that each query's URL-encoded length is <= max_encoded_chars and it
// holds <= max_values values. Values are de-duplicated, order kept. Error (kPermanent) when a
// single value does not fit or the template has no {in}.
Result<std::vector<std::string>> ChunkInQueries(std::string_view soql_template,
                                                const std::vector<std::string>& values,
                                                std::size_t max_encoded_chars,
                                                std::size_t max_values);

// SELECT Id, OwnerId, SystemModstamp[, IsDeleted], <fields> FROM Account
// [WHERE SystemModstamp > T OR (SystemModstamp = T AND Id > 'X')]  -- after.id set
// [WHERE SystemModstamp >= T]                                      -- after.id empty, T > 0
// ORDER BY SystemModstamp, Id LIMIT n
std::string AccountPullQuery(const std::vector<std::string>& fields, const Cursor& after,
                             bool include_deleted, int limit);

// The same keyset query over any sObject with a SystemModstamp (Opportunity, Contact, Event):
// SELECT Id, SystemModstamp[, IsDeleted], <fields> FROM <sobject> [WHERE <keyset>
// [AND SystemModstamp <= U]] ORDER BY SystemModstamp, Id LIMIT n; U = until_ms when > 0 (whole
// seconds, rounded down). Field and object names are the caller's to check.
std::string PullQuery(std::string_view sobject, const std::vector<std::string>& fields,
                      const Cursor& after, bool include_deleted, int limit, int64_t until_ms);

// One fact query over a chunk of accounts, as a template with {in}.
struct FactQuery {
  enum class Kind {
    kWonLast12m,      // SUM(Amount) of won opportunities closed in the last 12 months
    kWonPrev12m,      // ... the 12 months before
    kOpen,            // SUM(Amount), COUNT(Id) of open opportunities
    kContacts,        // COUNT(Id) of contacts
    kActiveContacts,  // COUNT(Id) of contacts modified or with activity in the last 90 days
    kExecCandidates,  // contacts whose Title may be executive (checked word by word after)
    kLastMeeting,     // MAX(ActivityDateTime) of events up to now
    kMeetings90d,     // COUNT(Id) of events in the last 90 days
  };
  Kind kind;
  std::string soql_template;
  bool aggregate = true;  // GROUP BY AccountId (one row per account, no queryMore)
};

// The queries the requested aggregate names need, for "now" = now_ms.
std::vector<FactQuery> FactQueries(const std::set<std::string>& aggregates, int64_t now_ms);

// Tasks by key: SELECT Id, KAM_Task_Key__c, ... FROM Task WHERE KAM_Task_Key__c IN ({in}).
std::string TaskByKeyTemplate();

}  // namespace kam::salesforce::internal

#endif  // KAM_SALESFORCE_SRC_SOQL_H_
