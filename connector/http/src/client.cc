// Stub: the Beast implementation lands next.
#include "kam/http/client.h"

namespace kam::http {

class Client::Impl {
 public:
  explicit Impl(ClientOptions o) : options(std::move(o)) {}
  ClientOptions options;
};

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(std::move(options))));
}
Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;
Result<Response> Client::Send(const Request&) {
  Error e;
  e.kind = ErrorKind::kInternal;
  e.message = "kam::http::Client is not implemented yet";
  return e;
}
Counters Client::Snapshot() const { return {}; }
void Client::ResetCounters() {}
void Client::SetDailyResetUtcOffset(int64_t) {}
const ClientOptions& Client::options() const { return impl_->options; }

}  // namespace kam::http
