// sandbox.serve: runs the local sandbox CRM (HubSpot, or Salesforce with "crm":"salesforce")
// (connector/sandbox) until the host cancels, logging "listening on <url>" once it accepts
// connections. The result reports the URL and the request counters.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include <nlohmann/json.hpp>

#include "kam/addin.h"
#include "kam/sandbox/sandbox_server.h"
#include "operation.h"

namespace kam::engine {
namespace {

using nlohmann::json;

// Reads an optional field of the request, naming it (as a JSON pointer) when the type is wrong.
template <typename T>
T Field(const json& request, const char* key, T fallback, const char* expected) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw OpError(StatusCode::kInvalidArgument,
                  std::string("sandbox.serve: \"") + key + "\" must be " + expected,
                  std::string("/") + key);
  }
}

sandbox::SandboxOptions ToOptions(const json& request) {
  if (!request.is_object()) {
    throw OpError(StatusCode::kInvalidArgument, "sandbox.serve: the request must be a JSON object");
  }
  sandbox::SandboxOptions o;
  o.crm = Field<std::string>(request, "crm", "hubspot", "\"hubspot\" or \"salesforce\"");
  if (o.crm != "hubspot" && o.crm != "salesforce") {
    throw OpError(StatusCode::kInvalidArgument,
                  "sandbox.serve: \"crm\" must be \"hubspot\" or \"salesforce\"", "/crm");
  }
  o.host = Field<std::string>(request, "host", "127.0.0.1", "a host address");
  const int64_t port = Field<int64_t>(request, "port", 0, "a port number");
  if (port < 0 || port > 65535) {
    throw OpError(StatusCode::kInvalidArgument, "sandbox.serve: \"port\" must be in 0..65535", "/port");
  }
  o.port = static_cast<uint16_t>(port);
  o.accounts = Field<int>(request, "accounts", 2000, "a number of companies");
  if (o.accounts < 0 || o.accounts > 2000000) {
    throw OpError(StatusCode::kInvalidArgument, "sandbox.serve: \"accounts\" must be in 0..2000000",
                  "/accounts");
  }
  o.seed = Field<uint64_t>(request, "seed", 42, "a non-negative integer");
  o.token = Field<std::string>(request, "token", "sandbox-token", "a string");
  if (o.token.empty()) {
    throw OpError(StatusCode::kInvalidArgument, "sandbox.serve: \"token\" must not be empty", "/token");
  }
  o.db_path = Field<std::string>(request, "db", "", "a file path");
  const std::string rate = Field<std::string>(request, "rate_limit", "", "a string like 100/10s");
  if (!rate.empty() &&
      !sandbox::ParseRateLimit(rate, &o.rate_limit_max, &o.rate_limit_interval_ms)) {
    throw OpError(StatusCode::kInvalidArgument,
                  "sandbox.serve: \"rate_limit\" must look like 100/10s, 100/10000ms or 100",
                  "/rate_limit");
  }
  o.daily_limit = Field<int64_t>(request, "daily_limit", 0, "a number of requests");
  o.search_per_second = Field<int>(request, "search_per_second", 5, "requests per second");
  o.faults = Field<std::string>(request, "faults", "", "a fault spec string");
  const std::string latency = Field<std::string>(request, "latency_ms", "", "a range like 5-20");
  if (!latency.empty() &&
      !sandbox::ParseLatency(latency, &o.latency_min_ms, &o.latency_max_ms)) {
    throw OpError(StatusCode::kInvalidArgument,
                  "sandbox.serve: \"latency_ms\" must look like 5-20 (milliseconds)",
                  "/latency_ms");
  }
  o.task_key_unique = Field<bool>(request, "task_key_unique", true, "true or false");
  o.threads = Field<int>(request, "threads", 2, "a number of threads");
  if (o.threads < 1 || o.threads > 64) {
    throw OpError(StatusCode::kInvalidArgument, "sandbox.serve: \"threads\" must be in 1..64", "/threads");
  }
  o.base_time_ms = Field<int64_t>(request, "base_time_ms", 0, "epoch milliseconds");
  return o;
}

json Serve(OpContext& ctx, const json& request) {
  const sandbox::SandboxOptions options = ToOptions(request);
  auto started = sandbox::SandboxServer::Start(options);
  if (!started.ok()) throw OpError(StatusCode::kUnavailable, started.error);
  auto& server = *started.server;
  const std::string url = server.url();
  ctx.host.Log(KAM_LOG_INFO, "listening on " + url);
  // Nothing signals cancellation to us: the host is polled about every 100 ms, waiting on a
  // condition variable rather than spinning.
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  while (!ctx.host.IsCancelled()) cv.wait_for(lock, std::chrono::milliseconds(100));
  server.Stop();
  return {{"url", url}, {"requests", json::parse(server.CountersJson())}};
}

}  // namespace

void RegisterSandboxOps(OpTable& table) { table["sandbox.serve"] = &Serve; }

}  // namespace kam::engine
