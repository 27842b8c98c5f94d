// The run's wall, CPU and cancellation budget; see run_budget.h.
#include "sandbox/supervisor/run_budget.h"

#include <poll.h>

#include "absl/time/clock.h"

namespace zerocell::sandbox::supervisor {
namespace {

absl::Duration ClockNow(clockid_t clock) {
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return absl::ZeroDuration();
  return absl::DurationFromTimespec(ts);
}

}  // namespace

RunBudget::RunBudget(pid_t pid, absl::Duration cpu_limit, absl::Time wall_deadline, int cancel_fd)
    : pid_(pid),
      cpu_limit_(cpu_limit),
      wall_deadline_(wall_deadline),
      cancel_fd_(cancel_fd),
      thread_start_(ClockNow(CLOCK_THREAD_CPUTIME_ID)) {
  guest_clock_ok_ = clock_getcpuclockid(pid_, &guest_clock_) == 0;
}

absl::Duration RunBudget::GuestCpu() const {
  return guest_clock_ok_ ? ClockNow(guest_clock_) - guest_start_ : absl::ZeroDuration();
}

void RunBudget::StartGuest() {
  thread_start_ = ClockNow(CLOCK_THREAD_CPUTIME_ID);
  if (guest_clock_ok_) guest_start_ = ClockNow(guest_clock_);
}

absl::Duration RunBudget::SupervisorCpu() const {
  return ClockNow(CLOCK_THREAD_CPUTIME_ID) - thread_start_;
}

RunBudget::Verdict RunBudget::Check() const {
  if (cancel_fd_ >= 0) {
    pollfd pfd = {cancel_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) return Verdict::kCancelled;
  }
  if (absl::Now() >= wall_deadline_) return Verdict::kTimeout;
  if (GuestCpu() + SupervisorCpu() >= cpu_limit_) return Verdict::kCpuLimit;
  return Verdict::kOk;
}

}  // namespace zerocell::sandbox::supervisor
