// The one mapping between absl::Status and grpc::Status (both directions, rich details included).
#ifndef ZEROCELL_CLIENT_RPC_STATUS_H_
#define ZEROCELL_CLIENT_RPC_STATUS_H_

#include <optional>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// Same code and message. The absl and gRPC canonical codes are the same numbers.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same, and `report` packed into the google.rpc.Status carried as grpc-status-details-bin (the
// standard rich-error payload; see proto/google/rpc/status.proto).
grpc::Status ToGrpcStatus(const absl::Status& status, const v1::ValidationReport& report);

absl::Status FromGrpcStatus(const grpc::Status& status);

// The ValidationReport a rejected-image error carries, if any.
std::optional<v1::ValidationReport> RejectionReportOf(const grpc::Status& status);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_RPC_STATUS_H_
