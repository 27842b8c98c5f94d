// Integration tests for determinism: identical output across runs, the virtual clock, seeded
// random bytes, fixed identities and addresses, instant sleeps, and rdtsc.
#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/host/host_capabilities.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using ::testing::HasSubstr;
using testing::KeyValues;
using testing::LoadGuest;
using testing::RunImage;
using testing::StdManifest;
using testing::StdoutOf;

// "S.NNNNNNNNN" (or "S.NNNNNN" for gettimeofday) as a Duration since the epoch.
absl::Duration ParseTime(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '.');
  int64_t sec = 0, frac = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &sec) ||
      !absl::SimpleAtoi(parts[1], &frac)) {
    ADD_FAILURE() << "bad time: " << text;
    return absl::ZeroDuration();
  }
  absl::Duration unit = parts[1].size() == 6 ? absl::Microseconds(1) : absl::Nanoseconds(1);
  return absl::Seconds(sec) + frac * unit;
}

class EngineDeterminismTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("determinism");
    ASSERT_THAT(image, IsOk());
    image_ = *image;
  }

  // stdout of the determinism guest under `b`, or "" after recording a failure.
  std::string RunOnce(const ManifestBuilder& b) {
    absl::StatusOr<Result> r = RunImage(*image_, b);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return "";
    }
    EXPECT_EQ(r->outcome, Outcome::kExited) << Describe(*r);
    return StdoutOf(*r);
  }

  std::shared_ptr<const Image> image_;
};

// The guest's lines that show where the kernel placed a mapping (heap, mmap, brk): the same on
// every run only where the host lets the spawner fix the address layout.
bool KernelPlaced(const std::string& line) {
  for (const char* key : {"heap=", "heap_big=", "mmap=", "brk="}) {
    if (line.rfind(key, 0) == 0) return true;
  }
  return false;
}

bool Reports(const Result& r, const std::string& source) {
  for (const std::string& item : r.nondeterminism) {
    if (item.rfind(source + ":", 0) == 0) return true;
  }
  return false;
}

TEST_F(EngineDeterminismTest, TwentyRunsAreByteIdentical) {
  ManifestBuilder b = StdManifest({"determinism"});
  b.set_random_seed(12345);
  const bool fixed =
      host::ShouldFixAddresses(testing::Host()) || testing::Host().randomize_va_space == 0;
  auto comparable = [&](const std::string& out) {
    std::string kept;
    for (const std::string& line : testing::Lines(out)) {
      if (fixed || !KernelPlaced(line)) absl::StrAppend(&kept, line, "\n");
    }
    return kept;
  };
  std::string first = comparable(RunOnce(b));
  ASSERT_FALSE(first.empty());
  for (int i = 1; i < 20; ++i) {
    ASSERT_EQ(comparable(RunOnce(b)), first) << "run " << i << " differs";
  }
  if (!fixed) {
    // Not a silent gap: the host refuses fixed addresses, and every run says so.
    ZC_ASSERT_RUN(r, RunImage(*image_, b));
    EXPECT_TRUE(Reports(r, "addresses")) << Describe(r);
    GTEST_SKIP() << "this host refuses personality(ADDR_NO_RANDOMIZE): heap/mmap/brk addresses "
                    "were left out of the comparison (every other line is identical, and the "
                    "runs report \"addresses\")";
  }
}

TEST_F(EngineDeterminismTest, IdentityAndUnameAreFixed) {
  std::map<std::string, std::string> kv = KeyValues(RunOnce(StdManifest({"determinism"})));
  EXPECT_EQ(kv["getpid"], "2");
  EXPECT_EQ(kv["getppid"], "1");
  EXPECT_EQ(kv["gettid"], "2");
  EXPECT_EQ(kv["getuid"], "1000");
  EXPECT_EQ(kv["geteuid"], "1000");
  EXPECT_EQ(kv["getgid"], "1000");
  EXPECT_EQ(kv["getegid"], "1000");
  EXPECT_EQ(kv["sysname"], "Linux");
  EXPECT_EQ(kv["nodename"], "zerocell");
  EXPECT_EQ(kv["release"], "6.1.0-zerocell");
  EXPECT_EQ(kv["version"], "#1 SMP");
  EXPECT_EQ(kv["machine"], "x86_64");
  EXPECT_EQ(kv["getrandom_ret"], "32");
  EXPECT_NE(kv["at_random_ptr"], "(nil)");
}

TEST_F(EngineDeterminismTest, ClockStartsAtTheEpochByDefault) {
  std::map<std::string, std::string> kv = KeyValues(RunOnce(StdManifest({"determinism"})));
  // Each time call advances the clock by 1 us; a handful of calls stays far below 1 ms.
  absl::Duration realtime = ParseTime(kv["realtime"]);
  EXPECT_GE(realtime, absl::ZeroDuration());
  EXPECT_LT(realtime, absl::Milliseconds(1)) << kv["realtime"];
  absl::Duration monotonic = ParseTime(kv["monotonic"]);
  EXPECT_GE(monotonic, absl::ZeroDuration());
  EXPECT_LT(monotonic, absl::Milliseconds(1)) << kv["monotonic"];
  EXPECT_LT(ParseTime(kv["gettimeofday"]), absl::Milliseconds(1)) << kv["gettimeofday"];
  EXPECT_EQ(kv["time"], "0");
}

TEST_F(EngineDeterminismTest, ClockStartMovesOnlyTheWallClock) {
  constexpr int64_t kStart = 1700000000;
  ManifestBuilder epoch = StdManifest({"determinism"});
  ManifestBuilder later = StdManifest({"determinism"});
  later.set_clock_start(absl::FromUnixSeconds(kStart));
  std::map<std::string, std::string> a = KeyValues(RunOnce(epoch));
  std::map<std::string, std::string> b = KeyValues(RunOnce(later));
  absl::Duration realtime = ParseTime(b["realtime"]);
  EXPECT_GE(realtime, absl::Seconds(kStart));
  EXPECT_LT(realtime, absl::Seconds(kStart) + absl::Milliseconds(1)) << b["realtime"];
  EXPECT_GE(ParseTime(b["gettimeofday"]), absl::Seconds(kStart));
  EXPECT_LT(ParseTime(b["gettimeofday"]), absl::Seconds(kStart) + absl::Milliseconds(1));
  EXPECT_EQ(b["time"], std::to_string(kStart));
  // CLOCK_MONOTONIC does not depend on clock_start; nothing else changes either (heap and mmap
  // addresses only where the host fixes the layout).
  for (const char* key : {"monotonic", "getrandom", "at_random", "stack", "argv"}) {
    EXPECT_EQ(a[key], b[key]) << key;
  }
  if (host::ShouldFixAddresses(testing::Host())) {
    for (const char* key : {"heap", "mmap"}) EXPECT_EQ(a[key], b[key]) << key;
  }
}

TEST_F(EngineDeterminismTest, SeedSelectsTheRandomStream) {
  ManifestBuilder one = StdManifest({"determinism"});
  one.set_random_seed(1);
  ManifestBuilder two = StdManifest({"determinism"});
  two.set_random_seed(2);
  std::map<std::string, std::string> a = KeyValues(RunOnce(one));
  std::map<std::string, std::string> a_again = KeyValues(RunOnce(one));
  std::map<std::string, std::string> b = KeyValues(RunOnce(two));
  EXPECT_EQ(a["getrandom"].size(), 64u);
  EXPECT_EQ(a["getrandom"], a_again["getrandom"]);
  EXPECT_EQ(a["at_random"], a_again["at_random"]);
  EXPECT_NE(a["getrandom"], b["getrandom"]);
  EXPECT_NE(a["at_random"], b["at_random"]);
  EXPECT_NE(a["getrandom"], std::string(64, '0'));
  EXPECT_EQ(a["realtime"], b["realtime"]);
}

// The loader places the image, the stack and what is on it itself: fixed on every host.
TEST_F(EngineDeterminismTest, LoaderPlacedAddressesAreFixed) {
  std::map<std::string, std::string> a = KeyValues(RunOnce(StdManifest({"determinism"})));
  std::map<std::string, std::string> b = KeyValues(RunOnce(StdManifest({"determinism"})));
  for (const char* key : {"stack", "at_random_ptr", "argv", "main"}) {
    EXPECT_FALSE(a[key].empty()) << key;
    EXPECT_EQ(a[key], b[key]) << key;
  }
}

// Where the kernel places heap and mmap memory depends on address randomization.
TEST_F(EngineDeterminismTest, KernelPlacedAddressesAreFixedOrReported) {
  ZC_ASSERT_RUN(ra, RunImage(*image_, StdManifest({"determinism"})));
  ZC_ASSERT_RUN(rb, RunImage(*image_, StdManifest({"determinism"})));
  std::map<std::string, std::string> a = KeyValues(StdoutOf(ra));
  std::map<std::string, std::string> b = KeyValues(StdoutOf(rb));
  if (host::ShouldFixAddresses(testing::Host())) {
    EXPECT_FALSE(Reports(ra, "addresses")) << Describe(ra);
    for (const char* key : {"heap", "heap_big", "mmap", "brk"}) {
      EXPECT_FALSE(a[key].empty()) << key;
      EXPECT_EQ(a[key], b[key]) << key;
    }
  } else {
    EXPECT_TRUE(Reports(ra, "addresses")) << Describe(ra);
    EXPECT_TRUE(Reports(rb, "addresses")) << Describe(rb);
  }
}

// The decision follows the probe: an engine told that this host refuses fixed addresses spawns
// without them, and its runs say so.
TEST(EngineAddressesTest, EngineToldTheHostRandomizesReportsIt) {
  auto caps = std::make_shared<host::HostCapabilities>(testing::Host());
  caps->fixed_addresses = host::Probed::kNo;
  caps->randomize_va_space = 2;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create({.loader_path = zerocell::testing::BinPath("zerocell-loader"), .host = caps});
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("determinism");
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> manifest = StdManifest({"determinism"}).Build();
  ASSERT_THAT(manifest, IsOk());
  ZC_ASSERT_RUN(r, (*engine)->Run(**image, *manifest));
  EXPECT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_TRUE(Reports(r, "addresses")) << Describe(r);
}

TEST(EngineSleepTest, NanosleepAdvancesTheVirtualClockInstantly) {
  ZC_ASSERT_RUN(r, testing::RunGuest("sleeper", StdManifest({"sleeper"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv["nanosleep"], "0");
  for (const char* clock : {"realtime", "monotonic"}) {
    absl::Duration slept = ParseTime(kv[std::string(clock) + "_after"]) -
                           ParseTime(kv[std::string(clock) + "_before"]);
    EXPECT_GE(slept, absl::Seconds(10)) << clock;
    EXPECT_LT(slept, absl::Seconds(10) + absl::Milliseconds(1)) << clock;
  }
  EXPECT_LT(r.usage.wall, absl::Seconds(2)) << "the sleep must not happen on the host";
}

uint64_t Counter(const std::map<std::string, std::string>& kv, const std::string& key) {
  uint64_t v = 0;
  EXPECT_TRUE(kv.count(key) && absl::SimpleAtoi(kv.at(key), &v)) << key;
  return v;
}

// What the probe found decides: where PR_SET_TSC is enforced, rdtsc faults and the loader's
// handler answers it from the virtual clock (one sequence with clock_gettime, the same on every
// run); where it is not, the guest reads the host's counter and the run says so.
TEST(EngineRdtscTest, RdtscReadsTheVirtualClockWhereTheHostTrapsItAndIsReportedWhereNot) {
  absl::StatusOr<std::shared_ptr<const Image>> image = testing::LoadAdmittedGuest("tsc_probe");
  ASSERT_THAT(image, IsOk());
  ZC_ASSERT_RUN(r, RunImage(**image, StdManifest({"tsc_probe"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  if (testing::Host().tsc_trap != host::Probed::kYes) {
    EXPECT_TRUE(Reports(r, "rdtsc"))
        << "the run read the host TSC and must say so: " << Describe(r);
    return;
  }
  EXPECT_FALSE(Reports(r, "rdtsc")) << Describe(r);
  std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
  EXPECT_LT(Counter(kv, "before"), Counter(kv, "monotonic"));
  EXPECT_LT(Counter(kv, "monotonic"), Counter(kv, "after"));
  ZC_ASSERT_RUN(again, RunImage(**image, StdManifest({"tsc_probe"})));
  EXPECT_EQ(StdoutOf(again), StdoutOf(r));
}

// rdtscp is under the same control: answered like rdtsc with IA32_TSC_AUX 0 where trapped.
TEST(EngineRdtscTest, RdtscpIsAnsweredLikeRdtsc) {
  const host::Probed trap = testing::Host().rdtscp_trap;
  ZC_ASSERT_RUN(r, testing::RunGuest("tsc_probe", StdManifest({"tsc_probe", "rdtscp"})));
  if (trap == host::Probed::kUnknown) {  // the probe found no rdtscp on this CPU
    EXPECT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
    EXPECT_EQ(r.term_signal, SIGILL) << Describe(r);
    return;
  }
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(Reports(r, "rdtscp"), trap == host::Probed::kNo) << Describe(r);
  if (trap == host::Probed::kYes) {
    std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
    EXPECT_LT(Counter(kv, "before"), Counter(kv, "monotonic"));
    EXPECT_LT(Counter(kv, "monotonic"), Counter(kv, "after"));
    EXPECT_EQ(kv["aux"], "0");
    EXPECT_EQ(kv["carry"], "0") << "resumed inside rdtscp";
  }
}

// A guest signal handler that runs while an rdtsc is being answered (a child's SIGCHLD during
// the notified clock read) runs after the answer, with SIGSEGV unblocked, so its own rdtsc is
// answered too.
TEST(EngineRdtscTest, RdtscInASignalHandlerIsAnsweredToo) {
  ManifestBuilder m = StdManifest({"tsc_probe", "nested"});
  m.set_max_processes(2);
  ZC_ASSERT_RUN(r, testing::RunGuest("tsc_probe", m));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "nested=20\n");
}

// The handler answers only rdtsc: any other fault, a SIGSEGV the guest sends itself, and one the
// kernel raises for a signal it could not deliver (no fault to repeat), still end the run by
// SIGSEGV (neither loops in the handler nor is swallowed by it).
TEST(EngineRdtscTest, OtherSegmentationFaultsStillEndTheRun) {
  for (const char* mode : {"hlt", "raise", "altstack"}) {
    ZC_ASSERT_RUN(r, testing::RunGuest("tsc_probe", StdManifest({"tsc_probe", mode})));
    EXPECT_EQ(r.outcome, Outcome::kSignaled) << mode << ": " << Describe(r);
    EXPECT_EQ(r.term_signal, SIGSEGV) << mode << ": " << Describe(r);
    EXPECT_EQ(StdoutOf(r), "") << mode;
  }
}

// An admitted image is reported only for what it holds: hello holds no rdtsc, rdrand or cpuid.
TEST(EngineNondeterminismTest, AdmittedImageIsReportedOnlyForWhatItHolds) {
  absl::StatusOr<std::shared_ptr<const Image>> image = testing::LoadAdmittedGuest("hello");
  ASSERT_THAT(image, IsOk());
  ASSERT_TRUE((*image)->instruction_use().known);
  ZC_ASSERT_RUN(r, RunImage(**image, StdManifest({"hello"})));
  for (const char* source : {"rdtsc", "rdtscp", "rdrand", "rdseed", "rdpid", "cpuid"}) {
    EXPECT_FALSE(Reports(r, source)) << source << ": " << Describe(r);
  }
  // What remains is only what no instruction policy can close on this host.
  for (const std::string& item : r.nondeterminism) {
    EXPECT_TRUE(item.rfind("addresses:", 0) == 0 || item.rfind("vdso:", 0) == 0) << item;
  }
}

// An image nobody admitted may hold anything: every source this host leaves open is reported.
TEST(EngineNondeterminismTest, UnadmittedImageIsReportedForEverySourceTheHostLeavesOpen) {
  ZC_ASSERT_RUN(r, testing::RunGuest("hello", StdManifest({"hello"})));
  for (const char* source : {"rdrand", "rdseed", "cpuid"}) {
    EXPECT_TRUE(Reports(r, source)) << source << ": " << Describe(r);
  }
  EXPECT_EQ(Reports(r, "rdtsc"), testing::Host().tsc_trap != host::Probed::kYes) << Describe(r);
}

TEST(EngineNondeterminismTest, ReportIsStableAcrossRuns) {
  ZC_ASSERT_RUN(a, testing::RunGuest("hello", StdManifest({"hello"})));
  ZC_ASSERT_RUN(b, testing::RunGuest("hello", StdManifest({"hello"})));
  EXPECT_EQ(a.nondeterminism, b.nondeterminism);
  for (const std::string& item : a.nondeterminism) {
    EXPECT_THAT(item, HasSubstr(":")) << "items name the source: \"cpuid: ...\"";
  }
}

}  // namespace
// The first loader of an engine finds the vDSO/vvar pages in /proc/self/maps; later loaders
// unmap the ranges the engine cached. Both paths must remove them on every run.
TEST(EngineVdsoTest, VdsoIsRemovedOnFirstAndCachedRuns) {
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create({zerocell::testing::BinPath("zerocell-loader")});
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = testing::LoadGuest("hello");
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> manifest = testing::StdManifest({"hello"}).Build();
  ASSERT_THAT(manifest, IsOk());
  for (int run = 0; run < 3; ++run) {
    ZC_ASSERT_RUN(result, (*engine)->Run(**image, *manifest));
    ASSERT_EQ(result.outcome, Outcome::kExited) << testing::Describe(result);
    for (const std::string& item : result.nondeterminism) {
      EXPECT_EQ(item.find("vdso"), std::string::npos) << "run " << run << ": " << item;
    }
  }
}

}  // namespace zerocell::sandbox
