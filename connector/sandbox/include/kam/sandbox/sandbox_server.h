// The sandbox CRM: a local HTTP/1.1 server (Beast + SQLite) that speaks the HubSpot CRM subset of
// shared/CRM_API.md (objects, batch, search, properties, associations v4, owners, account info,
// OAuth token) — or, with crm = "salesforce", the Salesforce REST subset (OAuth, SOQL query,
// describe, sObjects, collections, Tooling CustomField, limits) — with seeded demo data, rate
// limits, fault injection and an admin API under /_sandbox/. Used by `kam sandbox serve`, `kam demo` and every integration test.
#ifndef KAM_SANDBOX_SANDBOX_SERVER_H_
#define KAM_SANDBOX_SANDBOX_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace kam::sandbox {

// How to run the server. Every field has a usable default.
struct SandboxOptions {
  // Which CRM to speak: "hubspot" (CRM_API section A) or "salesforce" (section B, see
  // connector/sandbox/README.md "Salesforce"). Both seed the same companies for a seed.
  std::string crm = "hubspot";
  std::string host = "127.0.0.1";  // loopback by default
  uint16_t port = 0;               // 0 = a free port chosen by the OS; see port()
  int accounts = 2000;             // seeded companies (0 = empty portal with owners only)
  uint64_t seed = 42;              // same seed + same base_time_ms -> same data
  std::string token = "sandbox-token";  // the only accepted Bearer token (besides OAuth ones)
  // SQLite file. Empty = an in-memory database. An existing file with data is reused as is
  // (not re-seeded).
  std::string db_path;
  // Ten-secondly style rolling window per token: at most rate_limit_max requests per
  // rate_limit_interval_ms. 0 = unlimited (headers still report a large Max).
  int rate_limit_max = 0;  // 0 = unlimited (headers then report Max 1,000,000)
  int rate_limit_interval_ms = 10000;
  int64_t daily_limit = 0;        // 0 = unlimited (headers report 100,000,000)
  int search_per_second = 5;      // search bucket (requests/s per token); 0 = unlimited
  // Fault spec, e.g. "429=0.05,500=0.02,503=0.02,drop=0.01,slow=0.01:2000,malformed=0.01,
  // partial=0.05,expired=0.01"; a rule may be limited to a route prefix with '@':
  // "500=0.5@/crm/v3/objects/companies/batch". Draws are seeded by `seed` and the request
  // sequence number, so the same request sequence gets the same faults. Empty = none.
  std::string faults;
  int latency_min_ms = 0;         // extra latency per response, uniform in [min, max]
  int latency_max_ms = 0;
  // Whether a property with hasUniqueValue=true may be created on tasks (CRM_API A10 leaves it
  // open). false -> POST /crm/v3/properties/tasks with hasUniqueValue:true answers 400.
  bool task_key_unique = true;
  int threads = 2;                // worker threads of the HTTP server
  // The time seeded timestamps are relative to (epoch ms, UTC). 0 = today's UTC midnight, so
  // data is identical for the same seed within one UTC day; tests that need byte-identical data
  // across days set it explicitly.
  int64_t base_time_ms = 0;
};

// Parses "100/10s", "100/10000ms", "5/1s" or "100" (per 10 s) into max + interval.
// Returns false (and leaves the outputs alone) on a malformed spec.
bool ParseRateLimit(const std::string& spec, int* max, int* interval_ms);
// Parses "A-B" or "A" (milliseconds) into a latency range. Returns false when malformed.
bool ParseLatency(const std::string& spec, int* min_ms, int* max_ms);

// Request counters since start (or the last reset).
struct SandboxCounters {
  uint64_t total = 0;
  std::map<std::string, uint64_t> by_route;  // "POST /crm/v3/objects/{type}/batch/read" style
  std::map<int, uint64_t> by_status;         // HTTP status -> count
  uint64_t rate_limited = 0;                 // 429s from the limiter (not injected faults)
  uint64_t faults_injected = 0;
};

// Result of Start(): the running server, or an error message saying what failed.
class SandboxServer;
struct StartResult {
  std::unique_ptr<SandboxServer> server;
  std::string error;
  bool ok() const { return server != nullptr; }
};

// A running sandbox. Thread-safe: every method may be called from any thread.
class SandboxServer {
 public:
  // Seeds (or opens) the database, binds, starts the worker threads and returns once the socket
  // is listening. Never throws.
  static StartResult Start(const SandboxOptions& options);

  ~SandboxServer();  // Stop()s
  SandboxServer(const SandboxServer&) = delete;
  SandboxServer& operator=(const SandboxServer&) = delete;

  std::string url() const;  // "http://127.0.0.1:<port>"
  uint16_t port() const;
  const SandboxOptions& options() const;

  // Stops accepting, closes connections and joins all threads. Idempotent.
  void Stop();

  SandboxCounters counters() const;
  std::string CountersJson() const;  // same as GET /_sandbox/counters

  // Replaces the fault spec at run time. Returns an error message, empty on success.
  std::string SetFaults(const std::string& spec);

  // The most requests answered at once (read, not yet answered; a delayed answer counts until
  // it is written) since the start or the last ResetMaxInFlight(): a client's concurrency.
  int MaxInFlight() const;
  void ResetMaxInFlight();

  struct Impl;

 private:
  explicit SandboxServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kam::sandbox

#endif  // KAM_SANDBOX_SANDBOX_SERVER_H_
