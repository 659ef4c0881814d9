// Retention after each sync and the state.check operation (see retention.h).
#include "retention.h"

#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config.h"
#include "kam/addin.h"
#include "kam/store/store.h"

namespace kam::engine {
namespace {

using nlohmann::json;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

// "0600", or null when the file does not exist.
json ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return nullptr;
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return mode;
}

json StateCheck(OpContext& ctx, const json& request) {
  if (!request.is_null() && !(request.is_object() && request.empty())) {
    throw OpError(StatusCode::kInvalidArgument, "state.check takes no request keys", "/");
  }
  EngineConfig cfg = ParseEngineConfig(ctx.config);
  std::unique_ptr<store::Store> st;
  try {
    st = store::Store::Open(cfg.state_path);
  } catch (const store::StoreLockedError& e) {
    throw OpError(StatusCode::kConflict, e.what(), cfg.state_path);
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), cfg.state_path);
  }
  try {
    std::vector<std::string> problems = st->IntegrityCheck();
    const bool ok = problems.size() == 1 && problems[0] == "ok";
    const int version = st->SchemaVersion();
    json files = json::object();
    bool private_files = true;
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
      json mode = ModeOf(cfg.state_path + suffix);
      if (mode.is_string() && mode.get<std::string>() != "0600") private_files = false;
      files[cfg.state_path + suffix] = mode;
    }
    json out = {{"ok", ok && private_files},
                {"state", cfg.state_path},
                {"integrity", ok ? json("ok") : json(problems)},
                {"schema_version", version},
                {"schema_version_supported", store::kSchemaVersion},
                {"files", files},
                {"retention_days", cfg.retention_days}};
    std::ostringstream text;
    text << "State file " << cfg.state_path << ": schema version " << version << " (this build "
         << store::kSchemaVersion << ").\nIntegrity check: " << (ok ? "ok" : "FAILED") << "\n";
    if (!ok) {
      for (const auto& p : problems) text << "  " << p << "\n";
    }
    for (const auto& [path, mode] : files.items()) {
      if (mode.is_null()) continue;
      text << "  " << path << ": mode " << mode.get<std::string>()
           << (mode.get<std::string>() == "0600" ? "" : " (expected 0600: run chmod 600 on it)")
           << "\n";
    }
    text << "Retention: "
         << (cfg.retention_days == 0 ? std::string("keep everything")
                                     : std::to_string(cfg.retention_days) + " days")
         << ".";
    out["text"] = text.str();
    return out;
  } catch (const store::StoreError& e) {
    throw OpError(StatusCode::kInternal, e.what(), cfg.state_path);
  }
}

}  // namespace

json PruneExpired(store::Store& store, int retention_days, int64_t now_ms, Host& host) {
  if (retention_days <= 0) return json::object();
  try {
    store::Store::PruneCounts n = store.Prune(now_ms - retention_days * kDayMs);
    return {{"accounts", n.accounts}, {"audit", n.audit},   {"runs", n.runs},
            {"history", n.history},   {"outbox", n.outbox}, {"tasks", n.tasks}};
  } catch (const store::StoreError& e) {
    host.Log(KAM_LOG_WARN, std::string("retention: pruning old data failed: ") + e.what());
    return json::object();
  }
}

void RegisterStateOps(OpTable& table) { table["state.check"] = &StateCheck; }

}  // namespace kam::engine
