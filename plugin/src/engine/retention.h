// Retention and maintenance of the state file: pruning after each sync (retention_days) and the
// `state.check` operation (SQLite's integrity check, the schema version, the files' modes).
#ifndef KAM_ENGINE_RETENTION_H_
#define KAM_ENGINE_RETENTION_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>

#include "operation.h"

namespace kam::store {
class Store;
}

namespace kam::engine {

// Prunes what is older than retention_days before now_ms (nothing when retention_days is 0) and
// returns the counts ({"accounts":…, "audit":…, "runs":…, "history":…, "outbox":…, "tasks":…}).
// A failure is logged as a warning, never fails the sync.
nlohmann::json PruneExpired(store::Store& store, int retention_days, int64_t now_ms, Host& host);

}  // namespace kam::engine

#endif  // KAM_ENGINE_RETENTION_H_
