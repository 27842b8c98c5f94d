// The one mapping between absl::Status and grpc::Status (both directions, rich details included).
#include "api/rpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "google/rpc/status.pb.h"

namespace zerocell::api {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  absl::optional<absl::Cord> details = status.GetPayload(kRichDetailsPayload);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      details.has_value() ? std::string(*details) : std::string());
}

grpc::Status ToGrpcStatus(const absl::Status& status, const v1::ValidationReport& report) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(std::string(status.message()));
  rich.add_details()->PackFrom(report);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      rich.SerializeAsString());
}

absl::Status DrainingRefusal() { return absl::UnavailableError(kDrainingMessage); }

bool IsDrainingRefusal(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable && status.message() == kDrainingMessage;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) {
    out.SetPayload(kRichDetailsPayload, absl::Cord(status.error_details()));
  }
  return out;
}

namespace {

std::optional<v1::ValidationReport> ReportInDetails(const std::string& details) {
  if (details.empty()) return std::nullopt;
  google::rpc::Status rich;
  if (!rich.ParseFromString(details)) return std::nullopt;
  for (const google::protobuf::Any& detail : rich.details()) {
    v1::ValidationReport report;
    if (detail.Is<v1::ValidationReport>() && detail.UnpackTo(&report)) return report;
  }
  return std::nullopt;
}

}  // namespace

std::optional<v1::ValidationReport> RejectionReportOf(const grpc::Status& status) {
  return ReportInDetails(status.error_details());
}

std::optional<v1::ValidationReport> RejectionReportOf(const absl::Status& status) {
  absl::optional<absl::Cord> details = status.GetPayload(kRichDetailsPayload);
  if (!details.has_value()) return std::nullopt;
  return ReportInDetails(std::string(*details));
}

}  // namespace zerocell::api
