// What a run may still spend: wall time, CPU (the guest's and the supervisor's work for it), and
// whether it was cancelled.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_RUN_BUDGET_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_RUN_BUDGET_H_

#include <sys/types.h>
#include <time.h>

#include <functional>

#include "absl/time/time.h"

namespace zerocell::sandbox::supervisor {

// A run's CPU is the guest's CPU clock plus the CPU the supervising thread spends from the
// moment the budget is made: hashing, copying and generating bytes for the guest is work the
// guest asked for, so it counts against the guest's CPU limit (one thread supervises one run, so
// everything it does meanwhile is that run's). The supervisor loop checks the budget between
// notifications; a handler that copies or hashes much checks it between pieces, so that no call
// delays the timeout, the CPU limit or a cancellation by more than one piece.
class RunBudget {
 public:
  enum class Verdict { kOk, kTimeout, kCpuLimit, kCancelled };

  // `pid`: the guest; `cancel_fd`: an eventfd that polls readable once the run is cancelled, or -1.
  // Construct it on the thread that supervises the run.
  RunBudget(pid_t pid, absl::Duration cpu_limit, absl::Time wall_deadline, int cancel_fd);

  absl::Duration cpu_limit() const { return cpu_limit_; }
  absl::Time wall_deadline() const { return wall_deadline_; }
  // CPU of the guest process so far, since StartGuest (zero once it is reaped). What the loader
  // spent before the release (a warm sandbox's prestart ran before the request existed) is not
  // the request's: warm and cold runs of one guest reach the CPU limit alike.
  absl::Duration GuestCpu() const;
  // CPU this thread has spent since the budget was made, or since StartGuest.
  absl::Duration SupervisorCpu() const;
  // The guest is released: the supervisor's CPU counts from now.
  void StartGuest();
  // CPU of the run's other processes, added to GuestCpu (a run that may fork). Set before the
  // guest is released; it runs on the supervising thread.
  void set_other_cpu(std::function<absl::Duration()> f) { other_cpu_ = std::move(f); }

  // Everything, now: the cancel descriptor, the wall deadline, then guest + supervisor CPU.
  Verdict Check() const;

 private:
  const pid_t pid_;
  const absl::Duration cpu_limit_;
  const absl::Time wall_deadline_;
  const int cancel_fd_;
  clockid_t guest_clock_;
  bool guest_clock_ok_ = false;
  absl::Duration thread_start_;
  absl::Duration guest_start_;
  std::function<absl::Duration()> other_cpu_;
};

// CPU of host process `pid` from /proc/<pid>/stat, in clock ticks' resolution: its own
// (`own`) and that of the children it reaped (`reaped`); zero when it is gone.
absl::Duration ProcStatCpu(pid_t pid, bool own, bool reaped);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_RUN_BUDGET_H_
