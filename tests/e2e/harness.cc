#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace kam::e2e {

std::string KamBinary() {
  // KAM_E2E_KAM runs the tests against another kam (e.g. a copy, so that a long soak is not
  // disturbed by a rebuild of the build tree); the add-in is found next to it (../lib).
  const char* env = std::getenv("KAM_E2E_KAM");
  return env != nullptr && *env != '\0' ? env : KAM_E2E_KAM;
}
std::string ExampleRules() { return KAM_E2E_EXAMPLE_RULES; }

namespace {

std::atomic<uint64_t> g_counter{0};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s, size_t max = 4000) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > max) s = "…" + s.substr(s.size() - max);
  return s;
}

}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("kam-e2e-" + std::to_string(getpid()) + "-" +
                                       std::to_string(rd()) + "-" + std::to_string(g_counter++));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string Outcome::Describe() const {
  std::string what = timed_out ? "timed out"
                     : killed  ? "killed on purpose"
                     : signal  ? "killed by signal " + std::to_string(signal)
                               : "exit " + std::to_string(exit_code);
  return what + "\n--- stderr:\n" + Trim(err) + "\n--- stdout:\n" + Trim(out, 1500);
}

json Outcome::Json() const {
  std::istringstream in(out);
  std::string line;
  json last = nullptr;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) last = std::move(j);
  }
  return last;
}

// ---------- child processes ----------

Child::Child(const Command& command, const fs::path& io_dir) : timeout_(command.timeout) {
  fs::create_directories(io_dir);
  const std::string tag = std::to_string(g_counter++);
  out_path_ = io_dir / ("child-" + tag + ".out");
  err_path_ = io_dir / ("child-" + tag + ".err");

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (command.env.count(name) ||
        std::count(command.unset_env.begin(), command.unset_env.end(), name)) {
      continue;
    }
    env_strings.push_back(std::move(kv));
  }
  for (const auto& [k, v] : command.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = command.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  // fork + execve rather than posix_spawn, for PR_SET_PDEATHSIG: a child (a sandbox serving
  // for hours, a kam sync) is killed when the test process dies, even by SIGKILL or a crash,
  // instead of living on. The death signal follows the forking *thread*: children are made and
  // finished on the same thread (the soak's workers each own their sandboxes). Between fork and
  // execve only async-signal-safe calls.
  int pipe_fds[2] = {-1, -1};
  if (command.stderr_pipe && pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  const int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out_fd = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = command.stderr_pipe
                         ? pipe_fds[1]
                         : open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int exec_status[2] = {-1, -1};  // the child writes errno here when chdir or execve fails
  if (in_fd < 0 || out_fd < 0 || err_fd < 0 || pipe2(exec_status, O_CLOEXEC) != 0) {
    throw std::runtime_error("cannot set up the child's files in " + io_dir.string() + ": " +
                             std::strerror(errno));
  }
  const pid_t parent = getpid();
  const char* cwd = command.cwd.empty() ? nullptr : command.cwd.c_str();
  started_ = std::chrono::steady_clock::now();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    int e = 0;
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0 ||
        (cwd != nullptr && chdir(cwd) != 0)) {
      e = errno;
    } else {
      execve(argv[0], argv.data(), envp.data());
      e = errno;
    }
    ssize_t ignored = write(exec_status[1], &e, sizeof(e));
    (void)ignored;
    _exit(127);
  }
  const int fork_errno = errno;
  close(in_fd);
  close(out_fd);
  if (command.stderr_pipe) {
    close(pipe_fds[1]);
    stderr_fd_ = pipe_fds[0];
  } else {
    close(err_fd);
  }
  close(exec_status[1]);
  if (pid_ < 0) {
    close(exec_status[0]);
    throw std::runtime_error("cannot fork for " + command.argv[0] + ": " +
                             std::strerror(fork_errno));
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_status[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_status[0]);
  if (n > 0) {  // execve did not happen: reap the child and say why
    int status = 0;
    waitpid(pid_, &status, 0);
    done_ = true;
    if (stderr_fd_ >= 0) close(stderr_fd_);
    throw std::runtime_error("cannot start " + command.argv[0] + ": " + std::strerror(child_errno));
  }
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

Child::~Child() {
  if (!done_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) close(pidfd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

void Child::Reap(int status) {
  done_ = true;
  status_ = status;
}

bool Child::WaitFor(std::chrono::milliseconds wait) {
  if (done_) return true;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      Reap(status);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (pidfd_ >= 0) {
      // The pidfd becomes readable when the child ends: no polling loop.
      pollfd p{pidfd_, POLLIN, 0};
      poll(&p, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(5)));
    }
  }
}

void Child::KillNow() {
  if (done_) return;
  killed_ = true;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  Reap(status);
}

Outcome Child::Finish() {
  if (!done_) {
    auto left = timeout_ - std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started_);
    if (!WaitFor(std::max(left, std::chrono::milliseconds(0)))) {
      timed_out_ = true;
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      Reap(status);
    }
  }
  Outcome o;
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  o.killed = killed_;
  o.timed_out = timed_out_;
  if (WIFEXITED(status_)) o.exit_code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) o.signal = WTERMSIG(status_);
  o.out = ReadAll(out_path_);
  if (stderr_fd_ < 0) o.err = ReadAll(err_path_);
  return o;
}

Outcome RunCommand(const Command& command, const fs::path& io_dir) {
  Child c(command, io_dir);
  return c.Finish();
}

// ---------- HTTP ----------

json HttpReply::Json() const {
  if (body.empty()) return json::object();
  return json::parse(body);
}

HttpReply Http(uint16_t port, const std::string& method, const std::string& target,
               const std::string& body, const std::string& bearer) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(e));
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\nAccept: application/json\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      throw std::runtime_error(method + " " + target + ": send failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  size_t header_end = std::string::npos;
  size_t content_length = std::string::npos;
  bool chunked = false;
  char buf[65536];
  for (;;) {
    if (header_end != std::string::npos && content_length != std::string::npos &&
        in.size() >= header_end + 4 + content_length) {
      break;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos &&
        (header_end = in.find("\r\n\r\n")) != std::string::npos) {
      std::string head = in.substr(0, header_end);
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (auto p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
        content_length = std::stoul(lower.substr(p + 17));
      }
      chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
    }
  }
  close(fd);
  if (header_end == std::string::npos || in.compare(0, 5, "HTTP/") != 0) {
    throw std::runtime_error(method + " " + target + ": no HTTP answer");
  }
  HttpReply r;
  r.status = std::stoi(in.substr(in.find(' ') + 1, 3));
  std::string rest = in.substr(header_end + 4);
  if (chunked) {
    std::string decoded;
    size_t pos = 0;
    for (;;) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      decoded += rest.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    r.body = std::move(decoded);
  } else if (content_length != std::string::npos) {
    r.body = rest.substr(0, content_length);
  } else {
    r.body = std::move(rest);
  }
  return r;
}

// ---------- the sandbox ----------

Sandbox::Sandbox(const SandboxSpec& spec) : spec_(spec) {
  Command c;
  c.argv = {KamBinary(),
            "sandbox",
            "serve",
            "--port",
            "0",
            "--accounts",
            std::to_string(spec.accounts),
            "--seed",
            std::to_string(spec.seed)};
  if (!spec.faults.empty()) {
    c.argv.push_back("--faults");
    c.argv.push_back(spec.faults);
  }
  c.argv.insert(c.argv.end(), spec.extra_args.begin(), spec.extra_args.end());
  c.timeout = std::chrono::hours(24);
  c.stderr_pipe = true;
  child_ = std::make_unique<Child>(c, io_.path());
  // The sandbox announces its port on stderr ("kam: info: listening on http://127.0.0.1:P").
  // A thread drains the pipe for the sandbox's whole life; we wait for that line (<= 120 s).
  std::promise<uint16_t> announced;
  std::future<uint16_t> port = announced.get_future();
  drain_ = std::thread([this, fd = child_->stderr_fd(), p = std::move(announced)]() mutable {
    const std::string marker = "listening on http://127.0.0.1:";
    bool told = false;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::lock_guard<std::mutex> lock(err_mu_);
      err_.append(buf, static_cast<size_t>(n));
      if (auto at = err_.find(marker); !told && at != std::string::npos) {
        size_t start = at + marker.size();
        size_t end = err_.find_first_not_of("0123456789", start);
        if (end != std::string::npos) {
          p.set_value(static_cast<uint16_t>(std::stoi(err_.substr(start, end - start))));
          told = true;
        }
      }
    }
    if (!told) p.set_value(0);  // ended without announcing
  });
  if (port.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    child_->KillNow();
    drain_.join();
    stopped_ = true;
    throw std::runtime_error("kam sandbox serve did not announce its port within 120 s:\n" + err_);
  }
  port_ = port.get();
  if (port_ == 0) {
    drain_.join();
    stopped_ = true;
    Outcome o = child_->Finish();
    throw std::runtime_error("kam sandbox serve ended before listening: " + o.Describe() + err_);
  }
}

Sandbox::~Sandbox() { Stop(); }

Outcome Sandbox::Stop() {
  if (stopped_) return {};
  stopped_ = true;
  kill(child_->pid(), SIGTERM);  // the host turns it into a cancel: the server stops cleanly
  Outcome o;
  if (child_->WaitFor(std::chrono::seconds(30))) {
    o = child_->Finish();
  } else {
    child_->KillNow();
    o = child_->Finish();
  }
  if (drain_.joinable()) drain_.join();
  std::lock_guard<std::mutex> lock(err_mu_);
  o.err = err_;
  return o;
}

json Sandbox::Api(const std::string& method, const std::string& target, const json& body,
                  int expect) {
  HttpReply r = Http(port_, method, target, body.is_null() ? "" : body.dump(), "sandbox-token");
  bool ok = expect == 0 ? (r.status >= 200 && r.status < 300) : r.status == expect;
  if (!ok) {
    throw std::runtime_error(method + " " + target + ": HTTP " + std::to_string(r.status) + " " +
                             r.body.substr(0, 500));
  }
  return r.Json();
}

json Sandbox::Admin(const std::string& method, const std::string& target, const json& body) {
  HttpReply r = Http(port_, method, target, body.is_null() ? "" : body.dump());
  if (r.status < 200 || r.status >= 300) {
    throw std::runtime_error(method + " " + target + ": HTTP " + std::to_string(r.status) + " " +
                             r.body.substr(0, 500));
  }
  return r.Json();
}

void Sandbox::SetFaults(const std::string& spec) {
  Admin("PUT", "/_sandbox/faults", {{"spec", spec}});
}

void Sandbox::EditCompany(const std::string& id, const json& properties) {
  Admin("POST", "/_sandbox/objects/companies/" + id, {{"properties", properties}});
}

namespace {

// Every live object of a type with the given properties, id -> properties (faults must be off).
std::map<std::string, json> ListAll(Sandbox& s, const std::string& type,
                                    const std::string& properties) {
  std::map<std::string, json> out;
  std::string after;
  for (;;) {
    json page = s.Api("GET", "/crm/v3/objects/" + type + "?limit=100&properties=" + properties +
                                 (after.empty() ? "" : "&after=" + after));
    for (const auto& r : page["results"]) out[r["id"].get<std::string>()] = r["properties"];
    if (!page.contains("paging")) break;
    after = page["paging"]["next"]["after"].get<std::string>();
  }
  return out;
}

json Value(const json& props, const char* key) {
  auto it = props.find(key);
  if (it == props.end() || it->is_null()) return nullptr;
  if (it->is_string() && it->get<std::string>().empty()) return nullptr;
  return *it;
}

}  // namespace

std::vector<std::string> Sandbox::CompanyIds() {
  std::vector<std::string> ids;
  for (auto& [id, p] : ListAll(*this, "companies", "name")) ids.push_back(id);
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return ids;
}

bool IsWriteRoute(const std::string& route) {
  const bool post = route.rfind("POST ", 0) == 0;
  return route.rfind("PATCH ", 0) == 0 || route.rfind("PUT ", 0) == 0 ||
         route.rfind("DELETE ", 0) == 0 ||
         (post && route.find("/search") == std::string::npos &&
          route.find("/batch/read") == std::string::npos &&
          route.find("/oauth/") == std::string::npos);
}

uint64_t WriteCalls(const json& counters) {
  uint64_t n = 0;
  const json routes = counters.value("by_route", json::object());
  for (const auto& [route, count] : routes.items()) {
    if (IsWriteRoute(route)) n += count.get<uint64_t>();
  }
  return n;
}

json Footprint(Sandbox& sandbox) {
  json companies = json::object();
  for (auto& [id, p] : ListAll(sandbox, "companies",
                               "kam_score,kam_tier,kam_breakdown,kam_next_tier_hint,"
                               "kam_rules_version")) {
    companies[id] = {{"kam_score", Value(p, "kam_score")},
                     {"kam_tier", Value(p, "kam_tier")},
                     {"kam_breakdown", Value(p, "kam_breakdown")},
                     {"kam_next_tier_hint", Value(p, "kam_next_tier_hint")},
                     {"kam_rules_version", Value(p, "kam_rules_version")}};
  }
  json tasks = json::object();
  json others = json::object();
  json all = sandbox.Admin("GET", "/_sandbox/tasks");
  for (const auto& t : all["results"]) {
    const json& p = t["properties"];
    std::vector<std::string> cids = t.value("companyIds", std::vector<std::string>{});
    std::sort(cids.begin(), cids.end());
    json view = {{"subject", Value(p, "hs_task_subject")},   {"status", Value(p, "hs_task_status")},
                 {"owner", Value(p, "hubspot_owner_id")},    {"body", Value(p, "hs_task_body")},
                 {"due", Value(p, "hs_timestamp")},  // a date: see below
                 {"priority", Value(p, "hs_task_priority")}, {"companies", cids}};
    json key = Value(p, "kam_task_key");
    if (key.is_string()) {
      // The add-in sets the due time to "now + due_in_days": two runs of the same day agree on
      // the date, not on the millisecond.
      if (view["due"].is_string()) view["due"] = view["due"].get<std::string>().substr(0, 10);
      json& slot = tasks[key.get<std::string>()];
      int count = slot.is_object() ? slot.value("count", 0) : 0;
      view["count"] = count + 1;
      slot = view;
    } else {
      others[t["id"].get<std::string>()] = view;
    }
  }
  return {{"companies", companies}, {"tasks", tasks}, {"others", others}};
}

std::vector<std::string> Differences(const json& expected, const json& actual, size_t limit) {
  std::vector<std::string> out;
  size_t total = 0;
  auto note = [&](std::string s) {
    if (++total <= limit) out.push_back(std::move(s));
  };
  for (const char* section : {"companies", "tasks", "others"}) {
    const json& e = expected.contains(section) ? expected[section] : json::object();
    const json& a = actual.contains(section) ? actual[section] : json::object();
    std::set<std::string> keys;
    for (const auto& [k, v] : e.items()) keys.insert(k);
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& k : keys) {
      if (!e.contains(k)) {
        note(std::string(section) + " " + k + ": unexpected " + a[k].dump().substr(0, 300));
      } else if (!a.contains(k)) {
        note(std::string(section) + " " + k + ": missing, expected " + e[k].dump().substr(0, 300));
      } else if (e[k] != a[k]) {
        for (const auto& [field, v] : e[k].items()) {
          json got = a[k].contains(field) ? a[k][field] : json(nullptr);
          if (got != v) {
            note(std::string(section) + " " + k + " ." + field + ": expected " +
                 v.dump().substr(0, 200) + ", CRM has " + got.dump().substr(0, 200));
          }
        }
      }
    }
  }
  if (total > out.size()) {
    out.push_back("… " + std::to_string(total - out.size()) + " more differences");
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// ---------- the admin's folder ----------

Workspace::Workspace(const Sandbox& sandbox, const json& overrides) {
  fs::create_directories(config_dir());
  fs::create_directories(elsewhere());
  fs::copy_file(ExampleRules(), config_dir() / "key-accounts.json");
  json c = {{"crm", "hubspot"},
            {"rules", "key-accounts.json"},
            {"state", "state/kam.db"},
            {"hubspot",
             {{"base_url", sandbox.url()},
              {"rate", {{"enabled", false}}},
              {"retry", {{"initial_delay_ms", 20}, {"max_delay_ms", 200}}}}}};
  c.merge_patch(overrides);
  fs::create_directories(config_dir() / "state");
  WriteConfig(c);
}

void Workspace::WriteConfig(const json& config) {
  config_ = config;
  std::ofstream(config_file()) << config.dump(2) << "\n";
}

Command Workspace::Kam(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout) const {
  Command c;
  c.argv = {KamBinary(), "--config", config_file().string()};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.env = {{"KAM_HUBSPOT_TOKEN", "sandbox-token"},
           // LeakSanitizer's tracer sometimes crashes at the exit of a loaded, multi-threaded
           // kam ("Tracer caught signal 11", exit 1 after a complete sync). The CRM is the
           // judge here; leaks are the unit and ABI tests' business.
           {"ASAN_OPTIONS", "detect_leaks=0"}};
  c.unset_env = {"KAM_CONFIG", "KAM_PLUGIN", "KAM_HUBSPOT_TOKEN_FILE", "KAM_TEST_CRASH_AT"};
  c.cwd = elsewhere();
  c.timeout = timeout;
  return c;
}

Outcome Workspace::RunKam(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout) const {
  return RunCommand(Kam(args, timeout), io_dir());
}

}  // namespace kam::e2e
