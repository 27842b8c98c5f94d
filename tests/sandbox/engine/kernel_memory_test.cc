// The memory limit holds for memory that the address space does not show: page tables of sparse
// mappings, mremap that keeps the old range (MREMAP_DONTUNMAP), and mappings that grow on page
// faults (MAP_GROWSDOWN).
#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using ::testing::HasSubstr;
using testing::RunGuest;
using testing::StdManifest;
using testing::StdoutOf;

constexpr int64_t kLimit = int64_t{16} << 20;
constexpr const char* kGiB = "0x40000000";

ManifestBuilder Spray(const char* spacing, const char* count, const char* rounds = "1") {
  ManifestBuilder b = StdManifest({"table_spray", spacing, count, "-", rounds});
  b.set_memory_bytes(kLimit).set_timeout(absl::Seconds(10));
  return b;
}

TEST(EngineKernelMemoryTest, PageTablesOfSparseMappingsCountAgainstTheLimit) {
  // 4 KiB mappings 1 GiB apart: each costs 4 KiB of address space but needs a page table and a
  // page directory (8 KiB) once touched. 2000 of them need 8 MiB of address space and 16 MiB of
  // page tables: past a 16 MiB limit (before, all 2000 were mapped and the guest EXITED).
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray(kGiB, "2000")));
  ASSERT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  EXPECT_THAT(r.detail, HasSubstr("mmap"));
  EXPECT_THAT(r.detail, HasSubstr("page tables"));
}

TEST(EngineKernelMemoryTest, SparseMappingsWithinTheLimitRun) {
  // 500 of them: 2 MiB of address space and 4 MiB of page tables fit.
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray(kGiB, "500")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "mapped=500\n");
}

TEST(EngineKernelMemoryTest, DenseMappingsNeedFewPageTables) {
  // 2000 mappings 8 KiB apart (not merged) share their page tables: 8 MiB of address space.
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray("8192", "2000")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "mapped=2000\n");
}

TEST(EngineKernelMemoryTest, MappingAgainAfterUnmappingCostsNothingMore) {
  // Six rounds of 500 sparse mappings, all unmapped between rounds (munmap runs in the kernel,
  // unseen): the page tables they can need never exceed one round's (4 MiB), though all rounds
  // together would be 24 MiB, past the limit.
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray(kGiB, "500", "6")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "mapped=500\n");
}

TEST(EngineKernelMemoryTest, MremapDontunmapCountsTheRangeItLeaves) {
  // mremap(p, 1 MiB, 1 MiB, MAYMOVE | DONTUNMAP) adds 1 MiB each time (the old range stays
  // mapped): 64 MiB under 16 MiB. Before, equal sizes were not growth: the guest touched memory
  // until the RLIMIT_AS backstop (limit + 16 MiB) refused a call, and ended EXITED.
  ManifestBuilder b = StdManifest({"mem_grow", "dontunmap", "64"});
  b.set_memory_bytes(kLimit);
  ZC_ASSERT_RUN(r, RunGuest("mem_grow", b));
  ASSERT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  EXPECT_THAT(r.detail, HasSubstr("mremap"));
}

TEST(EngineKernelMemoryTest, MremapDontunmapWithinTheLimitRuns) {
  ManifestBuilder b = StdManifest({"mem_grow", "dontunmap", "8"});
  b.set_memory_bytes(kLimit);
  ZC_ASSERT_RUN(r, RunGuest("mem_grow", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "ok grown=8\n");
}

TEST(EngineKernelMemoryTest, GrowsdownMappingsAreRefused) {
  // A MAP_GROWSDOWN mapping grows on page faults, which no accounting sees: EINVAL. Before, it
  // was mapped and grew unaccounted until the kernel's own stack limit ended the guest (SIGSEGV).
  ManifestBuilder b = StdManifest({"mem_grow", "growsdown", "64"});
  b.set_memory_bytes(kLimit);
  ZC_ASSERT_RUN(r, RunGuest("mem_grow", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "refused errno=22\n");
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace zerocell::sandbox
