// Conversion of the engine's Result into the public zerocell.v1.ExecuteResponse, and its JSON form.
#ifndef ZEROCELL_API_RESULT_PROTO_H_
#define ZEROCELL_API_RESULT_PROTO_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sandbox/result.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::api {

// The proto enum value for an engine outcome (never OUTCOME_UNSPECIFIED).
zerocell::v1::Outcome OutcomeToProto(sandbox::Outcome outcome);

// The stable name without the OUTCOME_ prefix ("EXITED", ...); "UNSPECIFIED" for 0 and
// "UNKNOWN" for values this build does not know.
absl::string_view OutcomeProtoName(zerocell::v1::Outcome outcome);

// Every field of `result`, durations in nanoseconds. The violation is set only for
// POLICY_VIOLATION; exit_code only for EXITED and signal only for SIGNALED, as the proto documents.
// Pass an rvalue to move the channel outputs instead of copying them.
zerocell::v1::ExecuteResponse ResultToProto(sandbox::Result result, absl::string_view image_id);

// The proto JSON mapping (lowerCamelCase names, int64 as strings, bytes as base64, enums by name)
// on one line, with fields at their default values included so that "exitCode": 0 and empty
// channel counters are always present.
absl::StatusOr<std::string> ExecuteResponseToJson(const zerocell::v1::ExecuteResponse& response);

}  // namespace zerocell::api

#endif  // ZEROCELL_API_RESULT_PROTO_H_
