// Aggregates over a company's associated objects (deals, contacts, meetings) with the exact
// names rule files map (types.h kAggregateNames). Pure functions of the records and "now", so
// the windows (12/24 months, 90 days) and the executive-title match are unit-tested.
#ifndef KAM_HUBSPOT_SRC_FACTS_H_
#define KAM_HUBSPOT_SRC_FACTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kam/hubspot/types.h"

namespace kam::hubspot::internal {

inline constexpr int64_t kDayMs = 86'400'000;
inline constexpr int64_t kYearMs = 365 * kDayMs;  // "12 months" = 365 days
inline constexpr int64_t kActiveWindowMs = 90 * kDayMs;

// Properties to read per associated object type.
extern const std::vector<std::string> kDealProperties;
extern const std::vector<std::string> kContactProperties;
extern const std::vector<std::string> kMeetingProperties;

// How a record's properties are read (shared by ComputeAggregates and FactInputOf).
std::string Lower(std::string s);
std::optional<int64_t> TimeProp(const CrmObject& o, const char* name);
double Amount(const CrmObject& o);
bool IsTrue(const CrmObject& o, const char* name);

bool IsKnownAggregate(const std::string& name);

// True for executive job titles: CEO, CFO, COO, CTO, Chief ..., President, VP, Vice President,
// Managing Director, Head of (whole words, case-insensitive).
bool IsExecutiveTitle(const std::string& job_title);

// The requested aggregates for one company from its associated records.
std::map<std::string, FactValue> ComputeAggregates(const std::set<std::string>& names,
                                                   const std::vector<const CrmObject*>& deals,
                                                   const std::vector<const CrmObject*>& contacts,
                                                   const std::vector<const CrmObject*>& meetings,
                                                   int64_t now_ms);

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_FACTS_H_
