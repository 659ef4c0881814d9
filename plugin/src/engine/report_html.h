// The HTML form of `kam report --html FILE`: one self-contained page (inline CSS and SVG, no
// script, no external resource) drawn from the report model (report_model.h). Everything that
// comes from the CRM or a rule file (company and owner names, tier labels, capacity reasons) is
// HTML-escaped, and the whole page goes through the host's redaction before it is written.
#ifndef KAM_ENGINE_REPORT_HTML_H_
#define KAM_ENGINE_REPORT_HTML_H_

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "operation.h"

namespace kam::engine {

// The page for a report model (BuildReportModel, "kam.report.v1"). Missing or mistyped members
// render as empty sections, never as an exception.
std::string RenderReportHtml(const nlohmann::json& model);

// Renders, redacts through host.Redact and writes to `path`, mode 0600 whatever the umask (the
// page holds CRM data), through a temporary file and a rename: a failed write keeps the previous
// report. A path that is no plain file (a link, a pipe, /dev/stdout) is written through in place.
// Throws OpError naming the file and the system's reason.
void WriteReportHtml(const std::string& path, const nlohmann::json& model, Host& host);

}  // namespace kam::engine

#endif  // KAM_ENGINE_REPORT_HTML_H_
