// Conversion of the admission ValidationReport into the public zerocell.v1.ValidationReport.
#include "api/report_proto.h"

namespace zerocell::api {

v1::InstructionPolicy PolicyToProto(image::InstructionPolicy policy) {
  switch (policy) {
    case image::InstructionPolicy::kStandard:
      return v1::INSTRUCTION_POLICY_STANDARD;
    case image::InstructionPolicy::kDeterministic:
      return v1::INSTRUCTION_POLICY_DETERMINISTIC;
  }
  return v1::INSTRUCTION_POLICY_UNSPECIFIED;
}

std::optional<image::InstructionPolicy> PolicyFromProto(v1::InstructionPolicy policy) {
  switch (policy) {
    case v1::INSTRUCTION_POLICY_STANDARD:
      return image::InstructionPolicy::kStandard;
    case v1::INSTRUCTION_POLICY_DETERMINISTIC:
      return image::InstructionPolicy::kDeterministic;
    default:
      return std::nullopt;
  }
}

v1::ValidationReport ReportToProto(const image::ValidationReport& report) {
  v1::ValidationReport out;
  out.set_accepted(report.accepted);
  // No segments: the ELF checks refused the file before its kind was known.
  if (report.load_segments > 0) {
    out.set_kind(report.pie ? v1::ELF_KIND_STATIC_PIE : v1::ELF_KIND_EXEC);
  }
  out.set_entry(report.entry);
  out.set_load_segments(report.load_segments);
  out.set_executable_bytes(report.executable_bytes);
  out.set_instructions(report.instructions);
  out.set_instructions_checked(report.instructions_checked);
  out.set_policy(PolicyToProto(report.policy));
  for (const std::string& warning : report.warnings) out.add_warnings(warning);
  for (const image::InstructionRejection& r : report.rejections) {
    v1::InstructionRejection* p = out.add_rejections();
    p->set_file_offset(r.file_offset);
    p->set_vaddr(r.vaddr);
    p->set_instruction(r.instruction);
    p->set_rule(r.rule);
  }
  out.set_rejected_instructions(report.rejected_instructions);
  for (const image::ByteRange& range : report.undecodable) {
    v1::ByteRange* p = out.add_undecodable();
    p->set_file_offset(range.file_offset);
    p->set_vaddr(range.vaddr);
    p->set_length(range.length);
  }
  out.set_undecodable_bytes(report.undecodable_bytes);
  out.set_validation_ns(report.validation_ns);
  return out;
}

v1::TreeSummary TreeToProto(const image::TreeImage& tree, bool with_elves) {
  v1::TreeSummary out;
  out.set_entries(static_cast<int64_t>(tree.tree->node_count()));
  out.set_file_count(static_cast<int64_t>(tree.file_count));
  out.set_total_bytes(static_cast<int64_t>(tree.total_bytes));
  out.set_elf_count(static_cast<int64_t>(tree.elves.size()));
  out.set_validation_ns(tree.validation_ns);
  if (!with_elves) return out;
  for (const image::TreeElf& elf : tree.elves) {
    v1::TreeElf* e = out.add_elves();
    e->set_path(elf.path);
    e->set_shared_object(elf.shared_object);
    e->set_interpreter(elf.interpreter);
    *e->mutable_validation() = ReportToProto(elf.report);
    e->mutable_validation()->set_tree_path(elf.path);
  }
  return out;
}

}  // namespace zerocell::api
