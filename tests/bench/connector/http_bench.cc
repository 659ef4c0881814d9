// Requests per second of small JSON POSTs through kam::http::Client: keep-alive pool, N caller
// threads, rate limiting off. By default against an in-process Beast server on 127.0.0.1 port 0;
// with --url against any server (e.g. `kam sandbox serve`, then --path and --token).
// Prints each run and the median of --runs runs.
//
//   kam_http_bench [--runs 5] [--requests 20000] [--threads 4] [--url URL --path P --token T]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kam/http/client.h"
#include "test_server.h"

namespace {

struct Args {
  int runs = 5;
  int requests = 20000;
  int threads = 4;
  std::string url;
  std::string path = "/crm/v3/objects/companies/batch/read";
  std::string token;
  std::string body = R"({"properties":["name","domain"],"inputs":[{"id":"1"},{"id":"2"}]})";
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--runs")
      a.runs = std::atoi(v.c_str());
    else if (k == "--requests")
      a.requests = std::atoi(v.c_str());
    else if (k == "--threads")
      a.threads = std::atoi(v.c_str());
    else if (k == "--url")
      a.url = v;
    else if (k == "--path")
      a.path = v;
    else if (k == "--token")
      a.token = v;
    else if (k == "--body")
      a.body = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  a.runs = std::max(1, a.runs);
  a.threads = std::max(1, a.threads);
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kam::http;
  Args args = Parse(argc, argv);

  std::unique_ptr<testing::TestServer> server;
  std::string url = args.url;
  if (url.empty()) {
    const std::string reply_body =
        R"({"status":"COMPLETE","results":[{"id":"1","properties":{"name":"Acme"}}],)"
        R"("startedAt":"2024-05-01T10:00:00.000Z","completedAt":"2024-05-01T10:00:00.120Z"})";
    server = std::make_unique<testing::TestServer>([reply_body](const testing::ServerRequest&) {
      testing::ServerReply r;
      r.body = reply_body;
      return r;
    });
    url = server->url();
  }

  std::vector<double> rates;
  for (int run = 0; run < args.runs; ++run) {
    ClientOptions o;
    o.base_url = url;
    o.max_connections = static_cast<std::size_t>(args.threads);
    o.rate_limit.enabled = false;
    auto created = Client::Create(o);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.error().message.c_str());
      return 1;
    }
    Client& client = *created.value();
    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < args.threads; ++t) {
      threads.emplace_back([&] {
        Request req;
        req.method = Method::kPost;
        req.target = args.path;
        req.body = args.body;
        req.idempotent = true;
        if (!args.token.empty()) req.headers.push_back(BearerAuth(args.token));
        while (next.fetch_add(1) < args.requests) {
          auto r = client.Send(req);
          if (!r.ok()) {
            if (failed.fetch_add(1) == 0) std::fprintf(stderr, "%s\n", r.error().message.c_str());
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Counters c = client.Snapshot();
    double rate = args.requests / secs;
    rates.push_back(rate);
    std::printf(
        "run %d: %d requests in %.3f s = %.0f req/s, failed %d, connections %llu, "
        "p50 %.3f ms, p99 %.3f ms\n",
        run + 1, args.requests, secs, rate, failed.load(),
        static_cast<unsigned long long>(c.connections_opened), c.latency_p50_ms, c.latency_p99_ms);
    if (failed.load() > 0) return 1;
  }
  std::sort(rates.begin(), rates.end());
  std::printf("median of %d runs: %.0f requests/s (%d threads, %s)\n", args.runs,
              rates[rates.size() / 2], args.threads, server ? "in-process server" : url.c_str());
  return 0;
}
