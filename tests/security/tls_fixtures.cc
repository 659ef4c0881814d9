// Test fixtures for TLS and the proxy (see tls_fixtures.h).
#include "tls_fixtures.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace kam::security_testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test fixture: ") + what + " failed");
}

EVP_PKEY* NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Check(key != nullptr, "EVP_EC_gen");
  return key;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* MakeCert(EVP_PKEY* key, const std::string& cn, const std::string& san, long from_s, long to_s,
               X509* issuer, EVP_PKEY* issuer_key, bool ca, long serial) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert), to_s);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert;
  AddExt(cert, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) AddExt(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!san.empty()) AddExt(cert, signer, NID_subject_alt_name, san);
  Check(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void WritePem(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "fopen cert");
  PEM_write_X509(f, cert);
  std::fclose(f);
}

void WriteKey(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "fopen key");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

int ListenLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Check(fd >= 0, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Check(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, "bind");
  Check(::listen(fd, 16) == 0, "listen");
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

// ---- TestCa -------------------------------------------------------------------------------

struct TestCa::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  long serial = 1;
  ~Impl() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

TestCa::TestCa(const std::string& dir) : impl_(new Impl), dir_(dir) {
  impl_->key = NewKey();
  impl_->cert = MakeCert(impl_->key, "kam test CA", "", -3600, 86400, nullptr, nullptr, true,
                         impl_->serial++);
  ca_file_ = dir + "/ca.pem";
  WritePem(ca_file_, impl_->cert);
}

TestCa::~TestCa() = default;

CertFiles TestCa::Issue(const std::string& name, const std::string& san, long not_before_s,
                        long not_after_s) {
  EVP_PKEY* key = NewKey();
  X509* cert = MakeCert(key, name, san, not_before_s, not_after_s, impl_->cert, impl_->key, false,
                        impl_->serial++);
  CertFiles out{dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
  WritePem(out.cert, cert);
  WriteKey(out.key, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

CertFiles TestCa::SelfSigned(const std::string& name, const std::string& san) {
  EVP_PKEY* key = NewKey();
  X509* cert = MakeCert(key, name, san, -3600, 86400, nullptr, nullptr, false, impl_->serial++);
  CertFiles out{dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
  WritePem(out.cert, cert);
  WriteKey(out.key, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// ---- Listener -----------------------------------------------------------------------------

Listener::Listener(Serve serve) : serve_(std::move(serve)) {
  listen_fd_ = ListenLoopback(&port_);
  accept_thread_ = std::thread([this] { Loop(); });
}

void Listener::Loop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    if (stopping_) {
      ::close(fd);
      return;
    }
    ++accepted_;
    std::lock_guard lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve_(fd); });
  }
}

Listener::~Listener() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  int wake = ConnectLoopback(port_);
  if (wake >= 0) ::close(wake);
  accept_thread_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  for (int fd : fds_) ::close(fd);
  ::close(listen_fd_);
}

// ---- OldTlsServer -------------------------------------------------------------------------

struct OldTlsServer::Impl {
  SSL_CTX* ctx = nullptr;
  std::unique_ptr<Listener> listener;
  ~Impl() {
    listener.reset();
    SSL_CTX_free(ctx);
  }
};

OldTlsServer::OldTlsServer(const CertFiles& cert) : impl_(new Impl) {
  impl_->ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_security_level(impl_->ctx, 0);
  SSL_CTX_set_cipher_list(impl_->ctx, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(impl_->ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(impl_->ctx, TLS1_1_VERSION);
  Check(SSL_CTX_use_certificate_file(impl_->ctx, cert.cert.c_str(), SSL_FILETYPE_PEM) == 1,
        "use_certificate_file");
  Check(SSL_CTX_use_PrivateKey_file(impl_->ctx, cert.key.c_str(), SSL_FILETYPE_PEM) == 1,
        "use_PrivateKey_file");
  SSL_CTX* ctx = impl_->ctx;
  impl_->listener = std::make_unique<Listener>([ctx](int fd) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      char buf[256];
      SSL_read(ssl, buf, sizeof(buf));  // until the client gives up or closes
    }
    SSL_free(ssl);
  });
}

OldTlsServer::~OldTlsServer() = default;

int OldTlsServer::port() const { return impl_->listener->port(); }

bool OldTlsServer::ProbeTls11(std::string* error) const {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  int fd = ConnectLoopback(port());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  bool ok = SSL_connect(ssl) == 1 && SSL_version(ssl) <= TLS1_1_VERSION;
  if (!ok) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    *error = buf;
  } else {
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return ok;
}

// ---- ConnectProxy -------------------------------------------------------------------------

ConnectProxy::ConnectProxy(std::string required_authorization)
    : required_(std::move(required_authorization)) {
  listener_ = std::make_unique<Listener>([this](int fd) { Handle(fd); });
}

ConnectProxy::~ConnectProxy() { listener_.reset(); }

int ConnectProxy::port() const { return listener_->port(); }

std::vector<std::string> ConnectProxy::heads() const {
  std::lock_guard lock(mu_);
  return heads_;
}

void ConnectProxy::Handle(int fd) {
  std::string head;
  char buf[16384];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
  {
    std::lock_guard lock(mu_);
    heads_.push_back(head);
  }
  auto reply = [fd](const std::string& text) { WriteAll(fd, text.data(), text.size()); };
  if (head.rfind("CONNECT ", 0) != 0) {
    reply("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  if (!required_.empty() &&
      head.find("\r\nProxy-Authorization: " + required_ + "\r\n") == std::string::npos) {
    reply(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
        "realm=\"kam\"\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  std::string target = head.substr(8, head.find(' ', 8) - 8);
  int port = std::atoi(target.substr(target.rfind(':') + 1).c_str());
  int up = ConnectLoopback(port);
  if (up < 0) {
    reply("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  reply("HTTP/1.1 200 Connection established\r\n\r\n");
  pollfd p[2] = {{fd, POLLIN, 0}, {up, POLLIN, 0}};
  bool open = true;
  while (open && ::poll(p, 2, 10000) > 0) {
    for (int i = 0; i < 2 && open; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::recv(p[i].fd, buf, sizeof(buf), 0);
      open = n > 0 && WriteAll(p[1 - i].fd, buf, static_cast<size_t>(n));
    }
  }
  ::close(up);
}

}  // namespace kam::security_testing
