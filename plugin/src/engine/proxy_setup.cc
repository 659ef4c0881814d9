// The "proxy" block applied to the HTTP client (see proxy_setup.h).
#include "proxy_setup.h"

#include "kam/http/redact.h"

namespace kam::engine {

Status ApplyProxyConfig(
    const ProxyConfig& proxy,
    const std::function<std::optional<std::string>(std::string_view)>& get_secret,
    http::ProxyOptions* out) {
  if (!proxy.configured) return {};
  out->from_environment = false;
  out->no_proxy = proxy.no_proxy;
  out->url = proxy.url;
  if (proxy.url_secret.empty()) return {};
  std::optional<std::string> value = get_secret(proxy.url_secret);
  if (!value || value->empty()) {
    return Status(StatusCode::kUnauthenticated,
                  "the proxy URL secret " + proxy.url_secret + " is not set (set it, or " +
                      proxy.url_secret + "_FILE naming a 0600 file)",
                  "/proxy/url_secret");
  }
  out->url = *value;
  http::WipeSecret(*value);
  return {};
}

}  // namespace kam::engine
