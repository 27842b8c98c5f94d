// Integration tests of the warm pool on the real engine, loader and processes: claim, refill,
// idle retirement, dead parked sandboxes (never handed out), per-image and global caps,
// shutdown with parked sandboxes (none survive) and images dropped by every holder.
#include "sandbox/pool/warm_pool.h"

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/processes.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox::pool {
namespace {

using testing::Describe;
using testing::StdoutOf;
using ::zerocell::testing::ChildPids;
using ::zerocell::testing::HasZombieChild;
using ::zerocell::testing::ProcessGone;
using ::zerocell::testing::ProcessState;
using ::zerocell::testing::WaitFor;

// What the pool reported through its observer. Thread-safe; must outlive the pool.
class Recorder {
 public:
  WarmPoolObserver Observer() {
    WarmPoolObserver o;
    o.on_run = [this](bool warm) {
      if (before_run_) before_run_(warm);
      absl::MutexLock lock(&mu_);
      ++(warm ? warm_ : cold_);
    };
    o.on_retire = [this](const char* reason) {
      absl::MutexLock lock(&mu_);
      ++retired_[reason];
    };
    o.on_prestart_error = [this](const absl::Status&) {
      absl::MutexLock lock(&mu_);
      ++prestart_errors_;
    };
    return o;
  }
  // Called by on_run (on the caller's thread, between the claim and the release) before it
  // counts; set before the pool is created.
  void set_before_run(std::function<void(bool warm)> f) { before_run_ = std::move(f); }

  int warm() const {
    absl::MutexLock lock(&mu_);
    return warm_;
  }
  int cold() const {
    absl::MutexLock lock(&mu_);
    return cold_;
  }
  int retired(const std::string& reason) const {
    absl::MutexLock lock(&mu_);
    auto it = retired_.find(reason);
    return it == retired_.end() ? 0 : it->second;
  }
  int prestart_errors() const {
    absl::MutexLock lock(&mu_);
    return prestart_errors_;
  }

 private:
  std::function<void(bool)> before_run_;
  mutable absl::Mutex mu_;
  int warm_ = 0;
  int cold_ = 0;
  int prestart_errors_ = 0;
  std::map<std::string, int> retired_;
};

// Small, fast settings: sizes per test, a quick maintenance tick.
WarmPoolOptions Options(int min_per_image, int max_per_image, int max_total) {
  WarmPoolOptions o;
  o.sizing.min_per_image = min_per_image;
  o.sizing.max_per_image = max_per_image;
  o.sizing.idle_retire = absl::Seconds(60);
  o.sizing.window = absl::Seconds(1);
  o.max_total = max_total;
  o.tick = absl::Milliseconds(10);
  o.prestart_timeout = absl::Seconds(5);
  return o;
}

class WarmPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<const Engine*> engine = testing::SharedEngine();
    ASSERT_THAT(engine, IsOk());
    engine_ = *engine;
    ASSERT_TRUE(ChildPids().empty()) << "a process of an earlier test is still alive";
  }

  void TearDown() override {
    pool_.reset();
    EXPECT_TRUE(ChildPids().empty()) << "the pool left a process behind";
    EXPECT_FALSE(HasZombieChild());
  }

  void MakePool(const WarmPoolOptions& options) {
    absl::StatusOr<std::unique_ptr<WarmPool>> pool =
        WarmPool::Create(engine_, options, recorder_.Observer());
    ASSERT_THAT(pool, IsOk());
    pool_ = *std::move(pool);
  }

  static std::shared_ptr<const Image> Load(const std::string& name) {
    absl::StatusOr<std::shared_ptr<const Image>> image = testing::LoadGuest(name);
    EXPECT_THAT(image, IsOk());
    return image.value_or(nullptr);
  }

  static Manifest Build(const ManifestBuilder& builder) {
    absl::StatusOr<Manifest> manifest = builder.Build();
    EXPECT_THAT(manifest, IsOk());
    return *std::move(manifest);
  }

  // Runs `image` (hello or exit_code) through the pool and checks its result; "" when right.
  std::string RunAndCheck(const std::shared_ptr<const Image>& image, const std::string& guest,
                          int code = 0) {
    ManifestBuilder b = testing::StdManifest({guest, absl::StrCat(code)});
    absl::StatusOr<Result> r = pool_->Run(image, Build(b));
    if (!r.ok()) return r.status().ToString();
    const std::string want_out = guest == "hello" ? "hello, world\n" : "";
    if (r->outcome != Outcome::kExited || r->exit_code != code || StdoutOf(*r) != want_out) {
      return Describe(*r);
    }
    return "";
  }

  void LoadWithinCaps(int max_per_image, int max_total, const std::vector<std::string>& guests);

  int Total() const {
    WarmPoolStats s = pool_->Stats();
    return static_cast<int>(s.parked + s.prestarting);
  }

  // Waits until the pool is at rest: nothing being prestarted and exactly the parked sandboxes
  // alive as children (retired ones reaped). Returns the parked pids.
  std::vector<pid_t> SettledParkedPids() {
    std::vector<pid_t> pids;
    const bool settled = WaitFor([&] {
      const WarmPoolStats before = pool_->Stats();
      pids = ChildPids();
      const WarmPoolStats after = pool_->Stats();
      return before.prestarting == 0 && after.prestarting == 0 && before.parked == after.parked &&
             static_cast<int64_t>(pids.size()) == after.parked;
    });
    EXPECT_TRUE(settled) << "parked=" << pool_->Stats().parked << " children=" << pids.size();
    return pids;
  }

  const Engine* engine_ = nullptr;
  Recorder recorder_;  // declared before pool_: outlives it
  std::unique_ptr<WarmPool> pool_;
};

TEST_F(WarmPoolTest, CreateRefusesBadOptions) {
  WarmPoolOptions min_above_max = Options(3, 2, 8);
  EXPECT_EQ(WarmPool::Create(engine_, min_above_max).status().code(),
            absl::StatusCode::kInvalidArgument);
  WarmPoolOptions negative = Options(1, 2, -1);
  EXPECT_EQ(WarmPool::Create(engine_, negative).status().code(),
            absl::StatusCode::kInvalidArgument);
  WarmPoolOptions no_tick = Options(1, 2, 8);
  no_tick.tick = absl::ZeroDuration();
  EXPECT_EQ(WarmPool::Create(engine_, no_tick).status().code(), absl::StatusCode::kInvalidArgument);
  WarmPoolOptions no_idle = Options(1, 2, 8);
  no_idle.sizing.idle_retire = absl::ZeroDuration();
  EXPECT_EQ(WarmPool::Create(engine_, no_idle).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WarmPool::Create(nullptr, Options(1, 2, 8)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A request the engine refuses before running (here: argv larger than half the stack a 1 MiB
// memory limit gives) must not cost a parked sandbox, nor count as a start.
TEST_F(WarmPoolTest, ARefusedRequestDoesNotCostAParkedSandbox) {
  MakePool(Options(1, 1, 4));
  const std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  const std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_EQ(parked.size(), 1u);
  const WarmPoolStats before = pool_->Stats();
  ManifestBuilder tiny = testing::StdManifest({"hello", std::string(100 << 10, 'a')});
  tiny.set_memory_bytes(1 << 20);  // a 128 KiB stack: at most 64 KiB of argv
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Result> r = pool_->Run(hello, Build(tiny));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
  const WarmPoolStats after = pool_->Stats();
  EXPECT_EQ(after.warm_runs, before.warm_runs);
  EXPECT_EQ(after.cold_runs, before.cold_runs);
  EXPECT_EQ(after.prestarted, before.prestarted);
  EXPECT_EQ(SettledParkedPids(), parked) << "the parked sandbox was used up by refused requests";
}

// At the global cap, images taking turns faster than a demand window must not take slots from
// each other: that would retire and prestart a sandbox for every call and warm none.
TEST_F(WarmPoolTest, ImagesTakingTurnsAtTheCapDoNotChurn) {
  MakePool(Options(1, 1, 2));
  const std::shared_ptr<const Image> hello = Load("hello");
  const std::shared_ptr<const Image> exit_code = Load("exit_code");
  const std::shared_ptr<const Image> cat = Load("cat");
  // Settled after every run: a refill still starting when its image is asked for again would
  // make that run cold for the host's slowness, not for churn (seen once in CI: 5 warm runs).
  for (int round = 0; round < 4; ++round) {
    ASSERT_EQ(RunAndCheck(hello, "hello"), "");
    SettledParkedPids();
    ASSERT_EQ(RunAndCheck(exit_code, "exit_code", 3), "");
    SettledParkedPids();
    ManifestBuilder b = testing::StdManifest({"cat"});
    ASSERT_THAT(pool_->Run(cat, Build(b)), IsOk());
    SettledParkedPids();
  }
  // Only a slot taken from an image unclaimed for a whole window (1 s) counts; the rounds take
  // far less, so none is.
  EXPECT_EQ(recorder_.retired("cap"), 0);
  // Two images keep their slot and start warm from the second round on (taking turns, the
  // one that took a slot would be the next asked for and nothing would ever start warm).
  EXPECT_GE(pool_->Stats().warm_runs, 6);
}

TEST_F(WarmPoolTest, NothingIsParkedBeforeAnImageIsUsed) {
  MakePool(Options(2, 4, 8));
  absl::SleepFor(absl::Milliseconds(100));  // several ticks
  EXPECT_EQ(pool_->Stats().parked, 0);
  EXPECT_EQ(pool_->Stats().prestarted, 0);
  EXPECT_TRUE(ChildPids().empty());
}

TEST_F(WarmPoolTest, FirstRunIsColdTheNextClaimsAParkedSandbox) {
  MakePool(Options(1, 2, 8));
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(pool_->Parked(hello->sha256_hex()), 0);

  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  WarmPoolStats s = pool_->Stats();
  EXPECT_EQ(s.cold_runs, 1);
  EXPECT_EQ(s.warm_runs, 0);

  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(hello->sha256_hex()) >= 1; }));
  const std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_FALSE(parked.empty());
  for (pid_t pid : parked) EXPECT_EQ(ProcessState(pid), 'S') << "parked in its read: " << pid;

  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  s = pool_->Stats();
  EXPECT_EQ(s.warm_runs, 1);
  EXPECT_EQ(s.cold_runs, 1);
  EXPECT_EQ(recorder_.warm(), 1);
  EXPECT_EQ(recorder_.cold(), 1);
  EXPECT_EQ(s.died, 0);
  // The claimed sandbox ran the guest and was reaped: one of the parked pids is gone.
  EXPECT_TRUE(WaitFor([&] {
    return std::any_of(parked.begin(), parked.end(), [](pid_t p) { return ProcessGone(p); });
  }));
}

TEST_F(WarmPoolTest, AfterARunThePoolParksAgainOffTheRequestPath) {
  MakePool(Options(2, 3, 8));
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  const std::string sha = hello->sha256_hex();
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) >= 2; }, absl::Seconds(2)))
      << "parked " << pool_->Parked(sha);
  const std::vector<pid_t> first = SettledParkedPids();
  const int64_t prestarted = pool_->Stats().prestarted;
  EXPECT_GE(prestarted, 2);

  // Two warm runs take two parked sandboxes; the pool replaces them.
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  EXPECT_GE(pool_->Stats().warm_runs, 1);
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) >= 2; }, absl::Seconds(2)))
      << "parked " << pool_->Parked(sha);
  EXPECT_GE(pool_->Stats().prestarted, prestarted + 1);
  const std::vector<pid_t> now = SettledParkedPids();
  // Some of the parked sandboxes are new processes.
  EXPECT_TRUE(std::any_of(now.begin(), now.end(), [&](pid_t p) {
    return std::find(first.begin(), first.end(), p) == first.end();
  }));
  EXPECT_EQ(pool_->Stats().warm_runs + pool_->Stats().cold_runs, 3);
  EXPECT_EQ(pool_->Stats().prestart_errors, 0);
}

TEST_F(WarmPoolTest, IdleSandboxesAreRetiredKilledAndReaped) {
  WarmPoolOptions options = Options(1, 2, 8);
  options.sizing.idle_retire = absl::Milliseconds(300);
  MakePool(options);
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  const std::string sha = hello->sha256_hex();
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) >= 1; }));
  std::vector<pid_t> parked = ChildPids();
  ASSERT_FALSE(parked.empty());

  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) == 0; }, absl::Seconds(3)));
  for (pid_t pid : parked) {
    EXPECT_TRUE(WaitFor([&] { return ProcessGone(pid); }, absl::Seconds(1)))
        << "retired sandbox " << pid << " still exists, state " << ProcessState(pid);
  }
  EXPECT_TRUE(WaitFor([] { return ChildPids().empty(); }, absl::Seconds(1)));
  EXPECT_FALSE(HasZombieChild());
  EXPECT_TRUE(WaitFor([&] { return recorder_.retired("idle") >= 1; }));
  WarmPoolStats s = pool_->Stats();
  EXPECT_EQ(s.parked, 0);
  EXPECT_GE(s.retired, static_cast<int64_t>(parked.size()));
  EXPECT_EQ(s.died, 0);
  // Nothing is parked again until the image is used again.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(pool_->Stats().parked, 0);
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  EXPECT_TRUE(WaitFor([&] { return pool_->Parked(sha) >= 1; }));
}

// A parked sandbox killed from outside, found by the claim: never handed out, counted as died,
// reaped, and replaced.
TEST_F(WarmPoolTest, ADeadParkedSandboxIsNeverHandedOut) {
  WarmPoolOptions options = Options(1, 1, 4);
  options.tick = absl::Seconds(30);  // the pool's thread wakes only for claims: Claim finds it
  MakePool(options);
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  const std::string sha = hello->sha256_hex();
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) == 1; }));
  std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_EQ(parked.size(), 1u);
  const pid_t victim = parked[0];
  absl::SleepFor(absl::Milliseconds(20));  // let the pool's thread go back to sleep

  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return ProcessState(victim) == 'Z'; })) << ProcessState(victim);

  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  WarmPoolStats s = pool_->Stats();
  EXPECT_EQ(s.died, 1);
  EXPECT_EQ(s.warm_runs, 0) << "the dead sandbox was counted as a warm start";
  EXPECT_EQ(s.cold_runs, 2);
  // Handing it out would have been reported as a warm start before the release failed.
  EXPECT_EQ(recorder_.warm(), 0) << "a dead parked sandbox was handed out";
  EXPECT_EQ(recorder_.retired("died"), 1);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(victim); }, absl::Seconds(1)))
      << "the dead sandbox was not reaped: state " << ProcessState(victim);

  // Replaced: the next run is warm, in a new process.
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) == 1; }));
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  EXPECT_EQ(pool_->Stats().warm_runs, 1);
  EXPECT_EQ(recorder_.warm(), 1);
}

// The same, found by the pool's maintenance pass before any claim.
TEST_F(WarmPoolTest, ADeadParkedSandboxIsFoundAndReplacedByMaintenance) {
  MakePool(Options(1, 1, 4));
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  const std::string sha = hello->sha256_hex();
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) == 1; }));
  std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_EQ(parked.size(), 1u);
  const pid_t victim = parked[0];

  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return pool_->Stats().died == 1; }, absl::Seconds(2)));
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(victim); }, absl::Seconds(1)))
      << "state " << ProcessState(victim);
  // The observer hears of it just after the reap.
  EXPECT_TRUE(WaitFor([&] { return recorder_.retired("died") == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    std::vector<pid_t> now = ChildPids();
    return pool_->Parked(sha) == 1 && now.size() == 1 && now[0] != victim;
  })) << "not replaced";
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  EXPECT_EQ(pool_->Stats().warm_runs, 1);
  EXPECT_EQ(pool_->Stats().died, 1);
}

// A sandbox that dies after the claim, before its release: the request runs cold, correctly,
// and is reported as cold everywhere (stats and observer agree).
TEST_F(WarmPoolTest, ASandboxDyingBetweenClaimAndReleaseRunsColdAndIsReportedCold) {
  std::atomic<pid_t> victim{0};
  std::atomic<bool> killed{false};
  recorder_.set_before_run([&](bool warm) {
    const pid_t pid = victim.load();
    if (!warm || pid == 0) return;
    std::vector<pid_t> children = ChildPids();
    if (std::find(children.begin(), children.end(), pid) == children.end()) return;
    if (ProcessState(pid) == 'Z' || kill(pid, SIGKILL) != 0) return;
    killed = WaitFor([&] { return ProcessState(pid) == 'Z'; });
  });
  WarmPoolOptions options = Options(1, 1, 4);
  options.tick = absl::Seconds(30);
  MakePool(options);
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  ASSERT_EQ(RunAndCheck(hello, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(hello->sha256_hex()) == 1; }));
  std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_EQ(parked.size(), 1u);
  victim = parked[0];

  ASSERT_EQ(RunAndCheck(hello, "hello"), "") << "the request must still get its result";
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(parked[0]); }, absl::Seconds(1)));
  const WarmPoolStats s = pool_->Stats();
  if (killed) {
    EXPECT_EQ(s.died, 1);
    EXPECT_EQ(s.warm_runs, 0);
    EXPECT_EQ(s.cold_runs, 2);
  }
  EXPECT_EQ(recorder_.warm(), s.warm_runs) << "observer on_run and Stats() disagree";
  EXPECT_EQ(recorder_.cold(), s.cold_runs) << "observer on_run and Stats() disagree";
}

// Several threads over `guests`: no image ever has more than max_per_image parked, the pool never
// more than max_total (parked + being prestarted), and every run is right.
void WarmPoolTest::LoadWithinCaps(int max_per_image, int max_total,
                                  const std::vector<std::string>& guests) {
  MakePool(Options(1, max_per_image, max_total));
  std::vector<std::shared_ptr<const Image>> images;
  for (const std::string& g : guests) {
    images.push_back(Load(g));
    ASSERT_NE(images.back(), nullptr);
  }
  std::atomic<bool> done{false};
  std::string violation;
  int samples = 0;
  std::thread monitor([&] {
    while (!done.load()) {
      const int total = Total();
      if (total > max_total && violation.empty()) {
        violation = absl::StrCat("parked + prestarting = ", total);
      }
      for (const auto& image : images) {
        const int n = pool_->Parked(image->sha256_hex());
        if (n > max_per_image && violation.empty()) violation = absl::StrCat("image parked ", n);
      }
      ++samples;
      absl::SleepFor(absl::Microseconds(500));
    }
  });
  constexpr int kThreads = 4;
  constexpr int kRuns = 15;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> runners;
  for (int t = 0; t < kThreads; ++t) {
    runners.emplace_back([&, t] {
      for (int i = 0; i < kRuns && failures[t].empty(); ++i) {
        const size_t k = static_cast<size_t>(t + i) % images.size();
        const std::string name = guests[k] == "hello_pie" ? "hello" : guests[k];
        failures[t] = RunAndCheck(images[k], name, name == "exit_code" ? i % 7 : 0);
      }
    });
  }
  for (std::thread& r : runners) r.join();
  done = true;
  monitor.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  EXPECT_EQ(violation, "") << "after " << samples << " samples";
  EXPECT_GT(samples, 10);
  WarmPoolStats s = pool_->Stats();
  EXPECT_EQ(s.warm_runs + s.cold_runs, kThreads * kRuns);
  EXPECT_GT(s.warm_runs, 0) << "the pool was never used";
  EXPECT_EQ(s.died, 0);
  EXPECT_EQ(s.prestart_errors, 0);
  // At rest, the processes alive are exactly the parked ones, within the caps (the demand of
  // 4 concurrent runs asks for more than either cap allows).
  const std::vector<pid_t> parked = SettledParkedPids();
  EXPECT_LE(static_cast<int>(parked.size()), max_total);
  for (const auto& image : images) EXPECT_LE(pool_->Parked(image->sha256_hex()), max_per_image);
}

TEST_F(WarmPoolTest, PerImageCapHoldsUnderConcurrentLoad) { LoadWithinCaps(2, 16, {"hello"}); }

TEST_F(WarmPoolTest, GlobalCapHoldsUnderConcurrentLoadOnSeveralImages) {
  LoadWithinCaps(2, 3, {"hello", "exit_code", "hello_pie"});
}

// At the global cap, the image claimed last takes a slot from the one claimed longer ago.
TEST_F(WarmPoolTest, AtTheGlobalCapAHotterImageTakesASlotFromAColderOne) {
  MakePool(Options(2, 2, 2));
  std::shared_ptr<const Image> cold_image = Load("hello");
  std::shared_ptr<const Image> hot_image = Load("exit_code");
  ASSERT_NE(cold_image, nullptr);
  ASSERT_NE(hot_image, nullptr);
  ASSERT_EQ(RunAndCheck(cold_image, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(cold_image->sha256_hex()) == 2; }));
  EXPECT_EQ(SettledParkedPids().size(), 2u);

  ASSERT_EQ(RunAndCheck(hot_image, "exit_code", 3), "");
  bool over_cap = false;
  ASSERT_TRUE(WaitFor([&] {
    over_cap |= Total() > 2;
    return pool_->Parked(hot_image->sha256_hex()) >= 1;
  })) << "the hotter image never got a slot";
  EXPECT_FALSE(over_cap);
  EXPECT_GE(recorder_.retired("cap"), 1);
  const std::vector<pid_t> parked = SettledParkedPids();
  EXPECT_LE(parked.size(), 2u);
  EXPECT_LE(pool_->Parked(cold_image->sha256_hex()) + pool_->Parked(hot_image->sha256_hex()), 2);
  // Its next run is warm.
  const int64_t warm = pool_->Stats().warm_runs;
  ASSERT_EQ(RunAndCheck(hot_image, "exit_code", 4), "");
  EXPECT_EQ(pool_->Stats().warm_runs, warm + 1);
}

// Destroying the pool kills and reaps every parked sandbox at once: no child, no zombie.
TEST_F(WarmPoolTest, DestroyingThePoolLeavesNoProcess) {
  MakePool(Options(2, 2, 8));
  std::shared_ptr<const Image> a = Load("hello");
  std::shared_ptr<const Image> b = Load("exit_code");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(RunAndCheck(a, "hello"), "");
  ASSERT_EQ(RunAndCheck(b, "exit_code", 1), "");
  ASSERT_TRUE(WaitFor(
      [&] { return pool_->Parked(a->sha256_hex()) == 2 && pool_->Parked(b->sha256_hex()) == 2; }));
  const std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_EQ(parked.size(), 4u);

  pool_.reset();
  EXPECT_TRUE(ChildPids().empty()) << "parked sandboxes survived the pool";
  EXPECT_FALSE(HasZombieChild()) << "parked sandboxes were not reaped";
  for (pid_t pid : parked) EXPECT_TRUE(ProcessGone(pid)) << pid << " state " << ProcessState(pid);
}

// The same while a refill is under way (destroyed right after a run asked for one).
TEST_F(WarmPoolTest, DestroyingThePoolDuringARefillLeavesNoProcess) {
  std::shared_ptr<const Image> hello = Load("hello");
  ASSERT_NE(hello, nullptr);
  for (int i = 0; i < 5; ++i) {
    MakePool(Options(2, 2, 8));
    ASSERT_EQ(RunAndCheck(hello, "hello"), "");
    absl::SleepFor(absl::Microseconds(300 * i));  // vary where the refill is when we stop
    pool_.reset();
    EXPECT_TRUE(ChildPids().empty()) << "round " << i;
    EXPECT_FALSE(HasZombieChild()) << "round " << i;
  }
}

// Once nobody holds the image any more, its parked sandboxes are retired as "image_gone".
TEST_F(WarmPoolTest, ADroppedImageHasItsSandboxesRetired) {
  MakePool(Options(2, 2, 8));
  std::shared_ptr<const Image> image = Load("hello");
  ASSERT_NE(image, nullptr);
  const std::string sha = image->sha256_hex();
  std::weak_ptr<const Image> weak = image;
  ASSERT_EQ(RunAndCheck(image, "hello"), "");
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) == 2; }));
  const std::vector<pid_t> parked = SettledParkedPids();
  ASSERT_EQ(parked.size(), 2u);

  image.reset();
  EXPECT_TRUE(WaitFor([&] { return weak.expired(); })) << "the pool holds the image";
  ASSERT_TRUE(WaitFor([&] { return pool_->Parked(sha) == 0; }, absl::Seconds(2)));
  for (pid_t pid : parked) {
    EXPECT_TRUE(WaitFor([&] { return ProcessGone(pid); }, absl::Seconds(1)))
        << pid << " state " << ProcessState(pid);
  }
  EXPECT_TRUE(WaitFor([&] { return recorder_.retired("image_gone") == 2; }))
      << recorder_.retired("image_gone");
  EXPECT_EQ(pool_->Stats().parked, 0);
  // Nothing is prestarted for it any more.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(ChildPids().empty());
  EXPECT_EQ(pool_->Stats().prestarting, 0);
}

}  // namespace
}  // namespace zerocell::sandbox::pool
