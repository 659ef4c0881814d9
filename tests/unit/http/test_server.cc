// The kam_http test server (see test_server.h). Synchronous Beast, one thread per connection;
// stopping shuts every socket down so blocked reads return, then joins the threads.
#include "test_server.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

namespace kam::http::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct TestServer::Impl {
  ServerHandler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<ssl::context> ssl_ctx;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<int> connections{0};
  std::atomic<int> requests{0};
  std::atomic<int> closed{0};
  std::thread accept_thread;
  std::mutex mu;
  std::condition_variable stop_cv;
  std::vector<std::thread> threads;
  std::vector<int> fds;  // open connection sockets, shut down on stop

  void AcceptLoop() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket(ioc);
      acceptor.accept(socket, ec);
      if (ec || stopping) return;
      socket.set_option(tcp::no_delay(true), ec);
      int id = ++connections;
      std::lock_guard lock(mu);
      fds.push_back(socket.native_handle());
      threads.emplace_back(
          [this, s = std::move(socket), id]() mutable { Serve(std::move(s), id); });
    }
  }

  template <typename Stream>
  void ServeStream(Stream& stream, int id) {
    beast::flat_buffer buffer;
    while (!stopping) {
      bhttp::request<bhttp::string_body> req;
      beast::error_code ec;
      bhttp::read(stream, buffer, req, ec);
      if (ec) return;
      ServerRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.body = req.body();
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = std::string(f.value());
      }
      r.connection = id;
      r.index = ++requests;
      ServerReply reply = handler(r);
      if (reply.action == ServerReply::Action::kDrop) return;
      if (reply.action == ServerReply::Action::kHang) {
        std::unique_lock lock(mu);
        stop_cv.wait(lock, [this] { return stopping.load(); });
        return;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), 11};
      res.set(bhttp::field::server, "kam-test");
      if (reply.status != 204) {
        res.set(bhttp::field::content_type, reply.content_type);
        res.body() = reply.body;
      }
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.keep_alive(!reply.close && req.keep_alive());
      if (reply.chunked) {
        res.chunked(true);
      } else {
        res.prepare_payload();
      }
      bhttp::write(stream, res, ec);
      if (ec || !res.keep_alive() || reply.close_silently) return;
    }
  }

  void Serve(tcp::socket socket, int id) {
    beast::error_code ec;
    const int fd = socket.native_handle();
    auto finish = [&](tcp::socket& s) {
      s.shutdown(tcp::socket::shutdown_both, ec);
      std::lock_guard lock(mu);
      // Forget the fd before closing it so that the destructor never shuts down a reused one.
      for (auto& f : fds) {
        if (f == fd) f = -1;
      }
      s.close(ec);
      ++closed;
    };
    if (ssl_ctx) {
      beast::ssl_stream<tcp::socket> stream(std::move(socket), *ssl_ctx);
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) ServeStream(stream, id);
      finish(stream.next_layer());
    } else {
      ServeStream(socket, id);
      finish(socket);
    }
  }
};

TestServer::TestServer(ServerHandler handler, const ServerTls* tls) : impl_(new Impl) {
  impl_->handler = std::move(handler);
  if (tls) {
    impl_->ssl_ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    impl_->ssl_ctx->use_certificate_chain_file(tls->cert_file);
    impl_->ssl_ctx->use_private_key_file(tls->key_file, ssl::context::pem);
  }
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->AcceptLoop(); });
}

TestServer::~TestServer() {
  impl_->stopping = true;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop_cv.notify_all();
    for (int fd : impl_->fds) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
  }
  // Wake the blocking accept with a throwaway connection, then close the listener.
  {
    beast::error_code ec;
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(impl_->port)),
        ec);
  }
  impl_->accept_thread.join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    threads.swap(impl_->threads);
    for (int fd : impl_->fds) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
  }
  for (auto& t : threads) t.join();
}

int TestServer::port() const { return impl_->port; }
std::string TestServer::url() const {
  return std::string(impl_->ssl_ctx ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(impl_->port);
}
int TestServer::connections_accepted() const { return impl_->connections; }
int TestServer::requests_seen() const { return impl_->requests; }
int TestServer::connections_closed() const { return impl_->closed; }

bool MakeSelfSignedCert(const std::string& dir, const std::string& common_name,
                        const std::string& subject_alt_names, ServerTls* out, std::string* error) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  bool ok = key && cert;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    const std::pair<int, std::string> exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,digitalSignature,keyCertSign"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_alt_name, subject_alt_names},
    };
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      ok = ok && ext && X509_add_ext(cert, ext, -1) == 1;
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  }
  if (ok) {
    out->cert_file = dir + "/cert.pem";
    out->key_file = dir + "/key.pem";
    FILE* f = std::fopen(out->cert_file.c_str(), "w");
    ok = f && PEM_write_X509(f, cert) == 1;
    if (f) std::fclose(f);
    f = std::fopen(out->key_file.c_str(), "w");
    ok = ok && f && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (f) std::fclose(f);
  }
  if (!ok && error) *error = "could not create a self-signed certificate in " + dir;
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  char* made = ::mkdtemp(tmpl.data());
  return made ? std::string(made) : std::string();
}

}  // namespace kam::http::testing
