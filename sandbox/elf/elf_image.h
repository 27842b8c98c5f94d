// Parses and checks a static x86-64 ELF executable into the layout the loader maps.
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

struct ElfLayout {
  bool pie = false;         // ET_DYN (static-pie, or a PIE with an interpreter): a fixed base
  uint64_t entry = 0;       // as linked
  uint64_t phdr_vaddr = 0;  // as linked; where the program headers are mapped
  uint16_t phnum = 0;
  uint16_t phentsize = 0;
  std::vector<LoadSegment> segments;  // sorted by vaddr, non-overlapping
  // PT_INTERP's path (absolute), when ParseOptions::allow_interpreter let one through; empty:
  // a static program.
  std::string interpreter;
  uint64_t image_span() const;  // page-rounded bytes from first to last segment end
};

struct ParseOptions {
  // Accept a dynamically linked program: PT_INTERP (an absolute path) and DT_NEEDED. Its
  // interpreter then comes from the guest's file tree; program images on their own stay static.
  bool allow_interpreter = false;
};

// Checks `bytes` as a static x86-64 executable (ET_EXEC or static-pie) and returns its load
// layout. Errors are INVALID_ARGUMENT and name the header or segment: "not an ELF file",
// "ELF class 32-bit: only 64-bit x86-64 is supported", "dynamically linked: PT_INTERP
// requests /lib64/ld-linux-x86-64.so.2", "segment 2: writable and executable", ...
absl::StatusOr<ElfLayout> ParseElf(std::string_view bytes, ParseOptions options = {});

}  // namespace zerocell::sandbox::elf

#endif  // ZEROCELL_SANDBOX_ELF_ELF_IMAGE_H_
