// kam.card.v1: the record card's view model, built from an evaluated account, with a
// deterministic cut to stay below the CRM property's length limit.
#include "kam/rules/card.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "internal.h"
#include "kam/common/html.h"

namespace kam::rules {

using common::HtmlEscape;
using nlohmann::json;

namespace {

constexpr size_t kLongText = 200;
constexpr size_t kCardMinBytes = 4096;
constexpr size_t kTruncatedRoom = 96;  // ["long_texts",...,"ids"] is 75 bytes

// "relationship_depth" -> "Relationship depth".
std::string Readable(const std::string& id) {
  std::string out = id;
  std::replace(out.begin(), out.end(), '_', ' ');
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

json ParseValue(const std::string& text) {
  if (text.empty() || text == "absent") return nullptr;
  json v = json::parse(text, nullptr, false);
  return v.is_discarded() ? json(text) : v;
}

// Whole numbers as JSON integers (630, not 630.0): shorter, and what people expect.
json Num(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
    return static_cast<int64_t>(v);
  }
  return v;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Cuts a string to at most `max` bytes on a UTF-8 boundary and marks the cut with "…".
bool CutText(std::string& s, size_t max) {
  if (s.size() <= max) return false;
  size_t n = max - 3;  // room for "…" (3 bytes)
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  s += "\xE2\x80\xA6";
  return true;
}

bool CutLongTexts(json& j, size_t max = kLongText) {
  bool cut = false;
  if (j.is_string()) {
    cut = CutText(j.get_ref<std::string&>(), max);
  } else if (j.is_array() || j.is_object()) {
    for (auto& v : j) cut = CutLongTexts(v, max) || cut;
  }
  return cut;
}

// The goal attainment against the previous run: null when neither run had goals or the previous
// one is not known; else the met counts, the direction (by the met count) and the goals whose
// status changed, in the order of the current goals (then goals gone since).
json GoalsTrend(const RuleSet::Impl& rs, const std::vector<GoalResult>& goals,
                const std::optional<std::map<std::string, std::string>>& previous) {
  if (!previous || (goals.empty() && previous->empty())) return nullptr;
  int64_t met = 0, previous_met = 0;
  for (const auto& [id, status] : *previous) previous_met += status == "met";
  json changed = json::array();
  std::map<std::string, bool> seen;
  for (const auto& g : goals) {
    met += g.status == "met";
    seen[g.id] = true;
    auto it = previous->find(g.id);
    std::string before = it == previous->end() ? "" : it->second;
    if (before != g.status) {
      changed.push_back({{"id", g.id},
                         {"label", g.label},
                         {"from", before.empty() ? json(nullptr) : json(before)},
                         {"to", g.status}});
    }
  }
  for (const auto& [id, status] : *previous) {  // goals its tier no longer has
    if (seen.count(id)) continue;
    std::string label = id;
    for (const auto& def : rs.goals) {
      if (def.id == id && !def.label.empty()) label = def.label;
    }
    changed.push_back({{"id", id}, {"label", label}, {"from", status}, {"to", nullptr}});
  }
  return {{"direction", met > previous_met   ? "up"
                        : met < previous_met ? "down"
                                             : "same"},
          {"met", met},
          {"previous_met", previous_met},
          {"changed", std::move(changed)}};
}

}  // namespace

std::string BuildCard(const RuleSet& rules, const AccountResult& result,
                      const CardOptions& options) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  auto tier_json = [&](const std::string& id) {
    int index = rs.TierIndex(id);
    return json{{"id", id},
                {"label", index >= 0 ? rs.tiers[static_cast<size_t>(index)].label : id}};
  };
  const std::string& final_tier = result.final_tier.empty() ? result.tier : result.final_tier;

  json breakdown = json::array();
  double score_max = 0;
  for (size_t i = 0; i < result.criteria.size(); ++i) {
    const CriterionResult& c = result.criteria[i];
    const internal::CriterionDef* def = i < rs.criteria.size() ? &rs.criteria[i] : nullptr;
    json inputs = json::array();
    for (const auto& in : c.inputs)
      inputs.push_back({{"path", in.path}, {"value", ParseValue(in.value)}});
    breakdown.push_back(
        {{"criterion", c.id},
         {"label", def != nullptr && !def->label.empty() ? def->label : Readable(c.id)},
         {"weight", Num(c.weight)},
         {"score", Num(c.score)},
         {"points", Num(c.weight * c.score)},
         {"inputs", std::move(inputs)}});
    score_max += c.weight * 10;
  }

  // The next tier by score, and the criteria with the most room to lift the score towards it.
  json next = nullptr;
  int tier_index = rs.TierIndex(result.tier);
  if (tier_index > 0) {
    const TierSpec& up = rs.tiers[static_cast<size_t>(tier_index - 1)];
    json needed = nullptr;
    double gap = 0;
    if (std::isfinite(up.min_score)) {
      gap = std::max(0.0, up.min_score - result.score);
      needed = Num(gap);
    }
    std::vector<size_t> order(result.criteria.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto room = [&](size_t i) {
      return result.criteria[i].weight * std::max(0.0, 10 - result.criteria[i].score);
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return room(a) > room(b); });
    json levers = json::array();
    for (size_t i : order) {
      if (levers.size() == 3 || room(i) <= 0) break;
      const CriterionResult& c = result.criteria[i];
      double to = 10;
      if (!needed.is_null() && c.weight > 0) {
        to = std::min(10.0, c.score + std::max(1.0, std::ceil(gap / c.weight)));
      }
      double points = c.weight * (to - c.score);
      levers.push_back({{"criterion", c.id},
                        {"label", breakdown[i]["label"]},
                        {"score", Num(c.score)},
                        {"to", Num(to)},
                        {"points", Num(points)},
                        {"lifts_alone", !needed.is_null() && points >= gap}});
    }
    next = {{"id", up.id},
            {"label", up.label},
            {"points_needed", needed},
            {"levers", std::move(levers)},
            {"hint", result.next_tier.hint}};
  }

  json health = json::array();
  for (const auto& h : result.health) {
    health.push_back({{"id", h.id}, {"label", h.label}, {"status", h.status}});
  }
  json goals = json::array();
  for (const auto& g : result.goals) goals.push_back(internal::GoalJson(g));

  json card = {{"schema", kCardVersion},
               {"account_id", result.account_id},
               {"score", Num(result.score)},
               {"score_max", rs.score_rule ? json(nullptr) : Num(score_max)},
               {"tier", tier_json(final_tier)},
               {"tier_by_score", tier_json(result.tier)},
               {"capped_reason", result.capped_reason},
               {"rank", result.rank},
               {"pareto", result.pareto},
               {"scored_at", options.scored_at},
               {"rules_version", result.receipt.rules_version},
               {"breakdown", std::move(breakdown)},
               {"next_tier", std::move(next)},
               {"health", std::move(health)},
               {"goals", std::move(goals)},
               {"goals_trend", GoalsTrend(rs, result.goals, options.previous_goals)},
               {"open_tasks", options.open_tasks ? json(*options.open_tasks) : json(nullptr)},
               {"truncated", json::array()}};

  // The deterministic cut: each step only when the card is still too long.
  // While cutting, room is kept for the names that "truncated" gains.
  const size_t max = std::max<size_t>(options.max_bytes, kCardMinBytes) - kTruncatedRoom;
  std::string text = Dump(card);
  auto too_long = [&] { return text.size() > max; };
  auto mark = [&](const char* what) {
    card["truncated"].push_back(what);
    text = Dump(card);
  };
  if (too_long() && CutLongTexts(card)) mark("long_texts");
  if (too_long()) {
    for (auto& row : card["breakdown"]) row["inputs"] = json::array();
    mark("inputs");
  }
  struct Step {
    const char* list;
    const char* name;
  };
  for (Step step : {Step{"goals", "goals"}, Step{"health", "health"}}) {
    if (!too_long() || card[step.list].empty()) continue;
    while (too_long() && !card[step.list].empty()) {
      card[step.list].erase(card[step.list].size() - 1);
      text = Dump(card);
    }
    mark(step.name);
  }
  if (too_long() && !card["next_tier"].is_null()) {
    card["next_tier"]["levers"] = json::array();
    card["next_tier"]["hint"] = "";
    mark("levers");
  }
  if (too_long()) {
    while (too_long() && !card["breakdown"].empty()) {
      card["breakdown"].erase(card["breakdown"].size() - 1);
      text = Dump(card);
    }
    mark("breakdown");
  }
  if (too_long()) {  // only ids and labels of absurd length are left: cut every text hard
    CutLongTexts(card, 32);
    mark("ids");
  }
  return text;
}

namespace {

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string Text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "empty";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number()) return internal::FormatNumber(v.get<double>());
  return v.dump();
}

struct HtmlSection {
  std::string heading;             // escaped already
  std::vector<std::string> items;  // escaped already
};

}  // namespace

std::string RenderCardHtml(std::string_view card_json, size_t max_chars) {
  json card = json::parse(card_json, nullptr, false);
  if (card.is_discarded() || !card.is_object() || card.value("schema", "") != kCardVersion) {
    return "";
  }
  auto label = [](const json& j) {
    return Text(j.contains("label") ? j["label"] : j.value("id", json("")));
  };
  std::string head = "<p><strong>" + HtmlEscape(label(card.value("tier", json::object()))) +
                     "</strong> · score " + HtmlEscape(Text(card.value("score", json(0))));
  if (card.value("score_max", json()).is_number())
    head += " of " + HtmlEscape(Text(card["score_max"]));
  head += "</p>";
  const json by_score = card.value("tier_by_score", json::object());
  if (by_score.value("id", "") != card.value("tier", json::object()).value("id", "")) {
    head += "<p>Scored as " + HtmlEscape(label(by_score)) + ": " +
            HtmlEscape(card.value("capped_reason", "")) + "</p>";
  }
  // Sections in display order; cut order is the reverse (breakdown first).
  std::vector<HtmlSection> sections;
  if (const json& next = card.value("next_tier", json()); next.is_object()) {
    HtmlSection s;
    s.heading = next["points_needed"].is_number() ? HtmlEscape(Text(next["points_needed"])) +
                                                        " points to " + HtmlEscape(label(next))
                                                  : "Next tier: " + HtmlEscape(label(next));
    for (const auto& l : next.value("levers", json::array())) {
      s.items.push_back(HtmlEscape(label(l) + ": " + Text(l["score"]) + " → " + Text(l["to"]) +
                                   " (+" + Text(l["points"]) + " points" +
                                   (l.value("lifts_alone", false) ? ", enough on its own)" : ")")));
    }
    sections.push_back(std::move(s));
  }
  {
    HtmlSection s;
    size_t met = 0;
    const json goals = card.value("goals", json::array());
    for (const auto& g : goals) {
      met += g.value("status", "") == "met";
      std::string status = g.value("status", "unknown");
      std::replace(status.begin(), status.end(), '_', ' ');
      std::string unit = g.contains("unit") ? " " + Text(g["unit"]) : "";
      std::string cmp = g.value("comparison", "");
      std::replace(cmp.begin(), cmp.end(), '_', ' ');
      s.items.push_back(HtmlEscape(
          label(g) + ": " + status + " (" + Text(g["value"]) + (g["value"].is_null() ? "" : unit) +
          ", target " + (cmp == "equals" ? "" : cmp + " ") + Text(g["target"]) + unit + ")"));
    }
    s.heading = goals.empty() ? "No goals for this tier"
                              : "Goals: " + std::to_string(met) + " of " +
                                    std::to_string(goals.size()) + " met";
    sections.push_back(std::move(s));
  }
  {
    HtmlSection s{"Health", {}};
    for (const auto& h : card.value("health", json::array())) {
      s.items.push_back(HtmlEscape(label(h) + ": " + h.value("status", "")));
    }
    sections.push_back(std::move(s));
  }
  {
    HtmlSection s{"Breakdown (weight × score = points)", {}};
    for (const auto& r : card.value("breakdown", json::array())) {
      s.items.push_back(HtmlEscape(label(r) + ": " + Text(r["weight"]) + " × " + Text(r["score"]) +
                                   " = " + Text(r["points"])));
    }
    sections.push_back(std::move(s));
  }
  const json open = card.value("open_tasks", json());
  std::string foot = open.is_number() ? Text(open) + (open.get<double>() == 1 ? " open KAM task"
                                                                              : " open KAM tasks")
                                      : "Open KAM tasks: unknown";
  // The goal trend compares with the run before the scoring: it sits with the scored-at time,
  // which SameCard leaves out.
  std::string trend;
  if (const json& t = card.value("goals_trend", json()); t.is_object()) {
    const std::string direction = t.value("direction", "same");
    trend = "; goals " + (direction == "same" ? std::string("unchanged") : direction) +
            " since the run before (" + Text(t.value("previous_met", json(0))) + " → " +
            Text(t.value("met", json(0))) + " met)";
  }
  foot = "<p>" + HtmlEscape(foot) + "<br>Scored " + HtmlEscape(card.value("scored_at", "")) +
         HtmlEscape(trend) + " · rules " + HtmlEscape(card.value("rules_version", ""));

  auto render = [&](bool shortened) {
    std::string out = head;
    for (const auto& s : sections) {
      out += "<p><strong>" + s.heading + "</strong></p>";
      if (s.items.empty()) continue;
      out += "<ul>";
      for (const auto& item : s.items) out += "<li>" + item + "</li>";
      out += "</ul>";
    }
    out += foot;
    if (shortened) out += "<br>Shortened to fit the field: kam rules explain shows everything.";
    return out + "</p>";
  };
  std::string html = render(false);
  for (size_t k = sections.size(); k-- > 0 && Utf8Chars(html) > max_chars;) {
    while (!sections[k].items.empty() && Utf8Chars(html) > max_chars) {
      sections[k].items.pop_back();
      html = render(true);
    }
  }
  if (Utf8Chars(html) > max_chars) return "";  // not even the headings fit
  return html;
}

namespace {

constexpr std::string_view kScoredMark = "<br>Scored ";
constexpr std::string_view kRulesMark = " \xC2\xB7 rules ";  // " · rules "

// A card value without its scored-at time (and rank, pareto, goal trend): JSON without the members,
// HTML without the time and the trend in the footer ("<br>Scored 2026-…; goals up … · rules");
// nullopt when it is neither.
std::optional<std::string> WithoutScoredAt(std::string_view text) {
  if (!text.empty() && text.front() == '{') {
    json card = json::parse(text, nullptr, false);
    if (card.is_discarded() || !card.is_object() || card.value("schema", "") != kCardVersion) {
      return std::nullopt;
    }
    card.erase("scored_at");
    card.erase("rank");
    card.erase("pareto");
    card.erase("goals_trend");
    return Dump(card);
  }
  size_t at = text.rfind(kScoredMark);
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = text.find(kRulesMark, at + kScoredMark.size());
  if (end == std::string_view::npos) return std::nullopt;
  std::string out(text.substr(0, at + kScoredMark.size()));
  out += text.substr(end);
  return out;
}

}  // namespace

bool SameCard(std::string_view a, std::string_view b) {
  if (a == b) return true;
  // An empty value (no card in the CRM yet: every account of a first sync) or a JSON card
  // against an HTML one is never the same card: no need to parse the other side.
  if (a.empty() || b.empty() || (a.front() == '{') != (b.front() == '{')) return false;
  std::optional<std::string> x = WithoutScoredAt(a);
  std::optional<std::string> y = WithoutScoredAt(b);
  return x && y && *x == *y;
}

}  // namespace kam::rules
