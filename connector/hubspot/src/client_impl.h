// HubSpotClient::Impl, shared by the .cc files that implement the client's parts (companies,
// facts, tasks, provisioning): authenticated JSON calls over the Transport.
#ifndef KAM_HUBSPOT_SRC_CLIENT_IMPL_H_
#define KAM_HUBSPOT_SRC_CLIENT_IMPL_H_

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codec.h"
#include "kam/http/redact.h"
#include "kam/hubspot/client.h"

namespace kam::hubspot {

struct HubSpotClient::Impl {
  // The tokens are wiped, not just freed (kam/addin.h: the plugin wipes its copies).
  ~Impl() {
    kam::http::WipeSecret(access_token);
    kam::http::WipeSecret(refresh_token);
  }

  HubSpotOptions options;
  std::shared_ptr<Transport> transport;
  internal::ApiPaths paths;

  // Auth state, in memory only, under auth_mu (calls may run on several threads).
  std::mutex auth_mu;
  std::string access_token;
  std::chrono::steady_clock::time_point access_expiry{};
  bool token_loaded = false;
  std::string refresh_token;  // OAuth: as last returned by the token endpoint

  std::optional<TaskKeyMode> resolved_task_mode;  // under auth_mu
  // Held while the task-key mode is read from the CRM, so that task writes running side by side
  // read the property once, not once each.
  std::mutex task_mode_mu;

  // Requests run at once by batch methods (Transport::MaxConcurrency).
  std::size_t Concurrency() const {
    return static_cast<std::size_t>(std::max(1, transport->MaxConcurrency()));
  }

  // One authenticated call. Non-2xx -> Error (with endpoint). A 401 under OAuth refreshes the
  // access token once and repeats the call.
  Result<HttpReply> SendAuthed(const std::string& method, const std::string& target,
                               const std::string& body, bool idempotent, bool search);

  // An authenticated call whose 2xx answer is parsed by `parse` (Json -> T, throws on a wrong
  // shape). An answer that is not JSON or that `parse` rejects is a malformed answer: an
  // idempotent call is sent again (Transport::AwaitRetry: run budget + backoff) up to
  // http.retry.max_attempts times, then fails kUnavailable (retryable); a non-idempotent call
  // fails at once with outcome_unknown (it may have been applied).
  template <typename T>
  Result<std::pair<int, T>> CallParsed(const std::string& method, const std::string& target,
                                       const std::string& body, bool idempotent, bool search,
                                       const std::function<T(const internal::Json&)>& parse,
                                       const internal::Json::parser_callback_t& keep = nullptr);

  // One authenticated JSON call (malformed answers handled as in CallParsed).
  Result<internal::Json> Call(const std::string& method, const std::string& target,
                              const std::string& body, bool idempotent, bool search = false);
  // Like Call, also returning the HTTP status (200 vs 207 vs 201).
  Result<std::pair<int, internal::Json>> CallWithStatus(const std::string& method,
                                                        const std::string& target,
                                                        const std::string& body, bool idempotent,
                                                        bool search = false);
  // Attempts per call for retries decided here (malformed bodies, 207 re-reads).
  int MaxAttempts() const { return std::max(1, options.http.retry.max_attempts); }

  // Batch update of any object type (chunks of 100 sent concurrently, safe to repeat):
  // per-record outcomes; the inputs a 207 reports with a retryable error are sent again (only
  // those).
  Result<BatchWriteResult> BatchUpdate(const std::string& object_type,
                                       const std::vector<CompanyUpdate>& updates);
  // One chunk; a failure of the whole call is also put in *whole_failure.
  BatchWriteResult BatchUpdateChunk(const std::string& object_type,
                                    const std::vector<CompanyUpdate>& chunk,
                                    std::optional<Error>* whole_failure);

  // Loads or refreshes the token (caller holds auth_mu).
  Status EnsureToken(bool force_refresh);
  Status RefreshOAuth();
  void Log(kam::http::LogLevel level, const std::string& message) const;
  bool Cancelled() const;

  // Search one page of `object_type`.
  Result<internal::SearchPage> Search(const std::string& object_type,
                                      const internal::SearchRequest& request);
  // Batch read, chunks of 100 read concurrently; missing ids collected.
  Result<BatchReadResult> BatchRead(const std::string& object_type,
                                    const std::vector<std::string>& ids,
                                    const std::vector<std::string>& properties);
  // One chunk of <= 100 ids, with its 207 re-reads.
  Result<BatchReadResult> BatchReadChunk(const std::string& object_type,
                                         const std::vector<std::string>& chunk,
                                         const std::vector<std::string>& properties);
  // v4 association batch read: from_ids -> to ids, following per-result paging.
  Result<std::map<std::string, std::vector<std::string>>> ReadAssociations(
      const std::string& from_type, const std::string& to_type,
      const std::vector<std::string>& from_ids);
};

// An Error for an answer whose shape we did not expect.
Error BadAnswer(const std::string& endpoint, const std::string& what);

template <typename T>
Result<std::pair<int, T>> HubSpotClient::Impl::CallParsed(
    const std::string& method, const std::string& target, const std::string& body, bool idempotent,
    bool search, const std::function<T(const internal::Json&)>& parse,
    const internal::Json::parser_callback_t& keep) {
  const std::string endpoint = method + " " + target.substr(0, target.find('?'));
  for (int attempt = 1;; ++attempt) {
    auto reply = SendAuthed(method, target, body, idempotent, search);
    if (!reply.ok()) return reply.error();
    std::string what;
    internal::Json j;
    if (!reply->body.empty()) {
      j = internal::Json::parse(reply->body, keep, false);
      if (j.is_discarded()) what = "the body is not JSON";
    }
    if (what.empty()) {
      try {
        return std::make_pair(reply->status, parse(j));
      } catch (const std::exception& ex) {
        what = ex.what();
      }
    }
    Error e = BadAnswer(endpoint, what);
    e.code = ErrorCode::kUnavailable;
    e.retryable = true;
    e.http_status = reply->status;
    e.correlation_id = reply->correlation_id;
    if (!idempotent) {
      e.outcome_unknown = true;
      e.message = endpoint + " answered HTTP " + std::to_string(reply->status) +
                  " with an unreadable body (" + what + "); the write may have been applied";
      return e;
    }
    if (attempt >= MaxAttempts()) {
      e.message = endpoint + " answered with an unreadable body " + std::to_string(attempt) +
                  " times (" + what + "); the CRM is misbehaving, the next run resumes";
      return e;
    }
    Log(kam::http::LogLevel::kInfo,
        endpoint + ": malformed answer (" + what + "), retry " + std::to_string(attempt));
    if (Status s = transport->AwaitRetry(attempt); !s.ok()) return s.error();
  }
}

}  // namespace kam::hubspot

#endif  // KAM_HUBSPOT_SRC_CLIENT_IMPL_H_
