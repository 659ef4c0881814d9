// The thread rules of kam/addin.h, seen by a host that dlopens libkam_addin.so: a concurrent
// invoke() on one instance is KAM_CONFLICT, destroy() while invoke() runs waits for the call
// (and cancels it), destroy() from inside the instance's own callback is deferred to the end of
// the call, separate instances run in parallel (run under the tsan preset for data races), and
// JSON at the boundary has size and depth limits. No sleeps: threads meet on conditions.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kam/addin.h"

namespace {

constexpr auto kDeadline = std::chrono::seconds(120);

const kam_addin_api* Api() {
  static const kam_addin_api* api = [] {
    void* lib = dlopen(KAM_ADDIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return static_cast<const kam_addin_api*>(nullptr);
    auto negotiate =
        reinterpret_cast<kam_addin_negotiate_fn>(dlsym(lib, KAM_ADDIN_NEGOTIATE_SYMBOL));
    const kam_addin_api* table = nullptr;
    if (negotiate == nullptr || negotiate(KAM_ABI_MAJOR, KAM_ABI_MINOR, &table) != KAM_OK) {
      return static_cast<const kam_addin_api*>(nullptr);
    }
    return table;  // the library stays loaded for the whole test program
  }();
  return api;
}

kam_error NewError() {
  kam_error e;
  std::memset(&e, 0x5a, sizeof e);
  e.struct_size = sizeof e;
  return e;
}

kam_buffer NewBuffer() {
  kam_buffer b{};
  b.struct_size = sizeof b;
  return b;
}

// A host whose instance serves the sandbox: "listening on" is a condition the test waits for;
// cancellation is a flag the test sets. Callbacks after `closed` are a failure.
struct ServingHost {
  std::mutex mu;
  std::condition_variable cv;
  bool listening = false;
  bool cancel = false;
  std::atomic<bool> closed{false};
  std::atomic<int> calls_after_close{0};
  std::function<void()> on_listening;  // runs on the invoking thread

  kam_host_api Api() {
    kam_host_api h{};
    h.struct_size = sizeof h;
    h.host_data = this;
    h.log = [](void* d, int32_t, const char* msg, size_t len) {
      auto* self = static_cast<ServingHost*>(d);
      if (self->closed) ++self->calls_after_close;
      if (std::string(msg, len).rfind("listening on ", 0) != 0) return;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        self->listening = true;
      }
      self->cv.notify_all();
      if (self->on_listening) self->on_listening();
    };
    h.is_cancelled = [](void* d) -> int32_t {
      auto* self = static_cast<ServingHost*>(d);
      if (self->closed) ++self->calls_after_close;
      std::lock_guard<std::mutex> lock(self->mu);
      return self->cancel ? 1 : 0;
    };
    return h;
  }
  bool WaitListening() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kDeadline, [this] { return listening; });
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu);
    cancel = true;
  }
};

constexpr char kServe[] = "sandbox.serve";
constexpr char kServeRequest[] = R"({"port": 0, "accounts": 5, "threads": 1})";

int32_t InvokeServe(kam_instance* inst, kam_buffer* out, kam_error* err) {
  return Api()->invoke(inst, kServe, sizeof kServe - 1, kServeRequest, sizeof kServeRequest - 1,
                       out, err);
}

class AbiThreads : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(Api(), nullptr) << "cannot load " << KAM_ADDIN_PATH; }
};

TEST_F(AbiThreads, ASecondConcurrentInvokeOnOneInstanceGetsConflict) {
  ServingHost host;
  kam_host_api api = host.Api();
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(&api, "{}", 2, &inst, &err), KAM_OK) << err.message;

  int32_t serve_rc = -1;
  kam_buffer serve_out = NewBuffer();
  kam_error serve_err = NewError();
  std::thread server([&] { serve_rc = InvokeServe(inst, &serve_out, &serve_err); });
  ASSERT_TRUE(host.WaitListening());

  kam_buffer out = NewBuffer();
  err = NewError();
  EXPECT_EQ(Api()->invoke(inst, "version", 7, "{}", 2, &out, &err), KAM_CONFLICT);
  EXPECT_EQ(err.status, KAM_CONFLICT);
  EXPECT_NE(std::strstr(err.message, "already running"), nullptr) << err.message;
  EXPECT_EQ(out.data, nullptr);

  host.Cancel();
  server.join();
  EXPECT_EQ(serve_rc, KAM_OK) << serve_err.message;
  Api()->free_buffer(&serve_out);

  // The instance is free again once the first call has returned.
  err = NewError();
  EXPECT_EQ(Api()->invoke(inst, "version", 7, "{}", 2, &out, &err), KAM_OK) << err.message;
  Api()->free_buffer(&out);
  Api()->destroy(inst);
}

TEST_F(AbiThreads, DestroyWhileInvokeRunsCancelsTheCallAndWaitsForItToReturn) {
  ServingHost host;
  kam_host_api api = host.Api();
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(&api, "{}", 2, &inst, &err), KAM_OK) << err.message;

  int32_t serve_rc = -1;
  kam_buffer serve_out = NewBuffer();
  kam_error serve_err = NewError();
  std::thread server([&] { serve_rc = InvokeServe(inst, &serve_out, &serve_err); });
  ASSERT_TRUE(host.WaitListening());

  // The host never cancels: destroy() itself must stop the call, and return only after it.
  Api()->destroy(inst);
  host.closed = true;
  // The call's result was written before destroy() returned (destroy waited for the call).
  EXPECT_NE(serve_out.data, nullptr);
  server.join();
  EXPECT_EQ(serve_rc, KAM_OK) << serve_err.message;
  EXPECT_EQ(host.calls_after_close.load(), 0);
  Api()->free_buffer(&serve_out);
}

TEST_F(AbiThreads, DestroyFromInsideTheInstancesOwnCallbackFreesItWhenTheCallReturns) {
  ServingHost host;
  kam_host_api api = host.Api();
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(&api, "{}", 2, &inst, &err), KAM_OK) << err.message;
  host.on_listening = [&] { Api()->destroy(inst); };  // cannot wait for itself: deferred

  kam_buffer out = NewBuffer();
  err = NewError();
  EXPECT_EQ(InvokeServe(inst, &out, &err), KAM_OK) << err.message;
  EXPECT_NE(out.data, nullptr);
  Api()->free_buffer(&out);
  // LeakSanitizer (asan/ci presets) fails the test if the instance was not freed.
}

TEST_F(AbiThreads, SeparateInstancesRunInParallel) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&failures, t] {
      kam_instance* inst = nullptr;
      kam_error err = NewError();
      if (Api()->create(nullptr, "{}", 2, &inst, &err) != KAM_OK) {
        ++failures;
        return;
      }
      for (int i = 0; i < kCalls; ++i) {
        const std::string request = R"({"rule": {"+": [{"var": "a"}, )" + std::to_string(t) +
                                    R"(]}, "data": {"a": )" + std::to_string(i) + "}}";
        kam_buffer out = NewBuffer();
        err = NewError();
        const char* op = (i % 10 == 0) ? "version" : "jsonlogic.apply";
        int32_t rc =
            Api()->invoke(inst, op, std::strlen(op), request.data(), request.size(), &out, &err);
        const std::string expected = "{\"result\":" + std::to_string(i + t) + "}";
        if (rc != KAM_OK || (i % 10 != 0 && expected != out.data)) ++failures;
        Api()->free_buffer(&out);
      }
      Api()->destroy(inst);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

class AbiBoundary : public AbiThreads {};

TEST_F(AbiBoundary, ARequestNestedDeeperThanTheLimitIsRefusedWithItsPosition) {
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(nullptr, "{}", 2, &inst, &err), KAM_OK);
  const std::string deep =
      "{\"rule\":\n" + std::string(1000000, '[') + std::string(1000000, ']') + "}";
  kam_buffer out = NewBuffer();
  err = NewError();
  EXPECT_EQ(Api()->invoke(inst, "jsonlogic.apply", 15, deep.data(), deep.size(), &out, &err),
            KAM_INVALID_ARGUMENT);
  EXPECT_STREQ(err.location, "request:2:256");  // the 256th '[' opens level 257
  EXPECT_NE(std::strstr(err.message, "nested deeper than the limit of 256"), nullptr)
      << err.message;

  // 256 levels are fine.
  const std::string ok = R"({"rule": {"var": "a"}, "data": {"a": )" + std::string(254, '[') +
                         std::string(254, ']') + "}}";
  err = NewError();
  EXPECT_EQ(Api()->invoke(inst, "jsonlogic.apply", 15, ok.data(), ok.size(), &out, &err), KAM_OK)
      << err.message;
  Api()->free_buffer(&out);
  Api()->destroy(inst);
}

// Found by the fuzz target abi_request: nlohmann::json reports 1e400 as out_of_range, not as a
// parse_error, and it came back as KAM_INTERNAL.
TEST_F(AbiBoundary, ANumberTooLargeForADoubleIsAnInvalidArgument) {
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(nullptr, "{}", 2, &inst, &err), KAM_OK);
  const std::string request = R"({"rule": {"+": [1e400, 1]}})";
  kam_buffer out = NewBuffer();
  EXPECT_EQ(Api()->invoke(inst, "jsonlogic.apply", 15, request.data(), request.size(), &out, &err),
            KAM_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(err.message, "number overflow"), nullptr) << err.message;
  EXPECT_STREQ(err.location, "request");
  Api()->destroy(inst);
}

TEST_F(AbiBoundary, BracketsInsideStringsDoNotCountAsNesting) {
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  const std::string config = R"({"comment": ")" + std::string(1000, '[') + R"(\"{"})";
  ASSERT_EQ(Api()->create(nullptr, config.data(), config.size(), &inst, &err), KAM_OK)
      << err.message;
  Api()->destroy(inst);
}

TEST_F(AbiBoundary, AConfigLargerThanOneMebibyteIsRefusedNamingTheLimit) {
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  const std::string config = R"({"comment": ")" + std::string(1u << 20, 'x') + "\"}";
  EXPECT_EQ(Api()->create(nullptr, config.data(), config.size(), &inst, &err),
            KAM_INVALID_ARGUMENT);
  EXPECT_EQ(inst, nullptr);
  EXPECT_NE(std::strstr(err.message, "larger than the limit of 1048576 bytes"), nullptr)
      << err.message;
  EXPECT_STREQ(err.location, "config");
}

TEST_F(AbiBoundary, ABufferWhoseStructSizeIsTooSmallIsRefused) {
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(nullptr, "{}", 2, &inst, &err), KAM_OK);
  kam_buffer out = NewBuffer();
  out.struct_size = offsetof(kam_buffer, size);
  EXPECT_EQ(Api()->invoke(inst, "version", 7, "{}", 2, &out, &err), KAM_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(err.message, "sizeof(kam_buffer)"), nullptr) << err.message;
  Api()->destroy(inst);
}

TEST_F(AbiBoundary, ALongUnknownOperationNameIsTruncatedOnACharacterBoundary) {
  kam_instance* inst = nullptr;
  kam_error err = NewError();
  ASSERT_EQ(Api()->create(nullptr, "{}", 2, &inst, &err), KAM_OK);
  std::string op;
  while (op.size() < 2000) op += "\xC3\xA9";  // é, two bytes each
  kam_buffer out = NewBuffer();
  EXPECT_EQ(Api()->invoke(inst, op.data(), op.size(), "{}", 2, &out, &err), KAM_NOT_FOUND);
  const size_t n = std::strlen(err.message);
  EXPECT_LT(n, sizeof err.message);
  EXPECT_EQ(std::string(err.message, 19), "unknown operation '");
  EXPECT_EQ((n - 19) % 2, 0u) << "a cut inside a two-byte character";
  Api()->destroy(inst);
}

}  // namespace
