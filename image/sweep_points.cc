// Executable section boundaries from an untrusted ELF64 section header table.
#include "image/sweep_points.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

namespace zerocell::image {

std::vector<uint64_t> ExecutableSectionBoundaries(std::string_view file) {
  std::vector<uint64_t> points;
  if (file.size() < sizeof(Elf64_Ehdr)) return points;
  Elf64_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof(eh));
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shoff > file.size() ||
      (file.size() - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum) {
    return points;
  }
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, file.data() + eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr), sizeof(sh));
    constexpr uint64_t kCode = SHF_ALLOC | SHF_EXECINSTR;
    if ((sh.sh_flags & kCode) != kCode || sh.sh_type == SHT_NOBITS || sh.sh_size == 0) continue;
    if (sh.sh_addr > UINT64_MAX - sh.sh_size) continue;
    points.push_back(sh.sh_addr);
    points.push_back(sh.sh_addr + sh.sh_size);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

}  // namespace zerocell::image
