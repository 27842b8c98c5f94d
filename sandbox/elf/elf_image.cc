// Parses and checks an x86-64 ELF file (program or tree member) without trusting any of its fields.
#include "sandbox/elf/elf_image.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "sandbox/vdso/clock_page.h"

namespace zerocell::sandbox::elf {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint16_t kMaxProgramHeaders = 128;
constexpr uint64_t kPhdrSize = sizeof(Elf64_Phdr);
// Linux refuses mappings below vm.mmap_min_addr (65536 by default), and an unmapped low range
// keeps NULL dereferences faulting.
constexpr uint64_t kMinExecAddress = 0x10000;
// ET_EXEC segments end below this: the rest of the 47-bit user range belongs to the guest's vDSO
// and its clock page, the loader and the stack.
constexpr uint64_t kMaxExecAddress = vdso::kClockPageAddr;
// A static-pie is mapped at a fixed base, so its as-linked addresses must stay small.
constexpr uint64_t kMaxPieSpan = uint64_t{1} << 40;
// Sum of page-rounded segment sizes: refuses images whose bss alone exceeds any sane limit.
constexpr uint64_t kMaxTotalMemory = uint64_t{4} << 30;
// Longest PT_INTERP / DT_NEEDED string quoted back in an error message.
constexpr size_t kMaxQuotedChars = 256;

// An accepted PT_LOAD with its index in the program header table (for messages).
struct IndexedSegment {
  size_t index = 0;
  LoadSegment segment;
};

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

std::string Hex(uint64_t value) { return absl::StrFormat("0x%x", value); }

// Whether [offset, offset + length) lies inside `size` bytes, without overflowing.
bool Inside(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

uint64_t PageDown(uint64_t value) { return value & ~(kPageSize - 1); }
// Only called on addresses already bounded by kMaxExecAddress or kMaxPieSpan.
uint64_t PageUp(uint64_t value) { return PageDown(value + kPageSize - 1); }

// Copies a T out of `bytes`; the caller has checked that it fits.
template <typename T>
T ReadAt(absl::string_view bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// A printable, length-capped copy of the NUL-terminated string at the start of `raw`.
std::string Quote(absl::string_view raw) {
  raw = raw.substr(0, raw.find('\0'));
  const bool cut = raw.size() > kMaxQuotedChars;
  std::string quoted = absl::CHexEscape(raw.substr(0, kMaxQuotedChars));
  if (cut) quoted += "...";
  return quoted;
}

absl::string_view MachineName(uint16_t machine) {
  switch (machine) {
    case EM_386:
      return "i386";
    case EM_X86_64:
      return "x86-64";
    case EM_ARM:
      return "arm";
    case EM_AARCH64:
      return "aarch64";
    case EM_RISCV:
      return "riscv";
    case EM_PPC:
      return "powerpc";
    case EM_PPC64:
      return "powerpc64";
    case EM_S390:
      return "s390";
    case EM_MIPS:
      return "mips";
    case EM_SPARCV9:
      return "sparc64";
    case EM_IA_64:
      return "ia64";
    case EM_LOONGARCH:
      return "loongarch";
    default:
      return "unknown machine";
  }
}

std::string TypeName(uint16_t type) {
  switch (type) {
    case ET_NONE:
      return "ET_NONE";
    case ET_REL:
      return "ET_REL";
    case ET_EXEC:
      return "ET_EXEC";
    case ET_DYN:
      return "ET_DYN";
    case ET_CORE:
      return "ET_CORE";
    default:
      return Hex(type);
  }
}

// e_ident: magic, class, data encoding, version and OS ABI. Reads only the bytes present.
absl::Status CheckIdent(absl::string_view bytes) {
  const absl::string_view magic(ELFMAG, SELFMAG);
  if (bytes.substr(0, SELFMAG) != magic.substr(0, std::min<size_t>(bytes.size(), SELFMAG))) {
    if (bytes.substr(0, 2) == "#!") return Invalid("not an ELF file: it starts with #! (a script)");
    return Invalid("not an ELF file: it does not start with \\x7fELF");
  }
  if (bytes.size() < EI_NIDENT) {
    return Invalid(absl::StrCat("truncated: ", bytes.size(), " bytes, an ELF64 header needs ",
                                sizeof(Elf64_Ehdr)));
  }
  const auto* ident = reinterpret_cast<const unsigned char*>(bytes.data());
  if (ident[EI_CLASS] == ELFCLASS32) {
    return Invalid("ELF class 32-bit: only 64-bit x86-64 programs are supported");
  }
  if (ident[EI_CLASS] != ELFCLASS64) {
    return Invalid(absl::StrCat("ELF class ", ident[EI_CLASS],
                                " (e_ident[EI_CLASS]) is invalid: only ELFCLASS64 is supported"));
  }
  if (ident[EI_DATA] == ELFDATA2MSB) {
    return Invalid(
        "ELF data encoding big-endian: only little-endian x86-64 programs are supported");
  }
  if (ident[EI_DATA] != ELFDATA2LSB) {
    return Invalid(absl::StrCat("ELF data encoding ", ident[EI_DATA],
                                " (e_ident[EI_DATA]) is invalid: only little-endian is supported"));
  }
  if (ident[EI_VERSION] != EV_CURRENT) {
    return Invalid(absl::StrCat("e_ident[EI_VERSION] ", ident[EI_VERSION],
                                ": only EV_CURRENT (1) is supported"));
  }
  // Other OS ABIs (FreeBSD, ...) would issue syscalls with another meaning.
  if (ident[EI_OSABI] != ELFOSABI_SYSV && ident[EI_OSABI] != ELFOSABI_GNU) {
    return Invalid(absl::StrCat("e_ident[EI_OSABI] ", ident[EI_OSABI],
                                ": only System V (0) and GNU/Linux (3) programs are supported"));
  }
  return absl::OkStatus();
}

// The fixed ELF header fields, then the bounds of the program header table.
absl::Status CheckHeader(const Elf64_Ehdr& eh, uint64_t file_size) {
  if (eh.e_machine != EM_X86_64) {
    return Invalid(absl::StrCat("e_machine ", eh.e_machine, " (", MachineName(eh.e_machine),
                                "): only x86-64 (62) programs are supported"));
  }
  if (eh.e_version != EV_CURRENT) {
    return Invalid(absl::StrCat("e_version ", eh.e_version, ": only EV_CURRENT (1) is supported"));
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    absl::string_view what = "not an executable";
    if (eh.e_type == ET_REL) what = "a relocatable object file, not a linked executable";
    if (eh.e_type == ET_CORE) what = "a core dump, not an executable";
    return Invalid(absl::StrCat("e_type ", TypeName(eh.e_type), ": ", what,
                                " (only ET_EXEC and static-pie ET_DYN are supported)"));
  }
  if (eh.e_phentsize != kPhdrSize) {
    return Invalid(absl::StrCat("e_phentsize ", eh.e_phentsize, ": must be ", kPhdrSize,
                                " (sizeof(Elf64_Phdr))"));
  }
  if (eh.e_phnum == 0) return Invalid("e_phnum 0: the file has no program headers");
  if (eh.e_phnum > kMaxProgramHeaders) {
    return Invalid(absl::StrCat("e_phnum ", eh.e_phnum, ": more than ", kMaxProgramHeaders,
                                " program headers"));
  }
  if (eh.e_phoff > file_size) {
    return Invalid(absl::StrCat("truncated: program headers start at ", eh.e_phoff, ", file is ",
                                file_size, " bytes"));
  }
  // Cannot overflow: e_phoff <= file_size <= kMaxImageBytes and the table is below 8 KiB.
  const uint64_t end = eh.e_phoff + eh.e_phnum * kPhdrSize;
  if (end > file_size) {
    return Invalid(
        absl::StrCat("truncated: program headers end at ", end, ", file is ", file_size, " bytes"));
  }
  return absl::OkStatus();
}

// Maps an as-linked address to its file offset through the file-backed part of a PT_LOAD.
std::optional<uint64_t> FileOffsetOf(const std::vector<Elf64_Phdr>& phdrs, uint64_t vaddr) {
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type != PT_LOAD || vaddr < ph.p_vaddr) continue;
    const uint64_t delta = vaddr - ph.p_vaddr;
    if (delta < ph.p_filesz && ph.p_offset <= UINT64_MAX - delta) return ph.p_offset + delta;
  }
  return std::nullopt;
}

// The first DT_NEEDED library named by a PT_DYNAMIC, nullopt if none. Best effort on the name:
// a DT_NEEDED whose string cannot be located is still reported.
std::optional<std::string> FindNeeded(absl::string_view bytes, const Elf64_Phdr& dynamic,
                                      const std::vector<Elf64_Phdr>& phdrs) {
  if (!Inside(dynamic.p_offset, dynamic.p_filesz, bytes.size())) return std::nullopt;
  std::optional<uint64_t> needed, strtab, strsz;
  for (uint64_t i = 0; i < dynamic.p_filesz / sizeof(Elf64_Dyn); ++i) {
    const auto dyn = ReadAt<Elf64_Dyn>(bytes, dynamic.p_offset + i * sizeof(Elf64_Dyn));
    if (dyn.d_tag == DT_NULL) break;
    if (dyn.d_tag == DT_NEEDED && !needed) needed = dyn.d_un.d_val;
    if (dyn.d_tag == DT_STRTAB) strtab = dyn.d_un.d_ptr;
    if (dyn.d_tag == DT_STRSZ) strsz = dyn.d_un.d_val;
  }
  if (!needed) return std::nullopt;
  std::optional<uint64_t> table = strtab ? FileOffsetOf(phdrs, *strtab) : std::nullopt;
  if (!table || *table > bytes.size() || *needed >= bytes.size() - *table ||
      (strsz && *needed >= *strsz)) {
    return std::string("a library (its name is not readable)");
  }
  return Quote(bytes.substr(*table + *needed));
}

// Dynamically linked programs need a loader and libraries the sandbox does not provide.
absl::Status CheckStatic(absl::string_view bytes, const Elf64_Ehdr& eh,
                         const std::vector<Elf64_Phdr>& phdrs) {
  const Elf64_Phdr* dynamic = nullptr;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    if (ph.p_type == PT_INTERP) {
      if (!Inside(ph.p_offset, ph.p_filesz, bytes.size())) {
        return Invalid(
            absl::StrCat("dynamically linked: PT_INTERP (segment ", i, ") lies outside the file"));
      }
      return Invalid(absl::StrCat("dynamically linked: PT_INTERP requests ",
                                  Quote(bytes.substr(ph.p_offset, ph.p_filesz))));
    }
    if (ph.p_type == PT_DYNAMIC && dynamic == nullptr) dynamic = &ph;
  }
  if (dynamic != nullptr) {
    if (std::optional<std::string> needed = FindNeeded(bytes, *dynamic, phdrs)) {
      return Invalid(absl::StrCat("dynamically linked: DT_NEEDED requests ", *needed));
    }
  }
  if (eh.e_type == ET_DYN && dynamic == nullptr) {
    return Invalid(
        "e_type ET_DYN without PT_DYNAMIC: not a static-pie (only ET_EXEC and static-pie are "
        "supported)");
  }
  return absl::OkStatus();
}

// A tree member may be dynamically linked: records its PT_INTERP (which must lie inside the file
// and be a NUL-terminated path) and whether it names libraries.
absl::Status DescribeDynamic(absl::string_view bytes, const std::vector<Elf64_Phdr>& phdrs,
                             ElfLayout& layout) {
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    if (ph.p_type == PT_INTERP) {
      if (!layout.interpreter.empty()) {
        return Invalid(absl::StrCat("segment ", i, ": a second PT_INTERP"));
      }
      if (!Inside(ph.p_offset, ph.p_filesz, bytes.size()) || ph.p_filesz < 2 ||
          ph.p_filesz > 4096) {
        return Invalid(
            absl::StrCat("segment ", i, " (PT_INTERP): outside the file or not 1 to 4095 bytes"));
      }
      absl::string_view path = bytes.substr(ph.p_offset, ph.p_filesz);
      if (path.back() != '\0' || path.substr(0, path.size() - 1).find('\0') != path.npos) {
        return Invalid(absl::StrCat("segment ", i, " (PT_INTERP): not one NUL-terminated path"));
      }
      layout.interpreter = std::string(path.substr(0, path.size() - 1));
    }
    if (ph.p_type == PT_DYNAMIC && FindNeeded(bytes, ph, phdrs).has_value()) {
      layout.needs_libraries = true;
    }
  }
  return absl::OkStatus();
}

// One PT_LOAD on its own: sizes, file bounds, alignment, address range and permissions.
absl::Status CheckLoad(size_t index, const Elf64_Phdr& ph, bool pie, uint64_t file_size) {
  const std::string where =
      absl::StrCat("segment ", index, " (PT_LOAD at ", Hex(ph.p_vaddr), "): ");
  if (ph.p_filesz > ph.p_memsz) {
    return Invalid(absl::StrCat(where, "p_filesz ", Hex(ph.p_filesz), " is larger than p_memsz ",
                                Hex(ph.p_memsz)));
  }
  if (!Inside(ph.p_offset, ph.p_filesz, file_size)) {
    return Invalid(absl::StrCat(where, "truncated: p_offset ", Hex(ph.p_offset), " + p_filesz ",
                                Hex(ph.p_filesz), " is past the end of the file (", file_size,
                                " bytes)"));
  }
  // p_align 0 and 1 mean "no constraint"; the page congruence below is what mmap needs.
  if (ph.p_align > 1) {
    if ((ph.p_align & (ph.p_align - 1)) != 0) {
      return Invalid(absl::StrCat(where, "p_align ", Hex(ph.p_align), " is not a power of two"));
    }
    if (ph.p_align < kPageSize) {
      return Invalid(absl::StrCat(where, "p_align ", Hex(ph.p_align), " is below the ", kPageSize,
                                  "-byte page size"));
    }
  }
  if (ph.p_vaddr % kPageSize != ph.p_offset % kPageSize) {
    return Invalid(absl::StrCat(where, "p_vaddr ", Hex(ph.p_vaddr), " and p_offset ",
                                Hex(ph.p_offset), " differ modulo the ", kPageSize,
                                "-byte page size, so the segment cannot be mapped"));
  }
  // ELF requires p_vaddr == p_offset modulo p_align; glibc's loader refuses files that break it.
  if (ph.p_align > 1 && (ph.p_vaddr - ph.p_offset) % ph.p_align != 0) {
    return Invalid(absl::StrCat(where, "p_vaddr ", Hex(ph.p_vaddr), " and p_offset ",
                                Hex(ph.p_offset), " differ modulo p_align ", Hex(ph.p_align)));
  }
  if (!pie && ph.p_vaddr < kMinExecAddress) {
    return Invalid(absl::StrCat(where, "starts below ", Hex(kMinExecAddress),
                                ", the lowest mappable address (vm.mmap_min_addr)"));
  }
  const uint64_t limit = pie ? kMaxPieSpan : kMaxExecAddress;
  if (!Inside(ph.p_vaddr, ph.p_memsz, limit)) {
    return Invalid(absl::StrCat(
        where, "p_vaddr ", Hex(ph.p_vaddr), " + p_memsz ", Hex(ph.p_memsz), " ends beyond ",
        Hex(limit),
        pie ? ": a static-pie must fit in 1 TiB" : ", the top of the guest address range"));
  }
  // Guests never get memory that is both writable and executable.
  if ((ph.p_flags & PF_W) != 0 && (ph.p_flags & PF_X) != 0) {
    return Invalid(absl::StrCat(where, "writable and executable"));
  }
  return absl::OkStatus();
}

// Every PT_LOAD, then the set: count, overlap after page rounding, total size. Sorted by vaddr.
absl::StatusOr<std::vector<IndexedSegment>> CheckLoads(const std::vector<Elf64_Phdr>& phdrs,
                                                       bool pie, uint64_t file_size) {
  std::vector<IndexedSegment> loads;
  int count = 0;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    if (ph.p_type != PT_LOAD) continue;
    if (++count > kMaxLoadSegments) {
      return Invalid(absl::StrCat("segment ", i, " (PT_LOAD at ", Hex(ph.p_vaddr), "): more than ",
                                  kMaxLoadSegments, " PT_LOAD segments"));
    }
    RETURN_IF_ERROR(CheckLoad(i, ph, pie, file_size));
    if (ph.p_memsz == 0) continue;  // maps nothing
    IndexedSegment& load = loads.emplace_back();
    load.index = i;
    load.segment = LoadSegment{.vaddr = ph.p_vaddr,
                               .memsz = ph.p_memsz,
                               .offset = ph.p_offset,
                               .filesz = ph.p_filesz,
                               .read = (ph.p_flags & PF_R) != 0,
                               .write = (ph.p_flags & PF_W) != 0,
                               .exec = (ph.p_flags & PF_X) != 0};
  }
  if (loads.empty()) return Invalid("no loadable segment: the file has no non-empty PT_LOAD");
  std::stable_sort(loads.begin(), loads.end(),
                   [](const auto& a, const auto& b) { return a.segment.vaddr < b.segment.vaddr; });
  uint64_t total = 0;
  for (size_t i = 0; i < loads.size(); ++i) {
    const LoadSegment& s = loads[i].segment;
    total += PageUp(s.vaddr + s.memsz) - PageDown(s.vaddr);  // at most 16 * 2^47: no overflow
    if (i == 0) continue;
    // Segments are mapped page by page; two sharing a page would clobber each other's bytes
    // or permissions.
    const LoadSegment& prev = loads[i - 1].segment;
    if (PageUp(prev.vaddr + prev.memsz) > PageDown(s.vaddr)) {
      return Invalid(absl::StrCat("segments ", loads[i - 1].index, " and ", loads[i].index,
                                  " overlap: [", Hex(prev.vaddr), ", ",
                                  Hex(prev.vaddr + prev.memsz), ") and [", Hex(s.vaddr), ", ",
                                  Hex(s.vaddr + s.memsz), ") share a ", kPageSize, "-byte page"));
    }
  }
  if (total > kMaxTotalMemory) {
    return Invalid(
        absl::StrCat("segments need ", total, " bytes of memory, above the 4 GiB limit"));
  }
  return loads;
}

absl::Status CheckEntry(uint64_t entry, const std::vector<IndexedSegment>& loads) {
  for (const IndexedSegment& load : loads) {
    const LoadSegment& s = load.segment;
    if (s.exec && entry >= s.vaddr && entry - s.vaddr < s.memsz) return absl::OkStatus();
  }
  return Invalid(
      absl::StrCat("entry ", Hex(entry), " (e_entry) is not inside an executable segment"));
}

// PT_TLS: libc copies its initialisation image from memory at startup, so that image must be
// file-backed bytes of a PT_LOAD.
absl::Status CheckTls(const std::vector<Elf64_Phdr>& phdrs,
                      const std::vector<IndexedSegment>& loads) {
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    if (ph.p_type != PT_TLS) continue;
    const std::string where = absl::StrCat("segment ", i, " (PT_TLS at ", Hex(ph.p_vaddr), "): ");
    if (ph.p_filesz > ph.p_memsz) {
      return Invalid(absl::StrCat(where, "p_filesz ", Hex(ph.p_filesz), " is larger than p_memsz ",
                                  Hex(ph.p_memsz)));
    }
    if (ph.p_align > 1 && (ph.p_align & (ph.p_align - 1)) != 0) {
      return Invalid(absl::StrCat(where, "p_align ", Hex(ph.p_align), " is not a power of two"));
    }
    if (ph.p_memsz > kMaxTotalMemory) {
      return Invalid(absl::StrCat(where, "p_memsz ", Hex(ph.p_memsz), " is above the 4 GiB limit"));
    }
    if (ph.p_filesz == 0) continue;
    bool inside = false;
    for (const IndexedSegment& load : loads) {
      const LoadSegment& s = load.segment;
      inside =
          inside || (ph.p_vaddr >= s.vaddr && Inside(ph.p_vaddr - s.vaddr, ph.p_filesz, s.filesz));
    }
    if (!inside) {
      return Invalid(absl::StrCat(where, "its initialisation image [", Hex(ph.p_vaddr), ", +",
                                  Hex(ph.p_filesz), ") is not inside a PT_LOAD's file bytes"));
    }
  }
  return absl::OkStatus();
}

// Where the program headers are mapped (AT_PHDR): libc startup reads PT_TLS etc. through it.
absl::StatusOr<uint64_t> FindPhdrVaddr(const Elf64_Ehdr& eh, const std::vector<Elf64_Phdr>& phdrs,
                                       const std::vector<IndexedSegment>& loads) {
  const uint64_t table_size = eh.e_phnum * kPhdrSize;
  const Elf64_Phdr* pt_phdr = nullptr;
  size_t pt_phdr_index = 0;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    if (phdrs[i].p_type != PT_PHDR) continue;
    if (pt_phdr != nullptr) return Invalid(absl::StrCat("segment ", i, ": a second PT_PHDR"));
    pt_phdr = &phdrs[i];
    pt_phdr_index = i;
  }
  if (pt_phdr != nullptr) {
    const uint64_t vaddr = pt_phdr->p_vaddr;
    for (const IndexedSegment& load : loads) {
      const LoadSegment& s = load.segment;
      if (vaddr >= s.vaddr && Inside(vaddr - s.vaddr, table_size, s.filesz)) return vaddr;
    }
    return Invalid(absl::StrCat("segment ", pt_phdr_index, " (PT_PHDR at ", Hex(vaddr),
                                "): the program headers are not inside a loaded segment"));
  }
  for (const IndexedSegment& load : loads) {
    const LoadSegment& s = load.segment;
    if (eh.e_phoff >= s.offset && Inside(eh.e_phoff - s.offset, table_size, s.filesz)) {
      return s.vaddr + (eh.e_phoff - s.offset);
    }
  }
  return Invalid(absl::StrCat("program headers (file offset ", Hex(eh.e_phoff),
                              ") are not inside any PT_LOAD segment and there is no PT_PHDR"));
}

}  // namespace

uint64_t ElfLayout::image_span() const {
  if (segments.empty()) return 0;
  uint64_t end = 0;
  for (const LoadSegment& s : segments) end = std::max(end, s.vaddr + s.memsz);
  return PageUp(end) - PageDown(segments.front().vaddr);
}

absl::StatusOr<ElfLayout> ParseElf(std::string_view file, ElfRole role) {
  // Debian's abseil has its own string_view type; the public API uses std::string_view.
  const absl::string_view bytes(file.data(), file.size());
  const uint64_t size = bytes.size();
  if (size > kMaxImageBytes) {
    return Invalid(
        absl::StrCat("image is ", size, " bytes, above the limit of ", kMaxImageBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckIdent(bytes));
  if (size < sizeof(Elf64_Ehdr)) {
    return Invalid(
        absl::StrCat("truncated: ", size, " bytes, an ELF64 header needs ", sizeof(Elf64_Ehdr)));
  }
  const auto eh = ReadAt<Elf64_Ehdr>(bytes, 0);
  RETURN_IF_ERROR(CheckHeader(eh, size));
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  for (size_t i = 0; i < phdrs.size(); ++i) {
    phdrs[i] = ReadAt<Elf64_Phdr>(bytes, eh.e_phoff + i * kPhdrSize);
  }
  const bool member = role == ElfRole::kTreeMember;
  ElfLayout layout;
  if (member) {
    RETURN_IF_ERROR(DescribeDynamic(bytes, phdrs, layout));
  } else {
    RETURN_IF_ERROR(CheckStatic(bytes, eh, phdrs));
  }
  layout.pie = eh.e_type == ET_DYN;
  layout.entry = eh.e_entry;
  layout.phnum = eh.e_phnum;
  layout.phentsize = eh.e_phentsize;
  ASSIGN_OR_RETURN(std::vector<IndexedSegment> loads, CheckLoads(phdrs, layout.pie, size));
  // A shared object need not have an entry point (e_entry 0); when it names one, it is checked.
  if (!(member && layout.pie && eh.e_entry == 0)) RETURN_IF_ERROR(CheckEntry(eh.e_entry, loads));
  RETURN_IF_ERROR(CheckTls(phdrs, loads));
  absl::StatusOr<uint64_t> phdr_vaddr = FindPhdrVaddr(eh, phdrs, loads);
  // A shared object's program headers are read from the file by the dynamic loader, not mapped.
  if (!phdr_vaddr.ok() && !(member && layout.interpreter.empty())) return phdr_vaddr.status();
  layout.phdr_vaddr = phdr_vaddr.ok() ? *phdr_vaddr : 0;
  layout.segments.reserve(loads.size());
  for (const IndexedSegment& load : loads) layout.segments.push_back(load.segment);
  return layout;
}

}  // namespace zerocell::sandbox::elf
