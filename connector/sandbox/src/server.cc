// The HTTP/1.1 front of the sandbox: a Beast acceptor and one session object per connection
// (keep-alive, read/write timeouts), running on `threads` io_context threads. Requests are handed
// to Api::Handle synchronously; delays (latency, slow faults) use timers, not sleeping workers.
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api.h"
#include "kam/sandbox/sandbox_server.h"

namespace kam::sandbox {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kBodyLimit = 32 * 1024 * 1024;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;

HttpRequest ToApiRequest(const http::request<http::string_body>& req) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  const std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  out.path = UrlDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      std::string_view part = query.substr(0, amp);
      if (!part.empty()) {
        const size_t eq = part.find('=');
        out.query.emplace_back(UrlDecode(part.substr(0, eq), true),
                               eq == std::string_view::npos ? std::string()
                                                            : UrlDecode(part.substr(eq + 1), true));
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  out.authorization = std::string(req[http::field::authorization]);
  out.content_type = std::string(req[http::field::content_type]);
  out.body = req.body();
  for (const auto& field : req) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string HttpDateNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// How many requests are being answered at once: from the request read to its answer written
// (delays included), the most since the last reset. Tests read it to see a client's concurrency.
struct InFlightGauge {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  void Enter() {
    const int v = ++now;
    int m = most.load();
    while (v > m && !most.compare_exchange_weak(m, v)) {
    }
  }
  void Leave() { --now; }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Api& api, InFlightGauge& gauge)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), api_(api), gauge_(gauge) {}
  ~Session() { Answered(); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);  // long SOQL queries travel in the request target
    stream_.expires_after(std::chrono::seconds(120));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      if (ec != http::error::end_of_stream) {
        // A malformed request gets a 400 when the socket is still usable; otherwise just close.
        if (ec == http::error::body_limit) {
          SendPlainError(http::status::payload_too_large, "Request body too large");
          return;
        }
      }
      Close();
      return;
    }
    const auto& req = parser_->get();
    counted_ = true;
    gauge_.Enter();
    keep_alive_ = req.keep_alive();
    HttpResponse r = api_.Handle(ToApiRequest(req));
    if (r.drop) {
      Close();
      return;
    }
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    for (auto& [name, value] : r.headers) res_.set(name, value);
    // Like every real server (RFC 9110 6.6.1): `kam doctor` compares it with the local clock.
    if (res_.find(http::field::date) == res_.end()) res_.set(http::field::date, HttpDateNow());
    res_.keep_alive(keep_alive_);
    if (r.status != 204 && r.status != 304) {
      res_.body() = std::move(r.body);
      res_.prepare_payload();
    }
    if (r.delay_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(r.delay_ms));
      timer_.async_wait(beast::bind_front_handler(&Session::OnDelay, shared_from_this()));
      return;
    }
    DoWrite();
  }

  void OnDelay(beast::error_code ec) {
    if (ec) {
      Close();
      return;
    }
    DoWrite();
  }

  void SendPlainError(http::status status, const std::string& message) {
    res_ = {};
    res_.version(11);
    res_.result(status);
    res_.set(http::field::content_type, "application/json;charset=utf-8");
    res_.body() = R"({"status":"error","message":")" + message +
                  R"(","correlationId":"00000000-0000-4000-8000-000000000000","category":"VALIDATION_ERROR"})";
    res_.keep_alive(false);
    keep_alive_ = false;
    res_.prepare_payload();
    DoWrite();
  }

  void DoWrite() {
    stream_.expires_after(std::chrono::seconds(120));
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void Answered() {
    if (!counted_) return;
    counted_ = false;
    gauge_.Leave();
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    Answered();
    if (ec || !keep_alive_) {
      Close();
      return;
    }
    DoRead();
  }

  void Close() {
    Answered();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool keep_alive_ = true;
  bool counted_ = false;  // a request read and not answered yet (counted in gauge_)
  Api& api_;
  InFlightGauge& gauge_;
};

}  // namespace

struct SandboxServer::Impl {
  SandboxOptions options;
  std::unique_ptr<Api> api;
  InFlightGauge in_flight;
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::mutex stop_mutex;
  bool stopped = false;

  void DoAccept() {
    acceptor->async_accept(net::make_strand(*ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      } else {
        beast::error_code opt_ec;
        s.set_option(tcp::no_delay(true), opt_ec);
        std::make_shared<Session>(std::move(s), *api, in_flight)->Run();
      }
      DoAccept();
    });
  }
};

SandboxServer::SandboxServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SandboxServer::~SandboxServer() { Stop(); }

StartResult SandboxServer::Start(const SandboxOptions& options) {
  StartResult result;
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string error;
  impl->api = Api::Create(options, &error);
  if (!impl->api) {
    result.error = "sandbox: cannot prepare the portal database: " + error;
    return result;
  }
  const int threads = options.threads > 0 ? options.threads : 1;
  try {
    impl->ioc = std::make_unique<net::io_context>(threads);
    const auto address = net::ip::make_address(options.host);
    const tcp::endpoint endpoint(address, options.port);
    impl->acceptor = std::make_unique<tcp::acceptor>(*impl->ioc);
    impl->acceptor->open(endpoint.protocol());
    impl->acceptor->set_option(net::socket_base::reuse_address(true));
    impl->acceptor->bind(endpoint);
    impl->acceptor->listen(net::socket_base::max_listen_connections);
    impl->port = impl->acceptor->local_endpoint().port();
  } catch (const std::exception& e) {
    result.error = "sandbox: cannot listen on " + options.host + ":" +
                   std::to_string(options.port) + ": " + e.what() +
                   " (choose another --host/--port, or port 0 for a free one)";
    return result;
  }
  impl->DoAccept();
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = impl->ioc.get()] { ioc->run(); });
  }
  result.server.reset(new SandboxServer(std::move(impl)));
  return result;
}

std::string SandboxServer::url() const {
  const std::string& host = impl_->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port);
}

uint16_t SandboxServer::port() const { return impl_->port; }

const SandboxOptions& SandboxServer::options() const { return impl_->options; }

void SandboxServer::Stop() {
  std::lock_guard<std::mutex> lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  net::post(*impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor->close(ec);
  });
  impl_->ioc->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
  // Destroying the io_context destroys pending handlers and with them every session (which
  // closes its socket) before the Api they point to goes away.
  impl_->acceptor.reset();
  impl_->ioc.reset();
}

SandboxCounters SandboxServer::counters() const { return impl_->api->Counters(); }

std::string SandboxServer::CountersJson() const { return impl_->api->CountersJson(); }

std::string SandboxServer::SetFaults(const std::string& spec) { return impl_->api->SetFaults(spec); }

int SandboxServer::MaxInFlight() const { return impl_->in_flight.most.load(); }

void SandboxServer::ResetMaxInFlight() { impl_->in_flight.most = impl_->in_flight.now.load(); }

}  // namespace kam::sandbox
