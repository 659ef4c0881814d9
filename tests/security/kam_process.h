// Helpers of the security tests that run the `kam` binary as a user does: a temporary folder,
// running kam with arguments and environment (stdout and stderr to files), reading files, and
// finding a string in every file under a folder.
#ifndef KAM_TESTS_SECURITY_KAM_PROCESS_H_
#define KAM_TESTS_SECURITY_KAM_PROCESS_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace kam::security_testing {

inline std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

struct KamRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs KAM_BINARY (with --plugin KAM_PLUGIN) with `args` and `env` added to (or replacing in)
// this process's environment; stdout and stderr go to <out_prefix>.stdout/.stderr.
inline KamRun RunKam(const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     const std::string& out_prefix) {
  std::vector<std::string> argv_s = {KAM_BINARY, "--plugin", KAM_PLUGIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    bool replaced = false;
    for (const auto& [k, v] : env) replaced = replaced || entry.rfind(k + "=", 0) == 0;
    if (!replaced) env_s.push_back(entry);
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out_file = out_prefix + ".stdout", err_file = out_prefix + ".stderr";
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  KamRun run;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) == 0) {
    int status = 0;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  }
  posix_spawn_file_actions_destroy(&fa);
  run.out = Slurp(out_file);
  run.err = Slurp(err_file);
  return run;
}

// Every file under `dir` (recursively) whose bytes contain `needle`.
inline std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (Slurp(entry.path()).find(needle) != std::string::npos) hits.push_back(entry.path());
  }
  return hits;
}

}  // namespace kam::security_testing

#endif  // KAM_TESTS_SECURITY_KAM_PROCESS_H_
