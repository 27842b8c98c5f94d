// ParseElf segment checks (PT_LOAD, entry, phdr address), real binaries and robustness sweeps.
#include <elf.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/vdso/clock_page.h"
#include "tests/sandbox/elf/elf_builder.h"
#include "tests/sandbox/elf/elf_image_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox::elf {
namespace {

using testing::Accepted;
using testing::ElfBuilder;
using ::testing::HasSubstr;
using testing::kBase;
using testing::kFileSize;
using testing::Rejection;
using ::testing::StartsWith;

// --- PT_LOAD segments -------------------------------------------------------------------------

TEST(ParseElfTest, RefusesFileszAboveMemsz) {
  ElfBuilder b;
  b.phdrs[0].p_memsz = 0x1000;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x400000): p_filesz 0x2000 is larger than p_memsz 0x1000");
}

TEST(ParseElfTest, RefusesSegmentsPastTheEndOfTheFile) {
  ElfBuilder b;
  b.Load(PF_R, 0x1000, kBase + 0x3000, 0x1001, 0x2000);
  EXPECT_EQ(Rejection(b.Build()),
            "segment 1 (PT_LOAD at 0x403000): truncated: p_offset 0x1000 + p_filesz 0x1001 is "
            "past the end of the file (8192 bytes)");
  ElfBuilder wrap;
  wrap.Load(PF_R, 0xfffffffffffff000, kBase + 0x3000, 0x2000, 0x2000);
  EXPECT_THAT(Rejection(wrap.Build()), HasSubstr("truncated: p_offset 0xfffffffffffff000"));
  // Exactly to the end is fine.
  ElfBuilder exact;
  exact.Load(PF_R, 0x1000, kBase + 0x3000, 0x1000, 0x5000);
  Accepted(exact.Build());
}

TEST(ParseElfTest, ChecksAlignment) {
  ElfBuilder b;
  b.phdrs[0].p_align = 3;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x400000): p_align 0x3 is not a power of two");
  b.phdrs[0].p_align = 0x200;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x400000): p_align 0x200 is below the 4096-byte page size");
  for (uint64_t align : {0, 1, 0x1000, 0x200000}) {
    b.phdrs[0].p_align = align;
    Accepted(b.Build());
  }
}

TEST(ParseElfTest, RefusesVaddrAndOffsetOnDifferentPageOffsets) {
  ElfBuilder b;
  b.phdrs[0].p_offset = 0x10;
  b.phdrs[0].p_filesz = 0x1000;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x400000): p_vaddr 0x400000 and p_offset 0x10 differ modulo "
            "the 4096-byte page size, so the segment cannot be mapped");
}

TEST(ParseElfTest, RefusesVaddrAndOffsetOnDifferentOffsetsWithinPAlign) {
  ElfBuilder b;
  b.phdrs[0].p_align = 0x200000;
  b.phdrs[0].p_vaddr = kBase + 0x1000;
  b.eh.e_entry = kBase + 0x1000;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x401000): p_vaddr 0x401000 and p_offset 0x0 differ modulo "
            "p_align 0x200000");
  b.phdrs[0].p_align = 0x1000;
  Accepted(b.Build());
}

TEST(ParseElfTest, ChecksTheTlsSegment) {
  ElfBuilder b;
  Elf64_Phdr& tls = b.Add(PT_TLS, PF_R, 0x1800, kBase + 0x1800, 0x10, 0x40);
  Accepted(b.Build());
  tls.p_filesz = 0x80;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 1 (PT_TLS at 0x401800): p_filesz 0x80 is larger than p_memsz 0x40");
  tls.p_filesz = 0x10;
  tls.p_vaddr = kBase + kFileSize - 8;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 1 (PT_TLS at 0x401ff8): its initialisation image [0x401ff8, +0x10) is not "
            "inside a PT_LOAD's file bytes");
  tls.p_filesz = 0;  // nothing to copy: only the size matters
  Accepted(b.Build());
}

TEST(ParseElfTest, ExecSegmentsStayAboveTheNullGuard) {
  ElfBuilder b;
  b.phdrs[0].p_vaddr = 0x1000;
  b.eh.e_entry = 0x2000;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x1000): starts below 0x10000, the lowest mappable address "
            "(vm.mmap_min_addr)");
  b.phdrs[0].p_vaddr = 0x10000;
  b.eh.e_entry = 0x11000;
  Accepted(b.Build());
}

// The limit is where the guest's vDSO and clock page begin, below the loader (a segment there
// would make every launch of an accepted image fail).
TEST(ParseElfTest, ExecSegmentsEndBelowTheGuestAddressLimit) {
  ASSERT_EQ(vdso::kClockPageAddr, 0x6effffffb000u);
  ElfBuilder b;
  b.phdrs[0].p_vaddr = 0x6effffffb000 - 0x2000;
  b.phdrs[0].p_memsz = 0x3000;
  b.eh.e_entry = b.phdrs[0].p_vaddr;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0x6effffff9000): p_vaddr 0x6effffff9000 + p_memsz 0x3000 "
            "ends beyond 0x6effffffb000, the top of the guest address range");
  b.phdrs[0].p_memsz = 0x2000;  // ends exactly at the limit
  Accepted(b.Build());
  // vaddr + memsz wraps around 2^64.
  b.phdrs[0].p_vaddr = 0xfffffffffffff000;
  b.eh.e_entry = b.phdrs[0].p_vaddr;
  EXPECT_THAT(Rejection(b.Build()), HasSubstr("ends beyond 0x6effffffb000"));
}

TEST(ParseElfTest, StaticPieSpanIsBounded) {
  ElfBuilder b;
  b.MakePie();
  b.phdrs[0].p_vaddr = (uint64_t{1} << 40) - 0x1000;
  b.eh.e_entry = b.phdrs[0].p_vaddr;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 0 (PT_LOAD at 0xfffffff000): p_vaddr 0xfffffff000 + p_memsz 0x2000 ends "
            "beyond 0x10000000000: a static-pie must fit in 1 TiB");
  b.phdrs[0].p_vaddr = 0xfffffffffffff000;
  b.eh.e_entry = b.phdrs[0].p_vaddr;
  EXPECT_THAT(Rejection(b.Build()), HasSubstr("a static-pie must fit in 1 TiB"));
}

TEST(ParseElfTest, RefusesWritableAndExecutable) {
  ElfBuilder b;
  b.phdrs.clear();
  b.Add(PT_NOTE, PF_R, 0, 0, 0, 0);
  b.Load(PF_R, 0, kBase, 0x1000, 0x1000);
  b.Load(PF_R | PF_W | PF_X, 0x1000, kBase + 0x1000, 0x1000, 0x1000);
  EXPECT_EQ(Rejection(b.Build()), "segment 2 (PT_LOAD at 0x401000): writable and executable");
  b.phdrs[2].p_flags = PF_W | PF_X;
  EXPECT_EQ(Rejection(b.Build()), "segment 2 (PT_LOAD at 0x401000): writable and executable");
  b.phdrs[2].p_flags = PF_R | PF_X;
  Accepted(b.Build());
}

TEST(ParseElfTest, LoadSegmentCountIsBounded) {
  ElfBuilder b;
  b.phdrs[0].p_filesz = b.phdrs[0].p_memsz = 0x1000;
  b.eh.e_entry = kBase;
  for (int i = 1; i < kMaxLoadSegments; ++i) b.Load(PF_R, 0, kBase + i * 0x1000, 0x100, 0x100);
  EXPECT_EQ(Accepted(b.Build()).segments.size(), size_t{kMaxLoadSegments});
  b.Load(PF_R, 0, kBase + kMaxLoadSegments * 0x1000, 0x100, 0x100);
  EXPECT_EQ(Rejection(b.Build()),
            "segment 16 (PT_LOAD at 0x410000): more than 16 PT_LOAD segments");
}

TEST(ParseElfTest, RefusesOverlapAfterPageRounding) {
  ElfBuilder b;
  b.phdrs.clear();
  b.Load(PF_R | PF_X, 0, kBase, 0x800, 0x800);
  b.Load(PF_R | PF_W, 0x1900, kBase + 0x900, 0x100, 0x100);
  b.eh.e_entry = kBase + 0x100;
  EXPECT_EQ(Rejection(b.Build()),
            "segments 0 and 1 overlap: [0x400000, 0x400800) and [0x400900, 0x400a00) share a "
            "4096-byte page");
  // Listed out of order and overlapping outright: still found, named by header index.
  b.phdrs[1].p_vaddr = kBase - 0x1000 + 0x900;
  b.phdrs[1].p_memsz = 0x2000;
  EXPECT_THAT(Rejection(b.Build()), StartsWith("segments 1 and 0 overlap"));
}

TEST(ParseElfTest, SortsSegmentsByAddress) {
  ElfBuilder b;
  b.phdrs.clear();
  b.Load(PF_R | PF_W, 0x1000, kBase + 0x3000, 0x100, 0x2000);
  b.Load(PF_R | PF_X, 0, kBase, 0x1000, 0x1000);
  b.eh.e_entry = kBase + 0x100;
  const ElfLayout layout = Accepted(b.Build());
  ASSERT_EQ(layout.segments.size(), 2u);
  EXPECT_EQ(layout.segments[0].vaddr, kBase);
  EXPECT_EQ(layout.segments[1].vaddr, kBase + 0x3000);
  EXPECT_TRUE(layout.segments[1].write);
  EXPECT_FALSE(layout.segments[1].exec);
  EXPECT_EQ(layout.image_span(), 0x5000u);
}

TEST(ParseElfTest, DropsEmptyLoadSegments) {
  ElfBuilder b;
  b.Load(PF_R, 0, kBase + 0x10000, 0, 0);
  EXPECT_EQ(Accepted(b.Build()).segments.size(), 1u);
}

TEST(ParseElfTest, RefusesFilesWithoutLoadSegments) {
  ElfBuilder b;
  b.phdrs[0].p_type = PT_NOTE;
  EXPECT_EQ(Rejection(b.Build()), "no loadable segment: the file has no non-empty PT_LOAD");
}

TEST(ParseElfTest, TotalMemoryIsBounded) {
  ElfBuilder b;
  b.Load(PF_R | PF_W, 0, kBase + 0x10000, 0, uint64_t{4} << 30);
  EXPECT_EQ(Rejection(b.Build()),
            "segments need 4294975488 bytes of memory, above the 4 GiB limit");
  b.phdrs[1].p_memsz = (uint64_t{4} << 30) - kFileSize;
  Accepted(b.Build());
}

TEST(ParseElfTest, EntryMustBeInAnExecutableSegment) {
  ElfBuilder b;
  b.eh.e_entry = 0x500000;
  EXPECT_EQ(Rejection(b.Build()), "entry 0x500000 (e_entry) is not inside an executable segment");
  b.eh.e_entry = kBase + kFileSize;  // one past the end
  EXPECT_EQ(Rejection(b.Build()), "entry 0x402000 (e_entry) is not inside an executable segment");
  b.eh.e_entry = kBase + kFileSize - 1;
  Accepted(b.Build());
  b.phdrs[0].p_flags = PF_R;
  EXPECT_THAT(Rejection(b.Build()), HasSubstr("is not inside an executable segment"));
}

// --- Program header address -------------------------------------------------------------------

TEST(ParseElfTest, PhdrVaddrComesFromPtPhdr) {
  ElfBuilder b;
  b.Add(PT_PHDR, PF_R, 64, kBase + 0x100, 112, 112);
  EXPECT_EQ(Accepted(b.Build()).phdr_vaddr, kBase + 0x100);
  b.phdrs[1].p_vaddr = 0x900000;
  EXPECT_EQ(Rejection(b.Build()),
            "segment 1 (PT_PHDR at 0x900000): the program headers are not inside a loaded "
            "segment");
  b.phdrs[1].p_vaddr = kBase + kFileSize - 8;  // starts inside, ends outside
  EXPECT_THAT(Rejection(b.Build()), HasSubstr("not inside a loaded segment"));
  b.phdrs[1].p_vaddr = kBase + 0x40;
  b.Add(PT_PHDR, PF_R, 64, kBase + 0x40, 168, 168);
  EXPECT_EQ(Rejection(b.Build()), "segment 2: a second PT_PHDR");
}

TEST(ParseElfTest, PhdrVaddrFallsBackToTheSegmentMappingEPhoff) {
  ElfBuilder b;
  b.phdrs.clear();
  b.Load(PF_R, 0, kBase, 0x800, 0x800);
  b.Load(PF_R | PF_X, 0x1000, kBase + 0x1000, 0x1000, 0x1000);
  b.eh.e_phoff = 0x200;
  EXPECT_EQ(Accepted(b.Build()).phdr_vaddr, kBase + 0x200);

  b.phdrs.erase(b.phdrs.begin());
  EXPECT_EQ(Rejection(b.Build()),
            "program headers (file offset 0x200) are not inside any PT_LOAD segment and there is "
            "no PT_PHDR");
}

// --- Real binaries ----------------------------------------------------------------------------

// The layout agrees with the file's own headers (read here with trusted, well-formed input).
void ExpectMatchesHeaders(const std::string& bytes, const ElfLayout& layout) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof(eh));
  EXPECT_EQ(layout.entry, eh.e_entry);
  EXPECT_EQ(layout.phnum, eh.e_phnum);
  EXPECT_EQ(layout.pie, eh.e_type == ET_DYN);
  size_t loads = 0;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type != PT_LOAD) continue;
    ++loads;
    if (ph.p_offset == 0) {
      EXPECT_EQ(layout.phdr_vaddr, ph.p_vaddr + eh.e_phoff);
    }
  }
  ASSERT_EQ(layout.segments.size(), loads);
  int exec = 0;
  for (size_t i = 0; i < layout.segments.size(); ++i) {
    const LoadSegment& s = layout.segments[i];
    EXPECT_FALSE(s.write && s.exec);
    exec += s.exec;
    if (i > 0) {
      EXPECT_GE(s.vaddr, layout.segments[i - 1].vaddr + layout.segments[i - 1].memsz);
    }
  }
  EXPECT_EQ(exec, 1);
  EXPECT_GT(layout.image_span(), 0u);
  EXPECT_EQ(layout.image_span() % 4096, 0u);
}

class RealStaticBinaryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RealStaticBinaryTest, IsAccepted) {
  const std::string path =
      GetParam().front() == '/' ? GetParam() : zerocell::testing::GuestPath(GetParam());
  const std::string bytes = zerocell::testing::ReadFile(path).value_or("");
  if (bytes.empty() && GetParam() == "/bin/busybox") GTEST_SKIP() << "busybox-static missing";
  ASSERT_FALSE(bytes.empty()) << path;
  absl::StatusOr<ElfLayout> layout = ParseElf(bytes);
  ASSERT_THAT(layout, IsOk()) << path;
  ExpectMatchesHeaders(bytes, *layout);
  const bool pie = GetParam().find("pie") != std::string::npos;
  EXPECT_EQ(layout->pie, pie);
  if (pie) {
    EXPECT_EQ(layout->segments.front().vaddr, 0u);
  }
  if (!pie) {
    EXPECT_EQ(layout->phdr_vaddr, kBase + sizeof(Elf64_Ehdr));
  }
}

INSTANTIATE_TEST_SUITE_P(Binaries, RealStaticBinaryTest,
                         ::testing::Values("/bin/busybox", "elf_hello_glibc", "elf_hello_musl",
                                           "elf_hello_musl_pie", "elf_hello_glibc_pie"));

TEST(ParseElfTest, RefusesRealDynamicBinaries) {
  EXPECT_EQ(Rejection(zerocell::testing::GuestBytes("elf_hello_dynamic")),
            "dynamically linked: PT_INTERP requests /lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(Rejection(zerocell::testing::GuestBytes("elf_hello_dynamic_nopie")),
            "dynamically linked: PT_INTERP requests /lib64/ld-linux-x86-64.so.2");
  // Debian 12's musl-gcc silently turns -static-pie into a dynamic link.
  EXPECT_EQ(Rejection(zerocell::testing::GuestBytes("elf_hello_musl_pie_as_shipped")),
            "dynamically linked: PT_INTERP requests /lib/ld-musl-x86_64.so.1");
}

// --- Robustness: hostile variations never crash and only ever fail as INVALID_ARGUMENT --------

void ExpectAcceptedOrInvalid(std::string_view bytes) {
  absl::StatusOr<ElfLayout> layout = ParseElf(bytes);
  if (!layout.ok()) {
    ASSERT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument) << layout.status();
    return;
  }
  // Whatever is accepted keeps the layout invariants the loader relies on.
  for (size_t i = 0; i < layout->segments.size(); ++i) {
    const LoadSegment& s = layout->segments[i];
    ASSERT_FALSE(s.write && s.exec);
    ASSERT_LE(s.filesz, s.memsz);
    ASSERT_LE(s.offset + s.filesz, bytes.size());
    ASSERT_LE(s.vaddr + s.memsz, uint64_t{0x6f0000000000});
    if (i > 0) {
      ASSERT_LE(layout->segments[i - 1].vaddr + layout->segments[i - 1].memsz, s.vaddr);
    }
  }
}

TEST(ParseElfRobustnessTest, EveryHeaderByteMutatedAndEveryTruncation) {
  for (const std::string& name : {std::string("elf_hello_musl"), std::string("elf_hello_musl_pie"),
                                  std::string("elf_hello_glibc")}) {
    std::string bytes = zerocell::testing::GuestBytes(name);
    ASSERT_GT(bytes.size(), 4096u) << name;
    Elf64_Ehdr eh;
    std::memcpy(&eh, bytes.data(), sizeof(eh));
    const size_t headers_end = eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr);
    for (size_t i = 0; i < headers_end; ++i) {
      const char original = bytes[i];
      for (int value : {0x00, 0xff, 0x80, 0x7f, 0x01, original ^ 0x10}) {
        bytes[i] = static_cast<char>(value);
        ExpectAcceptedOrInvalid(bytes);
        if (HasFatalFailure()) return;
      }
      bytes[i] = original;
    }
    for (size_t size = 0; size < bytes.size(); size += size < 4096 ? 1 : 997) {
      ExpectAcceptedOrInvalid(std::string_view(bytes).substr(0, size));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(ParseElfRobustnessTest, RandomProgramHeaderFields) {
  std::mt19937_64 rng(42);
  const uint64_t interesting[] = {0,
                                  1,
                                  0xfff,
                                  0x1000,
                                  0x10000,
                                  kBase,
                                  kFileSize,
                                  0x6f0000000000,
                                  uint64_t{1} << 40,
                                  ~uint64_t{0},
                                  ~uint64_t{0} - 0xfff,
                                  uint64_t{1} << 63};
  for (int iteration = 0; iteration < 20000; ++iteration) {
    ElfBuilder b;
    if (iteration % 2) b.MakePie();
    b.Load(PF_R | PF_W, 0x1000, kBase + 0x10000, 0x800, 0x3000);
    const int mutations = 1 + rng() % 3;
    for (int m = 0; m < mutations; ++m) {
      Elf64_Phdr& ph = b.phdrs[rng() % b.phdrs.size()];
      uint64_t* fields[] = {&ph.p_offset, &ph.p_vaddr, &ph.p_filesz, &ph.p_memsz, &ph.p_align};
      const uint64_t value = rng() % 2 ? interesting[rng() % std::size(interesting)] : rng();
      *fields[rng() % std::size(fields)] = value;
      if (rng() % 8 == 0) ph.p_flags = rng() % 8;
      if (rng() % 8 == 0) ph.p_type = rng() % 2 ? PT_INTERP : PT_PHDR;
    }
    ExpectAcceptedOrInvalid(b.Build());
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace zerocell::sandbox::elf
