// AwaitLoader; see loader_wait.h.
#include "sandbox/loader_wait.h"

#include <poll.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox {

absl::Status AwaitLoader(int fd, const sys::Process& process, int cancel_fd, absl::Time deadline,
                         const char* what) {
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("deadline reached before zerocell-loader ", what));
    }
    pollfd fds[3] = {{fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}, {process.pidfd(), POLLIN, 0}};
    timespec ts = absl::ToTimespec(left);
    const int n = ppoll(fds, 3, &ts, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "ppoll on zerocell-loader");
    if (fds[1].revents & POLLIN) return absl::CancelledError("run cancelled");
    if (fds[0].revents & POLLIN) return absl::OkStatus();
    if (fds[2].revents & POLLIN) {
      return absl::AbortedError(absl::StrCat("zerocell-loader exited before it ", what));
    }
  }
}

}  // namespace zerocell::sandbox
