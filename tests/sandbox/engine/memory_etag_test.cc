// The memory etag (ZeroVM's /dev/memory): stable over runs of a deterministic program, warm or
// cold, different when the program's memory differs, absent unless asked for or when the guest
// does not reach exit_group.
#include <set>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/parked_sandbox.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using testing::LoadGuest;
using ::testing::MatchesRegex;
using testing::RunGuest;
using testing::SharedEngine;
using testing::StdManifest;

ManifestBuilder PatternManifest(const std::string& seed) {
  ManifestBuilder b = StdManifest({"mem_pattern", seed});
  b.set_memory_etag(true).set_memory_bytes(int64_t{64} << 20);
  return b;
}

// The digest covers where memory is mapped: on a host that refuses fixed addresses it varies with
// the layout, and every run there says so ("addresses"). Nothing else may make it vary.
bool AddressesVary(const Result& r) { return testing::ReportsNondeterminism(r, "addresses"); }
constexpr char kAddressesVary[] =
    "this host refuses fixed addresses (the runs report \"addresses\"): the memory etag, which "
    "covers the mapping layout and pointers in memory, varies with them";

TEST(MemoryEtagTest, IdenticalOverTwentyRuns) {
  std::set<std::string> digests;
  bool addresses_vary = false;
  for (int i = 0; i < 20; ++i) {
    ZC_ASSERT_RUN(r, RunGuest("mem_pattern", PatternManifest("seed-1")));
    ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_THAT(r.memory_etag, MatchesRegex("[0-9a-f]{64}"));
    digests.insert(r.memory_etag);
    addresses_vary |= AddressesVary(r);
  }
  if (addresses_vary) GTEST_SKIP() << kAddressesVary;
  EXPECT_EQ(digests.size(), 1u);
}

TEST(MemoryEtagTest, DifferentMemoryGivesADifferentDigest) {
  ZC_ASSERT_RUN(a, RunGuest("mem_pattern", PatternManifest("seed-1")));
  ZC_ASSERT_RUN(b, RunGuest("mem_pattern", PatternManifest("seed-2")));
  ASSERT_EQ(a.outcome, Outcome::kExited) << Describe(a);
  ASSERT_EQ(b.outcome, Outcome::kExited) << Describe(b);
  EXPECT_NE(a.memory_etag, b.memory_etag);
  // The argv strings differ too (they sit on the stack): a change of one byte of input to the
  // same computation changes the digest.
  ZC_ASSERT_RUN(c, RunGuest("mem_pattern", PatternManifest("seed-3")));
  EXPECT_NE(c.memory_etag, a.memory_etag);
  EXPECT_NE(c.memory_etag, b.memory_etag);
}

TEST(MemoryEtagTest, ChannelDataAndLayoutCount) {
  // The same program reading different input keeps it in its buffer: a different digest.
  ManifestBuilder one = StdManifest({"cat"}, "first input");
  ManifestBuilder two = StdManifest({"cat"}, "other input");
  one.set_memory_etag(true);
  two.set_memory_etag(true);
  ZC_ASSERT_RUN(a, RunGuest("cat", one));
  ZC_ASSERT_RUN(b, RunGuest("cat", two));
  ZC_ASSERT_RUN(a2, RunGuest("cat", one));
  EXPECT_NE(a.memory_etag, b.memory_etag);
  if (AddressesVary(a)) GTEST_SKIP() << kAddressesVary;
  EXPECT_EQ(a.memory_etag, a2.memory_etag);
}

TEST(MemoryEtagTest, WarmAndColdRunsAgree) {
  absl::StatusOr<const Engine*> engine = SharedEngine();
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("mem_pattern");
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> m = PatternManifest("warm").Build();
  ASSERT_THAT(m, IsOk());
  ZC_ASSERT_RUN(cold, (*engine)->Run(**image, *m));
  absl::StatusOr<std::unique_ptr<ParkedSandbox>> parked =
      (*engine)->Prestart(**image, absl::Now() + absl::Seconds(5));
  ASSERT_THAT(parked, IsOk());
  ZC_ASSERT_RUN(warm, (*engine)->RunParked(*std::move(parked), **image, *m, RunOptions{}));
  ASSERT_FALSE(cold.memory_etag.empty()) << Describe(cold);
  if (AddressesVary(cold)) GTEST_SKIP() << kAddressesVary;
  EXPECT_EQ(warm.memory_etag, cold.memory_etag);
}

TEST(MemoryEtagTest, OnlyWhenAskedAndOnlyAtExitGroup) {
  ZC_ASSERT_RUN(off, RunGuest("mem_pattern", StdManifest({"mem_pattern", "x"})));
  EXPECT_EQ(off.outcome, Outcome::kExited);
  EXPECT_EQ(off.memory_etag, "");
  // A guest killed by a signal never reaches exit_group: no digest, rather than a partial one.
  ManifestBuilder segv = StdManifest({"segv"});
  segv.set_memory_etag(true);
  ZC_ASSERT_RUN(crashed, RunGuest("segv", segv));
  EXPECT_EQ(crashed.outcome, Outcome::kSignaled) << Describe(crashed);
  EXPECT_EQ(crashed.memory_etag, "");
}

}  // namespace
}  // namespace zerocell::sandbox
