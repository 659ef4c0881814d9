// The instance configuration: defaults, every documented key, and errors naming the pointer.
#include "config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "kam/addin.h"
#include "operation.h"

namespace kam::engine {
namespace {

using nlohmann::json;

OpError ErrorOf(const json& config) {
  try {
    ParseEngineConfig(config);
  } catch (const OpError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << config.dump();
  return OpError(StatusCode::kOk, "");
}

TEST(EngineConfig, AnEmptyObjectGivesTheDefaults) {
  EngineConfig c = ParseEngineConfig(json::object());
  EXPECT_EQ(c.crm, "hubspot");
  EXPECT_EQ(c.hubspot.base_url, "https://api.hubapi.com");
  EXPECT_EQ(c.hubspot.token_secret, "KAM_HUBSPOT_TOKEN");
  EXPECT_EQ(c.default_policy, ConflictPolicy::kRespect);
  EXPECT_EQ(c.PolicyFor("kam_tier"), ConflictPolicy::kRespect);
  EXPECT_EQ(c.full_pull_after_days, 7);
  EXPECT_EQ(c.batch_size, 100);
}

TEST(EngineConfig, TheDocumentedExampleParses) {
  json j = json::parse(R"({
    "crm": "hubspot",
    "hubspot": {"base_url": "http://127.0.0.1:8080", "api_prefix": "v3",
                "token_secret": "KAM_MY_TOKEN", "tls": {"ca_file": "/etc/ca.pem", "insecure": false},
                "rate": {"window_share": 0.5, "daily_reserve_share": 0.2},
                "retry": {"max_attempts": 3}, "task_key_mode": "search_create"},
    "rules": "rules/key-accounts.json", "state": "/var/lib/kam/state.db",
    "conflicts": {"default": "respect", "fields": {"kam_tier": "report", "kam_score": "overwrite"}},
    "full_pull_after_days": 3, "facts": "changed"})");
  EngineConfig c = ParseEngineConfig(j);
  EXPECT_EQ(c.hubspot.base_url, "http://127.0.0.1:8080");
  EXPECT_EQ(c.hubspot.token_secret, "KAM_MY_TOKEN");
  EXPECT_EQ(c.hubspot.ca_file, "/etc/ca.pem");
  EXPECT_DOUBLE_EQ(c.hubspot.window_share, 0.5);
  EXPECT_EQ(c.hubspot.max_attempts, 3);
  EXPECT_EQ(c.hubspot.task_key_mode, "search_create");
  EXPECT_EQ(c.rules_path, "rules/key-accounts.json");
  EXPECT_EQ(c.state_path, "/var/lib/kam/state.db");
  EXPECT_EQ(c.PolicyFor("kam_tier"), ConflictPolicy::kReport);
  EXPECT_EQ(c.PolicyFor("kam_score"), ConflictPolicy::kOverwrite);
  EXPECT_EQ(c.PolicyFor("kam_breakdown"), ConflictPolicy::kRespect);
  EXPECT_EQ(c.full_pull_after_days, 3);
  EXPECT_EQ(c.facts, "changed");
}

TEST(EngineConfig, AnUnknownKeyIsNamedByItsPointer) {
  OpError e = ErrorOf(json::parse(R"({"hubspot": {"tls": {"cafile": "x"}}})"));
  EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.location(), "/hubspot/tls/cafile");
  EXPECT_NE(e.message().find("ca_file"), std::string::npos) << e.message();
  EXPECT_EQ(ErrorOf(json::parse(R"({"stat": "x.db"})")).location(), "/stat");
}

TEST(EngineConfig, WrongTypesAndValuesAreNamedByTheirPointer) {
  EXPECT_EQ(ErrorOf(json::parse(R"({"rules": 5})")).location(), "/rules");
  EXPECT_EQ(ErrorOf(json::parse(R"({"conflicts": {"fields": {"kam_tier": "ignore"}}})")).location(),
            "/conflicts/fields/kam_tier");
  EXPECT_EQ(ErrorOf(json::parse(R"({"crm": "zoho"})")).location(), "/crm");
  EXPECT_EQ(ErrorOf(json::parse(R"({"batch_size": 500})")).location(), "/batch_size");
  EXPECT_EQ(ErrorOf(json::parse(R"({"hubspot": {"rate": {"window_share": "all"}}})")).location(),
            "/hubspot/rate/window_share");
  EXPECT_EQ(ErrorOf(json::parse(R"([1, 2])")).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kam::engine

namespace kam::engine {
namespace {

TEST(EngineConfig, TheShippedExampleConfigParses) {
  std::ifstream in(KAM_EXAMPLE_CONFIG);
  ASSERT_TRUE(in) << KAM_EXAMPLE_CONFIG;
  EngineConfig c = ParseEngineConfig(nlohmann::json::parse(in));
  EXPECT_EQ(c.state_path, "/var/lib/kam/state.db");
  EXPECT_EQ(c.PolicyFor("kam_score"), ConflictPolicy::kOverwrite);
}

// The host passes the configuration file's folder as config_dir (kam --config FILE); the first
// wave refused that key, so every `kam --config kam.json sync` failed.
TEST(EngineConfig, RelativePathsResolveAgainstTheConfigFilesFolder) {
  EngineConfig c = ParseEngineConfig(nlohmann::json::parse(R"({
    "config_dir": "/etc/kam", "rules": "rules/key.json", "state": "state.db",
    "hubspot": {"tls": {"ca_file": "ca.pem"}}})"));
  EXPECT_EQ(c.rules_path, "/etc/kam/rules/key.json");
  EXPECT_EQ(c.state_path, "/etc/kam/state.db");
  EXPECT_EQ(c.hubspot.ca_file, "/etc/kam/ca.pem");
  EngineConfig absolute = ParseEngineConfig(nlohmann::json::parse(
      R"({"config_dir": "/etc/kam", "rules": "/srv/r.json", "state": "/var/lib/kam/s.db"})"));
  EXPECT_EQ(absolute.rules_path, "/srv/r.json");
  EXPECT_EQ(absolute.state_path, "/var/lib/kam/s.db");
}

}  // namespace
}  // namespace kam::engine

namespace kam::engine {
namespace {

class NullHost : public Host {
 public:
  void Log(int32_t, std::string_view) override {}
  void Progress(std::string_view, uint64_t, uint64_t) override {}
  std::optional<std::string> GetSecret(std::string_view) override { return std::nullopt; }
  bool IsCancelled() override { return false; }
};

StatusCode StatusOf(const char* op, const nlohmann::json& config, const nlohmann::json& request,
                    std::string* location = nullptr) {
  NullHost host;
  OpContext ctx{host, config};
  try {
    Operations().at(op)(ctx, request);
  } catch (const OpError& e) {
    if (location) *location = e.location();
    return e.code();
  }
  return StatusCode::kOk;
}

TEST(SyncOps, AreRegisteredAndImplemented) {
  for (const char* op : {"sync", "dry_run", "status", "provision", "report", "demo"}) {
    ASSERT_TRUE(Operations().count(op)) << op;
    EXPECT_FALSE(IsUnimplemented(Operations().at(op))) << op;
  }
}

TEST(SyncOps, ABadConfigIsAnInvalidArgumentNamingThePointer) {
  std::string where;
  EXPECT_EQ(StatusOf("sync", json::parse(R"({"bogus": 1})"), json::object(), &where),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(where, "/bogus");
}

TEST(SyncOps, AnUnknownRequestKeyIsAnInvalidArgument) {
  std::string where;
  EXPECT_EQ(StatusOf("sync", json::object(), json::parse(R"({"fulll": true})"), &where),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(where, "/fulll");
  EXPECT_EQ(StatusOf("report", json::object(), json::parse(R"({"html": 5})")),
            StatusCode::kInvalidArgument);
}

TEST(SyncOps, ASyncWithoutARuleFileSaysWhatToConfigure) {
  std::string where;
  EXPECT_EQ(StatusOf("sync", json::object(), json::object(), &where), StatusCode::kInvalidArgument);
  EXPECT_EQ(where, "/rules");
}

}  // namespace
}  // namespace kam::engine

namespace kam::engine {
namespace {

TEST(EngineConfig, TheSalesforceBlockParsesWithEveryKey) {
  EngineConfig c = ParseEngineConfig(nlohmann::json::parse(R"({
    "crm": "salesforce", "config_dir": "/etc/kam",
    "salesforce": {"login_url": "https://test.salesforce.com",
                   "instance_url": "https://acme--uat.sandbox.my.salesforce.com",
                   "api_version": "v62.0",
                   "auth": {"flow": "jwt", "client_id": "3MVG9abc", "username": "kam@acme.com",
                            "key_secret": "KAM_ACME_SF_KEY"},
                   "tls": {"ca_file": "ca.pem"}, "retry": {"max_attempts": 3},
                   "daily_reserve_share": 0.2, "max_connections": 2,
                   "task_key_mode": "query_insert",
                   "task_status": {"open": "Open", "completed": "Done"}}})"));
  EXPECT_EQ(c.crm, "salesforce");
  EXPECT_EQ(c.salesforce.login_url, "https://test.salesforce.com");
  EXPECT_EQ(c.salesforce.instance_url, "https://acme--uat.sandbox.my.salesforce.com");
  EXPECT_EQ(c.salesforce.api_version, "62.0");
  EXPECT_EQ(c.salesforce.auth_flow, "jwt");
  EXPECT_EQ(c.salesforce.client_id, "3MVG9abc");
  EXPECT_EQ(c.salesforce.username, "kam@acme.com");
  EXPECT_EQ(c.salesforce.key_secret, "KAM_ACME_SF_KEY");
  EXPECT_EQ(c.salesforce.ca_file, "/etc/kam/ca.pem");
  EXPECT_EQ(c.salesforce.max_attempts, 3);
  EXPECT_DOUBLE_EQ(c.salesforce.daily_reserve_share, 0.2);
  EXPECT_EQ(c.salesforce.max_connections, 2);
  EXPECT_EQ(c.salesforce.task_key_mode, "query_insert");
  EXPECT_EQ(c.salesforce.task_status_open, "Open");
  EXPECT_EQ(c.salesforce.task_status_completed, "Done");
}

TEST(EngineConfig, AnInstanceUrlAloneMeansAReadyAccessToken) {
  EngineConfig c = ParseEngineConfig(nlohmann::json::parse(
      R"({"crm": "salesforce", "salesforce": {"instance_url": "http://127.0.0.1:8443"}})"));
  EXPECT_EQ(c.salesforce.auth_flow, "access_token");
  EXPECT_EQ(c.salesforce.login_url, "");
  EXPECT_EQ(c.salesforce.token_secret, "KAM_SALESFORCE_TOKEN");
  EXPECT_EQ(c.salesforce.api_version, "67.0");
}

TEST(EngineConfig, SalesforceMistakesAreNamedByTheirPointer) {
  auto at = [](const char* text) { return ErrorOf(nlohmann::json::parse(text)).location(); };
  EXPECT_EQ(at(R"({"crm": "salesforce"})"), "/salesforce");
  EXPECT_EQ(
      at(R"({"crm": "salesforce", "salesforce": {"login_url": "https://login.salesforce.com"}})"),
      "/salesforce/auth/client_id");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"auth": {"client_id": "x"}}})"),
            "/salesforce/auth/username");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"auth": {"flow": "password",
               "client_id": "x"}}})"),
            "/salesforce/auth/flow");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"auth": {"flow": "access_token"}}})"),
            "/salesforce/instance_url");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"instance_url": "http://127.0.0.1:1",
               "api_version": "40.0"}})"),
            "/salesforce/api_version");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"instance_url": "http://127.0.0.1:1",
               "token_secret": "AWS_SECRET_ACCESS_KEY"}})"),
            "/salesforce/token_secret");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"auth": {"flow": "client_credentials",
               "client_id": "x", "client_secret_secret": "HOME"}}})"),
            "/salesforce/auth/client_secret_secret");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"login_url": "http://login.example.com",
               "auth": {"flow": "client_credentials", "client_id": "x"}}})"),
            "/salesforce/login_url");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"instance_url": "http://127.0.0.1:1",
               "task_key_mode": "search_create"}})"),
            "/salesforce/task_key_mode");
  EXPECT_EQ(at(R"({"crm": "salesforce", "salesforce": {"instance_url": "http://127.0.0.1:1",
               "sandbox": true}})"),
            "/salesforce/sandbox");
}

}  // namespace
}  // namespace kam::engine
