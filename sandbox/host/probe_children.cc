// Experiment children of the host probe; see probe_children.h. Child code makes raw calls only.
#include "sandbox/host/probe_children.h"

#include <asm/prctl.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/errno_status.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::host {
namespace {

constexpr long kX32Bit = 0x40000000;
constexpr long kUnprivileged = 65534;  // as the loader's privilege drop

// A raw system call: no errno, no libc state (the child is a fork of a multi-threaded process).
long Raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

// no_new_privs, then the filter; returns the seccomp call's result (a listener fd or -errno).
ZEROCELL_CLONE_CHILD long InstallFilter(const std::string& bpf, long flags) {
  if (Raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -EPERM;
  sock_fprog prog = {static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)),
                     reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()))};
  return Raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, reinterpret_cast<long>(&prog));
}

}  // namespace

ProbeChild::ProbeChild(ProbeChild&& other) noexcept
    : pid_(other.pid_), pidfd_(std::move(other.pidfd_)), reaped_(other.reaped_) {
  other.reaped_ = true;
}

ProbeChild::~ProbeChild() {
  if (reaped_) return;
  sys::PidfdSendSignal(pidfd_.get(), SIGKILL);
  int status;
  while (waitpid(pid_, &status, __WALL) < 0 && errno == EINTR) {
  }
}

absl::StatusOr<ProbeChild> ProbeChild::Start(int (*fn)(void*), void* arg, Mode mode) {
  if (mode == Mode::kVfork) {
    // The engine's own vfork clone (every signal blocked in the child, safe under TSan).
    sys::UniqueFd pidfd;
    absl::StatusOr<pid_t> pid = sys::CloneVfork(fn, arg, &pidfd);
    if (!pid.ok()) return pid.status();
    return ProbeChild(*pid, std::move(pidfd));
  }
  // A fork (no CLONE_VM): the experiment may change its credentials, which would change the
  // dumpability of a shared memory descriptor, the server's own.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  const long flags = CLONE_PIDFD | SIGCHLD | (mode == Mode::kForkSharingFds ? CLONE_FILES : 0);
  const long pid = Raw(SYS_clone, flags, 0, reinterpret_cast<long>(&pidfd), 0, 0);
  if (pid == 0) {
    const int code = fn(arg);
    for (;;) Raw(SYS_exit_group, code);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return ErrnoStatus(static_cast<int>(-pid), "clone a probe child");
  return ProbeChild(static_cast<pid_t>(pid), sys::UniqueFd(pidfd));
}

absl::StatusOr<int> ProbeChild::Wait(absl::Duration timeout) {
  pollfd pfd = {pidfd_.get(), POLLIN, 0};
  int n;
  do {
    n = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  } while (n < 0 && errno == EINTR);
  if (n == 0) sys::PidfdSendSignal(pidfd_.get(), SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, __WALL);
  } while (r < 0 && errno == EINTR);
  reaped_ = true;
  if (r != pid_) return ErrnoStatus(errno, "wait for a probe child");
  if (n == 0) return absl::DeadlineExceededError("probe child timed out");
  return status;
}

ZEROCELL_CLONE_CHILD int TscChild(void* use_rdtscp) {
  if (Raw(SYS_prctl, PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) != 0) return kSetupRefused;
  uint32_t lo, hi, aux;
  if (use_rdtscp != nullptr) {
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
  } else {
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  }
  return kRan;
}

ZEROCELL_CLONE_CHILD int CpuidFaultChild(void*) {
  if (Raw(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) return kSetupRefused;
  uint32_t a = 0, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return kRan;
}

ZEROCELL_CLONE_CHILD int Int80Child(void* filter_args) {
  if (InstallFilter(*static_cast<FilterArgs*>(filter_args)->bpf, 0) != 0) return kSetupRefused;
  long r = 20;  // getpid in the i386 table
  __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
  return r == -kProbeMarkerErrno ? kFilterMarker : kUnexpected;
}

ZEROCELL_CLONE_CHILD int X32Child(void* filter_args) {
  if (InstallFilter(*static_cast<FilterArgs*>(filter_args)->bpf, 0) != 0) return kSetupRefused;
  const long r = Raw(kX32Bit | SYS_getpid);
  return r == -kProbeMarkerErrno ? kFilterMarker : kUnexpected;
}

ZEROCELL_CLONE_CHILD int PersonalityChild(void*) {
  if (Raw(SYS_personality, ADDR_NO_RANDOMIZE) < 0) return kSetupRefused;
  const long now = Raw(SYS_personality, 0xffffffff);
  return now >= 0 && (now & ADDR_NO_RANDOMIZE) ? kRan : kUnexpected;
}

ZEROCELL_CLONE_CHILD int NotifyChild(void* notify_args) {
  const auto* a = static_cast<NotifyArgs*>(notify_args);
  int32_t report = 0;
  if (a->drop_privileges &&
      (Raw(SYS_setgroups, 0, 0) != 0 ||
       Raw(SYS_setresgid, kUnprivileged, kUnprivileged, kUnprivileged) != 0 ||
       Raw(SYS_setresuid, kUnprivileged, kUnprivileged, kUnprivileged) != 0)) {
    report = -EPERM;
    Raw(SYS_write, a->report_fd, reinterpret_cast<long>(&report), sizeof(report));
    return kSetupRefused;
  }
  const long listener = InstallFilter(*a->bpf, SECCOMP_FILTER_FLAG_NEW_LISTENER);
  report = static_cast<int32_t>(listener);
  Raw(SYS_write, a->report_fd, reinterpret_cast<long>(&report), sizeof(report));
  if (listener < 0) return kSetupRefused;
  if (Raw(SYS_getppid) != kNotifyAnswer) return kUnexpected;   // answered with a value
  return Raw(SYS_getppid) == a->parent ? kRan : kBadContinue;  // answered with CONTINUE
}

}  // namespace zerocell::sandbox::host
