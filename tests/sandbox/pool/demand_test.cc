// Unit tests of pool::Demand (pure, on fake times): clamping to [min, max], concurrency and
// rate x prestart time raising the target, decay to min after a quiet window, zero once idle.
#include "sandbox/pool/demand.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace zerocell::sandbox::pool {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000000);

absl::Time At(absl::Duration d) { return kT0 + d; }

SizingLimits Limits(int min, int max, absl::Duration idle = absl::Seconds(10)) {
  SizingLimits limits;
  limits.min_per_image = min;
  limits.max_per_image = max;
  limits.idle_retire = idle;
  limits.window = absl::Seconds(1);
  return limits;
}

// Claims `n` runs at `now` that end at once.
void ShortRuns(Demand& demand, absl::Time now, int n) {
  for (int i = 0; i < n; ++i) {
    demand.OnClaim(now);
    demand.OnRunEnd();
  }
}

TEST(DemandTest, NoDemandYetIsTheMinimum) {
  Demand demand(kT0);
  EXPECT_EQ(demand.Target(kT0, absl::Milliseconds(2), Limits(2, 5)), 2);
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(500)), absl::Milliseconds(2), Limits(0, 5)), 0);
  EXPECT_EQ(demand.active(), 0);
}

TEST(DemandTest, TargetIsClampedToTheMaximum) {
  Demand demand(kT0);
  for (int i = 0; i < 20; ++i) demand.OnClaim(kT0);  // 20 at once, none ended
  EXPECT_EQ(demand.active(), 20);
  EXPECT_EQ(demand.Target(kT0, absl::ZeroDuration(), Limits(1, 8)), 8);
  EXPECT_EQ(demand.Target(kT0, absl::ZeroDuration(), Limits(1, 3)), 3);
  // A maximum of zero wins over the minimum: nothing is ever parked.
  EXPECT_EQ(demand.Target(kT0, absl::ZeroDuration(), Limits(0, 0)), 0);
}

TEST(DemandTest, ConcurrentRunsRaiseTheTarget) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(1, 8);
  // Prestart time zero: only concurrency counts (rate x 0 = 0 sandboxes in refill).
  demand.OnClaim(kT0);
  EXPECT_EQ(demand.Target(kT0, absl::ZeroDuration(), limits), 1);
  demand.OnClaim(kT0);
  demand.OnClaim(kT0);
  EXPECT_EQ(demand.active(), 3);
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(10)), absl::ZeroDuration(), limits), 3);
  for (int i = 0; i < 2; ++i) demand.OnClaim(At(absl::Milliseconds(20)));
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(30)), absl::ZeroDuration(), limits), 5);
  // The peak of the window is remembered after the runs end, and through the next window.
  for (int i = 0; i < 5; ++i) demand.OnRunEnd();
  EXPECT_EQ(demand.active(), 0);
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(500)), absl::ZeroDuration(), limits), 5);
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(1500)), absl::ZeroDuration(), limits), 5);
}

TEST(DemandTest, RateTimesPrestartTimeRaisesTheTarget) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(1, 20);
  // 100 short runs (never two at once) in the first 100 ms: 100 claims/s over the 1 s window.
  for (int i = 0; i < 100; ++i) ShortRuns(demand, At(absl::Milliseconds(i)), 1);
  // 1 concurrent + ceil(100/s x 50 ms) = 1 + 5.
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(200)), absl::Milliseconds(50), limits), 6);
  // A slower prestart needs more parked to cover the claims during one refill: 1 + 10.
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(200)), absl::Milliseconds(100), limits), 11);
  // A fast one still keeps one spare for the next claim: 1 + ceil(0.1).
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(200)), absl::Milliseconds(1), limits), 2);
  // Capped by the maximum.
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(200)), absl::Seconds(1), limits), 20);
}

TEST(DemandTest, TheLastWindowsRateCarriesIntoTheNextOne) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(1, 20);
  for (int i = 0; i < 100; ++i) ShortRuns(demand, At(absl::Milliseconds(i)), 1);
  // Rolled at 1 s: the previous window's rate (100 claims / 1 s) still applies.
  EXPECT_EQ(demand.Target(At(absl::Seconds(1)), absl::Milliseconds(50), limits), 6);
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(1900)), absl::Milliseconds(50), limits), 6);
}

TEST(DemandTest, TargetDecaysToTheMinimumAfterAQuietWindow) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(2, 20);
  // 3 long runs and 97 short ones beside them: 100 claims in the first window.
  for (int i = 0; i < 3; ++i) demand.OnClaim(kT0);
  for (int i = 0; i < 97; ++i) ShortRuns(demand, At(absl::Milliseconds(i)), 1);
  for (int i = 0; i < 3; ++i) demand.OnRunEnd();
  const absl::Duration prestart = absl::Milliseconds(50);
  // 4 at once, plus ceil(100/s x 50 ms) = 5 in refill.
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(500)), prestart, limits), 9);
  // The next window (1 s .. 2 s) sees no claim at all: its target is still the busy one's...
  EXPECT_GT(demand.Target(At(absl::Seconds(1)), prestart, limits), 2);
  // ...and once it has ended, quiet, the target is back at the minimum (not zero: not idle).
  EXPECT_EQ(demand.Target(At(absl::Seconds(2)), prestart, limits), 2);
  EXPECT_EQ(demand.Target(At(absl::Seconds(5)), prestart, limits), 2);
}

TEST(DemandTest, ALongGapForgetsTheBusyWindowAtOnce) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(1, 20);
  for (int i = 0; i < 100; ++i) ShortRuns(demand, At(absl::Milliseconds(i)), 1);
  EXPECT_EQ(demand.Target(At(absl::Milliseconds(100)), absl::Milliseconds(50), limits), 6);
  // Asked next only 3 windows later: the busy window is not carried over.
  EXPECT_EQ(demand.Target(At(absl::Seconds(3)), absl::Milliseconds(50), limits), 1);
}

TEST(DemandTest, TargetIsZeroOnceIdleRetirePassesWithoutARun) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(2, 8, absl::Seconds(10));
  ShortRuns(demand, kT0, 1);
  EXPECT_FALSE(demand.Idle(At(absl::Seconds(9)), limits));
  EXPECT_EQ(demand.Target(At(absl::Seconds(9)), absl::Milliseconds(2), limits), 2);
  EXPECT_TRUE(demand.Idle(At(absl::Seconds(10)), limits));
  EXPECT_EQ(demand.Target(At(absl::Seconds(10)), absl::Milliseconds(2), limits), 0);
  EXPECT_EQ(demand.Target(At(absl::Seconds(100)), absl::Milliseconds(2), limits), 0);
  // A new claim makes it wanted again.
  ShortRuns(demand, At(absl::Seconds(101)), 1);
  EXPECT_FALSE(demand.Idle(At(absl::Seconds(101)), limits));
  EXPECT_GE(demand.Target(At(absl::Seconds(101)), absl::Milliseconds(2), limits), 2);
  EXPECT_EQ(demand.last_claim(), At(absl::Seconds(101)));
}

TEST(DemandTest, AnActiveRunKeepsTheImageFromGoingIdle) {
  Demand demand(kT0);
  const SizingLimits limits = Limits(1, 8, absl::Seconds(10));
  demand.OnClaim(kT0);  // a run that lasts far longer than idle_retire
  EXPECT_FALSE(demand.Idle(At(absl::Seconds(60)), limits));
  EXPECT_GE(demand.Target(At(absl::Seconds(60)), absl::Milliseconds(2), limits), 1);
  demand.OnRunEnd();
  // Its claim is long past: once it ends, the image is idle.
  EXPECT_TRUE(demand.Idle(At(absl::Seconds(61)), limits));
  EXPECT_EQ(demand.Target(At(absl::Seconds(61)), absl::Milliseconds(2), limits), 0);
}

TEST(DemandTest, MoreRunEndsThanClaimsDoNotGoNegative) {
  Demand demand(kT0);
  demand.OnRunEnd();
  EXPECT_EQ(demand.active(), 0);
  demand.OnClaim(kT0);
  EXPECT_EQ(demand.active(), 1);
}

}  // namespace
}  // namespace zerocell::sandbox::pool
