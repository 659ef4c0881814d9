// Fixtures of the transport tests: certificates made at run time with OpenSSL's C API (a CA,
// leaves with chosen names and validity, self-signed ones), a TLS server that speaks only TLS
// 1.0/1.1, a tiny HTTP CONNECT proxy, and a plain listener helper. All on 127.0.0.1.
#ifndef KAM_TESTS_SECURITY_TLS_FIXTURES_H_
#define KAM_TESTS_SECURITY_TLS_FIXTURES_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kam::security_testing {

struct CertFiles {
  std::string cert;  // PEM
  std::string key;   // PEM
};

// A certificate authority for the test: Issue() makes leaves it signs.
class TestCa {
 public:
  explicit TestCa(const std::string& dir);  // writes dir/ca.pem (+ key in memory)
  ~TestCa();
  const std::string& ca_file() const { return ca_file_; }
  // A leaf for `san` ("DNS:localhost,IP:127.0.0.1") valid from now+not_before_s to
  // now+not_after_s, written as dir/<name>.pem and dir/<name>.key.
  CertFiles Issue(const std::string& name, const std::string& san, long not_before_s,
                  long not_after_s);
  // A self-signed leaf (no CA) for `san`.
  CertFiles SelfSigned(const std::string& name, const std::string& san);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string dir_;
  std::string ca_file_;
};

// Accepts on 127.0.0.1:0 and runs `serve(fd)` on a thread per connection; the destructor shuts
// every socket down and joins.
class Listener {
 public:
  using Serve = std::function<void(int fd)>;
  explicit Listener(Serve serve);
  ~Listener();
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  void Loop();
  Serve serve_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

// A TLS server that accepts only TLS 1.0 and 1.1 (security level 0) and closes after the
// handshake. ProbeTls11() is the control: a client limited to TLS 1.1 completes a handshake.
class OldTlsServer {
 public:
  explicit OldTlsServer(const CertFiles& cert);
  ~OldTlsServer();
  int port() const;
  bool ProbeTls11(std::string* error) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// An HTTP CONNECT proxy: records each request head, answers 407 when `require_auth` is set and
// the Proxy-Authorization differs, else connects to 127.0.0.1:<port of the CONNECT target> and
// pumps bytes both ways.
class ConnectProxy {
 public:
  explicit ConnectProxy(std::string required_authorization = "");
  ~ConnectProxy();
  int port() const;
  std::vector<std::string> heads() const;

 private:
  void Handle(int fd);
  std::string required_;
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace kam::security_testing

#endif  // KAM_TESTS_SECURITY_TLS_FIXTURES_H_
