// Warm starts (Engine::Prestart, then RunParked) side by side with cold ones (Engine::Run), for
// many guests: the same outcome, codes, violation, channel bytes, counters and etags, serviced
// calls and determinism output; the stack a parked loader keeps is the request's (it parks with
// the largest one mapped and unmaps down to what the memory limit gives).
#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

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
using testing::FindChannel;
using ::testing::HasSubstr;
using testing::LoadGuest;
using testing::Pattern;
using testing::ReadChannel;
using testing::Sha256Hex;
using ::testing::StartsWith;
using testing::StdManifest;
using testing::StdoutOf;
using testing::WriteChannel;
using ::zerocell::testing::ChildPids;
using ::zerocell::testing::ProcessGone;
using ::zerocell::testing::ProcessState;

constexpr int64_t kMiB = int64_t{1} << 20;

absl::StatusOr<std::unique_ptr<ParkedSandbox>> Park(const Engine& engine, const Image& image) {
  return engine.Prestart(image, absl::Now() + absl::Seconds(5));
}

// Every field a guest's behaviour decides, compared between a cold and a warm run. Timings and
// the resident peak (host-side noise) are not.
void ExpectSameRun(const Result& cold, const Result& warm) {
  EXPECT_EQ(warm.outcome, cold.outcome)
      << "cold: " << Describe(cold) << "\nwarm: " << Describe(warm);
  EXPECT_EQ(warm.exit_code, cold.exit_code);
  EXPECT_EQ(warm.term_signal, cold.term_signal);
  EXPECT_EQ(warm.violation.syscall, cold.violation.syscall);
  EXPECT_EQ(warm.violation.number, cold.violation.number);
  EXPECT_EQ(warm.violation.detail, cold.violation.detail);
  EXPECT_EQ(warm.detail, cold.detail);
  EXPECT_EQ(warm.usage.notified_syscalls, cold.usage.notified_syscalls);
  EXPECT_EQ(warm.nondeterminism, cold.nondeterminism);
  ASSERT_EQ(warm.channels.size(), cold.channels.size());
  for (size_t i = 0; i < cold.channels.size(); ++i) {
    const ChannelResult& c = cold.channels[i];
    const ChannelResult& w = warm.channels[i];
    SCOPED_TRACE(c.alias);
    EXPECT_EQ(w.alias, c.alias);
    EXPECT_EQ(w.reads, c.reads);
    EXPECT_EQ(w.read_bytes, c.read_bytes);
    EXPECT_EQ(w.writes, c.writes);
    EXPECT_EQ(w.write_bytes, c.write_bytes);
    EXPECT_EQ(w.get_quota_exceeded, c.get_quota_exceeded);
    EXPECT_EQ(w.put_quota_exceeded, c.put_quota_exceeded);
    EXPECT_EQ(w.etag, c.etag);
    EXPECT_EQ(w.writable, c.writable);
    // Where the host randomizes the kernel's placement of memory (and both runs say so), the
    // addresses printed are the one thing allowed to differ.
    const bool placed_varies = testing::ReportsNondeterminism(cold, "addresses");
    EXPECT_EQ(placed_varies ? testing::WithoutKernelPlacedAddresses(w.output) : w.output,
              placed_varies ? testing::WithoutKernelPlacedAddresses(c.output) : c.output)
        << "output differs (" << c.output.size() << " cold bytes, " << w.output.size()
        << " warm bytes)";
  }
}

struct EquivalenceCase {
  const char* name;
  const char* guest;
  std::function<ManifestBuilder()> manifest;
  Outcome outcome;
  // What the run must show besides its outcome (checked on the cold and the warm run alike, so
  // that a behaviour broken in both paths is caught too).
  std::function<void(const Result&)> check;
};

void PrintTo(const EquivalenceCase& c, std::ostream* os) { *os << c.name; }

ManifestBuilder WithMemory(std::vector<std::string> argv, int64_t memory_bytes) {
  ManifestBuilder b = StdManifest(std::move(argv));
  b.set_memory_bytes(memory_bytes);
  return b;
}

std::function<void(const Result&)> StdoutIs(std::string want) {
  return [want](const Result& r) { EXPECT_EQ(StdoutOf(r), want); };
}

std::function<void(const Result&)> KilledBy(int sig) {
  return [sig](const Result& r) { EXPECT_EQ(r.term_signal, sig) << Describe(r); };
}

std::vector<EquivalenceCase> Cases() {
  const std::string cat_data = Pattern(100000, 'A');
  return {
      {"hello", "hello", [] { return StdManifest({"hello"}); }, Outcome::kExited,
       StdoutIs("hello, world\n")},
      {"cat_stdin_etags", "cat",
       [cat_data] {
         ManifestBuilder b;
         ChannelSpec in = StdinChannel(cat_data);
         in.etag = true;
         ChannelSpec out = StdoutChannel(testing::kStdOutputBytes);
         out.etag = true;
         b.add_channel(in).add_channel(out).add_channel(StderrChannel(testing::kStdOutputBytes));
         b.set_argv({"cat", "3000"}).set_timeout(testing::kTestTimeout);
         return b;
       },
       Outcome::kExited,
       [cat_data](const Result& r) {
         EXPECT_EQ(StdoutOf(r), cat_data);
         EXPECT_EQ(FindChannel(r, "/dev/stdin")->etag, Sha256Hex(cat_data));
         EXPECT_EQ(FindChannel(r, "/dev/stdout")->etag, Sha256Hex(cat_data));
         EXPECT_EQ(FindChannel(r, "/dev/stdin")->reads, 34);  // ceil(100000 / 3000)
       }},
      {"determinism", "determinism",
       [] {
         ManifestBuilder b = StdManifest({"determinism"});
         b.set_random_seed(12345).set_clock_start(absl::FromUnixSeconds(1700000000));
         return b;
       },
       Outcome::kExited,
       [](const Result& r) {
         std::map<std::string, std::string> kv = testing::KeyValues(StdoutOf(r));
         EXPECT_EQ(kv["getpid"], "2");
         EXPECT_EQ(kv["getrandom_ret"], "32");
         EXPECT_THAT(kv["realtime"], StartsWith("1700000000."));
       }},
      // The clock page is reset at the release: a warm run reads the clock a cold one does,
      // through the vDSO and the notified calls alike.
      {"vdso_clock", "clock_probe",
       [] {
         ManifestBuilder b = StdManifest({"clock_probe", "mix"});
         b.set_clock_start(absl::FromUnixSeconds(1700000000));
         return b;
       },
       Outcome::kExited,
       [](const Result& r) { EXPECT_THAT(StdoutOf(r), HasSubstr("\ntime=1700000000\n")); }},
      {"echo_args_env", "echo_args",
       [] {
         ManifestBuilder b = StdManifest({"echo_args", "one", "two words", ""});
         b.set_env({"A=1", "LONG=" + std::string(3000, 'x')});
         return b;
       },
       Outcome::kExited,
       [](const Result& r) {
         EXPECT_THAT(StdoutOf(r), HasSubstr("argc=4\nargv[0]=echo_args\nargv[1]=one\n"
                                            "argv[2]=two words\nargv[3]=\nenv=A=1\n"));
       }},
      {"channels_with_etags", "channels",
       [] {
         ManifestBuilder b = StdManifest({"channels", "/dev/in", "/dev/out", "/dev/log"});
         ChannelSpec in = ReadChannel("/dev/in", "input for the guest");
         in.etag = true;
         ChannelSpec out = WriteChannel("/dev/out");
         out.etag = true;
         ChannelSpec log = WriteChannel("/dev/log");
         log.etag = true;
         b.add_channel(in).add_channel(out).add_channel(log);
         return b;
       },
       Outcome::kExited,
       [](const Result& r) {
         for (const char* alias : {"/dev/in", "/dev/out", "/dev/log"}) {
           const ChannelResult* ch = FindChannel(r, alias);
           ASSERT_NE(ch, nullptr) << alias;
           EXPECT_EQ(ch->etag.size(), 64u) << alias;
         }
         EXPECT_EQ(FindChannel(r, "/dev/out")->etag, Sha256Hex(FindChannel(r, "/dev/out")->output));
         EXPECT_GT(FindChannel(r, "/dev/in")->read_bytes, 0);
         EXPECT_GT(
             FindChannel(r, "/dev/out")->write_bytes + FindChannel(r, "/dev/log")->write_bytes, 0);
       }},
      {"quota_put", "quota_probe",
       [] {
         ManifestBuilder b;
         ChannelSpec out = StdoutChannel(testing::kStdOutputBytes);
         out.puts = 2;
         out.etag = true;
         b.add_channel(StdinChannel(""))
             .add_channel(out)
             .add_channel(StderrChannel(testing::kStdOutputBytes));
         b.set_argv({"quota_probe", "write", "1", "8", "5"}).set_timeout(testing::kTestTimeout);
         return b;
       },
       Outcome::kExited,
       [](const Result& r) {
         EXPECT_TRUE(FindChannel(r, "/dev/stdout")->put_quota_exceeded);
         EXPECT_EQ(FindChannel(r, "/dev/stdout")->writes, 2);
         EXPECT_EQ(StdoutOf(r), "ABCDEFGHIJKLMNOP");
       }},
      {"quota_get", "quota_probe",
       [] {
         ManifestBuilder b;
         ChannelSpec in = StdinChannel("0123456789ABCDEFGHIJKLMNO");
         in.get_size = 15;
         in.etag = true;
         b.add_channel(in)
             .add_channel(StdoutChannel(testing::kStdOutputBytes))
             .add_channel(StderrChannel(testing::kStdOutputBytes));
         b.set_argv({"quota_probe", "read", "0", "10"}).set_timeout(testing::kTestTimeout);
         return b;
       },
       Outcome::kExited,
       [](const Result& r) {
         EXPECT_TRUE(FindChannel(r, "/dev/stdin")->get_quota_exceeded);
         EXPECT_EQ(FindChannel(r, "/dev/stdin")->read_bytes, 15);
         EXPECT_EQ(FindChannel(r, "/dev/stdin")->etag, Sha256Hex("0123456789ABCDE"));
       }},
      {"exit_code", "exit_code",
       [] {
         return StdManifest({"exit_code", "42"});
       },
       Outcome::kExited, [](const Result& r) { EXPECT_EQ(r.exit_code, 42); }},
      {"policy_violation", "pol_socket", [] { return StdManifest({"pol_socket"}); },
       Outcome::kPolicyViolation,
       [](const Result& r) { EXPECT_EQ(r.violation.syscall, "socket") << Describe(r); }},
      {"abort", "abort_guest", [] { return StdManifest({"abort_guest"}); }, Outcome::kSignaled,
       KilledBy(SIGABRT)},
      {"segv", "segv", [] { return StdManifest({"segv"}); }, Outcome::kSignaled, KilledBy(SIGSEGV)},
      {"memory_limit", "alloc",
       [] {
         return WithMemory({"alloc", "64", "mmap"}, 32 * kMiB);
       },
       Outcome::kMemoryLimit, [](const Result& r) { EXPECT_THAT(r.detail, HasSubstr("mmap")); }},
      {"memory_within", "alloc",
       [] {
         return WithMemory({"alloc", "8", "brk"}, 32 * kMiB);
       },
       Outcome::kExited, StdoutIs("ok\n")},
      {"output_limit", "bigout",
       [] {
         ManifestBuilder b = StdManifest({"bigout", "5000", "700"});
         b.set_output_limit_bytes(1000);
         return b;
       },
       Outcome::kOutputLimit, StdoutIs(Pattern(1000))},
      {"virtual_clock", "sleeper", [] { return StdManifest({"sleeper"}); }, Outcome::kExited,
       [](const Result& r) { EXPECT_THAT(StdoutOf(r), HasSubstr("nanosleep=0")); }},
      // Memory 8 MiB: a 1 MiB stack. The parked loader mapped 8 MiB and must have given back 7.
      {"small_stack_fits", "stack_probe",
       [] {
         return WithMemory({"stack_probe", "512"}, 8 * kMiB);
       },
       Outcome::kExited, [](const Result& r) { EXPECT_THAT(StdoutOf(r), HasSubstr("ok")); }},
      {"small_stack_overflows", "stack_probe",
       [] {
         return WithMemory({"stack_probe", "2048"}, 8 * kMiB);
       },
       Outcome::kSignaled, KilledBy(SIGSEGV)},
      // Memory 256 MiB: the whole 8 MiB stack stays.
      {"large_stack_fits", "stack_probe",
       [] {
         return WithMemory({"stack_probe", "6144"}, 256 * kMiB);
       },
       Outcome::kExited, [](const Result& r) { EXPECT_THAT(StdoutOf(r), HasSubstr("ok")); }},
      {"large_stack_overflows", "stack_probe",
       [] {
         return WithMemory({"stack_probe", "10240"}, 256 * kMiB);
       },
       Outcome::kSignaled, KilledBy(SIGSEGV)},
      {"cpu_limit", "spin_cpu",
       [] {
         ManifestBuilder b = StdManifest({"spin_cpu", "0"});
         b.set_timeout(absl::Seconds(5)).set_cpu_limit(absl::Milliseconds(100));
         return b;
       },
       Outcome::kCpuLimit,
       [](const Result& r) {
         // The run's CPU: the guest's and the supervisor's work for it.
         EXPECT_GE(r.usage.user_cpu + r.usage.system_cpu + r.usage.supervisor_cpu,
                   absl::Milliseconds(100));
         EXPECT_LT(r.usage.wall, absl::Seconds(2)) << "the CPU limit must fire long before 5 s";
       }},
      {"wall_timeout", "spin",
       [] {
         ManifestBuilder b = StdManifest({"spin"});
         b.set_timeout(absl::Milliseconds(150));
         return b;
       },
       Outcome::kTimeout,
       [](const Result& r) {
         EXPECT_GE(r.usage.wall, absl::Milliseconds(150));
         EXPECT_LT(r.usage.wall, absl::Milliseconds(650));
       }},
  };
}

class WarmStartEquivalenceTest : public ::testing::TestWithParam<EquivalenceCase> {};

TEST_P(WarmStartEquivalenceTest, WarmRunIsIndistinguishableFromACold) {
  const EquivalenceCase& c = GetParam();
  absl::StatusOr<const Engine*> engine = testing::SharedEngine();
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(c.guest);
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> manifest = c.manifest().Build();
  ASSERT_THAT(manifest, IsOk());
  const int fds = CountOpenFds();

  // Parked before the cold run: it waits while another sandbox of its image runs.
  absl::StatusOr<std::unique_ptr<ParkedSandbox>> parked = Park(**engine, **image);
  ASSERT_THAT(parked, IsOk());
  const pid_t parked_pid = (*parked)->pid();
  EXPECT_EQ((*parked)->image_sha256(), (*image)->sha256_hex());
  EXPECT_TRUE((*parked)->Alive());

  ZC_ASSERT_RUN(cold, (*engine)->Run(**image, *manifest));
  EXPECT_TRUE((*parked)->Alive());
  ZC_ASSERT_RUN(warm, (*engine)->RunParked(*std::move(parked), **image, *manifest, {}));

  EXPECT_EQ(cold.outcome, c.outcome) << "cold: " << Describe(cold);
  EXPECT_EQ(warm.outcome, c.outcome) << "warm: " << Describe(warm);
  {
    SCOPED_TRACE("cold");
    c.check(cold);
  }
  {
    SCOPED_TRACE("warm");
    c.check(warm);
  }
  ExpectSameRun(cold, warm);
  // Resident peaks agree within a few pages (same loader, same guest, same inputs).
  EXPECT_NEAR(static_cast<double>(warm.usage.peak_memory_bytes),
              static_cast<double>(cold.usage.peak_memory_bytes), 256 * 1024.0)
      << "cold " << cold.usage.peak_memory_bytes << " warm " << warm.usage.peak_memory_bytes;

  EXPECT_TRUE(ProcessGone(parked_pid)) << "state " << ProcessState(parked_pid);
  EXPECT_TRUE(ChildPids().empty());
  EXPECT_EQ(CountOpenFds(), fds);
}

INSTANTIATE_TEST_SUITE_P(Guests, WarmStartEquivalenceTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace zerocell::sandbox
