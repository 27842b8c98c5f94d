// ExecuteBatch: many runs of one image in one call, each result streamed back as it completes.
#ifndef ZEROCELL_SERVER_EXECUTE_BATCH_H_
#define ZEROCELL_SERVER_EXECUTE_BATCH_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/pooled_call.h"
#include "server/request_caps.h"
#include "server/sandbox_service.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server {

inline constexpr int kMaxBatchRuns = 10000;

// The most runs of one batch queued or running at once: half the workers (at least one), so that
// whatever batches do, single calls always find workers the batch cannot take.
int BatchShare(int workers);

// What is wrong for every run (INVALID_ARGUMENT naming "program", "image", "runs" or
// "parallelism"); each run's own manifest is checked when its turn comes. Cheap: field scans only.
absl::Status CheckBatchRequest(const zerocell::v1::ExecuteBatchRequest& request,
                               const RequestCaps& caps, int share);

// Scheduling: the image is resolved (validated, cached, pinned) once on a worker; then each run
// is its own job in the worker pool's FIFO queue, beside Execute calls, with at most `window`
// runs submitted and not yet written back to the client (window = parallelism, at most the batch
// share). A run leaves the window when its result has been handed to gRPC, so a client that
// reads slowly stalls its batch and server memory holds at most `window` results. A run refused
// by the queue (full, or its wait deadline passed) is that run's RESOURCE_EXHAUSTED result; one
// refused while others of the batch are in flight waits for one of them instead. Cancellation
// and the deadline withdraw queued runs and kill running sandboxes; the call then ends with
// CANCELLED / DEADLINE_EXCEEDED (UNAVAILABLE while draining) after the results already sent.
// Counts in `calls` like any call. Deletes itself when gRPC is done with it.
grpc::ServerWriteReactor<zerocell::v1::ExecuteBatchResult>* StartExecuteBatch(
    grpc::CallbackServerContext* context, const zerocell::v1::ExecuteBatchRequest* request,
    const ServiceDeps* deps, CallCounters* calls, std::string request_id, std::string ns,
    absl::Status refused, FinishHook on_finish);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_EXECUTE_BATCH_H_
