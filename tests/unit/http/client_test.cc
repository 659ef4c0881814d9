// kam::http::Client over real sockets against the test server on 127.0.0.1 port 0: keep-alive,
// the in-flight bound, timeouts, dropped connections, size limit, Retry-After, 429s, errors,
// quota reserve, counters, redaction and cancellation. Backoff waits use a fake clock.
#include "kam/http/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_clock.h"
#include "test_server.h"

namespace kam::http {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::ServerReply;
using testing::ServerRequest;
using testing::TestServer;

ClientOptions OptionsFor(const TestServer& server, std::shared_ptr<FakeClock> clock) {
  ClientOptions o;
  o.base_url = server.url();
  o.clock = std::move(clock);
  o.timeouts.connect = milliseconds(2000);
  o.timeouts.read = milliseconds(2000);
  o.rate_limit.initial_max = 0;  // the test server sends no rate headers
  return o;
}

std::unique_ptr<Client> MakeClient(ClientOptions o) {
  auto c = Client::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(c.value()) : nullptr;
}

Request Get(std::string target) {
  Request r;
  r.method = Method::kGet;
  r.target = std::move(target);
  r.idempotent = true;
  return r;
}

Request Post(std::string target, std::string body, bool idempotent) {
  Request r;
  r.method = Method::kPost;
  r.target = std::move(target);
  r.body = std::move(body);
  r.idempotent = idempotent;
  return r;
}

TEST(Client, ReusesOneKeepAliveConnectionForSequentialCalls) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    reply.body = R"({"path":")" + r.target + R"("})";
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  for (int i = 0; i < 10; ++i) {
    auto r = client->Send(Get("/crm/v3/objects/companies/" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"path":"/crm/v3/objects/companies/)" + std::to_string(i) + R"("})");
  }
  EXPECT_EQ(server.connections_accepted(), 1);
  Counters c = client->Snapshot();
  EXPECT_EQ(c.connections_opened, 1u);
  EXPECT_EQ(c.requests, 10u);
  EXPECT_EQ(c.requests_by_endpoint["GET /crm/v3/objects/companies/{id}"], 10u);
}

TEST(Client, ReplacesAPooledConnectionThatTheServerClosedWhileIdle) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    reply.close_silently = r.index == 1;
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  ASSERT_TRUE(client->Send(Get("/a")).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.connections_closed() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(server.connections_closed(), 1);
  // Not safe to repeat, so it must not be sent on the dead connection.
  auto r = client->Send(Post("/crm/v3/objects/tasks", "{}", false));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(Client, ClosesPooledConnectionsIdleLongerThanTheIdleTimeout) {
  TestServer server([](const ServerRequest&) { return ServerReply{}; });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.timeouts.idle = milliseconds(0);
  auto client = MakeClient(o);
  ASSERT_TRUE(client->Send(Get("/a")).ok());
  ASSERT_TRUE(client->Send(Get("/a")).ok());
  EXPECT_EQ(client->Snapshot().connections_opened, 2u);
}

TEST(Client, SendsTheBasePathPrefixHostAndJsonHeaders) {
  ServerRequest seen;
  std::mutex mu;
  TestServer server([&](const ServerRequest& r) {
    std::lock_guard lock(mu);
    seen = r;
    return ServerReply{};
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.base_url += "/prefix";
  auto client = MakeClient(o);
  Request req = Post("/crm/v3/objects/companies/batch/read", R"({"inputs":[]})", true);
  req.headers.push_back(BearerAuth("pat-na1-secret"));
  ASSERT_TRUE(client->Send(req).ok());
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/prefix/crm/v3/objects/companies/batch/read");
  EXPECT_EQ(seen.body, R"({"inputs":[]})");
  EXPECT_EQ(seen.headers["content-type"], "application/json");
  EXPECT_EQ(seen.headers["accept"], "application/json");
  EXPECT_EQ(seen.headers["authorization"], "Bearer pat-na1-secret");
  EXPECT_EQ(seen.headers["host"], "127.0.0.1:" + std::to_string(server.port()));
}

TEST(Client, KeepsAtMostMaxConnectionsRequestsInFlight) {
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;
  int peak = 0;
  TestServer server([&](const ServerRequest&) {
    std::unique_lock lock(mu);
    ++active;
    peak = std::max(peak, active);
    cv.notify_all();
    // Hold the request until a second one is in flight (or give up after a deadline).
    cv.wait_for(lock, std::chrono::seconds(2), [&] { return peak >= 2; });
    --active;
    return ServerReply{};
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.max_connections = 2;
  auto client = MakeClient(o);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) ok += client->Send(Get("/x")).ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 18);
  EXPECT_EQ(peak, 2);
  EXPECT_LE(server.connections_accepted(), 2);
}

TEST(Client, AServerThatNeverAnswersTimesOutWithinTheBound) {
  TestServer server([](const ServerRequest&) { return ServerReply::Hang(); });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.timeouts.read = milliseconds(200);
  o.retry.max_attempts = 2;
  auto client = MakeClient(o);
  auto start = std::chrono::steady_clock::now();
  auto r = client->Send(Get("/slow"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTimeout);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().attempts, 2);
  EXPECT_GE(elapsed, milliseconds(400));
  EXPECT_LT(elapsed, milliseconds(3000));
  EXPECT_EQ(client->Snapshot().timeouts, 2u);
  EXPECT_NE(r.error().message.find("GET /slow"), std::string::npos);
}

TEST(Client, RetriesADroppedConnectionForARequestSafeToRepeat) {
  TestServer server([](const ServerRequest& r) {
    if (r.index == 1) return ServerReply::Drop();
    return ServerReply{};
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  auto r = client->Send(Post("/crm/v3/objects/companies/batch/read", "{}", true));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server.requests_seen(), 2);
  EXPECT_EQ(client->Snapshot().retries, 1u);
}

TEST(Client, DoesNotRetryADroppedConnectionForAnUnsafeRequest) {
  TestServer server([](const ServerRequest& r) {
    if (r.index == 1) return ServerReply::Drop();
    return ServerReply{};
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  auto r = client->Send(Post("/crm/v3/objects/tasks/batch/create", "{}", false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConnection);
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_NE(r.error().message.find("not safe to repeat"), std::string::npos);
  EXPECT_EQ(server.requests_seen(), 1);
}

TEST(Client, RefusesAResponseLargerThanTheLimitWithoutRetrying) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.body = "[" + std::string(4096, ' ') + "]";
    return reply;
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.max_response_bytes = 1024;
  auto client = MakeClient(o);
  auto r = client->Send(Get("/big"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kResponseTooLarge);
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_EQ(server.requests_seen(), 1);
}

TEST(Client, RefusesAChunkedResponseLargerThanTheLimit) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.body = "[" + std::string(4096, ' ') + "]";
    reply.chunked = true;
    return reply;
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.max_response_bytes = 1024;
  auto client = MakeClient(o);
  auto r = client->Send(Get("/big"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kResponseTooLarge);
  o.max_response_bytes = 8192;
  auto roomy = MakeClient(o);
  auto fits = roomy->Send(Get("/big"));
  ASSERT_TRUE(fits.ok()) << fits.error().message;
  EXPECT_EQ(fits->body.size(), 4098u);
}

TEST(Client, HonoursRetryAfter) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    if (r.index == 1) {
      reply.status = 503;
      reply.body = R"({"status":"error","message":"busy","category":"X","correlationId":"c"})";
      reply.headers.push_back({"Retry-After", "3"});
    }
    return reply;
  });
  auto clock = std::make_shared<FakeClock>();
  auto client = MakeClient(OptionsFor(server, clock));
  auto r = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(clock->slept(), milliseconds(3000));
  EXPECT_LT(clock->slept(), milliseconds(3100));
}

TEST(Client, HonoursRetryAfterGivenAsAnHttpDate) {
  // The fake wall clock starts at 2026-01-01T00:00:00Z; the server asks to wait until 00:00:07.
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    if (r.index == 1) {
      reply.status = 503;
      reply.body = R"({"status":"error","message":"busy","category":"X","correlationId":"c"})";
      reply.headers.push_back({"Retry-After", "Thu, 01 Jan 2026 00:00:07 GMT"});
    }
    return reply;
  });
  auto clock = std::make_shared<FakeClock>();
  auto client = MakeClient(OptionsFor(server, clock));
  auto r = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(clock->slept(), milliseconds(7000));
  EXPECT_LT(clock->slept(), milliseconds(7100));
}

TEST(Client, ARetryAfterDateBeyondTheLimitIsReportedNotWaitedFor) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 503;
    reply.body = R"({"status":"error","message":"maintenance","category":"X","correlationId":"c"})";
    reply.headers.push_back({"Retry-After", "Thu, 01 Jan 2026 01:00:00 GMT"});
    return reply;
  });
  auto clock = std::make_shared<FakeClock>();
  auto client = MakeClient(OptionsFor(server, clock));
  auto r = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_EQ(r.error().retry_after_ms, 3'600'000);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(server.requests_seen(), 1);
}

// Each transient status is retried for a request safe to repeat and succeeds on the next attempt.
TEST(Client, RetriesEveryTransientStatusForARequestSafeToRepeat) {
  for (int status : {429, 500, 502, 503, 504}) {
    TestServer server([status](const ServerRequest& r) {
      ServerReply reply;
      if (r.index == 1) {
        reply.status = status;
        reply.body = R"({"status":"error","message":"transient","correlationId":"c"})";
      } else {
        reply.body = R"({"results":[]})";
      }
      return reply;
    });
    auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
    auto r = client->Send(Post("/crm/v3/objects/companies/batch/read", "{}", true));
    ASSERT_TRUE(r.ok()) << status << ": " << r.error().message;
    EXPECT_EQ(r->attempts, 2) << status;
    EXPECT_EQ(server.requests_seen(), 2) << status;
  }
}

TEST(Client, ReportsA500OnAnUnsafeRequestAsAnUnknownOutcomeWithoutRetrying) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 500;
    reply.body = R"({"status":"error","message":"oops","correlationId":"c"})";
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  auto r = client->Send(Post("/crm/v3/objects/tasks/batch/create", "{}", false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 500);
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_TRUE(r.error().outcome_unknown);
  EXPECT_EQ(server.requests_seen(), 1);
}

TEST(Client, ATimeoutOfARequestSafeToRepeatIsRetriedAndThenSucceeds) {
  TestServer server([](const ServerRequest& r) {
    if (r.index == 1) return ServerReply::Hang();
    return ServerReply{};
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.timeouts.read = milliseconds(200);
  auto client = MakeClient(o);
  auto r = client->Send(Post("/crm/v3/objects/companies/search", "{}", true));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(client->Snapshot().timeouts, 1u);
}

TEST(Client, StopsRetryingOnceTheRunsRetryBudgetIsSpent) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 503;
    reply.body = R"({"status":"error","message":"down","correlationId":"c"})";
    return reply;
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.retry.budget_fixed = 3;
  o.retry.budget_per_call = 0.5;  // 3 + 0.5 x calls started
  o.retry.max_attempts = 10;
  auto client = MakeClient(o);
  // Call 1: allowed 3.5 retries -> 3 retries, 4 attempts.
  auto r = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().attempts, 4);
  EXPECT_TRUE(r.error().retry_budget_spent);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_NE(r.error().message.find("retry budget"), std::string::npos);
  // Call 2: allowed 4 -> one more retry.
  auto r2 = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().attempts, 2);
  // The caller's own retries draw from the same budget.
  auto b = client->BackoffForRetry(1);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().kind, ErrorKind::kRetryBudget);
  EXPECT_TRUE(b.error().retryable);
  Counters c = client->Snapshot();
  EXPECT_EQ(c.retries, 4u);
  EXPECT_EQ(c.retry_budget_refusals, 3u);
  // A new run (ResetCounters) has a fresh budget.
  client->ResetCounters();
  EXPECT_TRUE(client->BackoffForRetry(1).ok());
  EXPECT_EQ(client->Snapshot().retries, 1u);
}

TEST(Client, BackoffForRetryWaitsTheJitteredBackoff) {
  TestServer server([](const ServerRequest&) { return ServerReply{}; });
  auto clock = std::make_shared<FakeClock>();
  ClientOptions o = OptionsFor(server, clock);
  o.retry.initial_delay = milliseconds(400);
  o.retry.jitter = 0.5;
  auto client = MakeClient(o);
  ASSERT_TRUE(client->BackoffForRetry(2).ok());  // 800 ms, jittered into [400, 800]
  EXPECT_GE(clock->slept(), milliseconds(400));
  EXPECT_LE(clock->slept(), milliseconds(800));
}

TEST(Client, BacksOffOnA429AndRetriesEvenAnUnsafeRequest) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    if (r.index <= 2) {
      reply.status = 429;
      reply.body =
          R"({"status":"error","message":"You have reached your ten_secondly_rolling limit.",)"
          R"("errorType":"RATE_LIMIT","correlationId":"c429","policyName":"TEN_SECONDLY_ROLLING"})";
      reply.headers = {{"X-HubSpot-RateLimit-Max", "100"},
                       {"X-HubSpot-RateLimit-Remaining", "0"},
                       {"X-HubSpot-RateLimit-Interval-Milliseconds", "10000"}};
    }
    return reply;
  });
  auto clock = std::make_shared<FakeClock>();
  auto client = MakeClient(OptionsFor(server, clock));
  auto r = client->Send(Post("/crm/v3/objects/tasks", "{}", false));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 3);
  // Each 429 blocks the lane for the rest of the interval.
  EXPECT_GE(clock->slept(), milliseconds(20000));
  Counters c = client->Snapshot();
  EXPECT_EQ(c.rate_limited, 2u);
  EXPECT_EQ(c.retries, 2u);
}

TEST(Client, ReportsAPersistent429WithPolicyAndEstimatedRetryAfter) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 429;
    reply.body =
        R"({"status":"error","message":"You have reached your ten_secondly_rolling limit.",)"
        R"("errorType":"RATE_LIMIT","correlationId":"c429","policyName":"TEN_SECONDLY_ROLLING"})";
    return reply;
  });
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.retry.max_attempts = 2;
  auto client = MakeClient(o);
  auto r = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kRateLimited);
  EXPECT_EQ(r.error().http_status, 429);
  EXPECT_EQ(r.error().policy_name, "TEN_SECONDLY_ROLLING");
  EXPECT_EQ(r.error().category, "RATE_LIMIT");
  EXPECT_EQ(r.error().correlation_id, "c429");
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().retry_after_ms, 10000);
  EXPECT_EQ(r.error().attempts, 2);
}

TEST(Client, DoesNotRetryTheDailyLimitAndReportsIt) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 429;
    reply.body = R"({"status":"error","message":"You have reached your daily limit.",)"
                 R"("errorType":"RATE_LIMIT","correlationId":"cd","policyName":"DAILY"})";
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  auto r = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kRateLimited);
  EXPECT_EQ(r.error().policy_name, "DAILY");
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(r.error().attempts, 1);
  // Further calls are refused locally until the daily reset.
  auto again = client->Send(Get("/crm/v3/objects/companies"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kQuotaReserve);
  EXPECT_EQ(server.requests_seen(), 1);
}

TEST(Client, MapsACrmErrorAndDoesNotRetryIt) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 400;
    reply.body = R"({"status":"error","message":"Property values were not valid",)"
                 R"("correlationId":"aeb5f871","category":"VALIDATION_ERROR"})";
    reply.headers.push_back({"X-HubSpot-Correlation-Id", "header-cid"});
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  auto r = client->Send(Post("/crm/v3/objects/companies/batch/update", "{}", true));
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.kind, ErrorKind::kHttpStatus);
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.category, "VALIDATION_ERROR");
  EXPECT_EQ(e.crm_message, "Property values were not valid");
  EXPECT_EQ(e.correlation_id, "aeb5f871");
  EXPECT_EQ(e.endpoint, "POST /crm/v3/objects/companies/batch/update");
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(server.requests_seen(), 1);
}

TEST(Client, RefusesToSpendTheDailyReserve) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    reply.headers = {{"X-HubSpot-RateLimit-Daily", "1000"},
                     {"X-HubSpot-RateLimit-Daily-Remaining", std::to_string(103 - r.index)}};
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));  // reserve 10%
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Get("/a")).ok()) << i;
  // The server now says 100 left, which is the reserve: the next call is not sent.
  auto refused = client->Send(Get("/a"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kQuotaReserve);
  EXPECT_FALSE(refused.error().retryable);
  EXPECT_NE(refused.error().message.find("reserve"), std::string::npos);
  EXPECT_EQ(server.requests_seen(), 3);
  Counters c = client->Snapshot();
  EXPECT_EQ(c.quota_refusals, 1u);
  EXPECT_EQ(c.daily_limit, 1000);
  EXPECT_EQ(c.daily_remaining, 100);
}

TEST(Client, CountsBytesLatencyAndQuota) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.body = std::string(100, 'x');
    reply.content_type = "text/plain";
    reply.headers = {{"X-HubSpot-RateLimit-Daily", "250000"},
                     {"X-HubSpot-RateLimit-Daily-Remaining", "249000"},
                     {"X-HubSpot-RateLimit-Max", "190"},
                     {"X-HubSpot-RateLimit-Remaining", "189"},
                     {"X-HubSpot-RateLimit-Interval-Milliseconds", "10000"}};
    return reply;
  });
  auto client = MakeClient(OptionsFor(server, std::make_shared<FakeClock>()));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->Send(Post("/p", "{\"a\":1}", true)).ok());
  Counters c = client->Snapshot();
  EXPECT_EQ(c.calls, 20u);
  EXPECT_EQ(c.failed_calls, 0u);
  EXPECT_GT(c.bytes_in, 20u * 100u);
  EXPECT_GT(c.bytes_out, 20u * 7u);
  EXPECT_GT(c.latency_p50_ms, 0.0);
  EXPECT_LE(c.latency_p50_ms, c.latency_p95_ms);
  EXPECT_LE(c.latency_p95_ms, c.latency_p99_ms);
  EXPECT_EQ(c.daily_limit, 250000);
  EXPECT_EQ(c.daily_remaining, 249000);
  EXPECT_EQ(c.window_max, 190);
  client->ResetCounters();
  EXPECT_EQ(client->Snapshot().calls, 0u);
}

TEST(Client, NeverLogsTheToken) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    if (r.index == 1) reply.status = 503;
    if (r.index == 2) {
      reply.status = 401;
      reply.body =
          R"({"message":"Bearer pat-na1-topsecret is not valid","category":"INVALID_AUTHENTICATION","correlationId":"c"})";
    }
    return reply;
  });
  std::mutex mu;
  std::vector<std::string> lines;
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.log = [&](LogLevel, std::string_view m) {
    std::lock_guard lock(mu);
    lines.emplace_back(m);
  };
  auto client = MakeClient(o);
  Request req = Get("/crm/v3/owners");
  req.headers.push_back(BearerAuth("pat-na1-topsecret"));
  auto r = client->Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_EQ(r.error().message.find("topsecret"), std::string::npos);
  std::lock_guard lock(mu);
  ASSERT_GE(lines.size(), 2u);  // the retry and the failure
  for (const auto& line : lines) EXPECT_EQ(line.find("topsecret"), std::string::npos) << line;
}

TEST(Client, StopsRetryingWhenCancelled) {
  TestServer server([](const ServerRequest&) {
    ServerReply reply;
    reply.status = 503;
    return reply;
  });
  std::atomic<bool> cancel{false};
  ClientOptions o = OptionsFor(server, std::make_shared<FakeClock>());
  o.cancelled = [&] { return cancel.load(); };
  o.log = [&](LogLevel, std::string_view m) {
    if (m.find("retry 1") != std::string_view::npos) cancel = true;
  };
  auto client = MakeClient(o);
  auto r = client->Send(Get("/x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCancelled);
  EXPECT_EQ(server.requests_seen(), 1);
}

TEST(Client, PacesToTheServersWindow) {
  TestServer server([](const ServerRequest& r) {
    ServerReply reply;
    reply.headers = {{"X-HubSpot-RateLimit-Max", "10"},
                     {"X-HubSpot-RateLimit-Remaining", std::to_string(std::max(0, 10 - r.index))},
                     {"X-HubSpot-RateLimit-Interval-Milliseconds", "1000"}};
    return reply;
  });
  auto clock = std::make_shared<FakeClock>();
  ClientOptions o = OptionsFor(server, clock);
  auto client = MakeClient(o);
  for (int i = 0; i < 19; ++i) ASSERT_TRUE(client->Send(Get("/x")).ok());
  // Budget 9 per 1000 ms: the 10th and 19th calls had to wait for the window.
  EXPECT_GE(clock->slept(), milliseconds(2000));
  EXPECT_EQ(client->Snapshot().rate_limited, 0u);
}

TEST(Client, ConnectionRefusedIsRetriedEvenForAnUnsafeRequest) {
  int port;
  {
    TestServer gone([](const ServerRequest&) { return ServerReply{}; });
    port = gone.port();
  }
  ClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.clock = std::make_shared<FakeClock>();
  o.retry.max_attempts = 3;
  auto client = MakeClient(o);
  auto r = client->Send(Post("/x", "{}", false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConnection);
  EXPECT_EQ(r.error().attempts, 3);
}

TEST(Client, RejectsABadBaseUrl) {
  ClientOptions o;
  o.base_url = "api.hubapi.com";
  auto c = Client::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace kam::http
