// Item 1 of issue 10 through the binary: a CRM (here: a forwarder in front of the sandbox) that
// echoes the token in 401, 4xx, 5xx and malformed 200 bodies. After `kam -v provision`, `sync`,
// `status` and `report --html`, the token is in no output and in no file of the state folder.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "crm_forwarder.h"
#include "kam/sandbox/sandbox_server.h"
#include "kam/store/store.h"
#include "kam_process.h"

namespace kam::security_testing {
namespace {

// Not shaped like any token pattern: only redaction by value can hide it.
constexpr const char* kToken = "Zx9-sEcReT-7f3a91c0d2e4b5";
// A token the add-in never saw, in a shape the patterns know.
constexpr const char* kForeignToken = "rt-NEVERSEEN-1234567";

enum class Echo { kNone, k401, k500, kMalformed200, k400OnBatchUpdate };

// Answers with a body that echoes the Authorization it received, or lets the request through to
// the sandbox.
class EchoingCrm {
 public:
  explicit EchoingCrm(const std::string& sandbox_url)
      : front_(sandbox_url, [this](const ServerRequest& r) { return Echoed(r); }) {}
  std::string url() const { return front_.url(); }
  void Set(Echo echo) { echo_ = echo; }
  int echoes() const { return echoes_; }

 private:
  std::optional<ServerReply> Echoed(const ServerRequest& r) {
    auto auth = r.headers.find("authorization");
    const std::string sent = auth == r.headers.end() ? "" : auth->second;
    const std::string token = sent.rfind("Bearer ", 0) == 0 ? sent.substr(7) : sent;
    const Echo echo = echo_.load();
    const bool batch_update = r.target.find("/batch/update") != std::string::npos;
    ServerReply reply;
    if (echo == Echo::k401) {
      reply.status = 401;
      reply.body = R"({"status":"error","message":"Authentication credentials not found: )" +
                   token + R"( (header: )" + sent + R"x()","correlationId":"c-401",)x" +
                   R"("category":"INVALID_AUTHENTICATION","context":{"access_token":")" + token +
                   R"(","refresh_token":")" + kForeignToken + R"("}})";
    } else if (echo == Echo::k500) {
      reply.status = 500;
      reply.body = R"({"status":"error","message":"internal error handling )" + token +
                   R"(","category":"INTERNAL_ERROR"})";
    } else if (echo == Echo::kMalformed200) {
      reply.status = 200;
      reply.body = "<html>oops " + token + " {\"results\": [";
    } else if (echo == Echo::k400OnBatchUpdate && batch_update) {
      reply.status = 400;
      reply.body = R"({"status":"error","message":"Property values were not valid: token=)" +
                   token + R"(","category":"VALIDATION_ERROR","errors":[{"message":")" + token +
                   R"( is not allowed","context":{"id":["1"]}}]})";
    } else {
      return std::nullopt;
    }
    ++echoes_;
    return reply;
  }

  std::atomic<Echo> echo_{Echo::kNone};
  std::atomic<int> echoes_{0};
  CrmForwarder front_;  // last: stops before the members its handler uses
};

TEST(SecretEcho, NoEchoedTokenReachesOutputLogsStateFilesOrReports) {
  const mode_t old_umask = umask(022);  // the state files must be 0600 anyway
  const std::string dir = MakeTempDir("kam_secret_echo_");
  ASSERT_FALSE(dir.empty());
  const std::string state = dir + "/state";
  std::filesystem::create_directories(state);
  std::filesystem::create_directories(dir + "/out");

  sandbox::SandboxOptions so;
  so.accounts = 20;
  so.token = kToken;
  so.search_per_second = 0;
  auto sandbox = sandbox::SandboxServer::Start(so);
  ASSERT_TRUE(sandbox.ok()) << sandbox.error;
  EchoingCrm crm(sandbox.server->url());

  WriteFile(dir + "/kam.json", R"({"crm": "hubspot", "rules": ")" KAM_EXAMPLE_RULES R"(",
    "state": ")" + state + R"(/kam.db",
    "hubspot": {"base_url": ")" + crm.url() +
                                   R"(", "rate": {"enabled": false},
                "retry": {"max_attempts": 1}}})");
  const std::vector<std::pair<std::string, std::string>> env = {{"KAM_HUBSPOT_TOKEN", kToken}};
  int step = 0;
  std::string all_output;
  auto kam = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", dir + "/kam.json", "-v"});
    KamRun r = RunKam(args, env, dir + "/out/" + std::to_string(++step));
    all_output += r.out + r.err;
    return r;
  };

  crm.Set(Echo::k401);
  EXPECT_EQ(kam({"provision"}).exit_code, 4);
  EXPECT_EQ(kam({"sync"}).exit_code, 4);
  EXPECT_EQ(kam({"--json", "sync"}).exit_code, 4);
  const int after_401 = crm.echoes();
  EXPECT_GT(after_401, 0);

  crm.Set(Echo::kNone);
  KamRun provision = kam({"provision"});
  ASSERT_EQ(provision.exit_code, 0) << provision.err;

  crm.Set(Echo::k400OnBatchUpdate);
  KamRun sync400 = kam({"sync"});  // the per-record failures are recorded
  EXPECT_NE(sync400.out.find("write errors: "), std::string::npos) << sync400.out;
  const int after_400 = crm.echoes();
  EXPECT_GT(after_400, after_401);

  crm.Set(Echo::k500);
  EXPECT_EQ(kam({"sync", "--full"}).exit_code, 6);
  const int after_500 = crm.echoes();
  EXPECT_GT(after_500, after_400);

  crm.Set(Echo::kMalformed200);
  EXPECT_NE(kam({"sync"}).exit_code, 0);
  EXPECT_GT(crm.echoes(), after_500);

  crm.Set(Echo::kNone);
  kam({"sync"});
  EXPECT_EQ(kam({"status"}).exit_code, 0);
  KamRun check = kam({"state", "check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("Integrity check: ok"), std::string::npos) << check.out;
  const std::string version = std::to_string(kam::store::kSchemaVersion);
  EXPECT_NE(check.out.find("schema version " + version + " (this build " + version + ")"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(kam({"--json", "status"}).exit_code, 0);
  EXPECT_EQ(kam({"report", "--html", state + "/report.html"}).exit_code, 0);
  EXPECT_EQ(kam({"--json", "report"}).exit_code, 0);

  // The test can fail: the echoes reached kam and were redacted, not lost.
  EXPECT_NE(all_output.find("[redacted]"), std::string::npos) << all_output;
  EXPECT_TRUE(std::filesystem::exists(state + "/report.html"));
  EXPECT_EQ(all_output.find(kToken), std::string::npos) << all_output;
  EXPECT_EQ(all_output.find(kForeignToken), std::string::npos) << all_output;
  for (const char* secret : {kToken, kForeignToken}) {
    EXPECT_EQ(FilesContaining(state, secret), std::vector<std::string>{}) << secret;
    EXPECT_EQ(FilesContaining(dir + "/out", secret), std::vector<std::string>{}) << secret;
  }
  for (const auto& entry : std::filesystem::directory_iterator(state)) {
    if (entry.path().extension() == ".html") continue;  // a report for people
    struct stat st {};
    ASSERT_EQ(stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << entry.path();
  }
  umask(old_umask);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace kam::security_testing
