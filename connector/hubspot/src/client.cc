// HubSpotClient: construction, authentication, the JSON call helper, companies, owners and
// account details. Facts, tasks and provisioning live in facts.cc, tasks.cc, provision.cc.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <utility>

#include "client_impl.h"
#include "concurrent.h"
#include "kam/http/json_body.h"
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
  if (j.contains("expires_in")) {
    // A year at most: a larger (or absurd) lifetime must not overflow the milliseconds below.
    if (auto n = kam::http::JsonInteger(j["expires_in"], 0, 366LL * 86'400)) expires_s = *n;
  }
  const int64_t valid_ms = std::max<int64_t>(0, expires_s * 1000 - auth.refresh_margin_ms);
  access_expiry = std::chrono::steady_clock::now() + std::chrono::milliseconds(valid_ms);
  token_loaded = true;
  Log(kam::http::LogLevel::kInfo,
      "OAuth access token refreshed (valid " + std::to_string(expires_s) + " s)");
  return {};
}

Result<HttpReply> HubSpotClient::Impl::SendAuthed(const std::string& method,
                                                  const std::string& target,
                                                  const std::string& body, bool idempotent,
                                                  bool search) {
  const std::string endpoint = EndpointName(method, target);
  if (Cancelled()) {
    Error e;
    e.code = ErrorCode::kCancelled;
    e.endpoint = endpoint;
    e.message = "cancelled before " + endpoint;
    return e;
  }
  std::string token;
  {
    std::lock_guard lock(auth_mu);
    if (Status s = EnsureToken(false); !s.ok()) return s.error();
    token = access_token;
  }
  for (int attempt = 0;; ++attempt) {
    HttpCall call;
    call.method = method;
    call.target = target;
    call.body = body;
    call.idempotent = idempotent;
    call.search_lane = search;
    call.headers.emplace_back("Authorization", "Bearer " + token);
    auto reply = transport->Send(call);
    if (!reply.ok()) {
      Error e = reply.error();
      if (e.endpoint.empty()) e.endpoint = endpoint;
      if (e.http_status == 401 && attempt == 0 &&
          options.auth.kind == AuthOptions::Kind::kOAuthRefreshToken) {
        std::lock_guard lock(auth_mu);
        // Another thread may have refreshed it already.
        if (access_token == token) {
          if (Status s = EnsureToken(true); !s.ok()) return s.error();
        }
        token = access_token;
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
    return reply;
  }
}

Result<std::pair<int, Json>> HubSpotClient::Impl::CallWithStatus(const std::string& method,
                                                                 const std::string& target,
                                                                 const std::string& body,
                                                                 bool idempotent, bool search) {
  return CallParsed<Json>(method, target, body, idempotent, search,
                          [](const Json& j) { return j; });
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
  auto r = CallParsed<internal::SearchPage>("POST", target, body, /*idempotent=*/true,
                                            /*search=*/true, internal::ParseSearchPage);
  if (!r.ok()) return r.error();
  return std::move(r->second);
}

namespace {

// Errors of a 207 that a retry of the same input may fix (the CRM did not process it).
bool IsRetryableRecordError(const internal::BatchError& e) { return e.error.retryable; }

}  // namespace

Result<BatchReadResult> HubSpotClient::Impl::BatchRead(const std::string& object_type,
                                                       const std::vector<std::string>& ids,
                                                       const std::vector<std::string>& properties) {
  const auto chunks = internal::Chunk(ids, 100);
  std::vector<std::optional<Result<BatchReadResult>>> parts(chunks.size());
  std::atomic<bool> failed{false};
  internal::ForEachConcurrently(chunks.size(), Concurrency(), [&](std::size_t i) {
    if (failed.load()) return;  // another chunk failed: the call fails anyway
    parts[i] = BatchReadChunk(object_type, chunks[i], properties);
    if (!parts[i]->ok()) failed = true;
  });
  for (auto& p : parts) {
    if (p && !p->ok()) return p->error();
  }
  BatchReadResult out;
  for (auto& p : parts) {
    auto& r = p->value();
    for (auto& o : r.found) out.found.push_back(std::move(o));
    out.missing.insert(out.missing.end(), r.missing.begin(), r.missing.end());
  }
  return out;
}

Result<BatchReadResult> HubSpotClient::Impl::BatchReadChunk(
    const std::string& object_type, const std::vector<std::string>& chunk,
    const std::vector<std::string>& properties) {
  BatchReadResult out;
  const std::string target = paths.Objects(object_type) + "/batch/read?archived=false";
  const std::string endpoint = "POST " + target.substr(0, target.find('?'));
  {
    std::vector<std::string> pending = chunk;
    for (int round = 1; !pending.empty(); ++round) {
      auto r = CallParsed<internal::BatchResponse>(
          "POST", target, internal::BuildBatchReadBody(pending, properties), true, false,
          internal::ParseBatchResponse);
      if (!r.ok()) {
        // Some portals answer a batch read of only unknown ids with 404 as a whole.
        if (r.error().http_status == 404) {
          out.missing.insert(out.missing.end(), pending.begin(), pending.end());
          break;
        }
        return r.error();
      }
      internal::BatchResponse& resp = r->second;
      std::set<std::string> found, not_found, failed;
      std::optional<Error> failure;  // the first error that is not "not found"
      bool unnamed_failure = false;
      for (auto& o : resp.results) {
        if (found.insert(o.id).second) out.found.push_back(std::move(o));
      }
      for (const auto& e : resp.errors) {
        if (e.error.code == ErrorCode::kNotFound) {
          not_found.insert(e.ids.begin(), e.ids.end());
          continue;
        }
        if (!IsRetryableRecordError(e)) {
          Error err = e.error;
          err.endpoint = endpoint;
          err.message = "batch read of " + object_type + " failed: " + err.crm_message;
          return err;
        }
        if (!failure) failure = e.error;
        if (e.ids.empty()) unnamed_failure = true;
        failed.insert(e.ids.begin(), e.ids.end());
      }
      std::vector<std::string> again;
      for (const auto& id : pending) {
        if (found.count(id)) continue;
        if (failed.count(id) || (unnamed_failure && !not_found.count(id))) {
          again.push_back(id);
        } else {
          // Asked, not returned, not failed: deleted or never existed.
          out.missing.push_back(id);
        }
      }
      if (again.empty()) break;
      if (round >= MaxAttempts()) {
        Error e = *failure;
        e.code = ErrorCode::kUnavailable;
        e.retryable = true;
        e.endpoint = endpoint;
        e.message = "batch read of " + object_type + ": " + std::to_string(again.size()) +
                    " inputs still failed after " + std::to_string(round) +
                    " attempts (207): " + e.crm_message + "; the next run resumes";
        return e;
      }
      Log(kam::http::LogLevel::kInfo,
          endpoint + ": 207, re-reading " + std::to_string(again.size()) + " failed inputs");
      if (Status s = transport->AwaitRetry(round); !s.ok()) return s.error();
      pending = std::move(again);
    }
  }
  return out;
}

Result<std::map<std::string, std::vector<std::string>>> HubSpotClient::Impl::ReadAssociations(
    const std::string& from_type, const std::string& to_type,
    const std::vector<std::string>& from_ids) {
  std::map<std::string, std::vector<std::string>> out;
  const std::string target = paths.AssociationsBatch(from_type, to_type, "read");
  const std::string endpoint = "POST " + target;
  std::vector<internal::AssocInput> pending;
  for (const auto& id : from_ids) {
    out[id];
    pending.push_back({id, ""});
  }
  int round = 0;  // 207 re-read rounds in a row
  // One chunk of 1,000 inputs: what it found, what to read next, what to read again.
  struct Part {
    std::optional<Error> fatal;
    std::vector<internal::AssocResult> results;
    std::vector<internal::AssocInput> again;
    std::optional<Error> failure;  // the first retryable error
  };
  while (!pending.empty()) {
    std::vector<internal::AssocInput> next, again;
    std::optional<Error> failure;
    const auto chunks = internal::Chunk(pending, 1000);
    std::vector<Part> parts(chunks.size());
    internal::ForEachConcurrently(chunks.size(), Concurrency(), [&](std::size_t i) {
      const auto& chunk = chunks[i];
      Part& part = parts[i];
      auto r = CallParsed<internal::AssocReadResponse>("POST", target,
                                                       internal::BuildAssocReadBody(chunk), true,
                                                       false, internal::ParseAssocRead);
      if (!r.ok()) {
        // 404: none of them has any, treat as none.
        if (r.error().http_status != 404) part.fatal = r.error();
        return;
      }
      auto& resp = r->second;
      std::set<std::string> answered, failed;
      bool unnamed_failure = false;
      for (auto& res : resp.results) {
        answered.insert(res.from_id);
        part.results.push_back(std::move(res));
      }
      for (const auto& e : resp.errors) {
        // "No associations" may come back as OBJECT_NOT_FOUND (CRM_API A9): that is none.
        if (e.error.code == ErrorCode::kNotFound) {
          answered.insert(e.ids.begin(), e.ids.end());
          continue;
        }
        if (!IsRetryableRecordError(e)) {
          Error err = e.error;
          err.endpoint = endpoint;
          err.message =
              "association read " + from_type + " -> " + to_type + " failed: " + err.crm_message;
          part.fatal = err;
          return;
        }
        if (!part.failure) part.failure = e.error;
        if (e.ids.empty()) unnamed_failure = true;
        failed.insert(e.ids.begin(), e.ids.end());
      }
      for (const auto& in : chunk) {
        if (failed.count(in.id) || (unnamed_failure && !answered.count(in.id))) {
          part.again.push_back(in);  // same input, same page token
        }
      }
    });
    for (auto& part : parts) {
      if (part.fatal) return *part.fatal;
    }
    for (auto& part : parts) {
      for (const auto& res : part.results) {
        auto& list = out[res.from_id];
        list.insert(list.end(), res.to_ids.begin(), res.to_ids.end());
        if (res.after) next.push_back({res.from_id, *res.after});
      }
      again.insert(again.end(), part.again.begin(), part.again.end());
      if (!failure && part.failure) failure = part.failure;
    }
    if (!again.empty()) {
      ++round;
      if (round >= MaxAttempts()) {
        Error e = *failure;
        e.code = ErrorCode::kUnavailable;
        e.retryable = true;
        e.endpoint = endpoint;
        e.message = "association read " + from_type + " -> " + to_type + ": " +
                    std::to_string(again.size()) + " inputs still failed after " +
                    std::to_string(round) + " attempts (207): " + e.crm_message +
                    "; the next run resumes";
        return e;
      }
      Log(kam::http::LogLevel::kInfo,
          endpoint + ": 207, re-reading " + std::to_string(again.size()) + " failed inputs");
      if (Status s = transport->AwaitRetry(round); !s.ok()) return s.error();
      next.insert(next.end(), again.begin(), again.end());
    } else {
      round = 0;
    }
    pending = std::move(next);
  }
  for (auto& [id, list] : out) {
    std::sort(list.begin(), list.end(), internal::IdLess);
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return out;
}

Result<BatchWriteResult> HubSpotClient::Impl::BatchUpdate(
    const std::string& object_type, const std::vector<CompanyUpdate>& updates) {
  const auto chunks = internal::Chunk(updates, 100);
  std::vector<BatchWriteResult> parts(chunks.size());
  std::vector<std::optional<Error>> stops(chunks.size());
  std::atomic<bool> stop{false};
  internal::ForEachConcurrently(chunks.size(), Concurrency(), [&](std::size_t i) {
    if (stop.load()) {
      // Unauthenticated or cancelled elsewhere: report as not attempted.
      for (const auto& u : chunks[i]) parts[i].failed.push_back({u.id, *stops[0]});
      return;
    }
    parts[i] = BatchUpdateChunk(object_type, chunks[i], &stops[i]);
    if (stops[i] && (stops[i]->code == ErrorCode::kUnauthenticated ||
                     stops[i]->code == ErrorCode::kCancelled)) {
      if (i == 0) stop = true;
    }
  });
  BatchWriteResult out;
  for (auto& p : parts) {
    out.calls += p.calls;
    for (auto& o : p.written) out.written.push_back(std::move(o));
    for (auto& f : p.failed) out.failed.push_back(std::move(f));
  }
  // Nothing can succeed without auth or when cancelled: an error when nothing was written.
  if (out.written.empty() && !stops.empty() && stops[0]) {
    const ErrorCode c = stops[0]->code;
    if (c == ErrorCode::kUnauthenticated || c == ErrorCode::kPermissionDenied ||
        c == ErrorCode::kCancelled || c == ErrorCode::kRateLimited) {
      return *stops[0];
    }
  }
  return out;
}

BatchWriteResult HubSpotClient::Impl::BatchUpdateChunk(const std::string& object_type,
                                                       const std::vector<CompanyUpdate>& chunk,
                                                       std::optional<Error>* whole_failure) {
  BatchWriteResult out;
  const std::string target = paths.Objects(object_type) + "/batch/update";
  const std::string endpoint = "POST " + target;
  {
    std::vector<CompanyUpdate> pending = chunk;
    for (int round = 1; !pending.empty(); ++round) {
      // Same values again is harmless: a batch update is safe to repeat.
      auto r = CallParsed<internal::BatchResponse>(
          "POST", target, internal::BuildBatchUpdateBody(pending), true, false,
          internal::ParseBatchResponse, internal::KeepOnlyWriteOutcomes());
      ++out.calls;
      if (!r.ok()) {
        const Error& e = r.error();
        if (out.written.empty() && !*whole_failure) *whole_failure = e;
        for (const auto& u : pending) out.failed.push_back({u.id, e});
        break;
      }
      internal::BatchResponse& resp = r->second;
      std::set<std::string> ok_ids;
      for (auto& o : resp.results) {
        ok_ids.insert(o.id);
        out.written.push_back(std::move(o));
      }
      std::map<std::string, Error> failed;  // id -> its error
      std::set<std::string> retry_ids;
      std::optional<Error> unnamed;  // an error that names no id
      for (const auto& be : resp.errors) {
        Error e = be.error;
        e.endpoint = endpoint;
        if (e.message.empty()) e.message = "update failed";
        if (be.ids.empty() && !unnamed) unnamed = e;
        for (const auto& id : be.ids) {
          if (!failed.emplace(id, e).second) continue;
          if (IsRetryableRecordError(be)) retry_ids.insert(id);
        }
      }
      std::vector<CompanyUpdate> again;
      for (const auto& u : pending) {
        if (ok_ids.count(u.id)) continue;
        auto f = failed.find(u.id);
        if (f == failed.end()) {
          // An input neither echoed nor named in an error is reported, never dropped silently.
          Error e;
          if (unnamed) {
            e = *unnamed;
          } else {
            e.code = ErrorCode::kInternal;
            e.endpoint = endpoint;
            e.message = object_type + " " + u.id + " is missing from the batch update answer";
          }
          out.failed.push_back({u.id, e});
          continue;
        }
        if (retry_ids.count(u.id) && round < MaxAttempts()) {
          again.push_back(u);
        } else {
          out.failed.push_back({u.id, f->second});
        }
      }
      if (again.empty()) break;
      Log(kam::http::LogLevel::kInfo,
          endpoint + ": 207, sending " + std::to_string(again.size()) + " failed inputs again");
      if (Status s = transport->AwaitRetry(round); !s.ok()) {
        for (const auto& u : again) out.failed.push_back({u.id, s.error()});
        break;
      }
      pending = std::move(again);
    }
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
  std::string after = options.resume_after;
  summary.resumed = !after.empty();
  Cursor max_seen;
  std::set<std::string> seen;
  while (true) {
    std::string target = impl_->paths.Objects("companies") + "?limit=" + std::to_string(limit) +
                         "&archived=false&properties=" + JoinProperties(props);
    if (!after.empty()) target += "&after=" + internal::UrlEncode(after);
    auto r = impl_->CallParsed<internal::ListPage>("GET", target, "", true, false,
                                                   internal::ParseListPage);
    if (!r.ok()) return r.error();
    internal::ListPage page = std::move(r->second);
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
      // A full pull resumes from its paging token (out.after), not from a time: until the last
      // page the cursor stays 0.
      out.cursor = last ? summary.cursor : Cursor{};
      if (!last) out.after = *page.after;
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
  return PullChangedObjects("companies", since, options, on_page);
}

Result<PullSummary> HubSpotClient::PullChangedObjects(const std::string& object_type,
                                                      const Cursor& since,
                                                      const PullOptions& options,
                                                      const PageCallback& on_page) {
  const std::string modified = object_type == "contacts" || object_type == "0-1"
                                   ? "lastmodifieddate"
                                   : "hs_lastmodifieddate";
  // A long property list can push the search body past HubSpot's 3,000 characters: then search
  // for ids and timestamps only and batch read the properties (two more calls per page).
  auto search = [&](const internal::SearchRequest& r) -> Result<internal::SearchPage> {
    if (static_cast<int>(internal::BuildSearchBody(r).size()) <=
        impl_->options.max_search_body_chars) {
      return impl_->Search(object_type, r);
    }
    internal::SearchRequest slim = r;
    slim.properties = {"hs_object_id", modified};
    auto page = impl_->Search(object_type, slim);
    if (!page.ok()) return page;
    std::vector<std::string> ids;
    for (const auto& o : page->results) ids.push_back(o.id);
    auto read = impl_->BatchRead(object_type, ids, r.properties);
    if (!read.ok()) return read.error();
    std::map<std::string, CrmObject*> by_id;
    for (auto& o : read->found) by_id[o.id] = &o;
    std::vector<CrmObject> merged;
    for (auto& o : page->results) {
      auto it = by_id.find(o.id);
      if (it == by_id.end()) continue;  // deleted since the search: seen by the archive listing
      CrmObject full = std::move(*it->second);
      // Keep the timestamp the search ordered by, so the window moves on what the search saw.
      full.properties[modified] = o.Get(modified);
      merged.push_back(std::move(full));
    }
    page->results = std::move(merged);
    return page;
  };
  auto r = internal::RunIncrementalPull(search, since, options, modified, on_page);
  if (r.ok()) {
    impl_->Log(kam::http::LogLevel::kInfo,
               "incremental pull of " + object_type + ": " + std::to_string(r->companies) +
                   " records in " + std::to_string(r->pages) + " pages, " +
                   std::to_string(r->queries) + " search windows (" +
                   std::to_string(r->id_split_windows) + " split by id), " +
                   std::to_string(r->duplicates_skipped) + " re-read and skipped");
  }
  return r;
}

Result<std::map<std::string, std::vector<std::string>>> HubSpotClient::ReadAssociatedIds(
    const std::string& from_type, const std::string& to_type,
    const std::vector<std::string>& from_ids) {
  return impl_->ReadAssociations(from_type, to_type, from_ids);
}

int HubSpotClient::Concurrency() const { return static_cast<int>(impl_->Concurrency()); }

std::vector<Status> HubSpotClient::RunConcurrently(
    const std::vector<std::function<Status()>>& jobs) {
  std::vector<Status> out(jobs.size());
  internal::ForEachConcurrently(jobs.size(), impl_->Concurrency(), [&](std::size_t i) {
    try {
      out[i] = jobs[i] ? jobs[i]() : Status();
    } catch (const std::exception& ex) {
      Error e;
      e.code = ErrorCode::kInternal;
      e.message = std::string("a concurrent job threw: ") + ex.what();
      out[i] = e;
    }
  });
  return out;
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
    auto r = impl_->CallParsed<internal::ListPage>("GET", target, "", true, false,
                                                   internal::ParseListPage);
    if (!r.ok()) return r.error();
    internal::ListPage page = std::move(r->second);
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
  return impl_->BatchUpdate("companies", updates);
}

Result<std::vector<Owner>> HubSpotClient::ListOwners() {
  std::vector<Owner> out;
  std::string after;
  while (true) {
    std::string target = impl_->paths.Owners() + "?limit=100&archived=false";
    if (!after.empty()) target += "&after=" + internal::UrlEncode(after);
    struct OwnerPage {
      std::vector<Owner> owners;
      std::optional<std::string> next;
    };
    auto r = impl_->CallParsed<OwnerPage>("GET", target, "", true, false, [](const Json& j) {
      OwnerPage p;
      const Json& results = j.at("results");
      for (const auto& o : results) p.owners.push_back(internal::ParseOwner(o));
      p.next = internal::ParseListPage(
                   Json{{"results", Json::array()}, {"paging", j.value("paging", Json())}})
                   .after;
      if (results.empty()) p.next.reset();
      return p;
    });
    if (!r.ok()) return r.error();
    std::optional<std::string> next = r->second.next;
    for (auto& o : r->second.owners) out.push_back(std::move(o));
    if (!next) break;
    after = *next;
  }
  return out;
}

Result<AccountDetails> HubSpotClient::GetAccountDetails() {
  const std::string target = impl_->paths.AccountDetails();
  auto r = impl_->CallParsed<AccountDetails>("GET", target, "", true, false,
                                             internal::ParseAccountDetails);
  if (!r.ok()) return r.error();
  impl_->transport->SetUtcOffsetMs(r->second.utc_offset_ms);
  return r->second;
}

}  // namespace kam::hubspot
