// Helpers for the validator tests: the crafted images built from crafted/*.S, their symbols, and
// the mapping from an address to its file offset.
#ifndef ZEROCELL_TESTS_IMAGE_VALIDATOR_TEST_UTIL_H_
#define ZEROCELL_TESTS_IMAGE_VALIDATOR_TEST_UTIL_H_

#include <elf.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandbox/elf/elf_image.h"

namespace zerocell::image::testing {

// The whole file, or "" when it cannot be read.
inline std::string ReadBinary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return in ? out.str() : "";
}

// A crafted image (built by tests/image/CMakeLists.txt from crafted/NAME.S).
inline std::string CraftedImage(std::string_view name) {
  return ReadBinary(std::string(ZEROCELL_CRAFTED_DIR) + "/" + std::string(name));
}

// $ZEROCELL_GUEST_DIR/NAME, or NAME itself when it is an absolute path.
inline std::string GuestOrPath(const std::string& name) {
  if (!name.empty() && name[0] == '/') return name;
  const char* dir = std::getenv("ZEROCELL_GUEST_DIR");
  return std::string(dir != nullptr ? dir : "guests") + "/" + name;
}

// The value of symbol `name` in the file's .symtab, read independently of the validator.
inline std::optional<uint64_t> SymbolValue(std::string_view elf, std::string_view name) {
  auto read = [&elf](uint64_t offset, void* out, size_t size) {
    if (offset > elf.size() || size > elf.size() - offset) return false;
    std::memcpy(out, elf.data() + offset, size);
    return true;
  };
  Elf64_Ehdr eh;
  if (!read(0, &eh, sizeof(eh))) return std::nullopt;
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr symtab, strtab;
    if (!read(eh.e_shoff + i * sizeof(Elf64_Shdr), &symtab, sizeof(symtab))) return std::nullopt;
    if (symtab.sh_type != SHT_SYMTAB) continue;
    if (!read(eh.e_shoff + symtab.sh_link * sizeof(Elf64_Shdr), &strtab, sizeof(strtab))) {
      return std::nullopt;
    }
    for (uint64_t k = 0; k < symtab.sh_size / sizeof(Elf64_Sym); ++k) {
      Elf64_Sym sym;
      if (!read(symtab.sh_offset + k * sizeof(Elf64_Sym), &sym, sizeof(sym))) break;
      const uint64_t at = strtab.sh_offset + sym.st_name;
      if (at >= elf.size()) continue;
      const std::string_view text = elf.substr(at);
      if (text.substr(0, text.find('\0')) == name) return sym.st_value;
    }
  }
  return std::nullopt;
}

// The file offset of `vaddr` through the PT_LOAD that maps it from the file.
inline std::optional<uint64_t> FileOffsetOf(std::string_view elf, uint64_t vaddr) {
  absl::StatusOr<sandbox::elf::ElfLayout> layout = sandbox::elf::ParseElf(elf);
  if (!layout.ok()) return std::nullopt;
  for (const sandbox::elf::LoadSegment& s : layout->segments) {
    if (vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz) return vaddr - s.vaddr + s.offset;
  }
  return std::nullopt;
}

}  // namespace zerocell::image::testing

#endif  // ZEROCELL_TESTS_IMAGE_VALIDATOR_TEST_UTIL_H_
