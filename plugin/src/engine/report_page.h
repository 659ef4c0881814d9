// `kam report --html FILE`: reads the state store and the rule file, asks the CRM for the
// owners' names, builds the report model (report_model.h) and writes the page
// (report_html.h). Works offline: without the CRM the page names owners by id and says why.
#ifndef KAM_ENGINE_REPORT_PAGE_H_
#define KAM_ENGINE_REPORT_PAGE_H_

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "operation.h"

namespace kam::engine {

// Writes the page to `path` (absolute). Returns {"html": path, "owner_names": "crm"|"ids",
// "model": the report model}. Throws OpError: kInvalidArgument (config, rule file, unwritable
// file), kConflict (the state file is in use), kInternal (a store failure).
nlohmann::json WritePortfolioReport(OpContext& ctx, const std::string& path);

}  // namespace kam::engine

#endif  // KAM_ENGINE_REPORT_PAGE_H_
