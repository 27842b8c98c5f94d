// What this host really enforces, as found by the probe (host_probe.h), and what follows from it.
#ifndef ZEROCELL_SANDBOX_HOST_HOST_CAPABILITIES_H_
#define ZEROCELL_SANDBOX_HOST_HOST_CAPABILITIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sandbox/host/instruction_use.h"

namespace zerocell::sandbox::host {

// What one experiment found: it worked, it did not (and why), or it could not be tried.
enum class Probed { kUnknown, kYes, kNo };

// What a foreign-ABI system call (int 0x80, an x32 number) does on this host.
enum class ForeignAbi {
  kUnknown,
  kReachesFilter,  // the seccomp filter sees it (with its own arch/number) and names it
  kFaults,         // the CPU or kernel ends the process with a signal before any filter runs
  kOther,          // something else (recorded in the detail)
};

enum class VsyscallMode { kUnknown, kNone, kXonly, kEmulate };

// Facts about the host. Every field is set by an experiment (a child process trying the thing) or
// read from the kernel's own reports (/proc, uname), never assumed from a return code alone.
struct HostCapabilities {
  // Identity of the process that will spawn sandboxes.
  std::string kernel_release;  // uname -r
  uint32_t uid = 0, euid = 0, gid = 0;
  uint64_t cap_effective = 0;      // CAP_* bit mask
  bool no_new_privs = false;       // already set on this process (as in a restricted pod)
  int seccomp_filters = 0;         // filters already on this process (a container runtime's)
  int randomize_va_space = -1;     // /proc/sys/kernel/randomize_va_space, -1 unreadable
  int ptrace_scope = -1;           // Yama's /proc/sys/kernel/yama/ptrace_scope, -1 absent
  bool core_pattern_pipe = false;  // core dumps go to a helper program

  // Seccomp user notification and what the supervisor relies on around it.
  Probed user_notification = Probed::kUnknown;   // listener, receive, respond with a value
  Probed notif_continue = Probed::kUnknown;      // SECCOMP_USER_NOTIF_FLAG_CONTINUE
  Probed notif_sync_wake_up = Probed::kUnknown;  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6+)
  Probed notif_addfd = Probed::kUnknown;         // SECCOMP_IOCTL_NOTIF_ADDFD (5.9+)
  Probed process_vm = Probed::kUnknown;          // process_vm_readv + process_vm_writev
  Probed proc_mem = Probed::kUnknown;            // /proc/<pid>/mem of a sandbox
  Probed pidfd = Probed::kUnknown;               // clone(CLONE_PIDFD) + pidfd_send_signal
  Probed memfd_seal = Probed::kUnknown;          // memfd_create + F_ADD_SEALS
  Probed close_range = Probed::kUnknown;         // close_range (5.9+)
  std::string notification_error;                // why user notification failed, when it did

  // Privilege drop (only meaningful as root): setresuid to an unprivileged id, then the
  // supervisor must still reach the sandbox's memory (CAP_SYS_PTRACE across uids).
  Probed privilege_drop = Probed::kUnknown;

  // Determinism controls.
  Probed tsc_trap = Probed::kUnknown;         // PR_SET_TSC really makes rdtsc fault
  Probed rdtscp_trap = Probed::kUnknown;      // ... and rdtscp (kUnknown: the CPU lacks rdtscp)
  Probed cpuid_faulting = Probed::kUnknown;   // ARCH_SET_CPUID really makes cpuid fault
  Probed fixed_addresses = Probed::kUnknown;  // personality(ADDR_NO_RANDOMIZE) accepted and kept
  ForeignAbi int80 = ForeignAbi::kUnknown;
  ForeignAbi x32 = ForeignAbi::kUnknown;
  VsyscallMode vsyscall = VsyscallMode::kUnknown;

  absl::Duration probe_time;  // how long the probe took
};

// Linux capability numbers the decisions look at.
inline constexpr int kCapSetgid = 6;
inline constexpr int kCapSetuid = 7;
inline constexpr int kCapSysPtrace = 19;
inline bool HasCap(const HostCapabilities& c, int cap) { return (c.cap_effective >> cap) & 1; }

// --- decisions ---------------------------------------------------------------------------------

// OK when sandboxes can run here at all; FAILED_PRECONDITION naming every missing piece (seccomp
// user notification, CONTINUE, cross-process memory access, pidfds, sealed memfds, close_range).
absl::Status CheckUsable(const HostCapabilities& caps);

// The loader switches to the unprivileged uid only when the probe showed it can and that the
// supervisor still reaches the sandbox afterwards; otherwise the sandbox keeps the server's uid.
bool ShouldDropPrivileges(const HostCapabilities& caps);

// personality(ADDR_NO_RANDOMIZE) is applied before the loader's exec only where it is allowed
// (container runtimes' default seccomp profiles refuse it).
bool ShouldFixAddresses(const HostCapabilities& caps);

// CPUID faulting is switched on for images known to hold no cpuid: a hidden one then faults.
bool ShouldFaultCpuid(const HostCapabilities& caps, const InstructionUse& use);

// Per-run facts the loader reports (it can only learn them in the sandbox itself).
struct RunFacts {
  bool vdso_removed = true;
  bool cpuid_faulting = false;  // switched on for this run
};

// The sources of nondeterminism a run of an image with `use` has on this host: rdtsc/rdtscp when
// the host cannot trap them, rdrand/rdseed/rdpid/rdpru/umwait/xbegin when the image holds them,
// cpuid when the image holds it, randomized addresses when the host refuses to fix them, the vDSO
// when the loader could not remove it. An image whose use is unknown (admission did not run) is
// assumed to hold every instruction. Each entry is "<source>: <what it means>".
std::vector<std::string> Nondeterminism(const HostCapabilities& caps, const InstructionUse& use,
                                        const RunFacts& run);

// --- report ------------------------------------------------------------------------------------

// One line of the report: a stable name (also the metrics label), whether it holds, the value
// found, and what it means for Zerocell's guarantees.
struct Finding {
  std::string name;
  bool ok = false;  // true: the guarantee holds / the feature is there
  std::string value;
  std::string meaning;
};

// Every finding, in a fixed order (names never change between hosts).
std::vector<Finding> Describe(const HostCapabilities& caps);

}  // namespace zerocell::sandbox::host

#endif  // ZEROCELL_SANDBOX_HOST_HOST_CAPABILITIES_H_
