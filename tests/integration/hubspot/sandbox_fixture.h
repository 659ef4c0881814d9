// Test support: a sandbox CRM on 127.0.0.1 (free port), a HubSpotClient pointed at it, and a
// small admin client for /_sandbox/ calls (touch timestamps, read tasks, set faults).
#ifndef KAM_TESTS_INTEGRATION_HUBSPOT_SANDBOX_FIXTURE_H_
#define KAM_TESTS_INTEGRATION_HUBSPOT_SANDBOX_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "kam/http/client.h"
#include "kam/hubspot/client.h"
#include "kam/sandbox/sandbox_server.h"

namespace kam::hubspot::testing {

using Json = nlohmann::json;

struct Sandbox {
  std::unique_ptr<kam::sandbox::SandboxServer> server;
  std::unique_ptr<kam::http::Client> admin;

  static Sandbox Start(kam::sandbox::SandboxOptions options) {
    Sandbox s;
    auto started = kam::sandbox::SandboxServer::Start(options);
    EXPECT_TRUE(started.ok()) << started.error;
    if (!started.ok()) return s;
    s.server = std::move(started.server);
    kam::http::ClientOptions o;
    o.base_url = s.server->url();
    o.rate_limit.enabled = false;
    o.retry.max_attempts = 1;
    auto c = kam::http::Client::Create(o);
    EXPECT_TRUE(c.ok());
    if (c.ok()) s.admin = std::move(*c);
    return s;
  }

  // An admin call; fails the test on an error.
  Json Admin(kam::http::Method method, const std::string& path, const Json& body = nullptr) {
    kam::http::Request r;
    r.method = method;
    r.target = path;
    if (!body.is_null()) r.body = body.dump();
    r.headers.push_back(kam::http::BearerAuth(server->options().token));
    auto resp = admin->Send(r);
    EXPECT_TRUE(resp.ok()) << path << ": " << (resp.ok() ? "" : resp.error().message);
    if (!resp.ok() || resp->body.empty()) return Json();
    return Json::parse(resp->body, nullptr, false);
  }

  // Client options for this sandbox: unpaced unless the test sets limits.
  HubSpotOptions ClientOptions(const std::string& token = "") const {
    HubSpotOptions o;
    o.http.base_url = server->url();
    o.http.rate_limit.initial_max = 0;  // learn the window from the sandbox's headers
    o.http.rate_limit.search_per_second =
        server->options().search_per_second > 0 ? server->options().search_per_second : 1000;
    o.http.retry.initial_delay = std::chrono::milliseconds(50);
    o.http.retry.max_delay = std::chrono::milliseconds(2000);
    const std::string t = token.empty() ? server->options().token : token;
    o.auth.get_secret = [t](std::string_view name) -> std::optional<std::string> {
      if (name == "KAM_HUBSPOT_TOKEN") return t;
      return std::nullopt;
    };
    return o;
  }

  std::unique_ptr<HubSpotClient> Client(const std::string& token = "") const {
    auto c = HubSpotClient::Create(ClientOptions(token));
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
    return c.ok() ? std::move(*c) : nullptr;
  }
};

inline kam::sandbox::SandboxOptions SandboxWith(int accounts) {
  kam::sandbox::SandboxOptions o;
  o.accounts = accounts;
  o.seed = 42;
  o.search_per_second = 0;  // tests of pacing set it explicitly
  return o;
}

// Every company id, by a full pull.
inline std::vector<std::string> AllCompanyIds(HubSpotClient& client) {
  std::vector<std::string> ids;
  PullOptions opts;
  auto r = client.PullAllCompanies(opts, [&ids](const CompanyPage& page) -> Status {
    for (const auto& c : page.companies) ids.push_back(c.id);
    return {};
  });
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return ids;
}

}  // namespace kam::hubspot::testing

#endif  // KAM_TESTS_INTEGRATION_HUBSPOT_SANDBOX_FIXTURE_H_
