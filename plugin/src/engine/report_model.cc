// The portfolio report's model (see report_model.h).
#include "report_model.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "kam/rules/rules.h"
#include "kam/store/store.h"

namespace kam::engine {
namespace {

using nlohmann::json;

constexpr size_t kMaxCapped = 50;
constexpr size_t kMaxMovers = 10;
constexpr size_t kMaxAttention = 5;
constexpr size_t kMaxCurvePoints = 101;

std::string IsoUtc(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string OwnerName(const ReportData& d, const std::string& id) {
  if (id.empty()) return "(no owner)";
  auto it = d.owner_names.find(id);
  if (it != d.owner_names.end() && !it->second.empty()) return it->second;
  return "Owner " + id;
}

// The rule engine's reason names the owner by id ("… reached for owner 60000407"): name them.
std::string NameOwnerIn(const ReportData& d, std::string text, const std::string& owner_id) {
  auto it = d.owner_names.find(owner_id);
  if (owner_id.empty() || it == d.owner_names.end() || it->second.empty()) return text;
  const std::string needle = "owner " + owner_id;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    size_t end = at + needle.size();
    if (end < text.size() && text[end] >= '0' && text[end] <= '9') continue;
    text.replace(at, needle.size(), it->second);
    at += it->second.size() - 1;
  }
  return text;
}

// A bucket width of 1, 2 or 5 times a power of ten, giving at most 20 buckets up to `top`.
double BucketWidth(double top) {
  double width = 1;
  for (int i = 0; i < 40; ++i) {
    for (double m : {1.0, 2.0, 5.0}) {
      double w = m * std::pow(10.0, i - 3);
      if (w >= 1 && top / w <= 20) return w;
    }
  }
  return width;
}

json Optional(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// One account's goals met now and at the run before; nullopt when that run's attainment is not
// known, or when the account had goals neither then nor now.
struct GoalTrend {
  int64_t met = 0, previous_met = 0;
  const char* direction() const {
    return met > previous_met ? "up" : met < previous_met ? "down" : "same";
  }
};
std::optional<GoalTrend> GoalTrendOf(const ReportAccount& a) {
  if (!a.previous_goals || (a.goals.empty() && a.previous_goals->empty())) return std::nullopt;
  GoalTrend t;
  for (const auto& g : a.goals) t.met += g.status == "met";
  for (const auto& [id, status] : *a.previous_goals) t.previous_met += status == "met";
  return t;
}

}  // namespace

std::string CountOf(int64_t n, const std::string& singular, const std::string& plural) {
  const std::string& word = n == 1 ? singular : (plural.empty() ? singular + "s" : plural);
  return std::to_string(n) + " " + word;
}

json BuildReportModel(const ReportData& d) {
  std::map<std::string, size_t> tier_index;
  for (size_t i = 0; i < d.tiers.size(); ++i) tier_index[d.tiers[i].id] = i;
  auto tier_label = [&](const std::string& id) -> std::string {
    auto it = tier_index.find(id);
    return it == tier_index.end() ? id : d.tiers[it->second].label;
  };
  auto is_key = [&](const std::string& id) {
    auto it = tier_index.find(id);
    return it != tier_index.end() && d.tiers[it->second].key();
  };

  // Tiers against capacity.
  std::map<std::string, int64_t> per_tier;
  for (const auto& a : d.accounts) per_tier[a.tier]++;
  json tiers = json::array();
  for (const auto& t : d.tiers) {
    tiers.push_back({{"id", t.id},
                     {"label", t.label},
                     {"key", t.key()},
                     {"min_score", t.min_score},
                     {"accounts", per_tier[t.id]},
                     {"capacity_total", Optional(t.capacity_total)},
                     {"capacity_per_owner", Optional(t.capacity_per_owner)}});
  }

  // Pareto: accounts by revenue, descending; the curve as (share of accounts, share of revenue).
  std::vector<double> revenue;
  double total_revenue = 0;
  for (const auto& a : d.accounts) {
    revenue.push_back(std::max(0.0, a.revenue));
    total_revenue += std::max(0.0, a.revenue);
  }
  std::sort(revenue.rbegin(), revenue.rend());
  json curve = json::array({json::array({0.0, 0.0})});
  int64_t pareto_accounts = 0;
  {
    double acc = 0;
    const size_t n = revenue.size();
    const size_t step = n < kMaxCurvePoints ? 1 : (n + kMaxCurvePoints - 2) / (kMaxCurvePoints - 1);
    bool reached = total_revenue <= 0;
    for (size_t i = 0; i < n; ++i) {
      acc += revenue[i];
      if (!reached && acc >= d.pareto_share * total_revenue - 1e-9) {
        pareto_accounts = static_cast<int64_t>(i + 1);
        reached = true;
      }
      if ((i + 1) % step == 0 || i + 1 == n) {
        curve.push_back(
            {static_cast<double>(i + 1) / n, total_revenue > 0 ? acc / total_revenue : 0.0});
      }
    }
  }
  json pareto = {
      {"share", d.pareto_share},
      {"accounts", pareto_accounts},
      {"share_of_accounts",
       d.accounts.empty() ? 0.0 : static_cast<double>(pareto_accounts) / d.accounts.size()},
      {"total_revenue", total_revenue},
      {"curve", curve}};

  // Score distribution with the tier thresholds.
  double top = 1;
  for (const auto& a : d.accounts) top = std::max(top, a.score);
  for (const auto& t : d.tiers) top = std::max(top, t.min_score);
  const double width = BucketWidth(top);
  const auto n_buckets = static_cast<size_t>(std::floor(top / width)) + 1;
  std::vector<int64_t> buckets(n_buckets, 0);
  for (const auto& a : d.accounts) {
    auto b = static_cast<size_t>(std::max(0.0, std::floor(a.score / width)));
    buckets[std::min(b, n_buckets - 1)]++;
  }
  json bucket_rows = json::array();
  for (size_t i = 0; i < n_buckets; ++i) {
    bucket_rows.push_back({{"from", i * width}, {"to", (i + 1) * width}, {"accounts", buckets[i]}});
  }
  json thresholds = json::array();
  for (const auto& t : d.tiers) {
    if (t.min_score > 0)
      thresholds.push_back({{"tier", t.id}, {"label", t.label}, {"min_score", t.min_score}});
  }
  json scores = {{"bucket_width", width}, {"buckets", bucket_rows}, {"thresholds", thresholds}};

  // Accounts in report order: tier order, then score descending, then id.
  std::vector<const ReportAccount*> ordered;
  for (const auto& a : d.accounts) ordered.push_back(&a);
  auto rank = [&](const ReportAccount* a) {
    auto it = tier_index.find(a->tier);
    return it == tier_index.end() ? d.tiers.size() : it->second;
  };
  std::sort(ordered.begin(), ordered.end(), [&](const ReportAccount* x, const ReportAccount* y) {
    if (rank(x) != rank(y)) return rank(x) < rank(y);
    if (x->score != y->score) return x->score > y->score;
    return x->id < y->id;
  });

  // Capped accounts.
  json capped_rows = json::array();
  int64_t capped_total = 0;
  for (const ReportAccount* a : ordered) {
    if (a->capped_reason.empty()) continue;
    ++capped_total;
    if (capped_rows.size() < kMaxCapped) {
      capped_rows.push_back({{"id", a->id},
                             {"name", a->name},
                             {"tier", tier_label(a->tier)},
                             {"score", a->score},
                             {"owner", OwnerName(d, a->owner_id)},
                             {"reason", NameOwnerIn(d, a->capped_reason, a->owner_id)}});
    }
  }

  // Movers since the previous run.
  std::vector<const ReportAccount*> moved;
  for (const auto& a : d.accounts) {
    if (a.previous_score && std::fabs(a.score - *a.previous_score) > 1e-9) moved.push_back(&a);
  }
  std::sort(moved.begin(), moved.end(), [](const ReportAccount* x, const ReportAccount* y) {
    double dx = std::fabs(x->score - *x->previous_score);
    double dy = std::fabs(y->score - *y->previous_score);
    if (dx != dy) return dx > dy;
    return x->id < y->id;
  });
  json mover_rows = json::array();
  for (size_t i = 0; i < moved.size() && i < kMaxMovers; ++i) {
    const ReportAccount& a = *moved[i];
    mover_rows.push_back({{"id", a.id},
                          {"name", a.name},
                          {"from", *a.previous_score},
                          {"to", a.score},
                          {"delta", a.score - *a.previous_score},
                          {"from_tier", tier_label(a.previous_tier)},
                          {"to_tier", tier_label(a.tier)}});
  }

  // Health by indicator, in the order first seen.
  std::vector<std::string> health_order;
  std::map<std::string, json> health;
  for (const auto& a : d.accounts) {
    for (const auto& h : a.health) {
      auto [it, inserted] =
          health.try_emplace(h.id, json{{"id", h.id},
                                        {"label", h.label.empty() ? h.id : h.label},
                                        {"green", 0},
                                        {"amber", 0},
                                        {"red", 0}});
      if (inserted) health_order.push_back(h.id);
      if (h.status == "green" || h.status == "amber" || h.status == "red") {
        it->second[h.status] = it->second[h.status].get<int64_t>() + 1;
      }
    }
  }
  json health_rows = json::array();
  for (const auto& id : health_order) health_rows.push_back(health[id]);

  // Per KAM: key accounts by key tier, open tasks, attention needed.
  struct Kam {
    std::map<std::string, int64_t> key_by_tier;
    int64_t key = 0;
    int64_t accounts = 0;
    json attention = json::array();
    int64_t attention_total = 0;
  };
  std::map<std::string, Kam> kams;
  for (const auto& [owner, n] : d.open_tasks) {
    if (n > 0) kams[owner];
  }
  for (const ReportAccount* a : ordered) {
    Kam& k = kams[a->owner_id];
    k.accounts++;
    if (!is_key(a->tier)) continue;
    k.key_by_tier[a->tier]++;
    k.key++;
    json reasons = json::array();
    for (const auto& h : a->health) {
      if (h.status == "red") reasons.push_back((h.label.empty() ? h.id : h.label) + " is red");
    }
    if (!a->previous_tier.empty() && a->previous_tier != a->tier) {
      auto was = tier_index.find(a->previous_tier);
      if (was != tier_index.end() && was->second < rank(a)) {
        reasons.push_back("dropped from " + tier_label(a->previous_tier));
      }
    }
    if (auto t = GoalTrendOf(*a); t && t->met < t->previous_met) {
      reasons.push_back("goals met down from " + std::to_string(t->previous_met) + " to " +
                        std::to_string(t->met));
    }
    if (reasons.empty()) continue;
    k.attention_total++;
    if (k.attention.size() < kMaxAttention) {
      k.attention.push_back(
          {{"id", a->id}, {"name", a->name}, {"tier", tier_label(a->tier)}, {"reasons", reasons}});
    }
  }
  std::vector<std::pair<std::string, const Kam*>> kam_order;
  for (const auto& [owner, k] : kams) kam_order.emplace_back(owner, &k);
  std::sort(kam_order.begin(), kam_order.end(), [&](const auto& x, const auto& y) {
    if (x.second->key != y.second->key) return x.second->key > y.second->key;
    return OwnerName(d, x.first) < OwnerName(d, y.first);
  });
  json kam_rows = json::array();
  for (const auto& [owner, k] : kam_order) {
    json by_tier = json::array();
    for (const auto& t : d.tiers) {
      if (!t.key()) continue;
      auto it = k->key_by_tier.find(t.id);
      by_tier.push_back({{"tier", t.id},
                         {"label", t.label},
                         {"accounts", it == k->key_by_tier.end() ? 0 : it->second},
                         {"capacity_per_owner", Optional(t.capacity_per_owner)}});
    }
    auto tasks = d.open_tasks.find(owner);
    kam_rows.push_back({{"owner_id", owner},
                        {"name", OwnerName(d, owner)},
                        {"accounts", k->accounts},
                        {"key_accounts", k->key},
                        {"key_by_tier", by_tier},
                        {"open_tasks", tasks == d.open_tasks.end() ? 0 : tasks->second},
                        {"attention_total", k->attention_total},
                        {"attention", k->attention}});
  }

  // Goal attainment per key tier and goal, and per KAM (the goals of their accounts' tiers), with
  // the trend against the run before (score history).
  json goal_tiers = json::array();
  std::map<std::string, std::map<std::string, int64_t>> tier_trend;
  for (const auto& t : d.tiers) {
    std::vector<std::string> order;
    std::map<std::string, json> rows;
    for (const ReportAccount* a : ordered) {
      if (a->tier != t.id) continue;
      for (const auto& g : a->goals) {
        auto [it, inserted] =
            rows.try_emplace(g.id, json{{"id", g.id},
                                        {"label", g.label.empty() ? g.id : g.label},
                                        {"met", 0},
                                        {"not_met", 0},
                                        {"unknown", 0}});
        if (inserted) order.push_back(g.id);
        if (g.status == "met" || g.status == "not_met" || g.status == "unknown") {
          it->second[g.status] = it->second[g.status].get<int64_t>() + 1;
        }
        // The same accounts at the run before: how many had this goal met then.
        if (a->previous_goals) {
          it->second["compared"] = it->second.value("compared", int64_t{0}) + 1;
          auto was = a->previous_goals->find(g.id);
          const bool met_then = was != a->previous_goals->end() && was->second == "met";
          it->second["previous_met"] = it->second.value("previous_met", int64_t{0}) + met_then;
          it->second["compared_met"] =
              it->second.value("compared_met", int64_t{0}) + (g.status == "met");
        }
      }
      if (auto trend = GoalTrendOf(*a)) tier_trend[t.id][trend->direction()]++;
    }
    if (order.empty()) continue;
    json goal_rows = json::array();
    for (const auto& id : order) {
      json row = rows[id];
      row["compared"] = row.value("compared", int64_t{0});
      row["previous_met"] = row.value("previous_met", int64_t{0});
      row["compared_met"] = row.value("compared_met", int64_t{0});
      goal_rows.push_back(std::move(row));
    }
    auto& tt = tier_trend[t.id];
    goal_tiers.push_back(
        {{"tier", t.id},
         {"label", t.label},
         {"goals", goal_rows},
         {"trend", {{"up", tt["up"]}, {"down", tt["down"]}, {"same", tt["same"]}}}});
  }
  std::map<std::string, std::map<std::string, int64_t>> goals_per_owner;
  std::map<std::string, std::map<std::string, int64_t>> trend_per_owner;
  std::map<std::string, int64_t> trend_total;
  int64_t not_compared = 0;
  json went_down = json::array();
  int64_t went_down_total = 0;
  for (const ReportAccount* a : ordered) {
    for (const auto& g : a->goals) goals_per_owner[a->owner_id][g.status]++;
    auto trend = GoalTrendOf(*a);
    if (!trend) {
      not_compared += !a->goals.empty();
      continue;
    }
    trend_per_owner[a->owner_id][trend->direction()]++;
    trend_total[trend->direction()]++;
    if (trend->met < trend->previous_met) {
      ++went_down_total;
      if (went_down.size() < kMaxMovers) {
        went_down.push_back({{"id", a->id},
                             {"name", a->name},
                             {"tier", tier_label(a->tier)},
                             {"owner", OwnerName(d, a->owner_id)},
                             {"from", trend->previous_met},
                             {"to", trend->met}});
      }
    }
  }
  for (auto& row : kam_rows) {
    const std::string owner = row["owner_id"].get<std::string>();
    auto& counts = goals_per_owner[owner];
    row["goals"] = {
        {"met", counts["met"]}, {"not_met", counts["not_met"]}, {"unknown", counts["unknown"]}};
    auto& trend = trend_per_owner[owner];
    row["goals_trend"] = {{"up", trend["up"]}, {"down", trend["down"]}, {"same", trend["same"]}};
  }
  const int64_t compared = trend_total["up"] + trend_total["down"] + trend_total["same"];
  json trend = nullptr;
  std::string trend_note;
  if (compared > 0) {
    trend = {{"up", trend_total["up"]},       {"down", trend_total["down"]},
             {"same", trend_total["same"]},   {"not_compared", not_compared},
             {"down_total", went_down_total}, {"down_accounts", went_down}};
    trend_note =
        "Trend: each account's goals met now against the sync before the last one (score "
        "history), per tier and per KAM.";
    if (not_compared > 0) {
      trend_note += " " + CountOf(not_compared, "account") +
                    " with goals had no attainment recorded then and " +
                    (not_compared == 1 ? "is" : "are") + " not compared.";
    }
  } else {
    trend_note =
        "No goal trend yet: it compares each account's goals with the sync before the last one, "
        "and needs two syncs that recorded goal attainment.";
  }
  json goals = {{"tiers", goal_tiers}, {"trend", trend}, {"trend_note", trend_note}};

  // The last sync's task budget.
  json budget = nullptr;
  if (d.budget.max_open_per_owner) {
    json owners = json::array();
    for (const auto& o : d.budget.owners) {
      owners.push_back({{"owner_id", o.owner_id},
                        {"name", OwnerName(d, o.owner_id)},
                        {"open", o.open},
                        {"suggested", o.suggested},
                        {"kept", o.kept},
                        {"dropped", o.dropped}});
    }
    json dropped = json::array();
    for (const auto& x : d.budget.dropped) {
      if (dropped.size() >= kMaxCapped) break;
      dropped.push_back({{"account_id", x.account_id},
                         {"name", x.name},
                         {"owner", OwnerName(d, x.owner_id)},
                         {"title", x.title},
                         {"priority", x.priority},
                         {"reason", NameOwnerIn(d, x.reason, x.owner_id)}});
    }
    budget = {{"max_open_per_owner", *d.budget.max_open_per_owner},
              {"dropped_total", d.budget.dropped_total},
              {"owners", owners},
              {"dropped", dropped}};
  }

  return {{"schema", "kam.report.v1"},
          {"rules", {{"name", d.rules_name}, {"version", d.rules_version}}},
          {"generated_at", IsoUtc(d.generated_ms)},
          {"last_run_at", d.last_run_ms > 0 ? json(IsoUtc(d.last_run_ms)) : json(nullptr)},
          {"accounts", d.accounts.size()},
          {"tiers", tiers},
          {"pareto", pareto},
          {"scores", scores},
          {"capped", {{"total", capped_total}, {"rows", capped_rows}}},
          {"movers", {{"total", moved.size()}, {"rows", mover_rows}}},
          {"health", health_rows},
          {"kams", kam_rows},
          {"goals", goals},
          {"task_budget", budget},
          {"owner_names_note", d.owner_names_note}};
}

const store::HistoryRow* PreviousScoreRow(const std::vector<store::HistoryRow>& history) {
  if (history.empty()) return nullptr;
  const store::HistoryRow& last = history.back();
  for (size_t i = history.size() - 1; i-- > 0;) {
    if (history[i].tier != last.tier || std::fabs(history[i].score - last.score) > 1e-9) {
      return &history[i];
    }
  }
  return nullptr;
}

std::optional<std::map<std::string, std::string>> PreviousGoals(
    const std::vector<store::HistoryRow>& history, int64_t evaluated_ms) {
  const store::HistoryRow* before = nullptr;
  for (const auto& h : history) {
    if (h.at_ms < evaluated_ms) before = &h;  // rows are oldest first
  }
  if (before == nullptr || before->goals_json.empty()) return std::nullopt;
  json g = json::parse(before->goals_json, nullptr, false);
  if (!g.is_object()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& [id, status] : g.items()) {
    if (status.is_string()) out[id] = status.get<std::string>();
  }
  return out;
}

ReportBudget ReadReportBudget(store::Store& store) {
  ReportBudget b;
  json j = json::parse(store.GetMeta("last_task_budget").value_or("{}"), nullptr, false);
  if (!j.is_object() || !j.contains("max_open_per_owner") ||
      !j["max_open_per_owner"].is_number_integer()) {
    return b;
  }
  b.max_open_per_owner = j["max_open_per_owner"].get<int64_t>();
  b.dropped_total = j.value("dropped", int64_t{0});
  for (const auto& o : j.value("owners", json::array())) {
    if (!o.is_object()) continue;
    b.owners.push_back({o.value("owner_id", ""), o.value("open", int64_t{0}),
                        o.value("suggested", int64_t{0}), o.value("kept", int64_t{0}),
                        o.value("dropped", int64_t{0})});
  }
  for (const auto& x : j.value("dropped_tasks", json::array())) {
    if (!x.is_object()) continue;
    b.dropped.push_back({x.value("account_id", ""), x.value("name", ""), x.value("owner_id", ""),
                         x.value("title", ""), x.value("priority", ""), x.value("reason", "")});
  }
  return b;
}

ReportData ReadReportData(store::Store& store, const rules::RuleSet& rules, int64_t now_ms) {
  ReportData d;
  d.rules_name = rules.name();
  d.rules_version = rules.version();
  d.generated_ms = now_ms;
  for (const auto& t : rules.tiers()) {
    d.tiers.push_back({t.id, t.label, t.min_score, t.capacity_total, t.capacity_per_owner});
  }
  json portfolio = json::parse(store.GetMeta("last_portfolio").value_or("{}"), nullptr, false);
  if (portfolio.is_object()) {
    auto it = portfolio.find("revenue_share");
    if (it != portfolio.end() && it->is_number()) d.pareto_share = it->get<double>();
  }
  for (const auto& run : store.LastRuns(10, "sync")) {
    if (run.ended_ms > 0) {
      d.last_run_ms = std::max(d.last_run_ms, run.ended_ms);
    }
  }
  std::vector<int64_t> evaluated_ms;  // per account: when the last sync evaluated it
  store.ForEachResult([&](const store::ResultRow& r) {
    ReportAccount a;
    a.id = r.account_id;
    a.owner_id = r.owner_id;
    a.score = r.score;
    a.tier = r.tier;
    a.revenue = r.revenue;
    a.capped_reason = r.capped_reason;
    json h = json::parse(r.health_json, nullptr, false);
    if (h.is_array()) {
      for (const auto& x : h) {
        if (!x.is_object()) continue;
        a.health.push_back({x.value("id", ""), x.value("label", ""), x.value("status", "")});
      }
    }
    json receipt = json::parse(r.receipt_json, nullptr, false);
    if (receipt.is_object() && receipt.contains("goals") && receipt["goals"].is_array()) {
      for (const auto& g : receipt["goals"]) {
        if (!g.is_object()) continue;
        a.goals.push_back({g.value("id", ""), g.value("label", ""), g.value("status", "")});
      }
    }
    d.accounts.push_back(std::move(a));
    evaluated_ms.push_back(r.evaluated_ms);
  });
  for (size_t i = 0; i < d.accounts.size(); ++i) {
    ReportAccount& a = d.accounts[i];
    if (auto row = store.GetAccount(a.id)) {
      json p = json::parse(row->properties_json, nullptr, false);
      if (p.is_object() && p.contains("name") && p["name"].is_string()) {
        a.name = p["name"].get<std::string>();
      }
    }
    auto history = store.HistoryFor(a.id);
    if (const store::HistoryRow* prev = PreviousScoreRow(history)) {
      a.previous_score = prev->score;
      a.previous_tier = prev->tier;
    }
    a.previous_goals = PreviousGoals(history, evaluated_ms[i]);
  }
  for (const auto& t : store.TasksInState("open")) d.open_tasks[t.owner_id]++;
  d.budget = ReadReportBudget(store);
  return d;
}

}  // namespace kam::engine
