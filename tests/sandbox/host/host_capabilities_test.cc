// The probe's decisions on injected findings, and the real probe's findings printed in the log.
#include "sandbox/host/host_capabilities.h"

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/host/host_probe.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox::host {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A host where everything works, as a bare VM with a recent kernel run as root.
HostCapabilities Capable() {
  HostCapabilities c;
  c.kernel_release = "6.6.0";
  c.euid = 0;
  c.cap_effective =
      (uint64_t{1} << kCapSetuid) | (uint64_t{1} << kCapSetgid) | (uint64_t{1} << kCapSysPtrace);
  c.randomize_va_space = 2;
  for (Probed* p :
       {&c.user_notification, &c.notif_continue, &c.notif_sync_wake_up, &c.notif_addfd,
        &c.process_vm, &c.proc_mem, &c.pidfd, &c.memfd_seal, &c.close_range, &c.privilege_drop,
        &c.tsc_trap, &c.rdtscp_trap, &c.cpuid_faulting, &c.fixed_addresses}) {
    *p = Probed::kYes;
  }
  c.int80 = ForeignAbi::kReachesFilter;
  c.x32 = ForeignAbi::kReachesFilter;
  c.vsyscall = VsyscallMode::kXonly;
  return c;
}

std::vector<std::string> Sources(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) out.push_back(item.substr(0, item.find(':')));
  return out;
}

TEST(HostDecisionsTest, CapableHostWithAnAdmittedPlainImageReportsNothing) {
  const HostCapabilities c = Capable();
  EXPECT_THAT(Nondeterminism(c, InstructionUse::Decoded(0), {}), IsEmpty());
  EXPECT_TRUE(ShouldFixAddresses(c));
  EXPECT_TRUE(ShouldDropPrivileges(c));
  EXPECT_TRUE(ShouldFaultCpuid(c, InstructionUse::Decoded(0)));
  EXPECT_THAT(CheckUsable(c), IsOk());
}

TEST(HostDecisionsTest, RdtscIsReportedOnlyWhereTheHostCannotTrapItAndTheImageHoldsIt) {
  HostCapabilities c = Capable();
  const InstructionUse with_rdtsc = InstructionUse::Decoded(kRdtsc);
  EXPECT_THAT(Sources(Nondeterminism(c, with_rdtsc, {})), IsEmpty()) << "trapped here";
  c.tsc_trap = Probed::kNo;  // the paravirtualized host of the issue
  EXPECT_THAT(Sources(Nondeterminism(c, with_rdtsc, {})), ::testing::ElementsAre("rdtsc"));
  EXPECT_THAT(Nondeterminism(c, InstructionUse::Decoded(0), {}), IsEmpty()) << "not in the image";
  c.rdtscp_trap = Probed::kNo;
  EXPECT_THAT(Sources(Nondeterminism(c, InstructionUse::Decoded(kRdtsc | kRdtscp), {})),
              ::testing::ElementsAre("rdtsc", "rdtscp"));
}

TEST(HostDecisionsTest, UntrappableInstructionsAreReportedWheneverTheImageHoldsThem) {
  const HostCapabilities c = Capable();
  EXPECT_THAT(
      Sources(Nondeterminism(
          c, InstructionUse::Decoded(kRdrand | kRdseed | kRdpid | kRdpru | kUmwait | kXbegin), {})),
      ::testing::ElementsAre("rdrand", "rdseed", "rdpid", "rdpru", "umwait", "xbegin"));
}

TEST(HostDecisionsTest, CpuidFaultsForImagesWithoutItAndIsReportedForImagesWithIt) {
  HostCapabilities c = Capable();
  EXPECT_TRUE(ShouldFaultCpuid(c, InstructionUse::Decoded(kRdtsc)));
  EXPECT_FALSE(ShouldFaultCpuid(c, InstructionUse::Decoded(kCpuid))) << "it would crash";
  EXPECT_FALSE(ShouldFaultCpuid(c, InstructionUse::Unknown()));
  EXPECT_THAT(Sources(Nondeterminism(c, InstructionUse::Decoded(kCpuid), {})),
              ::testing::ElementsAre("cpuid"));
  c.cpuid_faulting = Probed::kNo;
  EXPECT_FALSE(ShouldFaultCpuid(c, InstructionUse::Decoded(0)));
}

TEST(HostDecisionsTest, AnUnadmittedImageIsAssumedToHoldEverything) {
  HostCapabilities c = Capable();
  c.tsc_trap = Probed::kNo;
  EXPECT_THAT(Sources(Nondeterminism(c, InstructionUse::Unknown(), {})),
              ::testing::ElementsAre("rdtsc", "rdrand", "rdseed", "rdpid", "rdpru", "umwait",
                                     "xbegin", "cpuid"));
}

TEST(HostDecisionsTest, RandomizedAddressesAndAKeptVdsoAreReported) {
  HostCapabilities c = Capable();
  c.fixed_addresses = Probed::kNo;  // moby's profile refuses personality(ADDR_NO_RANDOMIZE)
  EXPECT_FALSE(ShouldFixAddresses(c));
  EXPECT_THAT(Sources(Nondeterminism(c, InstructionUse::Decoded(0), {.vdso_removed = false})),
              ::testing::ElementsAre("addresses", "vdso"));
  c.randomize_va_space = 0;  // randomization off host-wide: addresses are fixed anyway
  EXPECT_THAT(Nondeterminism(c, InstructionUse::Decoded(0), {}), IsEmpty());
}

TEST(HostDecisionsTest, PrivilegeDropNeedsRootAndAProvenDrop) {
  HostCapabilities c = Capable();
  c.privilege_drop = Probed::kNo;  // root in a container without CAP_SYS_PTRACE
  EXPECT_FALSE(ShouldDropPrivileges(c));
  c = Capable();
  c.euid = 10001;  // a pod's user: the sandbox keeps it
  EXPECT_FALSE(ShouldDropPrivileges(c));
}

TEST(HostDecisionsTest, UnusableHostsNameEveryMissingPiece) {
  HostCapabilities c = Capable();
  c.user_notification = Probed::kNo;
  c.notification_error = "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): Operation not permitted";
  c.close_range = Probed::kNo;
  absl::Status s = CheckUsable(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("seccomp user notification"));
  EXPECT_THAT(s.message(), HasSubstr("Operation not permitted"));
  EXPECT_THAT(s.message(), HasSubstr("close_range"));
  c = Capable();
  c.process_vm = Probed::kNo;  // Yama ptrace_scope 2, or a profile refusing process_vm_*
  EXPECT_THAT(CheckUsable(c).message(), HasSubstr("process_vm_readv"));
}

TEST(HostReportTest, FindingNamesAreStableAndCarryAMeaning) {
  const std::vector<Finding> a = Describe(Capable());
  HostCapabilities other = Capable();
  other.tsc_trap = Probed::kNo;
  other.euid = 10001;
  const std::vector<Finding> b = Describe(other);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_FALSE(a[i].meaning.empty()) << a[i].name;
  }
  for (const Finding& f : b) {
    if (f.name != "tsc_trap") continue;
    EXPECT_FALSE(f.ok);
    EXPECT_THAT(f.meaning, HasSubstr("not trappable on this host"));
  }
}

// The real findings, printed in the test log for whoever reads a CI run; and what must hold on
// any host the suite runs on.
TEST(HostProbeTest, ProbesThisHost) {
  const int fds = sandbox::testing::CountOpenFds();
  const HostCapabilities c = ProbeHost();
  EXPECT_EQ(sandbox::testing::CountOpenFds(), fds) << "the probe leaked a descriptor";
  EXPECT_FALSE(sandbox::testing::HasChildProcess()) << "the probe left a child behind";
  for (const Finding& f : Describe(c)) {
    std::cout << (f.ok ? "  ok " : "  -- ") << f.name << " = " << f.value << ": " << f.meaning
              << "\n";
  }
  EXPECT_THAT(CheckUsable(c), IsOk());
  EXPECT_FALSE(c.kernel_release.empty());
  EXPECT_NE(c.tsc_trap, Probed::kUnknown);
  EXPECT_NE(c.int80, ForeignAbi::kUnknown);
  EXPECT_EQ(c.x32, ForeignAbi::kReachesFilter) << "seccomp sees every system call number";
  // Probing twice finds the same host (the experiments leave nothing behind that changes it).
  const HostCapabilities again = ProbeHost();
  std::vector<std::string> first, second;
  for (const Finding& f : Describe(c)) {
    if (f.name != "probe_time") first.push_back(f.name + "=" + f.value);
  }
  for (const Finding& f : Describe(again)) {
    if (f.name != "probe_time") second.push_back(f.name + "=" + f.value);
  }
  EXPECT_EQ(absl::StrJoin(first, "\n"), absl::StrJoin(second, "\n"));
}

}  // namespace
}  // namespace zerocell::sandbox::host
