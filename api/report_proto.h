// Conversion of the admission ValidationReport into the public zerocell.v1.ValidationReport.
#ifndef ZEROCELL_API_REPORT_PROTO_H_
#define ZEROCELL_API_REPORT_PROTO_H_

#include <optional>

#include "image/validator.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::api {

zerocell::v1::InstructionPolicy PolicyToProto(image::InstructionPolicy policy);
// nullopt for INSTRUCTION_POLICY_UNSPECIFIED and unknown values.
std::optional<image::InstructionPolicy> PolicyFromProto(zerocell::v1::InstructionPolicy policy);

// Every field; lists are already bounded by the validator.
zerocell::v1::ValidationReport ReportToProto(const image::ValidationReport& report);

}  // namespace zerocell::api

#endif  // ZEROCELL_API_REPORT_PROTO_H_
