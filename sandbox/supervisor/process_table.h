// The run's processes: which one a notification came from, and a fork's child paired with the
// state its parent had at the fork (docs/architecture.md "Processes").
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_PROCESS_TABLE_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_PROCESS_TABLE_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/sys/process.h"

namespace zerocell::sandbox::supervisor {

// Makes the caller of a notification from host pid `pid` the current process and returns true;
// a pid no process of the run can be (none of its processes' children, or a child whose
// parent's fork can no longer be told apart) stops the guest with POLICY_VIOLATION and returns
// false.
// `arch` and `nr`: the notified call, named in the violation. For a pid the run does not know,
// `still_waiting` is asked after /proc was read for its parent: false (the caller died meanwhile,
// and its pid may already be another process's) returns false and decides nothing.
bool SelectCaller(GuestState& g, pid_t pid, uint32_t arch, int64_t nr,
                  const std::function<bool()>& still_waiting);

// Pairs `parent`'s pending fork with its child now (found among the parent's children the run
// does not know yet), or drops it when the child is already gone.
void ResolvePendingFork(GuestState& g, GuestProcess& parent);

// Processes of the run not reaped yet (zombies hold their pid, as RLIMIT_NPROC counts them),
// pending forks included. Releases the ended ones first (ReleaseEnded).
int64_t LiveProcesses(GuestState& g);

// Reaps the ended processes that were re-parented to this process (adding their CPU to the
// run's), then drops every reaped process from the table, closing its descriptors: a run's
// table and descriptors stay bounded by max_processes however many processes it makes. The
// current process becomes the first one if it was dropped.
void ReleaseEnded(GuestState& g);

// Whether `p` (not the first) has been reaped, by its parent or by us: pidfd_send_signal with
// signal 0 succeeds on a zombie and fails with ESRCH once it is reaped.
bool Reaped(const GuestProcess& p);

// Whether `p` has ended (its exit was seen, or its pidfd polls readable); marks it.
bool HasExited(GuestProcess& p);

// Makes this process a child subreaper (it stays one): the children a run's first process
// leaves behind become ours when it ends, so the supervisor can reap them (else they would be
// init's, which in a container may never reap). The engine does it once, when it is created,
// before any run can fork.
absl::Status BecomeSubreaper();
// SIGKILLs every process of the run: they share the first one's process group (`pgid`, its
// host pid; the guest cannot leave it: setpgid and setsid are EPERM). Call it while the first
// process is not reaped yet, so the group id cannot have been reused.
void KillGroup(pid_t pgid);

// Ends every process of a run however its supervision returns (an error included): the first
// process's group is SIGKILLed while the first is not reaped (so the group id is still the run's),
// then the others are reaped as they are left to us (this process is their subreaper), then the
// first.
class RunGroup {
 public:
  // `several`: the run may fork (max_processes > 1), so others may be left to reap.
  RunGroup(sys::Process& first, bool several) : first_(first), several_(several) {}
  RunGroup(const RunGroup&) = delete;
  RunGroup& operator=(const RunGroup&) = delete;
  ~RunGroup();

  // SIGKILLs the whole group (the first process stays to be reaped by the caller).
  void Kill();
  // After Kill, before the first process is reaped (its pid keeps the group id the run's): waits
  // for the others to end and reaps them as they become ours, adding their CPU to `total` (may
  // be null).
  void ReapOthers(rusage* total);

 private:
  sys::Process& first_;
  const bool several_;
  bool others_reaped_ = false;
};

// The members of process group `pgid` (zombies included), each after its parent when the
// parent is a member too (a scan of /proc/*/stat).
std::vector<pid_t> GroupMembers(pid_t pgid);

// The CPU of a run's processes other than the first (`pgid`, the first's pid) and of the
// children the first reaped: every process of the group counts, paired or not, ended or not,
// until reaped, then in its reaper's reaped-children times. Read parents before children, so
// a child reaped meanwhile is missed for one sample, never counted twice.
absl::Duration GroupCpu(pid_t pgid);

// Host pids whose parent is `pid` (/proc/<pid>/task/<pid>/children where the kernel has
// CONFIG_PROC_CHILDREN, probed once; else a scan of /proc/*/stat).
std::vector<pid_t> ChildrenOf(pid_t pid);
// The parent of host pid `pid` (PPid of /proc/<pid>/status), or -1 when it is gone.
pid_t ParentOf(pid_t pid);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_PROCESS_TABLE_H_
