// The HTML report (see report_html.h). Charts are inline SVG drawn here; every string that goes
// into the page passes through common::HtmlEscape (E(), kam/common/html.h), numbers through Num().
#include "report_html.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "file_write.h"
#include "kam/addin.h"
#include "kam/common/html.h"
#include "report_model.h"

namespace kam::engine {
namespace {

using nlohmann::json;

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const json& j, const char* key) {
  const json& v = Member(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

double Dbl(const json& j, const char* key, double fallback = 0) {
  const json& v = Member(j, key);
  return v.is_number() ? v.get<double>() : fallback;
}

int64_t Int(const json& j, const char* key) { return static_cast<int64_t>(Dbl(j, key)); }

const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Member(j, key);
  return v.is_array() ? v : kEmpty;
}

std::string E(std::string_view s) { return common::HtmlEscape(s); }

// A number for people: whole numbers without decimals, else one decimal; thousands grouped.
std::string Num(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  double r = std::round(v * 10) / 10;
  bool whole = std::fabs(r - std::round(r)) < 1e-9;
  std::snprintf(buf, sizeof(buf), whole ? "%.0f" : "%.1f", whole ? std::round(r) : r);
  std::string s = buf;
  size_t start = s[0] == '-' ? 1 : 0;
  size_t dot = s.find('.');
  size_t end = dot == std::string::npos ? s.size() : dot;
  for (size_t i = end; i > start + 3; i -= 3) s.insert(i - 3, ",");
  return s;
}

// Coordinates in SVG: one decimal is plenty.
std::string C(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string Percent(double share) { return Num(std::round(share * 1000) / 10) + "%"; }

constexpr const char* kStyle =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2733;"
    "background:#f4f6f9;margin:0}"
    "main{max-width:64em;margin:0 auto;padding:1.5em}"
    "header h1{margin:0 0 .2em;font-size:1.6em}header p{margin:0;color:#5a6675}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(28em,1fr));gap:1em;"
    "margin-top:1em}"
    "section{background:#fff;border-radius:8px;padding:1em 1.2em;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    "section.wide{grid-column:1/-1}"
    "h2{font-size:1.1em;margin:0 0 .6em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #e6e9ee;vertical-align:top}"
    "th{font-weight:600;color:#5a6675;font-size:.9em}td.n,th.n{text-align:right}"
    "svg{width:100%;height:auto;display:block}svg text{font:14px "
    "sans-serif;fill:#1d2733;paint-order:stroke;stroke:#fff;stroke-width:3px;"
    "stroke-linejoin:round}svg text.in{stroke:none}"
    ".muted{color:#5a6675}.note{color:#8a5a00}"
    ".kpis{display:flex;gap:2em;margin-top:.8em}.kpi b{display:block;font-size:1.5em}"
    ".tag{display:inline-block;padding:0 .4em;border-radius:3px;background:#fde8e8;"
    "color:#9b1c1c;font-size:.85em;margin:0 .2em .2em 0}";

// Tiers against capacity: one bar per tier, the total capacity as a marker.
void TiersSection(const json& m, std::ostringstream& f) {
  const json& tiers = Arr(m, "tiers");
  double scale = 1;
  for (const auto& t : tiers) {
    scale = std::max({scale, Dbl(t, "accounts"), Dbl(t, "capacity_total")});
  }
  const double row = 34, label_w = 190, bar_w = 250;
  f << "<section id=\"tiers\"><h2>Tiers against capacity</h2>"
    << "<svg viewBox=\"0 0 560 " << C(row * tiers.size() + 10) << "\" role=\"img\" "
    << "aria-label=\"Accounts per tier against capacity\">";
  double y = 5;
  for (const auto& t : tiers) {
    const double n = Dbl(t, "accounts");
    const double w = bar_w * n / scale;
    const bool key = Member(t, "key").is_boolean() && Member(t, "key").get<bool>();
    const json& cap = Member(t, "capacity_total");
    const bool over = cap.is_number() && n > cap.get<double>();
    f << "<g class=\"tier\" data-tier=\"" << E(Str(t, "id")) << "\"><text x=\"0\" y=\"" << C(y + 15)
      << "\">" << E(Str(t, "label")) << "</text><rect x=\"" << C(label_w) << "\" y=\"" << C(y + 3)
      << "\" width=\"" << C(std::max(w, 1.0)) << "\" height=\"18\" rx=\"3\" fill=\""
      << (over  ? "#d9534f"
          : key ? "#2f6fb3"
                : "#9fb3c8")
      << "\"/>";
    if (cap.is_number()) {
      const double cx = label_w + bar_w * cap.get<double>() / scale;
      f << "<line class=\"capacity\" x1=\"" << C(cx) << "\" x2=\"" << C(cx) << "\" y1=\"" << C(y)
        << "\" y2=\"" << C(y + 24) << "\" stroke=\"#1d2733\" stroke-width=\"2\"/>";
    }
    std::string text = CountOf(static_cast<int64_t>(n), "account");
    if (cap.is_number()) text += " of " + Num(cap.get<double>());
    f << "<text x=\"" << C(label_w + std::max(w, 1.0) + 6) << "\" y=\"" << C(y + 15) << "\">"
      << E(text) << "</text></g>";
    y += row;
  }
  f << "</svg><p class=\"muted\">Bars: accounts in the tier; black line: the tier's total "
       "capacity. Key tiers (blue) are those with a capacity.";
  for (const auto& t : tiers) {
    if (Member(t, "capacity_per_owner").is_number()) {
      f << " " << E(Str(t, "label")) << ": at most "
        << E(CountOf(Int(t, "capacity_per_owner"), "account")) << " per KAM.";
    }
  }
  f << "</p></section>\n";
}

// The Pareto curve with the configured share (80%) as a line.
void ParetoSection(const json& m, std::ostringstream& f) {
  const json& p = Member(m, "pareto");
  const double share = Dbl(p, "share", 0.8);
  const int64_t n = Int(p, "accounts");
  const double x0 = 40, y0 = 10, w = 500, h = 200;
  f << "<section id=\"pareto\"><h2>Pareto: who makes the revenue</h2>"
    << "<svg viewBox=\"0 0 560 240\" role=\"img\" aria-label=\"Cumulative share of revenue\">"
    << "<rect x=\"" << C(x0) << "\" y=\"" << C(y0) << "\" width=\"" << C(w) << "\" height=\""
    << C(h) << "\" fill=\"#f8fafc\" stroke=\"#c9d2dc\"/>";
  std::string points;
  for (const auto& pt : Arr(p, "curve")) {
    if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number()) continue;
    points += C(x0 + w * pt[0].get<double>()) + "," + C(y0 + h * (1 - pt[1].get<double>())) + " ";
  }
  const double ly = y0 + h * (1 - share);
  f << "<line class=\"share-line\" x1=\"" << C(x0) << "\" x2=\"" << C(x0 + w) << "\" y1=\"" << C(ly)
    << "\" y2=\"" << C(ly) << "\" stroke=\"#d9534f\" stroke-dasharray=\"5 4\"/>"
    << "<text x=\"" << C(x0 + 4) << "\" y=\"" << C(ly - 4) << "\">" << E(Percent(share))
    << " of revenue</text>";
  const double sx = x0 + w * Dbl(p, "share_of_accounts");
  f << "<line x1=\"" << C(sx) << "\" x2=\"" << C(sx) << "\" y1=\"" << C(y0) << "\" y2=\""
    << C(y0 + h) << "\" stroke=\"#d9534f\" stroke-dasharray=\"2 3\"/>"
    << "<polyline class=\"curve\" fill=\"none\" stroke=\"#2f6fb3\" stroke-width=\"2\" points=\""
    << points << "\"/>"
    << "<text x=\"" << C(x0) << "\" y=\"232\">0%</text><text x=\"" << C(x0 + w - 130)
    << "\" y=\"232\">100% of accounts</text><text x=\"0\" y=\"" << C(y0 + 8)
    << "\">100%</text><text x=\"0\" y=\"" << C(y0 + h) << "\">0%</text></svg>";
  f << "<p class=\"summary\">" << E(CountOf(n, "account")) << " ("
    << E(Percent(Dbl(p, "share_of_accounts"))) << " of all) " << (n == 1 ? "makes " : "make ")
    << E(Percent(share)) << " of revenue (" << E(Num(Dbl(p, "total_revenue")))
    << " in total).</p></section>\n";
}

// Score distribution: a histogram with the tiers' minimum scores as lines.
void ScoresSection(const json& m, std::ostringstream& f) {
  const json& s = Member(m, "scores");
  const json& buckets = Arr(s, "buckets");
  double most = 1, top = 1;
  for (const auto& b : buckets) {
    most = std::max(most, Dbl(b, "accounts"));
    top = std::max(top, Dbl(b, "to"));
  }
  const double x0 = 40, y0 = 10, w = 500, h = 180;
  f << "<section id=\"scores\"><h2>Score distribution</h2>"
    << "<svg viewBox=\"0 0 560 220\" role=\"img\" aria-label=\"Accounts per score band\">";
  for (const auto& b : buckets) {
    const double bx = x0 + w * Dbl(b, "from") / top;
    const double bw = w * (Dbl(b, "to") - Dbl(b, "from")) / top;
    const double bh = h * Dbl(b, "accounts") / most;
    f << "<rect class=\"bucket\" x=\"" << C(bx + 1) << "\" y=\"" << C(y0 + h - bh) << "\" width=\""
      << C(std::max(bw - 2, 1.0)) << "\" height=\"" << C(bh) << "\" fill=\"#7fa7d4\"><title>"
      << E(Num(Dbl(b, "from")) + "-" + Num(Dbl(b, "to")) + ": " +
           CountOf(Int(b, "accounts"), "account"))
      << "</title></rect>";
  }
  int nth = 0;  // labels stacked, right-aligned to their line, so that they never overlap
  for (const auto& t : Arr(s, "thresholds")) {
    const double tx = x0 + w * Dbl(t, "min_score") / top;
    f << "<line x1=\"" << C(tx) << "\" x2=\"" << C(tx) << "\" y1=\"" << C(y0) << "\" y2=\""
      << C(y0 + h) << "\" stroke=\"#d9534f\"/><text text-anchor=\"end\" x=\"" << C(tx - 3)
      << "\" y=\"" << C(y0 + 14 + 17 * nth++) << "\">" << E(Str(t, "label")) << "</text>";
  }
  f << "<line x1=\"" << C(x0) << "\" x2=\"" << C(x0 + w) << "\" y1=\"" << C(y0 + h) << "\" y2=\""
    << C(y0 + h) << "\" stroke=\"#1d2733\"/><text x=\"" << C(x0) << "\" y=\"" << C(y0 + h + 16)
    << "\">0</text><text x=\"" << C(x0 + w - 30) << "\" y=\"" << C(y0 + h + 16) << "\">"
    << E(Num(top)) << "</text></svg></section>\n";
}

void HealthSection(const json& m, std::ostringstream& f) {
  f << "<section id=\"health\"><h2>Health by indicator</h2>";
  const json& rows = Arr(m, "health");
  if (rows.empty()) f << "<p class=\"muted\">The rule file has no health indicators.</p>";
  const double label_w = 150, bar_w = 390;
  f << "<svg viewBox=\"0 0 560 " << C(30 * rows.size() + 6) << "\" role=\"img\" "
    << "aria-label=\"Accounts per health status\">";
  double y = 3;
  for (const auto& r : rows) {
    const double g = Dbl(r, "green"), a = Dbl(r, "amber"), red = Dbl(r, "red");
    const double total = std::max(1.0, g + a + red);
    f << "<g class=\"indicator\" data-indicator=\"" << E(Str(r, "id")) << "\"><text x=\"0\" y=\""
      << C(y + 15) << "\">" << E(Str(r, "label")) << "</text>";
    double x = label_w;
    for (auto [n, color, name] :
         {std::tuple{g, "#3c9d5d", "green"}, std::tuple{a, "#e8a33d", "amber"},
          std::tuple{red, "#d9534f", "red"}}) {
      const double bw = bar_w * n / total;
      if (bw <= 0) continue;
      f << "<rect x=\"" << C(x) << "\" y=\"" << C(y + 3) << "\" width=\"" << C(bw)
        << "\" height=\"18\" fill=\"" << color << "\"><title>"
        << E(std::string(name) + ": " + CountOf(static_cast<int64_t>(n), "account"))
        << "</title></rect>";
      if (bw > 28) {
        f << "<text x=\"" << C(x + 4) << "\" y=\"" << C(y + 16)
          << "\" class=\"in\" style=\"fill:#fff\">" << E(Num(n)) << "</text>";
      }
      x += bw;
    }
    f << "</g>";
    y += 30;
  }
  f << "</svg><p class=\"muted\">Green, amber and red accounts per indicator.</p></section>\n";
}

void CappedSection(const json& m, std::ostringstream& f) {
  const json& c = Member(m, "capped");
  const int64_t total = Int(c, "total");
  f << "<section id=\"capped\" class=\"wide\"><h2>Capped by capacity: "
    << E(CountOf(total, "account")) << "</h2>";
  if (total == 0) {
    f << "<p class=\"muted\">No account was moved down by a tier's capacity.</p></section>\n";
    return;
  }
  f << "<table><tr><th>Account<th class=n>Score<th>Tier now<th>KAM<th>Reason</tr>";
  for (const auto& r : Arr(c, "rows")) {
    f << "<tr><td>" << E(Str(r, "name").empty() ? Str(r, "id") : Str(r, "name")) << "<td class=n>"
      << E(Num(Dbl(r, "score"))) << "<td>" << E(Str(r, "tier")) << "<td>" << E(Str(r, "owner"))
      << "<td>" << E(Str(r, "reason")) << "</tr>";
  }
  f << "</table>";
  const auto shown = static_cast<int64_t>(Arr(c, "rows").size());
  if (shown < total)
    f << "<p class=\"muted\">" << E("The first " + Num(shown) + " shown.") << "</p>";
  f << "</section>\n";
}

void MoversSection(const json& m, std::ostringstream& f) {
  const json& mv = Member(m, "movers");
  const int64_t total = Int(mv, "total");
  f << "<section id=\"movers\" class=\"wide\"><h2>Biggest movers since the previous run</h2>";
  if (total == 0) {
    f << "<p class=\"muted\">No score changed since the previous run (or there was none).</p>"
         "</section>\n";
    return;
  }
  f << "<p class=\"muted\">" << E(CountOf(total, "account") + " changed score; the biggest:")
    << "</p><table><tr><th>Account<th class=n>From<th class=n>To<th class=n>Change<th>Tier</tr>";
  for (const auto& r : Arr(mv, "rows")) {
    const double d = Dbl(r, "delta");
    std::string tier = Str(r, "from_tier") == Str(r, "to_tier")
                           ? Str(r, "to_tier")
                           : Str(r, "from_tier") + " \u2192 " + Str(r, "to_tier");
    f << "<tr><td>" << E(Str(r, "name").empty() ? Str(r, "id") : Str(r, "name")) << "<td class=n>"
      << E(Num(Dbl(r, "from"))) << "<td class=n>" << E(Num(Dbl(r, "to")))
      << "<td class=n style=\"color:" << (d < 0 ? "#b42318" : "#1f7a3d") << "\">"
      << E((d > 0 ? "+" : "") + Num(d)) << "<td>" << E(tier) << "</tr>";
  }
  f << "</table></section>\n";
}

// "3 met, 1 not met, 2 unknown" (only the parts that are not zero; "no goals" when all are).
std::string GoalCounts(const json& c) {
  std::string out;
  for (auto [key, words] : {std::pair{"met", " met"}, std::pair{"not_met", " not met"},
                            std::pair{"unknown", " unknown"}}) {
    const int64_t n = Int(c, key);
    if (n > 0) out += (out.empty() ? "" : ", ") + Num(static_cast<double>(n)) + words;
  }
  return out.empty() ? "no goals" : out;
}

// "2 accounts up, 1 down, 5 the same" against the run before; "" when nothing was compared.
std::string TrendCounts(const json& t) {
  const int64_t up = Int(t, "up"), down = Int(t, "down"), same = Int(t, "same");
  if (up + down + same == 0) return "";
  std::string out;
  for (auto [n, words] :
       {std::pair{up, " up"}, std::pair{down, " down"}, std::pair{same, " the same"}}) {
    if (n == 0) continue;
    out += out.empty() ? CountOf(n, "account") + words : ", " + Num(static_cast<double>(n)) + words;
  }
  return out;
}

void KamSection(const json& m, std::ostringstream& f) {
  const json& kams = Arr(m, "kams");
  f << "<section id=\"kams\" class=\"wide\"><h2>Per KAM</h2>";
  if (!Str(m, "owner_names_note").empty()) {
    f << "<p class=\"note\">" << E(Str(m, "owner_names_note")) << "</p>";
  }
  f << "<table><tr><th>KAM<th>Key accounts by tier<th class=n>Open tasks<th>Goals"
       "<th>Attention needed</tr>";
  for (const auto& k : kams) {
    f << "<tr class=\"kam\" data-owner=\"" << E(Str(k, "owner_id")) << "\"><td>"
      << E(Str(k, "name")) << "<td>";
    std::string by_tier;
    for (const auto& t : Arr(k, "key_by_tier")) {
      std::string part = Str(t, "label") + ": " + Num(Dbl(t, "accounts"));
      if (Member(t, "capacity_per_owner").is_number())
        part += " of " + Num(Dbl(t, "capacity_per_owner"));
      by_tier += (by_tier.empty() ? "" : "; ") + part;
    }
    f << "<b>" << E(CountOf(Int(k, "key_accounts"), "key account")) << "</b>"
      << (by_tier.empty() ? "" : "<br><span class=muted>" + E(by_tier) + "</span>")
      << "<td class=n>" << E(Num(Dbl(k, "open_tasks"))) << "<td>"
      << E(GoalCounts(Member(k, "goals")));
    if (const std::string trend = TrendCounts(Member(k, "goals_trend")); !trend.empty()) {
      f << "<br><span class=\"muted trend\">" << E("since the run before: " + trend) << "</span>";
    }
    f << "<td>";
    const int64_t attention = Int(k, "attention_total");
    if (attention == 0) {
      f << "<span class=muted>none</span>";
    } else {
      f << E(CountOf(attention, "account")) << "<ul>";
      for (const auto& a : Arr(k, "attention")) {
        f << "<li>" << E(Str(a, "name").empty() ? Str(a, "id") : Str(a, "name")) << " ";
        for (const auto& r : Arr(a, "reasons")) {
          if (r.is_string()) f << "<span class=tag>" << E(r.get<std::string>()) << "</span>";
        }
        f << "</li>";
      }
      f << "</ul>";
    }
    f << "</tr>";
  }
  f << "</table><p class=\"muted\">Key accounts count only the key tiers (those with a "
       "capacity). Attention: key accounts with a red health indicator, that dropped a tier "
       "or that met fewer goals since the previous run.</p></section>\n";
}

void GoalsSection(const json& m, std::ostringstream& f) {
  const json& g = Member(m, "goals");
  f << "<section id=\"goals\" class=\"wide\"><h2>Goal attainment</h2>";
  const json& tiers = Arr(g, "tiers");
  if (tiers.empty()) {
    f << "<p class=\"muted\">No account has goals (the rule file's goals[] sets targets per "
         "tier), or the last sync predates them.</p>";
  } else {
    f << "<table><tr><th>Tier<th>Goal<th class=n>Met<th class=n>Not met<th class=n>Unknown"
         "<th>Attainment<th>Against the run before</tr>";
    for (const auto& t : tiers) {
      for (const auto& r : Arr(t, "goals")) {
        const double met = Dbl(r, "met"), no = Dbl(r, "not_met"), unk = Dbl(r, "unknown");
        const double total = std::max(1.0, met + no + unk);
        f << "<tr class=\"goal\" data-tier=\"" << E(Str(t, "tier")) << "\" data-goal=\""
          << E(Str(r, "id")) << "\"><td>" << E(Str(t, "label")) << "<td>" << E(Str(r, "label"))
          << "<td class=n>" << E(Num(met)) << "<td class=n>" << E(Num(no)) << "<td class=n>"
          << E(Num(unk)) << "<td><svg viewBox=\"0 0 200 14\" width=\"200\" height=\"14\" "
          << "role=\"img\" aria-label=\"" << E(Percent(met / total) + " met") << "\">";
        double x = 0;
        for (auto [n, color] :
             {std::pair{met, "#3c9d5d"}, std::pair{no, "#d9534f"}, std::pair{unk, "#b8c0cc"}}) {
          const double w = 200 * n / total;
          if (w > 0) {
            f << "<rect x=\"" << C(x) << "\" y=\"0\" width=\"" << C(w) << "\" height=\"14\" fill=\""
              << color << "\"></rect>";
          }
          x += w;
        }
        f << "</svg><td class=\"trend\">";
        // Among the accounts whose attainment at the run before is known: met then -> met now.
        const int64_t compared = Int(r, "compared");
        if (compared == 0) {
          f << "<span class=muted>not known</span>";
        } else {
          const int64_t was = Int(r, "previous_met"), now = Int(r, "compared_met");
          const char* arrow = now > was ? "\u25B2 " : now < was ? "\u25BC " : "";
          const char* color = now > was ? "#1f7a3d" : now < was ? "#b42318" : "#5a6675";
          f << "<span style=\"color:" << color << "\">" << arrow
            << E(Num(static_cast<double>(was)) + " \u2192 " + Num(static_cast<double>(now)) +
                 " met")
            << "</span>";
          if (compared < static_cast<int64_t>(met + no + unk)) {
            f << " <span class=muted>" << E("(" + CountOf(compared, "account") + " compared)")
              << "</span>";
          }
        }
        f << "</tr>";
      }
    }
    f << "</table>";
    for (const auto& t : tiers) {
      const std::string counts = TrendCounts(Member(t, "trend"));
      if (!counts.empty()) {
        f << "<p class=\"trend\" data-tier=\"" << E(Str(t, "tier")) << "\">"
          << E(Str(t, "label") + ": " + counts + " in goals met since the run before.") << "</p>";
      }
    }
    const json& trend = Member(g, "trend");
    if (Int(trend, "down_total") > 0) {
      f << "<p>" << E(CountOf(Int(trend, "down_total"), "account") + " met fewer goals:")
        << "</p><ul class=\"goals-down\">";
      for (const auto& a : Arr(trend, "down_accounts")) {
        f << "<li>" << E(Str(a, "name").empty() ? Str(a, "id") : Str(a, "name")) << " ("
          << E(Str(a, "tier") + ", " + Str(a, "owner"))
          << "): " << E(Num(Dbl(a, "from")) + " \u2192 " + Num(Dbl(a, "to")) + " met") << "</li>";
      }
      f << "</ul>";
    }
  }
  const std::string note = Str(g, "trend_note");
  if (!note.empty()) f << "<p class=\"muted\">" << E(note) << "</p>";
  f << "</section>\n";
}

void BudgetSection(const json& m, std::ostringstream& f) {
  const json& b = Member(m, "task_budget");
  if (!b.is_object()) return;  // no budget in the rule file
  const int64_t dropped = Int(b, "dropped_total");
  f << "<section id=\"budget\" class=\"wide\"><h2>Task budget: "
    << E(Num(Dbl(b, "max_open_per_owner"))) << " open tasks per KAM</h2><p>"
    << E(dropped == 0 ? std::string("The last sync left no suggestion out.")
                      : "The last sync left " + CountOf(dropped, "new suggestion") +
                            " out (tasks.max_open_per_owner); they are suggested again when "
                            "there is room.")
    << "</p>";
  if (dropped > 0) {
    f << "<table><tr><th>KAM<th class=n>Open<th class=n>Suggested<th class=n>Kept"
         "<th class=n>Left out</tr>";
    for (const auto& o : Arr(b, "owners")) {
      if (Int(o, "dropped") == 0) continue;
      f << "<tr><td>" << E(Str(o, "name")) << "<td class=n>" << E(Num(Dbl(o, "open")))
        << "<td class=n>" << E(Num(Dbl(o, "suggested"))) << "<td class=n>" << E(Num(Dbl(o, "kept")))
        << "<td class=n>" << E(Num(Dbl(o, "dropped"))) << "</tr>";
    }
    f << "</table><table><tr><th>Left out<th>Account<th>KAM<th>Why</tr>";
    for (const auto& x : Arr(b, "dropped")) {
      f << "<tr class=\"dropped\"><td>" << E(Str(x, "title")) << "<td>"
        << E(Str(x, "name").empty() ? Str(x, "account_id") : Str(x, "name")) << "<td>"
        << E(Str(x, "owner")) << "<td>" << E(Str(x, "reason")) << "</tr>";
    }
    f << "</table>";
  }
  f << "</section>\n";
}

}  // namespace

std::string RenderReportHtml(const json& model) {
  std::ostringstream f;
  const json& rules = Member(model, "rules");
  const int64_t accounts = Int(model, "accounts");
  int64_t key = 0;
  for (const auto& t : Arr(model, "tiers")) {
    if (Member(t, "key").is_boolean() && Member(t, "key").get<bool>()) key += Int(t, "accounts");
  }
  f << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\">"
       "<title>KAM portfolio report</title><style>"
    << kStyle << "</style></head><body><main>\n<header><h1>KAM portfolio report</h1><p>"
    << E("Rule file " + Str(rules, "name") + " " + Str(rules, "version") + " \u00b7 made " +
         Str(model, "generated_at"))
    << (Member(model, "last_run_at").is_string()
            ? E(" \u00b7 last sync " + Str(model, "last_run_at"))
            : std::string())
    << "</p><div class=\"kpis\"><div class=\"kpi\" id=\"kpi-accounts\"><b>" << E(Num(accounts))
    << "</b>" << (accounts == 1 ? "account" : "accounts") << "</div><div class=\"kpi\"><b>"
    << E(Num(key)) << "</b>" << (key == 1 ? "key account" : "key accounts")
    << "</div><div class=\"kpi\"><b>" << E(Num(Int(Member(model, "capped"), "total")))
    << "</b>capped</div></div></header>\n<div class=\"grid\">\n";
  TiersSection(model, f);
  ParetoSection(model, f);
  ScoresSection(model, f);
  HealthSection(model, f);
  KamSection(model, f);
  GoalsSection(model, f);
  BudgetSection(model, f);
  CappedSection(model, f);
  MoversSection(model, f);
  f << "</div></main></body></html>\n";
  return f.str();
}

void WriteReportHtml(const std::string& path, const json& model, Host& host) {
  std::string page = RenderReportHtml(model);
  host.Redact(page);
  // The page holds CRM data (company names, owners, scores): owner-only whatever the umask, as
  // the state file.
  if (const int err = ReplaceFile(path, page, 0600); err != 0) {
    throw OpError(err == ENOENT || err == EACCES || err == EISDIR || err == ENOTDIR
                      ? StatusCode::kInvalidArgument
                      : StatusCode::kInternal,
                  "cannot write the HTML report to " + path + ": " + std::strerror(err));
  }
}

}  // namespace kam::engine
