#include <gtest/gtest.h>

// Keeps the unit suite non-empty until the pure modules bring their own tests.
TEST(Build, UnitSuiteRuns) { EXPECT_EQ(2 + 2, 4); }
