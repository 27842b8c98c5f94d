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

constexpr int64_t kLimit = int64_t{32} << 20;
constexpr const char* kGiB = "0x40000000";

ManifestBuilder Spray(const char* spacing, const char* count, const char* rounds = "1") {
  ManifestBuilder b = StdManifest({"table_spray", spacing, count, "-", rounds});
  b.set_memory_bytes(kLimit).set_timeout(absl::Seconds(10));
  return b;
}

TEST(EngineKernelMemoryTest, PageTablesOfSparseMappingsCountAgainstTheLimit) {
  // 4 KiB mappings 1 GiB apart: each costs 4 KiB of address space but needs a page table and a
  // page directory (8 KiB) once touched. 4000 of them need 16 MiB of address space and 32 MiB of
  // page tables: past a 32 MiB limit (before, the guest went on until RLIMIT_AS, with about
  // 90 MiB of page tables).
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray(kGiB, "4000")));
  ASSERT_EQ(r.outcome, Outcome::kMemoryLimit) << Describe(r);
  EXPECT_THAT(r.detail, HasSubstr("mmap"));
  EXPECT_THAT(r.detail, HasSubstr("page tables"));
}

TEST(EngineKernelMemoryTest, SparseMappingsWithinTheLimitRun) {
  // 1000 of them: 4 MiB of address space and 8 MiB of page tables fit.
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray(kGiB, "1000")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "mapped=1000\n");
}

TEST(EngineKernelMemoryTest, DenseMappingsNeedFewPageTables) {
  // 4000 mappings 8 KiB apart (not merged) share their page tables: 16 MiB of address space.
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray("8192", "4000")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "mapped=4000\n");
}

TEST(EngineKernelMemoryTest, MappingAgainAfterUnmappingCostsNothingMore) {
  // Ten rounds of 1000 sparse mappings, all unmapped between rounds (munmap runs in the kernel,
  // unseen): the page tables they can need never exceed one round's.
  ZC_ASSERT_RUN(r, RunGuest("table_spray", Spray(kGiB, "1000", "10")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "mapped=1000\n");
}

TEST(EngineKernelMemoryTest, MremapDontunmapCountsTheRangeItLeaves) {
  // mremap(p, 1 MiB, 1 MiB, MAYMOVE | DONTUNMAP) adds 1 MiB each time (the old range stays
  // mapped): 64 MiB under 32 MiB. Before, equal sizes were not growth, and the guest touched
  // 48 MiB (up to RLIMIT_AS) and ended EXITED.
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
  // A MAP_GROWSDOWN mapping grows on page faults, which no accounting sees: EINVAL. Before, the
  // guest grew it by 64 MiB under a 32 MiB limit (as far as RLIMIT_STACK let it).
  ManifestBuilder b = StdManifest({"mem_grow", "growsdown", "64"});
  b.set_memory_bytes(kLimit);
  ZC_ASSERT_RUN(r, RunGuest("mem_grow", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "refused errno=22\n");
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace zerocell::sandbox
