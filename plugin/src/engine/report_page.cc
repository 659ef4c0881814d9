// The HTML portfolio report from the store (see report_page.h).
#include "report_page.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "config.h"
#include "crm_probe.h"
#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "report_html.h"
#include "report_model.h"

namespace kam::engine {
namespace {

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Fills data.owner_names from the CRM, or says in data.owner_names_note why it could not.
void AddOwnerNames(OpContext& ctx, const EngineConfig& cfg, ReportData& data) {
  if (cfg.crm != "hubspot") {
    data.owner_names_note = "Owner names are not fetched from " + cfg.crm + " yet; ids shown.";
    return;
  }
  auto probe = CrmProbe::Create(cfg, ctx.host);
  if (!probe.ok()) {
    data.owner_names_note =
        "Owner names could not be fetched (" + probe.status().message() + "); ids shown.";
    return;
  }
  if (!(*probe)->has_token()) {
    data.owner_names_note =
        "Owner names need the CRM token (secret " + cfg.hubspot.token_secret + "); ids shown.";
    return;
  }
  auto names = FetchOwnerNames(**probe);
  if (!names.ok()) {
    data.owner_names_note = "Owner names could not be fetched from the CRM (" +
                            names.status().message() + "); ids shown.";
    return;
  }
  data.owner_names = std::move(names.value());
}

}  // namespace

nlohmann::json WritePortfolioReport(OpContext& ctx, const std::string& path) {
  EngineConfig cfg = ParseEngineConfig(ctx.config);
  if (cfg.rules_path.empty()) {
    throw OpError(StatusCode::kInvalidArgument,
                  "no rule file configured: set \"rules\" in the config to a rule file path",
                  "/rules");
  }
  rules::LoadResult loaded = rules::RuleSet::LoadFile(cfg.rules_path);
  if (!loaded.ok()) {
    std::string msg = "the rule file is invalid:";
    for (const auto& d : loaded.errors) msg += "\n  " + d.ToString();
    throw OpError(StatusCode::kInvalidArgument, msg, cfg.rules_path);
  }
  ReportData data;
  try {
    store::StoreOptions so;
    so.redact = [h = &ctx.host](std::string& text) { h->Redact(text); };
    auto store = store::Store::Open(cfg.state_path, std::move(so));
    data = ReadReportData(*store, *loaded.rules, NowMs());
  } catch (const store::StoreLockedError& e) {
    throw OpError(StatusCode::kConflict, e.what(), cfg.state_path);
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), cfg.state_path);
  }
  AddOwnerNames(ctx, cfg, data);
  nlohmann::json model = BuildReportModel(data);
  WriteReportHtml(path, model, ctx.host);
  return {
      {"html", path}, {"owner_names", data.owner_names.empty() ? "ids" : "crm"}, {"model", model}};
}

}  // namespace kam::engine
