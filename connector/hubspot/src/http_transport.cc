// The production Transport: kam::http::Client (pacing, retries, TLS, counters) behind the
// adapter's HttpCall / HttpReply seam, with kam::http errors mapped to kam::hubspot errors.
#include <memory>

#include "kam/http/client.h"
#include "kam/hubspot/transport.h"

namespace kam::hubspot {
namespace {

ErrorCode CodeFor(const kam::http::Error& e) {
  using K = kam::http::ErrorKind;
  switch (e.kind) {
    case K::kRateLimited:
    case K::kQuotaReserve:
      return ErrorCode::kRateLimited;
    case K::kTimeout:
    case K::kConnection:
    case K::kTls:
    case K::kRetryBudget:
      return ErrorCode::kUnavailable;
    case K::kCancelled:
      return ErrorCode::kCancelled;
    case K::kInvalidArgument:
      return ErrorCode::kInvalidArgument;
    case K::kResponseTooLarge:
    case K::kInvalidResponse:
    case K::kInternal:
      return ErrorCode::kInternal;
    case K::kHttpStatus:
      break;
  }
  const int s = e.http_status;
  if (s == 400 || s == 414 || s == 422) return ErrorCode::kInvalidArgument;
  if (s == 401) return ErrorCode::kUnauthenticated;
  if (s == 403) return ErrorCode::kPermissionDenied;
  if (s == 404) return ErrorCode::kNotFound;
  if (s == 409) return ErrorCode::kConflict;
  if (s == 429) return ErrorCode::kRateLimited;
  if (s >= 500 || s == 477) return ErrorCode::kUnavailable;
  return ErrorCode::kInternal;
}

Error MapError(const kam::http::Error& h) {
  Error e;
  e.code = CodeFor(h);
  e.message = h.message;
  e.http_status = h.http_status;
  e.category = !h.category.empty() ? h.category : h.policy_name;
  e.crm_message = h.crm_message;
  e.correlation_id = h.correlation_id;
  e.endpoint = h.endpoint;
  e.retryable = h.retryable;
  e.retry_after_ms = h.retry_after_ms;
  e.outcome_unknown = h.outcome_unknown;
  e.retry_budget_spent = h.retry_budget_spent;
  // Retries exhausted (or the budget spent) on a retryable status: the CRM is failing.
  if (e.retry_budget_spent && e.code != ErrorCode::kRateLimited) e.code = ErrorCode::kUnavailable;
  return e;
}

kam::http::Method MethodOf(const std::string& m) {
  if (m == "POST") return kam::http::Method::kPost;
  if (m == "PUT") return kam::http::Method::kPut;
  if (m == "PATCH") return kam::http::Method::kPatch;
  if (m == "DELETE") return kam::http::Method::kDelete;
  return kam::http::Method::kGet;
}

class HttpTransport : public Transport {
 public:
  explicit HttpTransport(std::unique_ptr<kam::http::Client> client) : client_(std::move(client)) {}

  Result<HttpReply> Send(const HttpCall& call) override {
    kam::http::Request req;
    req.method = MethodOf(call.method);
    req.target = call.target;
    req.body = call.body;
    req.content_type = call.content_type;
    for (const auto& h : call.headers) req.headers.push_back(h);
    req.idempotent = call.idempotent;
    req.lane = call.unpaced       ? kam::http::Lane::kUnpaced
               : call.search_lane ? kam::http::Lane::kSearch
                                  : kam::http::Lane::kStandard;
    req.endpoint = call.endpoint;
    auto r = client_->Send(req);
    if (!r.ok()) return MapError(r.error());
    HttpReply reply;
    reply.status = r->status;
    reply.body = std::move(r->body);
    reply.correlation_id = std::string(r->CorrelationId());
    return reply;
  }

  Status AwaitRetry(int retry) override {
    auto s = client_->BackoffForRetry(retry);
    if (!s.ok()) return MapError(s.error());
    return {};
  }

  ApiUsage Usage() const override {
    const kam::http::Counters c = client_->Snapshot();
    ApiUsage u;
    u.requests = static_cast<int64_t>(c.requests);
    u.retries = static_cast<int64_t>(c.retries);
    u.retry_budget_refusals = static_cast<int64_t>(c.retry_budget_refusals);
    u.rate_limited = static_cast<int64_t>(c.rate_limited);
    u.failed = static_cast<int64_t>(c.failed_calls);
    u.bytes_sent = static_cast<int64_t>(c.bytes_out);
    u.bytes_received = static_cast<int64_t>(c.bytes_in);
    u.daily_remaining = c.daily_remaining;
    u.daily_limit = c.daily_limit;
    u.latency_p50_ms = c.latency_p50_ms;
    u.latency_p95_ms = c.latency_p95_ms;
    u.latency_p99_ms = c.latency_p99_ms;
    return u;
  }

  void ResetUsage() override { client_->ResetCounters(); }
  int MaxConcurrency() const override {
    return static_cast<int>(std::max<std::size_t>(1, client_->options().max_connections));
  }
  void SetUtcOffsetMs(int64_t offset_ms) override { client_->SetDailyResetUtcOffset(offset_ms); }

 private:
  std::unique_ptr<kam::http::Client> client_;
};

}  // namespace

Result<std::shared_ptr<Transport>> MakeHttpTransport(const kam::http::ClientOptions& options) {
  auto client = kam::http::Client::Create(options);
  if (!client.ok()) return MapError(client.error());
  return std::shared_ptr<Transport>(std::make_shared<HttpTransport>(std::move(*client)));
}

}  // namespace kam::hubspot
