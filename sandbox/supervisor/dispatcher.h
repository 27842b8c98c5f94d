// Serves notified calls: picks the handler, runs it on the guest's state, answers through the
// Notifier (or keeps a read that must wait), and names calls outside the policy.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_DISPATCHER_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_DISPATCHER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/supervisor/handlers.h"
#include "sandbox/supervisor/notifier.h"

namespace zerocell::sandbox::supervisor {

// Not thread-safe: one per run, on the supervising thread. `notifier` and `guest` outlive it.
class Dispatcher final : public FdInjector {
 public:
  Dispatcher(Notifier& notifier, GuestState& guest) : notifier_(notifier), guest_(guest) {
    guest_.set_injector(this);
  }
  ~Dispatcher() override { guest_.set_injector(nullptr); }
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Into the caller of the call being served.
  int Inject(int src_fd, int target_fd) override;

  // Receives the next notification and serves it: a call outside the policy (no handler, a
  // foreign ABI) stops the guest with POLICY_VIOLATION and is never answered; a handler that
  // stopped the guest leaves it unanswered too; a handler asking to wait (Reply::wait_fd) keeps
  // the call pending; anything else is answered if its id is still valid. Errors are the
  // kernel's (the run cannot go on); a caller that died meanwhile is not an error.
  absl::Status HandleNext();

  // Calls waiting (one at most per process of the run), and the descriptor the i-th waits on.
  size_t pending_count() const { return pending_.size(); }
  int pending_fd(size_t i) const { return pending_[i].fd; }
  // Runs the i-th pending call's handler again (its descriptor polled ready): answered, or
  // pending again on the descriptor it names.
  absl::Status RetryPending(size_t i);
  // Forgets the pending calls whose callers are gone (killed while they waited): their
  // descriptors may never be ready, and a run forking readers and killing them would otherwise
  // grow the list, and every poll, without bound.
  void DropGoneCallers();

  // Notifications received (the run's notified_syscalls).
  int64_t notified() const { return notified_; }

 private:
  struct Pending {
    uint64_t id;
    Call call;
    Handler handler;
    int fd;
    GuestProcess* process;  // its caller
  };
  absl::Status Serve(uint64_t id, const Call& call, Handler handler);

  Notifier& notifier_;
  GuestState& guest_;
  int64_t notified_ = 0;
  uint64_t serving_id_ = 0;
  std::vector<Pending> pending_;
};

// The handler for a notified call of `arch` and number `nr`, or null when it is outside the
// policy (no handler, a foreign ABI, an x32 number).
Handler HandlerFor(uint32_t arch, int64_t nr);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_DISPATCHER_H_
