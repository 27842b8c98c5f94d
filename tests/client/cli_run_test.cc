// `zerocell run` end to end: build/bin/zerocell as a subprocess running real guests.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "zerocell/v1/sandbox.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::zerocell::testing::GuestPath;
using ::zerocell::testing::IsOkAndHolds;
using ::zerocell::testing::ReadFile;
using ::zerocell::testing::TempDir;

// Parses --json output strictly (unknown fields are an error, so names must be the proto's).
zerocell::v1::ExecuteResponse ParseJson(const std::string& json) {
  zerocell::v1::ExecuteResponse response;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &response, options);
  EXPECT_THAT(status, IsOk()) << "\n" << json;
  return response;
}

const zerocell::v1::ChannelResult* FindChannel(const zerocell::v1::ExecuteResponse& response,
                                               const std::string& alias) {
  for (const auto& channel : response.channels()) {
    if (channel.alias() == alias) return &channel;
  }
  return nullptr;
}

TEST(CliRunTest, HelloWritesGuestStdoutAndExitsZero) {
  CliResult r = RunCli({"run", GuestPath("hello")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
  EXPECT_EQ(r.err, "");
}

TEST(CliRunTest, ExitStatusMirrorsTheGuestsExitCode) {
  EXPECT_EQ(RunCli({"run", GuestPath("exit_code"), "42"}).exit_code, 42);
  EXPECT_EQ(RunCli({"run", GuestPath("exit_code"), "7"}).exit_code, 7);
  CliResult zero = RunCli({"run", GuestPath("exit_code"), "0"});
  EXPECT_EQ(zero.exit_code, 0);
  EXPECT_EQ(zero.err, "") << "no summary line for EXITED";
}

TEST(CliRunTest, ProgramArgumentsPassThroughUntouched) {
  CliResult r = RunCli(
      {"run", "--timeout=5", GuestPath("echo_args"), "--timeout=1", "-x", "--", "--json", "a b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "argc=6\nargv[0]=echo_args\nargv[1]=--timeout=1\nargv[2]=-x\nargv[3]=--\n"
            "argv[4]=--json\nargv[5]=a b\n");
}

TEST(CliRunTest, DoubleDashEndsFlagsAndArgv0EnvFlagsApply) {
  CliResult r = RunCli(
      {"run", "--argv0=first", "--env=A=1", "--env=B=x=y", "--", GuestPath("echo_args"), "z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "argc=2\nargv[0]=first\nargv[1]=z\nenv=A=1\nenv=B=x=y\n");
}

TEST(CliRunTest, StdinFlagFeedsTheGuest) {
  TempDir dir;
  const std::string input = dir.Write("input.txt", "line one\nline two\n");
  CliResult r = RunCli({"run", absl::StrCat("--stdin=", input), GuestPath("cat")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "line one\nline two\n");

  CliResult piped = RunCli({"run", "--stdin=-", GuestPath("cat")}, "from the cli's stdin");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "from the cli's stdin");

  // Without --stdin the guest reads this process's stdin, as any command in a pipeline does.
  CliResult by_default = RunCli({"run", GuestPath("cat")}, "the cli's stdin by default");
  EXPECT_EQ(by_default.exit_code, 0) << by_default.err;
  EXPECT_EQ(by_default.out, "the cli's stdin by default");

  CliResult none = RunCli({"run", "--no-stdin", GuestPath("cat")}, "not read with --no-stdin");
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");

  CliResult both = RunCli({"run", "--no-stdin", "--stdin=-", GuestPath("cat")});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("--no-stdin"));
}

// Output shown as the guest writes it is held nowhere, so the 64 MiB default output limit does
// not bind it (as `cat` in a pipeline); output kept for --json is bound by it.
TEST(CliRunTest, OutputShownAsWrittenIsNotBoundByTheDefaultLimit) {
  const std::string bytes = std::to_string(80 << 20);
  CliResult shown = RunCli({"run", GuestPath("bigout"), bytes, "262144"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out.size(), size_t{80} << 20);

  CliResult kept = RunCli({"run", "--json", GuestPath("bigout"), bytes, "262144"});
  EXPECT_EQ(kept.exit_code, 153) << kept.err;  // OUTPUT_LIMIT at the 64 MiB default
}

TEST(CliRunTest, ChannelFlagsBindInputAndOutputFiles) {
  TempDir dir;
  const std::string input = dir.Write("in", "data1");
  const std::string output = dir.File("out");
  CliResult r = RunCli({"run", absl::StrCat("--channel=/dev/in=", input, ",etag"),
                        absl::StrCat("--channel=/dev/out=,out=", output), GuestPath("channels"),
                        "/dev/in", "/dev/out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // fd 3 = /dev/in (alias order), fd 4 = /dev/out.
  EXPECT_THAT(r.out, HasSubstr("fd 3 read=5 [data1]"));
  EXPECT_THAT(r.out, HasSubstr("fd 4 write=2 errno=0"));
  EXPECT_THAT(r.out, HasSubstr("open /dev/out r=-13"));
  EXPECT_THAT(ReadFile(output), IsOkAndHolds("w4"));
}

TEST(CliRunTest, ChannelQuotasAndEtagShowInJson) {
  TempDir dir;
  const std::string input = dir.Write("in", "0123456789");
  CliResult r = RunCli({"run", "--json",
                        absl::StrCat("--channel=/dev/stdin=", input, ",gets=10,get_size=4,etag"),
                        GuestPath("cat")});
  zerocell::v1::ExecuteResponse response = ParseJson(r.out);
  const auto* in = FindChannel(response, "/dev/stdin");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->read_bytes(), 4);
  EXPECT_TRUE(in->get_quota_exceeded());
  // sha256("0123")
  EXPECT_EQ(in->etag(), "1be2e452b46d7a0d9656bbb1f768e8248eba1b75baed65f5d99eafa948899a6a");
  const auto* out = FindChannel(response, "/dev/stdout");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->output(), "0123");
}

TEST(CliRunTest, StdoutChannelCanBeRedirectedToAFile) {
  TempDir dir;
  const std::string output = dir.File("stdout.txt");
  CliResult r =
      RunCli({"run", absl::StrCat("--channel=/dev/stdout=,out=", output), GuestPath("hello")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(ReadFile(output), IsOkAndHolds("hello, world\n"));
}

TEST(CliRunTest, JsonPrintsTheExecuteResponseInsteadOfGuestOutput) {
  CliResult r = RunCli({"run", "--json", GuestPath("hello")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{"));
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"outcome\":\"OUTCOME_EXITED\""), HasSubstr("\"channels\":["),
                           HasSubstr("\"exitCode\":0"), HasSubstr("\"usage\":{")));
  zerocell::v1::ExecuteResponse response = ParseJson(r.out);
  EXPECT_EQ(response.outcome(), zerocell::v1::OUTCOME_EXITED);
  ASSERT_EQ(response.channels_size(), 3);
  EXPECT_EQ(response.channels(1).alias(), "/dev/stdout");
  EXPECT_EQ(response.channels(1).output(), "hello, world\n");
  EXPECT_EQ(response.channels(1).write_bytes(), 13);
  EXPECT_EQ(response.image_id().size(), 7u + 64u);
  EXPECT_EQ(response.image_id().substr(0, 7), "sha256:");
  EXPECT_GT(response.usage().wall_ns(), 0);
  EXPECT_GT(response.usage().notified_syscalls(), 0);
}

TEST(CliRunTest, JsonKeepsTheExitStatusMapping) {
  CliResult r = RunCli({"run", "--json", GuestPath("exit_code"), "3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(ParseJson(r.out).exit_code(), 3);
}

TEST(CliRunTest, SignaledGuestExits128PlusSignal) {
  CliResult r = RunCli({"run", GuestPath("segv")});
  EXPECT_EQ(r.exit_code, 128 + 11);
  EXPECT_EQ(r.out, "before\n");
  EXPECT_THAT(r.err, HasSubstr("zerocell: SIGNALED: signal 11 (SIGSEGV)"));
}

TEST(CliRunTest, PolicyViolationExits159AndNamesTheSyscall) {
  CliResult r = RunCli({"run", GuestPath("pol_socket")});
  EXPECT_EQ(r.exit_code, 159);
  EXPECT_EQ(r.out, "start\n");
  EXPECT_THAT(r.err, HasSubstr("zerocell: POLICY_VIOLATION: socket (41)"));

  CliResult json = RunCli({"run", "--json", GuestPath("pol_socket")});
  EXPECT_EQ(json.exit_code, 159);
  zerocell::v1::ExecuteResponse response = ParseJson(json.out);
  EXPECT_EQ(response.outcome(), zerocell::v1::OUTCOME_POLICY_VIOLATION);
  EXPECT_EQ(response.violation().syscall(), "socket");
  EXPECT_EQ(response.violation().number(), 41);
}

// Local runs are admitted as a server would admit them: refused under a policy with the same
// lines a server's refusal prints, and exit 126; the standard policy lets rdtsc through.
TEST(CliRunTest, PolicyAdmitsTheProgramAsAServerWould) {
  CliResult refused = RunCli({"run", "--policy=deterministic", GuestPath("rdtsc")});
  EXPECT_EQ(refused.exit_code, 126) << refused.err;
  EXPECT_EQ(refused.out, "") << "the program never ran";
  EXPECT_THAT(refused.err, HasSubstr(": refused: instruction at file offset 0x"));
  EXPECT_THAT(refused.err, HasSubstr("(deterministic policy)"));
  EXPECT_THAT(refused.err, HasSubstr("  refused: rdtsc at 0x"));

  CliResult manifest_refused =
      RunCli({"run", "--policy=deterministic", "--json", GuestPath("rdtsc")});
  EXPECT_EQ(manifest_refused.exit_code, 126);

  CliResult standard = RunCli({"run", "--json", GuestPath("rdtsc")});
  EXPECT_NE(standard.exit_code, 126) << standard.err;
  zerocell::v1::ExecuteResponse response = ParseJson(standard.out);
  EXPECT_EQ(response.outcome(), zerocell::v1::OUTCOME_EXITED) << standard.out;
  // Admission found rdtsc: on a host that cannot trap it, the run says so; where the host traps
  // it, it reads the virtual clock, and the next run reads the same counter.
  bool reported = false;
  for (const std::string& item : response.nondeterminism())
    reported |= item.rfind("rdtsc:", 0) == 0;
  if (!reported) {
    CliResult again = RunCli({"run", "--json", GuestPath("rdtsc")});
    const zerocell::v1::ExecuteResponse again_response = ParseJson(again.out);
    const auto* first = FindChannel(response, "/dev/stdout");
    const auto* second = FindChannel(again_response, "/dev/stdout");
    ASSERT_TRUE(first != nullptr && second != nullptr) << standard.out;
    EXPECT_THAT(first->output(), HasSubstr("rdtsc="));
    EXPECT_EQ(second->output(), first->output());
  }

  // A program with no such instruction reports none of them.
  CliResult hello = RunCli({"run", "--policy=deterministic", "--json", GuestPath("hello")});
  EXPECT_EQ(hello.exit_code, 0) << hello.err;
  const zerocell::v1::ExecuteResponse hello_response = ParseJson(hello.out);
  for (const std::string& item : hello_response.nondeterminism()) {
    EXPECT_TRUE(item.rfind("addresses:", 0) == 0 || item.rfind("vdso:", 0) == 0) << item;
  }

  CliResult bad = RunCli({"run", "--policy=strict", GuestPath("hello")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--policy: expected standard or deterministic (got \"strict\")"));
  CliResult remote =
      RunCli({"run", "--server=127.0.0.1:1", "--policy=standard", GuestPath("hello")});
  EXPECT_EQ(remote.exit_code, 2);
  EXPECT_THAT(remote.err, HasSubstr("--policy: applies to local runs only"));
}

// `zerocell doctor` probes this host and says what each finding means; --json is the proto.
TEST(CliDoctorTest, PrintsEveryFindingAndWhetherSandboxesCanRun) {
  CliResult r = RunCli({"doctor"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"user_notification", "tsc_trap", "cpuid_faulting", "fixed_addresses",
                           "int80", "x32", "vsyscall", "privilege_drop", "process_vm", "pidfd"}) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat(" ", name, " = "))) << name;
  }
  EXPECT_THAT(r.out, HasSubstr("sandboxes can run here"));

  CliResult json = RunCli({"doctor", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  zerocell::v1::HostReport report;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  ASSERT_THAT(google::protobuf::util::JsonStringToMessage(json.out, &report, options), IsOk())
      << json.out;
  EXPECT_GE(report.capabilities_size(), 20);
  EXPECT_EQ(RunCli({"doctor", "extra"}).exit_code, 2);
}

TEST(CliRunTest, TimeoutExits124) {
  CliResult r = RunCli({"run", "--timeout=200ms", GuestPath("spin")});
  EXPECT_EQ(r.exit_code, 124);
  EXPECT_THAT(r.err, HasSubstr("zerocell: TIMEOUT: "));
}

TEST(CliRunTest, CpuLimitExits152) {
  CliResult r = RunCli({"run", "--timeout=10", "--cpu=0.1", GuestPath("spin")});
  EXPECT_EQ(r.exit_code, 152);
  EXPECT_THAT(r.err, HasSubstr("zerocell: CPU_LIMIT: "));
}

TEST(CliRunTest, MemoryLimitExits137) {
  CliResult r = RunCli({"run", "--memory=16M", GuestPath("alloc"), "64"});
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_THAT(r.err, HasSubstr("zerocell: MEMORY_LIMIT: "));
}

TEST(CliRunTest, OutputLimitExits153AndKeepsBytesUpToTheLimit) {
  CliResult r = RunCli({"run", "--output-limit=1K", GuestPath("bigout"), "5000", "100"});
  EXPECT_EQ(r.exit_code, 153);
  ASSERT_EQ(r.out.size(), 1024u);
  EXPECT_EQ(r.out.substr(0, 4), "abcd");
  EXPECT_THAT(r.err, HasSubstr("zerocell: OUTPUT_LIMIT: "));
}

TEST(CliRunTest, InterruptKillsTheSandboxAndExits130) {
  // As a subreaper this test inherits anything the CLI leaves behind, so a leak is visible here.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const absl::Time start = absl::Now();
  CliResult r = RunCli({"run", "--timeout=30", GuestPath("spin")}, "", /*interrupt_after_ms=*/300);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_THAT(r.err, HasSubstr("interrupted"));
  int status = 0;
  const pid_t leftover = waitpid(-1, &status, WNOHANG);
  EXPECT_EQ(leftover, -1) << "a process outlived the CLI";
  if (leftover == 0) {
    // Clean up what leaked: our own children, by pid.
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::istringstream children(ReadFile(task.path() / "children").value_or(""));
      for (pid_t pid = 0; children >> pid;) kill(pid, SIGKILL);
    }
    while (waitpid(-1, &status, 0) > 0) {
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(CliRunTest, StdoutIsShownWhileTheGuestRuns) {
  // The guest prints, then loops until the CLI is interrupted: an interrupted run delivers no
  // results at the end, so the line can only have arrived live.
  CliResult r = RunCli({"run", "--timeout=30", "/bin/busybox", "sh", "-c",
                        "echo started; echo to-stderr >&2; while :; do :; done"},
                       "", /*interrupt_after_ms=*/500);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_EQ(r.out, "started\n");
  EXPECT_THAT(r.err, HasSubstr("to-stderr\n"));
}

TEST(CliRunTest, JsonModeDoesNotStream) {
  CliResult r = RunCli({"run", "--json", GuestPath("hello")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("hello"), std::string::npos) << "guest bytes only inside the JSON";
  EXPECT_THAT(r.out, HasSubstr("\"outcome\":\"OUTCOME_EXITED\""));
}

TEST(CliRunTest, MissingProgramExits127AndRefusedProgramExits126) {
  TempDir dir;
  CliResult missing = RunCli({"run", dir.File("no-such-program")});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_THAT(missing.err, HasSubstr("no-such-program"));

  const std::string text = dir.Write("script.sh", "#!/bin/sh\necho hi\n");
  CliResult not_elf = RunCli({"run", text});
  EXPECT_EQ(not_elf.exit_code, 126);
  EXPECT_THAT(not_elf.err, HasSubstr("script.sh"));

  CliResult dynamic = RunCli({"run", "/bin/sh"});
  EXPECT_EQ(dynamic.exit_code, 126);
  EXPECT_THAT(dynamic.err, HasSubstr("dynamic"));
}

TEST(CliRunTest, BadFlagsExit2NamingTheFlag) {
  const std::string hello = GuestPath("hello");
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"run", "--memory=12Q", hello}, "--memory"},
      {{"run", "--memory=100G", hello}, "--memory"},
      {{"run", "--timeout=abc", hello}, "--timeout"},
      {{"run", "--timeout=-1", hello}, "--timeout"},
      {{"run", "--timeout=0", hello}, "--timeout"},
      {{"run", "--cpu=x", hello}, "--cpu"},
      {{"run", "--output-limit=0", hello}, "--output-limit"},
      {{"run", "--seed=-1", hello}, "--seed"},
      {{"run", "--clock=yesterday", hello}, "--clock"},
      {{"run", "--env=NOEQUALS", hello}, "--env"},
      {{"run", "--bogus", hello}, "--bogus"},
      {{"run", "--json=maybe", hello}, "--json"},
      {{"run", "--timeout=1", "--timeout=2", hello}, "--timeout"},
      {{"run", "--timeout"}, "--timeout"},
      {{"run", "--channel=noequals", hello}, "--channel"},
      {{"run", "--channel=/dev/x=,type=7,out=/dev/null", hello}, "--channel=/dev/x"},
      {{"run", "--channel=/dev/x=", hello}, "--channel=/dev/x"},
      {{"run", "--channel=/dev/x=/no/such/file", hello}, "/no/such/file"},
      {{"run", "--stdin=/no/such/file", hello}, "--stdin"},
      {{"run"}, "PROGRAM"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const Case& c : cases) {
    CliResult r = RunCli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[1] << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.args[1];
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliRunTest, HelpListsFlagsAndExitCodes) {
  CliResult help = RunCli({"help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, AllOf(HasSubstr("run"), HasSubstr("manifest"), HasSubstr("159")));
  CliResult run_help = RunCli({"run", "--help"});
  EXPECT_EQ(run_help.exit_code, 0);
  EXPECT_THAT(run_help.out, AllOf(HasSubstr("--channel="), HasSubstr("--stdin="),
                                  HasSubstr("--json"), HasSubstr("124")));
  EXPECT_EQ(RunCli({"--help"}).exit_code, 0);
  EXPECT_EQ(RunCli({}).exit_code, 2);
}

TEST(CliRunTest, RunsBusyboxAppletsOnStdin) {
  if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox-static not installed";
  CliResult r = RunCli({"run", "--stdin=-", "/bin/busybox", "sort", "-r"}, "b\nc\na\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "c\nb\na\n");
}

}  // namespace
}  // namespace zerocell::client::testing
