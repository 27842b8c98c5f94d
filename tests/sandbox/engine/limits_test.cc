// Integration tests for run limits and outcomes: wall timeout, CPU limit, memory limit (malloc,
// mmap, brk, stack), output limit, exit codes, signals, and the usage report.
#include <signal.h>

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox {
namespace {

using ::testing::AnyOf;
using testing::Describe;
using testing::FindChannel;
using ::testing::HasSubstr;
using testing::Pattern;
using testing::RunGuest;
using testing::StdManifest;
using testing::StdoutOf;

// Slack for the host (2 shared cores) between a limit firing and Run returning.
constexpr absl::Duration kSlack = absl::Milliseconds(300);

TEST(EngineLimitsTest, InfiniteLoopEndsWithTimeout) {
  constexpr absl::Duration kTimeout = absl::Milliseconds(200);
  ManifestBuilder b = StdManifest({"spin"});
  b.set_timeout(kTimeout);
  absl::Time start = absl::Now();
  ZC_ASSERT_RUN(r, RunGuest("spin", b));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << Describe(r);
  EXPECT_GE(r.usage.wall, kTimeout);
  EXPECT_LT(elapsed, kTimeout + kSlack);
}

TEST(EngineLimitsTest, BusyLoopEndsWithCpuLimit) {
  constexpr absl::Duration kCpu = absl::Milliseconds(100);
  ManifestBuilder b = StdManifest({"spin_cpu", "0"});
  b.set_timeout(absl::Seconds(5)).set_cpu_limit(kCpu);
  absl::Time start = absl::Now();
  ZC_ASSERT_RUN(r, RunGuest("spin_cpu", b));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(r.outcome, Outcome::kCpuLimit) << Describe(r);
  // The run's CPU: the guest's and the supervisor's work for it (supervisor_cpu_test.cc).
  EXPECT_GE(r.usage.user_cpu + r.usage.system_cpu + r.usage.supervisor_cpu, kCpu);
  EXPECT_LT(elapsed, absl::Seconds(3)) << "the CPU limit must fire well before the timeout";
}

TEST(EngineLimitsTest, ShortComputationStaysUnderCpuLimit) {
  ManifestBuilder b = StdManifest({"spin_cpu", "5"});
  b.set_cpu_limit(absl::Seconds(1));
  ZC_ASSERT_RUN(r, RunGuest("spin_cpu", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_THAT(StdoutOf(r), HasSubstr("checksum="));
}

TEST(EngineLimitsTest, UsageIsReported) {
  ZC_ASSERT_RUN(r, RunGuest("spin_cpu", StdManifest({"spin_cpu", "30"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_GT(r.usage.wall, absl::ZeroDuration());
  EXPECT_GT(r.usage.user_cpu + r.usage.system_cpu, absl::ZeroDuration());
  EXPECT_LE(r.usage.user_cpu + r.usage.system_cpu, r.usage.wall + absl::Milliseconds(10));
  EXPECT_GT(r.usage.peak_memory_bytes, 0);
  EXPECT_GE(r.usage.notified_syscalls, 1);  // at least the write of the checksum
}

struct MemoryCase {
  const char* how;
  const char* call;  // what the detail must name; empty: "mmap" or "brk"
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const MemoryCase& c, std::ostream* os) { *os << c.how; }

class EngineMemoryLimitTest : public ::testing::TestWithParam<MemoryCase> {};

TEST_P(EngineMemoryLimitTest, AllocationAboveTheLimitIsStopped) {
  ManifestBuilder b = StdManifest({"alloc", "64", GetParam().how});
  b.set_memory_bytes(int64_t{32} << 20);
  ZC_ASSERT_RUN(r, RunGuest("alloc", b));
  EXPECT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  if (*GetParam().call != '\0') {
    EXPECT_THAT(r.detail, HasSubstr(GetParam().call));
  } else {
    // musl's malloc takes big blocks from brk or mmap depending on its version.
    EXPECT_THAT(r.detail, AnyOf(HasSubstr("mmap"), HasSubstr("brk")));
  }
  EXPECT_EQ(StdoutOf(r), "");
}

TEST_P(EngineMemoryLimitTest, AllocationBelowTheLimitSucceeds) {
  ManifestBuilder b = StdManifest({"alloc", "8", GetParam().how});
  b.set_memory_bytes(int64_t{32} << 20);
  ZC_ASSERT_RUN(r, RunGuest("alloc", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(StdoutOf(r), "ok\n");
  EXPECT_GE(r.usage.peak_memory_bytes, int64_t{8} << 20);  // the pages were touched
}

TEST_P(EngineMemoryLimitTest, SmallAllocationsAddUp) {
  // 5 x 10 MiB, none released: 50 MiB of address space under a 32 MiB limit.
  ManifestBuilder b = StdManifest({"alloc", "10", GetParam().how, "5"});
  b.set_memory_bytes(int64_t{32} << 20);
  ZC_ASSERT_RUN(r, RunGuest("alloc", b));
  EXPECT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
}

TEST_P(EngineMemoryLimitTest, ReleasedMemoryIsAvailableAgain) {
  // 5 x 10 MiB, each released before the next: never more than 10 MiB at once.
  ManifestBuilder b = StdManifest({"alloc", "10", GetParam().how, "5", "free"});
  b.set_memory_bytes(int64_t{32} << 20);
  ZC_ASSERT_RUN(r, RunGuest("alloc", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "ok\n");
}

INSTANTIATE_TEST_SUITE_P(Calls, EngineMemoryLimitTest,
                         ::testing::Values(MemoryCase{"malloc", ""}, MemoryCase{"mmap", "mmap"},
                                           MemoryCase{"brk", "brk"}),
                         [](const auto& info) { return std::string(info.param.how); });

TEST(EngineLimitsTest, StackIsAnEighthOfMemory) {
  // memory 8 MiB -> stack 1 MiB: 512 KiB of frames fit, 2 MiB overflow into unmapped memory.
  ManifestBuilder fits = StdManifest({"stack_probe", "512"});
  fits.set_memory_bytes(int64_t{8} << 20);
  ZC_ASSERT_RUN(ok, RunGuest("stack_probe", fits));
  EXPECT_EQ(ok.outcome, Outcome::kExited) << Describe(ok);
  EXPECT_THAT(StdoutOf(ok), HasSubstr("ok"));

  ManifestBuilder overflows = StdManifest({"stack_probe", "2048"});
  overflows.set_memory_bytes(int64_t{8} << 20);
  ZC_ASSERT_RUN(bad, RunGuest("stack_probe", overflows));
  EXPECT_EQ(bad.outcome, Outcome::kSignaled) << Describe(bad);
  EXPECT_EQ(bad.term_signal, SIGSEGV);
}

TEST(EngineLimitsTest, StackIsCappedAtEightMiB) {
  // memory 256 MiB -> stack min(32 MiB, 8 MiB) = 8 MiB.
  ManifestBuilder fits = StdManifest({"stack_probe", "6144"});
  ZC_ASSERT_RUN(ok, RunGuest("stack_probe", fits));
  EXPECT_EQ(ok.outcome, Outcome::kExited) << Describe(ok);

  ManifestBuilder overflows = StdManifest({"stack_probe", "10240"});
  ZC_ASSERT_RUN(bad, RunGuest("stack_probe", overflows));
  EXPECT_EQ(bad.outcome, Outcome::kSignaled) << Describe(bad);
  EXPECT_EQ(bad.term_signal, SIGSEGV);
}

TEST(EngineLimitsTest, OutputAboveTheLimitStopsTheGuestAndKeepsThePrefix) {
  ManifestBuilder b = StdManifest({"bigout", "5000", "700"});
  b.set_output_limit_bytes(1000);
  ZC_ASSERT_RUN(r, RunGuest("bigout", b));
  EXPECT_EQ(r.outcome, Outcome::kOutputLimit) << Describe(r);
  EXPECT_EQ(StdoutOf(r), Pattern(1000));
}

TEST(EngineLimitsTest, OutputLimitCountsEveryWritableChannel) {
  // random_io writes 600 bytes to stderr and then 600 to stdout: 1200 > 1000 in total.
  std::string chunk(600, 'e');
  ManifestBuilder b = StdManifest({"random_io", "write,2," + chunk, "write,1," + chunk});
  b.set_output_limit_bytes(1000);
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  EXPECT_EQ(r.outcome, Outcome::kOutputLimit) << Describe(r);
  EXPECT_EQ(testing::StderrOf(r), chunk);
  EXPECT_EQ(StdoutOf(r), std::string(400, 'e'));
}

TEST(EngineLimitsTest, OutputExactlyAtTheLimitIsAllowed) {
  ManifestBuilder b = StdManifest({"bigout", "1000", "300"});
  b.set_output_limit_bytes(1000);
  ZC_ASSERT_RUN(r, RunGuest("bigout", b));
  EXPECT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), Pattern(1000));
}

TEST(EngineLimitsTest, PutQuotaBelowTheOutputLimitIsEdquotNotAKill) {
  ManifestBuilder b;
  b.add_channel(StdinChannel(""))
      .add_channel(StdoutChannel(500))
      .add_channel(StderrChannel(testing::kStdOutputBytes))
      .set_argv({"bigout", "5000", "300"})
      .set_timeout(testing::kTestTimeout)
      .set_output_limit_bytes(100000);
  ZC_ASSERT_RUN(r, RunGuest("bigout", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(testing::StderrOf(r), "bigout: errno=122\n");
  EXPECT_EQ(StdoutOf(r), Pattern(500));
  EXPECT_TRUE(FindChannel(r, "/dev/stdout")->put_quota_exceeded);
}

class EngineExitCodeTest : public ::testing::TestWithParam<int> {};

TEST_P(EngineExitCodeTest, ExitCodeIsReported) {
  ZC_ASSERT_RUN(r, RunGuest("exit_code", StdManifest({"exit_code", std::to_string(GetParam())})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, GetParam() & 0xff);
}

INSTANTIATE_TEST_SUITE_P(Codes, EngineExitCodeTest, ::testing::Values(0, 1, 42, 255, 256));

TEST(EngineOutcomeTest, AbortIsSigabrt) {
  ZC_ASSERT_RUN(r, RunGuest("abort_guest", StdManifest({"abort_guest"})));
  EXPECT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
  EXPECT_EQ(r.term_signal, SIGABRT);
  EXPECT_EQ(StdoutOf(r), "aborting\n");  // output before the signal is kept
}

TEST(EngineOutcomeTest, NullDereferenceIsSigsegv) {
  ZC_ASSERT_RUN(r, RunGuest("segv", StdManifest({"segv"})));
  EXPECT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
  EXPECT_EQ(r.term_signal, SIGSEGV);
  EXPECT_EQ(StdoutOf(r), "before\n");
}

}  // namespace
}  // namespace zerocell::sandbox
