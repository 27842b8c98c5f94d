// Unit tests of the process handlers against fake guest memory: the virtual clock, seeded random,
// identity, limits, memory accounting and exit.
#include <linux/audit.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sandbox/supervisor/memory_accounting.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/supervisor/run_budget.h"
#include "tests/sandbox/supervisor/handler_fixture.h"

namespace zerocell::sandbox::supervisor::handler_test {
namespace {

// ---- clock, random, identity --------------------------------------------------------------------

TEST_F(HandlersTest, ClocksReadTheVirtualClock) {
  ExpectValue(Run(SYS_clock_gettime, {CLOCK_REALTIME, kBuf}), 0);
  const timespec t1 = At<timespec>(kBuf);
  EXPECT_EQ(t1.tv_sec, 1000000);
  ExpectValue(Run(SYS_clock_gettime, {CLOCK_MONOTONIC, kBuf}), 0);
  const timespec m1 = At<timespec>(kBuf);
  EXPECT_EQ(m1.tv_sec, 0);
  timespec sleep = {5, 0};
  Put(kBuf + 0x100, std::string(reinterpret_cast<char*>(&sleep), sizeof(sleep)));
  ExpectValue(Run(SYS_nanosleep, {kBuf + 0x100, 0}), 0);
  ExpectValue(Run(SYS_clock_gettime, {CLOCK_MONOTONIC, kBuf}), 0);
  EXPECT_EQ(At<timespec>(kBuf).tv_sec, 5);
  ExpectError(Run(SYS_clock_gettime, {99, kBuf}), EINVAL);
  ExpectError(Run(SYS_clock_gettime, {CLOCK_REALTIME, kUnmapped}), EFAULT);
  const Reply secs = Run(SYS_time, {0});
  EXPECT_EQ(secs.value, 1000005);
  ExpectValue(Run(SYS_gettimeofday, {kBuf, 0}), 0);
  EXPECT_EQ(At<timeval>(kBuf).tv_sec, 1000005);
  ExpectValue(Run(SYS_clock_getres, {CLOCK_MONOTONIC, kBuf}), 0);
  EXPECT_EQ(At<timespec>(kBuf).tv_nsec, 1000);

  timespec bad = {0, 2000000000};
  Put(kBuf + 0x100, std::string(reinterpret_cast<char*>(&bad), sizeof(bad)));
  ExpectError(Run(SYS_nanosleep, {kBuf + 0x100, 0}), EINVAL);
  timespec until = {100, 0};  // absolute: advances the clock to it
  Put(kBuf + 0x100, std::string(reinterpret_cast<char*>(&until), sizeof(until)));
  ExpectValue(Run(SYS_clock_nanosleep, {CLOCK_MONOTONIC, TIMER_ABSTIME, kBuf + 0x100, 0}), 0);
  EXPECT_GE(guest_->clock_ns(), int64_t{100} * 1000000000);
  ExpectError(Run(SYS_clock_nanosleep, {77, 0, kBuf + 0x100, 0}), EINVAL);
}

TEST_F(HandlersTest, GetrandomIsSeededAndDeterministic) {
  ExpectValue(Run(SYS_getrandom, {kBuf, 32, 0}), 32);
  const std::string first = memory_->Bytes(kBuf, 32);
  Reset(manifest_);
  ExpectValue(Run(SYS_getrandom, {kBuf, 32, 0}), 32);
  EXPECT_EQ(memory_->Bytes(kBuf, 32), first);
  Manifest other = MakeManifest(8);
  Reset(other);
  ExpectValue(Run(SYS_getrandom, {kBuf, 32, 0}), 32);
  EXPECT_NE(memory_->Bytes(kBuf, 32), first);
  ExpectError(Run(SYS_getrandom, {kUnmapped, 32, 0}), EFAULT);
}

TEST_F(HandlersTest, IdentityIsFixed) {
  ExpectValue(Run(SYS_getpid), kGuestPid);
  ExpectValue(Run(SYS_gettid), kGuestPid);
  ExpectValue(Run(SYS_getppid), kGuestPpid);
  ExpectValue(Run(SYS_getuid), kGuestUid);
  ExpectValue(Run(SYS_getegid), kGuestGid);
  ExpectValue(Run(SYS_getresuid, {kBuf, kBuf + 4, kBuf + 8}), 0);
  EXPECT_EQ(At<uint32_t>(kBuf + 8), static_cast<uint32_t>(kGuestUid));
  ExpectValue(Run(SYS_uname, {kBuf}), 0);
  EXPECT_STREQ(At<utsname>(kBuf).nodename, "zerocell");
  ExpectError(Run(SYS_uname, {kUnmapped}), EFAULT);
  ExpectValue(Run(SYS_sched_getaffinity, {0, 128, kBuf}), 8);
  EXPECT_EQ(At<uint64_t>(kBuf), 1u);
  ExpectError(Run(SYS_sched_getaffinity, {0, 4, kBuf}), EINVAL);
  ExpectValue(Run(SYS_getcpu, {kBuf, 0, 0}), 0);
  ExpectError(Run(SYS_setuid, {0}), EPERM);
  ExpectError(Run(SYS_wait4, {static_cast<uint64_t>(-1), 0, 0, 0}), ECHILD);
  ExpectError(Run(SYS_futex, {kBuf, 6 /* FUTEX_LOCK_PI */, 0}), ENOSYS);
}

TEST_F(HandlersTest, LimitsComeFromTheManifestAndCannotBeRaised) {
  ExpectValue(Run(SYS_getrlimit, {RLIMIT_AS, kBuf}), 0);
  EXPECT_EQ(At<rlimit>(kBuf).rlim_cur, static_cast<rlim_t>(kMemory));
  ExpectValue(Run(SYS_prlimit64, {0, RLIMIT_NOFILE, 0, kBuf}), 0);
  EXPECT_EQ(At<rlimit>(kBuf).rlim_max, static_cast<rlim_t>(FdTable::kMaxFds));
  ExpectError(Run(SYS_prlimit64, {0, RLIMIT_AS, kBuf, 0}), EPERM);
  ExpectError(Run(SYS_prlimit64, {1234, RLIMIT_AS, 0, kBuf}), ESRCH);
  ExpectError(Run(SYS_getrlimit, {999, kBuf}), EINVAL);
  ExpectError(Run(SYS_setrlimit, {RLIMIT_AS, kBuf}), EPERM);
  ExpectValue(Run(SYS_sysinfo, {kBuf}), 0);
  ExpectValue(Run(SYS_prctl, {PR_GET_NAME, kBuf}), 0);
  EXPECT_STREQ(memory_->Bytes(kBuf, 16).c_str(), "zerocell");
  ExpectError(Run(SYS_prctl, {PR_SET_SECCOMP, 0}), EINVAL);
}

// ---- memory and exit ----------------------------------------------------------------------------

TEST_F(HandlersTest, ExecutableMemoryIsAViolation) {
  Run(SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  Reset(manifest_);
  Run(SYS_mprotect, {kBuf, 4096, PROT_READ | PROT_EXEC});
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->violation.syscall, "mprotect");
}

// A caller no fork pairs is a violation naming the call it made (this test process: its parent
// is none of the run's).
TEST_F(HandlersTest, AnUnpairedCallerIsAViolationNamingItsCall) {
  guest_->first().pid = 1;  // a run whose first process is not this test's parent
  EXPECT_FALSE(SelectCaller(*guest_, getpid(), AUDIT_ARCH_X86_64, SYS_read, [] { return true; }));
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  EXPECT_EQ(guest_->stop()->violation.syscall, "read");
  EXPECT_EQ(guest_->stop()->violation.number, SYS_read);
}

// A caller that died while its parent was read from /proc decides nothing: its pid may already
// be another process's, whose parent says nothing about the run.
TEST_F(HandlersTest, ACallerGoneWhileItsParentIsReadDecidesNothing) {
  guest_->first().pid = 1;
  EXPECT_FALSE(SelectCaller(*guest_, getpid(), AUDIT_ARCH_X86_64, SYS_read, [] { return false; }));
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, FileMappingsAreRefused) {
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, 0, 0}), ENODEV);
  EXPECT_FALSE(guest_->stop().has_value());
}

// /proc/<pid>/statm as the accounting reads it: "size resident ..." in pages.
class MemoryLimitTest : public HandlersTest {
 protected:
  void SetStatm(int64_t size_bytes) {
    const int64_t page = sysconf(_SC_PAGESIZE);
    char path[] = "/tmp/zerocell-statm-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    const std::string line = std::to_string(size_bytes / page) + " 1 0 0 0 0 0\n";
    ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    guest_->mem().statm.reset(fd);
    guest_->mem().limit_bytes = kMemory;
  }
};

TEST_F(MemoryLimitTest, GrowthWithinTheLimitContinuesInTheKernel) {
  SetStatm(16 << 20);
  const Reply r =
      Run(SYS_mmap, {0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  EXPECT_TRUE(r.continue_syscall);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(MemoryLimitTest, GrowthPastTheLimitStopsWithMemoryLimit) {
  SetStatm(60 << 20);
  const Reply r =
      Run(SYS_mmap, {0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  ExpectError(r, ENOMEM);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kMemoryLimit);
}

TEST_F(MemoryLimitTest, MremapGrowthAndBrkAreAccounted) {
  SetStatm(60 << 20);
  ExpectError(Run(SYS_mremap, {kBuf, 4096, 8 << 20, MREMAP_MAYMOVE, 0}), ENOMEM);
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kMemoryLimit);
  Reset(manifest_);
  SetStatm(60 << 20);
  EXPECT_TRUE(Run(SYS_mremap, {kBuf, 8 << 20, 4096, 0, 0}).continue_syscall);  // shrinking
  guest_->mem().brk = 0x1000000;
  ExpectError(Run(SYS_brk, {0x1000000 + (8 << 20)}), ENOMEM);
}

// --- issue 14: code, madvise, memory growth unseen by the size arguments, bounded work

TEST_F(HandlersTest, MremapOfCodeIsAViolation) {
  // Growing file-backed code maps the image's next pages executable (bytes never decoded).
  guest_->mem().code = {{0x400000, 0x402000}};
  ExpectError(Run(SYS_mremap, {0x401000, 4096, 0x3000, 0, 0}), EPERM);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  EXPECT_EQ(guest_->stop()->violation.syscall, "mremap");
  Reset(manifest_);
  guest_->mem().code = {{0x400000, 0x402000}};
  // A range that only ends where code starts is not code.
  EXPECT_TRUE(Run(SYS_mremap, {0x3ff000, 4096, 4096, 0, 0}).continue_syscall);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, MadviseTheKernelIsNotAskedFor) {
  // Hints that leave the bytes as they are: answered here, the kernel never runs them.
  for (uint64_t advice : {MADV_FREE, MADV_HUGEPAGE, MADV_COLD, MADV_PAGEOUT}) {
    ExpectValue(Run(SYS_madvise, {kBuf, 4096, advice}), 0);
  }
  for (uint64_t advice : {uint64_t{MADV_REMOVE}, uint64_t{25}, uint64_t{102}, uint64_t{1000}}) {
    ExpectError(Run(SYS_madvise, {kBuf, 4096, advice}), EINVAL);
  }
  // The kernel reads an int: DONTNEED with high bits set is what the filter lets through anyway.
  EXPECT_TRUE(Run(SYS_madvise, {kBuf, 4096, (uint64_t{1} << 32) | MADV_DONTNEED}).continue_syscall);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, GrowsdownAndHugetlbMappingsAreRefused) {
  for (uint64_t flag : {MAP_GROWSDOWN, MAP_HUGETLB}) {
    ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flag,
                               ~0ull, 0}),
                EINVAL);
  }
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, GetrandomGivesAtMostOneMiBACall) {
  constexpr uint64_t kBig = 0x1000000;
  memory_->Map(kBig, 2 << 20);
  ExpectValue(Run(SYS_getrandom, {kBig, 2 << 20, 0}), 1 << 20);
}

TEST_F(MemoryLimitTest, MremapKeepingTheOldRangeCountsTheNewOneWhole) {
  // MREMAP_DONTUNMAP leaves the old range mapped: equal sizes still add new_size.
  SetStatm(60 << 20);
  ExpectError(Run(SYS_mremap, {kBuf, 8 << 20, 8 << 20, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0}),
              ENOMEM);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kMemoryLimit);
}

TEST(PageTablesTest, SparseMappingsNeedATablePerBlock) {
  constexpr uint64_t kPage = 4096, kGiB = uint64_t{1} << 30;
  // The top table, then one table per level for a lone page.
  EXPECT_EQ(PageTablesFor({{kGiB, kGiB + kPage}}), 5 * kPage);
  // Two pages 1 GiB apart: a page table and a directory each, sharing the upper levels.
  EXPECT_EQ(PageTablesFor({{kGiB, kGiB + kPage}, {2 * kGiB, 2 * kGiB + kPage}}), 7 * kPage);
  // Two pages in the same 2 MiB block share everything.
  EXPECT_EQ(PageTablesFor({{kGiB, kGiB + kPage}, {kGiB + 2 * kPage, kGiB + 3 * kPage}}), 5 * kPage);
  // The most a new 4 KiB mapping can add anywhere: one table per level.
  EXPECT_EQ(PageTableGrowth(kPage), 4 * kPage);
  EXPECT_EQ(PageTableGrowth(0), 0u);
}

TEST_F(HandlersTest, LongCallsStopBetweenPiecesOnceTheRunMustEnd) {
  // A write of 4 MiB goes in 1 MiB pieces; with the deadline passed the handler stops after the
  // first, the guest stopped with TIMEOUT (the call is left unanswered).
  absl::StatusOr<Manifest> big = ManifestBuilder()
                                     .add_channel(StdinChannel(""))
                                     .add_channel(StdoutChannel(8 << 20))
                                     .add_channel(StderrChannel(16))
                                     .set_memory_bytes(kMemory)
                                     .Build();
  ASSERT_THAT(big, IsOk());
  constexpr uint64_t kBig = 0x1000000;
  const auto write_4mib = [&](const RunBudget& budget) {
    Reset(*big);
    memory_->Map(kBig, 4 << 20);
    guest_->set_budget(&budget);
    Run(SYS_write, {1, kBig, 4 << 20});
  };
  const RunBudget late(/*pid=*/-1, absl::Hours(1), absl::Now() - absl::Seconds(1),
                       /*cancel_fd=*/-1);
  write_4mib(late);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kTimeout);
  // A cancelled run ends the same way, with no outcome of its own.
  const int cancel = eventfd(1, EFD_CLOEXEC);
  ASSERT_GE(cancel, 0);
  const RunBudget cancelled(-1, absl::Hours(1), absl::InfiniteFuture(), cancel);
  write_4mib(cancelled);
  EXPECT_TRUE(guest_->cancelled());
  EXPECT_FALSE(guest_->stop().has_value());
  close(cancel);
  // With time left, the whole write is done.
  const RunBudget plenty(-1, absl::Hours(1), absl::InfiniteFuture(), -1);
  write_4mib(plenty);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, ExitGroupRunsInTheKernel) {
  EXPECT_TRUE(Run(SYS_exit_group, {3}).continue_syscall);
}

TEST_F(HandlersTest, SignalsToOthersAreRefused) {
  ExpectValue(Run(SYS_kill, {static_cast<uint64_t>(kGuestPid), 0}), 0);
  EXPECT_NE(Run(SYS_kill, {1, 9}).error, 0);
  EXPECT_NE(Run(SYS_kill, {static_cast<uint64_t>(kGuestPid), 65}).error, 0);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor::handler_test
