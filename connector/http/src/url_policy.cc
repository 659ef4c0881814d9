// https-only outside loopback (see url_policy.h).
#include "kam/http/url_policy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "util.h"

namespace kam::http {

bool IsLoopbackAddress(const struct sockaddr* address) {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

Status CheckTransportSecurity(std::string_view base_url) {
  auto url = internal::ParseUrl(base_url);
  if (!url.ok()) return url.error();
  if (url->tls) return Ok{};
  Error e;
  e.kind = ErrorKind::kInvalidArgument;
  // An IP literal is judged as it is; "localhost" by what it resolves to (the hosts file). Any
  // other name is refused without asking DNS: a name proves nothing about where it leads, and a
  // configuration check must not depend on (or leak to) the network.
  sockaddr_storage literal{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&literal);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&literal);
  std::string remote;
  if (inet_pton(AF_INET, url->host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    if (!IsLoopbackAddress(reinterpret_cast<sockaddr*>(&literal))) remote = url->host;
  } else if (inet_pton(AF_INET6, url->host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    if (!IsLoopbackAddress(reinterpret_cast<sockaddr*>(&literal))) remote = url->host;
  } else if (internal::EqualsIgnoreCase(url->host, "localhost")) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo("localhost", url->port.c_str(), &hints, &found) != 0) {
      e.message =
          "plain http:// is only allowed to a loopback address, and 'localhost' does "
          "not resolve here; use http://127.0.0.1 or https://";
      return e;
    }
    for (addrinfo* a = found; a != nullptr && remote.empty(); a = a->ai_next) {
      if (IsLoopbackAddress(a->ai_addr)) continue;
      char text[INET6_ADDRSTRLEN] = "?";
      const void* raw = a->ai_family == AF_INET
                            ? static_cast<const void*>(
                                  &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
                            : static_cast<const void*>(
                                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
      inet_ntop(a->ai_family, raw, text, sizeof(text));
      remote = "'localhost' resolves to " + std::string(text);
    }
    freeaddrinfo(found);
    if (remote.empty()) return Ok{};
    e.message = "plain http:// is only allowed to a loopback address (127.0.0.0/8, ::1), but " +
                remote + ": the token would travel in clear; use https:// or http://127.0.0.1";
    return e;
  } else {
    e.message =
        "plain http:// is only allowed to a loopback address (127.0.0.0/8, ::1 or "
        "localhost), not to the name '" +
        url->host + "': the token would travel in clear; use https://" + url->host +
        " (or http://127.0.0.1 for a server on this machine)";
    return e;
  }
  if (remote.empty()) return Ok{};
  e.message = "plain http:// is only allowed to a loopback address (127.0.0.0/8, ::1), not " +
              remote + ": the token would travel in clear; use https://" + url->host;
  return e;
}

}  // namespace kam::http
