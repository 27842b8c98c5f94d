// Processes inside one run: fork and vfork (the kernel clones; the supervisor pairs the child
// with its parent's state), wait, identity and signals between the run's processes.
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>
#include <memory>

#include "absl/strings/str_format.h"
#include "sandbox/supervisor/handlers.h"
#include "sandbox/supervisor/memory_accounting.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::supervisor {
namespace {

enum class CloneKind { kFork, kVfork, kRefused };

// Only the forms libc's fork and vfork use: anything sharing memory without vfork's wait
// (threads: CLONE_VM, CLONE_THREAD), sharing descriptors or the file system, a new namespace
// or another exit signal makes a process whose state the supervisor cannot follow.
CloneKind Classify(uint64_t flags) {
  constexpr uint64_t kForkExtras = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PARENT_SETTID;
  if ((flags & CSIGNAL) != SIGCHLD) return CloneKind::kRefused;
  const uint64_t rest = flags & ~static_cast<uint64_t>(CSIGNAL);
  if ((rest & ~kForkExtras) == 0) return CloneKind::kFork;
  if (rest == (CLONE_VM | CLONE_VFORK)) return CloneKind::kVfork;
  return CloneKind::kRefused;
}

Reply Fork(GuestState& g, const Call& c, uint64_t flags, const char* name) {
  const CloneKind kind = Classify(flags);
  if (kind == CloneKind::kRefused) {
    // A violation, as every call outside the policy: no libc makes these from fork or vfork.
    g.Stop(Outcome::kPolicyViolation,
           absl::StrFormat("syscall %s (%d) with flags %#x: only fork and vfork make processes",
                           name, c.nr, flags),
           Violation{name, c.nr, "clone flags other than fork's or vfork's"});
    return Reply::Error(EPERM);
  }
  GuestProcess& parent = g.current();
  // A process has at most one fork pending: the one before this must be paired first.
  ResolvePendingFork(g, parent);
  const int64_t live = LiveProcesses(g);
  if (live >= g.manifest().max_processes()) {
    g.set_process_limit_hit();
    return Reply::Error(EAGAIN);  // as the kernel answers at RLIMIT_NPROC
  }
  // The descriptions are shared, the table is the child's own.
  auto pending = std::make_unique<PendingFork>(parent.fds);
  pending->cwd = parent.cwd;
  pending->vfork = kind == CloneKind::kVfork;
  if (pending->vfork) {
    pending->mem = parent.mem;  // one address space until the child exits
  } else {
    // The copy counts against the limit with everything else the run maps.
    const uint64_t size = AccountedBytes(*parent.mem);
    if (!AdmitGrowth(g, size, 0, name)) return Reply::Error(ENOMEM);
    parent.mem->last_accounted = size;
    pending->mem = parent.mem->CopyFor(0);
  }
  parent.pending = std::move(pending);
  g.NoteProcesses(live + 1);
  return Reply::Continue();
}

Reply ForkCall(GuestState& g, const Call& c) { return Fork(g, c, SIGCHLD, "fork"); }
Reply VforkCall(GuestState& g, const Call& c) {
  return Fork(g, c, CLONE_VM | CLONE_VFORK | SIGCHLD, "vfork");
}
Reply CloneCall(GuestState& g, const Call& c) { return Fork(g, c, c.args[0], "clone"); }

// wait4 runs in the kernel: the guest is the real parent of its children, and the pid it
// returns is the one fork returned. Not with a rusage: its CPU times are the host's.
Reply Wait4(GuestState& g, const Call& c) {
  if (g.processes().size() == 1 && g.first().pending == nullptr) return Reply::Error(ECHILD);
  if (c.args[3] != 0) return Reply::Error(EINVAL);
  return Reply::Continue();
}

// waitid's siginfo carries the child's CPU times (si_utime, si_stime), the host's: libc's wait
// and waitpid use wait4.
Reply Waitid(GuestState& g, const Call&) {
  if (g.processes().size() == 1 && g.first().pending == nullptr) return Reply::Error(ECHILD);
  return Reply::Error(ENOSYS);
}

Reply Getpid(GuestState& g, const Call&) { return Reply::Value(g.current().own_pid); }
Reply Getppid(GuestState& g, const Call&) { return Reply::Value(g.current().parent_pid); }

// The run's process that sees itself as `pid` (a child: its host pid), or null.
GuestProcess* ByOwnPid(GuestState& g, int64_t pid) {
  if (pid == 0 || pid == g.current().own_pid) return &g.current();
  for (auto& p : g.processes()) {
    if (p->own_pid == pid && !HasExited(*p)) return p.get();
  }
  return nullptr;
}

Reply Signal(GuestProcess* target, int64_t sig) {
  if (target == nullptr) return Reply::Error(ESRCH);
  if (sig < 0 || sig > 64) return Reply::Error(EINVAL);
  if (sig == 0) return Reply::Value(0);
  if (sys::PidfdSendSignal(target->pidfd, static_cast<int>(sig)) != 0) return Reply::Error(errno);
  return Reply::Value(0);
}

// A process may signal itself (abort(), raise()) and the run's other processes; nothing else.
Reply Kill(GuestState& g, const Call& c) {
  const int64_t pid = static_cast<int32_t>(c.args[0]);
  GuestProcess* target = ByOwnPid(g, pid);
  // As the kernel answers for another user's process: nothing outside the run is told apart.
  if (target == nullptr) return Reply::Error(EPERM);
  return Signal(target, static_cast<int64_t>(c.args[1]));
}

// One thread per process: its tid is its pid.
Reply Tgkill(GuestState& g, const Call& c) {
  if (static_cast<int32_t>(c.args[0]) != static_cast<int32_t>(c.args[1])) {
    return Reply::Error(ESRCH);
  }
  const int64_t pid = static_cast<int32_t>(c.args[0]);
  return Signal(pid == 0 ? nullptr : ByOwnPid(g, pid), static_cast<int64_t>(c.args[2]));
}

Reply Tkill(GuestState& g, const Call& c) {
  const int64_t pid = static_cast<int32_t>(c.args[0]);
  return Signal(pid == 0 ? nullptr : ByOwnPid(g, pid), static_cast<int64_t>(c.args[1]));
}

}  // namespace

void RegisterForkHandlers(HandlerTable& t) {
  t[SYS_fork] = ForkCall;
  t[SYS_vfork] = VforkCall;
  t[SYS_clone] = CloneCall;
  // clone3 passes its flags in memory the guest may change after a check: refused as a kernel
  // without it would; libc falls back to clone.
  t[SYS_clone3] = Fail<ENOSYS>;
  t[SYS_wait4] = Wait4;
  t[SYS_waitid] = Waitid;
  // Emulated, not allowed: the first process's tid would be the host's, which libc caches and
  // later passes to tgkill (and which would leak the host's pid counter). A child's is its
  // host pid, which its parent already has from fork.
  t[SYS_set_tid_address] = Getpid;
  t[SYS_getpid] = Getpid;
  t[SYS_gettid] = Getpid;
  t[SYS_getppid] = Getppid;
  t[SYS_kill] = Kill;
  t[SYS_tgkill] = Tgkill;
  t[SYS_tkill] = Tkill;
}

}  // namespace zerocell::sandbox::supervisor
