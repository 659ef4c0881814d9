// Authentication (JWT bearer, refresh token, client credentials, given token) and the
// authenticated call with one refresh on 401 (CRM_API B2, B9).
#include <algorithm>
#include <chrono>

#include "client_impl.h"
#include "kam/http/encoding.h"

namespace kam::salesforce {

using internal::Json;
using Flow = AuthOptions::Flow;

namespace {

const char* FlowName(Flow flow) {
  switch (flow) {
    case Flow::kJwtBearer:
      return "JWT bearer";
    case Flow::kRefreshToken:
      return "refresh token";
    case Flow::kClientCredentials:
      return "client credentials";
    case Flow::kAccessToken:
      return "access token";
  }
  return "?";
}

// What the admin can check, per flow, when the token endpoint says no.
const char* TokenHint(Flow flow) {
  switch (flow) {
    case Flow::kJwtBearer:
      return "check the consumer key (client_id), the username, that the connected app has the "
             "certificate of this private key, that the user is pre-authorized (Manage Connected "
             "Apps > Admin approved users) and that login_url is login.salesforce.com, "
             "test.salesforce.com or the My Domain";
    case Flow::kRefreshToken:
      return "the refresh token may be revoked or expired: authorize the connected app again";
    case Flow::kClientCredentials:
      return "check the client id and secret, that the client credentials flow is enabled with "
             "a run-as user, and that login_url is the org's My Domain";
    case Flow::kAccessToken:
      return "give a current access token";
  }
  return "";
}

Error MissingSecret(const std::string& what) {
  Error e;
  e.error_class = ErrorClass::kAuth;
  e.message = "Salesforce credentials are incomplete: " + what +
              " (see connector/salesforce/README.md, 'Connecting a Salesforce org')";
  return e;
}

}  // namespace

Error BadAnswer(const std::string& endpoint, const std::string& what) {
  Error e;
  e.error_class = ErrorClass::kPermanent;
  e.endpoint = endpoint;
  e.message = endpoint + " gave an answer of an unexpected shape (" + what +
              "); the Salesforce API may have changed: report this";
  return e;
}

Error CancelledBefore(const std::string& endpoint) {
  Error e;
  e.error_class = ErrorClass::kCancelled;
  e.endpoint = endpoint;
  e.message = "cancelled before " + endpoint;
  return e;
}

void SalesforceClient::Impl::Log(kam::http::LogLevel level, const std::string& message) const {
  if (options.http.log) options.http.log(level, "salesforce: " + message);
}

bool SalesforceClient::Impl::Cancelled() const {
  return options.http.cancelled && options.http.cancelled();
}

std::string SalesforceClient::Impl::DataPath(const std::string& rest) const {
  return "/services/data/v" + options.api_version + rest;
}

Error SalesforceClient::Impl::MapHttpError(const kam::http::Error& h,
                                           const std::string& endpoint) const {
  using K = kam::http::ErrorKind;
  Error e;
  e.endpoint = endpoint;
  e.http_status = h.http_status;
  e.retry_after_ms = h.retry_after_ms;
  switch (h.kind) {
    case K::kHttpStatus:
    case K::kRateLimited: {
      e = internal::ErrorFromApiErrors(internal::ParseErrorBody(h.body), h.http_status, endpoint);
      e.retry_after_ms = h.retry_after_ms;
      std::string what = endpoint + " on " + (instance_url.empty() ? "Salesforce" : instance_url) +
                         ": HTTP " + std::to_string(h.http_status);
      if (!e.message.empty()) what += " " + e.message;
      if (h.attempts > 1) what += " (after " + std::to_string(h.attempts) + " attempts)";
      switch (e.error_class) {
        case ErrorClass::kQuota:
          what +=
              "; the org's 24-hour API allocation is spent: the sync stops and resumes "
              "later (see /limits)";
          break;
        case ErrorClass::kAuth:
          if (h.http_status == 403) {
            what +=
                "; the integration user lacks a permission (API Enabled, object or field "
                "access: see the README)";
          }
          break;
        case ErrorClass::kUnavailable:
          what += "; Salesforce is unavailable, try again later";
          break;
        default:
          break;
      }
      e.message = what;
      return e;
    }
    case K::kQuotaReserve:
      e.error_class = ErrorClass::kQuota;
      break;
    case K::kTimeout:
    case K::kConnection:
    case K::kRetryBudget:  // the run's retry budget is spent: stop, resume in the next run
      e.error_class = ErrorClass::kUnavailable;
      break;
    case K::kCancelled:
      e.error_class = ErrorClass::kCancelled;
      break;
    case K::kTls:
    case K::kInvalidArgument:
    case K::kResponseTooLarge:
    case K::kInvalidResponse:
    case K::kInternal:
      e.error_class = ErrorClass::kPermanent;
      break;
  }
  e.message = h.message;
  return e;
}

Status SalesforceClient::Impl::EnsureToken() {
  if (!access_token.empty()) return {};
  return FetchToken();
}

Status SalesforceClient::Impl::FetchToken() {
  const AuthOptions& auth = options.auth;
  auto secret = [&](const std::string& name) -> internal::SecretText {
    if (!auth.get_secret) return {};
    auto v = auth.get_secret(name);
    return v ? internal::SecretText(std::move(*v)) : internal::SecretText();
  };
  access_token.Clear();

  if (auth.flow == Flow::kAccessToken) {
    internal::SecretText token = secret(auth.token_secret);
    if (token.empty()) {
      return MissingSecret("the host has no secret named " + auth.token_secret);
    }
    if (options.instance_url.empty()) {
      return MissingSecret("an access token needs instance_url (the org's My Domain URL)");
    }
    access_token = std::move(token);
    return {};
  }

  if (auth.client_id.empty()) return MissingSecret("client_id (the consumer key) is not set");
  std::vector<std::pair<std::string, std::string>> form;
  internal::SecretText client_secret;
  internal::SecretText refresh;
  std::string assertion;
  switch (auth.flow) {
    case Flow::kJwtBearer: {
      if (auth.username.empty()) return MissingSecret("username is not set for the JWT flow");
      internal::SecretText key = secret(auth.private_key_secret);
      if (key.empty()) {
        return MissingSecret("the host has no secret named " + auth.private_key_secret +
                             " (the PEM private key; or " + auth.private_key_secret +
                             "_FILE naming a 0600 file)");
      }
      internal::JwtClaims claims;
      claims.issuer = auth.client_id;
      claims.subject = auth.username;
      claims.audience = auth.audience.empty() ? auth.login_url : auth.audience;
      claims.expires_at_s = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count() +
                            std::clamp(auth.jwt_lifetime_s, 10, 180);
      auto signed_jwt = internal::SignJwtRs256(claims, key.view());
      key.Clear();  // the key is not kept once the assertion is signed
      if (!signed_jwt.ok()) return signed_jwt.error();
      assertion = std::move(*signed_jwt);
      form = {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
              {"assertion", assertion}};
      break;
    }
    case Flow::kRefreshToken: {
      refresh = rotated_refresh_token.empty() ? secret(auth.refresh_token_secret)
                                              : internal::SecretText(rotated_refresh_token.view());
      if (refresh.empty()) {
        return MissingSecret("the host has no secret named " + auth.refresh_token_secret);
      }
      client_secret = secret(auth.client_secret_secret);  // optional for refresh
      form = {{"grant_type", "refresh_token"},
              {"refresh_token", refresh.view()},
              {"client_id", auth.client_id}};
      if (!client_secret.empty()) form.emplace_back("client_secret", client_secret.view());
      break;
    }
    case Flow::kClientCredentials: {
      client_secret = secret(auth.client_secret_secret);
      if (client_secret.empty()) {
        return MissingSecret("the host has no secret named " + auth.client_secret_secret);
      }
      form = {{"grant_type", "client_credentials"},
              {"client_id", auth.client_id},
              {"client_secret", client_secret.view()}};
      break;
    }
    case Flow::kAccessToken:
      break;
  }

  kam::http::Request req;
  req.method = kam::http::Method::kPost;
  std::string login = auth.login_url;
  while (!login.empty() && login.back() == '/') login.pop_back();
  req.target = login + "/services/oauth2/token";
  req.content_type = "application/x-www-form-urlencoded";
  req.body = kam::http::FormBody(form);
  for (auto& [name, value] : form) internal::Wipe(&value);
  internal::Wipe(&assertion);
  req.idempotent = true;  // asking twice just gives another token
  req.lane = kam::http::Lane::kUnpaced;
  req.endpoint = "POST /services/oauth2/token";
  ++token_requests;
  auto res = http->Send(req);
  internal::Wipe(&req.body);
  const std::string flow_name = FlowName(auth.flow);
  if (!res.ok()) {
    const kam::http::Error& h = res.error();
    Error e = MapHttpError(h, req.endpoint);
    if (h.http_status >= 400 && h.http_status < 500) {
      auto errors = internal::ParseErrorBody(h.body);
      e.error_class = ErrorClass::kAuth;
      e.error_code = errors.empty() ? "" : errors.front().code;
      e.crm_message = errors.empty() ? "" : errors.front().message;
      e.message = "getting a Salesforce access token (" + flow_name + ") from " + login +
                  " failed: HTTP " + std::to_string(h.http_status) + " " + e.error_code +
                  (e.crm_message.empty() ? "" : ": " + e.crm_message) + "; " + TokenHint(auth.flow);
    } else {
      e.message = "getting a Salesforce access token (" + flow_name + ") failed: " + e.message;
    }
    return e;
  }
  try {
    Json j = Json::parse(res->body);
    internal::TokenResponse t = internal::ParseTokenResponse(j);
    internal::Wipe(&res->body);
    access_token = internal::SecretText(std::move(t.access_token));
    identity_url = t.id;
    if (!t.refresh_token.empty()) {
      rotated_refresh_token = internal::SecretText(std::move(t.refresh_token));
    }
    if (options.auth.on_token) {
      if (!access_token.empty()) options.auth.on_token(access_token.view());
      if (!t.refresh_token.empty()) options.auth.on_token(rotated_refresh_token.view());
    }
    if (!options.instance_url.empty()) {
      instance_url = options.instance_url;
    } else if (!t.instance_url.empty()) {
      instance_url = t.instance_url;
    } else {
      return BadAnswer(req.endpoint, "no instance_url and none configured");
    }
    while (!instance_url.empty() && instance_url.back() == '/') instance_url.pop_back();
  } catch (const std::exception& ex) {
    internal::Wipe(&res->body);
    return BadAnswer(req.endpoint, ex.what());
  }
  Log(kam::http::LogLevel::kInfo, "access token obtained (" + flow_name + ") for " + instance_url);
  return {};
}

Result<SalesforceClient::Impl::Reply> SalesforceClient::Impl::Call(const CallSpec& spec) {
  if (Cancelled()) return CancelledBefore(spec.endpoint);
  if (Status s = EnsureToken(); !s.ok()) return s.error();
  for (int attempt = 0;; ++attempt) {
    kam::http::Request req;
    req.method = spec.method;
    const bool absolute = spec.path.rfind("http://", 0) == 0 || spec.path.rfind("https://", 0) == 0;
    req.target = absolute ? spec.path : instance_url + spec.path;
    req.body = spec.body;
    req.idempotent = spec.idempotent;
    req.endpoint = spec.endpoint;
    req.headers = spec.headers;
    req.headers.emplace_back("Authorization", "Bearer " + access_token.view());
    auto res = http->Send(req);
    internal::Wipe(&req.headers.back().second);
    if (res.ok()) {
      Reply reply;
      reply.status = res->status;
      if (!res->body.empty()) {
        reply.json = Json::parse(res->body, nullptr, false);
        if (reply.json.is_discarded()) {
          Error e = BadAnswer(spec.endpoint, "the body is not JSON");
          e.error_class = ErrorClass::kUnavailable;
          e.http_status = res->status;
          return e;
        }
      }
      return reply;
    }
    Error e = MapHttpError(res.error(), spec.endpoint);
    if (e.http_status != 401) return e;
    if (attempt == 0) {
      // Expired or revoked session (INVALID_SESSION_ID): one new token, one repeat.
      Log(kam::http::LogLevel::kInfo, spec.endpoint + ": session expired, getting a new token");
      const internal::SecretText before(access_token.view());
      if (Status s = FetchToken(); !s.ok()) return s.error();
      // A given token can only be re-read from the host: repeat only if it changed.
      if (options.auth.flow != Flow::kAccessToken || access_token.view() != before.view()) {
        continue;
      }
    }
    e.error_class = ErrorClass::kAuth;
    e.message += options.auth.flow == Flow::kAccessToken
                     ? "; the access token in " + options.auth.token_secret +
                           " is expired or revoked: give a new one or use the JWT flow"
                     : "; Salesforce refused a freshly issued token too: check that the "
                       "integration user is active, has 'API Enabled' and that the connected "
                       "app's session policies allow it";
    return e;
  }
}

Result<Json> SalesforceClient::Impl::CallJson(const CallSpec& spec) {
  auto r = Call(spec);
  if (!r.ok()) return r.error();
  return std::move(r->json);
}

Result<Json> SalesforceClient::Impl::GetJson(const std::string& rest, const std::string& endpoint) {
  CallSpec spec;
  spec.path = DataPath(rest);
  spec.endpoint = endpoint;
  spec.idempotent = true;
  return CallJson(spec);
}

Result<std::map<std::string, Json>> SalesforceClient::Impl::DescribeFields(
    const std::string& sobject) {
  const std::string endpoint = "GET /sobjects/" + sobject + "/describe";
  auto j = GetJson("/sobjects/" + sobject + "/describe", endpoint);
  if (!j.ok()) return j.error();
  try {
    return internal::DescribeFieldsByName(*j);
  } catch (const std::exception& ex) {
    return BadAnswer(endpoint, ex.what());
  }
}

}  // namespace kam::salesforce
