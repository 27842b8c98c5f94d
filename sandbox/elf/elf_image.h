// Parses and checks an x86-64 ELF file (a static program, or a tree member) into its load layout.
#ifndef ZEROCELL_SANDBOX_ELF_ELF_IMAGE_H_
#define ZEROCELL_SANDBOX_ELF_ELF_IMAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace zerocell::sandbox::elf {

inline constexpr uint64_t kMaxImageBytes = uint64_t{512} << 20;
inline constexpr int kMaxLoadSegments = 16;

struct LoadSegment {
  uint64_t vaddr = 0;  // as linked (add ElfLayout::load_bias for static-pie)
  uint64_t memsz = 0;
  uint64_t offset = 0;  // file offset
  uint64_t filesz = 0;
  bool read = false, write = false, exec = false;
};

// What the file is checked as. kProgram: a program image (static: no PT_INTERP, no DT_NEEDED).
// kTreeMember: a file of a tree image, which may be a dynamically linked executable or a shared
// object (PT_INTERP, DT_NEEDED and ET_DYN without PT_DYNAMIC allowed, e_entry 0 allowed for
// ET_DYN, program headers not necessarily mapped); every other check is the same (64-bit x86-64,
// segments inside the file, aligned, not overlapping, never writable and executable).
enum class ElfRole { kProgram, kTreeMember };

struct ElfLayout {
  bool pie = false;         // ET_DYN: static-pie, PIE or shared object (mapped at a chosen base)
  uint64_t entry = 0;       // as linked
  uint64_t phdr_vaddr = 0;  // as linked; where the program headers are mapped (0: not mapped,
                            // kTreeMember only)
  std::string interpreter;  // PT_INTERP's path (kTreeMember only; empty: none)
  bool needs_libraries = false;  // a DT_NEEDED entry (kTreeMember only)
  uint16_t phnum = 0;
  uint16_t phentsize = 0;
  std::vector<LoadSegment> segments;  // sorted by vaddr, non-overlapping
  uint64_t image_span() const;        // page-rounded bytes from first to last segment end
};

// Checks `bytes` as a static x86-64 executable (ET_EXEC or static-pie) and returns its load
// layout. Errors are INVALID_ARGUMENT and name the header or segment: "not an ELF file",
// "ELF class 32-bit: only 64-bit x86-64 is supported", "dynamically linked: PT_INTERP
// requests /lib64/ld-linux-x86-64.so.2", "segment 2: writable and executable", ...
absl::StatusOr<ElfLayout> ParseElf(std::string_view bytes, ElfRole role = ElfRole::kProgram);

}  // namespace zerocell::sandbox::elf

#endif  // ZEROCELL_SANDBOX_ELF_ELF_IMAGE_H_
