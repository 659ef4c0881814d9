// The sync engine: phases, diff with the conflict policy, outbox and push, run records.
#include "sync_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "kam/addin.h"
#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "crm.h"
#include "report_html.h"
#include "retention.h"

namespace kam::engine {

using nlohmann::json;

namespace {

constexpr const char* kCompanies = "companies";
constexpr int64_t kDayMs = 86'400'000;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// FNV-1a over 64 bits with the offset basis 1469598103934665603, which is the standard FNV-64
// basis (14695981039346656037) with its last digit missing. Every task key already in a CRM was
// made with this basis: changing it would re-create every open task under a new key. Keep it.
uint64_t Fnv1a64ShortBasis(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Two CRM values are the same when equal as text or as numbers (HubSpot may render 87 as "87.0").
bool SameValue(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (a.empty() || b.empty()) return false;
  char* ea = nullptr;
  char* eb = nullptr;
  double da = std::strtod(a.c_str(), &ea);
  double db = std::strtod(b.c_str(), &eb);
  if (*ea != '\0' || *eb != '\0') return false;
  return std::fabs(da - db) <= 1e-9 * std::max(1.0, std::fabs(da));
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

json PropertiesJson(const CrmProperties& props) {
  json o = json::object();
  for (const auto& [k, v] : props) o[k] = v ? json(*v) : json(nullptr);
  return o;
}

std::string PropString(const json& props, const std::string& name) {
  auto it = props.find(name);
  if (it == props.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

json FactsJson(const AccountFacts& f) {
  json o = json::object();
  for (const auto& [k, v] : f.aggregates) {
    switch (v.kind) {
      case FactValue::Kind::kNull:
        o[k] = nullptr;
        break;
      case FactValue::Kind::kNumber:
        o[k] = v.number;
        break;
      case FactValue::Kind::kBool:
        o[k] = v.boolean;
        break;
    }
  }
  return o;
}

OpError CrmFailure(const CrmError& e, const std::string& what) { return OpError(e.ToStatus(what)); }

// Run counters, reported in the summary and kept in the run row.
struct RunCounters {
  int64_t pulled = 0;
  int64_t pages = 0;
  int64_t archived = 0;
  int64_t facts_refreshed = 0;
  int64_t evaluated = 0;
  int64_t eval_errors = 0;
  int64_t changed_accounts = 0;
  int64_t fields_written = 0;
  int64_t accounts_written = 0;
  int64_t tasks_created = 0;
  int64_t tasks_existing = 0;
  int64_t tasks_completed = 0;
  int64_t conflicts = 0;       // new this run (a person's value not reported before)
  int64_t conflicts_kept = 0;  // every field kept with a person's value (respect), new or not
  int64_t capped = 0;
  int64_t write_errors = 0;
  int64_t resumed_entries = 0;
  bool full_pull = false;
  json errors = json::array();

  json ToJson() const {
    return {{"pulled", pulled},
            {"pages", pages},
            {"full_pull", full_pull},
            {"archived", archived},
            {"facts_refreshed", facts_refreshed},
            {"evaluated", evaluated},
            {"evaluation_errors", eval_errors},
            {"changed_accounts", changed_accounts},
            {"accounts_written", accounts_written},
            {"fields_written", fields_written},
            {"tasks_created", tasks_created},
            {"tasks_already_there", tasks_existing},
            {"tasks_completed", tasks_completed},
            {"conflicts", conflicts},
            {"conflicts_kept", conflicts_kept},
            {"capped", capped},
            {"write_errors", write_errors},
            {"resumed_outbox_entries", resumed_entries},
            {"errors", errors}};
  }
};

struct FieldConflict {
  std::string account_id;
  std::string account_name;
  std::string field;
  std::string ours;
  std::string crm;
  std::string last_written;
  ConflictPolicy policy;
  // First seen with this CRM value (reported and audited); false: a person's value already
  // reported in an earlier run, kept and listed but not reported again.
  bool is_new = true;
};

// The state's memory of a conflict already reported: "v:" + the person's value, "" = none.
std::string ConflictMetaKey(const std::string& account, const std::string& field) {
  return "conflict:" + account + '\x1f' + field;
}

struct PlannedUpdate {
  std::string account_id;
  std::string account_name;
  std::map<std::string, std::string> properties;
  std::map<std::string, std::string> old_values;
};

struct PlannedTask {
  std::string key;
  std::string account_id;
  std::string account_name;
  std::string rule_id;
  std::string owner_id;
  bool auto_close = false;
  bool in_doubt = false;  // an earlier write of this key failed: search before creating
  TaskSpec spec;
};

struct PlannedCompletion {
  std::string key;
  std::string task_id;
  std::string account_id;
  std::string rule_id;
  std::string reason;
};

struct TierChange {
  std::string account_id;
  std::string account_name;
  std::string from;
  std::string to;
};

struct Plan {
  std::vector<rules::AccountResult> results;
  rules::PortfolioSummary portfolio;
  std::vector<PlannedUpdate> updates;
  std::vector<FieldConflict> conflicts;
  std::vector<std::pair<std::string, std::string>> reported_only;  // (account, field)
  std::vector<std::pair<std::string, std::string>> adopted;        // (account, field): CRM agrees
  std::map<std::string, std::string> adopted_values;               // "account\x1f field" -> value
  std::vector<PlannedTask> tasks;
  std::vector<PlannedCompletion> completions;
  std::vector<TierChange> tier_changes;
  std::vector<std::string> archived;  // accounts whose results are dropped
  std::map<std::string, std::string> names;
  std::unordered_set<std::string> live_accounts;  // every account not archived in the snapshot
  json eval_errors = json::array();
};

std::string PriorityName(TaskPriority p) {
  switch (p) {
    case TaskPriority::kLow: return "LOW";
    case TaskPriority::kMedium: return "MEDIUM";
    case TaskPriority::kHigh: return "HIGH";
  }
  return "MEDIUM";
}

TaskPriority PriorityFrom(const std::string& s) {
  std::string u = Upper(s);
  if (u == "LOW") return TaskPriority::kLow;
  if (u == "HIGH") return TaskPriority::kHigh;
  return TaskPriority::kMedium;
}

json TaskSpecJson(const TaskSpec& t) {
  return {{"key", t.key},
          {"company_id", t.account_id},
          {"owner_id", t.owner_id},
          {"subject", t.subject},
          {"body", t.body},
          {"status", t.status == CrmTaskStatus::kCompleted ? "COMPLETED" : "NOT_STARTED"},
          {"priority", PriorityName(t.priority)},
          {"due_ms", t.due_ms}};
}

TaskSpec TaskSpecFromJson(const json& j) {
  TaskSpec t;
  t.key = j.value("key", "");
  t.account_id = j.value("company_id", "");
  t.owner_id = j.value("owner_id", "");
  t.subject = j.value("subject", "");
  t.body = j.value("body", "");
  t.status = j.value("status", "NOT_STARTED") == "COMPLETED" ? CrmTaskStatus::kCompleted
                                                               : CrmTaskStatus::kOpen;
  t.priority = PriorityFrom(j.value("priority", "MEDIUM"));
  t.due_ms = j.value("due_ms", int64_t{0});
  return t;
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------------------

struct SyncEngine::Impl {
  Host& host;
  SyncEngineOptions opt;
  const EngineConfig& cfg;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Crm> crm;
  std::shared_ptr<const rules::RuleSet> rules;
  int64_t run_id = 0;
  int64_t now_ms = 0;
  RunCounters counters;
  int64_t checkpoints = 0;  // passed by this engine (SyncEngineOptions::on_checkpoint)

  // A crash-safety checkpoint: every page, batch and commit boundary. Counted per engine; the
  // test hook (if any) may kill the process here.
  void Checkpoint(const char* where) {
    ++checkpoints;
    if (opt.on_checkpoint) opt.on_checkpoint(where, checkpoints);
  }
  bool properties_checked = false;

  Impl(Host& h, SyncEngineOptions o) : host(h), opt(std::move(o)), cfg(opt.config) {}

  void Log(int32_t level, const std::string& msg) { host.Log(level, msg); }

  void CheckCancelled(const char* where) {
    if (host.IsCancelled()) {
      throw OpError(StatusCode::kCancelled, std::string("sync cancelled during ") + where +
                                       "; the state is consistent and the next sync resumes "
                                       "from the last committed page or batch");
    }
  }

  // ---- setup ----

  void OpenStore() {
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

  std::optional<std::string> Secret(std::string_view name) {
    if (opt.get_secret) return opt.get_secret(name);
    return host.GetSecret(name);
  }

  void MakeClient() {
    auto c = MakeCrm(cfg, host, [this](std::string_view name) { return Secret(name); });
    if (!c.ok()) throw OpError(c.status());
    crm = std::move(c.value());
    properties_checked = false;
  }

  void LoadRules(bool run_tests) {
    rules::LoadResult r;
    if (!opt.rules_text.empty()) {
      r = rules::RuleSet::LoadText(opt.rules_text, opt.rules_name);
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

  void RunRuleTests() {
    {
      rules::TestReport report = rules::RunEmbeddedTests(*rules);
      if (!report.ok()) {
        throw OpError(StatusCode::kInvalidArgument,
                      "the rule file's embedded tests failed; the sync stopped before writing "
                      "anything:\n" + report.ToText(),
                      rules->file() + " /tests");
      }
    }
  }

  std::string PortalId() {
    if (auto p = store->GetMeta("portal_id")) return *p;
    auto d = crm->PortalId();
    if (!d.ok()) throw CrmFailure(d.error(), "reading the CRM's portal id");
    std::string id = *d;
    store->SetMeta("portal_id", id);
    return id;
  }

  std::vector<std::string> PullProperties() {
    rules::CrmNeeds needs = rules->Needs(cfg.crm);
    std::set<std::string> props(needs.properties.begin(), needs.properties.end());
    for (const auto& wb : rules->Writeback(cfg.crm)) props.insert(wb.property);
    return {props.begin(), props.end()};
  }

  void Progress(const char* phase, uint64_t done, uint64_t total) {
    host.Progress(phase, done, total);
  }

  // The CRM properties the rule file's writeback needs (the port adds its task-key property).
  ProvisionSpec WritebackSpec() {
    ProvisionSpec spec;
    for (const auto& wb : rules->Writeback(cfg.crm)) {
      PropertySpec p;
      p.object = CrmObject::kAccount;
      p.name = wb.property;
      p.label = wb.label;
      p.type = wb.type;
      if (wb.result == "tier" || wb.result == "score_tier") {
        for (const auto& t : rules->tiers()) p.options.emplace_back(t.id, t.label);
      } else if (wb.result.rfind("health.", 0) == 0) {
        p.options = {{"green", "Green"}, {"amber", "Amber"}, {"red", "Red"}};
      }
      spec.properties.push_back(std::move(p));
    }
    return spec;
  }

  // ---- phase 1: pull ----

  // Pulls changed (or all) companies into the snapshot, one transaction per page with the
  // cursor. Returns the ids pulled.
  std::unordered_set<std::string> Pull(bool full) {
    store::Cursor cur = store->GetCursor(kCompanies);
    bool too_old = cfg.full_pull_after_days > 0 &&
                   now_ms - cur.last_full_pull_ms > cfg.full_pull_after_days * kDayMs;
    bool do_full = full || cur.last_full_pull_ms == 0 || cur.full_pull_in_progress || too_old;
    counters.full_pull = do_full;
    PullRequest po;
    po.properties = PullProperties();
    po.overlap_ms = cfg.overlap_ms;
    po.started_at_ms = now_ms;
    std::unordered_set<std::string> seen;
    uint64_t done = 0;
    int64_t expected = store->CountAccounts(false);
    if (do_full) {
      cur.full_pull_in_progress = true;
      store->SetCursor(kCompanies, cur);
    }
    auto on_page = [&](const PullPage& page) -> CrmStatus {
      if (host.IsCancelled()) {
        CrmError e;
        e.code = StatusCode::kCancelled;
        e.message = "cancelled by the host";
        e.stops_run = true;
        return e;
      }
      Checkpoint("pull.page");
      store::Store::Transaction tx(*store);
      for (const auto& c : page.accounts) {
        store::AccountRow row;
        row.id = c.id;
        row.owner_id = c.owner_id;
        json props = PropertiesJson(c.properties);
        props["name"] = c.name;
        row.properties_json = props.dump();
        row.aggregates_json = "";  // facts are (re)read in the facts phase
        row.modified_ms = c.modified_ms;
        row.archived = false;
        store->UpsertAccount(row);
        seen.insert(c.id);
      }
      if (!do_full) {
        store::Cursor next = store->GetCursor(kCompanies);
        next.ts_ms = page.cursor.modified_ms;
        next.last_id = page.cursor.id;
        next.updated_ms = now_ms;
        store->SetCursor(kCompanies, next);
      }
      tx.Commit();
      Checkpoint("pull.committed");
      counters.pages++;
      done += page.accounts.size();
      uint64_t total = page.total_hint > 0 ? static_cast<uint64_t>(page.total_hint)
                                           : static_cast<uint64_t>(std::max<int64_t>(expected, 0));
      Progress("pull", done, std::max(total, done));
      return {};
    };
    PullCursor since;
    since.modified_ms = cur.ts_ms;
    since.id = cur.last_id;
    CrmResult<PullSummary> summary =
        do_full ? crm->PullAll(po, on_page) : crm->PullChanged(since, po, on_page);
    if (!summary.ok()) {
      if (summary.error().code == StatusCode::kCancelled) CheckCancelled("the pull");
      throw CrmFailure(summary.error(), "pulling companies");
    }
    counters.pulled = static_cast<int64_t>(seen.size());
    // Deleted or archived companies.
    std::vector<std::string> gone;
    if (do_full) {
      store->ForEachAccount(
          [&](const store::AccountRow& r) {
            if (!seen.count(r.id)) gone.push_back(r.id);
          },
          false);
    } else {
      auto archived = crm->ListArchived(std::max<int64_t>(0, cur.ts_ms - cfg.overlap_ms));
      if (!archived.ok()) throw CrmFailure(archived.error(), "listing archived companies");
      for (const auto& id : *archived) {
        auto row = store->GetAccount(id);
        if (row && !row->archived && !seen.count(id)) gone.push_back(id);
      }
    }
    {
      store::Store::Transaction tx(*store);
      for (const auto& id : gone) store->SetArchived(id, true);
      store::Cursor fin = store->GetCursor(kCompanies);
      if (do_full) {
        fin.ts_ms = summary->cursor.modified_ms > 0 ? summary->cursor.modified_ms : now_ms;
        fin.last_id = summary->cursor.id;
        fin.last_full_pull_ms = now_ms;
        fin.full_pull_in_progress = false;
      } else if (summary->cursor.modified_ms > fin.ts_ms) {
        fin.ts_ms = summary->cursor.modified_ms;
        fin.last_id = summary->cursor.id;
      }
      fin.updated_ms = now_ms;
      store->SetCursor(kCompanies, fin);
      tx.Commit();
    }
    counters.archived = static_cast<int64_t>(gone.size());
    Checkpoint("pull.done");
    return seen;
  }

  // Reads the aggregates the rule file needs: for every account ("all"), or for those pulled
  // in this run and those whose facts a crashed run did not finish ("changed").
  void RefreshFacts(const std::unordered_set<std::string>& pulled) {
    rules::CrmNeeds needs = rules->Needs(cfg.crm);
    std::vector<std::string> ids;
    store->ForEachAccount(
        [&](const store::AccountRow& r) {
          if (cfg.facts == "all" || pulled.count(r.id) || r.aggregates_json.empty()) {
            ids.push_back(r.id);
          }
        },
        false);
    if (needs.aggregates.empty()) {
      // Nothing to read; mark the pulled rows as complete.
      store::Store::Transaction tx(*store);
      for (const auto& id : ids) {
        auto row = store->GetAccount(id);
        if (row && row->aggregates_json.empty()) {
          row->aggregates_json = "{}";
          store->UpsertAccount(*row);
        }
      }
      tx.Commit();
      return;
    }
    constexpr size_t kChunk = 1000;
    for (size_t i = 0; i < ids.size(); i += kChunk) {
      CheckCancelled("reading account facts");
      FactsRequest req;
      req.account_ids.assign(ids.begin() + i, ids.begin() + std::min(ids.size(), i + kChunk));
      req.aggregates = needs.aggregates;
      req.now_ms = now_ms;
      auto facts = crm->ReadFacts(req);
      if (!facts.ok()) throw CrmFailure(facts.error(), "reading deals, contacts and meetings");
      Checkpoint("facts.read");
      store::Store::Transaction tx(*store);
      for (const auto& f : facts->accounts) {
        auto row = store->GetAccount(f.id);
        if (!row) continue;
        row->aggregates_json = FactsJson(f).dump();
        store->UpsertAccount(*row);
      }
      for (const auto& id : facts->missing) store->SetArchived(id, true);
      tx.Commit();
      Checkpoint("facts.committed");
      counters.facts_refreshed += static_cast<int64_t>(facts->accounts.size());
      Progress("pull", i + req.account_ids.size(), ids.size());
    }
  }

  // ---- phase 2-4: evaluate, portfolio, diff ----

  std::string TaskKey(const std::string& portal, const std::string& account,
                      const std::string& rule, int cooldown_days) {
    int64_t day = now_ms / kDayMs;
    int64_t period = cooldown_days > 0 ? day / cooldown_days : 0;
    std::string basis = portal + "|" + account + "|" + rule + "|" + std::to_string(period);
    return "kam-" + Hex64(Fnv1a64ShortBasis(basis));
  }

  Plan Evaluate(bool persist_checkpoints) {
    Plan plan;
    int64_t total = store->CountAccounts(false);
    // Only the CRM values the diff needs are kept (the writeback properties), not whole records.
    std::vector<rules::WritebackField> writeback = rules->Writeback(cfg.crm);
    std::unordered_map<std::string, json> props_by_id;
    // One rules call (rules::EvaluatePortfolio, shared with `kam rules eval`): scores and tier,
    // the portfolio pass, then health and tasks with the tier after capacities. It visits the
    // snapshot twice; the first visit also collects names and the writeback values.
    int pass = 0;
    int64_t n = 0;
    rules::AccountSource source = [&](const rules::AccountVisitor& visit) -> rules::Status {
      ++pass;
      rules::Status status;
      store->ForEachAccount(
          [&](const store::AccountRow& row) {
            if (!status.ok()) return;
            json props = json::parse(row.properties_json, nullptr, false);
            if (props.is_discarded()) props = json::object();
            json aggs = row.aggregates_json.empty()
                            ? json::object()
                            : json::parse(row.aggregates_json, nullptr, false);
            if (aggs.is_discarded()) aggs = json::object();
            rules::Account account = rules->MapAccount(cfg.crm, row.id, row.owner_id, props, aggs,
                                                       now_ms / 1000, nullptr);
            if (pass == 1) {
              plan.names[row.id] = PropString(props, "name");
              plan.live_accounts.insert(row.id);
              json kept = json::object();
              for (const auto& wb : writeback) {
                auto it = props.find(wb.property);
                if (it != props.end()) kept[wb.property] = std::move(*it);
              }
              props_by_id.emplace(row.id, std::move(kept));
              if (++n % 5 == 0) {
                if (persist_checkpoints) Checkpoint("evaluate");
                CheckCancelled("evaluation");
                Progress("evaluate", static_cast<uint64_t>(n), static_cast<uint64_t>(total));
              }
            }
            status = visit(account, row.id);
          },
          false);
      return status;
    };
    rules::ResultSink sink = [&](rules::AccountResult&& result, std::string_view) {
      plan.results.push_back(std::move(result));
      return rules::Status();
    };
    rules::PortfolioEvalOptions options;
    options.expected_accounts = static_cast<size_t>(std::max<int64_t>(total, 0));
    // Keep what the portfolio pass, the diff and the writeback read; the per-criterion inputs
    // (the receipt's detail, shown by explain) would dominate memory on a large portfolio.
    options.keep_inputs = false;
    options.on_error = [&](const rules::Account& account, std::string_view,
                           const rules::Status& st) {
      counters.eval_errors++;
      if (plan.eval_errors.size() < 50) {
        plan.eval_errors.push_back({{"account_id", account.id}, {"error", st.message()}});
      }
      return rules::Status();  // the account keeps its earlier results and tasks
    };
    rules::EvalSummary summary;
    rules::Status st = rules::EvaluatePortfolio(*rules, source, sink, options, &summary);
    if (!st.ok()) {
      throw OpError(StatusCode::kInternal, "evaluating the accounts: " + st.message(),
                    st.location());
    }
    counters.evaluated = static_cast<int64_t>(plan.results.size());
    plan.portfolio = std::move(summary.portfolio);
    counters.capped = plan.portfolio.capped;
    Progress("evaluate", static_cast<uint64_t>(n), static_cast<uint64_t>(total));

    // Diff against what this add-in last wrote.
    const std::string scored_at = IsoUtc(now_ms);
    std::string scored_at_property;
    for (const auto& wb : writeback) {
      if (wb.result == "scored_at") scored_at_property = wb.property;
    }
    std::string tier_property;
    for (const auto& wb : writeback) {
      if (wb.result == "tier") tier_property = wb.property;
    }
    for (const auto& r : plan.results) {
      const json& props = props_by_id[r.account_id];
      PlannedUpdate up;
      up.account_id = r.account_id;
      up.account_name = plan.names[r.account_id];
      for (const auto& wb : writeback) {
        if (wb.result == "scored_at") continue;
        std::string ours = rules->WritebackValue(r, wb.result, scored_at);
        std::string crm = PropString(props, wb.property);
        auto last = store->GetWritten(r.account_id, wb.property);
        bool human_edit = last && !SameValue(crm, last->crm_value);
        ConflictPolicy policy = cfg.PolicyFor(wb.property);
        if (SameValue(ours, crm)) {
          if (human_edit || !last || last->value != ours) {
            plan.adopted.emplace_back(r.account_id, wb.property);
            plan.adopted_values[r.account_id + '\x1f' + wb.property] = crm;
          }
          continue;
        }
        if (policy == ConflictPolicy::kReport) {
          plan.reported_only.emplace_back(r.account_id, wb.property);
          continue;
        }
        if (human_edit) {
          FieldConflict c{r.account_id, up.account_name, wb.property, ours, crm,
                          last->value, policy};
          if (policy == ConflictPolicy::kRespect) {
            // Reported once per value the person set: again only when they change it.
            c.is_new = store->GetMeta(ConflictMetaKey(r.account_id, wb.property))
                           .value_or("") != "v:" + crm;
            plan.conflicts.push_back(std::move(c));
            continue;
          }
          plan.conflicts.push_back(std::move(c));
        }
        up.properties[wb.property] = ours;
        up.old_values[wb.property] = crm;
      }
      if (!up.properties.empty()) {
        if (!scored_at_property.empty()) {
          up.properties[scored_at_property] = scored_at;
          up.old_values[scored_at_property] = PropString(props, scored_at_property);
        }
        plan.updates.push_back(std::move(up));
      }
      // Tier changes for people: against the previous result, else the CRM's field.
      std::string from;
      if (auto prev = store->GetResult(r.account_id)) {
        from = prev->tier;
      } else if (!tier_property.empty()) {
        from = PropString(props, tier_property);
      }
      const std::string& to = r.final_tier.empty() ? r.tier : r.final_tier;
      if (from != to) plan.tier_changes.push_back({r.account_id, plan.names[r.account_id], from, to});
    }
    counters.changed_accounts = static_cast<int64_t>(plan.updates.size());
    counters.conflicts = 0;
    counters.conflicts_kept = 0;
    for (const auto& c : plan.conflicts) {
      if (c.is_new) counters.conflicts++;
      if (c.policy == ConflictPolicy::kRespect) counters.conflicts_kept++;
    }

    // Tasks: suggested ones not yet created; add-in tasks whose condition cleared.
    std::string portal = PortalId();
    std::map<std::pair<std::string, std::string>, std::vector<store::TaskRow>> live;
    for (const char* state : {"planned", "open"}) {
      for (auto& t : store->TasksInState(state)) {
        live[{t.account_id, t.rule_id}].push_back(std::move(t));
      }
    }
    std::set<std::pair<std::string, std::string>> holds;
    for (const auto& r : plan.results) {
      for (const auto& t : r.tasks) {
        holds.insert({r.account_id, t.rule_id});
        std::string key = TaskKey(portal, r.account_id, t.rule_id, t.cooldown_days);
        auto known = store->GetTask(key);
        if (known && known->state != "failed") continue;  // already suggested in this period
        PlannedTask pt;
        pt.in_doubt = known.has_value();  // a failed write may still have created it
        pt.key = key;
        pt.account_id = r.account_id;
        pt.account_name = plan.names[r.account_id];
        pt.rule_id = t.rule_id;
        pt.owner_id = r.owner_id;
        pt.auto_close = t.auto_close;
        pt.spec.key = key;
        pt.spec.account_id = r.account_id;
        pt.spec.owner_id = r.owner_id;
        pt.spec.subject = t.title;
        pt.spec.body = t.body;
        pt.spec.priority = PriorityFrom(t.priority);
        pt.spec.due_ms = now_ms + static_cast<int64_t>(t.due_in_days) * kDayMs;
        plan.tasks.push_back(std::move(pt));
      }
    }
    // Accounts still in the CRM (an account whose evaluation failed is not "gone").
    const std::unordered_set<std::string>& active = plan.live_accounts;
    for (const auto& [who, tasks] : live) {
      for (const auto& t : tasks) {
        if (t.state != "open" || t.crm_task_id.empty()) continue;
        bool archived = !active.count(t.account_id);
        bool cleared = t.auto_close && !holds.count(who);
        if (!archived && !cleared) continue;
        plan.completions.push_back({t.task_key, t.crm_task_id, t.account_id, t.rule_id,
                                    archived ? "the company was archived or deleted"
                                             : "the rule's condition no longer holds"});
      }
    }
    store->ForEachResult([&](const store::ResultRow& row) {
      if (!active.count(row.account_id)) plan.archived.push_back(row.account_id);
    });
    return plan;
  }

  // Writes the plan's results, history, conflicts and outbox entries in one transaction.
  void CommitPlan(const Plan& plan) {
    Checkpoint("plan.before_commit");
    std::map<std::string, std::vector<int64_t>> pending_updates;
    for (const auto& e : store->PendingOutbox("update", std::numeric_limits<int32_t>::max())) {
      pending_updates[e.account_id].push_back(e.id);
    }
    store::Store::Transaction tx(*store);
    for (const auto& r : plan.results) {
      store::ResultRow row;
      row.account_id = r.account_id;
      json scores = json::object();
      for (const auto& c : r.criteria) scores[c.id] = c.score;
      row.scores_json = scores.dump();
      row.score = r.score;
      row.tier = r.final_tier.empty() ? r.tier : r.final_tier;
      json health = json::array();
      for (const auto& h : r.health) {
        health.push_back({{"id", h.id}, {"label", h.label}, {"status", h.status}});
      }
      row.health_json = health.dump();
      row.receipt_json = json{{"input_hash", r.receipt.input_hash},
                              {"rules_hash", r.receipt.rules_hash},
                              {"rules_version", r.receipt.rules_version},
                              {"rank", r.rank},
                              {"pareto", r.pareto},
                              {"tier_by_score", r.tier}}
                             .dump();
      row.rules_hash = r.receipt.rules_hash;
      row.capped_reason = r.capped_reason;
      row.owner_id = r.owner_id;
      row.revenue = r.revenue;
      row.evaluated_ms = now_ms;
      auto prev = store->GetResult(r.account_id);
      if (!prev || prev->tier != row.tier || std::fabs(prev->score - row.score) > 1e-9) {
        store->AddHistory({r.account_id, run_id, r.score, row.tier, now_ms});
      }
      store->UpsertResult(row);
    }
    for (const auto& id : plan.archived) store->DeleteResult(id);
    for (const auto& [account, field] : plan.adopted) {
      const std::string& v = plan.adopted_values.at(account + '\x1f' + field);
      store->SetWritten(account, field, {v, v, now_ms});
    }
    for (const auto& [account, field] : plan.adopted) {
      // A conflict that ended (the rules reached the person's value) may be reported again.
      auto key = ConflictMetaKey(account, field);
      if (!store->GetMeta(key).value_or("").empty()) store->SetMeta(key, "");
    }
    for (const auto& c : plan.conflicts) {
      if (!c.is_new) continue;
      if (c.policy == ConflictPolicy::kRespect) {
        store->SetMeta(ConflictMetaKey(c.account_id, c.field), "v:" + c.crm);
      }
      store->AddAudit({0, run_id, now_ms, "conflict", c.account_id, c.field, c.last_written,
                       c.crm,
                       std::string("edited in the CRM by a person; policy ") +
                           ConflictPolicyName(c.policy) + "; our value: " + c.ours});
    }
    for (const auto& up : plan.updates) {
      auto it = pending_updates.find(up.account_id);
      if (it != pending_updates.end()) {
        for (int64_t id : it->second) store->DeleteOutbox(id);  // superseded by this plan
      }
      json payload = {{"properties", up.properties}, {"old", up.old_values}};
      std::string text = payload.dump();
      store::OutboxEntry e;
      e.run_id = run_id;
      e.kind = "update";
      e.idem_key = "update:" + up.account_id + ":" + std::to_string(run_id) + ":" +
                   Hex64(Fnv1a64ShortBasis(text));
      e.account_id = up.account_id;
      e.payload_json = text;
      store->AddOutbox(e);
    }
    for (const auto& t : plan.tasks) {
      store::OutboxEntry e;
      e.run_id = run_id;
      e.kind = "create_task";
      e.idem_key = "task:" + t.key + ":" + std::to_string(run_id);
      e.account_id = t.account_id;
      e.payload_json = json{{"task", TaskSpecJson(t.spec)},
                            {"rule_id", t.rule_id},
                            {"in_doubt", t.in_doubt}}
                           .dump();
      store->AddOutbox(e);
      store::TaskRow row;
      row.task_key = t.key;
      row.account_id = t.account_id;
      row.rule_id = t.rule_id;
      row.state = "planned";
      row.created_ms = now_ms;
      row.updated_ms = now_ms;
      row.owner_id = t.owner_id;
      row.auto_close = t.auto_close;
      store->UpsertTask(row);
    }
    for (const auto& c : plan.completions) {
      store::OutboxEntry e;
      e.run_id = run_id;
      e.kind = "complete_task";
      e.idem_key = "complete:" + c.key + ":" + std::to_string(run_id);
      e.account_id = c.account_id;
      e.payload_json =
          json{{"task_id", c.task_id}, {"task_key", c.key}, {"reason", c.reason}}.dump();
      store->AddOutbox(e);
    }
    store->SetMeta("last_portfolio", plan.portfolio.ToJson().dump());
    tx.Commit();
    Checkpoint("plan.committed");
  }

  // ---- phase 5: push ----

  // Before the first write of a run: every writeback property (and the task-key property) must
  // exist with the right type, else nothing is written and the run stops with
  // kFailedPrecondition naming the properties. One call per object type, once per run.
  void CheckPropertiesOnce() {
    if (properties_checked) return;
    auto r = crm->VerifyProperties(WritebackSpec());
    if (!r.ok()) throw CrmFailure(r.error(), "checking the add-in's CRM properties");
    std::string missing;
    for (const auto& it : r->items) {
      if (it.outcome == ProvisionItem::Outcome::kUnchanged) continue;
      missing += "\n  " + it.name + ": " + it.detail;
    }
    if (!missing.empty()) {
      throw OpError(StatusCode::kFailedPrecondition,
                    "the CRM lacks properties the add-in writes; nothing was written. Run `kam "
                    "provision` (it creates them and says what it cannot create):" + missing,
                    "provision");
    }
    properties_checked = true;
  }

  // Pushes every pending outbox entry; returns the first error that stops the run (entries stay
  // pending and the next run resumes them), or nothing.
  std::optional<OpError> Push() {
    std::vector<store::OutboxEntry> all = store->PendingOutboxAll();
    if (all.empty()) return std::nullopt;
    CheckPropertiesOnce();
    uint64_t total = all.size();
    uint64_t done = 0;
    std::vector<store::OutboxEntry> updates, creates, completes;
    for (auto& e : all) {
      if (e.kind == "update") updates.push_back(std::move(e));
      else if (e.kind == "create_task") creates.push_back(std::move(e));
      else completes.push_back(std::move(e));
    }
    const size_t batch = static_cast<size_t>(cfg.batch_size);
    for (size_t i = 0; i < updates.size(); i += batch) {
      CheckCancelled("the push");
      std::vector<store::OutboxEntry> chunk(updates.begin() + i,
                                            updates.begin() + std::min(updates.size(), i + batch));
      if (auto err = PushUpdates(chunk)) return err;
      done += chunk.size();
      Progress("push", done, total);
    }
    for (size_t i = 0; i < creates.size(); i += batch) {
      CheckCancelled("the push");
      std::vector<store::OutboxEntry> chunk(creates.begin() + i,
                                            creates.begin() + std::min(creates.size(), i + batch));
      if (auto err = PushTaskCreates(chunk)) return err;
      done += chunk.size();
      Progress("push", done, total);
    }
    for (size_t i = 0; i < completes.size(); i += batch) {
      CheckCancelled("the push");
      std::vector<store::OutboxEntry> chunk(
          completes.begin() + i, completes.begin() + std::min(completes.size(), i + batch));
      if (auto err = PushCompletions(chunk)) return err;
      done += chunk.size();
      Progress("push", done, total);
    }
    return std::nullopt;
  }

  void RecordFailure(const store::OutboxEntry& e, const CrmError& err) {
    counters.write_errors++;
    if (counters.errors.size() < 50) {
      counters.errors.push_back(
          {{"account_id", e.account_id}, {"kind", e.kind}, {"error", err.ToString()}});
    }
    if (err.retryable) {
      store->BumpOutboxAttempts(e.id);  // stays pending: the next run retries it
      return;
    }
    store->MarkOutbox(e.id, store::OutboxState::kError, err.ToString());
    store->AddAudit({0, run_id, now_ms, "write_failed", e.account_id, e.kind, "", "",
                     err.ToString()});
    if (e.kind == "create_task") {
      // The next run plans it again (by the same key, so a task that did get created is found
      // and not duplicated).
      json p = json::parse(e.payload_json, nullptr, false);
      std::string key = p.is_object() ? p["task"].value("key", "") : "";
      if (auto t = store->GetTask(key); t && t->state == "planned") {
        t->state = "failed";
        t->updated_ms = now_ms;
        store->UpsertTask(*t);
      }
    }
  }

  std::optional<OpError> PushUpdates(const std::vector<store::OutboxEntry>& chunk) {
    std::vector<FieldUpdate> updates;
    std::map<std::string, const store::OutboxEntry*> by_account;
    std::map<std::string, json> payloads;
    for (const auto& e : chunk) {
      json p = json::parse(e.payload_json);
      FieldUpdate u;
      u.account_id = e.account_id;
      for (const auto& [k, v] : p["properties"].items()) u.fields[k] = v.get<std::string>();
      updates.push_back(std::move(u));
      by_account[e.account_id] = &e;
      payloads[e.account_id] = std::move(p);
    }
    Checkpoint("push.update.before_send");
    auto result = crm->WriteFields(updates);
    if (!result.ok()) {
      if (result.error().stops_run) {
        if (result.error().code == StatusCode::kCancelled) CheckCancelled("the push");
        return CrmFailure(result.error(), "writing company fields");
      }
      store::Store::Transaction tx(*store);
      for (const auto& e : chunk) RecordFailure(e, result.error());
      tx.Commit();
      return std::nullopt;
    }
    Checkpoint("push.update.sent");
    store::Store::Transaction tx(*store);
    std::set<std::string> failed_ids;
    for (const auto& f : result->failed) {
      failed_ids.insert(f.id);
      auto it = by_account.find(f.id);
      if (it != by_account.end()) RecordFailure(*it->second, f.error);
    }
    for (const auto& e : chunk) {
      if (failed_ids.count(e.account_id)) continue;
      const json& p = payloads[e.account_id];
      auto row = store->GetAccount(e.account_id);
      json props = row ? json::parse(row->properties_json, nullptr, false) : json::object();
      if (props.is_discarded()) props = json::object();
      for (const auto& [field, v] : p["properties"].items()) {
        std::string value = v.get<std::string>();
        store->SetWritten(e.account_id, field, {value, value, now_ms});
        store->AddAudit({0, run_id, now_ms, "update_field", e.account_id, field,
                         p["old"].value(field, ""), value, ""});
        props[field] = value;
        counters.fields_written++;
      }
      if (row) {
        row->properties_json = props.dump();
        store->UpsertAccount(*row);
      }
      store->MarkOutbox(e.id, store::OutboxState::kAcked, "");
      counters.accounts_written++;
    }
    tx.Commit();
    Checkpoint("push.update.committed");
    return std::nullopt;
  }

  std::optional<OpError> PushTaskCreates(const std::vector<store::OutboxEntry>& chunk) {
    std::vector<TaskSpec> specs;
    std::map<std::string, const store::OutboxEntry*> by_key;
    for (const auto& e : chunk) {
      json p = json::parse(e.payload_json);
      specs.push_back(TaskSpecFromJson(p["task"]));
      // Only a key that may already be in the CRM needs the search by key: one planned by an
      // earlier (interrupted) run, retried, or re-planned after a failed write.
      specs.back().in_doubt = p.value("in_doubt", true) || e.attempts > 0 || e.run_id != run_id;
      by_key[specs.back().key] = &e;
    }
    Checkpoint("push.tasks.before_send");
    auto result = crm->WriteTasks(specs);
    if (!result.ok()) {
      if (result.error().stops_run) {
        if (result.error().code == StatusCode::kCancelled) CheckCancelled("the push");
        return CrmFailure(result.error(), "creating tasks");
      }
      store::Store::Transaction tx(*store);
      for (const auto& e : chunk) RecordFailure(e, result.error());
      tx.Commit();
      return std::nullopt;
    }
    Checkpoint("push.tasks.sent");
    store::Store::Transaction tx(*store);
    for (const auto& o : *result) {
      auto it = by_key.find(o.key);
      if (it == by_key.end()) continue;
      const store::OutboxEntry& e = *it->second;
      if (o.error || o.task_id.empty()) {
        CrmError err = o.error.value_or(CrmError{});
        if (!o.error) err.message = "the CRM returned no task id";
        RecordFailure(e, err);
        continue;
      }
      auto row = store->GetTask(o.key);
      store::TaskRow t = row.value_or(store::TaskRow{});
      t.task_key = o.key;
      if (t.account_id.empty()) t.account_id = e.account_id;
      t.crm_task_id = o.task_id;
      t.state = "open";
      t.updated_ms = now_ms;
      store->UpsertTask(t);
      store->AddAudit({0, run_id, now_ms, "create_task", e.account_id, o.key, "", o.task_id,
                       o.created ? "created" : "already in the CRM (idempotent retry)"});
      store->MarkOutbox(e.id, store::OutboxState::kAcked, "");
      if (o.created) counters.tasks_created++;
      else counters.tasks_existing++;
    }
    tx.Commit();
    Checkpoint("push.tasks.committed");
    return std::nullopt;
  }

  std::optional<OpError> PushCompletions(const std::vector<store::OutboxEntry>& chunk) {
    std::vector<std::string> ids;
    std::map<std::string, const store::OutboxEntry*> by_task;
    std::map<std::string, std::string> keys;
    for (const auto& e : chunk) {
      json p = json::parse(e.payload_json);
      std::string id = p.value("task_id", "");
      ids.push_back(id);
      by_task[id] = &e;
      keys[id] = p.value("task_key", "");
    }
    Checkpoint("push.complete.before_send");
    auto result = crm->CompleteTasks(ids);
    if (!result.ok()) {
      if (result.error().stops_run) {
        if (result.error().code == StatusCode::kCancelled) CheckCancelled("the push");
        return CrmFailure(result.error(), "completing tasks");
      }
      store::Store::Transaction tx(*store);
      for (const auto& e : chunk) RecordFailure(e, result.error());
      tx.Commit();
      return std::nullopt;
    }
    Checkpoint("push.complete.sent");
    store::Store::Transaction tx(*store);
    std::set<std::string> failed;
    for (const auto& f : result->failed) {
      failed.insert(f.id);
      auto it = by_task.find(f.id);
      if (it == by_task.end()) continue;
      if (f.error.code == StatusCode::kNotFound) {
        failed.erase(f.id);  // deleted by a person: nothing left to complete
        continue;
      }
      RecordFailure(*it->second, f.error);
    }
    for (const auto& [id, e] : by_task) {
      if (failed.count(id)) continue;
      if (auto t = store->GetTask(keys[id])) {
        t->state = "completed";
        t->updated_ms = now_ms;
        store->UpsertTask(*t);
      }
      store->AddAudit({0, run_id, now_ms, "complete_task", e->account_id, keys[id], "open",
                       "completed", ""});
      store->MarkOutbox(e->id, store::OutboxState::kAcked, "");
      counters.tasks_completed++;
    }
    tx.Commit();
    Checkpoint("push.complete.committed");
    return std::nullopt;
  }

  // ---- run records ----

  json UsageJson() {
    json u = json::object();
    if (!crm) return u;
    CrmUsage usage = crm->Usage();
    u["api_calls"] = usage.calls;
    u["retries"] = usage.retries;
    u["rate_limited"] = usage.rate_limited;
    u["failed_calls"] = usage.failed;
    u["quota_left"] = usage.quota_left;
    u["daily_limit"] = usage.daily_limit;
    return u;
  }

  json Summary(int64_t started_ms) {
    json s = counters.ToJson();
    s["run_id"] = run_id;
    s["duration_ms"] = WallMs() - started_ms;
    s["checkpoints"] = checkpoints;
    s.update(UsageJson());
    return s;
  }

  void Start(const char* kind) {
    now_ms = WallMs();
    OpenStore();
    int stale = store->MarkInterruptedRuns(now_ms);
    if (stale > 0) Log(KAM_LOG_WARN, "a previous run was interrupted; resuming its work");
    run_id = store->StartRun(kind, now_ms);
  }

  void Finish(int64_t started_ms, const std::string& outcome, const std::string& error) {
    if (!store || run_id == 0) return;
    try {
      store->FinishRun(run_id, WallMs(), outcome, Summary(started_ms).dump(), error);
    } catch (const store::StoreError& e) {
      Log(KAM_LOG_ERROR, std::string("could not record the run: ") + e.what());
    }
  }

  // Runs body with the run bookkeeping: the run row ends "ok", "error" or "cancelled".
  template <typename Fn>
  json Run(const char* kind, Fn&& body) {
    int64_t started = WallMs();
    struct Close {  // the state file is held only during a call
      Impl& m;
      ~Close() {
        m.crm.reset();
        m.store.reset();
      }
    } close{*this};
    try {
      Start(kind);
      json out = body();
      Finish(started, "ok", "");
      return out;
    } catch (const OpError& e) {
      Finish(started, e.code() == StatusCode::kCancelled ? "cancelled" : "error", e.message());
      throw;
    } catch (const store::StoreError& e) {
      Finish(started, "error", e.what());
      throw OpError(StatusCode::kInternal, e.what(), cfg.state_path);
    } catch (const nlohmann::json::exception& e) {
      Finish(started, "error", e.what());
      throw OpError(StatusCode::kInternal, std::string("malformed state or CRM data: ") + e.what());
    }
  }
};

// ---- texts ----------------------------------------------------------------------------------

namespace {

std::string SyncText(const json& s) {
  std::ostringstream o;
  o << "Sync " << (s.value("full_pull", false) ? "(full pull)" : "(incremental)") << ": pulled "
    << s.value("pulled", 0) << " companies in " << s.value("pages", 0) << " pages, evaluated "
    << s.value("evaluated", 0) << ".\n";
  o << "Wrote " << s.value("fields_written", 0) << " fields on " << s.value("accounts_written", 0)
    << " companies; tasks created " << s.value("tasks_created", 0) << ", completed "
    << s.value("tasks_completed", 0) << ".\n";
  o << "Conflicts (edited by people): " << s.value("conflicts", 0) << " new, "
    << s.value("conflicts_kept", 0) << " kept"
    << "; capped by capacity: " << s.value("capped", 0)
    << "; write errors: " << s.value("write_errors", 0) << ".\n";
  o << "API calls: " << s.value("api_calls", 0);
  if (s.value("quota_left", int64_t{-1}) >= 0) o << ", daily quota left " << s["quota_left"];
  o << ", " << s.value("duration_ms", 0) << " ms.";
  return o.str();
}

}  // namespace

SyncEngine::SyncEngine(Host& host, SyncEngineOptions options)
    : impl_(std::make_unique<Impl>(host, std::move(options))) {}

SyncEngine::~SyncEngine() = default;

json SyncEngine::Sync(bool full) {
  Impl& m = *impl_;
  m.counters = RunCounters{};
  m.LoadRules(/*run_tests=*/false);  // a bad or missing file: nothing is opened or written
  return m.Run("sync", [&]() -> json {
    m.RunRuleTests();
    m.MakeClient();
    // Resume: writes planned by an interrupted run go out first.
    int64_t pending = m.store->CountOutbox(store::OutboxState::kPending);
    if (pending > 0) {
      m.counters.resumed_entries = pending;
      m.Log(KAM_LOG_INFO, "resuming " + std::to_string(pending) + " planned writes");
      if (auto err = m.Push()) throw *err;
    }
    json phase_ms = json::object();
    auto t = std::chrono::steady_clock::now();
    auto lap = [&](const char* phase) {
      auto now = std::chrono::steady_clock::now();
      phase_ms[phase] = std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
      t = now;
    };
    auto pulled = m.Pull(full);
    lap("pull");
    m.RefreshFacts(pulled);
    lap("facts");
    Plan plan = m.Evaluate(true);
    lap("evaluate");
    m.CommitPlan(plan);
    lap("plan");
    if (auto err = m.Push()) throw *err;
    lap("push");
    json s = m.Summary(m.now_ms);
    s["phase_ms"] = phase_ms;
    s["pruned"] = PruneExpired(*m.store, m.cfg.retention_days, m.now_ms, m.host);  // retention.h
    s["conflict_details"] = json::array();
    for (const auto& c : plan.conflicts) {
      if (s["conflict_details"].size() >= 100) break;
      s["conflict_details"].push_back({{"account_id", c.account_id},
                                       {"name", c.account_name},
                                       {"field", c.field},
                                       {"crm_value", c.crm},
                                       {"our_value", c.ours},
                                       {"policy", ConflictPolicyName(c.policy)},
                                       {"new", c.is_new}});
    }
    s["evaluation_error_details"] = plan.eval_errors;
    s["tiers"] = plan.portfolio.ToJson();
    // Write errors: the run is recorded and summarised, but the host exits non-zero (kam: 7).
    s["ok"] = m.counters.write_errors == 0;
    s["text"] = SyncText(s);
    return s;
  });
}

json SyncEngine::DryRun(bool full) {
  Impl& m = *impl_;
  m.counters = RunCounters{};
  m.LoadRules(false);
  return m.Run("dry_run", [&]() -> json {
    m.RunRuleTests();
    m.MakeClient();
    auto pulled = m.Pull(full);
    m.RefreshFacts(pulled);
    Plan plan = m.Evaluate(false);
    json out;
    std::map<std::string, json> changes;
    for (const auto& t : plan.tier_changes) {
      std::string k = (t.from.empty() ? "(none)" : t.from) + " -> " + t.to;
      json& c = changes[k];
      if (c.is_null()) c = {{"from", t.from}, {"to", t.to}, {"count", 0}, {"accounts", json::array()}};
      c["count"] = c["count"].get<int64_t>() + 1;
      if (c["accounts"].size() < 20) c["accounts"].push_back({{"id", t.account_id}, {"name", t.account_name}});
    }
    json tier_changes = json::array();
    for (auto& [k, v] : changes) tier_changes.push_back(v);
    std::map<std::string, int64_t> fields;
    for (const auto& u : plan.updates) {
      for (const auto& [f, v] : u.properties) fields[f]++;
    }
    json tasks = json::array();
    for (const auto& t : plan.tasks) {
      if (tasks.size() >= 100) break;
      tasks.push_back({{"account_id", t.account_id}, {"name", t.account_name},
                       {"rule_id", t.rule_id}, {"title", t.spec.subject}, {"key", t.key}});
    }
    json completes = json::array();
    for (const auto& c : plan.completions) {
      completes.push_back({{"account_id", c.account_id}, {"rule_id", c.rule_id},
                           {"task_id", c.task_id}, {"reason", c.reason}});
    }
    json conflicts = json::array();
    for (const auto& c : plan.conflicts) {
      if (conflicts.size() >= 100) break;
      conflicts.push_back({{"account_id", c.account_id}, {"name", c.account_name},
                           {"field", c.field}, {"crm_value", c.crm}, {"our_value", c.ours},
                           {"last_written", c.last_written},
                           {"policy", ConflictPolicyName(c.policy)}});
    }
    out["tier_changes"] = tier_changes;
    out["accounts_to_write"] = plan.updates.size();
    out["fields_to_write"] = fields;
    out["tasks_to_create"] = plan.tasks.size();
    out["task_details"] = tasks;
    out["tasks_to_complete"] = completes;
    out["conflicts"] = conflicts;
    out["conflict_count"] = plan.conflicts.size();
    out["reported_only"] = plan.reported_only.size();
    out["evaluation_errors"] = plan.eval_errors;
    out["portfolio"] = plan.portfolio.ToJson();
    out.update(m.UsageJson());
    std::ostringstream o;
    o << "Dry run: nothing was written to the CRM.\n";
    o << "Tier changes:";
    if (tier_changes.empty()) o << " none";
    o << "\n";
    for (const auto& c : tier_changes) {
      std::string from = c["from"].get<std::string>();
      o << "  " << (from.empty() ? "(none)" : from) << " -> " << c["to"].get<std::string>()
        << ": " << c["count"] << " accounts (";
      size_t n = 0;
      for (const auto& a : c["accounts"]) {
        if (n++ == 5) {
          o << ", ...";
          break;
        }
        o << (n > 1 ? ", " : "") << a["name"].get<std::string>();
      }
      o << ")\n";
    }
    o << "Fields to write on " << plan.updates.size() << " companies:";
    for (const auto& [f, n] : fields) o << " " << f << "=" << n;
    o << "\nTasks to create: " << plan.tasks.size() << "; to complete: " << plan.completions.size()
      << "\nConflicts (edited by people): " << plan.conflicts.size() << "\n";
    for (const auto& c : plan.conflicts) {
      o << "  " << c.account_name << " (" << c.account_id << ") " << c.field << ": CRM \""
        << c.crm << "\", ours \"" << c.ours << "\" -> " << ConflictPolicyName(c.policy) << "\n";
    }
    out["text"] = o.str();
    return out;
  });
}

json SyncEngine::Status() {
  Impl& m = *impl_;
  try {
    m.OpenStore();
  } catch (const OpError& e) {
    if (e.code() != StatusCode::kConflict) throw;
    return {{"running", true}, {"text", std::string("A sync is running: ") + e.message()}};
  }
  struct Close {
    Impl& m;
    ~Close() { m.store.reset(); }
  } close{m};
  try {
    int64_t now = WallMs();
    json runs = json::array();
    for (const auto& r : m.store->LastRuns(10)) {
      json counters = json::parse(r.counters_json, nullptr, false);
      runs.push_back({{"id", r.id},
                      {"kind", r.kind},
                      {"started", IsoUtc(r.started_ms)},
                      {"ended", r.ended_ms ? IsoUtc(r.ended_ms) : ""},
                      {"outcome", r.outcome},
                      {"error", r.error},
                      {"counters", counters.is_discarded() ? json::object() : counters}});
    }
    store::Cursor c = m.store->GetCursor(kCompanies);
    json out = {
        {"running", false},
        {"state", m.cfg.state_path},
        {"runs", runs},
        {"cursor",
         {{"modified", c.ts_ms ? IsoUtc(c.ts_ms) : ""},
          {"age_seconds", c.updated_ms ? (now - c.updated_ms) / 1000 : -1},
          {"last_full_pull", c.last_full_pull_ms ? IsoUtc(c.last_full_pull_ms) : ""},
          {"full_pull_in_progress", c.full_pull_in_progress}}},
        {"outbox",
         {{"pending", m.store->CountOutbox(store::OutboxState::kPending)},
          {"failed", m.store->CountOutbox(store::OutboxState::kError)},
          {"acknowledged", m.store->CountOutbox(store::OutboxState::kAcked)}}},
        {"accounts", m.store->CountAccounts(false)},
        {"open_tasks", m.store->TasksInState("open").size()},
    };
    int64_t quota = -1;
    for (const auto& r : runs) {
      if (r["counters"].contains("quota_left")) {
        quota = r["counters"]["quota_left"].get<int64_t>();
        break;
      }
    }
    out["quota_left"] = quota;
    std::ostringstream o;
    o << "State " << m.cfg.state_path << ": " << out["accounts"] << " accounts, "
      << out["open_tasks"] << " open add-in tasks.\n";
    o << "Cursor: " << (c.ts_ms ? IsoUtc(c.ts_ms) : "never pulled");
    if (c.updated_ms) o << " (moved " << (now - c.updated_ms) / 1000 << " s ago)";
    o << "\nOutbox: " << out["outbox"]["pending"] << " pending, " << out["outbox"]["failed"]
      << " failed.\nQuota left: " << (quota >= 0 ? std::to_string(quota) : "unknown") << "\n";
    for (const auto& r : runs) {
      if (r["kind"] != "sync" || !r["counters"].contains("conflicts_kept")) continue;
      out["conflicts_kept"] = r["counters"]["conflicts_kept"];
      o << "Conflicts kept (fields a person edited; the add-in leaves them as they are): "
        << r["counters"]["conflicts_kept"] << " (listed by `kam sync --dry-run`)\n";
      break;
    }
    o << "Last runs:\n";
    for (const auto& r : runs) {
      o << "  #" << r["id"] << " " << r["kind"].get<std::string>() << " "
        << r["started"].get<std::string>() << " " << r["outcome"].get<std::string>();
      if (r["counters"].contains("fields_written")) {
        o << " (pulled " << r["counters"].value("pulled", 0) << ", written "
          << r["counters"].value("fields_written", 0) << " fields, tasks +"
          << r["counters"].value("tasks_created", 0) << ")";
      }
      if (!r["error"].get<std::string>().empty()) o << ": " << r["error"].get<std::string>();
      o << "\n";
    }
    out["text"] = o.str();
    m.store.reset();
    return out;
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), m.cfg.state_path);
  }
}

json SyncEngine::Provision() {
  Impl& m = *impl_;
  m.counters = RunCounters{};
  m.LoadRules(false);
  return m.Run("provision", [&]() -> json {
    m.MakeClient();
    ProvisionSpec spec = m.WritebackSpec();
    auto r = m.crm->Provision(spec);
    if (!r.ok()) throw CrmFailure(r.error(), "provisioning the add-in's properties");
    m.store->SetMeta("task_key_unique", r->task_key_unique ? "true" : "false");
    json items = json::array();
    bool changed = false;
    bool conflicts = false;
    std::ostringstream o;
    for (const auto& it : r->items) {
      std::string object = it.object == CrmObject::kTask ? "tasks" : "companies";
      std::string outcome(ProvisionOutcomeName(it.outcome));
      changed = changed || it.outcome == ProvisionItem::Outcome::kCreated ||
                it.outcome == ProvisionItem::Outcome::kUpdated;
      conflicts = conflicts || it.outcome == ProvisionItem::Outcome::kConflict;
      items.push_back(
          {{"object_type", object}, {"name", it.name}, {"outcome", outcome}, {"detail", it.detail}});
      o << "  " << object << " " << it.name << ": " << outcome;
      if (!it.detail.empty()) o << " (" << it.detail << ")";
      o << "\n";
    }
    bool complete = r->complete();
    std::string head = std::string("Provisioning ") +
                       (changed ? "changed the portal" : "found everything in place") + ":\n";
    if (!complete) {
      head = "Provisioning is INCOMPLETE: the properties marked below are missing or unusable; "
             "fix them and run `kam provision` again (a sync stops until they exist):\n";
    }
    o << "Task keys unique: " << (r->task_key_unique ? "yes (tasks are upserted by key)"
                                                      : "no (tasks are searched by key first)");
    return json{{"items", items},
                {"changed", changed},
                {"conflicts", conflicts},
                {"task_key_unique", r->task_key_unique},
                {"ok", complete},
                {"text", head + o.str()}};
  });
}

json SyncEngine::Report(const std::string& html_path) {
  Impl& m = *impl_;
  m.LoadRules(false);
  m.OpenStore();
  struct Close {
    Impl& m;
    ~Close() { m.store.reset(); }
  } close{m};
  try {
    std::vector<store::ResultRow> results;
    m.store->ForEachResult([&](const store::ResultRow& r) { results.push_back(r); });
    std::map<std::string, int64_t> per_tier;
    std::map<std::string, std::map<std::string, int64_t>> per_owner_tier;
    std::map<std::string, std::map<std::string, int64_t>> health;
    json capped = json::array();
    auto name_of = [&m](const std::string& id) -> std::string {  // the CRM's company name
      auto a = m.store->GetAccount(id);
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
        capped.push_back({{"account_id", r.account_id}, {"name", name_of(r.account_id)},
                          {"tier", r.tier}, {"score", r.score}, {"reason", r.capped_reason}});
      }
    }
    const auto& tiers = m.rules->tiers();
    json tier_rows = json::array();
    std::set<std::string> key_tiers;
    for (size_t i = 0; i < tiers.size(); ++i) {
      if (i + 1 < tiers.size()) key_tiers.insert(tiers[i].id);
      tier_rows.push_back({{"tier", tiers[i].id},
                           {"label", tiers[i].label},
                           {"accounts", per_tier[tiers[i].id]},
                           {"capacity_total", tiers[i].capacity_total
                                                  ? json(*tiers[i].capacity_total)
                                                  : json(nullptr)},
                           {"capacity_per_owner", tiers[i].capacity_per_owner
                                                      ? json(*tiers[i].capacity_per_owner)
                                                      : json(nullptr)}});
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
      auto h = m.store->HistoryFor(r.account_id);
      if (h.size() < 2) continue;
      const auto& a = h[h.size() - 2];
      const auto& b = h.back();
      if (std::fabs(b.score - a.score) > 1e-9) movers.push_back({r.account_id, a.score, b.score, a.tier, b.tier});
    }
    std::sort(movers.begin(), movers.end(), [](const Mover& x, const Mover& y) {
      return std::fabs(x.to - x.from) > std::fabs(y.to - y.from);
    });
    if (movers.size() > 10) movers.resize(10);
    json mover_rows = json::array();
    for (const auto& mv : movers) {
      mover_rows.push_back({{"account_id", mv.id}, {"name", name_of(mv.id)}, {"from", mv.from},
                            {"to", mv.to},
                            {"from_tier", mv.from_tier}, {"to_tier", mv.to_tier}});
    }
    // Per-KAM workload.
    std::map<std::string, int64_t> open_tasks;
    for (const auto& t : m.store->TasksInState("open")) {
      open_tasks[t.owner_id.empty() ? "(no owner)" : t.owner_id]++;
    }
    json workload = json::array();
    for (const auto& [owner, counts] : per_owner_tier) {
      int64_t key = 0;
      for (const auto& [tier, n] : counts) {
        if (key_tiers.count(tier)) key += n;
      }
      workload.push_back({{"owner_id", owner}, {"key_accounts", key}, {"tiers", counts},
                          {"open_tasks", open_tasks[owner]}});
    }
    json health_rows = json::object();
    for (const auto& [id, c] : health) health_rows[id] = c;
    json portfolio = json::parse(m.store->GetMeta("last_portfolio").value_or("{}"), nullptr, false);
    json out = {{"accounts", results.size()}, {"tiers", tier_rows},   {"pareto", pareto},
                {"capped", capped},           {"health", health_rows}, {"movers", mover_rows},
                {"workload", workload},
                {"portfolio", portfolio.is_discarded() ? json::object() : portfolio}};
    std::ostringstream o;
    o << "Portfolio report (" << results.size() << " accounts, rule file " << m.rules->name()
      << " " << m.rules->version() << ")\n\nTiers (accounts / capacity):\n";
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
    out["text"] = o.str();
    if (!html_path.empty()) {
      WriteReportHtml(html_path, out, m.host);  // escaped and redacted (report_html.h)
      out["html"] = html_path;
    }
    m.store.reset();
    return out;
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), m.cfg.state_path);
  }
}

}  // namespace kam::engine
