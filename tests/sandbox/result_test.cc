// Tests OutcomeName: the stable names used by the API and the CLI.
#include "sandbox/result.h"

#include "gtest/gtest.h"

namespace zerocell::sandbox {
namespace {

TEST(OutcomeNameTest, EveryOutcomeHasItsName) {
  EXPECT_EQ(OutcomeName(Outcome::kExited), "EXITED");
  EXPECT_EQ(OutcomeName(Outcome::kSignaled), "SIGNALED");
  EXPECT_EQ(OutcomeName(Outcome::kTimeout), "TIMEOUT");
  EXPECT_EQ(OutcomeName(Outcome::kCpuLimit), "CPU_LIMIT");
  EXPECT_EQ(OutcomeName(Outcome::kMemoryLimit), "MEMORY_LIMIT");
  EXPECT_EQ(OutcomeName(Outcome::kOutputLimit), "OUTPUT_LIMIT");
  EXPECT_EQ(OutcomeName(Outcome::kPolicyViolation), "POLICY_VIOLATION");
}

}  // namespace
}  // namespace zerocell::sandbox
