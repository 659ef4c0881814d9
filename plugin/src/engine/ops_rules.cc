// rules.*, jsonlogic.apply: not built yet (see the rules issue).
#include "operation.h"

namespace kam::engine {
void RegisterRulesOps(OpTable&) {}
}  // namespace kam::engine
