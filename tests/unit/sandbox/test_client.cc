// Synchronous Beast client for the sandbox tests (see test_client.h).
#include "test_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kam::sandbox::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct TestClient::Conn {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;
};

TestClient::TestClient(uint16_t port, std::string token)
    : port_(port), token_(std::move(token)), conn_(std::make_unique<Conn>()) {}

TestClient::~TestClient() {
  beast::error_code ec;
  conn_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

Reply TestClient::Call(const std::string& method, const std::string& target,
                       const std::string& body, const std::string& content_type) {
  Reply reply;
  {
    beast::error_code ec;
    if (!conn_->open) {
      conn_ = std::make_unique<Conn>();
      conn_->stream.expires_after(std::chrono::seconds(30));
      conn_->stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
      if (ec) return reply;
      conn_->open = true;
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, "application/json, */*;q=0.8");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    for (const auto& [name, value] : extra_headers_) req.set(name, value);
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    conn_->stream.expires_after(std::chrono::seconds(30));
    http::write(conn_->stream, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(conn_->stream, conn_->buffer, res, ec);
    if (ec) {  // dropped or failed: status 0, next call reconnects (no retry here)
      conn_->open = false;
      return reply;
    }
    reply.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = std::string(f.value());
    }
    reply.body = res.body();
    if (!res.keep_alive()) conn_->open = false;
  }
  return reply;
}

}  // namespace kam::sandbox::testing
