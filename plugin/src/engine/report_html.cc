// The HTML report (see report_html.h).
#include "report_html.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kam/addin.h"

namespace kam::engine {
namespace {

using nlohmann::json;

// A JSON value as escaped text: strings as they are, numbers as JSON, null as "-".
std::string Cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return HtmlEscape(v.get<std::string>());
  return HtmlEscape(v.dump());
}

std::string Field(const json& row, const char* key) {
  auto it = row.find(key);
  return it == row.end() ? "-" : Cell(*it);
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderReportHtml(const json& report) {
  std::ostringstream f;
  f << "<!doctype html><meta charset=utf-8><title>KAM portfolio report</title>"
       "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:2px "
       "8px;text-align:left}</style><h1>KAM portfolio report</h1>\n<h2>Tiers</h2><table><tr>"
       "<th>Tier<th>Accounts<th>Capacity";
  for (const auto& t : report.value("tiers", json::array())) {
    f << "\n<tr><td>" << Field(t, "label") << "<td>" << Field(t, "accounts") << "<td>"
      << Field(t, "capacity_total");
  }
  f << "</table>\n<h2>Pareto</h2><p>";
  const json pareto = report.value("pareto", json::object());
  if (pareto.contains("80%_of_revenue")) {
    f << Field(pareto["80%_of_revenue"], "accounts") << " accounts make 80% of revenue.";
  }
  f << "</p>\n<h2>Capped by capacity</h2><table><tr><th>Account<th>Name<th>Tier<th>Reason";
  for (const auto& c : report.value("capped", json::array())) {
    f << "\n<tr><td>" << Field(c, "account_id") << "<td>" << Field(c, "name") << "<td>"
      << Field(c, "tier") << "<td>" << Field(c, "reason");
  }
  f << "</table>\n<h2>Biggest score movers</h2><table><tr><th>Account<th>Name<th>From<th>To";
  for (const auto& m : report.value("movers", json::array())) {
    f << "\n<tr><td>" << Field(m, "account_id") << "<td>" << Field(m, "name") << "<td>"
      << Field(m, "from") << " (" << Field(m, "from_tier") << ")<td>" << Field(m, "to") << " ("
      << Field(m, "to_tier") << ")";
  }
  f << "</table>\n<h2>Workload</h2><table><tr><th>KAM<th>Key accounts<th>Open tasks";
  for (const auto& w : report.value("workload", json::array())) {
    f << "\n<tr><td>" << Field(w, "owner_id") << "<td>" << Field(w, "key_accounts") << "<td>"
      << Field(w, "open_tasks");
  }
  f << "</table>\n";
  return f.str();
}

void WriteReportHtml(const std::string& path, const json& report, Host& host) {
  std::string page = RenderReportHtml(report);
  host.Redact(page);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw OpError(StatusCode::kInvalidArgument, "cannot write the HTML report to " + path);
  f << page;
  f.close();
  if (!f) throw OpError(StatusCode::kInternal, "writing the HTML report to " + path + " failed");
}

}  // namespace kam::engine
