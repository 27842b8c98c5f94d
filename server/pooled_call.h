// A unary gRPC call whose work runs on the worker pool: queued, cancellable, finished once.
#ifndef ZEROCELL_SERVER_POOLED_CALL_H_
#define ZEROCELL_SERVER_POOLED_CALL_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "sandbox/engine.h"
#include "server/worker_pool.h"

namespace zerocell::server {

// Runs on a worker thread. `cancel` fires when the caller cancels or its deadline passes; the
// work must then stop promptly (Engine::Run kills the sandbox).
using PooledWork =
    std::function<grpc::Status(const sandbox::CancelToken& cancel, absl::Duration queue_wait)>;

// Shared by every call of a service; outlives them all.
struct CallCounters {
  // Calls from construction until gRPC is done with them (OnDone).
  std::atomic<int64_t> live{0};
  // Set when the server starts draining: calls cut off then are UNAVAILABLE, not the caller's
  // cancellation.
  std::atomic<bool> draining{false};
};

// Why a call was cut off: UNAVAILABLE when the server is draining, DEADLINE_EXCEEDED when the
// caller's deadline passed, else CANCELLED (the caller cancelled).
grpc::Status CallerGoneStatus(const grpc::CallbackServerContext& context,
                              const CallCounters& counters);

// Called once with the final status, before the call finishes (metrics, logs). Not blocking.
using FinishHook = std::function<void(const grpc::Status& status)>;

// Never blocks the reactor thread: Start() only queues. Deletes itself when gRPC is done with it.
class PooledCall final : public grpc::ServerUnaryReactor {
 public:
  PooledCall(grpc::CallbackServerContext* context, WorkerPool* pool, CallCounters* counters,
             PooledWork work, FinishHook on_finish);
  // Queues the work or finishes at once (RESOURCE_EXHAUSTED, UNAVAILABLE).
  void Start();

  void OnCancel() override;
  void OnDone() override;

 private:
  class Work;
  grpc::Status CallerGoneStatus() const { return server::CallerGoneStatus(*context_, *counters_); }
  void FinishOnce(const grpc::Status& status);

  grpc::CallbackServerContext* const context_;
  WorkerPool* const pool_;
  CallCounters* const counters_;
  FinishHook on_finish_;
  std::shared_ptr<Work> work_;
  std::atomic<bool> finished_{false};
};

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_POOLED_CALL_H_
