// What a warm start (Engine::Prestart, then RunParked) refuses or stops, and the limits it sets:
// a sandbox parked for another image, a memory limit too small for the image, a sandbox that died
// while parked, cancel and wall timeout on a warm run, and the request's rlimits once released.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/parked_sandbox.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/processes.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::CountOpenFds;
using testing::Describe;
using ::testing::HasSubstr;
using testing::LoadGuest;
using testing::StdManifest;
using testing::StdoutOf;
using ::zerocell::testing::ChildPids;
using ::zerocell::testing::ProcessGone;
using ::zerocell::testing::ProcessState;
using ::zerocell::testing::WaitFor;

constexpr int64_t kMiB = int64_t{1} << 20;

class WarmStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<const Engine*> engine = testing::SharedEngine();
    ASSERT_THAT(engine, IsOk());
    engine_ = *engine;
    ASSERT_TRUE(ChildPids().empty());
    fds_ = CountOpenFds();
  }
  void TearDown() override {
    EXPECT_TRUE(ChildPids().empty()) << "a sandbox was left behind";
    EXPECT_EQ(CountOpenFds(), fds_);
  }

  static std::shared_ptr<const Image> Load(const std::string& name) {
    absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(name);
    EXPECT_THAT(image, IsOk());
    return image.value_or(nullptr);
  }

  std::unique_ptr<ParkedSandbox> MustPark(const Image& image) {
    absl::StatusOr<std::unique_ptr<ParkedSandbox>> parked =
        engine_->Prestart(image, absl::Now() + absl::Seconds(5));
    EXPECT_THAT(parked, IsOk());
    return parked.ok() ? *std::move(parked) : nullptr;
  }

  static Manifest Build(const ManifestBuilder& b) {
    absl::StatusOr<Manifest> m = b.Build();
    EXPECT_THAT(m, IsOk());
    return *std::move(m);
  }

  const Engine* engine_ = nullptr;
  int fds_ = 0;
};

TEST_F(WarmStartTest, ASandboxParkedForAnotherImageIsRefusedAndNothingElseIsKilled) {
  std::shared_ptr<const Image> hello = Load("hello");
  std::shared_ptr<const Image> exit_code = Load("exit_code");
  ASSERT_NE(hello, nullptr);
  ASSERT_NE(exit_code, nullptr);
  std::unique_ptr<ParkedSandbox> for_hello = MustPark(*hello);
  std::unique_ptr<ParkedSandbox> for_exit = MustPark(*exit_code);
  ASSERT_NE(for_hello, nullptr);
  ASSERT_NE(for_exit, nullptr);
  const pid_t hello_pid = for_hello->pid();
  const pid_t exit_pid = for_exit->pid();

  const Manifest m = Build(StdManifest({"exit_code", "7"}));
  absl::StatusOr<Result> refused = engine_->RunParked(std::move(for_hello), *exit_code, m, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << (refused.ok() ? Describe(*refused) : refused.status().ToString());
  EXPECT_TRUE(ProcessGone(hello_pid)) << "the refused sandbox must be killed and reaped";
  EXPECT_FALSE(ProcessGone(exit_pid));
  EXPECT_EQ(ProcessState(exit_pid), 'S');
  EXPECT_TRUE(for_exit->Alive());

  absl::StatusOr<Result> none = engine_->RunParked(nullptr, *exit_code, m, {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(for_exit->Alive());

  // The other sandbox still serves its own image.
  ZC_ASSERT_RUN(r, engine_->RunParked(std::move(for_exit), *exit_code, m, {}));
  EXPECT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_TRUE(ProcessGone(exit_pid));
}

TEST_F(WarmStartTest, AMemoryLimitTooSmallForTheImageIsRefusedLikeACold) {
  // cat has a 1 MiB buffer in .bss: the image alone does not fit in 1 MiB.
  std::shared_ptr<const Image> cat = Load("cat");
  ASSERT_NE(cat, nullptr);
  ManifestBuilder b = StdManifest({"cat"});
  b.set_memory_bytes(kMiB);
  const Manifest m = Build(b);
  absl::StatusOr<Result> cold = engine_->Run(*cat, m);
  ASSERT_EQ(cold.status().code(), absl::StatusCode::kInvalidArgument)
      << (cold.ok() ? Describe(*cold) : cold.status().ToString());
  EXPECT_THAT(cold.status().message(), HasSubstr("memory_bytes"));

  std::unique_ptr<ParkedSandbox> parked = MustPark(*cat);
  ASSERT_NE(parked, nullptr);
  const pid_t pid = parked->pid();
  absl::StatusOr<Result> warm = engine_->RunParked(std::move(parked), *cat, m, {});
  EXPECT_EQ(warm.status(), cold.status());
  EXPECT_TRUE(ProcessGone(pid)) << "state " << ProcessState(pid);
}

TEST_F(WarmStartTest, CancelStopsAWarmRunAndReapsTheSandbox) {
  std::shared_ptr<const Image> spin = Load("spin");
  ASSERT_NE(spin, nullptr);
  ManifestBuilder b = StdManifest({"spin"});
  b.set_timeout(absl::Seconds(5));
  const Manifest m = Build(b);
  std::unique_ptr<ParkedSandbox> parked = MustPark(*spin);
  ASSERT_NE(parked, nullptr);
  const pid_t pid = parked->pid();
  absl::StatusOr<Result> r;
  absl::Time start;
  {
    CancelToken cancel;
    std::thread canceller([&] {
      // Cancel once the guest runs (spinning: state R), not while it is still parked.
      WaitFor([&] { return ProcessState(pid) == 'R'; });
      absl::SleepFor(absl::Milliseconds(50));
      cancel.Cancel();
    });
    start = absl::Now();
    r = engine_->RunParked(std::move(parked), *spin, m, {&cancel, nullptr});
    canceller.join();
  }
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled)
      << (r.ok() ? Describe(*r) : r.status().ToString());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(ProcessGone(pid)) << "state " << ProcessState(pid);
}

TEST_F(WarmStartTest, WallTimeoutStopsAWarmRunAndReapsTheSandbox) {
  std::shared_ptr<const Image> spin = Load("spin");
  ASSERT_NE(spin, nullptr);
  ManifestBuilder b = StdManifest({"spin"});
  b.set_timeout(absl::Milliseconds(200));
  std::unique_ptr<ParkedSandbox> parked = MustPark(*spin);
  ASSERT_NE(parked, nullptr);
  const pid_t pid = parked->pid();
  const absl::Time start = absl::Now();
  ZC_ASSERT_RUN(r, engine_->RunParked(std::move(parked), *spin, Build(b), {}));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << Describe(r);
  EXPECT_GE(elapsed, absl::Milliseconds(200));
  EXPECT_LT(elapsed, absl::Milliseconds(700));
  EXPECT_TRUE(ProcessGone(pid)) << "state " << ProcessState(pid);
}

TEST_F(WarmStartTest, TimeSpentParkedIsNotChargedToTheRun) {
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  ManifestBuilder b = StdManifest({"hello"});
  b.set_timeout(absl::Milliseconds(200));
  std::unique_ptr<ParkedSandbox> parked = MustPark(*hello);
  ASSERT_NE(parked, nullptr);
  EXPECT_GT(parked->prestart_time(), absl::ZeroDuration());
  EXPECT_LE(parked->parked_at(), absl::Now());
  absl::SleepFor(absl::Milliseconds(300));  // parked longer than the run's whole timeout
  ZC_ASSERT_RUN(r, engine_->RunParked(std::move(parked), *hello, Build(b), {}));
  EXPECT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "hello, world\n");
  EXPECT_LT(r.usage.wall, absl::Milliseconds(200));
  EXPECT_LE(r.usage.startup, r.usage.wall);
}

TEST_F(WarmStartTest, ASandboxThatDiedWhileParkedIsAbortedAndReaped) {
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  std::unique_ptr<ParkedSandbox> parked = MustPark(*hello);
  ASSERT_NE(parked, nullptr);
  const pid_t pid = parked->pid();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !parked->Alive(); }));
  EXPECT_EQ(ProcessState(pid), 'Z');
  absl::StatusOr<Result> r =
      engine_->RunParked(std::move(parked), *hello, Build(StdManifest({"hello"})), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted)
      << (r.ok() ? Describe(*r) : r.status().ToString());
  EXPECT_TRUE(ProcessGone(pid)) << "state " << ProcessState(pid);
}

TEST_F(WarmStartTest, AnUnreleasedSandboxIsKilledAndReapedWhenDestroyed) {
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  std::unique_ptr<ParkedSandbox> parked = MustPark(*hello);
  ASSERT_NE(parked, nullptr);
  const pid_t pid = parked->pid();
  EXPECT_EQ(ProcessState(pid), 'S');
  parked.reset();
  EXPECT_TRUE(ProcessGone(pid)) << "state " << ProcessState(pid);
}

TEST_F(WarmStartTest, PrestartHonoursItsDeadlineAndCancelToken) {
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  absl::StatusOr<std::unique_ptr<ParkedSandbox>> late =
      engine_->Prestart(*hello, absl::Now() - absl::Seconds(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
  CancelToken cancel;
  cancel.Cancel();
  absl::StatusOr<std::unique_ptr<ParkedSandbox>> cancelled =
      engine_->Prestart(*hello, absl::Now() + absl::Seconds(5), &cancel);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  EXPECT_TRUE(ChildPids().empty());
}

// "Max cpu time" / "Max address space" of /proc/<pid>/limits as "soft hard", or "".
std::string LimitLine(pid_t pid, const std::string& name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/limits"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    std::vector<std::string> fields =
        absl::StrSplit(line.substr(name.size()), ' ', absl::SkipEmpty());
    if (fields.size() >= 2) return absl::StrCat(fields[0], " ", fields[1]);
  }
  return "";
}

struct Limits {
  std::string cpu;
  std::string address_space;
};

// Runs spin under `m` (cold, or warm in `parked`), reads the sandbox's limits once the guest
// spins, then cancels it.
Limits LimitsOfARun(const Engine& engine, const Image& spin, const Manifest& m,
                    std::unique_ptr<ParkedSandbox> parked) {
  Limits limits;
  CancelToken cancel;
  const bool warm = parked != nullptr;
  pid_t pid = warm ? parked->pid() : 0;
  std::thread runner([&] {
    absl::StatusOr<Result> r =
        warm ? engine.RunParked(std::move(parked), spin, m, RunOptions{&cancel, nullptr})
             : engine.Run(spin, m, &cancel);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  });
  if (!warm) {
    WaitFor([&] {
      std::vector<pid_t> children = ChildPids();
      if (children.size() == 1) pid = children[0];
      return pid != 0;
    });
  }
  // Released and spinning: its CPU limit is no longer the one it inherited from this process.
  const std::string inherited = LimitLine(getpid(), "Max cpu time");
  const bool released = WaitFor(
      [&] {
        limits = {LimitLine(pid, "Max cpu time"), LimitLine(pid, "Max address space")};
        return ProcessState(pid) == 'R' && !limits.cpu.empty() && limits.cpu != inherited;
      },
      absl::Seconds(2));
  EXPECT_TRUE(released) << "pid " << pid << " state " << ProcessState(pid) << " cpu " << limits.cpu;
  cancel.Cancel();
  runner.join();
  return limits;
}

TEST_F(WarmStartTest, AWarmRunHasTheRequestsRlimitsAsAColdOne) {
  std::shared_ptr<const Image> spin = Load("spin");
  ASSERT_NE(spin, nullptr);
  for (auto [cpu, memory] :
       {std::pair{absl::Seconds(3), 64 * kMiB}, std::pair{absl::Seconds(7), 512 * kMiB}}) {
    SCOPED_TRACE(absl::StrCat("cpu ", absl::FormatDuration(cpu), " memory ", memory));
    ManifestBuilder b = StdManifest({"spin"});
    b.set_timeout(absl::Seconds(10)).set_cpu_limit(cpu).set_memory_bytes(memory);
    const Manifest m = Build(b);
    const Limits cold = LimitsOfARun(*engine_, *spin, m, nullptr);  // the only child
    std::unique_ptr<ParkedSandbox> parked = MustPark(*spin);
    ASSERT_NE(parked, nullptr);
    const Limits before = {LimitLine(parked->pid(), "Max cpu time"),
                           LimitLine(parked->pid(), "Max address space")};
    const Limits warm = LimitsOfARun(*engine_, *spin, m, std::move(parked));
    ASSERT_FALSE(cold.cpu.empty());
    EXPECT_EQ(warm.cpu, cold.cpu);
    EXPECT_EQ(warm.address_space, cold.address_space);
    // The request's values (backstops just above the exact limits the supervisor enforces),
    // not what the sandbox had while parked.
    const int64_t seconds = absl::ToInt64Seconds(cpu);
    EXPECT_EQ(warm.cpu, absl::StrCat(seconds + 1, " ", seconds + 2));
    std::vector<std::string> as = absl::StrSplit(warm.address_space, ' ');
    ASSERT_EQ(as.size(), 2u) << warm.address_space;
    int64_t as_bytes = 0;
    ASSERT_TRUE(absl::SimpleAtoi(as[0], &as_bytes)) << warm.address_space;
    EXPECT_GE(as_bytes, memory);
    EXPECT_LE(as_bytes, memory + 32 * kMiB);
    EXPECT_NE(warm.cpu, before.cpu);
    EXPECT_NE(warm.address_space, before.address_space);
  }
}

}  // namespace
}  // namespace zerocell::sandbox
