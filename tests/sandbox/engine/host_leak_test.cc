// The guest's view holds nothing of the host: no exec stack (AT_RANDOM, the loader's path, the
// server's uid), no maps text, no capabilities, no core dumps, no PI-futex pid oracle.
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/host/host_capabilities.h"
#include "sandbox/launch/launch_spec.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using testing::KeyValues;
using testing::StdManifest;
using testing::StdoutOf;

std::string ReadProc(pid_t pid, const char* file) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", file));
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// "Key:\tvalue" lines of /proc/<pid>/status.
std::map<std::string, std::string> StatusOf(pid_t pid) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(ReadProc(pid, "status"), '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    out[std::string(kv.first)] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  return out;
}

class ParkedSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<const Engine*> engine = testing::SharedEngine();
    ASSERT_THAT(engine, IsOk());
    engine_ = *engine;
    absl::StatusOr<std::shared_ptr<const Image>> image = testing::LoadAdmittedGuest("hello");
    ASSERT_THAT(image, IsOk());
    image_ = *image;
    absl::StatusOr<std::unique_ptr<ParkedSandbox>> parked =
        engine_->Prestart(*image_, absl::Now() + absl::Seconds(5));
    ASSERT_THAT(parked, IsOk());
    parked_ = *std::move(parked);
  }

  const Engine* engine_ = nullptr;
  std::shared_ptr<const Image> image_;
  std::unique_ptr<ParkedSandbox> parked_;
};

// Nothing is mapped above the guest stack: the exec stack is gone (and the vDSO where it could
// be removed); the vsyscall page is the kernel's, above user space, and holds only code.
TEST_F(ParkedSandboxTest, NothingOfTheExecStackIsMapped) {
  const std::string maps = ReadProc(parked_->pid(), "maps");
  ASSERT_FALSE(maps.empty()) << "cannot read /proc/" << parked_->pid() << "/maps";
  EXPECT_THAT(maps, ::testing::Not(::testing::HasSubstr("[stack]"))) << maps;
  for (absl::string_view line : absl::StrSplit(maps, '\n', absl::SkipEmpty())) {
    if (absl::EndsWith(line, "[vsyscall]")) continue;
    uint64_t start = 0;
    ASSERT_TRUE(absl::SimpleHexAtoi(line.substr(0, line.find('-')), &start)) << line;
    EXPECT_LT(start, launch::kStackTop) << "mapped above the guest stack: " << line;
  }
}

TEST_F(ParkedSandboxTest, HoldsNoCapabilityAndCannotDumpCore) {
  std::map<std::string, std::string> status = StatusOf(parked_->pid());
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapAmb"}) {
    EXPECT_EQ(status[cap], "0000000000000000") << cap;
  }
  EXPECT_EQ(status["NoNewPrivs"], "1");
  // Root drops to 65534 where the probe showed it can; otherwise the server's own uid.
  const std::string uid =
      host::ShouldDropPrivileges(engine_->host()) ? "65534" : absl::StrCat(engine_->host().euid);
  EXPECT_TRUE(absl::StartsWith(status["Uid"], uid + "\t")) << status["Uid"];
  // RLIMIT_CORE 1: neither a core file nor a core_pattern helper, whatever uid runs it.
  bool found = false;
  for (absl::string_view line : absl::StrSplit(ReadProc(parked_->pid(), "limits"), '\n')) {
    if (!absl::StartsWith(line, "Max core file size")) continue;
    found = true;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    ASSERT_GE(f.size(), 6u) << line;
    EXPECT_EQ(f[4], "1") << line;
    EXPECT_EQ(f[5], "1") << line;
  }
  EXPECT_TRUE(found);
}

// The guest's own search: the top of user space (where the exec stack sits with fixed addresses)
// and the loader's pages hold no host path and no /proc/self/maps text. The first run of a fresh
// engine is the one whose loader reads /proc/self/maps; the second uses the cached vDSO ranges.
TEST(EngineHostLeakTest, GuestFindsNoExecStackHostPathOrMapsText) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(
      {.loader_path = zerocell::testing::BinPath("zerocell-loader"), .host = nullptr});
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = testing::LoadGuest("host_leak_scan");
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> manifest =
      StdManifest({"host_leak_scan"}).set_timeout(absl::Seconds(20)).Build();
  ASSERT_THAT(manifest, IsOk());
  for (int run = 0; run < 2; ++run) {
    ZC_ASSERT_RUN(r, (*engine)->Run(**image, *manifest));
    ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
    std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
    EXPECT_EQ(kv["host_path_found"], "0") << "run " << run;
    EXPECT_EQ(kv["maps_text_found"], "0") << "run " << run;
    // With fixed addresses the exec stack would sit in the scanned range.
    if (host::ShouldFixAddresses((*engine)->host())) {
      EXPECT_EQ(kv["top_readable_pages"], "0") << "run " << run;
    }
  }
}

// Only the wait/wake family reaches the kernel; PI, requeue and wake-op answer ENOSYS, so
// FUTEX_TRYLOCK_PI cannot tell whether host pid 1 exists (ESRCH vs EAGAIN/0).
TEST(EngineFutexTest, OnlyTheWaitWakeFamilyRuns) {
  ZC_ASSERT_RUN(r, testing::RunGuest("futex_ops", StdManifest({"futex_ops"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv["wake_private"], "0");
  EXPECT_EQ(kv["wake"], "0");
  EXPECT_EQ(kv["wait_mismatch_private"], "-11");  // EAGAIN from the kernel
  EXPECT_EQ(kv["wake_bitset"], "0");
  for (const char* op :
       {"trylock_pi_init", "trylock_pi_free", "unlock_pi", "cmp_requeue", "wake_op"}) {
    EXPECT_EQ(kv[op], "-38") << op << " (ENOSYS expected)";
  }
}

}  // namespace
}  // namespace zerocell::sandbox
