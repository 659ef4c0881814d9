// The CRM port over the HubSpot adapter (connector/hubspot): the only engine file that names
// hubspot::. Translates the port's records, tasks and errors to and from HubSpot's.
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "config.h"
#include "crm.h"
#include "crm_port_common.h"
#include "kam/http/options.h"
#include "kam/http/redact.h"
#include "kam/hubspot/client.h"
#include "kam/hubspot/transport.h"
#include "operation.h"
#include "proxy_setup.h"

namespace kam::engine {
namespace {

constexpr const char* kNameProperty = "name";
constexpr const char* kOwnerProperty = "hubspot_owner_id";

StatusCode CodeOf(hubspot::ErrorCode code) {
  using C = hubspot::ErrorCode;
  switch (code) {
    case C::kInvalidArgument:
      return StatusCode::kInvalidArgument;
    case C::kNotFound:
      return StatusCode::kNotFound;
    case C::kPermissionDenied:
      return StatusCode::kPermissionDenied;
    case C::kUnauthenticated:
      return StatusCode::kUnauthenticated;
    case C::kRateLimited:
      return StatusCode::kRateLimited;
    case C::kUnavailable:
      return StatusCode::kUnavailable;
    case C::kConflict:
      return StatusCode::kConflict;
    case C::kCancelled:
      return StatusCode::kCancelled;
    case C::kInternal:
      return StatusCode::kInternal;
  }
  return StatusCode::kInternal;
}

CrmError ErrorOf(const hubspot::Error& e) {
  CrmError out;
  out.code = CodeOf(e.code);
  out.message = e.ToString();
  out.endpoint = e.endpoint;
  out.http_status = e.http_status;
  out.retryable = e.retryable;
  out.retry_after_ms = e.retry_after_ms;
  using C = hubspot::ErrorCode;
  out.stops_run = e.code == C::kUnauthenticated || e.code == C::kRateLimited ||
                  e.code == C::kUnavailable || e.code == C::kCancelled ||
                  e.code == C::kPermissionDenied;
  return out;
}

CrmAccount AccountOf(const hubspot::CrmObject& c) {
  CrmAccount a;
  a.id = c.id;
  a.name = c.Get(kNameProperty).value_or("");
  a.owner_id = c.Get(kOwnerProperty).value_or("");
  a.properties = c.properties;
  a.modified_ms = c.ModifiedMs();
  return a;
}

FactRecord RecordOf(FactKind kind, const std::string& type, const hubspot::CrmObject& o) {
  hubspot::FactInput in = hubspot::FactInputOf(type, o);
  FactRecord r;
  r.kind = kind;
  r.id = o.id;
  r.modified_ms = o.ModifiedMs();
  r.amount = in.amount;
  r.at_ms = in.at_ms ? *in.at_ms : -1;
  r.won = in.won;
  r.closed = in.closed;
  r.executive = in.executive;
  return r;
}

std::string PriorityName(TaskPriority p) {
  switch (p) {
    case TaskPriority::kLow:
      return "LOW";
    case TaskPriority::kMedium:
      return "MEDIUM";
    case TaskPriority::kHigh:
      return "HIGH";
  }
  return "MEDIUM";
}

CrmTaskStatus TaskStatusOf(const std::optional<std::string>& s) {
  return s && *s == "COMPLETED" ? CrmTaskStatus::kCompleted : CrmTaskStatus::kOpen;
}

BatchOutcome OutcomeOf(const hubspot::BatchWriteResult& r) {
  BatchOutcome out;
  std::set<std::string> failed;
  for (const auto& f : r.failed) {
    failed.insert(f.id);
    out.failed.push_back({f.id, ErrorOf(f.error)});
  }
  for (const auto& w : r.written) {
    if (failed.count(w.id)) continue;
    out.written.push_back({w.id, w.ModifiedMs()});
  }
  return out;
}

ProvisionItem::Outcome OutcomeOf(hubspot::ProvisionItem::Outcome o) {
  using O = hubspot::ProvisionItem::Outcome;
  switch (o) {
    case O::kCreated:
      return ProvisionItem::Outcome::kCreated;
    case O::kUnchanged:
      return ProvisionItem::Outcome::kUnchanged;
    case O::kUpdated:
      return ProvisionItem::Outcome::kUpdated;
    case O::kConflict:
      return ProvisionItem::Outcome::kConflict;
    case O::kFailed:
      return ProvisionItem::Outcome::kFailed;
  }
  return ProvisionItem::Outcome::kFailed;
}

class HubSpotCrm final : public Crm {
 public:
  HubSpotCrm(std::unique_ptr<hubspot::HubSpotClient> client,
             std::shared_ptr<hubspot::Transport> transport, const EngineConfig& cfg,
             SecretFn get_secret)
      : client_(std::move(client)),
        transport_(std::move(transport)),
        task_type_(cfg.task_type),
        api_version_(cfg.hubspot.api_version),
        token_secret_(cfg.hubspot.token_secret),
        get_secret_(std::move(get_secret)) {}

  std::string_view Name() const override { return "hubspot"; }

  CrmResult<std::string> PortalId() override {
    auto d = client_->GetAccountDetails();
    if (!d.ok()) return ErrorOf(d.error());
    return std::to_string(d->portal_id);
  }

  CrmResult<PullSummary> PullAll(const PullRequest& request, const PageCallback& on_page) override {
    // The list's paging token travels in PullPage::cursor.page_token; request.resume_token
    // continues after it.
    return Pull(request, on_page, nullptr);
  }

  CrmResult<PullSummary> PullChanged(const PullCursor& since, const PullRequest& request,
                                     const PageCallback& on_page) override {
    return Pull(request, on_page, &since);
  }

  CrmResult<std::vector<std::string>> ListArchived(int64_t since_ms) override {
    auto r = client_->ListArchivedCompanies(since_ms);
    if (!r.ok()) return ErrorOf(r.error());
    std::vector<std::string> ids;
    ids.reserve(r->size());
    for (const auto& c : *r) ids.push_back(c.id);
    return ids;
  }

  CrmResult<FactsResult> ReadFacts(const FactsRequest& request) override {
    hubspot::FactsRequest req;
    req.company_ids = request.account_ids;
    req.aggregates.insert(request.aggregates.begin(), request.aggregates.end());
    req.now_ms = request.now_ms;
    auto r = client_->ReadFacts(req);
    if (!r.ok()) return ErrorOf(r.error());
    return port::FactsResultOf(r->companies, std::move(r->missing));
  }

  bool IncrementalFacts() const override { return true; }

  CrmResult<PullSummary> PullChangedFacts(FactKind kind, const PullCursor& since,
                                          const PullRequest& request,
                                          const FactPageCallback& on_page) override {
    const std::string type(FactKindName(kind));
    hubspot::PullOptions po;
    po.properties = hubspot::FactPropertiesOf(type);
    po.overlap_ms = request.overlap_ms;
    po.started_at_ms = request.started_at_ms;
    po.until_ms = request.until_ms;
    std::optional<CrmError> stopped;  // the caller's (or the association read's) error
    // Search pages (200 records) are gathered until up to 1,000 records, the association read's
    // maximum, so that one read maps them all to their companies; the gathered pages go to the
    // caller as one page with the last one's cursor (safe: it covers every earlier page).
    constexpr size_t kMapBatch = 1000;
    FactPage pending;
    bool have_page = false;
    std::vector<std::string> ids;
    auto flush = [&]() -> hubspot::Status {
      if (!have_page) return {};
      if (!ids.empty()) {
        // The companies each changed record is linked to now.
        auto links = client_->ReadAssociatedIds(type, "companies", ids);
        if (!links.ok()) {
          stopped = ErrorOf(links.error());
          return links.error();
        }
        pending.accounts = std::move(*links);
        for (const auto& id : ids) pending.accounts[id];  // every record is a key
      }
      CrmStatus st = on_page(pending);
      pending = FactPage{};
      have_page = false;
      ids.clear();
      if (st.ok()) return {};
      stopped = st.error();
      hubspot::Error e;
      e.code = hubspot::ErrorCode::kCancelled;
      e.message = "stopped by the page callback";
      return e;
    };
    auto cb = [&](const hubspot::CompanyPage& page) -> hubspot::Status {
      have_page = true;
      for (const auto& o : page.companies) {
        pending.records.push_back(RecordOf(kind, type, o));
        ids.push_back(o.id);
      }
      pending.cursor.modified_ms = page.cursor.modified_ms;
      pending.cursor.id = page.cursor.id;
      // The next search page (≤ 200) could not join without passing the read's maximum.
      if (ids.size() + 200 > kMapBatch) return flush();
      return {};
    };
    auto r = client_->PullChangedObjects(type, {since.modified_ms, since.id}, po, cb);
    if (stopped) return *stopped;
    if (!r.ok()) return ErrorOf(r.error());
    if (auto st = flush(); !st.ok()) return stopped ? *stopped : ErrorOf(st.error());
    PullSummary s;
    s.pages = r->pages;
    s.accounts = r->companies;
    s.cursor.modified_ms = r->cursor.modified_ms;
    s.cursor.id = r->cursor.id;
    return s;
  }

  CrmResult<std::map<std::string, std::vector<std::string>>> ReadFactLinks(
      FactKind kind, const std::vector<std::string>& account_ids) override {
    auto r = client_->ReadAssociatedIds("companies", std::string(FactKindName(kind)), account_ids);
    if (!r.ok()) return ErrorOf(r.error());
    for (const auto& id : account_ids) (*r)[id];  // every account is a key
    return std::move(*r);
  }

  CrmResult<std::vector<FactRecord>> ReadFactRecords(FactKind kind,
                                                     const std::vector<std::string>& ids) override {
    const std::string type(FactKindName(kind));
    auto r = client_->ReadObjects(type, ids, hubspot::FactPropertiesOf(type));
    if (!r.ok()) return ErrorOf(r.error());
    std::vector<FactRecord> out;
    out.reserve(r->found.size());
    for (const auto& o : r->found) out.push_back(RecordOf(kind, type, o));
    return out;
  }

  CrmResult<BatchOutcome> WriteFields(const std::vector<FieldUpdate>& updates) override {
    std::vector<hubspot::CompanyUpdate> in;
    in.reserve(updates.size());
    for (const auto& u : updates) in.push_back({u.account_id, u.fields});
    auto r = client_->UpdateCompanies(in);
    if (!r.ok()) return ErrorOf(r.error());
    BatchOutcome out = OutcomeOf(*r);
    // Inputs the CRM neither echoed nor named as failed count as written (HubSpot echoes every
    // updated record; this keeps "each input in exactly one list" if it does not).
    std::set<std::string> seen;
    for (const auto& w : out.written) seen.insert(w.id);
    for (const auto& f : out.failed) seen.insert(f.id);
    for (const auto& u : updates) {
      if (!seen.count(u.account_id)) out.written.push_back({u.account_id, -1});
    }
    return out;
  }

  CrmResult<std::vector<TaskWriteOutcome>> WriteTasks(const std::vector<TaskSpec>& tasks) override {
    std::vector<hubspot::TaskSpec> specs;
    specs.reserve(tasks.size());
    for (const auto& t : tasks) {
      hubspot::TaskSpec s;
      s.key = t.key;
      s.company_id = t.account_id;
      s.owner_id = t.owner_id;
      s.subject = t.subject;
      s.body = t.body;
      s.status = t.status == CrmTaskStatus::kCompleted ? "COMPLETED" : "NOT_STARTED";
      s.priority = PriorityName(t.priority);
      s.type = task_type_;
      s.due_ms = t.due_ms;
      s.in_doubt = t.in_doubt;
      specs.push_back(std::move(s));
    }
    auto r = client_->WriteTasks(specs);
    if (!r.ok()) return ErrorOf(r.error());
    std::map<std::string, bool> has_account;
    for (const auto& t : tasks) has_account[t.key] = !t.account_id.empty();
    std::vector<TaskWriteOutcome> out;
    out.reserve(r->tasks.size());
    for (const auto& o : r->tasks) {
      TaskWriteOutcome w =
          port::TaskOutcomeOf(o.key, o.task_id, o.created,
                              o.error ? std::optional(ErrorOf(*o.error)) : std::nullopt, "HubSpot");
      // The adapter links a task it found by key without its company: an orphan left by a
      // crash between create and association is repaired here (and only that counts as linked).
      w.linked = r->linked_keys.count(o.key) > 0 && !o.created && !o.task_id.empty() && !o.error &&
                 has_account[o.key];
      out.push_back(std::move(w));
    }
    return out;
  }

  // The client is thread-safe and keeps every request within max_connections and the one rate
  // limiter; these three calls touch no state of this class.
  int WriteConcurrency() const override { return client_->Concurrency(); }

  CrmResult<std::vector<CrmTask>> FindTasks(const std::vector<std::string>& keys) override {
    auto r = client_->FindTasksByKey(keys);
    if (!r.ok()) return ErrorOf(r.error());
    std::vector<CrmTask> out;
    out.reserve(r->size());
    for (const auto& t : *r) {
      CrmTask c;
      c.id = t.id;
      c.key = t.Get(hubspot::kTaskKeyProperty).value_or("");
      c.subject = t.Get("hs_task_subject").value_or("");
      c.owner_id = t.Get(kOwnerProperty).value_or("");
      c.status = TaskStatusOf(t.Get("hs_task_status"));
      // account_ids: the adapter's search does not return associations (left empty).
      out.push_back(std::move(c));
    }
    return out;
  }

  CrmResult<BatchOutcome> CompleteTasks(const std::vector<std::string>& task_ids) override {
    auto r = client_->CompleteTasks(task_ids);
    if (!r.ok()) return ErrorOf(r.error());
    BatchOutcome out = OutcomeOf(*r);
    std::set<std::string> seen;
    for (const auto& w : out.written) seen.insert(w.id);
    for (const auto& f : out.failed) seen.insert(f.id);
    for (const auto& id : task_ids) {
      if (!seen.count(id)) out.written.push_back({id, -1});
    }
    return out;
  }

  CrmResult<ProvisionReport> Provision(const ProvisionSpec& spec) override {
    hubspot::ProvisionSpec hs;
    for (const auto& p : spec.properties) {
      if (p.object == CrmObject::kAccount && p.name == hubspot::kTierProperty) {
        for (const auto& [value, label] : p.options) hs.tiers.push_back({value, label});
      }
    }
    auto r = client_->Provision(hs);
    if (!r.ok()) return ErrorOf(r.error());
    // Read every property back: what the CRM holds now, not what the create calls said.
    auto found = VerifyProperties(spec);
    if (!found.ok()) return found.error();
    ProvisionReport out;
    out.task_key_unique = r->task_key_unique;
    for (const auto& p : spec.properties) {
      ProvisionItem item;
      item.object = p.object;
      item.name = p.name;
      item.outcome = ProvisionItem::Outcome::kMissing;
      item.detail = "not provisioned by this version: create the " +
                    std::string(p.object == CrmObject::kTask ? "task" : "company") + " property " +
                    p.name + " (type " + p.type + ") in HubSpot";
      const std::string object = p.object == CrmObject::kTask ? "tasks" : "companies";
      for (const auto& it : r->items) {
        if (it.object_type != object || it.name != p.name) continue;
        item.detail = it.detail;
        item.outcome = OutcomeOf(it.outcome);
      }
      ReadBack(*found, &item);
      out.items.push_back(std::move(item));
    }
    // The task-key property is the port's own: reported last.
    ProvisionItem key;
    key.object = CrmObject::kTask;
    key.name = hubspot::kTaskKeyProperty;
    key.outcome = ProvisionItem::Outcome::kMissing;
    key.detail = "not reported by the CRM";
    for (const auto& it : r->items) {
      if (it.object_type != "tasks" || it.name != hubspot::kTaskKeyProperty) continue;
      key.detail = it.detail;
      key.outcome = OutcomeOf(it.outcome);
    }
    ReadBack(*found, &key);
    out.items.push_back(std::move(key));
    out.task_key_unique = out.task_key_unique && found->task_key_unique;
    return out;
  }

  bool AssumePropertiesVerified(bool task_key_unique) override {
    client_->NoteTaskKeyUnique(task_key_unique);
    return true;
  }

  CrmResult<ProvisionReport> VerifyProperties(const ProvisionSpec& spec) override {
    auto companies = PropertyTypes("companies");
    if (!companies.ok()) return companies.error();
    auto tasks = PropertyTypes("tasks");
    if (!tasks.ok()) return tasks.error();
    ProvisionReport out;
    auto check = [](const std::map<std::string, nlohmann::json>& have, CrmObject object,
                    const std::string& name, const std::string& type, bool hidden = false) {
      ProvisionItem item;
      item.object = object;
      item.name = name;
      auto it = have.find(name);
      if (it == have.end()) {
        item.outcome = ProvisionItem::Outcome::kMissing;
        item.detail = "the " + std::string(object == CrmObject::kTask ? "task" : "company") +
                      " property " + name + " does not exist in HubSpot: run `kam provision`";
        return item;
      }
      item.type_found = it->second.value("type", "");
      if (item.type_found != type) {
        item.outcome = ProvisionItem::Outcome::kConflict;
        item.detail = "exists with type '" + item.type_found + "', the add-in needs '" + type +
                      "': rename or delete it in HubSpot, then run `kam provision`";
        return item;
      }
      item.outcome = ProvisionItem::Outcome::kUnchanged;
      const nlohmann::json& def = it->second;
      const bool is_hidden =
          def.contains("hidden") && def["hidden"].is_boolean() && def["hidden"].get<bool>();
      const bool on_forms = def.contains("formField") && def["formField"].is_boolean() &&
                            def["formField"].get<bool>();
      if (hidden && (!is_hidden || on_forms)) {
        item.shown = true;
        item.detail = std::string("shown on ") + (is_hidden ? "forms" : "record pages") +
                      " (hidden: " + (is_hidden ? "true" : "false") +
                      ", formField: " + (on_forms ? "true" : "false") +
                      "); it holds the card app's data, not text for people: run `kam provision` "
                      "to hide it";
      }
      return item;
    };
    for (const auto& p : spec.properties) {
      out.items.push_back(check(p.object == CrmObject::kTask ? *tasks : *companies, p.object,
                                p.name, p.type, p.hidden));
    }
    out.items.push_back(check(*tasks, CrmObject::kTask, hubspot::kTaskKeyProperty, "string"));
    auto key = tasks->find(hubspot::kTaskKeyProperty);
    out.task_key_unique = key != tasks->end() && key->second.value("hasUniqueValue", false);
    // The sync verifies before its first write: the task writes need not read the key again.
    if (key != tasks->end()) client_->NoteTaskKeyUnique(out.task_key_unique);
    return out;
  }

  CrmUsage Usage() const override {
    hubspot::ApiUsage u = client_->Usage();
    CrmUsage out;
    out.calls = u.requests;
    out.retries = u.retries;
    out.rate_limited = u.rate_limited;
    out.failed = u.failed;
    out.quota_left = u.daily_remaining;
    out.daily_limit = u.daily_limit;
    return out;
  }

 private:
  CrmResult<PullSummary> Pull(const PullRequest& request, const PageCallback& on_page,
                              const PullCursor* since) {
    hubspot::PullOptions po;
    std::set<std::string> props(request.properties.begin(), request.properties.end());
    props.insert(kNameProperty);
    props.insert(kOwnerProperty);
    po.properties.assign(props.begin(), props.end());
    po.overlap_ms = request.overlap_ms;
    po.started_at_ms = request.started_at_ms;
    if (!since) po.resume_after = request.resume_token;
    std::optional<CrmError> stopped;  // the caller's own error, returned as it was
    auto cb = [&](const hubspot::CompanyPage& page) -> hubspot::Status {
      PullPage p;
      p.accounts.reserve(page.companies.size());
      for (const auto& c : page.companies) p.accounts.push_back(AccountOf(c));
      p.cursor.modified_ms = page.cursor.modified_ms;
      p.cursor.id = page.cursor.id;
      p.cursor.page_token = page.after;
      p.total_hint = page.total_hint;
      CrmStatus st = on_page(p);
      if (st.ok()) return {};
      stopped = st.error();
      hubspot::Error e;
      e.code = hubspot::ErrorCode::kCancelled;
      e.message = "stopped by the page callback";
      return e;
    };
    auto r = since ? client_->PullChangedCompanies({since->modified_ms, since->id}, po, cb)
                   : client_->PullAllCompanies(po, cb);
    if (stopped) return *stopped;
    if (!r.ok()) return ErrorOf(r.error());
    PullSummary s;
    s.pages = r->pages;
    s.accounts = r->companies;
    s.cursor.modified_ms = r->cursor.modified_ms;
    s.cursor.id = r->cursor.id;
    s.resumed = r->resumed;
    return s;
  }

  // The property definitions of one object type, by name (one GET, retried by the transport).
  CrmResult<std::map<std::string, nlohmann::json>> PropertyTypes(const std::string& object) {
    hubspot::HttpCall call;
    call.method = "GET";
    call.target = api_version_.empty() || api_version_ == "v3"
                      ? "/crm/v3/properties/" + object
                      : "/crm/properties/" + api_version_ + "/" + object;
    call.idempotent = true;
    if (auto token = get_secret_(token_secret_)) {
      call.headers.push_back({"Authorization", "Bearer " + *token});
      http::WipeSecret(*token);
    }
    auto r = transport_->Send(call);
    for (auto& h : call.headers) http::WipeSecret(h.second);  // the token is not kept
    if (!r.ok()) return ErrorOf(r.error());
    nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
    if (!body.is_object() || !body.contains("results") || !body["results"].is_array()) {
      CrmError e;
      e.code = StatusCode::kUnavailable;
      e.message = "HubSpot answered the property list of " + object + " with a malformed body";
      e.endpoint = "GET " + call.target;
      e.retryable = true;
      return e;
    }
    std::map<std::string, nlohmann::json> out;
    for (auto& p : body["results"]) {
      if (p.is_object() && p.contains("name") && p["name"].is_string()) {
        out.emplace(p["name"].get<std::string>(), std::move(p));
      }
    }
    return out;
  }

  // Overrides a provisioning outcome with what the read-back found.
  static void ReadBack(const ProvisionReport& found, ProvisionItem* item) {
    for (const auto& f : found.items) {
      if (f.object != item->object || f.name != item->name) continue;
      item->type_found = f.type_found;
      if (f.outcome == ProvisionItem::Outcome::kMissing) {
        item->outcome = ProvisionItem::Outcome::kMissing;
        item->detail = "not found when read back after provisioning" +
                       (item->detail.empty() ? std::string() : " (" + item->detail + ")") +
                       "; check the app's scopes (crm.schemas.*.write) and run `kam provision` "
                       "again";
      } else if (f.outcome == ProvisionItem::Outcome::kConflict) {
        item->outcome = ProvisionItem::Outcome::kConflict;
        item->detail = f.detail;
      }
      return;
    }
  }

  std::unique_ptr<hubspot::HubSpotClient> client_;
  std::shared_ptr<hubspot::Transport> transport_;
  std::string task_type_;
  std::string api_version_;
  std::string token_secret_;
  SecretFn get_secret_;
};

}  // namespace

StatusOr<std::unique_ptr<Crm>> MakeHubSpotCrm(const EngineConfig& cfg, Host& host,
                                              const SecretFn& get_secret) {
  if (!port::HasSecret(get_secret, cfg.hubspot.token_secret)) {
    return Status(StatusCode::kUnauthenticated,
                  "no HubSpot token: set the secret " + cfg.hubspot.token_secret +
                      " (a private app token with the scopes listed in the README)",
                  "/hubspot/token_secret");
  }
  hubspot::HubSpotOptions o;
  o.http.base_url = cfg.hubspot.base_url;
  o.http.max_connections = static_cast<size_t>(cfg.hubspot.max_connections);
  o.http.tls.ca_file = cfg.hubspot.ca_file;
  o.http.tls.insecure = cfg.hubspot.insecure;
  o.http.rate_limit.enabled = cfg.hubspot.rate_enabled;
  o.http.rate_limit.window_share = cfg.hubspot.window_share;
  o.http.rate_limit.daily_reserve_share = cfg.hubspot.daily_reserve_share;
  o.http.rate_limit.search_per_second = cfg.hubspot.search_per_second;
  o.http.rate_limit.initial_max = cfg.hubspot.initial_max;
  o.http.retry.max_attempts = cfg.hubspot.max_attempts;
  o.http.retry.initial_delay = std::chrono::milliseconds(cfg.hubspot.initial_delay_ms);
  o.http.retry.max_delay = std::chrono::milliseconds(cfg.hubspot.max_delay_ms);
  if (Status s = ApplyProxyConfig(cfg.proxy, get_secret, &o.http.proxy); !s.ok()) return s;
  Host* h = &host;
  // The client sends up to max_connections requests at once from several threads and calls
  // these hooks from each of them; the host's services are called one at a time (kam/addin.h).
  auto one_at_a_time = std::make_shared<std::mutex>();
  o.http.log = [h, one_at_a_time](http::LogLevel level, std::string_view message) {
    std::lock_guard lock(*one_at_a_time);
    h->Log(static_cast<int32_t>(level), message);
  };
  o.http.cancelled = [h, one_at_a_time] {
    std::lock_guard lock(*one_at_a_time);
    return h->IsCancelled();
  };
  o.http.on_secret = [h, one_at_a_time](std::string_view secret) {  // proxy password
    std::lock_guard lock(*one_at_a_time);
    h->AddSecret(secret);
  };
  o.api_version = cfg.hubspot.api_version;
  o.auth.token_secret = cfg.hubspot.token_secret;
  o.auth.get_secret = [get_secret, one_at_a_time](std::string_view name) {
    std::lock_guard lock(*one_at_a_time);
    return get_secret(name);
  };
  o.auth.on_token = [h, one_at_a_time](std::string_view token) {  // OAuth tokens
    std::lock_guard lock(*one_at_a_time);
    h->AddSecret(token);
  };
  if (cfg.hubspot.task_key_mode == "upsert") o.task_key_mode = hubspot::TaskKeyMode::kUpsert;
  if (cfg.hubspot.task_key_mode == "search_create") {
    o.task_key_mode = hubspot::TaskKeyMode::kSearchCreate;
  }
  if (o.http.base_url.empty()) o.http.base_url = "https://api.hubapi.com";
  auto transport = hubspot::MakeHttpTransport(o.http);
  if (!transport.ok()) {
    return ErrorOf(transport.error()).ToStatus("cannot set up the HubSpot client");
  }
  auto client = hubspot::HubSpotClient::Create(std::move(o), *transport);
  return std::unique_ptr<Crm>(
      std::make_unique<HubSpotCrm>(std::move(client), *transport, cfg, get_secret));
}

}  // namespace kam::engine
