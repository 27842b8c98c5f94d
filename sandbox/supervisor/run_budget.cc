// The run's wall, CPU and cancellation budget; see run_budget.h.
#include "sandbox/supervisor/run_budget.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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
  const absl::Duration others = other_cpu_ ? other_cpu_() : absl::ZeroDuration();
  return others + (guest_clock_ok_ ? ClockNow(guest_clock_) - guest_start_ : absl::ZeroDuration());
}

absl::Duration ProcStatCpu(pid_t pid, bool own, bool reaped) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ZeroDuration();
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return absl::ZeroDuration();
  buf[n] = '\0';
  // Fields 14-17 (utime, stime, cutime, cstime) count from the state after the last ')'.
  const char* p = strrchr(buf, ')');
  if (p == nullptr) return absl::ZeroDuration();
  long long f[17] = {};
  int field = 3;  // the state
  for (p += 2; *p != '\0' && field <= 17; ++field) {
    char* end = nullptr;
    f[field - 1] = field == 3 ? 0 : strtoll(p, &end, 10);
    p = field == 3 ? strchr(p, ' ') : end;
    if (p == nullptr) break;
    while (*p == ' ') ++p;
  }
  const long long ticks = (own ? f[13] + f[14] : 0) + (reaped ? f[15] + f[16] : 0);
  return absl::Seconds(1) * ticks / sysconf(_SC_CLK_TCK);
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
