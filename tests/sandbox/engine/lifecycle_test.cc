// Integration tests for the run lifecycle: images refused before any process starts, nothing
// (fds, processes) left behind by any outcome, cancellation, and concurrent runs.
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::CountOpenFds;
using testing::Describe;
using testing::HasChildProcess;
using ::testing::HasSubstr;
using testing::LoadGuest;
using testing::RunImage;
using testing::StdManifest;
using testing::StdoutOf;
using ::zerocell::testing::StatusIs;

// Each refused image: INVALID_ARGUMENT (or NOT_FOUND), and no process was started.
TEST(EngineRefusedImageTest, BadImagesAreRefusedBeforeAnyProcessStarts) {
  ASSERT_FALSE(HasChildProcess());
  std::string text_path = testing::WriteTempFile("#!/bin/sh\necho not an ELF\n");
  absl::StatusOr<std::shared_ptr<const Image>> text = Image::FromFile(text_path);
  unlink(text_path.c_str());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();

  if (access("/bin/true", R_OK) == 0) {
    absl::StatusOr<std::shared_ptr<const Image>> dynamic = Image::FromFile("/bin/true");
    EXPECT_EQ(dynamic.status().code(), absl::StatusCode::kInvalidArgument) << dynamic.status();
  }

  std::string hello = zerocell::testing::GuestBytes("hello");
  ASSERT_GT(hello.size(), 4096u);
  std::string truncated_path = testing::WriteTempFile(hello.substr(0, hello.size() / 2));
  absl::StatusOr<std::shared_ptr<const Image>> truncated = Image::FromFile(truncated_path);
  unlink(truncated_path.c_str());
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument) << truncated.status();
  absl::StatusOr<std::shared_ptr<const Image>> header_only =
      Image::FromBytes(std::string_view(hello).substr(0, 64));
  EXPECT_EQ(header_only.status().code(), absl::StatusCode::kInvalidArgument)
      << header_only.status();

  std::string elf32 = hello.substr(0, 64);
  elf32[4] = 1;  // EI_CLASS = ELFCLASS32
  absl::StatusOr<std::shared_ptr<const Image>> class32 = Image::FromBytes(elf32);
  EXPECT_EQ(class32.status().code(), absl::StatusCode::kInvalidArgument) << class32.status();

  absl::StatusOr<std::shared_ptr<const Image>> missing =
      Image::FromFile("/nonexistent/zerocell/guest");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();

  EXPECT_FALSE(HasChildProcess());
}

TEST(EngineRefusedImageTest, MissingLoaderFailsTheRunWithoutLeaks) {
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("hello");
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> manifest = StdManifest({"hello"}).Build();
  ASSERT_THAT(manifest, IsOk());
  int fds = CountOpenFds();
  {
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Create({.loader_path = "/nonexistent/zerocell-loader"});
    if (engine.ok()) {
      absl::StatusOr<Result> r = (*engine)->Run(**image, *manifest);
      EXPECT_THAT(r, ::testing::Not(IsOk())) << "ran without a loader: " << Describe(*r);
    }
  }
  EXPECT_FALSE(HasChildProcess());
  EXPECT_EQ(CountOpenFds(), fds);
}

struct LeakCase {
  const char* name;
  const char* guest;
  std::vector<std::string> argv;
  Outcome outcome;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const LeakCase& c, std::ostream* os) { *os << c.name; }

class EngineLeakTest : public ::testing::TestWithParam<LeakCase> {};

TEST_P(EngineLeakTest, NoFdOrProcessIsLeftBehind) {
  const LeakCase& c = GetParam();
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(c.guest);
  ASSERT_THAT(image, IsOk());
  ManifestBuilder b = StdManifest(c.argv);
  b.set_timeout(absl::Milliseconds(300)).set_memory_bytes(int64_t{32} << 20);
  b.set_output_limit_bytes(1 << 16);
  ASSERT_THAT(testing::SharedEngine(), IsOk());
  // Twice: the first run may initialize engine-wide state lazily; the second must not grow it.
  ZC_ASSERT_RUN(warmup, RunImage(**image, b));
  int fds = CountOpenFds();
  ZC_ASSERT_RUN(r, RunImage(**image, b));
  EXPECT_EQ(r.outcome, c.outcome) << Describe(r);
  EXPECT_EQ(warmup.outcome, c.outcome) << Describe(warmup);
  EXPECT_EQ(CountOpenFds(), fds);
  EXPECT_FALSE(HasChildProcess());
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, EngineLeakTest,
    ::testing::Values(LeakCase{"exited", "hello", {"hello"}, Outcome::kExited},
                      LeakCase{"timeout", "spin", {"spin"}, Outcome::kTimeout},
                      LeakCase{
                          "violation", "pol_socket", {"pol_socket"}, Outcome::kPolicyViolation},
                      LeakCase{"signaled", "segv", {"segv"}, Outcome::kSignaled},
                      LeakCase{"memory", "alloc", {"alloc", "64"}, Outcome::kMemoryLimit},
                      LeakCase{"output", "bigout", {"bigout", "100000"}, Outcome::kOutputLimit}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EngineCancelTest, CancelFromAnotherThreadStopsTheRunPromptly) {
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("spin");
  ASSERT_THAT(image, IsOk());
  ManifestBuilder b = StdManifest({"spin"});
  b.set_timeout(absl::Seconds(5));
  ASSERT_THAT(testing::SharedEngine(), IsOk());
  int fds = CountOpenFds();
  absl::Time start;
  absl::StatusOr<Result> r;
  {
    CancelToken cancel;
    start = absl::Now();
    std::thread canceller([&cancel] {
      absl::SleepFor(absl::Milliseconds(150));
      cancel.Cancel();
    });
    r = RunImage(**image, b, &cancel);
    canceller.join();
  }
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled)
      << (r.ok() ? Describe(*r) : r.status().ToString());
  EXPECT_LT(elapsed, absl::Seconds(1));
  EXPECT_FALSE(HasChildProcess());
  EXPECT_EQ(CountOpenFds(), fds);
}

TEST(EngineCancelTest, AlreadyCancelledTokenRunsNothing) {
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("spin");
  ASSERT_THAT(image, IsOk());
  ManifestBuilder b = StdManifest({"spin"});
  b.set_timeout(absl::Seconds(5));
  CancelToken cancel;
  cancel.Cancel();
  absl::Time start = absl::Now();
  absl::StatusOr<Result> r = RunImage(**image, b, &cancel);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled)
      << (r.ok() ? Describe(*r) : r.status().ToString());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(HasChildProcess());
}

// A token whose eventfd could not be made could never cancel: a run or prestart given it is
// refused with the reason, before anything is spawned, instead of running uncancellable.
TEST(EngineCancelTest, ATokenWithoutItsEventfdIsRefusedNotIgnored) {
  absl::StatusOr<const Engine*> engine = testing::SharedEngine();
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("spin");
  ASSERT_THAT(image, IsOk());
  ASSERT_THAT(CancelToken().status(), IsOk());
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit none = saved;
  none.rlim_cur = 0;  // no descriptor can be created: eventfd fails with EMFILE
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
  const CancelToken broken;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_THAT(broken.status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("eventfd")));

  ManifestBuilder b = StdManifest({"spin"});
  b.set_timeout(absl::Seconds(5));
  EXPECT_THAT(RunImage(**image, b, &broken),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("eventfd")));
  EXPECT_THAT((*engine)->Prestart(**image, absl::Now() + absl::Seconds(5), &broken),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("eventfd")));
  EXPECT_FALSE(HasChildProcess());
}

TEST(EngineConcurrencyTest, OneEngineServesConcurrentRuns) {
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("cat");
  ASSERT_THAT(image, IsOk());
  constexpr int kThreads = 4;
  constexpr int kRunsPerThread = 3;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRunsPerThread; ++i) {
        std::string data = absl::StrCat("thread ", t, " run ", i, "\n", std::string(5000, 'x'));
        absl::StatusOr<Result> r = RunImage(**image, StdManifest({"cat"}, data));
        if (!r.ok()) {
          failures[t] = r.status().ToString();
        } else if (r->outcome != Outcome::kExited || StdoutOf(*r) != data) {
          failures[t] = Describe(*r);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  EXPECT_FALSE(HasChildProcess());
}

// Many concurrent runs with every kind of ending: each gets its own outcome, and afterwards the
// engine holds no more descriptors and no process than before.
TEST(EngineConcurrencyTest, ConcurrentMixedOutcomesLeakNothing) {
  struct Kind {
    const char* guest;
    std::vector<std::string> argv;
    Outcome outcome;
  };
  const std::vector<Kind> kinds = {
      {"hello", {"hello"}, Outcome::kExited},
      {"spin", {"spin"}, Outcome::kTimeout},
      {"pol_socket", {"pol_socket"}, Outcome::kPolicyViolation},
      {"abort_guest", {"abort_guest"}, Outcome::kSignaled},
      {"alloc", {"alloc", "64"}, Outcome::kMemoryLimit},
      {"bigout", {"bigout", "100000"}, Outcome::kOutputLimit},
  };
  std::vector<std::shared_ptr<const Image>> images;
  for (const Kind& k : kinds) {
    absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(k.guest);
    ASSERT_THAT(image, IsOk());
    images.push_back(*image);
  }
  ASSERT_THAT(testing::SharedEngine(), IsOk());
  const int fds = CountOpenFds();
  constexpr int kThreads = 4;
  constexpr int kRunsPerThread = 36;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRunsPerThread && failures[t].empty(); ++i) {
        const size_t k = static_cast<size_t>(i + t) % kinds.size();
        ManifestBuilder b = StdManifest(kinds[k].argv);
        // Only the spinning guest is meant to time out; the others get a timeout no slow host
        // reaches before they start.
        b.set_timeout(kinds[k].outcome == Outcome::kTimeout ? absl::Milliseconds(50)
                                                            : absl::Seconds(20));
        b.set_memory_bytes(int64_t{32} << 20);
        b.set_output_limit_bytes(1 << 16);
        absl::StatusOr<Result> r = RunImage(*images[k], b);
        if (!r.ok()) {
          failures[t] = r.status().ToString();
        } else if (r->outcome != kinds[k].outcome) {
          failures[t] = absl::StrCat(kinds[k].guest, ": ", Describe(*r));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  EXPECT_EQ(CountOpenFds(), fds);
  EXPECT_FALSE(HasChildProcess());
}

}  // namespace
}  // namespace zerocell::sandbox
