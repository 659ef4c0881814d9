// `kam demo`: the end-to-end story against an in-process sandbox CRM (see demo.h).
#include "demo.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "kam/addin.h"
#include "kam/http/encoding.h"
#include "kam/http/options.h"
#include "kam/hubspot/transport.h"
#include "kam/rules/rules.h"
#include "kam/sandbox/sandbox_server.h"
#include "kam/store/store.h"
#include "sync_engine.h"

namespace kam::engine {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A temporary directory removed on scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("kam-demo-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The Salesforce sandbox's REST root (any supported version answers).
constexpr const char* kSfApi = "/services/data/v67.0";

// Talks to the sandbox's HubSpot or Salesforce API as a person's CRM client would.
class Crm {
 public:
  Crm(const std::string& url, const std::string& token) : token_(token) {
    http::ClientOptions o;
    o.base_url = url;
    o.rate_limit.enabled = false;
    auto t = hubspot::MakeHttpTransport(o);
    if (!t.ok()) throw OpError(StatusCode::kInternal, "demo: " + t.error().ToString());
    transport_ = t.value();
  }
  json Call(const std::string& method, const std::string& target, const json& body) {
    hubspot::HttpCall c;
    c.method = method;
    c.target = target;
    if (!body.is_null()) c.body = body.dump();
    c.headers.push_back({"Authorization", "Bearer " + token_});
    auto r = transport_->Send(c);
    if (!r.ok()) throw OpError(StatusCode::kInternal, "demo: " + method + " " + target + ": " + r.error().ToString());
    if (r->body.empty()) return json::object();
    return json::parse(r->body);
  }
  // Every task's key ("" for tasks people made): kam_task_key (HubSpot) or KAM_Task_Key__c
  // (Salesforce, by SOQL).
  std::vector<std::string> TaskKeys(bool salesforce) {
    std::vector<std::string> keys;
    if (salesforce) {
      json page = Call("GET",
                       std::string(kSfApi) + "/query?q=" +
                           http::PercentEncode("SELECT Id, KAM_Task_Key__c FROM Task"),
                       nullptr);
      for (;;) {
        for (const auto& t : page["records"]) {
          const json& key = t["KAM_Task_Key__c"];
          keys.push_back(key.is_string() ? key.get<std::string>() : "");
        }
        if (page.value("done", true)) break;
        page = Call("GET", page["nextRecordsUrl"].get<std::string>(), nullptr);
      }
      return keys;
    }
    std::string after;
    for (;;) {
      json page = Call("GET",
                       "/crm/v3/objects/tasks?limit=100&properties=kam_task_key" +
                           (after.empty() ? "" : "&after=" + after),
                       nullptr);
      for (const auto& t : page["results"]) {
        const json& p = t["properties"];
        keys.push_back(p.contains("kam_task_key") && p["kam_task_key"].is_string()
                           ? p["kam_task_key"].get<std::string>()
                           : "");
      }
      if (!page.contains("paging")) break;
      after = page["paging"]["next"]["after"].get<std::string>();
    }
    return keys;
  }

 private:
  std::string token_;
  std::shared_ptr<hubspot::Transport> transport_;
};

std::string Fmt(double v, int decimals = 1) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(decimals);
  o << v;
  return o.str();
}

struct Top {
  std::string id, name, tier;
  double score;
};

}  // namespace

json RunDemo(Host& host, const DemoOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  std::string_view rules_text = ExampleRules();
  if (rules_text.empty()) {
    throw OpError(StatusCode::kInternal,
                  "this build has no embedded example rule file (packaging/examples/rules/"
                  "key-accounts.json was missing at configure time)");
  }
  TempDir dir;
  fs::path rules_path = dir.path / "key-accounts.json";
  {
    std::ofstream f(rules_path);
    f << rules_text;
  }
  const bool sf = options.crm == "salesforce";
  sandbox::SandboxOptions so;
  so.crm = sf ? "salesforce" : "hubspot";
  so.accounts = options.accounts;
  so.seed = options.seed;
  so.task_key_unique = true;
  // The demo's portal has no rate limits (its client does not pace, to finish quickly), so its
  // search bucket is off too: otherwise the first pull meets HubSpot's 5 searches/s limit.
  so.search_per_second = 0;
  auto started = sandbox::SandboxServer::Start(so);
  if (!started.ok()) throw OpError(StatusCode::kUnavailable, "demo: the sandbox did not start: " + started.error);
  std::unique_ptr<sandbox::SandboxServer> server = std::move(started.server);
  host.Log(KAM_LOG_INFO, "sandbox CRM listening on " + server->url());

  SyncEngineOptions eo;
  if (sf) {
    // As an admin configures an org: OAuth client credentials against the token endpoint.
    eo.config = ParseEngineConfig(
        json{{"crm", "salesforce"},
             {"salesforce",
              {{"login_url", server->url()},
               {"auth", {{"flow", "client_credentials"}, {"client_id", "kam-demo"}}}}}});
  }
  eo.config.hubspot.base_url = server->url();
  eo.config.hubspot.rate_enabled = false;
  eo.config.rules_path = rules_path.string();
  eo.config.state_path = (dir.path / "state.db").string();
  const std::string token = so.token;
  eo.get_secret = [token](std::string_view) { return std::optional<std::string>(token); };
  SyncEngine engine(host, eo);

  std::ostringstream story;
  json provision = engine.Provision();
  json first = engine.Sync(false);

  auto loaded = rules::RuleSet::LoadText(rules_text, "key-accounts.json");
  if (!loaded.ok()) throw OpError(StatusCode::kInternal, "demo: the embedded rule file does not load");
  const rules::RuleSet& rs = *loaded.rules;

  // The story, part 1: what the portfolio looks like now.
  std::vector<Top> tops;
  std::map<std::string, std::string> tier_labels;
  for (const auto& t : rs.tiers()) tier_labels[t.id] = t.label;
  {
    auto st = store::Store::Open(eo.config.state_path);
    st->ForEachResult([&](const store::ResultRow& r) {
      auto acc = st->GetAccount(r.account_id);
      json props = acc ? json::parse(acc->properties_json) : json::object();
      tops.push_back({r.account_id, props.value("name", r.account_id), r.tier, r.score});
    });
  }
  std::sort(tops.begin(), tops.end(), [](const Top& a, const Top& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  json report = engine.Report("");

  story << "KAM add-in demo: a sandbox " << (sf ? "Salesforce org" : "HubSpot portal") << " with "
        << options.accounts << (sf ? " accounts" : " companies") << " on " << server->url()
        << ".\n\n";
  story << "1. Provisioned the add-in's CRM properties (" << provision["items"].size()
        << " items) and synced with the example rule file \"" << rs.name() << "\".\n";
  story << "   " << first["text"].get<std::string>() << "\n\n";
  story << "2. Key accounts are chosen on weighted criteria, and each tier has a capacity so "
           "that KAMs can give each account real attention:\n";
  for (const auto& t : report["tiers"]) {
    story << "   - " << t["label"].get<std::string>() << ": " << t["accounts"] << " accounts";
    if (!t["capacity_total"].is_null()) story << " (capacity " << t["capacity_total"] << ")";
    if (!t["capacity_per_owner"].is_null()) story << ", at most " << t["capacity_per_owner"] << " per KAM";
    story << "\n";
  }
  story << "   " << first.value("capped", 0)
        << " accounts scored high enough for a higher tier but did not fit its capacity; "
           "`kam report` lists them with the reason.\n\n";
  const json& p80 = report["pareto"]["80%_of_revenue"];
  story << "3. Pareto: " << p80["accounts"] << " accounts ("
        << Fmt(p80["share_of_accounts"].get<double>() * 100, 0)
        << "% of the portfolio) bring 80% of the revenue. That is a reference, not the rule: "
           "the score also weighs margin, growth, relationship and payment behaviour.\n\n";
  story << "4. The top accounts, and why:\n";
  {
    auto st = store::Store::Open(eo.config.state_path);
    for (size_t i = 0; i < tops.size() && i < 3; ++i) {
      auto acc = st->GetAccount(tops[i].id);
      if (!acc) continue;
      json props = json::parse(acc->properties_json);
      json aggs = acc->aggregates_json.empty() ? json::object() : json::parse(acc->aggregates_json);
      auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
      rules::Account a = rs.MapAccount(options.crm, acc->id, acc->owner_id, props, aggs, now_s);
      rules::Status status;
      json ex = rules::Explain(rs, a, &status);
      story << "   " << tops[i].name << " (id " << tops[i].id << "): score "
            << Fmt(tops[i].score) << ", tier " << tier_labels[tops[i].tier] << "\n";
      if (status.ok() && ex.contains("text")) {
        std::istringstream lines(ex["text"].get<std::string>());
        std::string line;
        int n = 0;
        while (std::getline(lines, line) && n++ < 18) {
          if (!line.empty()) story << "     " << line << "\n";
        }
      }
    }
  }
  story << "\n5. Tasks for the KAMs, created in the CRM with an idempotency key: "
        << first.value("tasks_created", 0) << ".\n\n";

  // Part 2: people change data in the CRM.
  Crm crm(server->url(), token);
  std::string deal_company, meeting_company, edited_company, edited_from, edited_to;
  // A deal won on a company just below the top tier; a meeting on the top account; a KAM sets
  // the tier of the third account by hand.
  const std::string top_tier = rs.tiers().empty() ? "" : rs.tiers().front().id;
  for (const auto& t : tops) {
    if (t.tier != top_tier) {
      deal_company = t.id;
      break;
    }
  }
  if (deal_company.empty() && !tops.empty()) deal_company = tops.back().id;
  for (const auto& t : tops) {
    if (t.id != deal_company) {
      meeting_company = t.id;
      break;
    }
  }
  if (tops.size() > 2) {
    edited_company = tops[2].id;
    edited_from = tops[2].tier;
    edited_to = rs.tiers().size() > 1 ? rs.tiers().back().id : edited_from;
    if (edited_to == edited_from && rs.tiers().size() > 1) edited_to = rs.tiers()[1].id;
  }
  auto now = std::chrono::system_clock::now();
  int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (sf) {
    const std::string base = kSfApi;
    std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char today[16], stamp[32];
    std::strftime(today, sizeof today, "%Y-%m-%d", &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    crm.Call("POST", base + "/sobjects/Opportunity",
             {{"Name", "Demo: framework agreement"},
              {"Amount", 2500000},
              {"StageName", "Closed Won"},
              {"CloseDate", today},
              {"AccountId", deal_company}});
    crm.Call("POST", base + "/sobjects/Event",
             {{"Subject", "Demo: quarterly business review"},
              {"ActivityDateTime", stamp},
              {"StartDateTime", stamp},
              {"DurationInMinutes", 60},
              {"WhatId", meeting_company}});
    if (!edited_company.empty()) {
      crm.Call("PATCH", base + "/sobjects/Account/" + edited_company, {{"KAM_Tier__c", edited_to}});
    }
  } else {
    crm.Call("POST", "/crm/v3/objects/deals",
             {{"properties",
               {{"dealname", "Demo: framework agreement"},
                {"amount", "2500000"},
                {"dealstage", "closedwon"},
                {"pipeline", "default"},
                {"closedate", std::to_string(now_ms)}}},
              {"associations",
               {{{"to", {{"id", deal_company}}},
                 {"types",
                  {{{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", 341}}}}}}}});
    crm.Call("POST", "/crm/v3/objects/meetings",
             {{"properties",
               {{"hs_timestamp", std::to_string(now_ms)},
                {"hs_meeting_title", "Demo: quarterly business review"}}},
              {"associations",
               {{{"to", {{"id", meeting_company}}},
                 {"types",
                  {{{"associationCategory", "HUBSPOT_DEFINED"}, {"associationTypeId", 188}}}}}}}});
    if (!edited_company.empty()) {
      crm.Call("PATCH", "/crm/v3/objects/companies/" + edited_company,
               {{"properties", {{"kam_tier", edited_to}}}});
    }
  }

  json second = engine.Sync(false);
  std::set<std::string> written_accounts;
  {
    auto st = store::Store::Open(eo.config.state_path);
    for (const auto& a : st->AuditForRun(second["run_id"].get<int64_t>())) {
      if (a.action == "update_field") written_accounts.insert(a.account_id);
    }
  }
  bool edit_kept = false;
  for (const auto& c : second["conflict_details"]) {
    if (c["account_id"] == edited_company) edit_kept = true;
  }
  std::vector<std::string> keys = crm.TaskKeys(sf);
  std::map<std::string, int> per_key;
  int64_t ours = 0, duplicates = 0;
  for (const auto& k : keys) {
    if (k.empty()) continue;
    ours++;
    if (++per_key[k] == 2) duplicates++;
  }
  json third = engine.Sync(false);

  story << "6. Then people worked in the CRM: a deal of 2,500,000 was won on "
        << (sf ? "account " : "company ") << deal_company << ", a meeting was logged with "
        << meeting_company << ", and a KAM set the tier of " << edited_company << " by hand from \""
        << edited_from << "\" to \"" << edited_to << "\".\n";
  story << "   The next sync wrote only " << written_accounts.size()
        << (written_accounts.size() == 1 ? (sf ? " account (" : " company (")
                                         : (sf ? " accounts (" : " companies ("));
  {
    size_t n = 0;
    for (const auto& a : written_accounts) {
      if (n++ == 8) {
        story << ", ...";
        break;
      }
      story << (n > 1 ? ", " : "") << a;
    }
  }
  story << ") of " << second.value("evaluated", 0) << ", with " << second.value("fields_written", 0)
        << " fields.\n";
  story << "   The hand edit was " << (edit_kept ? "kept and reported as a conflict" : "NOT reported")
        << " (policy: respect human edits).\n";
  story << "   Tasks in the CRM from the add-in: " << ours << ", duplicates: " << duplicates
        << ". A third sync wrote " << third.value("fields_written", 0) << " fields and created "
        << third.value("tasks_created", 0) << " tasks.\n";
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  story << "\nDone in " << Fmt(seconds) << " s. Try `kam sandbox serve` and `kam sync` against "
           "it, or see the README for a real portal.\n";

  server->Stop();
  return json{{"crm", options.crm},
              {"accounts", options.accounts},
              {"first_sync", first},
              {"second_sync", second},
              {"third_sync", third},
              {"written_after_changes", written_accounts.size()},
              {"hand_edit_kept", edit_kept},
              {"addin_tasks", ours},
              {"duplicate_tasks", duplicates},
              {"seconds", seconds},
              {"text", story.str()}};
}

}  // namespace kam::engine
