// Compiles kam/addin.h as C++ with the project's warnings.
#include "kam/addin.h"

#include <type_traits>

static_assert(std::is_standard_layout_v<kam_addin_api>);
static_assert(std::is_trivially_copyable_v<kam_error>);

int main() { return KAM_OK; }
