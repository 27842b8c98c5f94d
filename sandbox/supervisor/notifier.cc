// SeccompNotifier: the Notifier seam over a seccomp listener; see notifier.h.
#include "sandbox/supervisor/notifier.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/errno_status.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::supervisor {

SeccompNotifier::SeccompNotifier(int listener) : listener_(listener) {
  // Sized by the kernel's own notion of the structures; failing means no memory at all.
  if (seccomp_notify_alloc(&req_, &resp_) != 0) abort();
}

SeccompNotifier::~SeccompNotifier() { seccomp_notify_free(req_, resp_); }

absl::StatusOr<Notification> SeccompNotifier::Receive() {
  memset(req_, 0, sizeof(*req_));
  const int rc = seccomp_notify_receive(listener_, req_);
  // ENOENT: the caller died between the poll and the receive; EINTR: nothing was taken.
  if (rc == -ENOENT || rc == -EINTR) return absl::NotFoundError("the notified caller is gone");
  if (rc != 0) return ErrnoStatus(-rc, "seccomp_notify_receive");
  Notification n;
  n.id = req_->id;
  n.pid = req_->pid;
  n.arch = req_->data.arch;
  n.nr = req_->data.nr;
  for (int i = 0; i < 6; ++i) n.args[i] = req_->data.args[i];
  return n;
}

bool SeccompNotifier::IdValid(uint64_t id) { return seccomp_notify_id_valid(listener_, id) == 0; }

absl::Status SeccompNotifier::Respond(const Answer& answer) {
  memset(resp_, 0, sizeof(*resp_));
  resp_->id = answer.id;
  resp_->val = answer.value;
  resp_->error = answer.error ? -answer.error : 0;
  resp_->flags = answer.continue_syscall ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  const int rc = seccomp_notify_respond(listener_, resp_);
  if (rc == -ENOENT) return absl::NotFoundError("the notified caller is gone");
  if (rc != 0) return ErrnoStatus(-rc, "seccomp_notify_respond");
  return absl::OkStatus();
}

absl::StatusOr<int> SeccompNotifier::AddFd(uint64_t id, int src_fd, int target_fd) {
  seccomp_notif_addfd add = {};
  add.id = id;
  add.flags = SECCOMP_ADDFD_FLAG_SETFD;
  add.srcfd = static_cast<uint32_t>(src_fd);
  add.newfd = static_cast<uint32_t>(target_fd);
  add.newfd_flags = O_CLOEXEC;
  const int rc = ioctl(listener_, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  if (rc < 0) {
    if (errno == ENOENT) return absl::NotFoundError("the notified caller is gone");
    return ErrnoStatus(errno, "SECCOMP_IOCTL_NOTIF_ADDFD");
  }
  return rc;
}

}  // namespace zerocell::sandbox::supervisor
