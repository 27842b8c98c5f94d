// Decisions and the human report derived from the probe's findings; see host_capabilities.h.
#include "sandbox/host/host_capabilities.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace zerocell::sandbox::host {
namespace {

bool Yes(Probed p) { return p == Probed::kYes; }

std::string_view ProbedText(Probed p) {
  switch (p) {
    case Probed::kYes:
      return "yes";
    case Probed::kNo:
      return "no";
    case Probed::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view ForeignText(ForeignAbi f) {
  switch (f) {
    case ForeignAbi::kReachesFilter:
      return "reaches the filter";
    case ForeignAbi::kFaults:
      return "faults";
    case ForeignAbi::kOther:
      return "other";
    case ForeignAbi::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view VsyscallText(VsyscallMode m) {
  switch (m) {
    case VsyscallMode::kNone:
      return "none";
    case VsyscallMode::kXonly:
      return "xonly";
    case VsyscallMode::kEmulate:
      return "emulate";
    case VsyscallMode::kUnknown:
      break;
  }
  return "unknown";
}

bool AddressesFixed(const HostCapabilities& c) {
  return Yes(c.fixed_addresses) || c.randomize_va_space == 0;
}

}  // namespace

std::string_view HostInstructionName(uint32_t bit) {
  switch (bit) {
    case kRdtsc:
      return "rdtsc";
    case kRdtscp:
      return "rdtscp";
    case kRdrand:
      return "rdrand";
    case kRdseed:
      return "rdseed";
    case kRdpid:
      return "rdpid";
    case kRdpru:
      return "rdpru";
    case kUmwait:
      return "umwait";
    case kXbegin:
      return "xbegin";
    case kCpuid:
      return "cpuid";
    default:
      break;
  }
  return "unknown";
}

absl::Status CheckUsable(const HostCapabilities& c) {
  std::vector<std::string> missing;
  if (!Yes(c.user_notification)) {
    missing.push_back(absl::StrCat("seccomp user notification (Linux 5.5+)",
                                   c.notification_error.empty() ? "" : ": ", c.notification_error));
  } else if (!Yes(c.notif_continue)) {
    missing.push_back("SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5+)");
  }
  if (Yes(c.user_notification) && !Yes(c.process_vm)) {
    missing.push_back(
        "process_vm_readv/process_vm_writev on a sandbox (refused by a seccomp profile, or Yama's "
        "ptrace_scope above 1 without CAP_SYS_PTRACE)");
  }
  if (!Yes(c.pidfd)) missing.push_back("pidfds (clone CLONE_PIDFD, pidfd_send_signal; Linux 5.3+)");
  if (!Yes(c.memfd_seal)) missing.push_back("sealed memfds (memfd_create, F_ADD_SEALS)");
  if (!Yes(c.close_range)) missing.push_back("close_range (Linux 5.9+)");
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("this host cannot run sandboxes: missing ", absl::StrJoin(missing, "; "),
                   " (run `zerocell doctor` for the whole report)"));
}

bool ShouldDropPrivileges(const HostCapabilities& c) {
  return c.euid == 0 && Yes(c.privilege_drop);
}

bool ShouldFixAddresses(const HostCapabilities& c) { return Yes(c.fixed_addresses); }

bool ShouldFaultCpuid(const HostCapabilities& c, const InstructionUse& use) {
  return Yes(c.cpuid_faulting) && !use.Holds(kCpuid);
}

std::vector<std::string> Nondeterminism(const HostCapabilities& c, const InstructionUse& use,
                                        const RunFacts& run) {
  std::vector<std::string> out;
  if (use.Holds(kRdtsc) && !Yes(c.tsc_trap)) {
    out.push_back(
        "rdtsc: this host does not trap it (PR_SET_TSC is not enforced here); the guest reads "
        "the host's time stamp counter");
  }
  // rdtscp is covered by the same control; a CPU without it faults on it (deterministically).
  if (use.Holds(kRdtscp) && c.rdtscp_trap == Probed::kNo) {
    out.push_back(
        "rdtscp: this host does not trap it; the guest reads the host's time stamp counter and "
        "CPU number");
  }
  struct Untrappable {
    uint32_t bit;
    const char* text;
  };
  static constexpr Untrappable kUntrappable[] = {
      {kRdrand, "rdrand: hardware randomness, which no host can trap from user space"},
      {kRdseed, "rdseed: hardware randomness, which no host can trap from user space"},
      {kRdpid, "rdpid: reads the number of the host CPU the guest runs on"},
      {kRdpru, "rdpru: reads the host CPU's performance counters"},
      {kUmwait, "umwait: umonitor/umwait/tpause wait for host time"},
      {kXbegin, "xbegin: hardware transactions abort for host-dependent reasons"},
  };
  for (const Untrappable& u : kUntrappable) {
    if (use.Holds(u.bit)) out.push_back(u.text);
  }
  if (use.Holds(kCpuid) && !run.cpuid_faulting) {
    out.push_back(
        "cpuid: the guest sees this host's CPU model and features (stable on this host, "
        "different across hosts)");
  }
  if (!AddressesFixed(c)) {
    out.push_back(
        "addresses: this host refuses personality(ADDR_NO_RANDOMIZE) (a container runtime's "
        "seccomp profile); heap and mmap addresses vary between runs");
  }
  if (!run.vdso_removed) {
    out.push_back(
        "vdso: this host did not let the loader unmap the vDSO/vvar pages; the guest can read "
        "the host clock from memory");
  }
  return out;
}

std::vector<Finding> Describe(const HostCapabilities& c) {
  std::vector<Finding> f;
  auto add = [&](std::string name, bool ok, std::string value, std::string meaning) {
    f.push_back({std::move(name), ok, std::move(value), std::move(meaning)});
  };
  add("kernel", true, c.kernel_release, "the kernel the sandboxes run on");
  add("uid", true, absl::StrFormat("uid %d euid %d gid %d", c.uid, c.euid, c.gid),
      c.euid == 0 ? "running as root" : "running unprivileged: sandboxes run as this uid");
  add("capabilities", true, absl::StrFormat("0x%x", c.cap_effective),
      c.cap_effective == 0 ? "no capabilities (as in a restricted pod)"
                           : "effective capabilities of the server; sandboxes never keep any");
  add("no_new_privs", true, c.no_new_privs ? "set" : "not set",
      "sandboxes always set it themselves");
  add("server_seccomp", c.seccomp_filters == 0, absl::StrCat(c.seccomp_filters, " filters"),
      c.seccomp_filters == 0
          ? "no outer seccomp filter"
          : "an outer filter (a container runtime's) is in force: a call it refuses fails with its "
            "errno before Zerocell's policy sees it, instead of ending the run as a violation");
  add("user_notification", Yes(c.user_notification), std::string(ProbedText(c.user_notification)),
      Yes(c.user_notification) ? "seccomp user notification works: the supervisor mediates calls"
                               : absl::StrCat("no sandbox can run: ", c.notification_error));
  add("notif_continue", Yes(c.notif_continue), std::string(ProbedText(c.notif_continue)),
      "the supervisor can let a checked call run in the kernel");
  add("notif_sync_wake_up", Yes(c.notif_sync_wake_up),
      std::string(ProbedText(c.notif_sync_wake_up)),
      Yes(c.notif_sync_wake_up) ? "guest and supervisor hand the CPU to each other on each call"
                                : "notified calls take an ordinary wake-up (slower, same results)");
  add("notif_addfd", Yes(c.notif_addfd), std::string(ProbedText(c.notif_addfd)),
      "the supervisor can place descriptors into a sandbox");
  add("process_vm", Yes(c.process_vm), std::string(ProbedText(c.process_vm)),
      Yes(c.process_vm) ? "the supervisor reads and writes sandbox memory directly"
                        : "no sandbox can run: the supervisor cannot reach sandbox memory");
  add("proc_mem", Yes(c.proc_mem), std::string(ProbedText(c.proc_mem)),
      "/proc/<pid>/mem of a sandbox is readable by the server");
  add("pidfd", Yes(c.pidfd), std::string(ProbedText(c.pidfd)),
      "sandboxes are signalled and watched through pidfds (no pid reuse races)");
  add("memfd_seal", Yes(c.memfd_seal), std::string(ProbedText(c.memfd_seal)),
      "images are handed to sandboxes as sealed memfds");
  add("close_range", Yes(c.close_range), std::string(ProbedText(c.close_range)),
      "a sandbox inherits no descriptor");
  const bool drop = ShouldDropPrivileges(c);
  add("privilege_drop", c.euid != 0 || drop,
      c.euid != 0 ? "not needed" : std::string(ProbedText(c.privilege_drop)),
      c.euid != 0 ? "sandboxes run as the server's uid with no capabilities"
      : drop      ? "sandboxes run as uid 65534 with no capabilities"
                  : "root without CAP_SETUID/CAP_SETGID/CAP_SYS_PTRACE: sandboxes run as uid 0 "
                    "with no capabilities");
  add("core_dumps", true, c.core_pattern_pipe ? "piped to a helper" : "to a file",
      "a crashing guest never dumps core: its RLIMIT_CORE is 1, which stops both");
  add("ptrace_scope", c.ptrace_scope <= 1,
      c.ptrace_scope < 0 ? "no Yama" : absl::StrCat(c.ptrace_scope),
      "Yama above 1 forbids the supervisor's access to sandbox memory without CAP_SYS_PTRACE");
  add("tsc_trap", Yes(c.tsc_trap), std::string(ProbedText(c.tsc_trap)),
      Yes(c.tsc_trap)
          ? "rdtsc faults in the guest and the loader answers it from the virtual clock, so "
            "the host's time cannot leak through it"
          : "rdtsc: not trappable on this host: programs that execute it are "
            "non-deterministic (reported per run); the deterministic admission policy "
            "refuses them");
  add("rdtscp_trap", c.rdtscp_trap != Probed::kNo,
      c.rdtscp_trap == Probed::kUnknown ? "no rdtscp on this CPU"
                                        : std::string(ProbedText(c.rdtscp_trap)),
      c.rdtscp_trap == Probed::kNo ? "rdtscp: not trappable on this host (reported per run)"
      : c.rdtscp_trap == Probed::kUnknown
          ? "rdtscp is an invalid instruction here (SIGILL)"
          : "rdtscp faults in the guest and is answered like rdtsc");
  add("cpuid_faulting", Yes(c.cpuid_faulting), std::string(ProbedText(c.cpuid_faulting)),
      Yes(c.cpuid_faulting)
          ? "cpuid faults in guests whose image holds none, so a hidden one cannot read the host "
            "CPU; images that use cpuid see the host CPU (reported per run)"
          : "cpuid: not fault-able on this host: a guest can read the host CPU model (reported for "
            "images that hold cpuid)");
  add("fixed_addresses", AddressesFixed(c), std::string(ProbedText(c.fixed_addresses)),
      AddressesFixed(c) ? "every run gets the same addresses"
                        : "personality(ADDR_NO_RANDOMIZE) refused (a container runtime's seccomp "
                          "profile): heap and mmap addresses vary between runs (reported per run)");
  add("int80", c.int80 != ForeignAbi::kUnknown, std::string(ForeignText(c.int80)),
      c.int80 == ForeignAbi::kFaults
          ? "int 0x80 ends the guest with SIGSEGV (no i386 emulation in this kernel)"
          : "int 0x80 reaches the filter as an i386 call and ends the run as a violation");
  add("x32", c.x32 != ForeignAbi::kUnknown, std::string(ForeignText(c.x32)),
      "x32 system call numbers reach the filter and end the run as a violation");
  add("vsyscall", true, std::string(VsyscallText(c.vsyscall)),
      c.vsyscall == VsyscallMode::kNone
          ? "no vsyscall page"
          : "the vsyscall page holds only code; its calls go through the filter like any other");
  add("probe_time", true, absl::FormatDuration(c.probe_time), "how long this probe took");
  return f;
}

}  // namespace zerocell::sandbox::host
