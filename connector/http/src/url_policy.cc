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
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(url->host.c_str(), url->port.c_str(), &hints, &found);
  if (rc != 0) {
    e.message = "plain http:// is only allowed to a loopback address, and '" + url->host +
                "' does not resolve (" + gai_strerror(rc) + "); use https://";
    return e;
  }
  std::string remote;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (IsLoopbackAddress(a->ai_addr)) continue;
    char text[INET6_ADDRSTRLEN] = "?";
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
    inet_ntop(a->ai_family, raw, text, sizeof(text));
    remote = text;
    break;
  }
  freeaddrinfo(found);
  if (remote.empty()) return Ok{};
  e.message = "plain http:// is only allowed to a loopback address (127.0.0.0/8, ::1), but '" +
              url->host + "' resolves to " + remote +
              ": the token would travel in clear; use https://" + url->host + " instead";
  return e;
}

}  // namespace kam::http
