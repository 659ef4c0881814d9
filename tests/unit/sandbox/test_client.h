// A small synchronous HTTP/1.1 client for the sandbox tests (keep-alive, one connection), so the
// tests do not depend on connector/http. Beast stays inside test_client.cc.
#ifndef KAM_TESTS_UNIT_SANDBOX_TEST_CLIENT_H_
#define KAM_TESTS_UNIT_SANDBOX_TEST_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace kam::sandbox::testing {

struct Reply {
  int status = 0;  // 0 = the connection failed or was dropped
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool has(const std::string& header) const { return headers.count(header) > 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  // The parsed body, cached so that `r.json()["results"]` in a range-for stays valid while r
  // lives. Throws on a malformed body.
  nlohmann::json& json() const {
    if (!parsed) parsed = std::make_shared<nlohmann::json>(nlohmann::json::parse(body));
    return *parsed;
  }
  mutable std::shared_ptr<nlohmann::json> parsed;
};

class TestClient {
 public:
  explicit TestClient(uint16_t port, std::string token = "sandbox-token");
  ~TestClient();
  // token "" = no Authorization header.
  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& content_type = "application/json");
  Reply Get(const std::string& target) { return Call("GET", target); }
  Reply Post(const std::string& target, const nlohmann::json& body) {
    return Call("POST", target, body.dump());
  }
  Reply Patch(const std::string& target, const nlohmann::json& body) {
    return Call("PATCH", target, body.dump());
  }
  void set_token(std::string token) { token_ = std::move(token); }
  // An extra header sent with every later request ("" value removes it).
  void set_header(const std::string& name, const std::string& value) {
    if (value.empty()) {
      extra_headers_.erase(name);
    } else {
      extra_headers_[name] = value;
    }
  }

 private:
  struct Conn;
  uint16_t port_;
  std::string token_;
  std::map<std::string, std::string> extra_headers_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace kam::sandbox::testing

#endif  // KAM_TESTS_UNIT_SANDBOX_TEST_CLIENT_H_
