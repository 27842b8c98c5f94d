// Dispatcher: notified call -> handler -> answer; see dispatcher.h.
#include "sandbox/supervisor/dispatcher.h"

#include <linux/audit.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "absl/strings/str_format.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/supervisor/process_table.h"

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
  // The caller's own state (descriptors, memory, ...) for the handler.
  const uint64_t id = n->id;
  if (!SelectCaller(guest_, static_cast<pid_t>(n->pid), n->arch, n->nr,
                    [this, id] { return notifier_.IdValid(id); })) {
    return absl::OkStatus();
  }
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

absl::Status Dispatcher::RetryPending(size_t i) {
  if (i >= pending_.size()) return absl::OkStatus();
  Pending p = pending_[i];
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
  // The guest may have been killed meanwhile; its notification is then gone.
  if (!notifier_.IdValid(p.id)) return absl::OkStatus();
  guest_.set_current(p.process);
  return Serve(p.id, p.call, p.handler);
}

void Dispatcher::DropGoneCallers() {
  std::erase_if(pending_, [this](const Pending& p) { return !notifier_.IdValid(p.id); });
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
    // cancellation meanwhile (a process waits in one call at a time; the others go on).
    pending_.push_back(Pending{id, call, handler, reply.wait_fd, &guest_.current()});
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
