// The incremental company pull over CRM search (CRM_API A7), separated from HTTP so its windowing
// is tested against an in-memory search with HubSpot's semantics (unordered ties, the 10,000 cap).
//
// Algorithm. A window is the query "hs_lastmodifieddate GTE T (or GT T), sort ascending". After
// each page whose last timestamp L is past T, a new window starts at L (keyset paging on the
// timestamp), so concurrent edits cannot shift offsets under us; records at exactly L are read
// again and de-duplicated by (id, timestamp). While a page ends at T itself (ties), paging goes on
// with `after` in the same window. If the ties at T alone reach the 10,000 cap, the window is
// split by id: "hs_lastmodifieddate EQ T AND hs_object_id GT last id, sort by hs_object_id", one
// keyset page at a time, then the pull goes on with "GT T".
#ifndef KAM_HUBSPOT_SRC_PULL_H_
#define KAM_HUBSPOT_SRC_PULL_H_

#include <functional>
#include <string>
#include <vector>

#include "codec.h"
#include "kam/hubspot/status.h"
#include "kam/hubspot/types.h"

namespace kam::hubspot::internal {

inline constexpr int64_t kSearchCap = 10'000;

using SearchFn = std::function<Result<SearchPage>(const SearchRequest& request)>;

// `modified_property`: hs_lastmodifieddate (companies) or lastmodifieddate (contacts).
Result<PullSummary> RunIncrementalPull(const SearchFn& search, const Cursor& since,
                                       const PullOptions& options,
                                       const std::string& modified_property,
                                       const PageCallback& on_page);

// A > B for cursors: by timestamp, then numeric id.
bool CursorLess(const Cursor& a, const Cursor& b);

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_PULL_H_
