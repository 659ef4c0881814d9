// The run context: clock, checkpoints, cancellation, and the setup every phase relies on (state
// file, CRM port, rule file, the portal the state file is bound to).
#include "run_context.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>

#include "kam/rules/rules.h"
#include "kam/store/store.h"

namespace kam::engine {

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t UtcDayStartMs(int64_t ms) {
  int64_t r = ms % kDayMs;
  if (r < 0) r += kDayMs;
  return ms - r;
}

std::string IsoUtc(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

OpError CrmFailure(const CrmError& e, const std::string& what) { return OpError(e.ToStatus(what)); }

RunContext::RunContext(Host& h, EngineConfig config, Clock c,
                       std::function<void(const char*, int64_t)> on_checkpoint,
                       std::function<std::optional<std::string>(std::string_view)> get_secret)
    : locked_host(h),
      host(locked_host),
      cfg(std::move(config)),
      clock(c ? std::move(c) : Clock(SystemClockMs)),
      on_checkpoint_(std::move(on_checkpoint)),
      get_secret_(std::move(get_secret)) {}

RunContext::~RunContext() = default;

void RunContext::StartClock() {
  now_ms = clock();
  eval_now_ms = UtcDayStartMs(now_ms) + kDayMs - 1;
}

void RunContext::Checkpoint(const char* where) {
  ++checkpoints;
  if (on_checkpoint_) on_checkpoint_(where, checkpoints);
}

void RunContext::CheckCancelled(const char* where) {
  if (host.IsCancelled()) {
    throw OpError(StatusCode::kCancelled, std::string("sync cancelled during ") + where +
                                              "; the state is consistent and the next sync "
                                              "resumes from the last committed page or batch");
  }
}

void RunContext::Progress(const char* phase, uint64_t done, uint64_t total) {
  host.Progress(phase, done, total);
}

void RunContext::Log(int32_t level, const std::string& message) { host.Log(level, message); }

void RunContext::OpenStore() {
  try {
    store::StoreOptions so;
    so.redact = [h = &host](std::string& text) { h->Redact(text); };  // no secret is stored
    store = store::Store::Open(cfg.state_path, std::move(so));
  } catch (const store::StoreLockedError& e) {
    throw OpError(StatusCode::kConflict, e.what(), cfg.state_path);
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), cfg.state_path);
  }
}

void RunContext::CloseStore() {
  crm.reset();
  store.reset();
}

void RunContext::ConnectCrm() {
  auto secret = [this](std::string_view name) -> std::optional<std::string> {
    if (get_secret_) return get_secret_(name);
    return host.GetSecret(name);
  };
  auto c = MakeCrm(cfg, host, secret);
  if (!c.ok()) throw OpError(c.status());
  crm = std::move(c.value());
  properties_checked = false;
}

void RunContext::LoadRules(const RulesSource& source, bool run_tests) {
  rules::LoadResult r;
  if (!source.text.empty()) {
    r = rules::RuleSet::LoadText(source.text, source.name);
  } else {
    if (cfg.rules_path.empty()) {
      throw OpError(StatusCode::kInvalidArgument,
                    "no rule file configured: set \"rules\" in the config to a rule file path",
                    "/rules");
    }
    r = rules::RuleSet::LoadFile(cfg.rules_path);
  }
  if (!r.ok()) {
    std::string msg = "the rule file is invalid; nothing was written:";
    for (const auto& d : r.errors) msg += "\n  " + d.ToString();
    // A rule file that cannot be opened is a configuration error too (exit 3), like a bad one.
    throw OpError(StatusCode::kInvalidArgument, msg,
                  r.errors.empty() ? "" : r.errors[0].Location());
  }
  rules = r.rules;
  if (!rules->mapping(cfg.crm)) {
    throw OpError(StatusCode::kInvalidArgument,
                  "the rule file " + rules->file() + " has no \"" + cfg.crm + "\" mapping",
                  "/mapping");
  }
  if (run_tests) RunRuleTests();
}

void RunContext::RunRuleTests() {
  rules::TestReport report = rules::RunEmbeddedTests(*rules);
  if (!report.ok()) {
    throw OpError(StatusCode::kInvalidArgument,
                  "the rule file's embedded tests failed; the sync stopped before writing "
                  "anything:\n" +
                      report.ToText(),
                  rules->file() + " /tests");
  }
}

std::string RunContext::BoundPortalId() {
  auto d = crm->PortalId();
  if (!d.ok()) throw CrmFailure(d.error(), "reading the CRM's portal id");
  const std::string& id = *d;
  std::optional<std::string> bound = store->GetMeta("portal_id");
  if (bound && !bound->empty() && *bound != id) {
    throw OpError(StatusCode::kConflict,
                  "the state file " + cfg.state_path + " belongs to portal " + *bound +
                      ", but the configured CRM credential reaches portal " + id +
                      "; nothing was read or written. Use the state file of portal " + id +
                      " (or a new state file) with this credential",
                  cfg.state_path);
  }
  if (!bound || bound->empty()) store->SetMeta("portal_id", id);
  return id;
}

std::vector<std::string> RunContext::PullProperties() const {
  rules::CrmNeeds needs = rules->Needs(cfg.crm);
  std::set<std::string> props(needs.properties.begin(), needs.properties.end());
  for (const auto& wb : rules->Writeback(cfg.crm)) props.insert(wb.property);
  return {props.begin(), props.end()};
}

ProvisionSpec WritebackSpecOf(const rules::RuleSet& rules, const std::string& crm) {
  ProvisionSpec spec;
  for (const auto& wb : rules.Writeback(crm)) {
    PropertySpec p;
    p.object = CrmObject::kAccount;
    p.name = wb.property;
    p.label = wb.label;
    p.type = wb.type;
    p.hidden = wb.result == "card";  // the card app reads it (HubSpot), people need not
    if (wb.result == "tier" || wb.result == "score_tier") {
      for (const auto& t : rules.tiers()) p.options.emplace_back(t.id, t.label);
    } else if (wb.result.rfind("health.", 0) == 0) {
      p.options = {{"green", "Green"}, {"amber", "Amber"}, {"red", "Red"}};
    }
    spec.properties.push_back(std::move(p));
  }
  return spec;
}

}  // namespace kam::engine
