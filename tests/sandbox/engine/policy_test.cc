// Integration tests for the syscall policy: one guest per denied class (kill + named violation),
// foreign ABIs, executable memory, and the calls answered with an errno instead of a kill.
#include <signal.h>

#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/host/host_capabilities.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Lines;
using ::testing::Not;
using testing::RunGuest;
using testing::StdManifest;
using testing::StdoutOf;

struct DeniedCase {
  const char* guest;
  const char* syscall;  // Violation::syscall
  int64_t number;       // Violation::number, as the guest issued it
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const DeniedCase& c, std::ostream* os) { *os << c.guest; }

class EnginePolicyViolationTest : public ::testing::TestWithParam<DeniedCase> {};

TEST_P(EnginePolicyViolationTest, DeniedSyscallKillsAndIsNamed) {
  const DeniedCase& c = GetParam();
  ZC_ASSERT_RUN(r, RunGuest(c.guest, StdManifest({c.guest})));
  ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  EXPECT_EQ(r.violation.syscall, c.syscall);
  EXPECT_EQ(r.violation.number, c.number);
  EXPECT_FALSE(r.detail.empty());
  // The kill happened at the denied call, not earlier (e.g. in libc startup): "start" was
  // flushed before it and "survived" never printed.
  EXPECT_EQ(StdoutOf(r), "start\n");
}

INSTANTIATE_TEST_SUITE_P(Classes, EnginePolicyViolationTest,
                         ::testing::Values(DeniedCase{"pol_socket", "socket", 41},
                                           DeniedCase{"pol_execve", "execve", 59},
                                           DeniedCase{"pol_ptrace", "ptrace", 101},
                                           DeniedCase{"pol_x32", "x32:getpid", 0x40000000 | 39},
                                           DeniedCase{"pol_x32_asm", "x32:getpid",
                                                      0x40000000 | 39}),
                         [](const auto& info) { return std::string(info.param.guest); });

// A run has one process unless its manifest allows more: fork, vfork and a fork-like clone
// answer EAGAIN there, as the kernel does at RLIMIT_NPROC, and the result says the limit was hit.
class EngineForkAtOneProcessTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineForkAtOneProcessTest, AnswersEagain) {
  ZC_ASSERT_RUN(r, RunGuest(GetParam(), StdManifest({GetParam()})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "start\nsurvived ret=-1 errno=11\n");
  EXPECT_TRUE(r.process_limit_exceeded);
}

INSTANTIATE_TEST_SUITE_P(Forms, EngineForkAtOneProcessTest,
                         ::testing::Values("pol_fork", "pol_vfork", "pol_clone"));

// int 0x80 reaches the filter as an i386 call where the kernel has IA32 emulation, and faults
// where it has none (CONFIG_IA32_EMULATION off or ia32_emulation=0): what the probe found decides.
TEST(EngineForeignAbiTest, Int80IsAViolationOrAFaultAsTheProbeFound) {
  ZC_ASSERT_RUN(r, RunGuest("pol_int80", StdManifest({"pol_int80"})));
  EXPECT_EQ(StdoutOf(r), "start\n") << "the guest must never come back from int 0x80";
  switch (testing::Host().int80) {
    case host::ForeignAbi::kReachesFilter:
      ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
      EXPECT_EQ(r.violation.syscall, "i386:getpid");
      EXPECT_EQ(r.violation.number, 20);
      break;
    case host::ForeignAbi::kFaults:
      EXPECT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
      EXPECT_EQ(r.term_signal, SIGSEGV) << Describe(r);
      break;
    default:
      GTEST_SKIP() << "the probe could not tell what int 0x80 does on this host; the run ended "
                   << Describe(r);
  }
}

struct ExecCase {
  const char* call;
  int64_t number;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const ExecCase& c, std::ostream* os) { *os << c.call; }

class EngineExecMemoryTest : public ::testing::TestWithParam<ExecCase> {};

TEST_P(EngineExecMemoryTest, ExecutableMappingsAreViolations) {
  ZC_ASSERT_RUN(r, RunGuest("mmap_exec", StdManifest({"mmap_exec", GetParam().call})));
  ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  EXPECT_EQ(r.violation.syscall, GetParam().call);
  EXPECT_EQ(r.violation.number, GetParam().number);
  EXPECT_THAT(r.violation.detail + " " + r.detail, HasSubstr("PROT_EXEC"));
  EXPECT_EQ(StdoutOf(r), "start\n");
}

INSTANTIATE_TEST_SUITE_P(Calls, EngineExecMemoryTest,
                         ::testing::Values(ExecCase{"mmap", 9}, ExecCase{"mprotect", 10}),
                         [](const auto& info) { return std::string(info.param.call); });

TEST(EnginePolicyTest, HostPathsAreNotFoundWithoutAKill) {
  ZC_ASSERT_RUN(r, RunGuest("pol_open_host", StdManifest({"pol_open_host"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("open=-1 errno=2", "openat=-1 errno=2"));
}

TEST(EnginePolicyTest, ProbedCallsGetAnErrnoWithoutAKill) {
  ZC_ASSERT_RUN(r, RunGuest("errno_probe", StdManifest({"errno_probe"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  std::vector<std::string> lines = Lines(StdoutOf(r));
  ASSERT_EQ(lines.size(), 8u) << StdoutOf(r);
  EXPECT_EQ(lines[0], "ioctl_tcgets = -1 errno=25");      // ENOTTY
  EXPECT_EQ(lines[1], "rseq = -1 errno=38");              // ENOSYS
  EXPECT_EQ(lines[2], "readlink_self_exe = -1 errno=2");  // ENOENT
  EXPECT_EQ(lines[3], "prlimit64_set = -1 errno=1");      // EPERM
  EXPECT_EQ(lines[4], "prlimit64_get = 0 errno=0");       // fixed values
  EXPECT_THAT(lines[5], ::testing::StartsWith("rlimit_stack="));
  EXPECT_EQ(lines[6], "socket_unix = -1 errno=13");  // EACCES; AF_INET stays a violation
  EXPECT_EQ(lines[7], "alive");

  // "Fixed" means independent of the host: a second run reports the same values.
  ZC_ASSERT_RUN(again, RunGuest("errno_probe", StdManifest({"errno_probe"})));
  EXPECT_EQ(StdoutOf(again), StdoutOf(r));
}

TEST(EnginePolicyTest, KillOfAForeignPidIsRefused) {
  ZC_ASSERT_RUN(r, RunGuest("pol_kill", StdManifest({"pol_kill", "foreign"})));
  // Either a violation naming kill, or EPERM; never a signal delivered outside the sandbox.
  if (r.outcome == Outcome::kPolicyViolation) {
    EXPECT_EQ(r.violation.syscall, "kill");
    EXPECT_EQ(r.violation.number, 62);
  } else {
    ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
    EXPECT_THAT(StdoutOf(r), HasSubstr("survived ret=-1 errno=1"));
  }
}

TEST(EnginePolicyTest, SignalsNeverReachHostProcesses) {
  ZC_ASSERT_RUN(r, RunGuest("pol_kill", StdManifest({"pol_kill", "probe"})));
  if (r.outcome == Outcome::kPolicyViolation) {
    EXPECT_EQ(r.violation.syscall, "kill");
    return;
  }
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  std::vector<std::string> lines = Lines(StdoutOf(r));
  ASSERT_EQ(lines.size(), 6u) << StdoutOf(r);
  // pid 1 (also the virtual parent) and -1 (every process) are outside the sandbox.
  EXPECT_EQ(lines[1], "kill(1,0)=-1 errno=1");
  EXPECT_EQ(lines[2], "kill(-1,0)=-1 errno=1");
  EXPECT_EQ(lines[3], "kill(1,0)=-1 errno=1");
  EXPECT_EQ(lines[4], "kill(2,0)=0 errno=0");  // itself
}

TEST(EnginePolicyTest, KillOfItselfDeliversTheSignal) {
  ZC_ASSERT_RUN(r, RunGuest("pol_kill", StdManifest({"pol_kill", "self"})));
  ASSERT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_THAT(StdoutOf(r), Not(HasSubstr("survived")));
}

}  // namespace
}  // namespace zerocell::sandbox
