// Image admission: the engine's ELF checks, then a Zydis linear sweep of every executable segment.
#include "image/validator.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "image/instruction_rules.h"
#include "image/sweep_points.h"
#include "sandbox/elf/elf_image.h"

namespace zerocell::image {
namespace {

// Accumulates the sweep's findings into the report, keeping at most kMaxReportEntries of each
// list while counting everything.
class SweepRecorder {
 public:
  explicit SweepRecorder(ValidationReport& report) : report_(report) {}

  void Undecodable(uint64_t file_offset, uint64_t vaddr) {
    ++report_.undecodable_bytes;
    // The sweep moves forward one byte at a time over undecodable bytes: extend the last range
    // when this byte follows it directly.
    if (open_range_ && last_end_ == file_offset) {
      ++last_end_;
      if (!report_.undecodable.empty() && range_kept_) ++report_.undecodable.back().length;
      return;
    }
    open_range_ = true;
    last_end_ = file_offset + 1;
    range_kept_ = report_.undecodable.size() < static_cast<size_t>(kMaxReportEntries);
    if (range_kept_) report_.undecodable.push_back({file_offset, vaddr, 1});
  }

  void Decoded() { open_range_ = false; }

  // Formats the instruction only when the report keeps it: an image may hold millions.
  void Refused(uint64_t file_offset, uint64_t vaddr, const X86Decoder& decoder,
               const DecodedInstruction& decoded, std::string_view rule) {
    ++report_.rejected_instructions;
    if (report_.rejections.size() < static_cast<size_t>(kMaxReportEntries)) {
      report_.rejections.push_back(
          {file_offset, vaddr, decoder.Format(decoded, vaddr), std::string(rule)});
    }
  }

  void Warn(std::string_view mnemonic, uint64_t vaddr) {
    if (report_.warnings.size() < static_cast<size_t>(kMaxReportEntries)) {
      report_.warnings.push_back(absl::StrFormat("%s at 0x%x", mnemonic, vaddr));
    }
  }

  // Ends a segment: ranges never merge across segments.
  void EndSegment() { open_range_ = false; }

 private:
  ValidationReport& report_;
  bool open_range_ = false;
  bool range_kept_ = false;
  uint64_t last_end_ = 0;
};

// Decodes the file bytes of one executable segment from its first byte to its last. A byte that
// does not start a valid instruction is recorded and skipped; decoding resumes at the next byte.
// No instruction may straddle a restart point (sorted vaddrs): bytes before one that do not end
// exactly there are undecodable, and decoding resumes at the restart point; but such a byte
// whose unclipped instruction is refused is reported as refused.
void SweepSegment(const X86Decoder& decoder, std::string_view file,
                  const sandbox::elf::LoadSegment& segment, const std::vector<uint64_t>& restarts,
                  InstructionPolicy policy, SweepRecorder& recorder, ValidationReport& report) {
  // ParseElf checked that [offset, offset + filesz) lies inside the file.
  const std::string_view code = file.substr(segment.offset, segment.filesz);
  auto next_restart = std::upper_bound(restarts.begin(), restarts.end(), segment.vaddr);
  DecodedInstruction decoded;
  size_t pos = 0;
  while (pos < code.size()) {
    const uint64_t file_offset = segment.offset + pos;
    const uint64_t vaddr = segment.vaddr + pos;
    while (next_restart != restarts.end() && *next_restart <= vaddr) ++next_restart;
    size_t end = code.size();
    if (next_restart != restarts.end() && *next_restart - segment.vaddr < end) {
      end = *next_restart - segment.vaddr;
    }
    if (!decoder.Decode(code.substr(pos, end - pos), decoded)) {
      // The restart point is attacker-chosen (e_entry, section headers): an instruction that
      // straddles it still runs when jumped to, so it is refused like any other.
      const RuleMatch straddling = end < code.size() && decoder.Decode(code.substr(pos), decoded)
                                       ? Classify(decoder, decoded, policy)
                                       : RuleMatch{};
      if (straddling.verdict == Verdict::kRefused) {
        recorder.Decoded();
        recorder.Refused(file_offset, vaddr, decoder, decoded, straddling.rule);
      } else {
        recorder.Undecodable(file_offset, vaddr);
      }
      ++pos;
      continue;
    }
    recorder.Decoded();
    ++report.instructions;
    report.host_instructions |= HostInstructionBit(decoded.instruction.mnemonic);
    const RuleMatch match = Classify(decoder, decoded, policy);
    if (match.verdict == Verdict::kRefused) {
      recorder.Refused(file_offset, vaddr, decoder, decoded, match.rule);
    } else if (match.verdict == Verdict::kWarning) {
      recorder.Warn(ZydisMnemonicGetString(decoded.instruction.mnemonic), vaddr);
    }
    pos += decoded.instruction.length;
  }
  recorder.EndSegment();
}

// Names the first refused instruction (always kept: the report holds the first 100).
absl::Status RefusalStatus(const ValidationReport& report) {
  const int64_t refused = report.rejected_instructions;
  const InstructionRejection& first = report.rejections.front();
  std::string message = absl::StrFormat(
      "instruction at file offset 0x%x (vaddr 0x%x): %s: %s (%s policy)", first.file_offset,
      first.vaddr, first.instruction, first.rule, PolicyName(report.policy));
  if (refused > 1) {
    absl::StrAppend(&message, "; ", refused - 1,
                    " more refused instruction(s) in the validation report");
  }
  return absl::InvalidArgumentError(message);
}

absl::Status Check(std::string_view bytes, const ValidatorOptions& options,
                   ValidationReport& report) {
  if (bytes.size() > options.max_image_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("image is ", bytes.size(),
                                                   " bytes, above the limit of ",
                                                   options.max_image_bytes, " bytes"));
  }
  absl::StatusOr<sandbox::elf::ElfLayout> layout =
      sandbox::elf::ParseElf(bytes, options.tree_member ? sandbox::elf::ElfRole::kTreeMember
                                                        : sandbox::elf::ElfRole::kProgram);
  if (!layout.ok()) return layout.status();
  report.pie = layout->pie;
  report.entry = layout->entry;
  report.load_segments = static_cast<int>(layout->segments.size());
  for (const sandbox::elf::LoadSegment& segment : layout->segments) {
    if (segment.exec) report.executable_bytes += static_cast<int64_t>(segment.filesz);
  }
  if (!options.check_instructions) return absl::OkStatus();

  std::vector<uint64_t> restarts = ExecutableSectionBoundaries(bytes);
  restarts.insert(std::upper_bound(restarts.begin(), restarts.end(), layout->entry), layout->entry);
  const X86Decoder decoder;
  SweepRecorder recorder(report);
  for (const sandbox::elf::LoadSegment& segment : layout->segments) {
    if (!segment.exec) continue;
    SweepSegment(decoder, bytes, segment, restarts, options.policy, recorder, report);
  }
  report.instructions_checked = true;
  if (report.rejected_instructions > 0) return RefusalStatus(report);
  return absl::OkStatus();
}

}  // namespace

std::string_view PolicyName(InstructionPolicy policy) {
  switch (policy) {
    case InstructionPolicy::kStandard:
      return "standard";
    case InstructionPolicy::kDeterministic:
      return "deterministic";
  }
  return "unknown";
}

std::optional<InstructionPolicy> PolicyFromName(std::string_view name) {
  for (InstructionPolicy policy :
       {InstructionPolicy::kStandard, InstructionPolicy::kDeterministic}) {
    if (name == PolicyName(policy)) return policy;
  }
  return std::nullopt;
}

Validation ValidateImage(std::string_view bytes, const ValidatorOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  Validation validation;
  validation.report.policy = options.policy;
  validation.status = Check(bytes, options, validation.report);
  validation.report.accepted = validation.status.ok();
  validation.report.validation_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  return validation;
}

}  // namespace zerocell::image
