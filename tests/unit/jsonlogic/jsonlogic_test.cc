#include <gtest/gtest.h>
#include "kam/jsonlogic/jsonlogic.h"
TEST(JsonLogic, Placeholder) {}
