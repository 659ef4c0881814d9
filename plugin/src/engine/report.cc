// The report (`kam report`): the portfolio from the last sync's stored results — tiers against
// capacities, Pareto figures, capped accounts, health, score movers, workload per KAM. The HTML
// page is report_html.cc's (escaped and redacted).
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "phases.h"
#include "report_html.h"
#include "report_model.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

std::string PropString(const json& props, const std::string& name) {
  auto it = props.find(name);
  if (it == props.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

json PortfolioReport(RunContext& ctx, const std::string& html_path) {
  ctx.OpenStore();
  struct Close {
    RunContext& ctx;
    ~Close() { ctx.CloseStore(); }
  } close{ctx};
  store::Store& store = *ctx.store;
  try {
    std::vector<store::ResultRow> results;
    store.ForEachResult([&](const store::ResultRow& r) { results.push_back(r); });
    std::map<std::string, int64_t> per_tier;
    std::map<std::string, std::map<std::string, int64_t>> per_owner_tier;
    std::map<std::string, std::map<std::string, int64_t>> health;
    json capped = json::array();
    auto name_of = [&store](const std::string& id) -> std::string {  // the CRM's company name
      auto a = store.GetAccount(id);
      if (!a) return "";
      json p = json::parse(a->properties_json, nullptr, false);
      return p.is_object() ? PropString(p, "name") : "";
    };
    for (const auto& r : results) {
      per_tier[r.tier]++;
      per_owner_tier[r.owner_id.empty() ? "(no owner)" : r.owner_id][r.tier]++;
      json h = json::parse(r.health_json, nullptr, false);
      if (h.is_array()) {
        for (const auto& x : h) health[x.value("id", "")][x.value("status", "")]++;
      }
      if (!r.capped_reason.empty() && capped.size() < 200) {
        capped.push_back({{"account_id", r.account_id},
                          {"name", name_of(r.account_id)},
                          {"tier", r.tier},
                          {"score", r.score},
                          {"reason", r.capped_reason}});
      }
    }
    const auto& tiers = ctx.rules->tiers();
    json tier_rows = json::array();
    std::set<std::string> key_tiers;
    for (size_t i = 0; i < tiers.size(); ++i) {
      // The HTML report's notion (ReportTier::key): a tier with a capacity is a key tier.
      if (tiers[i].capacity_total || tiers[i].capacity_per_owner) key_tiers.insert(tiers[i].id);
      tier_rows.push_back(
          {{"tier", tiers[i].id},
           {"label", tiers[i].label},
           {"accounts", per_tier[tiers[i].id]},
           {"capacity_total",
            tiers[i].capacity_total ? json(*tiers[i].capacity_total) : json(nullptr)},
           {"capacity_per_owner",
            tiers[i].capacity_per_owner ? json(*tiers[i].capacity_per_owner) : json(nullptr)}});
    }
    // Pareto over the stored revenue figures.
    std::vector<double> revenue;
    double total_revenue = 0;
    for (const auto& r : results) {
      revenue.push_back(r.revenue);
      total_revenue += r.revenue;
    }
    std::sort(revenue.rbegin(), revenue.rend());
    json pareto = json::object();
    for (double share : {0.5, 0.8, 0.9}) {
      double acc = 0;
      size_t n = 0;
      while (n < revenue.size() && acc < share * total_revenue) acc += revenue[n++];
      pareto[std::to_string(static_cast<int>(share * 100)) + "%_of_revenue"] = {
          {"accounts", n},
          {"share_of_accounts", revenue.empty() ? 0.0 : static_cast<double>(n) / revenue.size()}};
    }
    // Biggest movers: the latest history row against the one before it.
    struct Mover {
      std::string id;
      double from, to;
      std::string from_tier, to_tier;
    };
    std::vector<Mover> movers;
    for (const auto& r : results) {
      auto h = store.HistoryFor(r.account_id);
      if (h.size() < 2) continue;
      const auto& a = h[h.size() - 2];
      const auto& b = h.back();
      if (std::fabs(b.score - a.score) > 1e-9)
        movers.push_back({r.account_id, a.score, b.score, a.tier, b.tier});
    }
    std::sort(movers.begin(), movers.end(), [](const Mover& x, const Mover& y) {
      return std::fabs(x.to - x.from) > std::fabs(y.to - y.from);
    });
    if (movers.size() > 10) movers.resize(10);
    json mover_rows = json::array();
    for (const auto& mv : movers) {
      mover_rows.push_back({{"account_id", mv.id},
                            {"name", name_of(mv.id)},
                            {"from", mv.from},
                            {"to", mv.to},
                            {"from_tier", mv.from_tier},
                            {"to_tier", mv.to_tier}});
    }
    // Per-KAM workload.
    std::map<std::string, int64_t> open_tasks;
    for (const auto& t : store.TasksInState("open")) {
      open_tasks[t.owner_id.empty() ? "(no owner)" : t.owner_id]++;
    }
    json workload = json::array();
    for (const auto& [owner, counts] : per_owner_tier) {
      int64_t key = 0;
      for (const auto& [tier, n] : counts) {
        if (key_tiers.count(tier)) key += n;
      }
      workload.push_back({{"owner_id", owner},
                          {"key_accounts", key},
                          {"tiers", counts},
                          {"open_tasks", open_tasks[owner]}});
    }
    json health_rows = json::object();
    for (const auto& [id, c] : health) health_rows[id] = c;
    json portfolio = json::parse(store.GetMeta("last_portfolio").value_or("{}"), nullptr, false);
    json out = {{"accounts", results.size()},
                {"tiers", tier_rows},
                {"pareto", pareto},
                {"capped", capped},
                {"health", health_rows},
                {"movers", mover_rows},
                {"workload", workload},
                {"portfolio", portfolio.is_discarded() ? json::object() : portfolio}};
    std::ostringstream o;
    o << "Portfolio report (" << results.size() << " accounts, rule file " << ctx.rules->name()
      << " " << ctx.rules->version() << ")\n\nTiers (accounts / capacity):\n";
    for (const auto& t : tier_rows) {
      o << "  " << t["label"].get<std::string>() << " [" << t["tier"].get<std::string>()
        << "]: " << t["accounts"];
      if (!t["capacity_total"].is_null()) o << " / " << t["capacity_total"];
      if (!t["capacity_per_owner"].is_null()) o << " (per KAM " << t["capacity_per_owner"] << ")";
      o << "\n";
    }
    o << "\nPareto: " << pareto["80%_of_revenue"]["accounts"] << " accounts ("
      << static_cast<int>(pareto["80%_of_revenue"]["share_of_accounts"].get<double>() * 100 + 0.5)
      << "%) make 80% of revenue.\n";
    o << "\nCapped by capacity: " << capped.size() << "\n";
    for (size_t i = 0; i < capped.size() && i < 5; ++i) {
      o << "  " << capped[i]["account_id"].get<std::string>() << ": "
        << capped[i]["reason"].get<std::string>() << "\n";
    }
    o << "\nHealth:\n";
    for (const auto& [id, c] : health) {
      o << "  " << id << ":";
      for (const auto& [status, n] : c) o << " " << status << " " << n;
      o << "\n";
    }
    o << "\nBiggest score movers since the last run:" << (movers.empty() ? " none" : "") << "\n";
    for (const auto& mv : movers) {
      o << "  " << mv.id << ": " << mv.from << " -> " << mv.to << " (" << mv.from_tier << " -> "
        << mv.to_tier << ")\n";
    }
    o << "\nWorkload per KAM (key accounts, open add-in tasks):\n";
    for (const auto& w : workload) {
      o << "  " << w["owner_id"].get<std::string>() << ": " << w["key_accounts"] << ", "
        << w["open_tasks"] << "\n";
    }
    // Goal attainment per tier and its trend against the run before (the HTML page's model).
    const json goals = BuildReportModel(ReadReportData(store, *ctx.rules, ctx.now_ms))["goals"];
    out["goals"] = goals;
    if (!goals["tiers"].empty()) {
      o << "\nGoals (met / not met / unknown; met at the run before -> now, of the accounts "
           "compared):\n";
      for (const auto& t : goals["tiers"]) {
        o << "  " << t["label"].get<std::string>() << ":";
        const json& tt = t["trend"];
        if (tt["up"].get<int64_t>() + tt["down"].get<int64_t>() + tt["same"].get<int64_t>() > 0) {
          o << " accounts up " << tt["up"] << ", down " << tt["down"] << ", same " << tt["same"];
        }
        o << "\n";
        for (const auto& g : t["goals"]) {
          o << "    " << g["label"].get<std::string>() << ": " << g["met"] << " / " << g["not_met"]
            << " / " << g["unknown"];
          if (g["compared"].get<int64_t>() > 0) {
            o << "; " << g["previous_met"] << " -> " << g["compared_met"] << " of "
              << g["compared"];
          }
          o << "\n";
        }
      }
      o << "  " << goals["trend_note"].get<std::string>() << "\n";
    }
    // The last sync's task budget: what it left out and why.
    json budget = json::parse(store.GetMeta("last_task_budget").value_or("{}"), nullptr, false);
    if (budget.is_object() && budget.value("max_open_per_owner", json()).is_number()) {
      out["task_budget"] = budget;
      const int64_t dropped = budget.value("dropped", int64_t{0});
      o << "\nTask budget (tasks.max_open_per_owner " << budget["max_open_per_owner"]
        << "): the last sync left " << dropped
        << (dropped == 1 ? " new suggestion" : " new suggestions") << " out\n";
      for (const auto& w : budget.value("owners", json::array())) {
        if (w.value("dropped", 0) == 0) continue;
        o << "  " << w.value("owner_id", "") << ": " << w.value("open", 0) << " open + "
          << w.value("kept", 0) << " kept of " << w.value("suggested", 0) << " suggested\n";
      }
      size_t n = 0;
      for (const auto& d : budget.value("dropped_tasks", json::array())) {
        if (n++ == 5) break;
        o << "  left out: " << d.value("title", "") << " (" << d.value("account_id", "")
          << "): " << d.value("reason", "") << "\n";
      }
    }
    out["text"] = o.str();
    if (!html_path.empty()) {
      WriteReportHtml(html_path, out, ctx.host);  // escaped and redacted (report_html.h)
      out["html"] = html_path;
    }
    return out;
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), ctx.cfg.state_path);
  }
}

}  // namespace kam::engine
