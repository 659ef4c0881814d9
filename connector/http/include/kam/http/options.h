// Configuration of kam::http::Client: TLS, timeouts, pool size, size limits, the rate limiter,
// the retry policy, and the hooks through which the client logs and learns of cancellation.
// Every field has a safe default; ClientOptions{.base_url = "https://api.hubapi.com"} just works.
#ifndef KAM_HTTP_OPTIONS_H_
#define KAM_HTTP_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kam/http/clock.h"

namespace kam::http {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
const char* ToString(LogLevel level);

// Receives every log line of the connector. Messages never contain Authorization headers,
// tokens or request bodies. May be called from any thread that calls the client, concurrently.
using LogHook = std::function<void(LogLevel level, std::string_view message)>;

// Polled before each attempt and at least every 50 ms while waiting (pacing, backoff, a free
// connection). Returning true makes the pending call fail with ErrorKind::kCancelled.
// In-flight socket operations are not interrupted (they are bounded by their timeouts).
using CancelHook = std::function<bool()>;

struct TlsOptions {
  // PEM file with the CA certificate(s) to trust instead of the system trust store (private CAs,
  // the test CA). Empty: the system store (SSL_CTX_set_default_verify_paths).
  std::string ca_file;
  // Skip certificate and hostname verification. Only accepted when the base URL host is a
  // loopback address (127.0.0.0/8, ::1, localhost); Client::Create refuses it otherwise.
  // Logged as a warning at creation.
  bool insecure = false;
};

// An HTTP proxy for https:// origins, reached with CONNECT (the TLS session runs end to end
// through the tunnel). Plain http:// is only allowed to loopback and never goes through a proxy.
struct ProxyOptions {
  // "http://[user:password@]host:port". Credentials are sent as Proxy-Authorization: Basic and
  // reported to ClientOptions::on_secret for redaction. Empty: HTTPS_PROXY, then https_proxy,
  // from the environment (when from_environment).
  std::string url;
  // Hosts reached directly, separated by commas or spaces: a name matches itself and its
  // subdomains ("example.com", ".example.com"), an IP literal matches itself, "*" matches all.
  // Empty: NO_PROXY, then no_proxy, from the environment (when from_environment).
  std::string no_proxy;
  bool from_environment = true;
};

struct Timeouts {
  std::chrono::milliseconds connect{10'000};  // DNS resolution + TCP connect
  std::chrono::milliseconds tls_handshake{10'000};
  std::chrono::milliseconds write{30'000};  // sending the whole request
  std::chrono::milliseconds read{60'000};   // receiving the whole response
  // Pooled keep-alive connections idle for longer are closed instead of reused.
  std::chrono::milliseconds idle{30'000};
};

struct RetryOptions {
  // Total attempts per call, first included (1 = never retry).
  int max_attempts = 5;
  // Backoff before retry n (n = 1, 2, ...): d = min(max_delay, initial_delay * multiplier^(n-1)),
  // then jitter: the wait is uniform in [d * (1 - jitter), d].
  std::chrono::milliseconds initial_delay{500};
  std::chrono::milliseconds max_delay{30'000};
  double multiplier = 2.0;
  double jitter = 0.5;
  // A Retry-After (delta seconds or an HTTP date) longer than this is not waited for: the call
  // fails with retry_after_ms set.
  std::chrono::milliseconds max_retry_after{120'000};
  // HTTP statuses retried for requests marked idempotent. 429 and 477 are also retried for
  // requests that are not (the server refused them without acting on them).
  std::vector<int> retry_statuses{429, 477, 500, 502, 503, 504};
  // The run's retry budget: at most budget_fixed + budget_per_call x (calls started) retries in
  // total (every retry of Send() plus those the caller asks for with Client::BackoffForRetry,
  // e.g. a malformed body or the failed inputs of a 207). Once spent, a call that would be
  // retried fails instead (retryable, retry_budget_spent): the run stops and the next run
  // resumes. Counted from creation or the last ResetCounters(). budget_fixed < 0 = unlimited.
  int64_t budget_fixed = 100;
  double budget_per_call = 0.25;
  // Seed of the jitter RNG (deterministic tests).
  uint64_t seed = 0x6b616d2d68747470ULL;
};

struct RateLimitOptions {
  bool enabled = true;
  // Pace the standard lane to this share of X-HubSpot-RateLimit-Max per interval.
  double window_share = 0.9;
  // Assumed window before the first rate-limit headers arrive (HubSpot Free/Starter: 100 / 10 s).
  // 0 = unpaced until headers are seen.
  int initial_max = 100;
  std::chrono::milliseconds initial_interval{10'000};
  // Part of the daily quota (X-HubSpot-RateLimit-Daily) left for the customer's other
  // integrations: once the estimated remaining calls reach the reserve, calls fail with
  // ErrorKind::kQuotaReserve. daily_reserve_calls >= 0 overrides daily_reserve_share.
  double daily_reserve_share = 0.10;
  int64_t daily_reserve_calls = -1;
  // The daily quota resets at midnight in the account's time zone; this is its UTC offset
  // (HubSpot account-info utcOffsetMilliseconds). Also settable later on the client.
  int64_t daily_reset_utc_offset_ms = 0;
  // The search lane (requests marked Lane::kSearch; their responses carry no headers):
  // at most search_per_second requests in any window of 1 s / window_share.
  int search_per_second = 5;
};

struct ClientOptions {
  // "https://api.hubapi.com" or "http://127.0.0.1:PORT", optionally with a path prefix that is
  // put before every request target ("http://host:port/prefix").
  std::string base_url;
  // Connections per origin kept alive, and the bound on requests in flight for the client.
  std::size_t max_connections = 4;
  // Responses with a larger body fail with ErrorKind::kResponseTooLarge (not retried).
  std::size_t max_response_bytes = std::size_t{32} << 20;
  std::string user_agent = "kam-addin/0.1";
  TlsOptions tls;
  Timeouts timeouts;
  RetryOptions retry;
  RateLimitOptions rate_limit;
  ProxyOptions proxy;
  LogHook log;                   // may be empty
  // Called with every secret the client learns besides request headers (the proxy password and
  // its Basic credentials), so that the caller can redact them (kam::http::Redactor). May be
  // empty.
  std::function<void(std::string_view secret)> on_secret;
  CancelHook cancelled;          // may be empty
  std::shared_ptr<Clock> clock;  // null = SystemClock()
};

}  // namespace kam::http

#endif  // KAM_HTTP_OPTIONS_H_
