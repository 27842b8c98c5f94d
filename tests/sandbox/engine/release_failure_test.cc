// What a run reports when the release of a parked loader goes wrong: the deadline passing while
// the loader takes its release, or the loader failing a step after the engine's last check.
// Neither may surface as something else (an RPC-level error for a timeout, a guest exit code for
// a loader failure).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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

using testing::Describe;
using testing::LoadGuest;
using testing::StdManifest;
using testing::StdoutOf;
using ::zerocell::testing::ChildPids;

// A wall timeout that passes while a warm sandbox takes its release is a TIMEOUT outcome, as it
// is when it passes during a cold start-up or while the guest runs; never an error status (the
// service maps DEADLINE_EXCEEDED to "the caller gave up").
TEST(ReleaseFailureTest, ATimeoutDuringTheReleaseIsATimeoutOutcome) {
  absl::StatusOr<const Engine*> engine = testing::SharedEngine();
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> hello = LoadGuest("hello");
  ASSERT_THAT(hello, IsOk());
  int errors = 0;
  int release_timeouts = 0;
  std::string first_error;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::unique_ptr<ParkedSandbox>> parked =
        (*engine)->Prestart(**hello, absl::Now() + absl::Seconds(5));
    ASSERT_THAT(parked, IsOk());
    ManifestBuilder b = StdManifest({"hello"});
    b.set_timeout(absl::Microseconds(1 + i));
    absl::StatusOr<Manifest> m = b.Build();
    ASSERT_THAT(m, IsOk());
    absl::StatusOr<Result> r = (*engine)->RunParked(*std::move(parked), **hello, *m, {});
    if (!r.ok()) {
      if (errors++ == 0) first_error = r.status().ToString();
      continue;
    }
    EXPECT_TRUE(r->outcome == Outcome::kTimeout || r->outcome == Outcome::kExited) << Describe(*r);
    if (r->outcome == Outcome::kTimeout &&
        absl::StrContains(r->detail, "reached before the guest started")) {
      ++release_timeouts;
    }
  }
  EXPECT_EQ(errors, 0) << "runs ended with an error status instead of a result; first: "
                       << first_error;
  // Timeouts of microseconds pass before the loader has taken its release: without this, the
  // test would pass with every run past its release, proving nothing about that path.
  EXPECT_GT(release_timeouts, 0) << "no run timed out during its release";
  EXPECT_TRUE(ChildPids().empty());
}

// The loader sets the request's RLIMIT_AS and RLIMIT_CPU after the engine's checks. When it
// cannot (a hard limit inherited from the server below the request's backstop), the run could
// not happen: an error, as when the loader set them at start-up, never the guest's "exit 127".
TEST(ReleaseFailureTest, ALoaderThatCannotSetTheRequestsLimitsIsNotAGuestExit) {
  // In a child process: a hard limit cannot be raised again without privileges.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit cpu = {100, 100};  // seconds; the request's backstop is 201/202 below
    if (setrlimit(RLIMIT_CPU, &cpu) != 0) _exit(3);
    absl::StatusOr<const Engine*> engine = testing::SharedEngine();
    absl::StatusOr<std::shared_ptr<const Image>> hello = LoadGuest("hello");
    if (!engine.ok() || !hello.ok()) _exit(3);
    ManifestBuilder b = StdManifest({"hello"});
    b.set_timeout(absl::Seconds(200)).set_cpu_limit(absl::Seconds(200));
    absl::StatusOr<Manifest> m = b.Build();
    if (!m.ok()) _exit(3);
    absl::StatusOr<Result> r = (*engine)->Run(**hello, *m);
    if (!r.ok()) _exit(0);  // the run could not happen, and says so
    // Or the limits were set after all (an engine allowed to raise them) and the guest ran.
    if (r->outcome == Outcome::kExited && r->exit_code == 0 && StdoutOf(*r) == "hello, world\n") {
      _exit(0);
    }
    fprintf(stderr, "reported as a guest result: %s\n", Describe(*r).c_str());
    _exit(1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_NE(WEXITSTATUS(status), 3) << "test setup failed in the child";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "the loader's failed prlimit64 was reported as a guest outcome (see stderr)";
}

}  // namespace
}  // namespace zerocell::sandbox
