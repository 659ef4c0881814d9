// Helpers for the sync integration tests: a scripted Host, a temporary directory, a sandbox on a
// free loopback port, and a reader of the CRM's state (companies' kam_ fields, tasks) over the
// sandbox's HubSpot API.
#ifndef KAM_TESTS_INTEGRATION_SYNC_SYNC_TEST_UTIL_H_
#define KAM_TESTS_INTEGRATION_SYNC_SYNC_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "demo.h"
#include "kam/http/options.h"
#include "kam/hubspot/transport.h"
#include "kam/sandbox/sandbox_server.h"
#include "kam/store/store.h"
#include "operation.h"
#include "sync_engine.h"

namespace kam::testing {

using nlohmann::json;

class TestHost : public engine::Host {
 public:
  void Log(int32_t level, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    logs.emplace_back(level, std::string(message));
    if (verbose) std::fprintf(stderr, "[%d] %.*s\n", level, static_cast<int>(message.size()), message.data());
  }
  void Progress(std::string_view phase, uint64_t done, uint64_t total) override {
    std::lock_guard<std::mutex> lock(mu_);
    progress.push_back({std::string(phase), done, total});
    if (cancel_after_progress > 0 && static_cast<int>(progress.size()) >= cancel_after_progress) {
      cancelled = true;
    }
  }
  std::optional<std::string> GetSecret(std::string_view name) override {
    if (name == "KAM_HUBSPOT_TOKEN") return token;
    return std::nullopt;
  }
  bool IsCancelled() override { return cancelled.load(); }

  struct ProgressEvent {
    std::string phase;
    uint64_t done, total;
  };
  std::string token = "sandbox-token";
  std::vector<std::pair<int32_t, std::string>> logs;
  std::vector<ProgressEvent> progress;
  std::atomic<bool> cancelled{false};
  int cancel_after_progress = 0;
  bool verbose = false;

 private:
  std::mutex mu_;
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("kam-sync-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// A fixed base time so that every sandbox in a test run seeds the same data.
inline int64_t TestBaseTime() {
  static const int64_t t = [] {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return now - now % 86'400'000;
  }();
  return t;
}

inline std::unique_ptr<sandbox::SandboxServer> StartSandbox(int accounts, uint64_t seed = 7,
                                                            bool task_key_unique = true) {
  sandbox::SandboxOptions o;
  o.accounts = accounts;
  o.seed = seed;
  o.task_key_unique = task_key_unique;
  o.base_time_ms = TestBaseTime();
  o.search_per_second = 0;
  auto r = sandbox::SandboxServer::Start(o);
  if (!r.ok()) throw std::runtime_error("sandbox did not start: " + r.error);
  return std::move(r.server);
}

// The tests' own rule file (tests/integration/sync/test-rules.json), copied to `dir`.
inline std::string WriteRules(const std::filesystem::path& dir) {
  auto path = dir / "rules.json";
  std::filesystem::copy_file(KAM_SYNC_TEST_RULES, path);
  return path.string();
}

inline engine::SyncEngineOptions EngineOptions(const std::string& url,
                                               const std::filesystem::path& dir,
                                               const std::string& rules_path) {
  engine::SyncEngineOptions o;
  o.config.hubspot.base_url = url;
  o.config.hubspot.rate_enabled = false;
  o.config.hubspot.initial_delay_ms = 5;
  o.config.hubspot.max_delay_ms = 50;
  o.config.rules_path = rules_path;
  o.config.state_path = (dir / "state.db").string();
  return o;
}

// The sandbox's HubSpot API, as a person's tools would use it.
class CrmReader {
 public:
  explicit CrmReader(const std::string& url, std::string token = "sandbox-token")
      : token_(std::move(token)) {
    http::ClientOptions o;
    o.base_url = url;
    o.rate_limit.enabled = false;
    o.retry.initial_delay = std::chrono::milliseconds(5);
    auto t = hubspot::MakeHttpTransport(o);
    if (!t.ok()) throw std::runtime_error(t.error().ToString());
    transport_ = t.value();
  }

  json Call(const std::string& method, const std::string& target, const json& body = nullptr) {
    hubspot::HttpCall c;
    c.method = method;
    c.target = target;
    if (!body.is_null()) c.body = body.dump();
    c.headers.push_back({"Authorization", "Bearer " + token_});
    c.idempotent = method == "GET";
    auto r = transport_->Send(c);
    if (!r.ok()) throw std::runtime_error(method + " " + target + ": " + r.error().ToString());
    return r->body.empty() ? json::object() : json::parse(r->body);
  }

  // Every object of `type` with the given properties: id -> properties.
  std::map<std::string, json> All(const std::string& type, const std::string& properties) {
    std::map<std::string, json> out;
    std::string after;
    for (;;) {
      json page = Call("GET", "/crm/v3/objects/" + type + "?limit=100&properties=" + properties +
                                  (after.empty() ? "" : "&after=" + after));
      for (const auto& r : page["results"]) out[r["id"].get<std::string>()] = r["properties"];
      if (!page.contains("paging")) break;
      after = page["paging"]["next"]["after"].get<std::string>();
    }
    return out;
  }

  // The add-in's footprint: kam_ fields per company (kam_scored_at left out: it is a time) and
  // tasks by key (subject, status, owner) with the number of tasks per key.
  json Footprint() {
    json companies = json::object();
    for (auto& [id, p] : All("companies", "kam_score,kam_tier,kam_breakdown,kam_next_tier_hint,"
                                          "kam_rules_version")) {
      p.erase("hs_object_id");
      p.erase("createdate");
      p.erase("hs_lastmodifieddate");
      companies[id] = p;
    }
    json tasks = json::object();
    for (auto& [id, p] : All("tasks", "kam_task_key,hs_task_subject,hs_task_status,hubspot_owner_id")) {
      if (!p.contains("kam_task_key") || !p["kam_task_key"].is_string()) continue;
      std::string key = p["kam_task_key"].get<std::string>();
      json& t = tasks[key];
      t["count"] = (t.is_object() ? t.value("count", 0) : 0) + 1;
      t["subject"] = p.value("hs_task_subject", json(nullptr));
      t["status"] = p.value("hs_task_status", json(nullptr));
      t["owner"] = p.value("hubspot_owner_id", json(nullptr));
    }
    return {{"companies", companies}, {"tasks", tasks}};
  }

 private:
  std::string token_;
  std::shared_ptr<hubspot::Transport> transport_;
};

// Write calls the sandbox has answered so far (batch update/create/upsert, PATCH, POST create).
inline uint64_t WriteCalls(const sandbox::SandboxServer& server) {
  uint64_t n = 0;
  for (const auto& [route, count] : server.counters().by_route) {
    bool write = route.rfind("PATCH ", 0) == 0 || route.rfind("PUT ", 0) == 0 ||
                 route.rfind("DELETE ", 0) == 0 ||
                 (route.rfind("POST ", 0) == 0 && route.find("/search") == std::string::npos &&
                  route.find("/batch/read") == std::string::npos &&
                  route.find("/_sandbox") == std::string::npos);
    if (write) n += count;
  }
  return n;
}

}  // namespace kam::testing

#endif  // KAM_TESTS_INTEGRATION_SYNC_SYNC_TEST_UTIL_H_
