// Internal: the outbound proxy of kam_http (ProxyOptions): which proxy, which hosts bypass it,
// the CONNECT request and the proxy's answer. The socket work is in client.cc.
#ifndef KAM_HTTP_SRC_PROXY_H_
#define KAM_HTTP_SRC_PROXY_H_

#include <optional>
#include <string>
#include <string_view>

#include "kam/http/error.h"
#include "kam/http/options.h"
#include "util.h"

namespace kam::http::internal {

struct Proxy {
  std::string host;
  std::string port;
  std::string user;           // percent-decoded; empty = no credentials
  std::string password;       // percent-decoded
  std::string authorization;  // "Basic …" or ""
  std::string no_proxy;       // the effective NO_PROXY list

  std::string Display() const;  // "http://host:port" (never the credentials)
};

// The proxy the options (or the environment) name, or nullopt. A malformed proxy URL is
// kInvalidArgument; the message never contains the credentials.
Result<std::optional<Proxy>> ProxyFor(const ProxyOptions& options);

// True when `host` is on the NO_PROXY list.
bool BypassesProxy(std::string_view host, std::string_view no_proxy);

// "CONNECT host:port HTTP/1.1" with Host and, with credentials, Proxy-Authorization.
std::string ConnectRequest(const Url& target, const Proxy& proxy);

// The status code of the proxy's answer head ("HTTP/1.1 200 Connection established"), or -1.
int ConnectStatus(std::string_view head);

std::string Base64(std::string_view data);

}  // namespace kam::http::internal

#endif  // KAM_HTTP_SRC_PROXY_H_
