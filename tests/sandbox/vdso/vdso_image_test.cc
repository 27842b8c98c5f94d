// The built vDSO image (sandbox/vdso): mapped as is by the loader and parsed by glibc and musl as
// the kernel's, so it must be one PT_LOAD whose file layout is its memory layout, need no
// relocation, fit its range, and export the clock calls under LINUX_2.6 with DT_HASH (musl).
#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "sandbox/vdso/clock_page.h"

namespace zerocell::sandbox::vdso {
namespace {

std::string Image() {
  std::ifstream in(ZEROCELL_VDSO_IMAGE, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
T At(const std::string& bytes, uint64_t offset) {
  T value{};
  if (offset + sizeof(T) <= bytes.size()) std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

TEST(VdsoImageTest, OneLoadMappedAsIsWithoutRelocations) {
  const std::string image = Image();
  ASSERT_GE(image.size(), sizeof(Elf64_Ehdr)) << ZEROCELL_VDSO_IMAGE;
  const auto eh = At<Elf64_Ehdr>(image, 0);
  ASSERT_EQ(std::memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
  EXPECT_EQ(eh.e_type, ET_DYN);
  EXPECT_EQ(eh.e_machine, EM_X86_64);
  int loads = 0;
  Elf64_Phdr dynamic{};
  for (int i = 0; i < eh.e_phnum; ++i) {
    const auto ph = At<Elf64_Phdr>(image, eh.e_phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type == PT_LOAD) {
      ++loads;
      EXPECT_EQ(ph.p_offset, 0u);
      EXPECT_EQ(ph.p_vaddr, 0u);
      EXPECT_EQ(ph.p_filesz, ph.p_memsz);  // no bss: the copy is the whole image
      EXPECT_LE(ph.p_memsz, image.size());
      EXPECT_EQ(ph.p_flags, PF_R | PF_X);  // never writable
    }
    if (ph.p_type == PT_DYNAMIC) dynamic = ph;
  }
  EXPECT_EQ(loads, 1);
  EXPECT_LE(image.size(), kVdsoMaxBytes);
  ASSERT_NE(dynamic.p_filesz, 0u) << "no PT_DYNAMIC";

  std::set<int64_t> tags;
  for (uint64_t off = dynamic.p_offset;
       off + sizeof(Elf64_Dyn) <= dynamic.p_offset + dynamic.p_filesz; off += sizeof(Elf64_Dyn)) {
    const auto d = At<Elf64_Dyn>(image, off);
    if (d.d_tag == DT_NULL) break;
    tags.insert(d.d_tag);
  }
  for (int64_t needed : {DT_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERDEF}) {
    EXPECT_TRUE(tags.contains(needed)) << "missing dynamic tag " << needed;
  }
  for (int64_t refused : {DT_REL, DT_RELA, DT_JMPREL, DT_TEXTREL, DT_NEEDED, DT_INIT, DT_FINI}) {
    EXPECT_FALSE(tags.contains(refused)) << "dynamic tag " << refused;
  }
}

TEST(VdsoImageTest, ExportsTheClockCallsUnderLinux26) {
  const std::string image = Image();
  for (const char* name : {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                           "__vdso_clock_getres", "LINUX_2.6", "linux-vdso.so.1"}) {
    EXPECT_NE(image.find(std::string(name) + '\0'), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace zerocell::sandbox::vdso
