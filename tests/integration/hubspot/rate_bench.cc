// Benchmark (not run by ctest): a long full pull of companies against the sandbox with a
// ten-secondly limit (default 100/10s) and how much of the allowed rate the paced client uses.
// Usage: hubspot_rate_bench [--accounts N] [--rate 100/10s] [--share 0.97] [--search]
// --search pulls by search (the 5/s lane) instead of list paging.
// Prints requests, elapsed time, achieved and allowed rate, 429s and failed calls.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kam/hubspot/client.h"
#include "kam/sandbox/sandbox_server.h"

int main(int argc, char** argv) {
  int accounts = 20'000;
  std::string rate = "100/10s";
  double share = 0.97;
  bool search = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--accounts" && i + 1 < argc) accounts = std::atoi(argv[++i]);
    else if (a == "--rate" && i + 1 < argc) rate = argv[++i];
    else if (a == "--share" && i + 1 < argc) share = std::atof(argv[++i]);
    else if (a == "--search") search = true;
    else {
      std::fprintf(stderr, "usage: %s [--accounts N] [--rate 100/10s] [--share S] [--search]\n",
                   argv[0]);
      return 2;
    }
  }
  kam::sandbox::SandboxOptions so;
  so.accounts = accounts;
  if (!kam::sandbox::ParseRateLimit(rate, &so.rate_limit_max, &so.rate_limit_interval_ms)) {
    std::fprintf(stderr, "bad --rate %s\n", rate.c_str());
    return 2;
  }
  auto started = kam::sandbox::SandboxServer::Start(so);
  if (!started.ok()) {
    std::fprintf(stderr, "sandbox: %s\n", started.error.c_str());
    return 1;
  }
  auto& server = *started.server;

  kam::hubspot::HubSpotOptions o;
  o.http.base_url = server.url();
  o.http.rate_limit.window_share = share;
  o.http.rate_limit.initial_max = so.rate_limit_max;
  o.http.rate_limit.initial_interval = std::chrono::milliseconds(so.rate_limit_interval_ms);
  o.auth.get_secret = [&](std::string_view) -> std::optional<std::string> {
    return so.token;
  };
  auto created = kam::hubspot::HubSpotClient::Create(o);
  if (!created.ok()) {
    std::fprintf(stderr, "client: %s\n", created.error().ToString().c_str());
    return 1;
  }
  auto& client = *created;
  const auto counters_before = server.counters();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t companies = 0;
  kam::hubspot::PullOptions po;
  po.properties = {"name", "annualrevenue", "hubspot_owner_id", "industry"};
  std::vector<double> page_times;  // seconds since t0 at which each page (one request) arrived
  auto on_page = [&](const kam::hubspot::CompanyPage& p) -> kam::hubspot::Status {
    companies += static_cast<int64_t>(p.companies.size());
    page_times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return {};
  };
  auto r = search ? client->PullChangedCompanies(kam::hubspot::Cursor{}, po, on_page)
                  : client->PullAllCompanies(po, on_page);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto counters = server.counters();
  const uint64_t requests = counters.total - counters_before.total;
  const auto usage = client->Usage();
  const double allowed = so.rate_limit_max * 1000.0 / so.rate_limit_interval_ms;
  std::printf("pull: %s, %lld companies, %s\n", search ? "search" : "list",
              static_cast<long long>(companies), r.ok() ? "ok" : r.error().ToString().c_str());
  std::printf("requests %llu in %.1f s = %.2f req/s; allowed %.2f req/s (%.1f%%)\n",
              static_cast<unsigned long long>(requests), elapsed, requests / elapsed, allowed,
              100.0 * requests / elapsed / allowed);
  // The pull ends just after a window opens, which flatters requests / elapsed: the steady
  // rate is measured over the whole windows only (pages that arrived in them).
  const double interval_s = so.rate_limit_interval_ms / 1000.0;
  const int full_windows = static_cast<int>(elapsed / interval_s);
  if (full_windows > 0 && !search) {
    const double span = full_windows * interval_s;
    size_t in_span = 0;
    for (double t : page_times) in_span += t <= span ? 1 : 0;
    std::printf("steady: %zu requests in %d full windows (%.0f s) = %.2f req/s = %.1f%% of allowed\n",
                in_span, full_windows, span, in_span / span, 100.0 * in_span / span / allowed);
  }
  std::printf("429 from server %llu, client 429s %lld, retries %lld, failed calls %lld\n",
              static_cast<unsigned long long>(counters.rate_limited),
              static_cast<long long>(usage.rate_limited), static_cast<long long>(usage.retries),
              static_cast<long long>(usage.failed));
  std::printf("latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", usage.latency_p50_ms,
              usage.latency_p95_ms, usage.latency_p99_ms);
  return r.ok() && usage.failed == 0 ? 0 : 1;
}
