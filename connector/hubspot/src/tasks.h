// Request bodies of the task writes (CRM_API A6, A9, A10), kept pure for unit tests: search by
// key within the 3,000-character body limit, batch upsert on kam_task_key, batch create with the
// task -> company association (type 192), association batch create.
#ifndef KAM_HUBSPOT_SRC_TASKS_H_
#define KAM_HUBSPOT_SRC_TASKS_H_

#include <string>
#include <vector>

#include "codec.h"
#include "kam/hubspot/types.h"

namespace kam::hubspot::internal {

inline constexpr int kTaskToCompanyType = 192;

// The task's properties as HubSpot strings.
Json TaskProperties(const TaskSpec& task);
std::string BuildTaskUpsertBody(const std::vector<TaskSpec>& tasks);
std::string BuildTaskCreateBody(const std::vector<TaskSpec>& tasks);
// {"inputs":[{"from":{"id":task},"to":{"id":company},"types":[{HUBSPOT_DEFINED,192}]}]}
std::string BuildTaskAssociationBody(
    const std::vector<std::pair<std::string, std::string>>& task_company);

// Splits keys into search requests (kam_task_key IN [...], at most 100 values) whose bodies
// stay within max_body_chars. Each key is sent as given and, when different, lower-cased
// (HubSpot may expect lower-case IN values). A single key too long for a body is an error.
Result<std::vector<SearchRequest>> BuildTaskKeySearches(const std::vector<std::string>& keys,
                                                        const std::vector<std::string>& properties,
                                                        int max_body_chars);

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_TASKS_H_
