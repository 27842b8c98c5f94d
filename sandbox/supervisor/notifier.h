// The kernel side of supervision as a seam: receive a notified call, check it is still live,
// answer it. SeccompNotifier is the real one; unit tests drive handlers through a fake.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_NOTIFIER_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_NOTIFIER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct seccomp_notif;
struct seccomp_notif_resp;

namespace zerocell::sandbox::supervisor {

// One notified system call, as the kernel reported it.
struct Notification {
  uint64_t id = 0;    // answers and validity checks name it
  uint32_t pid = 0;   // the calling task, in the supervisor's pid namespace
  uint32_t arch = 0;  // AUDIT_ARCH_*: foreign ABIs (i386, x32 numbers) arrive here too
  int64_t nr = 0;     // the number as the guest issued it (x32 keeps its 0x40000000 bit)
  uint64_t args[6] = {};
};

// How a notified call ends: with a value, an errno, or run by the kernel as the guest made it.
struct Answer {
  uint64_t id = 0;
  int64_t value = 0;
  int error = 0;                  // positive errno; 0 for a value
  bool continue_syscall = false;  // SECCOMP_USER_NOTIF_FLAG_CONTINUE
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // The next notification (call when the listener polled readable). NOT_FOUND when its caller
  // died before it could be received (there is nothing to answer); other errors are the kernel's.
  virtual absl::StatusOr<Notification> Receive() = 0;
  // Whether `id` is still a live call. Whatever a handler read from guest memory belonged to
  // this call only if the id is still valid after the read (the guest may have died and its pid
  // been reused); answers are sent only then.
  virtual bool IdValid(uint64_t id) = 0;
  // Sends `answer`. NOT_FOUND when the caller died meanwhile.
  virtual absl::Status Respond(const Answer& answer) = 0;
  // Installs a duplicate of our `src_fd` in the caller of `id` at exactly `target_fd`
  // (SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD, replacing what was there), close-on-
  // exec. Returns target_fd, or the kernel's errno (EBADF past the guest's RLIMIT_NOFILE).
  virtual absl::StatusOr<int> AddFd(uint64_t id, int src_fd, int target_fd) = 0;
};

// Over a seccomp user-notification listener (libseccomp's receive/respond/id-valid).
class SeccompNotifier final : public Notifier {
 public:
  // `listener` is borrowed: it must outlive this object.
  explicit SeccompNotifier(int listener);
  ~SeccompNotifier() override;
  SeccompNotifier(const SeccompNotifier&) = delete;
  SeccompNotifier& operator=(const SeccompNotifier&) = delete;

  absl::StatusOr<Notification> Receive() override;
  bool IdValid(uint64_t id) override;
  absl::Status Respond(const Answer& answer) override;
  absl::StatusOr<int> AddFd(uint64_t id, int src_fd, int target_fd) override;

 private:
  int listener_;
  seccomp_notif* req_ = nullptr;
  seccomp_notif_resp* resp_ = nullptr;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_NOTIFIER_H_
