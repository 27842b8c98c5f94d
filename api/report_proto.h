// Conversion of the admission ValidationReport into the public zerocell.v1.ValidationReport.
#ifndef ZEROCELL_API_REPORT_PROTO_H_
#define ZEROCELL_API_REPORT_PROTO_H_

#include <optional>

#include "image/tree_image.h"
#include "image/validator.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::api {

zerocell::v1::InstructionPolicy PolicyToProto(image::InstructionPolicy policy);
// nullopt for INSTRUCTION_POLICY_UNSPECIFIED and unknown values.
std::optional<image::InstructionPolicy> PolicyFromProto(zerocell::v1::InstructionPolicy policy);

// Every field; lists are already bounded by the validator.
zerocell::v1::ValidationReport ReportToProto(const image::ValidationReport& report);

// A tree image's summary; with_elves adds every admitted ELF with its report.
zerocell::v1::TreeSummary TreeToProto(const image::TreeImage& tree, bool with_elves);

}  // namespace zerocell::api

#endif  // ZEROCELL_API_REPORT_PROTO_H_
