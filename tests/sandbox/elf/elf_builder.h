// Builds small ELF64 files in memory so tests can mutate one header field at a time.
#ifndef ZEROCELL_TESTS_SANDBOX_ELF_ELF_BUILDER_H_
#define ZEROCELL_TESTS_SANDBOX_ELF_ELF_BUILDER_H_

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zerocell::sandbox::elf::testing {

inline constexpr uint64_t kBase = 0x400000;
inline constexpr uint64_t kFileSize = 0x2000;
inline constexpr uint64_t kEntry = kBase + 0x1000;

// Starts as a minimal valid static ET_EXEC: the ELF header, one program header at offset 64,
// and one R+X PT_LOAD mapping the whole 8 KiB file at kBase, entry at kBase + 0x1000 (where
// `exit(0)` is written). Tests change fields, then Build().
struct ElfBuilder {
  ElfBuilder() {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = kEntry;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    Load(PF_R | PF_X, 0, kBase, kFileSize, kFileSize);
    // xor edi, edi; mov eax, 60 (exit); syscall
    Put(0x1000, std::string("\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05", 9));
  }

  // Appends a PT_LOAD and returns it for further edits.
  Elf64_Phdr& Load(uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz,
                   uint64_t memsz) {
    return Add(PT_LOAD, flags, offset, vaddr, filesz, memsz);
  }

  Elf64_Phdr& Add(uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz,
                  uint64_t memsz) {
    Elf64_Phdr& ph = phdrs.emplace_back();
    ph = Elf64_Phdr{};
    ph.p_type = type;
    ph.p_flags = flags;
    ph.p_offset = offset;
    ph.p_vaddr = ph.p_paddr = vaddr;
    ph.p_filesz = filesz;
    ph.p_memsz = memsz;
    ph.p_align = type == PT_LOAD ? 0x1000 : 8;
    return ph;
  }

  // Writes `data` at file offset `offset` when building.
  void Put(uint64_t offset, std::string data) { blobs.emplace_back(offset, std::move(data)); }

  // Turns the file into a static-pie: ET_DYN linked at 0 with an empty PT_DYNAMIC.
  void MakePie() {
    eh.e_type = ET_DYN;
    eh.e_entry = 0x1000;
    phdrs[0].p_vaddr = phdrs[0].p_paddr = 0;
    Add(PT_DYNAMIC, PF_R, 0x1800, 0x1800, 2 * sizeof(Elf64_Dyn), 2 * sizeof(Elf64_Dyn));
  }

  // The file bytes; e_phnum follows `phdrs` unless `phnum` is set. Parts that fall outside
  // `file_size` are cut.
  std::string Build() const {
    Elf64_Ehdr header = eh;
    header.e_phnum = phnum.value_or(static_cast<uint16_t>(phdrs.size()));
    std::string out(file_size, '\0');
    auto put = [&out](uint64_t offset, const void* data, uint64_t size) {
      if (offset >= out.size()) return;
      std::memcpy(out.data() + offset, data, std::min<uint64_t>(size, out.size() - offset));
    };
    for (const auto& [offset, data] : blobs) put(offset, data.data(), data.size());
    put(0, &header, sizeof(header));
    for (size_t i = 0; i < phdrs.size(); ++i) {
      if (eh.e_phoff > UINT64_MAX - (i + 1) * sizeof(Elf64_Phdr)) break;
      put(eh.e_phoff + i * sizeof(Elf64_Phdr), &phdrs[i], sizeof(Elf64_Phdr));
    }
    return out;
  }

  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> phdrs;
  std::optional<uint16_t> phnum;
  uint64_t file_size = kFileSize;
  std::vector<std::pair<uint64_t, std::string>> blobs;
};

}  // namespace zerocell::sandbox::elf::testing

#endif  // ZEROCELL_TESTS_SANDBOX_ELF_ELF_BUILDER_H_
