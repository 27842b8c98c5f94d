// The guest's vDSO: libc's clock calls answered in the guest from the run's clock page, on the
// same virtual clock as the notified calls, shared by the run's processes, without notifications.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/vdso/clock_page.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox::testing {
namespace {

int64_t Int(const std::map<std::string, std::string>& kv, const std::string& key) {
  int64_t v = 0;
  EXPECT_TRUE(kv.contains(key) && absl::SimpleAtoi(kv.at(key), &v)) << key;
  return v;
}

// One clock whichever way it is read: each read is one tick (1 us) after the one before, through
// the vDSO or the notified syscall alike; the realtime calls add the manifest's clock start.
TEST(VdsoClockTest, LibcAndSyscallReadOneVirtualClock) {
  ManifestBuilder m = StdManifest({"clock_probe", "mix"});
  m.set_clock_start(absl::FromUnixSeconds(1700000000));
  ZC_ASSERT_RUN(r, RunGuest("clock_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  const int64_t a = Int(kv, "mono_libc");
  EXPECT_EQ(Int(kv, "mono_raw"), a + 1000);
  EXPECT_EQ(Int(kv, "mono_libc2"), a + 2000);
  EXPECT_EQ(Int(kv, "time"), 1700000000);
  EXPECT_EQ(Int(kv, "gettimeofday_us"), 1700000000LL * 1000000 + (a + 4000) / 1000);
  EXPECT_EQ(Int(kv, "realtime"), 1700000000LL * 1000000000 + a + 5000);
  EXPECT_EQ(kv.at("unknown_clock"), "-22");  // EINVAL, from the notified fallback
  EXPECT_EQ(kv.at("getres"), "0,1000");
  EXPECT_EQ(kv.at("vdso"), absl::StrCat("0x", absl::Hex(vdso::kVdsoAddr)));
}

// Ten thousand reads cost no notification each: the run's notified calls stay those of libc's
// start and exit. Both libcs find the vDSO: musl (clock_probe) and glibc (glibc_clock_probe).
TEST(VdsoClockTest, ClockReadsAreNotNotified) {
  for (const char* guest : {"clock_probe", "glibc_clock_probe"}) {
    SCOPED_TRACE(guest);
    ZC_ASSERT_RUN(r, RunGuest(guest, StdManifest({guest, "loop", "10000"})));
    ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
    const auto kv = KeyValues(StdoutOf(r));
    EXPECT_EQ(Int(kv, "last") - Int(kv, "first"), 9999 * 1000);
    EXPECT_LT(r.usage.notified_syscalls, 100) << Describe(r);
  }
}

// A run that may fork has no vDSO (its processes would race the supervisor on the page): its
// clock reads are notified, one clock for all of its processes.
TEST(VdsoClockTest, ARunThatMayForkReadsTheClockThroughTheSupervisor) {
  ManifestBuilder m = StdManifest({"clock_probe", "fork"});
  m.set_max_processes(2);
  ZC_ASSERT_RUN(r, RunGuest("clock_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const auto kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(Int(kv, "after") - Int(kv, "before"), 11 * 1000) << StdoutOf(r);
  EXPECT_EQ(kv.at("vdso"), "0");
  EXPECT_GE(r.usage.notified_syscalls, 12) << Describe(r);
}

// Warm or cold, each run's clock starts at zero: a parked sandbox's page is reset at release.
TEST(VdsoClockTest, EveryRunStartsAtZero) {
  std::vector<std::string> outputs;
  for (int i = 0; i < 3; ++i) {
    ZC_ASSERT_RUN(r, RunGuest("clock_probe", StdManifest({"clock_probe", "loop", "5"})));
    ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
    outputs.push_back(StdoutOf(r));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[1], outputs[2]);
}

}  // namespace
}  // namespace zerocell::sandbox::testing
