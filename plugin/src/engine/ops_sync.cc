// sync, dry_run, status, provision, report, demo: not built yet (see the sync issue).
#include "operation.h"

namespace kam::engine {
void RegisterSyncOps(OpTable&) {}
}  // namespace kam::engine
