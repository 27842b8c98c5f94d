// Child process ownership; see process.h.
#include "sandbox/sys/process.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::sys {

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), pidfd_(std::move(other.pidfd_)), reaped_(other.reaped_) {
  other.reaped_ = true;
}

Process::~Process() {
  if (reaped_) return;
  Kill();
  int status;
  rusage usage;
  (void)Reap(&status, &usage);
}

void Process::Kill() {
  if (!reaped_) PidfdSendSignal(pidfd_.get(), SIGKILL);
}

absl::Status Process::Reap(int* wait_status, rusage* usage) {
  if (reaped_) return absl::FailedPreconditionError("process already reaped");
  for (;;) {
    pid_t r = wait4(pid_, wait_status, __WALL, usage);
    if (r == pid_) break;
    if (r < 0 && errno == EINTR) continue;
    reaped_ = true;
    return ErrnoStatus(errno, absl::StrCat("wait4 ", pid_));
  }
  reaped_ = true;
  return absl::OkStatus();
}

}  // namespace zerocell::sandbox::sys
