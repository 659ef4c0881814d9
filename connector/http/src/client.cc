// kam::http::Client on Boost.Beast + OpenSSL. The only translation unit of kam_http that includes
// Beast/Asio. Each pooled connection owns its io_context and is driven by the calling thread
// (asynchronous operations + run(), so that every step has a timeout); connections move
// between threads only through the pool, under its mutex.
#include "kam/http/client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "kam/http/rate_limiter.h"
#include "kam/http/retry.h"
#include "kam/http/url_policy.h"
#include "proxy.h"
#include "util.h"

namespace kam::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;

constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kMaxLatencySamples = 1'000'000;
constexpr auto kPollSlice = milliseconds(50);

bhttp::verb ToVerb(Method m) {
  switch (m) {
    case Method::kGet:
      return bhttp::verb::get;
    case Method::kPost:
      return bhttp::verb::post;
    case Method::kPut:
      return bhttp::verb::put;
    case Method::kPatch:
      return bhttp::verb::patch;
    case Method::kDelete:
      return bhttp::verb::delete_;
  }
  return bhttp::verb::get;
}

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// One keep-alive connection. Member order matters: streams die before their io_context.
struct Connection {
  net::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  TimePoint idle_since{};
  bool reused = false;

  beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Runs the io_context until the started operation completes (its own timeout bounds it).
  void Drive() {
    ioc.restart();
    ioc.run();
  }

  // True when the peer closed (or sent something unexpected) while the connection was idle.
  bool LooksDead() {
    if (!Tcp().socket().is_open()) return true;
    if (buffer.size() > 0) return true;
    pollfd p{};
    p.fd = Tcp().socket().native_handle();
    p.events = POLLIN;
    return ::poll(&p, 1, 0) != 0;
  }

  void Close() {
    beast::error_code ignored;
    // No TLS close_notify round trip: we never wait on a peer that may be gone.
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().socket().close(ignored);
  }
};

// Outcome of one attempt: a response of any status, or a transport error.
struct Attempt {
  std::optional<Response> response;
  Error error;
  bool sent_nothing = false;  // the request certainly did not reach the server
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
};

struct Target {
  internal::Url url;
  std::string path;  // prefix + target
};

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions o)
      : options(std::move(o)),
        clock(options.clock ? options.clock : SystemClock()),
        limiter(options.rate_limit),
        retry(options.retry),
        ssl_ctx(ssl::context::tls_client) {}

  ~Impl() {
    std::lock_guard lock(pool_mu);
    for (auto& [origin, conns] : idle) {
      for (auto& c : conns) c->Close();
    }
  }

  Status Init() {
    auto url = internal::ParseUrl(options.base_url);
    if (!url.ok()) return url.error();
    base = std::move(url.value());
    if (Status plain = CheckTransportSecurity(options.base_url); !plain.ok()) return plain;
    if (options.max_connections == 0) options.max_connections = 1;
    auto found_proxy = internal::ProxyFor(options.proxy);
    if (!found_proxy.ok()) return found_proxy.error();
    proxy = std::move(found_proxy.value());
    if (proxy && !proxy->authorization.empty() && options.on_secret) {
      options.on_secret(proxy->password);
      options.on_secret(proxy->user + ":" + proxy->password);
      options.on_secret(proxy->authorization.substr(6));  // the Basic credentials
    }

    SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
    ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3);
    beast::error_code ec;
    if (!options.tls.ca_file.empty()) {
      ssl_ctx.load_verify_file(options.tls.ca_file, ec);
      if (ec) {
        Error e;
        e.kind = ErrorKind::kInvalidArgument;
        e.message = "cannot load the CA file tls.ca_file='" + options.tls.ca_file +
                    "': " + ec.message() + "; give a readable PEM file with the CA certificate";
        return e;
      }
    } else if (SSL_CTX_set_default_verify_paths(ssl_ctx.native_handle()) != 1) {
      Log(LogLevel::kWarn,
          "could not load the system trust store; TLS connections will fail "
          "unless tls.ca_file is set");
    }
    ssl_ctx.set_verify_mode(ssl::verify_peer);

    if (options.tls.insecure) {
      if (!internal::IsLoopbackHost(base.host)) {
        Error e;
        e.kind = ErrorKind::kInvalidArgument;
        e.message = "tls.insecure is only allowed for loopback hosts, not '" + base.host +
                    "'; remove it and use tls.ca_file for a private CA";
        return e;
      }
      Log(LogLevel::kWarn, "TLS VERIFICATION IS OFF (tls.insecure) for " + base.Origin() +
                               ": certificates and host names are not checked; use this only "
                               "for local testing");
    }
    return Ok{};
  }

  void Log(LogLevel level, const std::string& message) {
    if (options.log) options.log(level, internal::RedactSecrets(message));
  }

  bool Cancelled() { return options.cancelled && options.cancelled(); }

  // Sleeps until `until` on the injected clock in slices, polling the cancel hook.
  bool SleepUntil(TimePoint until) {
    while (true) {
      if (Cancelled()) return false;
      TimePoint now = clock->Now();
      if (now >= until) return true;
      clock->SleepFor(std::min<Duration>(until - now, kPollSlice));
    }
  }

  Result<Target> ResolveTarget(const std::string& target) {
    Target t;
    if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
      std::size_t scheme_end = target.find("://") + 3;
      std::size_t slash = target.find('/', scheme_end);
      std::string origin = target.substr(0, slash);
      auto url = internal::ParseUrl(origin);
      if (!url.ok()) return url.error();
      t.url = std::move(url.value());
      t.path = slash == std::string::npos ? "/" : target.substr(slash);
      return t;
    }
    t.url = base;
    t.path = base.path_prefix;
    if (target.empty() || target.front() != '/') t.path += '/';
    t.path += target;
    return t;
  }

  // --- Pool ------------------------------------------------------------------------------------

  bool AcquireSlot() {
    std::unique_lock lock(pool_mu);
    while (in_flight >= options.max_connections) {
      if (Cancelled()) return false;
      slot_cv.wait_for(lock, kPollSlice);
    }
    ++in_flight;
    return true;
  }

  void ReleaseSlot() {
    {
      std::lock_guard lock(pool_mu);
      --in_flight;
    }
    slot_cv.notify_one();
  }

  std::unique_ptr<Connection> TakeIdle(const std::string& origin) {
    std::vector<std::unique_ptr<Connection>> dead;
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(pool_mu);
      auto it = idle.find(origin);
      if (it == idle.end()) return nullptr;
      auto& conns = it->second;
      TimePoint now = std::chrono::steady_clock::now();
      while (!conns.empty()) {
        auto c = std::move(conns.back());
        conns.pop_back();
        if (now - c->idle_since > options.timeouts.idle || c->LooksDead()) {
          dead.push_back(std::move(c));
          continue;
        }
        found = std::move(c);
        break;
      }
    }
    for (auto& c : dead) c->Close();
    if (found) found->reused = true;
    return found;
  }

  void GiveBack(const std::string& origin, std::unique_ptr<Connection> c) {
    c->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lock(pool_mu);
    auto& conns = idle[origin];
    if (conns.size() < options.max_connections) {
      conns.push_back(std::move(c));
    } else {
      c->Close();
    }
  }

  // --- One attempt -----------------------------------------------------------------------------

  Error TransportError(ErrorKind kind, const std::string& what) {
    Error e;
    e.kind = kind;
    e.message = what;
    return e;
  }

  // Opens a new connection: resolve + connect (connect timeout), TLS handshake (its timeout).
  Result<std::unique_ptr<Connection>> Open(const internal::Url& url) {
    auto c = std::make_unique<Connection>();
    const std::string where = url.Origin();
    // https:// origins go through the proxy unless NO_PROXY names them (ProxyOptions).
    const bool via_proxy = url.tls && proxy && !internal::BypassesProxy(url.host, proxy->no_proxy);
    const std::string& dial_host = via_proxy ? proxy->host : url.host;
    const std::string& dial_port = via_proxy ? proxy->port : url.port;
    // Resolve.
    tcp::resolver resolver(c->ioc);
    beast::error_code ec = net::error::would_block;
    tcp::resolver::results_type endpoints;
    bool done = false;
    resolver.async_resolve(dial_host, dial_port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    c->ioc.restart();
    c->ioc.run_for(options.timeouts.connect);
    if (!done) {
      resolver.cancel();
      c->ioc.run();
      return TransportError(ErrorKind::kTimeout,
                            "resolving " + dial_host + " timed out after " +
                                std::to_string(options.timeouts.connect.count()) +
                                " ms; check DNS or raise timeouts.connect");
    }
    if (ec) {
      return TransportError(ErrorKind::kConnection, "cannot resolve host '" + dial_host +
                                                        "': " + ec.message() +
                                                        "; check the base URL and DNS");
    }
    // Plain http only to loopback, judged on the resolved addresses (url_policy.h): a name
    // that now resolves elsewhere is refused before anything is sent.
    if (!url.tls) {
      for (const auto& endpoint : endpoints) {
        if (!IsLoopbackAddress(endpoint.endpoint().data())) {
          return TransportError(ErrorKind::kInvalidArgument,
                                "refusing plain http:// to " + where + ": '" + url.host +
                                    "' resolves to " + endpoint.endpoint().address().to_string() +
                                    ", which is not a loopback address; use https://");
        }
      }
    }
    // Connect.
    const bool insecure = options.tls.insecure && internal::IsLoopbackHost(url.host);
    if (url.tls) {
      c->tls.emplace(c->ioc, ssl_ctx);
    } else {
      c->plain.emplace(c->ioc);
    }
    c->Tcp().expires_after(options.timeouts.connect);
    ec = net::error::would_block;
    c->Tcp().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    c->Drive();
    if (ec == beast::error::timeout) {
      return TransportError(ErrorKind::kTimeout,
                            "connecting to " + where + " timed out after " +
                                std::to_string(options.timeouts.connect.count()) +
                                " ms; the CRM is unreachable, retry later or raise "
                                "timeouts.connect");
    }
    if (ec) {
      return TransportError(
          ErrorKind::kConnection,
          "cannot connect to " + (via_proxy ? "the proxy " + proxy->Display() : where) + ": " +
              ec.message() + "; check the base URL" + (via_proxy ? ", HTTPS_PROXY" : "") +
              " and network");
    }
    c->Tcp().socket().set_option(tcp::no_delay(true), ec);
    if (!url.tls) return c;
    if (via_proxy) {
      if (auto refused = Tunnel(*c, url)) return std::move(*refused);
    }

    // TLS: SNI and host name verification are set before the handshake.
    SSL* ssl_handle = c->tls->native_handle();
    if (insecure) {
      SSL_set_verify(ssl_handle, SSL_VERIFY_NONE, nullptr);
    } else {
      if (IsIpLiteral(url.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), url.host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
        SSL_set1_host(ssl_handle, url.host.c_str());
      }
    }
    if (!IsIpLiteral(url.host) && insecure) SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
    c->Tcp().expires_after(options.timeouts.tls_handshake);
    ec = net::error::would_block;
    c->tls->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    c->Drive();
    if (ec == beast::error::timeout) {
      return TransportError(ErrorKind::kTimeout,
                            "TLS handshake with " + where + " timed out after " +
                                std::to_string(options.timeouts.tls_handshake.count()) + " ms");
    }
    if (ec) {
      std::string detail = ec.message();
      long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK) {
        detail = std::string("certificate verification failed: ") +
                 X509_verify_cert_error_string(verify);
      }
      return TransportError(ErrorKind::kTls,
                            "TLS handshake with " + where + " failed: " + detail +
                                "; if the server uses a private CA, set tls.ca_file to its "
                                "certificate");
    }
    return c;
  }

  // HTTP CONNECT through the proxy on a connected socket; nullopt when the tunnel is open.
  std::optional<Error> Tunnel(Connection& c, const internal::Url& url) {
    const std::string request = internal::ConnectRequest(url, *proxy);
    beast::error_code ec = net::error::would_block;
    c.Tcp().expires_after(options.timeouts.connect);
    net::async_write(c.Tcp(), net::buffer(request), [&](beast::error_code e, std::size_t) {
      ec = e;
    });
    c.Drive();
    std::string head;
    if (!ec) {
      ec = net::error::would_block;
      c.Tcp().expires_after(options.timeouts.connect);
      net::async_read_until(c.Tcp(), net::dynamic_buffer(head, kHeaderLimit), "\r\n\r\n",
                            [&](beast::error_code e, std::size_t) { ec = e; });
      c.Drive();
    }
    const std::string via = "the proxy " + proxy->Display();
    if (ec) {
      return TransportError(ec == beast::error::timeout ? ErrorKind::kTimeout
                                                        : ErrorKind::kConnection,
                            "CONNECT " + url.host + ":" + url.port + " through " + via +
                                " failed: " + ec.message());
    }
    const int status = internal::ConnectStatus(head);
    if (status == 200) return std::nullopt;
    if (status == 407) {
      return TransportError(ErrorKind::kInvalidArgument,
                            via + " asks for credentials (HTTP 407)" +
                                (proxy->authorization.empty()
                                     ? ": put user:password@ into HTTPS_PROXY"
                                     : ": it refused the user and password of HTTPS_PROXY"));
    }
    return TransportError(ErrorKind::kConnection,
                          via + " refused CONNECT " + url.host + ":" + url.port + " (HTTP " +
                              std::to_string(status) + "); check HTTPS_PROXY and NO_PROXY");
  }

  Attempt Exchange(const Request& request, const Target& target) {
    Attempt out;
    const std::string origin = target.url.Origin();
    std::unique_ptr<Connection> c = TakeIdle(origin);
    if (!c) {
      auto opened = Open(target.url);
      {
        std::lock_guard lock(counters_mu);
        ++counters.connections_opened;
      }
      if (!opened.ok()) {
        out.error = std::move(opened.error());
        out.sent_nothing = true;
        return out;
      }
      c = std::move(opened.value());
    }

    bhttp::request<bhttp::string_body> req{ToVerb(request.method), target.path, 11};
    req.set(bhttp::field::host, target.url.HostHeader());
    req.set(bhttp::field::user_agent, options.user_agent);
    req.set(bhttp::field::accept, "application/json");
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty()) {
      req.set(bhttp::field::content_type, request.content_type);
      req.body() = request.body;
    }
    req.keep_alive(true);
    req.prepare_payload();

    const TimePoint started = std::chrono::steady_clock::now();
    beast::error_code ec = net::error::would_block;
    std::size_t written = 0;
    c->Tcp().expires_after(options.timeouts.write);
    auto on_write = [&](beast::error_code e, std::size_t n) {
      ec = e;
      written = n;
    };
    if (c->tls) {
      bhttp::async_write(*c->tls, req, on_write);
    } else {
      bhttp::async_write(*c->plain, req, on_write);
    }
    c->Drive();
    out.bytes_out = written;
    if (ec) {
      c->Close();
      if (ec == beast::error::timeout) {
        out.error = TransportError(ErrorKind::kTimeout,
                                   "sending the request to " + origin + " timed out after " +
                                       std::to_string(options.timeouts.write.count()) + " ms");
      } else {
        // A failed write means the peer was gone before it could read the whole request.
        out.error =
            TransportError(ErrorKind::kConnection, "the connection to " + origin +
                                                       " dropped while sending: " + ec.message());
        out.sent_nothing = true;
      }
      return out;
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    parser.header_limit(kHeaderLimit);
    std::size_t read = 0;
    ec = net::error::would_block;
    c->Tcp().expires_after(options.timeouts.read);
    auto on_read = [&](beast::error_code e, std::size_t n) {
      ec = e;
      read = n;
    };
    // Header first: Beast 1.74 does not apply body_limit to a Content-Length body, so the
    // declared length is checked here; chunked bodies are limited by the parser.
    if (c->tls) {
      bhttp::async_read_header(*c->tls, c->buffer, parser, on_read);
    } else {
      bhttp::async_read_header(*c->plain, c->buffer, parser, on_read);
    }
    c->Drive();
    out.bytes_in = read;
    if (!ec && parser.content_length() && *parser.content_length() > options.max_response_bytes) {
      ec = bhttp::error::body_limit;
    }
    if (!ec && !parser.is_done()) {
      ec = net::error::would_block;
      if (c->tls) {
        bhttp::async_read(*c->tls, c->buffer, parser, on_read);
      } else {
        bhttp::async_read(*c->plain, c->buffer, parser, on_read);
      }
      c->Drive();
      out.bytes_in += read;
    }
    if (ec) {
      c->Close();
      if (ec == bhttp::error::body_limit) {
        out.error =
            TransportError(ErrorKind::kResponseTooLarge,
                           "the response from " + origin + " is larger than max_response_bytes (" +
                               std::to_string(options.max_response_bytes) +
                               " bytes); request fewer records per page or raise the limit");
      } else if (ec == bhttp::error::header_limit) {
        out.error = TransportError(ErrorKind::kInvalidResponse,
                                   "the response headers from " + origin + " exceed 64 KiB");
      } else if (ec == beast::error::timeout) {
        out.error =
            TransportError(ErrorKind::kTimeout, "no complete response from " + origin + " within " +
                                                    std::to_string(options.timeouts.read.count()) +
                                                    " ms; the CRM is slow, retry later or raise "
                                                    "timeouts.read");
      } else {
        out.error = TransportError(ErrorKind::kConnection,
                                   "the connection to " + origin +
                                       " dropped before a complete response: " + ec.message() +
                                       (c->reused ? " (reused keep-alive connection)" : ""));
      }
      return out;
    }
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);

    auto& msg = parser.get();
    Response response;
    response.status = static_cast<int>(msg.result_int());
    response.latency = latency;
    for (const auto& field : msg) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    const bool keep = msg.keep_alive();
    response.body = std::move(msg.body());
    out.response = std::move(response);
    if (keep) {
      GiveBack(origin, std::move(c));
    } else {
      c->Close();
    }
    return out;
  }

  // --- Counters --------------------------------------------------------------------------------

  void CountAttempt(const std::string& endpoint, bool retry, const Attempt& a) {
    std::lock_guard lock(counters_mu);
    ++counters.requests;
    ++counters.requests_by_endpoint[endpoint];
    if (retry) ++counters.retries;
    counters.bytes_out += a.bytes_out;
    counters.bytes_in += a.bytes_in;
    if (a.response) {
      if (a.response->status == 429) ++counters.rate_limited;
      if (latencies_ms.size() < kMaxLatencySamples) {
        latencies_ms.push_back(static_cast<double>(a.response->latency.count()) / 1000.0);
      }
    } else if (a.error.kind == ErrorKind::kTimeout) {
      ++counters.timeouts;
    } else {
      ++counters.connection_errors;
    }
  }

  void CountCall(bool failed) {
    std::lock_guard lock(counters_mu);
    ++counters.calls;
    if (failed) ++counters.failed_calls;
  }

  // The run's retry budget: budget_fixed + budget_per_call x calls started.
  bool TakeRetryBudget() {
    std::lock_guard lock(counters_mu);
    const auto& r = options.retry;
    if (r.budget_fixed >= 0) {
      const double allowed = static_cast<double>(r.budget_fixed) +
                             std::max(0.0, r.budget_per_call) * static_cast<double>(calls_started);
      if (static_cast<double>(budget_used) + 1.0 > allowed) {
        ++counters.retry_budget_refusals;
        return false;
      }
    }
    ++budget_used;
    return true;
  }

  std::string BudgetText() {
    std::lock_guard lock(counters_mu);
    return std::to_string(budget_used) + " retries for " + std::to_string(calls_started) +
           " calls; retry.budget_fixed " + std::to_string(options.retry.budget_fixed) +
           " + retry.budget_per_call " + std::to_string(options.retry.budget_per_call) +
           " per call";
  }

  Status BackoffForRetry(int retry_number, int64_t retry_after_ms) {
    if (!TakeRetryBudget()) {
      Error e;
      e.kind = ErrorKind::kRetryBudget;
      e.retryable = true;
      e.retry_budget_spent = true;
      e.message = "the run's retry budget is spent (" + BudgetText() +
                  "); the CRM keeps failing: stop here, the next run resumes";
      Log(LogLevel::kWarn, e.message);
      return e;
    }
    {
      std::lock_guard lock(counters_mu);
      ++counters.retries;
    }
    const milliseconds delay = retry.Delay(retry_number, retry_after_ms);
    if (!SleepUntil(clock->Now() + delay)) {
      Error e;
      e.kind = ErrorKind::kCancelled;
      e.message = "cancelled by the host while waiting to retry";
      return e;
    }
    return Ok{};
  }

  Counters SnapshotCounters() {
    Counters out;
    std::vector<double> lat;
    {
      std::lock_guard lock(counters_mu);
      out = counters;
      lat = latencies_ms;
    }
    if (!lat.empty()) {
      auto pct = [&lat](double p) {
        auto idx = static_cast<std::size_t>(p * static_cast<double>(lat.size() - 1) + 0.5);
        std::nth_element(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(idx), lat.end());
        return lat[idx];
      };
      out.latency_p50_ms = pct(0.50);
      out.latency_p95_ms = pct(0.95);
      out.latency_p99_ms = pct(0.99);
    }
    out.daily_limit = limiter.DailyLimit();
    out.daily_remaining = limiter.DailyRemainingEstimate();
    out.window_max = limiter.LastSeenMax();
    out.window_interval_ms = out.window_max > 0 ? limiter.WindowIntervalMs() : -1;
    return out;
  }

  // --- The call --------------------------------------------------------------------------------

  Error Finish(Error e, const Request& request, const std::string& endpoint, const Target& target,
               int attempts) {
    e.method = ToString(request.method);
    e.endpoint = endpoint;
    e.attempts = attempts;
    std::string msg = endpoint + " on " + target.url.Origin() + ": " + e.message;
    if (attempts > 1) msg += " (after " + std::to_string(attempts) + " attempts)";
    switch (e.http_status) {
      case 401:
        msg += "; the access token is missing, wrong or expired";
        break;
      case 403:
        msg += "; the token lacks a required scope or permission";
        break;
      case 429:
        msg += e.policy_name == "DAILY" ? "; the daily API quota is spent, sync again tomorrow"
                                        : "; the CRM's rate limit was hit, retry later";
        break;
      default:
        break;
    }
    if (!e.correlation_id.empty()) msg += " [correlation id " + e.correlation_id + "]";
    e.message = internal::RedactSecrets(msg);
    // The CRM's own text and body are copied on by callers: they leave redacted too.
    e.crm_message = internal::RedactSecrets(e.crm_message);
    e.body = internal::RedactSecrets(e.body);
    CountCall(true);
    // Client errors are often expected by the caller (a 404 while provisioning, a 409 for a
    // task key that exists after a lost answer), which reports the ones that matter: debug only,
    // so that an admin's default output is not full of "HTTP 409 CONFLICT" that changed nothing.
    const bool expected = e.kind == ErrorKind::kCancelled ||
                          (e.http_status >= 400 && e.http_status < 500 && e.http_status != 429);
    Log(expected ? LogLevel::kDebug : LogLevel::kWarn, e.message);
    return e;
  }

  Result<Response> Send(const Request& request) {
    const std::string endpoint =
        request.endpoint.empty()
            ? internal::EndpointTemplate(ToString(request.method), request.target)
            : request.endpoint;
    auto target_or = ResolveTarget(request.target);
    if (!target_or.ok()) {
      Error e = target_or.error();
      e.method = ToString(request.method);
      e.endpoint = endpoint;
      CountCall(true);
      return e;
    }
    const Target& target = target_or.value();
    {
      std::lock_guard lock(counters_mu);
      ++calls_started;
    }
    auto cancelled = [&](int attempts) {
      return Finish(TransportError(ErrorKind::kCancelled, "cancelled by the host"), request,
                    endpoint, target, attempts);
    };

    int attempt = 0;
    while (true) {
      if (Cancelled()) return cancelled(attempt);
      // A connection slot first, then pacing: the grant time is then close to the send time,
      // so our window never expires a request before the server's does.
      if (!AcquireSlot()) return cancelled(attempt);
      struct SlotGuard {
        Impl* impl;
        ~SlotGuard() { impl->ReleaseSlot(); }
      };
      Attempt a;
      TimePoint sent_at;
      {
        SlotGuard guard{this};
        while (true) {
          auto d = limiter.TryAcquire(request.lane, clock->Now());
          if (d.verdict == RateLimiter::Verdict::kGo) break;
          if (d.verdict == RateLimiter::Verdict::kQuotaReserve) {
            {
              std::lock_guard lock(counters_mu);
              ++counters.quota_refusals;
            }
            Error e;
            e.kind = ErrorKind::kQuotaReserve;
            e.message = "not sent: only the reserved share of the daily API quota is left (" +
                        std::to_string(limiter.DailyRemainingEstimate()) + " of " +
                        std::to_string(limiter.DailyLimit()) + " calls, reserve " +
                        std::to_string(limiter.DailyReserve()) +
                        "); it is kept for the account's other integrations, sync again after "
                        "the daily reset or lower rate_limit.daily_reserve";
            return Finish(std::move(e), request, endpoint, target, attempt);
          }
          if (!SleepUntil(d.not_before)) return cancelled(attempt);
        }
        ++attempt;
        sent_at = clock->Now();
        a = Exchange(request, target);
      }
      CountAttempt(endpoint, attempt > 1, a);

      Error err;
      if (a.response) {
        Response& r = *a.response;
        const RateLimitInfo info = RateLimitInfo::FromHeaders(r.headers);
        if (r.status >= 200 && r.status < 300) {
          limiter.OnResponse(request.lane, info, r.status, {}, -1, sent_at, clock->Now());
          r.attempts = attempt;
          CountCall(false);
          if (options.log) {
            Log(LogLevel::kDebug, endpoint + " -> " + std::to_string(r.status) + " in " +
                                      std::to_string(r.latency.count() / 1000) + " ms");
          }
          return std::move(r);
        }
        err = ErrorFromResponse(r.status, r.body, r.CorrelationId());
        if (auto ra = internal::ParseRetryAfterMs(r.Header("Retry-After"), clock->WallNow())) {
          err.retry_after_ms = *ra;
        }
        limiter.OnResponse(request.lane, info, r.status, err.policy_name, err.retry_after_ms,
                           sent_at, clock->Now());
        if (r.status == 429 && err.retry_after_ms < 0 && err.policy_name != "DAILY") {
          // No Retry-After on HubSpot 429s: the estimate is the window the limiter now waits.
          err.retry_after_ms = request.lane == Lane::kSearch || err.policy_name == "SECONDLY"
                                   ? 1000
                                   : limiter.WindowIntervalMs();
        }
      } else {
        err = std::move(a.error);
      }
      err.retryable = retry.IsRetryableError(err);
      // Sent and maybe applied, with no usable answer: a write's outcome is unknown.
      err.outcome_unknown = !a.sent_nothing && (err.kind == ErrorKind::kTimeout ||
                                                err.kind == ErrorKind::kConnection ||
                                                (err.http_status >= 500 && err.http_status != 0));
      bool retry_it = retry.ShouldRetry(err, request.idempotent, attempt, a.sent_nothing);
      if (retry_it && !TakeRetryBudget()) {
        retry_it = false;
        err.retry_budget_spent = true;
        err.message += "; not retried: the run's retry budget is spent (" + BudgetText() +
                       "), the next run resumes";
      }
      if (!retry_it) {
        if (err.retryable && !request.idempotent && !a.sent_nothing &&
            (err.kind == ErrorKind::kTimeout || err.kind == ErrorKind::kConnection ||
             err.http_status >= 500)) {
          err.message +=
              "; not retried because the request is not safe to repeat (its outcome "
              "is unknown)";
        }
        return Finish(std::move(err), request, endpoint, target, attempt);
      }
      const milliseconds delay = retry.Delay(attempt, err.retry_after_ms);
      Log(LogLevel::kInfo, endpoint + ": " + err.message + "; retry " + std::to_string(attempt) +
                               " in " + std::to_string(delay.count()) + " ms");
      if (!SleepUntil(clock->Now() + delay)) return cancelled(attempt);
    }
  }

  ClientOptions options;
  std::shared_ptr<Clock> clock;
  RateLimiter limiter;
  RetryPolicy retry;
  ssl::context ssl_ctx;
  internal::Url base;
  std::optional<internal::Proxy> proxy;

  std::mutex pool_mu;
  std::condition_variable slot_cv;
  std::size_t in_flight = 0;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

  std::mutex counters_mu;
  Counters counters;
  std::vector<double> latencies_ms;
  uint64_t calls_started = 0;  // for the retry budget, since the last ResetCounters()
  uint64_t budget_used = 0;
};

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  try {
    auto impl = std::make_unique<Impl>(std::move(options));
    Status s = impl->Init();
    if (!s.ok()) return s.error();
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::exception& ex) {
    Error e;
    e.kind = ErrorKind::kInternal;
    e.message = std::string("cannot create the HTTP client: ") + ex.what();
    return e;
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<Response> Client::Send(const Request& request) {
  try {
    return impl_->Send(request);
  } catch (const std::exception& ex) {
    Error e;
    e.kind = ErrorKind::kInternal;
    e.method = ToString(request.method);
    e.endpoint = internal::EndpointTemplate(e.method, request.target);
    e.message = e.endpoint + ": unexpected failure in the HTTP client: " + ex.what();
    impl_->CountCall(true);
    return e;
  }
}

Counters Client::Snapshot() const { return impl_->SnapshotCounters(); }

void Client::ResetCounters() {
  std::lock_guard lock(impl_->counters_mu);
  impl_->counters = Counters{};
  impl_->latencies_ms.clear();
  impl_->calls_started = 0;
  impl_->budget_used = 0;
}

Status Client::BackoffForRetry(int retry, int64_t retry_after_ms) {
  return impl_->BackoffForRetry(retry, retry_after_ms);
}

void Client::SetDailyResetUtcOffset(int64_t offset_ms) {
  impl_->limiter.SetDailyResetUtcOffset(offset_ms, impl_->clock->Now());
}

const ClientOptions& Client::options() const { return impl_->options; }

}  // namespace kam::http
