// ValidateImage's ELF checks on crafted headers (one mutation of a valid file per check, each
// message naming the header field or segment), the size cap, and real static binaries.
#include <elf.h>

#include <cstdint>
#include <functional>
#include <iostream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/validator.h"
#include "tests/image/validator_test_util.h"
#include "tests/sandbox/elf/elf_builder.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::image {
namespace {

using sandbox::elf::testing::ElfBuilder;
using sandbox::elf::testing::kBase;
using sandbox::elf::testing::kFileSize;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ValidateElfTest, TheUnmutatedCraftedFileIsAccepted) {
  const Validation v = ValidateImage(ElfBuilder().Build(), {});
  EXPECT_THAT(v.status, IsOk());
  EXPECT_TRUE(v.report.accepted);
  EXPECT_EQ(v.report.entry, kBase + 0x1000);
  EXPECT_EQ(v.report.load_segments, 1);
  EXPECT_EQ(v.report.executable_bytes, static_cast<int64_t>(kFileSize));
}

struct ElfCase {
  const char* name;
  std::function<std::string()> build;
  const char* message;  // exact, or a prefix when `prefix`
  bool prefix = false;
};

std::string Built(const std::function<void(ElfBuilder&)>& mutate) {
  ElfBuilder b;
  mutate(b);
  return b.Build();
}

class ElfCheckTest : public ::testing::TestWithParam<ElfCase> {};

TEST_P(ElfCheckTest, RefusedNamingTheHeaderOrSegment) {
  const ElfCase& c = GetParam();
  for (bool check_instructions : {true, false}) {
    const Validation v =
        ValidateImage(c.build(), ValidatorOptions{.check_instructions = check_instructions});
    EXPECT_EQ(v.status.code(), absl::StatusCode::kInvalidArgument) << v.status;
    if (c.prefix) {
      EXPECT_THAT(std::string(v.status.message()), StartsWith(c.message));
    } else {
      EXPECT_EQ(v.status.message(), c.message);
    }
    EXPECT_FALSE(v.report.accepted);
    EXPECT_FALSE(v.report.instructions_checked);
    EXPECT_EQ(v.report.instructions, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Checks, ElfCheckTest,
    ::testing::Values(
        ElfCase{"NotElf", [] { return std::string("#!/bin/sh\necho hi\n"); },
                "not an ELF file: it starts with #! (a script)"},
        ElfCase{"Truncated", [] { return ElfBuilder().Build().substr(0, 40); },
                "truncated: 40 bytes, an ELF64 header needs 64"},
        ElfCase{"Class32",
                [] { return Built([](ElfBuilder& b) { b.eh.e_ident[EI_CLASS] = ELFCLASS32; }); },
                "ELF class 32-bit: only 64-bit x86-64 programs are supported"},
        ElfCase{"BigEndian",
                [] { return Built([](ElfBuilder& b) { b.eh.e_ident[EI_DATA] = ELFDATA2MSB; }); },
                "ELF data encoding big-endian: only little-endian x86-64 programs are supported"},
        ElfCase{"Machine", [] { return Built([](ElfBuilder& b) { b.eh.e_machine = EM_AARCH64; }); },
                "e_machine 183 (aarch64): only x86-64 (62) programs are supported"},
        ElfCase{"TypeRel", [] { return Built([](ElfBuilder& b) { b.eh.e_type = ET_REL; }); },
                "e_type ET_REL: a relocatable object file, not a linked executable (only ET_EXEC "
                "and static-pie ET_DYN are supported)"},
        ElfCase{"DynWithoutDynamic",
                [] { return Built([](ElfBuilder& b) { b.eh.e_type = ET_DYN; }); },
                "e_type ET_DYN without PT_DYNAMIC: not a static-pie (only ET_EXEC and static-pie "
                "are supported)"},
        ElfCase{"Interp",
                [] {
                  return Built([](ElfBuilder& b) {
                    const std::string interp("/lib64/ld-linux-x86-64.so.2\0", 28);
                    b.Put(0x1800, interp);
                    b.Add(PT_INTERP, PF_R, 0x1800, kBase + 0x1800, 28, 28);
                  });
                },
                "dynamically linked: PT_INTERP requests /lib64/ld-linux-x86-64.so.2"},
        ElfCase{"PhentsizeWrong",
                [] { return Built([](ElfBuilder& b) { b.eh.e_phentsize = 32; }); },
                "e_phentsize 32: must be 56 (sizeof(Elf64_Phdr))"},
        ElfCase{"NoProgramHeaders", [] { return Built([](ElfBuilder& b) { b.phnum = 0; }); },
                "e_phnum 0: the file has no program headers"},
        ElfCase{"ProgramHeadersPastEof",
                [] { return Built([](ElfBuilder& b) { b.eh.e_phoff = kFileSize - 32; }); },
                "truncated: program headers end at 8216, file is 8192 bytes"},
        ElfCase{"ProgramHeadersStartPastEof",
                [] { return Built([](ElfBuilder& b) { b.eh.e_phoff = kFileSize + 8; }); },
                "truncated: program headers start at 8200, file is 8192 bytes"},
        ElfCase{"SegmentPastEof",
                [] {
                  return Built(
                      [](ElfBuilder& b) { b.Load(PF_R, 0x1000, kBase + 0x3000, 0x1001, 0x2000); });
                },
                "segment 1 (PT_LOAD at 0x403000): truncated: p_offset 0x1000 + p_filesz 0x1001 "
                "is past the end of the file (8192 bytes)"},
        ElfCase{"Overlap",
                [] {
                  return Built(
                      [](ElfBuilder& b) { b.Load(PF_R, 0x1000, kBase + 0x1000, 0x100, 0x100); });
                },
                "segments 0 and 1 overlap: [0x400000, 0x402000) and [0x401000, 0x401100) share "
                "a 4096-byte page"},
        ElfCase{"AlignNotPowerOfTwo",
                [] { return Built([](ElfBuilder& b) { b.phdrs[0].p_align = 0x3000; }); },
                "segment 0 (PT_LOAD at 0x400000): p_align 0x3000 is not a power of two"},
        ElfCase{"MisalignedToPage",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.phdrs[0].p_vaddr = kBase + 0x10;
                    b.eh.e_entry = kBase + 0x1010;
                  });
                },
                "segment 0 (PT_LOAD at 0x400010): p_vaddr 0x400010 and p_offset 0x0 differ "
                "modulo the 4096-byte page size, so the segment cannot be mapped"},
        ElfCase{"MisalignedToPAlign",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.phdrs[0].p_align = 0x200000;
                    b.phdrs[0].p_vaddr = kBase + 0x1000;
                    b.eh.e_entry = kBase + 0x2000;
                  });
                },
                "segment 0 (PT_LOAD at 0x401000): p_vaddr 0x401000 and p_offset 0x0 differ "
                "modulo p_align 0x200000"},
        ElfCase{"FileszAboveMemsz",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.phdrs[0].p_memsz = 0x1000;
                    b.eh.e_entry = kBase + 0x10;
                  });
                },
                "segment 0 (PT_LOAD at 0x400000): p_filesz 0x2000 is larger than p_memsz 0x1000"},
        ElfCase{"HugeMemsz",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.Load(PF_R | PF_W, 0, kBase + 0x10000, 0, uint64_t{8} << 30);
                  });
                },
                "segments need 8589942784 bytes of memory, above the 4 GiB limit"},
        ElfCase{
            "BeyondTheAddressRange",
            [] { return Built([](ElfBuilder& b) { b.Load(PF_R, 0, 0x6ff000000000, 0, 0x1000); }); },
            "segment 1 (PT_LOAD at 0x6ff000000000): p_vaddr 0x6ff000000000 + p_memsz 0x1000 "
            "ends beyond 0x6effffffb000, the top of the guest address range"},
        ElfCase{"BelowTheNullGuard",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.phdrs[0].p_vaddr = 0x1000;
                    b.eh.e_entry = 0x2000;
                  });
                },
                "segment 0 (PT_LOAD at 0x1000): starts below 0x10000, the lowest mappable "
                "address (vm.mmap_min_addr)"},
        ElfCase{
            "WritableAndExecutable",
            [] { return Built([](ElfBuilder& b) { b.phdrs[0].p_flags = PF_R | PF_W | PF_X; }); },
            "segment 0 (PT_LOAD at 0x400000): writable and executable"},
        ElfCase{"EntryOutsideAnySegment",
                [] { return Built([](ElfBuilder& b) { b.eh.e_entry = 0x500000; }); },
                "entry 0x500000 (e_entry) is not inside an executable segment"},
        ElfCase{"EntryInADataSegment",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.phdrs[0].p_filesz = b.phdrs[0].p_memsz = 0x1000;
                    b.Load(PF_R | PF_W, 0x1000, kBase + 0x1000, 0x1000, 0x1000);
                  });
                },
                "entry 0x401000 (e_entry) is not inside an executable segment"},
        ElfCase{"TooManySegments",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.phdrs[0].p_filesz = b.phdrs[0].p_memsz = 0x1000;
                    b.eh.e_entry = kBase;
                    for (int i = 1; i <= 16; ++i) {
                      b.Load(PF_R, 0, kBase + i * 0x1000, 0x100, 0x100);
                    }
                  });
                },
                "segment 16 (PT_LOAD at 0x410000): more than 16 PT_LOAD segments"},
        ElfCase{"NoLoadSegment",
                [] { return Built([](ElfBuilder& b) { b.phdrs[0].p_type = PT_NOTE; }); },
                "no loadable segment: the file has no non-empty PT_LOAD"},
        ElfCase{"TlsOutsideTheFile",
                [] {
                  return Built([](ElfBuilder& b) {
                    b.Add(PT_TLS, PF_R, 0x1ff8, kBase + 0x1ff8, 0x10, 0x10);
                  });
                },
                "segment 1 (PT_TLS at 0x401ff8): its initialisation image [0x401ff8, +0x10) is "
                "not inside a PT_LOAD's file bytes"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ValidateElfTest, SizeCapComesFromTheOptions) {
  const std::string elf = ElfBuilder().Build();
  const Validation v = ValidateImage(elf, ValidatorOptions{.max_image_bytes = 4096});
  EXPECT_EQ(v.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status.message(), "image is 8192 bytes, above the limit of 4096 bytes");
  EXPECT_THAT(ValidateImage(elf, ValidatorOptions{.max_image_bytes = kFileSize}).status, IsOk());
}

TEST(ValidateElfTest, StaticPieReportsItsKind) {
  ElfBuilder b;
  b.MakePie();
  const Validation v = ValidateImage(b.Build(), {});
  EXPECT_THAT(v.status, IsOk());
  EXPECT_TRUE(v.report.pie);
  EXPECT_EQ(v.report.entry, 0x1000u);
}

// Real static programs from several toolchains pass the standard policy. Their figures are
// printed for the record (instructions decoded, undecodable bytes: the zero fill that linkers put
// between output sections).
class RealBinaryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RealBinaryTest, AcceptedUnderTheStandardPolicy) {
  const std::string path = testing::GuestOrPath(GetParam());
  const std::string elf = testing::ReadBinary(path);
  if (elf.empty() && GetParam() == "/bin/busybox") GTEST_SKIP() << "busybox-static missing";
  ASSERT_FALSE(elf.empty()) << path;
  const Validation v = ValidateImage(elf, {});
  ASSERT_THAT(v.status, IsOk());
  const ValidationReport& r = v.report;
  EXPECT_TRUE(r.accepted);
  EXPECT_TRUE(r.rejections.empty());
  EXPECT_GT(r.instructions, 1000);
  EXPECT_GT(r.executable_bytes, 4000);
  // Only inter-section padding is undecodable in linker output: a handful of bytes.
  EXPECT_LT(r.undecodable_bytes, 64);
  std::cout << "[ figures  ] " << path << ": " << r.instructions << " instructions, "
            << r.executable_bytes << " executable bytes, " << r.undecodable_bytes
            << " undecodable bytes in " << r.undecodable.size() << " ranges, " << r.warnings.size()
            << " warnings, " << r.validation_ns / 1000 << " us\n";
}

INSTANTIATE_TEST_SUITE_P(Binaries, RealBinaryTest,
                         ::testing::Values("hello", "glibc_hello", "hello_pie", "glibc_hello_pie",
                                           "/bin/busybox"),
                         [](const auto& info) {
                           std::string name = info.param == "/bin/busybox" ? "busybox" : info.param;
                           return name;
                         });

TEST(RealBinaryPolicyTest, MuslHelloPassesTheDeterministicPolicy) {
  for (const char* name : {"hello", "hello_pie"}) {
    const Validation v =
        ValidateImage(testing::ReadBinary(testing::GuestOrPath(name)),
                      ValidatorOptions{.policy = InstructionPolicy::kDeterministic});
    EXPECT_THAT(v.status, IsOk()) << name;
  }
}

// glibc's adaptive mutex lock reads the time-stamp counter, so every static glibc program is
// refused by the deterministic policy (and gets an rdtsc warning under the standard one).
TEST(RealBinaryPolicyTest, GlibcReadsTheTimeStampCounter) {
  const std::string elf = testing::ReadBinary(testing::GuestOrPath("glibc_hello"));
  const Validation v =
      ValidateImage(elf, ValidatorOptions{.policy = InstructionPolicy::kDeterministic});
  ASSERT_FALSE(v.report.rejections.empty());
  EXPECT_EQ(v.report.rejections[0].instruction, "rdtsc");
  EXPECT_THAT(std::string(v.status.message()), HasSubstr(": rdtsc: non-deterministic"));
  const Validation standard = ValidateImage(elf, {});
  EXPECT_THAT(standard.report.warnings, ::testing::Contains(HasSubstr("rdtsc at 0x")));
  EXPECT_THAT(standard.report.warnings, ::testing::Contains(HasSubstr("cpuid at 0x")));
}

}  // namespace
}  // namespace zerocell::image
