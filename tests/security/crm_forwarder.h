// A CRM front for the tests that run `kam`: a TestServer (plain or TLS) whose handler forwards
// every request to the sandbox, unless an override answers it first.
#ifndef KAM_TESTS_SECURITY_CRM_FORWARDER_H_
#define KAM_TESTS_SECURITY_CRM_FORWARDER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kam/http/client.h"
#include "test_server.h"

namespace kam::security_testing {

using http::testing::ServerReply;
using http::testing::ServerRequest;

class CrmForwarder {
 public:
  using Override = std::function<std::optional<ServerReply>(const ServerRequest&)>;

  CrmForwarder(const std::string& sandbox_url, Override override_fn = {},
               const http::testing::ServerTls* tls = nullptr)
      : override_(std::move(override_fn)) {
    http::ClientOptions o;
    o.base_url = sandbox_url;
    o.rate_limit.enabled = false;
    o.retry.max_attempts = 1;
    o.proxy.from_environment = false;
    client_ = std::move(http::Client::Create(o).value());
    server_ = std::make_unique<http::testing::TestServer>(
        [this](const ServerRequest& r) { return Handle(r); }, tls);
  }
  ~CrmForwarder() { server_.reset(); }  // joins the server's threads before the client goes

  int port() const { return server_->port(); }
  std::string url() const { return server_->url(); }
  int requests() const { return server_->requests_seen(); }

 private:
  ServerReply Handle(const ServerRequest& r) {
    if (override_) {
      if (auto reply = override_(r)) return *reply;
    }
    http::Request req;
    req.method = r.method == "POST"     ? http::Method::kPost
                 : r.method == "PATCH"  ? http::Method::kPatch
                 : r.method == "PUT"    ? http::Method::kPut
                 : r.method == "DELETE" ? http::Method::kDelete
                                        : http::Method::kGet;
    req.target = r.target;
    req.body = r.body;
    auto ct = r.headers.find("content-type");
    if (ct != r.headers.end()) req.content_type = ct->second;
    auto auth = r.headers.find("authorization");
    if (auth != r.headers.end()) req.headers.emplace_back("Authorization", auth->second);
    auto res = client_->Send(req);
    ServerReply reply;
    if (res.ok()) {
      reply.status = res->status;
      reply.body = res->body;
    } else {
      reply.status = res.error().http_status != 0 ? res.error().http_status : 502;
      reply.body = res.error().body;
    }
    return reply;
  }

  Override override_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<http::testing::TestServer> server_;
};

}  // namespace kam::security_testing

#endif  // KAM_TESTS_SECURITY_CRM_FORWARDER_H_
