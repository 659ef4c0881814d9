// The admin commands' plain HTTP view of HubSpot (see crm_probe.h).
#include "crm_probe.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "kam/http/redact.h"
#include "proxy_setup.h"

namespace kam::engine {

CrmProbe::CrmProbe(EngineConfig cfg, std::unique_ptr<http::Client> client, std::string token)
    : cfg_(std::move(cfg)), client_(std::move(client)), token_(std::move(token)) {}

CrmProbe::~CrmProbe() { http::WipeSecret(token_); }

StatusOr<std::unique_ptr<CrmProbe>> CrmProbe::Create(const EngineConfig& cfg, Host& host) {
  http::ClientOptions o;
  o.base_url = cfg.hubspot.base_url.empty() ? "https://api.hubapi.com" : cfg.hubspot.base_url;
  o.max_connections = 1;
  o.tls.ca_file = cfg.hubspot.ca_file;
  o.tls.insecure = cfg.hubspot.insecure;
  o.rate_limit.enabled = false;  // a handful of calls, each one the admin waits for
  o.retry.max_attempts = 1;      // report what happened, do not hide it behind retries
  o.timeouts.connect = std::chrono::milliseconds(5'000);
  o.timeouts.tls_handshake = std::chrono::milliseconds(5'000);
  o.timeouts.read = std::chrono::milliseconds(15'000);
  Host* h = &host;
  o.log = [h](http::LogLevel level, std::string_view message) {
    h->Log(static_cast<int32_t>(level), message);
  };
  o.cancelled = [h] { return h->IsCancelled(); };
  o.on_secret = [h](std::string_view secret) { h->AddSecret(secret); };
  if (Status s = ApplyProxyConfig(
          cfg.proxy, [h](std::string_view name) { return h->GetSecret(name); }, &o.proxy);
      !s.ok()) {
    return s;
  }
  auto client = http::Client::Create(std::move(o));
  if (!client.ok()) {
    return Status(
        StatusCode::kInvalidArgument,
        "cannot set up the HTTP client for " + cfg.hubspot.base_url + ": " + client.error().message,
        "/hubspot/base_url");
  }
  std::string token = host.GetSecret(cfg.hubspot.token_secret).value_or("");
  if (!token.empty()) host.AddSecret(token);
  return std::unique_ptr<CrmProbe>(new CrmProbe(cfg, std::move(client.value()), std::move(token)));
}

http::Result<http::Response> CrmProbe::Get(const std::string& target) {
  http::Request r;
  r.method = http::Method::kGet;
  r.target = target;
  r.idempotent = true;
  if (!token_.empty()) r.headers.push_back(http::BearerAuth(token_));
  return client_->Send(r);
}

std::string CrmProbe::OwnersPath() const {
  const std::string& v = cfg_.hubspot.api_version;
  return v.empty() || v == "v3" ? "/crm/v3/owners" : "/crm/owners/" + v;
}

StatusOr<std::map<std::string, std::string>> FetchOwnerNames(CrmProbe& probe) {
  using nlohmann::json;
  std::map<std::string, std::string> names;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    std::string target = probe.OwnersPath() + "?limit=100&archived=false";
    if (!after.empty()) target += "&after=" + after;
    auto r = probe.Get(target);
    if (!r.ok()) return Status(StatusCode::kUnavailable, r.error().message);
    json body = json::parse(r->body, nullptr, false);
    if (!body.is_object() || !body.contains("results") || !body["results"].is_array()) {
      return Status(StatusCode::kInternal, "the owners API answered without a results list");
    }
    for (const auto& o : body["results"]) {
      if (!o.is_object() || !o.contains("id")) continue;
      std::string id = o["id"].is_string() ? o["id"].get<std::string>() : o["id"].dump();
      auto text = [&o](const char* key) {
        auto it = o.find(key);
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      std::string first = text("firstName"), last = text("lastName");
      std::string name = first + (first.empty() || last.empty() ? "" : " ") + last;
      if (name.empty()) name = text("email");
      names[id] = name;
    }
    const json* next = nullptr;
    if (body.contains("paging") && body["paging"].is_object() && body["paging"].contains("next") &&
        body["paging"]["next"].is_object()) {
      next = &body["paging"]["next"];
    }
    if (next == nullptr || !next->contains("after") || !(*next)["after"].is_string()) break;
    after = (*next)["after"].get<std::string>();
    if (after.empty()) break;
  }
  return names;
}

}  // namespace kam::engine
