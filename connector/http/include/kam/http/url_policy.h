// Which base URLs the add-in may talk to: https:// to any host; plain http:// only to a loopback
// address (the sandbox, a local test server), judged on the addresses a connection resolves to,
// not on the name. Client::Create applies it, Client re-checks the resolved endpoints of every plain
// connection, and the engine applies it when it reads the configuration.
#ifndef KAM_HTTP_URL_POLICY_H_
#define KAM_HTTP_URL_POLICY_H_

#include <string>
#include <string_view>

#include "kam/http/error.h"

struct sockaddr;

namespace kam::http {

// True for 127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.x.
bool IsLoopbackAddress(const struct sockaddr* address);

// Ok for https://…, and for http://HOST… when HOST is a loopback IP literal, or "localhost" and
// every address it resolves to is loopback. Any other name is refused without a DNS query (a
// name proves nothing; Client re-checks the resolved endpoints of every plain connection).
// Otherwise kInvalidArgument with a message that names the host and https://. A URL that does
// not parse is kInvalidArgument too.
Status CheckTransportSecurity(std::string_view base_url);

}  // namespace kam::http

#endif  // KAM_HTTP_URL_POLICY_H_
