// ParseElf header checks on crafted files: size, e_ident, ELF header fields, dynamic linking.
#include <elf.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/elf/elf_image.h"
#include "tests/sandbox/elf/elf_builder.h"
#include "tests/sandbox/elf/elf_image_test_util.h"

namespace zerocell::sandbox::elf {
namespace {

using testing::Accepted;
using testing::ElfBuilder;
using testing::kBase;
using testing::kEntry;
using testing::kFileSize;
using testing::Rejection;
using ::testing::StartsWith;

TEST(ParseElfTest, MinimalExecutableIsAccepted) {
  const ElfLayout layout = Accepted(ElfBuilder().Build());
  EXPECT_FALSE(layout.pie);
  EXPECT_EQ(layout.entry, kEntry);
  EXPECT_EQ(layout.phdr_vaddr, kBase + sizeof(Elf64_Ehdr));
  EXPECT_EQ(layout.phnum, 1);
  EXPECT_EQ(layout.phentsize, sizeof(Elf64_Phdr));
  ASSERT_EQ(layout.segments.size(), 1u);
  const LoadSegment& s = layout.segments[0];
  EXPECT_EQ(s.vaddr, kBase);
  EXPECT_EQ(s.memsz, kFileSize);
  EXPECT_EQ(s.offset, 0u);
  EXPECT_EQ(s.filesz, kFileSize);
  EXPECT_TRUE(s.read);
  EXPECT_FALSE(s.write);
  EXPECT_TRUE(s.exec);
  EXPECT_EQ(layout.image_span(), kFileSize);
}

// --- Size and e_ident -------------------------------------------------------------------------

TEST(ParseElfTest, RefusesImagesAboveTheSizeCap) {
  // A read-only reservation of zero pages: the size check must come before any read, and the
  // pages cost no memory.
  const size_t size = kMaxImageBytes + 1;
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(Rejection(std::string_view(static_cast<const char*>(p), size)),
            "image is 536870913 bytes, above the limit of 536870912 bytes");
  munmap(p, size);
}

TEST(ParseElfTest, RefusesTruncatedHeaders) {
  const std::string elf = ElfBuilder().Build();
  EXPECT_EQ(Rejection(elf.substr(0, 10)), "truncated: 10 bytes, an ELF64 header needs 64");
  EXPECT_EQ(Rejection(elf.substr(0, 63)), "truncated: 63 bytes, an ELF64 header needs 64");
  EXPECT_EQ(Rejection(""), "truncated: 0 bytes, an ELF64 header needs 64");
}

TEST(ParseElfTest, RefusesNonElf) {
  EXPECT_EQ(Rejection("hello, world\n"), "not an ELF file: it does not start with \\x7fELF");
  EXPECT_EQ(Rejection("M"), "not an ELF file: it does not start with \\x7fELF");
  EXPECT_EQ(Rejection("#!/bin/sh\necho hi\n"), "not an ELF file: it starts with #! (a script)");
  std::string elf = ElfBuilder().Build();
  elf[3] = 'X';
  EXPECT_THAT(Rejection(elf), StartsWith("not an ELF file"));
}

TEST(ParseElfTest, Refuses32BitAndInvalidClass) {
  ElfBuilder b;
  b.eh.e_ident[EI_CLASS] = ELFCLASS32;
  EXPECT_EQ(Rejection(b.Build()), "ELF class 32-bit: only 64-bit x86-64 programs are supported");
  // A real 32-bit header is 52 bytes: the class is reported before the 64-byte size check.
  EXPECT_EQ(Rejection(b.Build().substr(0, 52)),
            "ELF class 32-bit: only 64-bit x86-64 programs are supported");
  b.eh.e_ident[EI_CLASS] = ELFCLASSNONE;
  EXPECT_EQ(Rejection(b.Build()),
            "ELF class 0 (e_ident[EI_CLASS]) is invalid: only ELFCLASS64 is supported");
}

TEST(ParseElfTest, RefusesBigEndianAndInvalidEncoding) {
  ElfBuilder b;
  b.eh.e_ident[EI_DATA] = ELFDATA2MSB;
  EXPECT_EQ(Rejection(b.Build()),
            "ELF data encoding big-endian: only little-endian x86-64 programs are supported");
  b.eh.e_ident[EI_DATA] = 7;
  EXPECT_EQ(Rejection(b.Build()),
            "ELF data encoding 7 (e_ident[EI_DATA]) is invalid: only little-endian is supported");
}

TEST(ParseElfTest, RefusesBadIdentVersionAndForeignOsAbi) {
  ElfBuilder b;
  b.eh.e_ident[EI_VERSION] = 0;
  EXPECT_EQ(Rejection(b.Build()), "e_ident[EI_VERSION] 0: only EV_CURRENT (1) is supported");
  ElfBuilder freebsd;
  freebsd.eh.e_ident[EI_OSABI] = ELFOSABI_FREEBSD;
  EXPECT_EQ(Rejection(freebsd.Build()),
            "e_ident[EI_OSABI] 9: only System V (0) and GNU/Linux (3) programs are supported");
  ElfBuilder gnu;
  gnu.eh.e_ident[EI_OSABI] = ELFOSABI_GNU;
  Accepted(gnu.Build());
}

// --- ELF header fields ------------------------------------------------------------------------

TEST(ParseElfTest, RefusesOtherMachines) {
  ElfBuilder b;
  b.eh.e_machine = EM_386;
  EXPECT_EQ(Rejection(b.Build()), "e_machine 3 (i386): only x86-64 (62) programs are supported");
  b.eh.e_machine = EM_AARCH64;
  EXPECT_EQ(Rejection(b.Build()),
            "e_machine 183 (aarch64): only x86-64 (62) programs are supported");
  b.eh.e_machine = 0x1234;
  EXPECT_THAT(Rejection(b.Build()), StartsWith("e_machine 4660 (unknown machine)"));
}

TEST(ParseElfTest, RefusesBadVersion) {
  ElfBuilder b;
  b.eh.e_version = 0;
  EXPECT_EQ(Rejection(b.Build()), "e_version 0: only EV_CURRENT (1) is supported");
}

TEST(ParseElfTest, RefusesNonExecutableTypes) {
  ElfBuilder b;
  b.eh.e_type = ET_REL;
  EXPECT_EQ(Rejection(b.Build()),
            "e_type ET_REL: a relocatable object file, not a linked executable (only ET_EXEC "
            "and static-pie ET_DYN are supported)");
  b.eh.e_type = ET_CORE;
  EXPECT_THAT(Rejection(b.Build()), StartsWith("e_type ET_CORE: a core dump"));
  b.eh.e_type = ET_NONE;
  EXPECT_THAT(Rejection(b.Build()), StartsWith("e_type ET_NONE: not an executable"));
  b.eh.e_type = 0xfe00;
  EXPECT_THAT(Rejection(b.Build()), StartsWith("e_type 0xfe00: not an executable"));
}

TEST(ParseElfTest, RefusesWrongPhentsize) {
  ElfBuilder b;
  b.eh.e_phentsize = 32;
  EXPECT_EQ(Rejection(b.Build()), "e_phentsize 32: must be 56 (sizeof(Elf64_Phdr))");
}

TEST(ParseElfTest, RefusesProgramHeadersOutsideTheFile) {
  ElfBuilder b;
  b.eh.e_phoff = kFileSize - 16;
  EXPECT_EQ(Rejection(b.Build()), "truncated: program headers end at 8232, file is 8192 bytes");
  b.eh.e_phoff = 0xffffffffffffff00;
  EXPECT_EQ(Rejection(b.Build()),
            "truncated: program headers start at 18446744073709551360, file is 8192 bytes");
  // A whole file cut after the first program header's start.
  EXPECT_EQ(Rejection(ElfBuilder().Build().substr(0, 100)),
            "truncated: program headers end at 120, file is 100 bytes");
}

TEST(ParseElfTest, ProgramHeaderCountIsBounded) {
  ElfBuilder none;
  none.phnum = 0;
  EXPECT_EQ(Rejection(none.Build()), "e_phnum 0: the file has no program headers");

  ElfBuilder many;
  many.phnum = 129;
  EXPECT_EQ(Rejection(many.Build()), "e_phnum 129: more than 128 program headers");

  // 128 headers (64 + 128 * 56 = 7232 bytes, inside the mapped 8 KiB) are fine.
  ElfBuilder max;
  while (max.phdrs.size() < 128) max.Add(PT_NULL, 0, 0, 0, 0, 0);
  EXPECT_EQ(Accepted(max.Build()).phnum, 128);
}

// --- Dynamic linking --------------------------------------------------------------------------

TEST(ParseElfTest, RefusesPtInterpAndNamesTheInterpreter) {
  ElfBuilder b;
  b.Add(PT_INTERP, PF_R, 0x1800, kBase + 0x1800, 28, 28);
  b.Put(0x1800, std::string("/lib64/ld-linux-x86-64.so.2\0", 28));
  EXPECT_EQ(Rejection(b.Build()),
            "dynamically linked: PT_INTERP requests /lib64/ld-linux-x86-64.so.2");

  // Even a static-pie-shaped ET_DYN is refused when it asks for an interpreter.
  b.MakePie();
  EXPECT_EQ(Rejection(b.Build()),
            "dynamically linked: PT_INTERP requests /lib64/ld-linux-x86-64.so.2");
}

TEST(ParseElfTest, InterpreterStringIsReadSafely) {
  ElfBuilder outside;
  outside.Add(PT_INTERP, PF_R, kFileSize - 8, 0, 0x100, 0x100);
  EXPECT_EQ(Rejection(outside.Build()),
            "dynamically linked: PT_INTERP (segment 1) lies outside the file");

  ElfBuilder wrapping;
  wrapping.Add(PT_INTERP, PF_R, 0xfffffffffffffff0, 0, 0x20, 0x20);
  EXPECT_EQ(Rejection(wrapping.Build()),
            "dynamically linked: PT_INTERP (segment 1) lies outside the file");

  // Unterminated, with control characters: quoted escaped, never past p_filesz.
  ElfBuilder hostile;
  hostile.Add(PT_INTERP, PF_R, 0x1800, 0, 5, 5);
  hostile.Put(0x1800, "/x\n\x01yZZZZ");
  EXPECT_EQ(Rejection(hostile.Build()), "dynamically linked: PT_INTERP requests /x\\n\\x01y");

  ElfBuilder longer;
  longer.Add(PT_INTERP, PF_R, 0x1000, 0, 0x800, 0x800);
  longer.Put(0x1000, std::string(0x800, 'a'));
  EXPECT_EQ(Rejection(longer.Build()),
            "dynamically linked: PT_INTERP requests " + std::string(256, 'a') + "...");
}

// A PT_DYNAMIC at file offset 0x1800 listing DT_NEEDED "libc.so" through a string table at
// as-linked address `strtab`.
void AddNeeded(ElfBuilder& b, uint64_t strtab_vaddr) {
  b.Put(0x1c00, std::string("\0libc.so\0", 9));
  const Elf64_Dyn dyn[] = {
      {DT_NEEDED, {1}}, {DT_STRTAB, {strtab_vaddr}}, {DT_STRSZ, {9}}, {DT_NULL, {0}}};
  b.Put(0x1800, std::string(reinterpret_cast<const char*>(dyn), sizeof(dyn)));
}

TEST(ParseElfTest, RefusesDtNeeded) {
  ElfBuilder pie;
  pie.MakePie();
  pie.phdrs.back().p_filesz = pie.phdrs.back().p_memsz = 4 * sizeof(Elf64_Dyn);
  AddNeeded(pie, 0x1c00);
  EXPECT_EQ(Rejection(pie.Build()), "dynamically linked: DT_NEEDED requests libc.so");

  ElfBuilder exec;
  exec.Add(PT_DYNAMIC, PF_R, 0x1800, kBase + 0x1800, 4 * sizeof(Elf64_Dyn), 4 * sizeof(Elf64_Dyn));
  AddNeeded(exec, kBase + 0x1c00);
  EXPECT_EQ(Rejection(exec.Build()), "dynamically linked: DT_NEEDED requests libc.so");

  // A string table that maps nowhere still gets the program refused.
  ElfBuilder unmapped;
  unmapped.Add(PT_DYNAMIC, PF_R, 0x1800, kBase + 0x1800, 64, 64);
  AddNeeded(unmapped, 0x900000);
  EXPECT_EQ(Rejection(unmapped.Build()),
            "dynamically linked: DT_NEEDED requests a library (its name is not readable)");
}

TEST(ParseElfTest, RefusesEtDynWithoutPtDynamic) {
  ElfBuilder b;
  b.MakePie();
  b.phdrs.pop_back();
  EXPECT_EQ(Rejection(b.Build()),
            "e_type ET_DYN without PT_DYNAMIC: not a static-pie (only ET_EXEC and static-pie "
            "are supported)");
}

TEST(ParseElfTest, AcceptsStaticPieLinkedAtZero) {
  ElfBuilder b;
  b.MakePie();
  const ElfLayout layout = Accepted(b.Build());
  EXPECT_TRUE(layout.pie);
  EXPECT_EQ(layout.entry, 0x1000u);
  EXPECT_EQ(layout.phdr_vaddr, sizeof(Elf64_Ehdr));
  ASSERT_EQ(layout.segments.size(), 1u);
  EXPECT_EQ(layout.segments[0].vaddr, 0u);
}

}  // namespace
}  // namespace zerocell::sandbox::elf
