// Fuzz target: request handling of the sandbox CRM (connector/sandbox Api::Handle, behind the
// Beast front). The input's first line is "METHOD TARGET" (add " noauth" to leave out the
// token); the rest is the body. The target is split and decoded as server.cc does. Handle must
// answer every request (error bodies for bad ones) and never throw or crash. The portal is
// re-created every 500 inputs so that state does not grow without bound.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api.h"
#include "internal.h"
#include "kam/sandbox/sandbox_server.h"

namespace sb = kam::sandbox;

namespace {

std::unique_ptr<sb::Api> NewApi() {
  sb::SandboxOptions options;
  options.accounts = 20;
  options.seed = 7;
  options.base_time_ms = 1767225600000;  // 2026-01-01, fixed: reproducible inputs
  options.search_per_second = 0;
  std::string error;
  auto api = sb::Api::Create(options, &error);
  if (api == nullptr) __builtin_trap();
  return api;
}

sb::HttpRequest ToRequest(std::string_view input) {
  sb::HttpRequest req;
  const size_t nl = input.find('\n');
  std::string_view line = input.substr(0, nl);
  req.body = nl == std::string_view::npos ? std::string() : std::string(input.substr(nl + 1));
  bool auth = true;
  constexpr std::string_view kNoAuth = " noauth";
  if (line.size() >= kNoAuth.size() && line.substr(line.size() - kNoAuth.size()) == kNoAuth) {
    auth = false;
    line.remove_suffix(kNoAuth.size());
  }
  const size_t sp = line.find(' ');
  req.method = std::string(line.substr(0, sp));
  const std::string_view target = sp == std::string_view::npos ? "/" : line.substr(sp + 1);
  req.target = std::string(target);
  const size_t q = target.find('?');
  req.path = sb::UrlDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      std::string_view part = query.substr(0, amp);
      if (!part.empty()) {
        const size_t eq = part.find('=');
        req.query.emplace_back(sb::UrlDecode(part.substr(0, eq), true),
                               eq == std::string_view::npos
                                   ? std::string()
                                   : sb::UrlDecode(part.substr(eq + 1), true));
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  if (auth) req.authorization = "Bearer sandbox-token";
  req.content_type = "application/json";
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<sb::Api> api;
  static int uses = 0;
  if (api == nullptr || ++uses % 500 == 0) api = NewApi();
  const sb::HttpResponse response =
      api->Handle(ToRequest(std::string_view(reinterpret_cast<const char*>(data), size)));
  if (!response.drop && (response.status < 100 || response.status > 599)) __builtin_trap();
  return 0;
}
