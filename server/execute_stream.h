// ExecuteStream: one run whose channels are connected to a bidirectional gRPC stream.
#ifndef ZEROCELL_SERVER_EXECUTE_STREAM_H_
#define ZEROCELL_SERVER_EXECUTE_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "server/pooled_call.h"
#include "server/sandbox_service.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server {

// Input bytes waiting for the guest, and output bytes waiting for the client, past which the
// server stops reading input / the guest's write waits. Per stream and direction; one input
// message may exceed it (gRPC's message size bounds that), and the transport's own buffers come
// on top (a fixed HTTP/2 stream window, server.cc). 1 MiB: at 256 KiB the threads handing
// chunks over waited on each other for every chunk (docs/performance.md, "Streaming").
inline constexpr int64_t kStreamWindowBytes = 1 << 20;

// The start message's checks that need no worker: program, caps, and channels a stream can serve
// (sequential, read-only or write-only). INVALID_ARGUMENT names the field or channel.
absl::Status CheckStreamStart(const zerocell::v1::StreamRequest& first, const RequestCaps& caps);

// The run is a job on the worker pool like an Execute (queued FIFO, same caps); the reactor only
// moves messages and never blocks: the guest's reads wait in the supervisor's poll on the
// channel's readiness eventfd, its writes in the worker thread's observer. Counts in `calls`.
// Deletes itself when gRPC is done with it.
grpc::ServerBidiReactor<zerocell::v1::StreamRequest, zerocell::v1::StreamResponse>*
StartExecuteStream(grpc::CallbackServerContext* context, const ServiceDeps* deps,
                   CallCounters* calls, std::string request_id, std::string ns,
                   absl::Status refused, FinishHook on_finish);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_EXECUTE_STREAM_H_
