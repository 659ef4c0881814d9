// sandbox.serve: not built yet (see the connector issue).
#include "operation.h"

namespace kam::engine {
void RegisterSandboxOps(OpTable&) {}
}  // namespace kam::engine
