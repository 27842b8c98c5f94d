// A unary gRPC call whose work runs on the worker pool: queued, cancellable, finished once.
#include "server/pooled_call.h"

#include <chrono>
#include <utility>

#include "api/rpc_status.h"
#include "base/tsan_handoff.h"

namespace zerocell::server {

// The pool's view of the call. Finish ownership: whoever ends the job's life (Run, Reject, or a
// successful Withdraw in OnCancel) finishes the call; the others never touch it again.
class PooledCall::Work final : public Job {
 public:
  Work(PooledCall* call, PooledWork work) : call_(call), work_(std::move(work)) {}

  void Run(absl::Duration queue_wait) override {
    grpc::Status status =
        cancel_requested_.load() ? call_->CallerGoneStatus() : work_(cancel_, queue_wait);
    if (status.error_code() == grpc::StatusCode::CANCELLED && cancel_requested_.load()) {
      status = call_->CallerGoneStatus();
    }
    call_->FinishOnce(status);
  }
  void Reject(absl::Status status) override { call_->FinishOnce(api::ToGrpcStatus(status)); }

  void Cancel() {
    cancel_requested_.store(true);
    cancel_.Cancel();
  }

 private:
  PooledCall* const call_;
  PooledWork work_;
  sandbox::CancelToken cancel_;
  std::atomic<bool> cancel_requested_{false};
};

PooledCall::PooledCall(grpc::CallbackServerContext* context, WorkerPool* pool,
                       CallCounters* counters, PooledWork work, FinishHook on_finish)
    : context_(context),
      pool_(pool),
      counters_(counters),
      on_finish_(std::move(on_finish)),
      work_(std::make_shared<Work>(this, std::move(work))) {
  counters_->live.fetch_add(1);
  ZEROCELL_TSAN_RELEASE(this);  // handed to gRPC when the handler returns it
}

void PooledCall::Start() {
  if (absl::Status queued = pool_->Submit(work_); !queued.ok()) {
    FinishOnce(api::ToGrpcStatus(queued));
  }
}

void PooledCall::OnCancel() {
  ZEROCELL_TSAN_REACTION(this);
  work_->Cancel();
  // Still queued: it will never run, so this thread finishes the call.
  if (pool_->Withdraw(work_.get())) FinishOnce(CallerGoneStatus());
}

void PooledCall::OnDone() {
  ZEROCELL_TSAN_ACQUIRE(this);
  counters_->live.fetch_sub(1);
  delete this;
}

grpc::Status CallerGoneStatus(const grpc::CallbackServerContext& context,
                              const CallCounters& counters) {
  if (counters.draining.load()) {
    return api::ToGrpcStatus(
        absl::UnavailableError("the server is shutting down; the sandbox was killed"));
  }
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return api::ToGrpcStatus(
        absl::DeadlineExceededError("the caller's deadline passed; the sandbox was killed"));
  }
  return api::ToGrpcStatus(
      absl::CancelledError("the caller cancelled the call; the sandbox was killed"));
}

void PooledCall::FinishOnce(const grpc::Status& status) {
  if (finished_.exchange(true)) return;
  if (on_finish_) on_finish_(status);
  ZEROCELL_TSAN_RELEASE(this);
  Finish(status);
}

}  // namespace zerocell::server
