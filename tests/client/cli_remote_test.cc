// The zerocell CLI's remote mode end to end: build/bin/zerocell against a real zerocelld, compared
// with local mode for the same programs (stdout, exit status, --json minus usage).
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/cli_args.h"
#include "client/remote_run.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "image/image_id.h"
#include "tests/client/cli_test_util.h"
#include "tests/image/tar_builder.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::zerocell::testing::GuestPath;
using ::zerocell::testing::IsOkAndHolds;
using ::zerocell::testing::ReadFile;
using ::zerocell::testing::TempDir;
using ::zerocell::testing::ZerocelldProcess;

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message, options);
  EXPECT_THAT(status, IsOk()) << "\n" << json;
  return message;
}

// One server for the suite: the CLI runs are independent of each other.
class CliRemoteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Parked sandboxes retire soon after the last call, so that "none left" can be checked.
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start({"--pool_idle_ms=300"});
    ASSERT_THAT(server, IsOk());
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static std::string ServerFlag() { return absl::StrCat("--server=", server_->grpc_address()); }

  // `args` run locally and with --server inserted after the subcommand.
  static std::pair<CliResult, CliResult> RunBoth(std::vector<std::string> args,
                                                 const std::string& stdin_data = "") {
    CliResult local = RunCli(args, stdin_data);
    args.insert(args.begin() + 1, ServerFlag());
    CliResult remote = RunCli(args, stdin_data);
    return {local, remote};
  }

  static void ExpectNoSandboxesLeft() {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!zerocell::testing::DescendantPids(server_->pid()).empty() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_THAT(zerocell::testing::DescendantPids(server_->pid()), ::testing::IsEmpty());
  }

  static ZerocelldProcess* server_;
};
ZerocelldProcess* CliRemoteTest::server_ = nullptr;

// doctor --server: the server's version, policy and caps, and its host's findings.
TEST_F(CliRemoteTest, DoctorShowsTheServersInfoAndHost) {
  CliResult r = RunCli({"doctor", ServerFlag()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr(
                         absl::StrCat("server ", server_->grpc_address(), ": zerocelld ")));
  EXPECT_THAT(r.out, ::testing::HasSubstr("instruction policy standard"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("(stream 4294967296 B)"));  // the default stream cap
  EXPECT_THAT(r.out, ::testing::HasSubstr(" user_notification = yes"));
  CliResult json = RunCli({"doctor", "--json", ServerFlag()});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  zerocell::v1::ServerInfo info;
  ASSERT_THAT(google::protobuf::util::JsonStringToMessage(json.out, &info), IsOk()) << json.out;
  EXPECT_GT(info.host().capabilities_size(), 20);
  EXPECT_EQ(RunCli({"doctor", "--server=127.0.0.1:1"}).exit_code, 125);
}

TEST_F(CliRemoteTest, HelloPrintsTheSameAsLocally) {
  auto [local, remote] = RunBoth({"run", GuestPath("hello")});
  EXPECT_EQ(remote.exit_code, 0) << remote.err;
  EXPECT_EQ(remote.out, "hello, world\n");
  EXPECT_EQ(remote.err, "");
  EXPECT_EQ(remote.out, local.out);
}

TEST_F(CliRemoteTest, ExitStatusAndSummaryMatchLocalModeForEveryOutcome) {
  const std::vector<std::vector<std::string>> cases = {
      {"run", GuestPath("exit_code"), "42"},
      {"run", GuestPath("segv")},
      {"run", "--timeout=200ms", GuestPath("spin")},
      {"run", "--timeout=10", "--cpu=0.2", GuestPath("spin")},
      {"run", "--memory=16M", GuestPath("alloc"), "64"},
      {"run", "--output-limit=1K", GuestPath("bigout"), "5000", "100"},
      {"run", GuestPath("pol_socket")},
      {"run", "/nonexistent/program"},
      {"run", "/etc/hostname"},
      {"run", "/bin/sh"},  // dynamic ELF
      {"run", "/"},        // a directory
  };
  for (const std::vector<std::string>& args : cases) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    auto [local, remote] = RunBoth(args);
    EXPECT_EQ(remote.exit_code, local.exit_code) << remote.err;
    EXPECT_EQ(remote.out, local.out);
    EXPECT_EQ(remote.err, local.err);
  }
}

TEST_F(CliRemoteTest, JsonEqualsLocalJsonExceptUsage) {
  TempDir dir;
  const std::string input = dir.Write("in.txt", "json input\n");
  const std::string out_local = dir.File("local.out");
  const std::string out_remote = dir.File("remote.out");
  auto run = [&](const std::string& out_file, bool remote) {
    std::vector<std::string> args = {
        "run",
        "--json",
        absl::StrCat("--stdin=", input),
        absl::StrCat("--channel=/dev/extra=", input, ",etag,out=", out_file),
        "--seed=7",
        "--env=K=V",
        GuestPath("cat")};
    if (remote) args.insert(args.begin() + 1, ServerFlag());
    return RunCli(args);
  };
  CliResult local = run(out_local, false);
  CliResult remote = run(out_remote, true);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  v1::ExecuteResponse l = ParseJson<v1::ExecuteResponse>(local.out);
  v1::ExecuteResponse r = ParseJson<v1::ExecuteResponse>(remote.out);
  EXPECT_EQ(r.channels(1).output(), "json input\n");
  EXPECT_FALSE(r.channels(3).etag().empty());
  l.clear_usage();
  r.clear_usage();
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(l, r)) << diff;
  EXPECT_THAT(ReadFile(out_remote), IsOkAndHolds(ReadFile(out_local).value_or("<missing>")));
}

// The CLI's default manifest (stdout/stderr quotas far above the output limit, so that the
// limit, not a quota, ends an over-long output) must be accepted by a server with default caps,
// and an output of the full default limit (64 MiB) must come back whole, as in local mode.
TEST(CliRemoteDefaultServerTest, DefaultServerAcceptsTheCliDefaultManifest) {
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server = ZerocelldProcess::Start({});
  ASSERT_THAT(server, IsOk());
  const std::string flag = absl::StrCat("--server=", (*server)->grpc_address());
  CliResult hello = RunCli({"run", flag, GuestPath("hello")});
  EXPECT_EQ(hello.exit_code, 0) << hello.err;
  EXPECT_EQ(hello.out, "hello, world\n");
  CliResult big = RunCli({"run", flag, "--output-limit=1K", GuestPath("bigout"), "5000", "100"});
  EXPECT_EQ(big.exit_code, 153) << big.err;
  EXPECT_EQ(big.out.size(), 1024u);

  constexpr size_t kFullLimit = size_t{64} << 20;
  CliResult full = RunCli({"run", flag, GuestPath("bigout"), absl::StrCat(kFullLimit), "1048576"});
  EXPECT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.err, "");
  ASSERT_EQ(full.out.size(), kFullLimit);
  size_t bad = 0;  // bigout's byte i is 'a' + i % 26
  for (size_t i = 0; i < full.out.size(); ++i)
    bad += full.out[i] != static_cast<char>('a' + i % 26);
  EXPECT_EQ(bad, 0u);
}

TEST_F(CliRemoteTest, StdinFromTheCliAndOutputFilesWorkRemotely) {
  TempDir dir;
  const std::string out = dir.File("stdout.copy");
  CliResult r = RunCli({"run", ServerFlag(), "--stdin=-",
                        absl::StrCat("--channel=/dev/stdout=,out=", out), GuestPath("cat")},
                       "from the CLI's own stdin\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(ReadFile(out), IsOkAndHolds("from the CLI's own stdin\n"));
}

// As locally: the CLI's stdin is the guest's by default, and output shown as written is bound
// neither by the CLI's 64 MiB default nor by the server's --max_output_bytes (64 MiB here: the
// stream holds none of it).
TEST_F(CliRemoteTest, StdinByDefaultAndStreamedOutputAboveMaxOutputBytes) {
  CliResult piped = RunCli({"run", ServerFlag(), GuestPath("cat")}, "stdin without --stdin\n");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "stdin without --stdin\n");

  CliResult big =
      RunCli({"run", ServerFlag(), GuestPath("bigout"), std::to_string(80 << 20), "262144"});
  EXPECT_EQ(big.exit_code, 0) << big.err;
  EXPECT_EQ(big.out.size(), size_t{80} << 20);
}

TEST_F(CliRemoteTest, ServerComesFromTheEnvironmentToo) {
  ASSERT_EQ(setenv("ZEROCELL_SERVER", server_->grpc_address().c_str(), 1), 0);
  CliResult registered = RunCli({"register", GuestPath("hello")});
  // A server that does not exist proves that `run` goes remote from the environment alone.
  ASSERT_EQ(setenv("ZEROCELL_SERVER", "127.0.0.1:1", 1), 0);
  CliResult down = RunCli({"run", GuestPath("hello")});
  unsetenv("ZEROCELL_SERVER");
  EXPECT_EQ(registered.exit_code, 0) << registered.err;
  EXPECT_EQ(down.exit_code, 125);
  EXPECT_THAT(down.err, HasSubstr("server 127.0.0.1:1: UNAVAILABLE"));
}

TEST_F(CliRemoteTest, ManifestRunsRemotelyWithHostFilesReadAndWrittenHere) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "classic input\n");
  auto manifest_for = [&](const std::string& out) {
    return dir.Write(
        out + ".manifest",
        absl::StrCat("Version = 20130611\nProgram = ", GuestPath("cat"),
                     "\nTimeout = 5\nMemory = 33554432, 0\n"
                     "Channel = ",
                     in, ", /dev/stdin, 0, 0, 100, 100000, 0, 0\nChannel = ", dir.File(out),
                     ", /dev/stdout, 0, 1, 0, 0, 100, 100000\n"
                     "Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 100000\n"));
  };
  CliResult local = RunCli({"manifest", "--json", manifest_for("local")});
  CliResult remote = RunCli({"manifest", ServerFlag(), "--json", manifest_for("remote")});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  EXPECT_THAT(ReadFile(dir.File("remote")), IsOkAndHolds("classic input\n"));
  v1::ExecuteResponse l = ParseJson<v1::ExecuteResponse>(local.out);
  v1::ExecuteResponse r = ParseJson<v1::ExecuteResponse>(remote.out);
  l.clear_usage();
  r.clear_usage();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(l, r)) << l.DebugString() << "\n"
                                                                        << r.DebugString();

  CliResult report = RunCli({"manifest", ServerFlag(), "--report", manifest_for("report")});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.out, HasSubstr("exit state = ok\n"));
  // The server's admission validated the image; locally the report says "not run" (2).
  EXPECT_THAT(report.out, HasSubstr("validator state = 0\n"));
}

// A ZeroVM job whose nvram [fstab] mounts a tar channel: the archive is registered on the server
// as a tree image and mounted there; the channel stays readable.
TEST_F(CliRemoteTest, ManifestFstabTreesAreRegisteredAndMountedRemotely) {
  TempDir dir;
  const std::string tar = dir.Write(
      "data.tar", zerocell::testing::TarBuilder().File("etc/motd", "from a remote tree\n").bytes());
  dir.Write("nvram",
            "[args]\nargs = job /data/etc/motd\n[fstab]\n"
            "channel=/dev/data.tar, mountpoint=/data, access=ro\n");
  const std::string manifest =
      dir.Write("job.manifest",
                absl::StrCat("Version = 20130611\nProgram = ", GuestPath("cat_file"),
                             "\nTimeout = 5\nMemory = 33554432, 0\n"
                             "Channel = /dev/null, /dev/stdin, 0, 0, 100, 100000, 0, 0\n"
                             "Channel = out, /dev/stdout, 0, 0, 0, 0, 100, 100000\n"
                             "Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 100000\n"
                             "Channel = nvram, /dev/nvram, 0, 0, 100, 100000, 0, 0\n"
                             "Channel = data.tar, /dev/data.tar, 1, 0, 100, 100000000, 0, 0\n"));
  CliResult r = RunCliWith({"manifest", ServerFlag(), manifest}, CliOptions{.cwd = dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(dir.File("out")), IsOkAndHolds("from a remote tree\n"));
  CliResult images = RunCli({"images", ServerFlag()});
  EXPECT_THAT(images.out, HasSubstr(image::ImageIdOf(*ReadFile(tar))));
}

TEST_F(CliRemoteTest, InputsAreReadOnlyAsFarAsTheGuestReads) {
  // An endless source is read only as far as the guest could read it (its get_size).
  CliResult r = RunCli(
      {"run", ServerFlag(), "--channel=/dev/stdin=/dev/zero,get_size=1M", GuestPath("drain")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "read=1048576 end=122\n");
  // Streamed (ExecuteStream), an input is not bound by the 64 MiB inline cap.
  r = RunCli(
      {"run", ServerFlag(), "--channel=/dev/stdin=/dev/zero,get_size=70M", GuestPath("drain")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "read=73400320 end=122\n");
  // A classic manifest's Timeout above the server's cap is refused naming the cap.
  TempDir dir;
  const std::string manifest = dir.Write(
      "job.manifest", absl::StrCat("Version = 20130611\nProgram = ", GuestPath("hello"),
                                   "\nTimeout = 90000\nMemory = 33554432, 0\n"
                                   "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
                                   "Channel = /dev/stdout, /dev/stdout, 0, 0, 0, 0, 10, 100\n"
                                   "Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 10, 100\n"));
  r = RunCli({"manifest", ServerFlag(), manifest});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("manifest.timeout_ms: 90000000 is above this server's cap"));
  EXPECT_THAT(r.err, HasSubstr("--max_timeout_ms"));
}

TEST_F(CliRemoteTest, RegisterPrintsTheIdThenTheReport) {
  const std::string program = GuestPath("echo_args");
  absl::StatusOr<std::string> bytes = ReadFile(program);
  ASSERT_THAT(bytes, IsOk());
  const std::string id = image::ImageIdOf(*bytes);

  CliResult first = RunCli({"register", ServerFlag(), "--name=echo", program});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::vector<std::string> lines = absl::StrSplit(first.out, '\n');
  EXPECT_EQ(lines[0], id);
  EXPECT_THAT(first.out, HasSubstr("  name: echo\n"));
  EXPECT_THAT(first.out, HasSubstr("validation: accepted"));

  CliResult json = RunCli({"register", ServerFlag(), "--json", program});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::RegisterImageResponse response = ParseJson<v1::RegisterImageResponse>(json.out);
  EXPECT_TRUE(response.already_registered());
  EXPECT_EQ(response.image().image_id(), id);
  EXPECT_EQ(response.image().name(), "echo");

  CliResult images = RunCli({"images", ServerFlag()});
  ASSERT_EQ(images.exit_code, 0) << images.err;
  EXPECT_THAT(images.out, HasSubstr(absl::StrCat(id, "  echo")));
}

// `register --tree`: a tar (GNU tar's own format here) registered as a file tree image, its ELF
// files admitted; a tree holding a refused ELF exits 126 naming the file.
TEST_F(CliRemoteTest, RegisterTreeRegistersATarAndNamesARefusedFile) {
  TempDir dir;
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir.path(), "/t/bin ", dir.path(),
                                     "/bad/bin && cp ", GuestPath("hello"), " ", dir.path(),
                                     "/t/bin/hello && echo hi > ", dir.path(), "/t/motd && cp ",
                                     GuestPath("pol_int80"), " ", dir.path(), "/bad/bin/x")
                            .c_str()),
            0);
  const std::string tar = dir.File("t.tar");
  const std::string bad = dir.File("bad.tar");
  ASSERT_EQ(std::system(absl::StrCat("tar -C ", dir.path(), "/t -cf ", tar, " bin motd && tar -C ",
                                     dir.path(), "/bad -cf ", bad, " bin")
                            .c_str()),
            0);
  absl::StatusOr<std::string> bytes = ReadFile(tar);
  ASSERT_THAT(bytes, IsOk());
  CliResult reg = RunCli({"register", ServerFlag(), "--tree", "--name=base", tar});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  std::vector<std::string> lines = absl::StrSplit(reg.out, '\n');
  EXPECT_EQ(lines[0], image::ImageIdOf(*bytes));
  EXPECT_THAT(reg.out, HasSubstr("  tree: 4 entries, 2 files"));
  EXPECT_THAT(reg.out, HasSubstr("    bin/hello: executable"));
  CliResult images = RunCli({"images", ServerFlag()});
  EXPECT_THAT(images.out, HasSubstr("tree of 2 files (1 ELF)"));

  CliResult refused = RunCli({"register", ServerFlag(), "--tree", bad});
  EXPECT_EQ(refused.exit_code, 126) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("tree file \"bin/x\": instruction at file offset"));
  EXPECT_THAT(refused.err, HasSubstr("  refused: int"));
}

TEST_F(CliRemoteTest, RefusedProgramExits126WithTheRefusedInstructions) {
  CliResult reg = RunCli({"register", ServerFlag(), GuestPath("pol_int80")});
  EXPECT_EQ(reg.exit_code, 126) << reg.err;
  EXPECT_EQ(reg.out, "");
  EXPECT_THAT(reg.err, HasSubstr("  refused: int"));

  // Locally the engine lets int 0x80 reach the syscall filter (POLICY_VIOLATION); a server's
  // admission refuses the image before it runs.
  CliResult run = RunCli({"run", ServerFlag(), GuestPath("pol_int80")});
  EXPECT_EQ(run.exit_code, 126) << run.err;
  EXPECT_THAT(run.err, HasSubstr("  refused: int"));

  CliResult missing = RunCli({"register", ServerFlag(), "/nonexistent/x"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(missing.err,
            "zerocell: register: /nonexistent/x: cannot open the image file: No such file or "
            "directory\n");
}

// PROGRAM is read as `run` reads it: a FIFO or a directory is refused at once, not read.
TEST_F(CliRemoteTest, RegisterRefusesWhatIsNotARegularFile) {
  TempDir dir;
  const std::string fifo = dir.File("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  CliResult from_fifo = RunCli({"register", ServerFlag(), fifo});
  EXPECT_EQ(from_fifo.exit_code, 126) << from_fifo.err;
  EXPECT_EQ(from_fifo.err, absl::StrCat("zerocell: register: ", fifo,
                                        ": not a regular file, cannot be an image\n"));
  CliResult directory = RunCli({"register", ServerFlag(), dir.path()});
  EXPECT_EQ(directory.exit_code, 126) << directory.err;
  EXPECT_THAT(directory.err, HasSubstr("is a directory"));
}

TEST_F(CliRemoteTest, InterruptCancelsTheRemoteRun) {
  CliResult r = RunCli({"run", ServerFlag(), "--timeout=30", GuestPath("spin")}, "",
                       /*interrupt_after_ms=*/500);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_THAT(r.err, HasSubstr("interrupted by signal 2"));
  ExpectNoSandboxesLeft();
}

TEST_F(CliRemoteTest, ConnectionProblemsAndFlagMisuse) {
  CliResult down = RunCli({"run", "--server=127.0.0.1:1", GuestPath("hello")});
  EXPECT_EQ(down.exit_code, 125);
  EXPECT_THAT(down.err, HasSubstr("UNAVAILABLE"));
  CliResult tls_alone = RunCli({"run", "--tls_ca=/x.pem", GuestPath("hello")});
  EXPECT_EQ(tls_alone.exit_code, 2);
  EXPECT_THAT(tls_alone.err, HasSubstr("--tls_ca"));
  CliResult loader = RunCli({"run", ServerFlag(), "--loader=/x", GuestPath("hello")});
  EXPECT_EQ(loader.exit_code, 2);
  EXPECT_THAT(loader.err, HasSubstr("--loader"));
  CliResult no_server = RunCli({"register", GuestPath("hello")});
  EXPECT_EQ(no_server.exit_code, 2);
  EXPECT_THAT(no_server.err, HasSubstr("--server"));
  CliResult missing_ca =
      RunCli({"run", ServerFlag(), "--tls_ca=/nonexistent/ca.pem", GuestPath("hello")});
  EXPECT_EQ(missing_ca.exit_code, 2);
  EXPECT_THAT(missing_ca.err, HasSubstr("/nonexistent/ca.pem"));
}

// --server takes an address list: calls are spread round-robin over the entries that answer, so
// a dead entry (nothing listens on port 1) costs nothing; a bad entry is a usage error naming it.
TEST_F(CliRemoteTest, AddressListRunsOnTheReplicasThatAnswer) {
  const std::string list = absl::StrCat("--server=127.0.0.1:1,", server_->grpc_address());
  for (int i = 0; i < 3; ++i) {
    CliResult r = RunCli({"run", list, GuestPath("hello")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "hello, world\n");
  }
  CliResult bad = RunCli({"run", "--server=127.0.0.1:1,replica-b:2", GuestPath("hello")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("\"replica-b:2\": not an IPv4 address"));
  EXPECT_THAT(bad.err, HasSubstr("dns:///NAME:PORT"));
  CliResult none = RunCli({"run", "--server=127.0.0.1:1,127.0.0.1:2", GuestPath("hello")});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_THAT(none.err, HasSubstr("UNAVAILABLE"));
}

// Flag plumbing without a server.
TEST(CliRemoteFlagsTest, FlagsWinOverTheEnvironment) {
  constexpr FlagSpec kFlags[] = {
      kServerFlag, kTlsCaFlag, kTlsCertFlag, kTlsKeyFlag, {"loader", "PATH", false, ""}};
  ASSERT_EQ(setenv("ZEROCELL_SERVER", "env:1", 1), 0);
  ASSERT_EQ(setenv("ZEROCELL_TLS_CA", "env-ca.pem", 1), 0);
  absl::StatusOr<ParsedArgs> parsed =
      ParseFlags(std::vector<std::string>{"--server=flag:2", "prog"}, kFlags);
  ASSERT_THAT(parsed, IsOk());
  ClientOptions options = ClientOptionsFromArgs(*parsed);
  EXPECT_EQ(options.address, "flag:2");
  EXPECT_EQ(options.tls_ca_file, "env-ca.pem");
  EXPECT_EQ(options.tls_cert_file, "");
  EXPECT_THAT(CheckModeFlags(*parsed, options), IsOk());
  unsetenv("ZEROCELL_SERVER");
  unsetenv("ZEROCELL_TLS_CA");

  absl::StatusOr<ParsedArgs> local = ParseFlags(std::vector<std::string>{"--loader=x"}, kFlags);
  ASSERT_THAT(local, IsOk());
  EXPECT_EQ(ClientOptionsFromArgs(*local).address, "");
  EXPECT_THAT(CheckModeFlags(*local, ClientOptionsFromArgs(*local)), IsOk());
}

}  // namespace
}  // namespace zerocell::client::testing
