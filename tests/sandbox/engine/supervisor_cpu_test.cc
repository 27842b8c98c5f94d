// The supervisor's work for a guest is the guest's CPU: it counts against the CPU limit, is
// reported, and a single call cannot make much of it.
#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using ::testing::HasSubstr;
using testing::KeyValues;
using testing::RunGuest;
using testing::StdManifest;
using testing::StdoutOf;

TEST(EngineSupervisorCpuTest, GetrandomWorkEndsAtTheCpuLimit) {
  // Endless getrandom calls cost the guest almost no CPU of its own (it waits while the
  // supervisor generates the bytes). Before, this ran until the wall timeout.
  constexpr absl::Duration kCpu = absl::Milliseconds(300);
  constexpr absl::Duration kTimeout = absl::Seconds(8);
  ManifestBuilder b = StdManifest({"supervisor_work", "getrandom"});
  b.set_cpu_limit(kCpu).set_timeout(kTimeout);
  const absl::Time start = absl::Now();
  ZC_ASSERT_RUN(r, RunGuest("supervisor_work", b));
  ASSERT_EQ(r.outcome, Outcome::kCpuLimit) << Describe(r);
  EXPECT_THAT(r.detail, HasSubstr("supervisor"));
  EXPECT_GE(r.usage.user_cpu + r.usage.system_cpu + r.usage.supervisor_cpu, kCpu);
  // A real share of the limit was the supervisor's work (how it splits with the guest's own CPU
  // depends on the host: both sides hand the CPU to each other on every call).
  EXPECT_GE(r.usage.supervisor_cpu, kCpu / 5);
  EXPECT_LT(absl::Now() - start, kTimeout / 2) << "the CPU limit must fire well before the timeout";
}

TEST(EngineSupervisorCpuTest, ChannelRewritesCountAgainstTheCpuLimit) {
  // 200 pwrites of 16 MiB at offset 0 of a random-write channel with an etag: each call copies
  // and hashes 16 MiB in the supervisor. Before, the guest (a few ms of its own CPU) ended EXITED
  // after seconds of the server's CPU.
  ManifestBuilder b = StdManifest({"supervisor_work", "rewrite", "200"});
  ChannelSpec out =
      testing::WriteChannel("/dev/out", testing::kBigQuota, ChannelType::kSeqReadRandWrite);
  out.etag = true;
  b.add_channel(out)
      .set_output_limit_bytes(int64_t{64} << 20)
      .set_cpu_limit(absl::Milliseconds(300))
      .set_timeout(absl::Seconds(20));
  ZC_ASSERT_RUN(r, RunGuest("supervisor_work", b));
  ASSERT_EQ(r.outcome, Outcome::kCpuLimit) << Describe(r);
  EXPECT_GT(r.usage.supervisor_cpu, r.usage.user_cpu + r.usage.system_cpu);
}

TEST(EngineSupervisorCpuTest, GetrandomGivesAtMostOneMiBACall) {
  // As the kernel may for any request above 256 bytes: a short count, never a long call.
  ZC_ASSERT_RUN(r, RunGuest("supervisor_work",
                            StdManifest({"supervisor_work", "getrandom", "1", "33554432"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(KeyValues(StdoutOf(r))["first"], "1048576");
}

TEST(EngineSupervisorCpuTest, SupervisorCpuIsReported) {
  ZC_ASSERT_RUN(r, RunGuest("supervisor_work",
                            StdManifest({"supervisor_work", "getrandom", "4", "1048576"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_GT(r.usage.supervisor_cpu, absl::ZeroDuration());
  EXPECT_LT(r.usage.supervisor_cpu, r.usage.wall);
}

}  // namespace
}  // namespace zerocell::sandbox
