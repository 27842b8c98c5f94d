// libFuzzer target: the engine's ELF parser (sandbox::elf::ParseElf) on arbitrary bytes.
// Contract checked beyond "no crash": an accepted layout is internally consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sandbox/elf/elf_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto layout = zerocell::sandbox::elf::ParseElf(bytes);
  if (!layout.ok()) {
    // Every refusal is INVALID_ARGUMENT with a message naming what was wrong.
    if (!absl::IsInvalidArgument(layout.status()) || layout.status().message().empty()) abort();
    return 0;
  }
  if (layout->segments.empty() ||
      layout->segments.size() > zerocell::sandbox::elf::kMaxLoadSegments) {
    abort();
  }
  uint64_t previous_end = 0;
  for (const auto& s : layout->segments) {
    if (s.write && s.exec) abort();                              // never W+X
    if (s.filesz > s.memsz) abort();                             // file bytes fit in memory
    if (s.offset > size || s.filesz > size - s.offset) abort();  // inside the file
    if (s.vaddr < previous_end) abort();                         // sorted, non-overlapping
    previous_end = s.vaddr + s.memsz;
  }
  (void)layout->image_span();
  return 0;
}
