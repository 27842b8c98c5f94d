// Image admission: the ELF checks plus the Zydis instruction policy, producing a report.
#ifndef ZEROCELL_IMAGE_VALIDATOR_H_
#define ZEROCELL_IMAGE_VALIDATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace zerocell::image {

// See zerocell.v1.InstructionPolicy for the rules of each.
enum class InstructionPolicy { kStandard, kDeterministic };

// "standard" / "deterministic".
std::string_view PolicyName(InstructionPolicy policy);

// The policy PolicyName returns `name` for; nullopt for any other text.
std::optional<InstructionPolicy> PolicyFromName(std::string_view name);

struct InstructionRejection {
  uint64_t file_offset = 0;
  uint64_t vaddr = 0;       // as linked
  std::string instruction;  // Zydis Intel syntax, e.g. "int 0x80"
  std::string rule;         // e.g. "software interrupt other than int3"
};

struct ByteRange {
  uint64_t file_offset = 0;
  uint64_t vaddr = 0;
  int64_t length = 0;
};

inline constexpr int kMaxReportEntries = 100;

// Mirrors zerocell.v1.ValidationReport (conversion lives in client/report_proto).
struct ValidationReport {
  bool accepted = false;
  bool pie = false;
  uint64_t entry = 0;
  int load_segments = 0;
  int64_t executable_bytes = 0;
  int64_t instructions = 0;
  bool instructions_checked = false;
  InstructionPolicy policy = InstructionPolicy::kStandard;
  std::vector<std::string> warnings;             // at most kMaxReportEntries
  std::vector<InstructionRejection> rejections;  // file order, at most kMaxReportEntries
  int64_t rejected_instructions = 0;             // all refused, also beyond `rejections`
  std::vector<ByteRange> undecodable;            // merged, at most kMaxReportEntries
  int64_t undecodable_bytes = 0;
  int64_t validation_ns = 0;
  // sandbox::host::HostInstruction bits of every decoded instruction that reads host state
  // (rdtsc, rdrand, cpuid, ...), whatever the policy said of it; meaningful when
  // instructions_checked.
  uint32_t host_instructions = 0;
};

struct ValidatorOptions {
  InstructionPolicy policy = InstructionPolicy::kStandard;
  bool check_instructions = true;  // false: ELF checks only
  // The ELF checks of a tree image's member (sandbox::elf::ElfRole::kTreeMember): dynamically
  // linked executables and shared objects are admitted; everything else is checked the same.
  bool tree_member = false;
  uint64_t max_image_bytes = uint64_t{512} << 20;
};

// The outcome of validating one image. `status` is OK exactly when report.accepted; otherwise it
// is INVALID_ARGUMENT whose message names the ELF header/segment or the first refused
// instruction: "instruction at file offset 0x1a3 (vaddr 0x4011a3): int 0x80: software interrupt
// other than int3 (standard policy)". `report` is filled as far as validation got.
struct Validation {
  absl::Status status;
  ValidationReport report;
};

// Pure function of (bytes, options) except validation_ns. Thread-safe.
Validation ValidateImage(std::string_view bytes, const ValidatorOptions& options);

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_VALIDATOR_H_
