// Dispatcher: notified call -> handler -> answer; see dispatcher.h.
#include "sandbox/supervisor/dispatcher.h"

#include <linux/audit.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_format.h"
#include "sandbox/policy/syscall_policy.h"

namespace zerocell::sandbox::supervisor {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;

}  // namespace

Handler HandlerFor(uint32_t arch, int64_t nr) {
  // x32 numbers share the native audit arch: the bit, not the arch, tells them apart.
  const bool x32 = nr >= 0 && (static_cast<uint64_t>(nr) & kX32Bit);
  if (arch != AUDIT_ARCH_X86_64 || x32 || nr < 0 || nr >= kMaxSyscall) return nullptr;
  return Handlers()[static_cast<size_t>(nr)];
}

absl::Status Dispatcher::HandleNext() {
  absl::StatusOr<Notification> n = notifier_.Receive();
  if (absl::IsNotFound(n.status())) return absl::OkStatus();  // the caller died meanwhile
  if (!n.ok()) return n.status();
  ++notified_;
  Call call;
  call.nr = n->nr;
  for (int i = 0; i < 6; ++i) call.args[i] = n->args[i];
  Handler handler = HandlerFor(n->arch, n->nr);
  if (handler == nullptr) {
    // Outside the policy: stop the guest here and name the call. No answer: it dies waiting.
    std::string name = SyscallName(n->arch, n->nr);
    guest_.Stop(Outcome::kPolicyViolation,
                absl::StrFormat("syscall %s (%d) is not allowed", name, n->nr),
                Violation{name, n->nr, "not in the syscall policy"});
    return absl::OkStatus();
  }
  return Serve(n->id, call, handler);
}

absl::Status Dispatcher::RetryPending() {
  if (!pending_.has_value()) return absl::OkStatus();
  Pending p = *pending_;
  pending_.reset();
  // The guest may have been killed meanwhile; its notification is then gone.
  if (!notifier_.IdValid(p.id)) return absl::OkStatus();
  return Serve(p.id, p.call, p.handler);
}

int Dispatcher::Inject(int src_fd, int target_fd) {
  absl::StatusOr<int> added = notifier_.AddFd(serving_id_, src_fd, target_fd);
  if (!added.ok()) return -EBADF;
  return *added;
}

absl::Status Dispatcher::Serve(uint64_t id, const Call& call, Handler handler) {
  serving_id_ = id;
  const Reply reply = handler(guest_, call);
  // A handler that found the run ending (GuestState::Exhausted) leaves the call unanswered.
  if (guest_.stop().has_value() || guest_.cancelled()) return absl::OkStatus();
  if (reply.wait_fd >= 0) {
    // Answered later, when the source has something: the loop keeps serving deadlines and
    // cancellation meanwhile (the guest, single-threaded, makes no other call).
    pending_ = Pending{id, call, handler, reply.wait_fd};
    return absl::OkStatus();
  }
  // The handler read guest memory: answer only if that memory still belonged to this call.
  if (!notifier_.IdValid(id)) return absl::OkStatus();
  absl::Status sent =
      notifier_.Respond(Answer{id, reply.value, reply.error, reply.continue_syscall});
  if (absl::IsNotFound(sent)) return absl::OkStatus();
  return sent;
}

}  // namespace zerocell::sandbox::supervisor
