// kam::http::Client against the sandbox CRM (kam::sandbox::SandboxServer, in-process on
// 127.0.0.1 port 0). Two measurements:
//   throughput: batch reads (10 ids each) with no sandbox rate limit; median of --runs runs.
//   pacing:     a long paged pull of companies with the sandbox limited to --max per
//               --interval-ms; reports the share of the allowed rate used, 429s and failures.
//
//   kam_http_sandbox_bench throughput [--runs 5] [--requests 5000] [--threads 4]
//   kam_http_sandbox_bench pacing [--seconds 60] [--max 100] [--interval-ms 10000]
//                                 [--share 0.97] [--threads 4]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "kam/http/client.h"
#include "kam/http/json_body.h"
#include "kam/sandbox/sandbox_server.h"

namespace {

using kam::http::Client;
using kam::http::ClientOptions;
using kam::http::Method;
using kam::http::Request;

struct Args {
  std::string mode = "throughput";
  int runs = 5;
  int requests = 5000;
  int threads = 4;
  int seconds = 60;
  int max = 100;
  int interval_ms = 10000;
  double share = 0.97;
};

Args Parse(int argc, char** argv) {
  Args a;
  int i = 1;
  if (argc > 1 && argv[1][0] != '-') a.mode = argv[i++];
  for (; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--runs")
      a.runs = std::atoi(v.c_str());
    else if (k == "--requests")
      a.requests = std::atoi(v.c_str());
    else if (k == "--threads")
      a.threads = std::atoi(v.c_str());
    else if (k == "--seconds")
      a.seconds = std::atoi(v.c_str());
    else if (k == "--max")
      a.max = std::atoi(v.c_str());
    else if (k == "--interval-ms")
      a.interval_ms = std::atoi(v.c_str());
    else if (k == "--share")
      a.share = std::atof(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  a.threads = std::max(1, a.threads);
  a.runs = std::max(1, a.runs);
  return a;
}

std::unique_ptr<kam::sandbox::SandboxServer> StartSandbox(int max, int interval_ms) {
  kam::sandbox::SandboxOptions so;
  so.accounts = 2000;
  so.rate_limit_max = max;
  so.rate_limit_interval_ms = interval_ms;
  so.threads = 2;
  auto started = kam::sandbox::SandboxServer::Start(so);
  if (!started.ok()) {
    std::fprintf(stderr, "sandbox: %s\n", started.error.c_str());
    std::exit(1);
  }
  return std::move(started.server);
}

Request Auth(Request r, const std::string& token) {
  r.headers.push_back(kam::http::BearerAuth(token));
  return r;
}

int Throughput(const Args& args) {
  auto sandbox = StartSandbox(0, 10000);
  const std::string token = sandbox->options().token;
  std::vector<double> rates;
  for (int run = 0; run < args.runs; ++run) {
    ClientOptions o;
    o.base_url = sandbox->url();
    o.max_connections = static_cast<std::size_t>(args.threads);
    auto created = Client::Create(o);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.error().message.c_str());
      return 1;
    }
    Client& client = *created.value();
    // Ids to read: the first page of companies.
    Request list;
    list.target = "/crm/v3/objects/companies?limit=10";
    list.idempotent = true;
    auto page = client.Send(Auth(list, token));
    if (!page.ok()) {
      std::fprintf(stderr, "%s\n", page.error().message.c_str());
      return 1;
    }
    auto json = kam::http::ParseJsonBody(page.value());
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& r : json.value()["results"]) inputs.push_back({{"id", r["id"]}});
    const std::string body =
        nlohmann::json{{"inputs", inputs}, {"properties", {"name", "domain"}}}.dump();
    client.ResetCounters();

    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < args.threads; ++t) {
      threads.emplace_back([&] {
        Request req;
        req.method = Method::kPost;
        req.target = "/crm/v3/objects/companies/batch/read";
        req.body = body;
        req.idempotent = true;
        req = Auth(req, token);
        while (next.fetch_add(1) < args.requests) {
          auto r = client.Send(req);
          if (!r.ok() && failed.fetch_add(1) == 0) {
            std::fprintf(stderr, "%s\n", r.error().message.c_str());
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto c = client.Snapshot();
    rates.push_back(args.requests / secs);
    std::printf(
        "run %d: %d batch reads in %.3f s = %.0f req/s, failed %d, p50 %.3f ms, "
        "p99 %.3f ms\n",
        run + 1, args.requests, secs, args.requests / secs, failed.load(), c.latency_p50_ms,
        c.latency_p99_ms);
    if (failed.load() > 0) return 1;
  }
  std::sort(rates.begin(), rates.end());
  std::printf("median of %d runs: %.0f batch reads/s against the sandbox (%d threads)\n", args.runs,
              rates[rates.size() / 2], args.threads);
  return 0;
}

int Pacing(const Args& args) {
  auto sandbox = StartSandbox(args.max, args.interval_ms);
  const std::string token = sandbox->options().token;
  ClientOptions o;
  o.base_url = sandbox->url();
  o.max_connections = static_cast<std::size_t>(args.threads);
  o.rate_limit.window_share = args.share;
  o.rate_limit.initial_max = args.max;
  o.rate_limit.initial_interval = std::chrono::milliseconds(args.interval_ms);
  auto created = Client::Create(o);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return 1;
  }
  Client& client = *created.value();
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::atomic<int> sent{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(args.seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < args.threads; ++t) {
    threads.emplace_back([&] {
      std::string after;
      while (!stop && std::chrono::steady_clock::now() < end) {
        Request req;
        req.target = "/crm/v3/objects/companies?limit=100&properties=name,domain";
        if (!after.empty()) req.target += "&after=" + after;
        req.idempotent = true;
        auto r = client.Send(Auth(req, token));
        if (!r.ok()) {
          if (failed.fetch_add(1) == 0) std::fprintf(stderr, "%s\n", r.error().message.c_str());
          continue;
        }
        ++sent;
        auto json = kam::http::ParseJsonBody(r.value());
        after.clear();
        if (json.ok() && json.value().contains("paging")) {
          after = json.value()["paging"]["next"]["after"].get<std::string>();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double allowed = args.max * secs * 1000.0 / args.interval_ms;
  auto c = client.Snapshot();
  auto sc = sandbox->counters();
  std::printf(
      "pacing: %d requests in %.1f s with the sandbox at %d/%d ms (share %.2f): "
      "%.1f%% of the allowed rate, 429s %llu (sandbox limiter %llu), failed %d\n",
      sent.load(), secs, args.max, args.interval_ms, args.share, 100.0 * sent.load() / allowed,
      static_cast<unsigned long long>(c.rate_limited),
      static_cast<unsigned long long>(sc.rate_limited), failed.load());
  return failed.load() == 0 && c.rate_limited == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  if (args.mode == "throughput") return Throughput(args);
  if (args.mode == "pacing") return Pacing(args);
  std::fprintf(stderr, "mode must be throughput or pacing\n");
  return 2;
}
