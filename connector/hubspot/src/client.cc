// HubSpotClient: construction, authentication, the JSON call helper, companies, owners and
// account details. Facts, tasks and provisioning live in facts.cc, tasks.cc, provision.cc.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "client_impl.h"
#include "kam/http/redact.h"
#include "pull.h"
#include "time_util.h"

namespace kam::hubspot {

using internal::Json;

namespace {

std::string EndpointName(const std::string& method, const std::string& target) {
  return method + " " + target.substr(0, target.find('?'));
}

std::string JoinProperties(const std::vector<std::string>& props) {
  std::string out;
  for (const auto& p : props) {
    if (!out.empty()) out += "%2C";
    out += internal::UrlEncode(p);
  }
  return out;
}

}  // namespace

Error BadAnswer(const std::string& endpoint, const std::string& what) {
  Error e;
  e.code = ErrorCode::kInternal;
  e.endpoint = endpoint;
  e.message = endpoint + " gave an answer of an unexpected shape (" + what +
              "); the CRM API may have changed: report this with the correlation id";
  return e;
}

// ---- Impl: auth and calls ------------------------------------------------------------------

void HubSpotClient::Impl::Log(kam::http::LogLevel level, const std::string& message) const {
  if (options.http.log) options.http.log(level, "hubspot: " + message);
}

bool HubSpotClient::Impl::Cancelled() const {
  return options.http.cancelled && options.http.cancelled();
}

Status HubSpotClient::Impl::EnsureToken(bool force_refresh) {
  const auto& auth = options.auth;
  if (auth.kind == AuthOptions::Kind::kPrivateAppToken) {
    if (token_loaded && !force_refresh) return {};
    std::optional<std::string> token;
    if (auth.get_secret) token = auth.get_secret(auth.token_secret);
    if (!token || token->empty()) {
      Error e;
      e.code = ErrorCode::kUnauthenticated;
      e.message = "no HubSpot access token: the host has no secret named " + auth.token_secret +
                  "; create a private app in HubSpot (Settings > Integrations > Private apps) "
                  "and give its token to the host";
      return e;
    }
    access_token = std::move(*token);
    token_loaded = true;
    return {};
  }
  const auto now = std::chrono::steady_clock::now();
  if (!force_refresh && token_loaded && now < access_expiry) return {};
  return RefreshOAuth();
}

Status HubSpotClient::Impl::RefreshOAuth() {
  const auto& auth = options.auth;
  auto secret = [&](const std::string& name) -> std::optional<std::string> {
    if (!auth.get_secret) return std::nullopt;
    return auth.get_secret(name);
  };
  if (refresh_token.empty()) {
    if (auto r = secret(auth.refresh_token_secret)) refresh_token = *r;
  }
  std::optional<std::string> client_secret = secret(auth.client_secret_secret);
  if (refresh_token.empty() || !client_secret || auth.client_id.empty()) {
    Error e;
    e.code = ErrorCode::kUnauthenticated;
    e.message = "OAuth is configured but the client id, the secret " + auth.client_secret_secret +
                " or the secret " + auth.refresh_token_secret +
                " is missing; install the app again to get a refresh token";
    return e;
  }
  HttpCall call;
  call.method = "POST";
  call.target = auth.token_path.empty() ? paths.OAuthToken() : auth.token_path;
  call.content_type = "application/x-www-form-urlencoded";
  call.body = "grant_type=refresh_token&client_id=" + internal::UrlEncode(auth.client_id) +
              "&client_secret=" + internal::UrlEncode(*client_secret) +
              "&refresh_token=" + internal::UrlEncode(refresh_token);
  call.idempotent = true;  // refreshing twice gives another valid token
  call.unpaced = true;
  call.endpoint = "POST " + call.target;
  auto reply = transport->Send(call);
  if (!reply.ok()) {
    Error e = reply.error();
    e.code = (e.http_status == 400 || e.http_status == 401) ? ErrorCode::kUnauthenticated : e.code;
    e.message = "refreshing the HubSpot OAuth access token failed: " + e.message +
                (e.code == ErrorCode::kUnauthenticated
                     ? "; the refresh token may be revoked: install the app again"
                     : "");
    return e;
  }
  Json j = Json::parse(reply->body, nullptr, false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string()) {
    return BadAnswer(call.endpoint, "no access_token");
  }
  kam::http::WipeSecret(access_token);
  access_token = j["access_token"].get<std::string>();
  if (auth.on_token) auth.on_token(access_token);
  if (j.contains("refresh_token") && j["refresh_token"].is_string()) {
    kam::http::WipeSecret(refresh_token);
    refresh_token = j["refresh_token"].get<std::string>();
    if (auth.on_token) auth.on_token(refresh_token);
  }
  int64_t expires_s = 1800;
  if (j.contains("expires_in") && j["expires_in"].is_number()) {
    expires_s = j["expires_in"].get<int64_t>();
  }
  const int64_t valid_ms = std::max<int64_t>(0, expires_s * 1000 - auth.refresh_margin_ms);
  access_expiry = std::chrono::steady_clock::now() + std::chrono::milliseconds(valid_ms);
  token_loaded = true;
  Log(kam::http::LogLevel::kInfo, "OAuth access token refreshed (valid " +
                                      std::to_string(expires_s) + " s)");
  return {};
}

Result<std::pair<int, Json>> HubSpotClient::Impl::CallWithStatus(const std::string& method,
                                                                 const std::string& target,
                                                                 const std::string& body,
                                                                 bool idempotent, bool search) {
  const std::string endpoint = EndpointName(method, target);
  if (Cancelled()) {
    Error e;
    e.code = ErrorCode::kCancelled;
    e.endpoint = endpoint;
    e.message = "cancelled before " + endpoint;
    return e;
  }
  if (Status s = EnsureToken(false); !s.ok()) return s.error();
  for (int attempt = 0;; ++attempt) {
    HttpCall call;
    call.method = method;
    call.target = target;
    call.body = body;
    call.idempotent = idempotent;
    call.search_lane = search;
    call.headers.emplace_back("Authorization", "Bearer " + access_token);
    auto reply = transport->Send(call);
    if (!reply.ok()) {
      Error e = reply.error();
      if (e.endpoint.empty()) e.endpoint = endpoint;
      if (e.http_status == 401 && attempt == 0 &&
          options.auth.kind == AuthOptions::Kind::kOAuthRefreshToken) {
        if (Status s = EnsureToken(true); !s.ok()) return s.error();
        continue;
      }
      if (e.http_status == 401) {
        e.code = ErrorCode::kUnauthenticated;
        e.message += "; check the HubSpot token (" + options.auth.token_secret +
                     "): it may be revoked or rotated";
      } else if (e.http_status == 403) {
        e.code = ErrorCode::kPermissionDenied;
        e.message += "; the private app lacks a scope (see connector/hubspot/README.md)";
      }
      return e;
    }
    if (reply->body.empty()) return std::make_pair(reply->status, Json());
    Json j = Json::parse(reply->body, nullptr, false);
    if (j.is_discarded()) {
      Error e = BadAnswer(endpoint, "the body is not JSON");
      e.code = ErrorCode::kUnavailable;
      e.retryable = true;
      e.http_status = reply->status;
      e.correlation_id = reply->correlation_id;
      return e;
    }
    return std::make_pair(reply->status, std::move(j));
  }
}

Result<Json> HubSpotClient::Impl::Call(const std::string& method, const std::string& target,
                                       const std::string& body, bool idempotent, bool search) {
  auto r = CallWithStatus(method, target, body, idempotent, search);
  if (!r.ok()) return r.error();
  return std::move(r->second);
}

Result<internal::SearchPage> HubSpotClient::Impl::Search(const std::string& object_type,
                                                         const internal::SearchRequest& request) {
  const std::string target = paths.Objects(object_type) + "/search";
  const std::string body = internal::BuildSearchBody(request);
  if (static_cast<int>(body.size()) > options.max_search_body_chars) {
    Error e;
    e.code = ErrorCode::kInvalidArgument;
    e.endpoint = "POST " + target;
    e.message = "search body of " + std::to_string(body.size()) + " characters exceeds " +
                std::to_string(options.max_search_body_chars) +
                "; request fewer properties in the rule file mapping";
    return e;
  }
  auto j = Call("POST", target, body, /*idempotent=*/true, /*search=*/true);
  if (!j.ok()) return j.error();
  try {
    return internal::ParseSearchPage(*j);
  } catch (const std::exception& ex) {
    return BadAnswer("POST " + target, ex.what());
  }
}

Result<BatchReadResult> HubSpotClient::Impl::BatchRead(const std::string& object_type,
                                                       const std::vector<std::string>& ids,
                                                       const std::vector<std::string>& properties) {
  BatchReadResult out;
  const std::string target = paths.Objects(object_type) + "/batch/read?archived=false";
  for (const auto& chunk : internal::Chunk(ids, 100)) {
    auto j = Call("POST", target, internal::BuildBatchReadBody(chunk, properties), true);
    if (!j.ok()) {
      // Some portals answer a batch read of only unknown ids with 404 as a whole.
      if (j.error().http_status == 404) {
        out.missing.insert(out.missing.end(), chunk.begin(), chunk.end());
        continue;
      }
      return j.error();
    }
    try {
      auto resp = internal::ParseBatchResponse(*j);
      std::set<std::string> found;
      for (auto& o : resp.results) {
        found.insert(o.id);
        out.found.push_back(std::move(o));
      }
      for (const auto& e : resp.errors) {
        if (e.error.code != ErrorCode::kNotFound) {
          Error err = e.error;
          err.endpoint = "POST " + target;
          err.message = "batch read of " + object_type + " failed: " + err.crm_message;
          return err;
        }
      }
      // Whatever was asked and not returned is missing (deleted or never existed).
      for (const auto& id : chunk) {
        if (!found.count(id)) out.missing.push_back(id);
      }
    } catch (const std::exception& ex) {
      return BadAnswer("POST " + target, ex.what());
    }
  }
  return out;
}

Result<std::map<std::string, std::vector<std::string>>> HubSpotClient::Impl::ReadAssociations(
    const std::string& from_type, const std::string& to_type,
    const std::vector<std::string>& from_ids) {
  std::map<std::string, std::vector<std::string>> out;
  const std::string target = paths.AssociationsBatch(from_type, to_type, "read");
  std::vector<internal::AssocInput> pending;
  for (const auto& id : from_ids) {
    out[id];
    pending.push_back({id, ""});
  }
  while (!pending.empty()) {
    std::vector<internal::AssocInput> next;
    for (const auto& chunk : internal::Chunk(pending, 1000)) {
      auto j = Call("POST", target, internal::BuildAssocReadBody(chunk), true);
      if (!j.ok()) {
        if (j.error().http_status == 404) continue;  // none of them has any: treat as none
        return j.error();
      }
      try {
        auto resp = internal::ParseAssocRead(*j);
        for (auto& r : resp.results) {
          auto& list = out[r.from_id];
          list.insert(list.end(), r.to_ids.begin(), r.to_ids.end());
          if (r.after) next.push_back({r.from_id, *r.after});
        }
        for (const auto& e : resp.errors) {
          // "No associations" may come back as OBJECT_NOT_FOUND (CRM_API A9): that is none.
          if (e.error.code != ErrorCode::kNotFound) {
            Error err = e.error;
            err.endpoint = "POST " + target;
            err.message = "association read " + from_type + " -> " + to_type +
                          " failed: " + err.crm_message;
            return err;
          }
        }
      } catch (const std::exception& ex) {
        return BadAnswer("POST " + target, ex.what());
      }
    }
    pending = std::move(next);
  }
  for (auto& [id, list] : out) {
    std::sort(list.begin(), list.end(), internal::IdLess);
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return out;
}

// ---- HubSpotClient ------------------------------------------------------------------------

HubSpotClient::HubSpotClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HubSpotClient::~HubSpotClient() = default;

std::unique_ptr<HubSpotClient> HubSpotClient::Create(HubSpotOptions options,
                                                     std::shared_ptr<Transport> transport) {
  auto impl = std::make_unique<Impl>();
  impl->paths = internal::ApiPaths(options.api_version);
  impl->options = std::move(options);
  impl->transport = std::move(transport);
  if (impl->options.task_key_mode != TaskKeyMode::kAuto) {
    impl->resolved_task_mode = impl->options.task_key_mode;
  }
  return std::unique_ptr<HubSpotClient>(new HubSpotClient(std::move(impl)));
}

Result<std::unique_ptr<HubSpotClient>> HubSpotClient::Create(HubSpotOptions options) {
  if (options.http.base_url.empty()) options.http.base_url = "https://api.hubapi.com";
  auto transport = MakeHttpTransport(options.http);
  if (!transport.ok()) return transport.error();
  return Create(std::move(options), std::move(*transport));
}

const HubSpotOptions& HubSpotClient::options() const { return impl_->options; }
ApiUsage HubSpotClient::Usage() const { return impl_->transport->Usage(); }
void HubSpotClient::ResetUsage() { impl_->transport->ResetUsage(); }

Result<PullSummary> HubSpotClient::PullAllCompanies(const PullOptions& options,
                                                    const PageCallback& on_page) {
  PullSummary summary;
  const int limit = std::clamp(options.list_page_size, 1, 100);
  std::vector<std::string> props = options.properties;
  if (std::find(props.begin(), props.end(), "hs_lastmodifieddate") == props.end()) {
    props.emplace_back("hs_lastmodifieddate");
  }
  std::string after;
  Cursor max_seen;
  std::set<std::string> seen;
  while (true) {
    std::string target = impl_->paths.Objects("companies") + "?limit=" + std::to_string(limit) +
                         "&archived=false&properties=" + JoinProperties(props);
    if (!after.empty()) target += "&after=" + internal::UrlEncode(after);
    auto j = impl_->Call("GET", target, "", true);
    if (!j.ok()) return j.error();
    internal::ListPage page;
    try {
      page = internal::ParseListPage(*j);
    } catch (const std::exception& ex) {
      return BadAnswer(EndpointName("GET", target), ex.what());
    }
    ++summary.queries;
    CompanyPage out;
    for (auto& o : page.results) {
      if (!seen.insert(o.id).second) {
        ++out.duplicates_skipped;
        continue;
      }
      Cursor c{o.ModifiedMs(), o.id};
      if (internal::CursorLess(max_seen, c)) max_seen = c;
      out.companies.push_back(std::move(o));
    }
    const bool last = !page.after.has_value() || page.results.empty();
    summary.companies += static_cast<int64_t>(out.companies.size());
    summary.duplicates_skipped += out.duplicates_skipped;
    if (last) {
      summary.cursor = options.started_at_ms > 0 ? Cursor{options.started_at_ms, ""} : max_seen;
    }
    if (!page.results.empty() || summary.pages == 0) {
      ++summary.pages;
      out.page_number = summary.pages;
      // A full pull is resumable only from the start: until the last page the cursor stays 0.
      out.cursor = last ? summary.cursor : Cursor{};
      if (on_page) {
        Status s = on_page(out);
        if (!s.ok()) return s.error();
      }
    }
    if (last) break;
    after = *page.after;
  }
  return summary;
}

Result<PullSummary> HubSpotClient::PullChangedCompanies(const Cursor& since,
                                                        const PullOptions& options,
                                                        const PageCallback& on_page) {
  // A long property list can push the search body past HubSpot's 3,000 characters: then search
  // for ids and timestamps only and batch read the properties (two more calls per page).
  auto search = [this](const internal::SearchRequest& r) -> Result<internal::SearchPage> {
    if (static_cast<int>(internal::BuildSearchBody(r).size()) <=
        impl_->options.max_search_body_chars) {
      return impl_->Search("companies", r);
    }
    internal::SearchRequest slim = r;
    slim.properties = {"hs_object_id", "hs_lastmodifieddate"};
    auto page = impl_->Search("companies", slim);
    if (!page.ok()) return page;
    std::vector<std::string> ids;
    for (const auto& o : page->results) ids.push_back(o.id);
    auto read = impl_->BatchRead("companies", ids, r.properties);
    if (!read.ok()) return read.error();
    std::map<std::string, CrmObject*> by_id;
    for (auto& o : read->found) by_id[o.id] = &o;
    std::vector<CrmObject> merged;
    for (auto& o : page->results) {
      auto it = by_id.find(o.id);
      if (it == by_id.end()) continue;  // deleted since the search: seen by the archive listing
      CrmObject full = std::move(*it->second);
      // Keep the timestamp the search ordered by, so the window moves on what the search saw.
      full.properties["hs_lastmodifieddate"] = o.Get("hs_lastmodifieddate");
      merged.push_back(std::move(full));
    }
    page->results = std::move(merged);
    return page;
  };
  auto r = internal::RunIncrementalPull(search, since, options, "hs_lastmodifieddate", on_page);
  if (r.ok()) {
    impl_->Log(kam::http::LogLevel::kInfo,
               "incremental pull: " + std::to_string(r->companies) + " companies in " +
                   std::to_string(r->pages) + " pages, " + std::to_string(r->queries) +
                   " search windows (" + std::to_string(r->id_split_windows) +
                   " split by id), " + std::to_string(r->duplicates_skipped) +
                   " re-read and skipped");
  }
  return r;
}

Result<BatchReadResult> HubSpotClient::ReadObjects(const std::string& object_type,
                                                   const std::vector<std::string>& ids,
                                                   const std::vector<std::string>& properties) {
  return impl_->BatchRead(object_type, ids, properties);
}

Result<BatchReadResult> HubSpotClient::ReadCompanies(const std::vector<std::string>& ids,
                                                     const std::vector<std::string>& properties) {
  return impl_->BatchRead("companies", ids, properties);
}

Result<std::vector<CrmObject>> HubSpotClient::ListArchivedCompanies(int64_t since_ms) {
  std::vector<CrmObject> out;
  std::string after;
  while (true) {
    std::string target = impl_->paths.Objects("companies") + "?limit=100&archived=true";
    if (!after.empty()) target += "&after=" + internal::UrlEncode(after);
    auto j = impl_->Call("GET", target, "", true);
    if (!j.ok()) return j.error();
    internal::ListPage page;
    try {
      page = internal::ParseListPage(*j);
    } catch (const std::exception& ex) {
      return BadAnswer(EndpointName("GET", target), ex.what());
    }
    for (auto& o : page.results) {
      auto at = internal::ParseTimeMs(o.archived_at.empty() ? o.updated_at : o.archived_at);
      if (!at || *at >= since_ms) out.push_back(std::move(o));
    }
    if (!page.after || page.results.empty()) break;
    after = *page.after;
  }
  return out;
}

Result<BatchWriteResult> HubSpotClient::UpdateCompanies(const std::vector<CompanyUpdate>& updates) {
  BatchWriteResult out;
  const std::string target = impl_->paths.Objects("companies") + "/batch/update";
  const std::string endpoint = "POST " + target;
  for (const auto& chunk : internal::Chunk(updates, 100)) {
    // Same values again is harmless: a batch update is safe to repeat.
    auto j = impl_->Call("POST", target, internal::BuildBatchUpdateBody(chunk), true);
    ++out.calls;
    if (!j.ok()) {
      const Error& e = j.error();
      // Nothing can succeed without auth or when cancelled: stop here.
      if (e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kPermissionDenied ||
          e.code == ErrorCode::kCancelled || e.code == ErrorCode::kRateLimited) {
        if (out.written.empty() && out.failed.empty()) return e;
      }
      for (const auto& u : chunk) out.failed.push_back({u.id, e});
      if (e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kCancelled) {
        // Report the rest as not attempted.
        break;
      }
      continue;
    }
    try {
      auto resp = internal::ParseBatchResponse(*j);
      std::set<std::string> ok_ids;
      for (auto& o : resp.results) {
        ok_ids.insert(o.id);
        out.written.push_back(std::move(o));
      }
      std::set<std::string> failed_ids;
      std::optional<Error> unnamed;  // an error that names no id
      for (const auto& be : resp.errors) {
        Error e = be.error;
        e.endpoint = endpoint;
        if (e.message.empty()) e.message = "update failed";
        if (be.ids.empty() && !unnamed) unnamed = e;
        for (const auto& id : be.ids) {
          if (failed_ids.insert(id).second) out.failed.push_back({id, e});
        }
      }
      // An input neither echoed nor named in an error is reported, never dropped silently.
      for (const auto& u : chunk) {
        if (ok_ids.count(u.id) || failed_ids.count(u.id)) continue;
        Error e;
        if (unnamed) {
          e = *unnamed;
        } else {
          e.code = ErrorCode::kInternal;
          e.endpoint = endpoint;
          e.message = "company " + u.id + " is missing from the batch update answer";
        }
        out.failed.push_back({u.id, e});
      }
    } catch (const std::exception& ex) {
      return BadAnswer(endpoint, ex.what());
    }
  }
  return out;
}

Result<std::vector<Owner>> HubSpotClient::ListOwners() {
  std::vector<Owner> out;
  std::string after;
  while (true) {
    std::string target = impl_->paths.Owners() + "?limit=100&archived=false";
    if (!after.empty()) target += "&after=" + internal::UrlEncode(after);
    auto j = impl_->Call("GET", target, "", true);
    if (!j.ok()) return j.error();
    std::optional<std::string> next;
    try {
      const Json& results = j->at("results");
      for (const auto& r : results) out.push_back(internal::ParseOwner(r));
      auto page = internal::ParseListPage(Json{{"results", Json::array()},
                                               {"paging", j->value("paging", Json())}});
      next = page.after;
      if (results.empty()) next.reset();
    } catch (const std::exception& ex) {
      return BadAnswer(EndpointName("GET", target), ex.what());
    }
    if (!next) break;
    after = *next;
  }
  return out;
}

Result<AccountDetails> HubSpotClient::GetAccountDetails() {
  const std::string target = impl_->paths.AccountDetails();
  auto j = impl_->Call("GET", target, "", true);
  if (!j.ok()) return j.error();
  try {
    AccountDetails d = internal::ParseAccountDetails(*j);
    impl_->transport->SetUtcOffsetMs(d.utc_offset_ms);
    return d;
  } catch (const std::exception& ex) {
    return BadAnswer("GET " + target, ex.what());
  }
}

}  // namespace kam::hubspot
