// A small HTTP/1.1 server on Boost.Beast for the kam_http socket tests and benchmark: listens on
// 127.0.0.1 port 0, optionally with TLS, one thread per connection, keep-alive, and a handler
// that decides per request to answer, drop the connection or never answer.
#ifndef KAM_TESTS_UNIT_HTTP_TEST_SERVER_H_
#define KAM_TESTS_UNIT_HTTP_TEST_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kam::http::testing {

struct ServerRequest {
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  int connection = 0;                          // 1-based id of the connection it came on
  int index = 0;                               // 1-based count of requests the server has seen
};

struct ServerReply {
  enum class Action { kRespond, kDrop, kHang };
  Action action = Action::kRespond;
  int status = 200;
  std::string body = "{}";
  std::string content_type = "application/json;charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;           // answer with Connection: close and close
  bool close_silently = false;  // answer keep-alive, then close anyway (an idle-closing server)
  bool chunked = false;         // Transfer-Encoding: chunked instead of Content-Length

  static ServerReply Drop() {
    ServerReply r;
    r.action = Action::kDrop;
    return r;
  }
  static ServerReply Hang() {
    ServerReply r;
    r.action = Action::kHang;
    return r;
  }
};

using ServerHandler = std::function<ServerReply(const ServerRequest&)>;

struct ServerTls {
  std::string cert_file;  // PEM
  std::string key_file;   // PEM
};

class TestServer {
 public:
  // Starts listening immediately; tls empty = plain HTTP.
  explicit TestServer(ServerHandler handler, const ServerTls* tls = nullptr);
  ~TestServer();  // stops: closes the listener and every connection, joins all threads
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const;
  // "http://127.0.0.1:PORT" (or https).
  std::string url() const;
  int connections_accepted() const;
  int requests_seen() const;
  int connections_closed() const;  // connections the server has finished with

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Creates a self-signed certificate (P-256 key, basicConstraints CA:TRUE) for the given
// subjectAltNames ("DNS:localhost", "IP:127.0.0.1") and writes cert.pem/key.pem into `dir`.
// Returns false and fills *error on failure. Uses the OpenSSL C API only.
bool MakeSelfSignedCert(const std::string& dir, const std::string& common_name,
                        const std::string& subject_alt_names, ServerTls* out, std::string* error);

// A fresh temporary directory (removed by the caller, e.g. with std::filesystem::remove_all).
std::string MakeTempDir(const std::string& prefix);

}  // namespace kam::http::testing

#endif  // KAM_TESTS_UNIT_HTTP_TEST_SERVER_H_
