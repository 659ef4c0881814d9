// The "proxy" block of kam.json applied to an HTTP client's options (config.h, ProxyConfig).
#ifndef KAM_PLUGIN_SRC_ENGINE_PROXY_SETUP_H_
#define KAM_PLUGIN_SRC_ENGINE_PROXY_SETUP_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "kam/http/options.h"
#include "status.h"

namespace kam::engine {

// Without a "proxy" block the client keeps reading HTTPS_PROXY / NO_PROXY. With one, the block
// alone decides: `url`, or the value of the secret `url_secret` (it may carry credentials; the
// client reports the password for redaction), and `no_proxy`. A named secret that is not set is
// an error naming it (exit 4), never a silent direct connection.
Status ApplyProxyConfig(
    const ProxyConfig& proxy,
    const std::function<std::optional<std::string>(std::string_view)>& get_secret,
    http::ProxyOptions* out);

}  // namespace kam::engine

#endif  // KAM_PLUGIN_SRC_ENGINE_PROXY_SETUP_H_
