// The one mapping between absl::Status and grpc::Status (both directions, rich details included).
#ifndef ZEROCELL_API_RPC_STATUS_H_
#define ZEROCELL_API_RPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <optional>

#include "absl/status/status.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::api {

// Same code and message. The absl and gRPC canonical codes are the same numbers. Rich details kept
// by FromGrpcStatus (payload kRichDetailsPayload) travel on as grpc-status-details-bin.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same, and `report` packed into the google.rpc.Status carried as grpc-status-details-bin (the
// standard rich-error payload; see proto/google/rpc/status.proto).
grpc::Status ToGrpcStatus(const absl::Status& status, const v1::ValidationReport& report);

// Same code and message; rich details (grpc-status-details-bin) are kept as the payload
// kRichDetailsPayload (the serialized google.rpc.Status) so that callers that only see absl::Status
// can still reach them (RejectionReportOf below).
absl::Status FromGrpcStatus(const grpc::Status& status);

// A draining server's answer to a call that arrives after its stop signal: UNAVAILABLE with this
// message. The call was never accepted, so a client may send it again, to any replica.
inline constexpr char kDrainingMessage[] =
    "the server is shutting down and accepts no new calls; retry (another replica, or this "
    "address once it restarts)";
absl::Status DrainingRefusal();
bool IsDrainingRefusal(const absl::Status& status);

// Type URL of the absl::Status payload holding a serialized google.rpc.Status.
inline constexpr char kRichDetailsPayload[] = "type.googleapis.com/google.rpc.Status";

// The ValidationReport a rejected-image error carries, if any.
std::optional<v1::ValidationReport> RejectionReportOf(const grpc::Status& status);
std::optional<v1::ValidationReport> RejectionReportOf(const absl::Status& status);

}  // namespace zerocell::api

#endif  // ZEROCELL_API_RPC_STATUS_H_
