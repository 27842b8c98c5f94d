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

// Called once with the final status, before the call finishes (metrics, logs). Not blocking.
using FinishHook = std::function<void(const grpc::Status& status)>;

// Never blocks the reactor thread: Start() only queues. Deletes itself when gRPC is done with it.
class PooledCall final : public grpc::ServerUnaryReactor {
 public:
  // `live` counts calls from construction until gRPC is done with them (OnDone); it outlives
  // every call.
  PooledCall(grpc::CallbackServerContext* context, WorkerPool* pool, std::atomic<int64_t>* live,
             PooledWork work, FinishHook on_finish);
  // Queues the work or finishes at once (RESOURCE_EXHAUSTED, UNAVAILABLE).
  void Start();

  void OnCancel() override;
  void OnDone() override;

 private:
  class Work;
  // The caller gave up: DEADLINE_EXCEEDED when its deadline passed, else CANCELLED.
  grpc::Status CallerGoneStatus() const;
  void FinishOnce(const grpc::Status& status);

  grpc::CallbackServerContext* const context_;
  WorkerPool* const pool_;
  std::atomic<int64_t>* const live_;
  FinishHook on_finish_;
  std::shared_ptr<Work> work_;
  std::atomic<bool> finished_{false};
};

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_POOLED_CALL_H_
