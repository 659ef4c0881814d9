// sync, dry_run, status, provision, report and demo: the operations over the sync engine.
#include "operation.h"

#ifdef KAM_WITH_SYNC
#include <nlohmann/json.hpp>

#include "config.h"
#include "demo.h"
#include "kam/addin.h"
#include "redaction.h"
#include "report_page.h"
#include "sync_engine.h"

namespace kam::engine {
namespace {

using nlohmann::json;

// Checks that a request holds only the allowed keys, with the allowed types.
void CheckRequest(const json& request, std::initializer_list<std::pair<const char*, json::value_t>> keys) {
  if (request.is_null()) return;
  if (!request.is_object()) throw OpError(StatusCode::kInvalidArgument, "the request must be an object", "/");
  for (const auto& [k, v] : request.items()) {
    bool known = false;
    for (const auto& [name, type] : keys) {
      if (k != name) continue;
      known = true;
      bool ok = v.type() == type || (type == json::value_t::number_unsigned && v.is_number_integer());
      if (!ok) throw OpError(StatusCode::kInvalidArgument, "request key \"" + k + "\" has the wrong type", "/" + k);
    }
    if (!known) throw OpError(StatusCode::kInvalidArgument, "unknown request key \"" + k + "\"", "/" + k);
  }
}

SyncEngineOptions OptionsFrom(OpContext& ctx) {
  SyncEngineOptions o;
  o.config = ParseEngineConfig(ctx.config);
  return o;
}

json Sync(OpContext& ctx, const json& request) {
  CheckRequest(request, {{"full", json::value_t::boolean}});
  SyncEngine engine(ctx.host, OptionsFrom(ctx));
  return engine.Sync(request.is_object() && request.value("full", false));
}

json DryRun(OpContext& ctx, const json& request) {
  CheckRequest(request, {{"full", json::value_t::boolean}, {"json", json::value_t::boolean}});
  SyncEngine engine(ctx.host, OptionsFrom(ctx));
  return engine.DryRun(request.is_object() && request.value("full", false));
}

json StatusOp(OpContext& ctx, const json& request) {
  CheckRequest(request, {});
  SyncEngine engine(ctx.host, OptionsFrom(ctx));
  return engine.Status();
}

json Provision(OpContext& ctx, const json& request) {
  CheckRequest(request, {});
  SyncEngine engine(ctx.host, OptionsFrom(ctx));
  return engine.Provision();
}

json Report(OpContext& ctx, const json& request) {
  CheckRequest(request, {{"html", json::value_t::string}});
  SyncEngine engine(ctx.host, OptionsFrom(ctx));
  json out = engine.Report("");
  // The HTML page is drawn from its own model of the store (report_page.h), with owner names.
  const std::string html = request.is_object() ? request.value("html", "") : "";
  if (!html.empty()) out["html"] = WritePortfolioReport(ctx, html)["html"];
  return out;
}

json Demo(OpContext& ctx, const json& request) {
  CheckRequest(request, {{"accounts", json::value_t::number_unsigned},
                         {"seed", json::value_t::number_unsigned},
                         {"keep", json::value_t::boolean},
                         {"crm", json::value_t::string}});
  DemoOptions o;
  if (request.is_object()) {
    o.accounts = request.value("accounts", o.accounts);
    o.seed = request.value("seed", o.seed);
    o.crm = request.value("crm", o.crm);
  }
  if (o.crm != "hubspot" && o.crm != "salesforce") {
    throw OpError(StatusCode::kInvalidArgument, "demo: \"crm\" must be hubspot or salesforce",
                  "/crm");
  }
  return RunDemo(ctx.host, o);
}

}  // namespace

void RegisterSyncOps(OpTable& table) {
  // Every operation that may see a secret runs through the redaction (redaction.h).
  table["sync"] = &Redacted<&Sync>;
  table["dry_run"] = &Redacted<&DryRun>;
  table["status"] = &Redacted<&StatusOp>;
  table["provision"] = &Redacted<&Provision>;
  table["report"] = &Redacted<&Report>;
  table["demo"] = &Redacted<&Demo>;
}

}  // namespace kam::engine

#else  // the rules, HubSpot or sandbox library is not built yet: the ops stay unimplemented

namespace kam::engine {
void RegisterSyncOps(OpTable&) {}
}  // namespace kam::engine

#endif
