// kam: the reference host of the KAM add-in. Maps verbs to ABI operations, prints the result
// for a person (the result's "text") or as JSON (--json), and maps status codes to exit codes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_docs.h"
#include "plugin_loader.h"

namespace {

using nlohmann::json;

// Exit codes (README "Exit codes").
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInvalid = 3;
constexpr int kExitAuth = 4;
constexpr int kExitRateLimited = 5;
constexpr int kExitUnavailable = 6;
constexpr int kExitWriteErrors = 7;  // sync ran to the end, but some writes failed

int ExitCodeFor(int32_t status) {
  switch (status) {
    case KAM_OK: return kExitOk;
    case KAM_INVALID_ARGUMENT: return kExitInvalid;
    case KAM_UNAUTHENTICATED:
    case KAM_PERMISSION_DENIED: return kExitAuth;
    case KAM_RATE_LIMITED: return kExitRateLimited;
    case KAM_UNAVAILABLE: return kExitUnavailable;
    default: return kExitFailure;
  }
}

struct Globals {
  std::string plugin;
  std::string config_file;
  bool json_output = false;
  bool quiet = false;
  int verbose = 0;
};

// Reads a file, or fails with a message naming it.
bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// A JSON argument given inline or as @file.
bool JsonArgument(const std::string& what, const std::string& text, json* out,
                  std::string* error) {
  std::string content = text;
  if (!text.empty() && text[0] == '@' && !ReadFile(text.substr(1), &content, error)) return false;
  try {
    *out = json::parse(content);
    return true;
  } catch (const json::exception& e) {  // parse_error, or out_of_range.406 for 1e400
    *error = what + " is not valid JSON: " + e.what();
    return false;
  }
}

class Runner {
 public:
  explicit Runner(const Globals& globals) : globals_(globals) {}

  // Loads the plugin with the configuration; returns an exit code != 0 on failure.
  int Open() {
    std::string config = "{}";
    std::string config_path = globals_.config_file;
    if (config_path.empty()) {
      if (const char* env = std::getenv("KAM_CONFIG"); env != nullptr) config_path = env;
    }
    if (!config_path.empty()) {
      std::string error;
      if (!ReadFile(config_path, &config, &error)) {
        std::fprintf(stderr, "kam: %s\n", error.c_str());
        return kExitInvalid;
      }
      config = WithConfigDir(config, config_path);
    }
    kam::host::HostOptions options;
    options.verbosity = globals_.quiet ? 0 : 1 + globals_.verbose;
    options.progress = !globals_.quiet;
    std::string error;
    int32_t status = KAM_OK;
    plugin_ = kam::host::Plugin::Load(globals_.plugin, config, options, &error, &status);
    if (!plugin_) {
      std::fprintf(stderr, "kam: %s\n", error.c_str());
      return status == KAM_NOT_FOUND || status == KAM_VERSION_MISMATCH ? kExitFailure
                                                                       : ExitCodeFor(status);
    }
    return kExitOk;
  }

  // Invokes op and prints the outcome. `problems_exit` is the exit code when the result says
  // "ok": false (the operation ran and found problems, e.g. rule test failures).
  int Run(const std::string& op, const json& request, int problems_exit = kExitFailure) {
    if (int rc = Open(); rc != kExitOk) return rc;
    kam::host::InvokeResult r = plugin_->Invoke(op, request.dump());
    if (r.status != KAM_OK) {
      std::fprintf(stderr, "kam: %s failed: %s%s%s\n", op.c_str(), r.message.c_str(),
                   r.location.empty() ? "" : " at ", r.location.c_str());
      if (globals_.json_output) {
        json e = {{"error", {{"status", r.status}, {"message", r.message}}}};
        if (!r.location.empty()) e["error"]["location"] = r.location;
        if (r.http_status != 0) e["error"]["http_status"] = r.http_status;
        std::printf("%s\n", e.dump().c_str());
      }
      return ExitCodeFor(r.status);
    }
    json result = json::parse(r.json, nullptr, false);
    if (op == "jsonlogic.apply" && !globals_.json_output && result.is_object()) {
      // A rule author wants the value itself, or the rule's error.
      if (result.contains("error")) {
        const json& e = result["error"];
        std::fprintf(stderr, "kam: jsonlogic: %s: %s\n", e.value("type", "error").c_str(),
                     e.value("message", "").c_str());
        return kExitFailure;
      }
      std::printf("%s\n", result.value("result", json()).dump().c_str());
      return kExitOk;
    }
    if (globals_.json_output || result.is_discarded()) {
      std::printf("%s\n", r.json.c_str());
    } else if (result.is_object() && result.contains("text") && result["text"].is_string()) {
      std::string text = result["text"].get<std::string>();
      std::fputs(text.c_str(), stdout);
      if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
    } else {
      std::printf("%s\n", result.dump(2).c_str());
    }
    if (result.is_object() && result.value("ok", true) == false) return problems_exit;
    return kExitOk;
  }

  // jsonlogic apply --ndjson: one request per input line, one output line per input, in order.
  int RunNdjson() {
    if (int rc = Open(); rc != kExitOk) return rc;
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      kam::host::InvokeResult r = plugin_->Invoke("jsonlogic.apply", line);
      if (r.status == KAM_OK) {
        std::printf("%s\n", r.json.c_str());
      } else {
        json e = {{"error", {{"type", r.status == KAM_INVALID_ARGUMENT ? "Invalid Input"
                                                                       : "Internal Error"},
                             {"message", r.message + (r.location.empty() ? "" : " at " +
                                                                                  r.location)}}}};
        std::printf("%s\n", e.dump().c_str());
      }
      std::fflush(stdout);
    }
    return kExitOk;
  }

 private:
  // Relative paths in the configuration are relative to the configuration file: pass its folder.
  // A text nested deeper than the add-in accepts is passed on unchanged (the add-in refuses it
  // with its position) and never parsed or re-serialised here: dump() recurses per level.
  static std::string WithConfigDir(const std::string& config, const std::string& path) {
    if (NestingDepth(config) > kMaxConfigDepth) return config;
    json parsed = json::parse(config, nullptr, false);
    if (!parsed.is_object()) return config;  // the plugin reports the error with its position
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (!parsed.contains("config_dir")) parsed["config_dir"] = dir;
    return parsed.dump();
  }

  // The add-in's own limit for create() (plugin/src/abi/boundary_json.h, kConfigLimits).
  static constexpr size_t kMaxConfigDepth = 256;

  // The deepest nesting of arrays and objects, counting brackets outside of strings only.
  static size_t NestingDepth(const std::string& text) {
    size_t depth = 0;
    size_t deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        deepest = std::max(deepest, ++depth);
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
    return deepest;
  }

  const Globals& globals_;
  std::unique_ptr<kam::host::Plugin> plugin_;
};

std::string AbsolutePath(const std::string& p) {
  if (p.empty() || p[0] == '/' || p == "-") return p;
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return p;
  return std::string(buf) + "/" + p;
}

}  // namespace

int main(int argc, char** argv) {
  kam::host::InstallCancelHandlers();
  CLI::App app{"kam - key-account management for your CRM (reference host of the KAM add-in)",
               "kam"};
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("--plugin", g.plugin, "Path of libkam_addin.so (default: $KAM_PLUGIN, then next to kam)");
  app.add_option("--config", g.config_file, "Configuration file kam.json (default: $KAM_CONFIG)");
  app.add_flag("--json", g.json_output, "Print the result as JSON for scripts");
  app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr, no progress bar");
  app.add_flag("-v,--verbose", g.verbose, "More log output (repeat for debug)");
  app.footer(
      "Exit codes: 0 ok, 1 failure, 2 usage, 3 config or rules invalid, 4 CRM authentication,\n"
      "5 rate limit or quota, 6 CRM unavailable, 7 sync finished with write errors.\n"
      "Secrets: environment variable (e.g. KAM_HUBSPOT_TOKEN) or NAME_FILE naming a 0600 file.");

  json request = json::object();
  std::string op;
  int problems_exit = kExitFailure;
  std::string error;
  bool ndjson = false;

  auto* version = app.add_subcommand("version", "Show the add-in's version, ABI and libraries");
  version->callback([&] { op = "version"; });

  auto* rules = app.add_subcommand("rules", "Check, test, explain, evaluate and benchmark rule files");
  rules->require_subcommand(1);
  std::string rules_file, account_arg, accounts_file, out_file;
  uint64_t generate = 0;
  uint32_t seed = 42;
  auto* check = rules->add_subcommand("check", "Validate a rule file (errors with file:line:col)");
  check->add_option("FILE", rules_file, "Rule file")->required();
  check->callback([&] {
    op = "rules.check";
    request = {{"file", AbsolutePath(rules_file)}};
    problems_exit = kExitInvalid;
  });
  auto* test = rules->add_subcommand("test", "Run the tests embedded in a rule file");
  test->add_option("FILE", rules_file, "Rule file")->required();
  test->callback([&] {
    op = "rules.test";
    request = {{"file", AbsolutePath(rules_file)}};
    problems_exit = kExitInvalid;
  });
  auto* explain = rules->add_subcommand("explain", "Explain one account's scores, tier and tasks");
  explain->add_option("FILE", rules_file, "Rule file")->required();
  explain->add_option("--account", account_arg, "Account as JSON, or @file")->required();
  explain->callback([&] {
    op = "rules.explain";
    json account;
    if (!JsonArgument("--account", account_arg, &account, &error)) return;
    request = {{"file", AbsolutePath(rules_file)}, {"account", account}};
    problems_exit = kExitInvalid;
  });
  auto* eval = rules->add_subcommand("eval", "Evaluate accounts (NDJSON) and run the portfolio pass");
  eval->add_option("FILE", rules_file, "Rule file")->required();
  eval->add_option("--accounts", accounts_file, "Accounts, one JSON object per line")->required();
  eval->add_option("--out", out_file, "Write per-account results as NDJSON to this file");
  eval->callback([&] {
    op = "rules.eval";
    request = {{"file", AbsolutePath(rules_file)}, {"accounts", AbsolutePath(accounts_file)}};
    if (!out_file.empty()) request["output"] = AbsolutePath(out_file);
    problems_exit = kExitInvalid;
  });
  auto* bench = rules->add_subcommand("bench", "Benchmark rule evaluation (see README, Performance)");
  bench->add_option("--rules", rules_file, "Rule file")->required();
  auto* bench_accounts = bench->add_option("--accounts", accounts_file, "Accounts as NDJSON");
  auto* bench_generate =
      bench->add_option("--generate", generate, "Generate N accounts (bench/README generator)");
  bench->add_option("--seed", seed, "Generator seed")->capture_default_str();
  bench_accounts->excludes(bench_generate);
  bench->callback([&] {
    op = "rules.bench";
    request = {{"file", AbsolutePath(rules_file)}};
    if (!accounts_file.empty()) {
      request["accounts"] = AbsolutePath(accounts_file);
    } else if (generate > 0) {
      request["generate"] = generate;
      request["seed"] = seed;
    } else {
      error = "rules bench needs --accounts FILE or --generate N";
    }
  });

  auto* jsonlogic = app.add_subcommand("jsonlogic", "Try JsonLogic expressions");
  jsonlogic->require_subcommand(1);
  std::string rule_arg, data_arg;
  auto* apply = jsonlogic->add_subcommand(
      "apply", "Apply RULE to DATA and print the result; --ndjson reads {\"rule\",\"data\"} lines");
  apply->add_option("RULE", rule_arg, "JsonLogic rule as JSON, or @file");
  apply->add_option("DATA", data_arg, "Data as JSON, or @file (default {})");
  apply->add_flag("--ndjson", ndjson, "Read one {\"rule\":…,\"data\":…} per stdin line");
  apply->callback([&] {
    op = "jsonlogic.apply";
    if (ndjson) return;
    if (rule_arg.empty()) {
      error = "jsonlogic apply needs RULE (or --ndjson)";
      return;
    }
    json rule, data = json::object();
    if (!JsonArgument("RULE", rule_arg, &rule, &error)) return;
    if (!data_arg.empty() && !JsonArgument("DATA", data_arg, &data, &error)) return;
    request = {{"rule", rule}, {"data", data}};
  });

  bool dry_run = false, full = false;
  auto* sync = app.add_subcommand("sync", "Run one sync against the configured CRM");
  sync->add_flag("--dry-run", dry_run, "Pull and evaluate only; print what would be written");
  sync->add_flag("--full", full, "Pull everything, not only what changed");
  sync->callback([&] {
    op = dry_run ? "dry_run" : "sync";
    request = {{"full", full}};
    if (!dry_run) problems_exit = kExitWriteErrors;  // "ok": false = write errors
  });
  app.add_subcommand("provision", "Create the add-in's CRM properties (idempotent)")
      ->callback([&] { op = "provision"; });
  app.add_subcommand("status", "Last runs, cursor age, outbox backlog and quota")
      ->callback([&] { op = "status"; });
  std::string html;
  auto* report = app.add_subcommand("report", "Portfolio report: tiers, Pareto, capped accounts");
  report->add_option("--html", html, "Also write the report as HTML to this file");
  report->callback([&] {
    op = "report";
    if (!html.empty()) request["html"] = AbsolutePath(html);
  });
  auto* state = app.add_subcommand("state", "Maintenance of the state file");
  state->require_subcommand(1);
  state->add_subcommand("check", "SQLite integrity check, schema version and file modes")
      ->callback([&] { op = "state.check"; });
  // Admin commands: a first configuration, and a check of a whole setup.
  std::string init_file, init_crm = "hubspot", init_base_url, init_secret, init_rules, init_state;
  bool init_yes = false, init_no_provision = false, init_force = false, strict = false;
  auto* init = app.add_subcommand(
      "init", "Write a commented kam.json, check the token and offer to provision");
  init->add_option("FILE", init_file, "The file to write (default: --config, else kam.json)");
  init->add_option("--crm", init_crm, "hubspot or salesforce")
      ->check(CLI::IsMember({"hubspot", "salesforce"}))
      ->capture_default_str();
  init->add_option("--base-url", init_base_url, "The CRM's API URL (default: the vendor's)");
  init->add_option("--token-secret", init_secret,
                   "Name of the secret with the token (default KAM_HUBSPOT_TOKEN)");
  init->add_option("--rules", init_rules, "The rule file (default: the packaged example)");
  init->add_option("--state", init_state, "The state file (default kam-state.db)");
  auto* init_yes_flag = init->add_flag("--yes", init_yes, "Provision without asking");
  init->add_flag("--no-provision", init_no_provision, "Do not provision, do not ask")
      ->excludes(init_yes_flag);
  init->add_flag("--force", init_force, "Overwrite an existing file");
  init->callback([&] { op = "init"; });
  auto* doctor = app.add_subcommand(
      "doctor", "Check DNS, TLS, token, scopes, quota, clock, properties and state file");
  doctor->add_flag("--strict", strict, "Exit 1 on warnings too");
  doctor->footer("Exit status: 0 when no check failed (warnings allowed), 1 when one failed.");
  doctor->callback([&] {
    op = "doctor";
    request = {{"strict", strict}};
  });
  std::string demo_crm = "hubspot";
  auto* demo = app.add_subcommand("demo", "Run the whole story against the embedded sandbox CRM");
  demo->add_option("--crm", demo_crm, "Which sandbox CRM: hubspot or salesforce")
      ->check(CLI::IsMember({"hubspot", "salesforce"}))
      ->capture_default_str();
  demo->callback([&] {
    op = "demo";
    if (demo_crm != "hubspot") request = {{"crm", demo_crm}};
  });

  auto* sandbox = app.add_subcommand("sandbox", "The local sandbox CRM");
  sandbox->require_subcommand(1);
  auto* serve = sandbox->add_subcommand("serve", "Serve the sandbox CRM until interrupted");
  std::string host = "127.0.0.1", token, db, rate_limit, faults, latency, crm = "hubspot";
  uint32_t port = 0, accounts = 2000;
  uint64_t daily_limit = 0;
  bool task_key_unique = true;
  serve->add_option("--crm", crm, "Which CRM to speak: hubspot or salesforce")
      ->check(CLI::IsMember({"hubspot", "salesforce"}))
      ->capture_default_str();
  serve->add_option("--host", host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", port, "Port (0: a free port)")->capture_default_str();
  serve->add_option("--accounts", accounts, "Seeded companies")->capture_default_str();
  serve->add_option("--seed", seed, "Seed of the demo data")->capture_default_str();
  serve->add_option("--token", token, "Bearer token to accept (default sandbox-token)");
  serve->add_option("--db", db, "SQLite file (default: in memory)");
  serve->add_option("--rate-limit", rate_limit, "Burst limit, e.g. 100/10s");
  serve->add_option("--daily-limit", daily_limit, "Daily request limit");
  serve->add_option("--faults", faults, "Fault injection, e.g. 429=0.05,503=0.02,drop=0.01");
  serve->add_option("--latency-ms", latency, "Added latency range A-B");
  serve->add_option("--task-key-unique", task_key_unique,
                    "Allow a unique-value kam_task_key property on tasks")
      ->capture_default_str();
  serve->callback([&] {
    op = "sandbox.serve";
    request = {{"host", host}, {"port", port}, {"accounts", accounts}, {"seed", seed},
               {"task_key_unique", task_key_unique}};
    if (crm != "hubspot") request["crm"] = crm;
    if (!token.empty()) request["token"] = token;
    if (!db.empty()) request["db"] = AbsolutePath(db);
    if (!rate_limit.empty()) request["rate_limit"] = rate_limit;
    if (daily_limit > 0) request["daily_limit"] = daily_limit;
    if (!faults.empty()) request["faults"] = faults;
    if (!latency.empty()) request["latency_ms"] = latency;
  });

  // Documentation generated from this very command line (the package installs both).
  std::string shell;
  auto* completion = app.add_subcommand("completion", "Print a shell completion script");
  completion->add_option("SHELL", shell, "Shell (bash)")->required()->check(
      CLI::IsMember({"bash"}));
  completion->callback([&] { op = "completion"; });
  app.add_subcommand("man", "Print the manual page kam(1) in roff")->callback([&] {
    op = "man";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!error.empty()) {
    std::fprintf(stderr, "kam: %s\n", error.c_str());
    return kExitUsage;
  }
  if (op == "completion") {
    std::fputs(kam::host::BashCompletion(app).c_str(), stdout);
    return kExitOk;
  }
  if (op == "man") {
    std::fputs(kam::host::ManPage(app, KAM_VERSION, KAM_RELEASE_DATE).c_str(), stdout);
    return kExitOk;
  }
  if (op == "init") {
    // The file to write is the configuration, not one to load.
    if (init_file.empty()) init_file = g.config_file;
    if (init_file.empty()) {
      const char* env = std::getenv("KAM_CONFIG");
      init_file = env != nullptr && *env != '\0' ? env : "kam.json";
    }
    g.config_file.clear();
    unsetenv("KAM_CONFIG");
    bool provision = init_yes;
    const char* ci = std::getenv("CI");
    const bool interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO) &&
                             !(ci != nullptr && std::string(ci) == "true");
    if (!init_yes && !init_no_provision && interactive) {
      std::fprintf(stderr, "Create the add-in's CRM properties once the token checks out? [y/N] ");
      std::string answer;
      std::getline(std::cin, answer);
      provision = !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
    }
    request = {{"file", AbsolutePath(init_file)},
               {"crm", init_crm},
               {"provision", provision},
               {"force", init_force}};
    if (!init_base_url.empty()) request["base_url"] = init_base_url;
    if (!init_secret.empty()) request["token_secret"] = init_secret;
    if (!init_rules.empty()) request["rules"] = init_rules;
    if (!init_state.empty()) request["state"] = init_state;
  }
  Runner runner(g);
  if (op == "jsonlogic.apply" && ndjson) return runner.RunNdjson();
  return runner.Run(op, request, problems_exit);
}
