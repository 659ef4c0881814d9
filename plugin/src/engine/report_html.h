// The HTML form of `kam report --html FILE`. Everything that comes from the CRM or a rule file
// (company names, owner ids, tier labels, capacity reasons) is HTML-escaped, and the whole page
// goes through the host's redaction before it is written.
#ifndef KAM_ENGINE_REPORT_HTML_H_
#define KAM_ENGINE_REPORT_HTML_H_

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "operation.h"

namespace kam::engine {

// &, <, >, " and ' as character references: safe in element content and quoted attributes.
std::string HtmlEscape(std::string_view text);

// The page for the JSON that SyncEngine::Report returns (tiers, pareto, capped, movers, workload).
std::string RenderReportHtml(const nlohmann::json& report);

// Renders, redacts through host.Redact and writes to `path`. Throws OpError naming the file.
void WriteReportHtml(const std::string& path, const nlohmann::json& report, Host& host);

}  // namespace kam::engine

#endif  // KAM_ENGINE_REPORT_HTML_H_
