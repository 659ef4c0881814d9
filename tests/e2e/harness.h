// The end-to-end harness: runs `kam` as an admin and systemd do — the binary, a config file with
// relative paths, the token in the environment — against `kam sandbox serve` in a child process,
// and judges the outcome from the CRM's side (the sandbox's HubSpot API and /_sandbox/ admin
// API over a plain socket), never from the add-in's own summary alone.
//
// Nothing here links the add-in's code: the judge must not share a bug with what it judges.
#ifndef KAM_TESTS_E2E_HARNESS_H_
#define KAM_TESTS_E2E_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kam::e2e {

using nlohmann::json;
namespace fs = std::filesystem;

// Paths set by tests/e2e/CMakeLists.txt.
std::string KamBinary();
std::string ExampleRules();  // packaging/examples/rules/key-accounts.json

// A temporary folder removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// How a child process ended.
struct Outcome {
  int exit_code = -1;      // when it exited
  int signal = 0;          // when a signal ended it
  bool timed_out = false;  // it ran past its timeout and was killed
  bool killed = false;     // the test killed it on purpose (SIGKILL at a random moment)
  std::string out, err;
  double seconds = 0;
  // "exit 3" / "killed by signal 9" / "timed out", then stderr (trimmed) for failure messages.
  std::string Describe() const;
  json Json() const;  // stdout parsed as JSON (the last line that parses), or null
};

struct Command {
  std::vector<std::string> argv;           // argv[0] is the program path
  std::map<std::string, std::string> env;  // set on top of this process's environment
  std::vector<std::string> unset_env;      // removed
  fs::path cwd;                            // empty: this process's cwd
  std::chrono::milliseconds timeout{120'000};
  bool stderr_pipe = false;  // stderr to a pipe (Child::stderr_fd) instead of a file
};

// A child process with stdout and stderr in files of `io_dir`. The destructor SIGKILLs and
// reaps a child that still runs; a child also gets SIGKILL when the test process dies
// (PR_SET_PDEATHSIG, bound to the thread that started it: finish it on that thread).
class Child {
 public:
  Child(const Command& command, const fs::path& io_dir);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  int stderr_fd() const { return stderr_fd_; }  // read end of the stderr pipe, or -1
  // Waits up to `wait` for the child to end; true when it ended (then Finish() returns at once).
  bool WaitFor(std::chrono::milliseconds wait);
  // SIGKILLs the child now (if it still runs) and marks the outcome as killed on purpose.
  void KillNow();
  // Waits for the end (up to the command's timeout, then SIGKILL) and collects the outcome.
  Outcome Finish();

 private:
  void Reap(int status);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stderr_fd_ = -1;
  bool done_ = false;
  int status_ = 0;
  bool killed_ = false;
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::milliseconds timeout_;
  fs::path out_path_, err_path_;
};

// Runs a command to its end.
Outcome RunCommand(const Command& command, const fs::path& io_dir);

// A minimal HTTP/1.1 client over a loopback socket (Connection: close), for the judge.
struct HttpReply {
  int status = 0;
  std::string body;
  json Json() const;
};
HttpReply Http(uint16_t port, const std::string& method, const std::string& target,
               const std::string& body = "", const std::string& bearer = "");

// `kam sandbox serve` in a child process.
struct SandboxSpec {
  int accounts = 200;
  uint64_t seed = 42;
  std::string faults;                        // --faults SPEC, empty = none
  std::vector<std::string> extra_args = {};  // more options, e.g. {"--crm", "salesforce"}
};

class Sandbox {
 public:
  explicit Sandbox(const SandboxSpec& spec);
  ~Sandbox();  // Stop()
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const SandboxSpec& spec() const { return spec_; }

  // SIGTERM, then waits; the outcome's stdout holds the counters. Idempotent.
  Outcome Stop();

  // The HubSpot API with the sandbox token; throws on a transport failure or an unexpected
  // status (`expect` 0 = any 2xx).
  json Api(const std::string& method, const std::string& target, const json& body = nullptr,
           int expect = 0);
  // The admin API (/_sandbox/...).
  json Admin(const std::string& method, const std::string& target, const json& body = nullptr);

  json Counters() { return Admin("GET", "/_sandbox/counters"); }
  void SetFaults(const std::string& spec);
  void Reset() { Admin("POST", "/_sandbox/reset", json::object()); }
  // Edits a company as a person would (bumps its last-modified time).
  void EditCompany(const std::string& id, const json& properties);

  // Ids of all live companies, ascending.
  std::vector<std::string> CompanyIds();

 private:
  SandboxSpec spec_;
  TempDir io_;
  std::unique_ptr<Child> child_;
  std::thread drain_;
  std::mutex err_mu_;
  std::string err_;  // the sandbox's stderr so far
  uint16_t port_ = 0;
  bool stopped_ = false;
};

// Write calls in a counters snapshot (POST/PATCH/PUT/DELETE on CRM routes, except reads:
// search and batch/read). The difference of two snapshots = writes in between.
uint64_t WriteCalls(const json& counters);
bool IsWriteRoute(const std::string& route);  // "POST /crm/v3/objects/{type}/batch/update" …

// What the add-in left in the CRM, read through the sandbox's APIs with faults off:
//   companies: id -> the add-in's fields (kam_scored_at left out: it is a time)
//   tasks:     kam_task_key -> {count, subject, status, owner, body, due (the date), priority,
//              companies}
//   others:    tasks without a key (made by people) by id, same fields
json Footprint(Sandbox& sandbox);

// Human-readable differences between two footprints (at most `limit`), empty when equal.
std::vector<std::string> Differences(const json& expected, const json& actual, size_t limit = 12);
std::string Join(const std::vector<std::string>& lines);

// A folder with kam.json and the rule file beside it, paths relative to the config file.
class Workspace {
 public:
  // `overrides` is merged into the default config (e.g. {"batch_size": 10}).
  Workspace(const Sandbox& sandbox, const json& overrides = json::object());
  const fs::path& root() const { return dir_.path(); }
  fs::path config_dir() const { return dir_.path() / "conf"; }
  fs::path config_file() const { return config_dir() / "kam.json"; }
  fs::path state_file() const { return config_dir() / "state" / "kam.db"; }
  fs::path elsewhere() const { return dir_.path() / "elsewhere"; }  // a cwd without a config
  void WriteConfig(const json& config);
  const json& config() const { return config_; }

  // `kam --config <abs path of kam.json> ARGS…` run from elsewhere(), token from the env.
  Command Kam(const std::vector<std::string>& args,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(300'000)) const;
  Outcome RunKam(const std::vector<std::string>& args,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(300'000)) const;
  fs::path io_dir() const { return dir_.path() / "io"; }

 private:
  TempDir dir_;
  json config_;
};

}  // namespace kam::e2e

#endif  // KAM_TESTS_E2E_HARNESS_H_
