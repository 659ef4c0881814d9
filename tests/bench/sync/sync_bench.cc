// Benchmark: one full sync of N companies (default 100,000) with the example rule file against
// the sandbox CRM (in a child process, no rate limit). Prints time, API calls by route, peak RSS
// of the syncing process, and the calls against the minimum (list pages + write batches).
// Usage: kam_sync_bench [N] [SEED]
// KAM_BENCH_FACTS=changed: incremental facts; then it also times a re-sync with nothing changed
// (after the echo of the first sync's writes) and one with 1 % of the companies edited and
// 0.1 % of the deals won, and prints their API calls against the minimum (with its parts) and
// the sandbox's own count of their requests by route.
// KAM_BENCH_OVERLAP_MINUTES: the pull overlap (default 5; 0 makes syncs seconds apart honest).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "demo.h"
#include "kam/http/options.h"
#include "kam/hubspot/transport.h"
#include "kam/sandbox/sandbox_server.h"
#include "run_context.h"
#include "sync_engine.h"

namespace {

using nlohmann::json;

class BenchHost : public kam::engine::Host {
 public:
  void Log(int32_t level, std::string_view m) override {
    if (level >= 2) std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data());
  }
  void Progress(std::string_view, uint64_t, uint64_t) override {}
  std::optional<std::string> GetSecret(std::string_view) override { return "sandbox-token"; }
  bool IsCancelled() override { return false; }
};

json Get(const std::string& url, const std::string& target) {
  kam::http::ClientOptions o;
  o.base_url = url;
  o.rate_limit.enabled = false;
  auto t = kam::hubspot::MakeHttpTransport(o);
  kam::hubspot::HttpCall c;
  c.method = "GET";
  c.target = target;
  c.headers.push_back({"Authorization", "Bearer sandbox-token"});
  auto r = t.value()->Send(c);
  if (!r.ok()) throw std::runtime_error(r.error().ToString());
  return json::parse(r->body);
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 42;
  int fds[2];
  if (pipe(fds) != 0) return 1;
  int back[2];
  if (pipe(back) != 0) return 1;
  auto t_seed = std::chrono::steady_clock::now();
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    close(back[1]);
    kam::sandbox::SandboxOptions so;
    so.accounts = n;
    so.seed = seed;
    so.search_per_second = 0;
    auto s = kam::sandbox::SandboxServer::Start(so);
    if (!s.ok()) {
      std::fprintf(stderr, "sandbox: %s\n", s.error.c_str());
      _exit(1);
    }
    uint16_t port = s.server->port();
    if (write(fds[1], &port, sizeof port) != sizeof port) _exit(1);
    char c;
    while (read(back[0], &c, 1) > 0) {
    }
    s.server->Stop();
    _exit(0);
  }
  close(fds[1]);
  close(back[0]);
  uint16_t port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) return 1;
  double seed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_seed).count();
  std::string url = "http://127.0.0.1:" + std::to_string(port);

  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("kam-sync-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "rules.json");
    f << kam::engine::ExampleRules();
  }
  BenchHost host;
  kam::engine::SyncEngineOptions o;
  o.config.hubspot.base_url = url;
  o.config.hubspot.rate_enabled = false;
  o.config.hubspot.max_connections = 4;
  o.config.rules_path = (dir / "rules.json").string();
  o.config.state_path = (dir / "state.db").string();
  if (const char* f = std::getenv("KAM_BENCH_FACTS")) o.config.facts = f;
  if (const char* m = std::getenv("KAM_BENCH_OVERLAP_MINUTES")) {
    o.config.overlap_ms = std::atoll(m) * 60000;
  }
  kam::engine::SyncEngine engine(host, o);
  engine.Provision();
  // CPU seconds of this process (the syncing one; the sandbox runs in the child).
  auto cpu = [] {
    struct rusage r {};
    getrusage(RUSAGE_SELF, &r);
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  // CPU seconds of the sandbox child so far (utime + stime of /proc/PID/stat), -1 if unreadable.
  auto child_cpu = [child] {
    std::ifstream f("/proc/" + std::to_string(child) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return -1.0;
    std::istringstream fields(stat.substr(paren + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt: fields 3-13
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  };
  json before = Get(url, "/_sandbox/counters");
  const double child_cpu0 = child_cpu();
  const double cpu0 = cpu();
  auto t0 = std::chrono::steady_clock::now();
  json s = engine.Sync(true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_first = cpu() - cpu0;
  const double child_cpu1 = child_cpu();
  json after = Get(url, "/_sandbox/counters");
  const double cpu1 = cpu();
  auto t1 = std::chrono::steady_clock::now();
  json second = engine.Sync(false);
  double secs2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double cpu_second = cpu() - cpu1;
  const double child_cpu2 = child_cpu();
  json after2 = Get(url, "/_sandbox/counters");
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);

  json routes = json::object();
  int64_t total = 0;
  for (auto& [route, count] : after["by_route"].items()) {
    int64_t d = count.get<int64_t>() - before["by_route"].value(route, int64_t{0});
    if (d > 0) routes[route] = d;
    total += d;
  }
  int64_t tasks = s["tasks_created"].get<int64_t>();
  auto ceil100 = [](int64_t x) { return (x + 99) / 100; };
  // The minimum for "pages + batches": list pages, one batch update per 100 companies, and one
  // batch create per 100 tasks (the company association travels inline, CRM_API A6/A10).
  int64_t minimum_pull_push = ceil100(n) + ceil100(n) + ceil100(tasks);
  int64_t pull_push = 0;
  int64_t facts = 0;
  for (auto& [route, count] : routes.items()) {
    bool is_facts = route.find("/batch/read") != std::string::npos;
    (is_facts ? facts : pull_push) += count.get<int64_t>();
  }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
  json out = {
      {"companies", n},
      {"load_average_at_end", {load[0], load[1], load[2]}},
      {"seed_seconds", seed_s},
      {"full_sync_seconds", secs},
      {"full_sync_cpu_seconds", cpu_first},
      {"full_sync_sandbox_cpu_seconds", child_cpu1 - child_cpu0},
      {"companies_per_second", n / secs},
      {"api_calls", total},
      {"api_calls_pull_and_write", pull_push},
      {"minimum_pull_and_write", minimum_pull_push},
      {"overhead_pull_and_write_pct",
       100.0 * (pull_push - minimum_pull_push) / std::max<int64_t>(1, minimum_pull_push)},
      {"api_calls_facts_reads", facts},
      {"by_route", routes},
      {"tasks_created", tasks},
      {"phase_ms", s["phase_ms"]},
      {"peak_rss_mib", ru.ru_maxrss / 1024.0},
      {"second_sync_seconds", secs2},
      {"second_sync_cpu_seconds", cpu_second},
      {"second_sync_sandbox_cpu_seconds", child_cpu2 - child_cpu1},
      {"second_sync_fields_written", second["fields_written"]},
      {"second_sync_api_calls", after2["total"].get<int64_t>() - after["total"].get<int64_t>()}};
  if (o.config.facts == "changed") {
    // A re-sync with nothing changed, then 1 % of the companies edited and 0.1 % of deals won.
    auto timed = [&](const char* name) {
      json c0 = Get(url, "/_sandbox/counters");
      auto t = std::chrono::steady_clock::now();
      json r = engine.Sync(false);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      json c1 = Get(url, "/_sandbox/counters");
      json by_route = json::object();  // the sandbox's own count of this sync's requests
      for (auto& [route, count] : c1["by_route"].items()) {
        int64_t d = count.get<int64_t>() - c0["by_route"].value(route, int64_t{0});
        if (d > 0) by_route[route] = d;
      }
      out[name] = {{"seconds", seconds},
                   {"api_calls", r["api_calls"]},
                   {"sandbox_requests", c1["total"].get<int64_t>() - c0["total"].get<int64_t>()},
                   {"by_route", by_route},
                   {"minimum_calls", r["minimum_calls"]},
                   {"minimum_calls_detail", r["minimum_calls_detail"]},
                   {"calls_per_minimum", r["calls_per_minimum"]},
                   {"fields_written", r["fields_written"]},
                   {"write_batches", r["write_batches"]},
                   {"echoes", r["echoes"]},
                   {"fact_pages", r["fact_pages"]},
                   {"fact_records", r["fact_records"]},
                   {"fact_link_reads", r["fact_link_reads"]}};
    };
    timed("no_change_resync");
    kam::http::ClientOptions co;
    co.base_url = url;
    co.rate_limit.enabled = false;
    auto tr = kam::hubspot::MakeHttpTransport(co).value();
    auto send = [&](const std::string& method, const std::string& target, const json& body) {
      kam::hubspot::HttpCall c;
      c.method = method;
      c.target = target;
      c.body = body.dump();
      c.headers.push_back({"Authorization", "Bearer sandbox-token"});
      auto r = tr->Send(c);
      if (!r.ok()) throw std::runtime_error(r.error().ToString());
      return json::parse(r->body);
    };
    send("POST", "/_sandbox/touch", {{"type", "companies"}, {"count", std::max(1, n / 100)}});
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const int want = std::max(1, n * 3 / 1000);  // ~3 deals per company: 0.1 % of the deals
    int won = 0;
    std::string after;
    while (won < want) {
      json page = Get(url, "/crm/v3/objects/deals?limit=100&properties=dealstage" +
                               (after.empty() ? std::string() : "&after=" + after));
      for (const auto& d : page["results"]) {
        if (won >= want) break;
        std::string stage = d["properties"].value("dealstage", "");
        if (stage == "closedwon" || stage == "closedlost") continue;
        send("PATCH", "/crm/v3/objects/deals/" + d["id"].get<std::string>(),
             {{"properties",
               {{"dealstage", "closedwon"}, {"closedate", kam::engine::IsoUtc(now_ms)}}}});
        ++won;
      }
      if (!page.contains("paging")) break;
      after = page["paging"]["next"]["after"].get<std::string>();
    }
    out["deals_won"] = won;
    timed("one_percent_changed_resync");
  }
  close(back[1]);
  int st = 0;
  struct rusage child_ru {};
  wait4(child, &st, 0, &child_ru);
  // The sandbox's CPU over its whole life (seeding, both syncs and whatever ran after them).
  out["sandbox_cpu_seconds"] =
      static_cast<double>(child_ru.ru_utime.tv_sec + child_ru.ru_stime.tv_sec) +
      static_cast<double>(child_ru.ru_utime.tv_usec + child_ru.ru_stime.tv_usec) / 1e6;
  std::printf("%s\n", out.dump(2).c_str());
  std::filesystem::remove_all(dir);
  return 0;
}
