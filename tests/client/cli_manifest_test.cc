// `zerocell manifest` end to end: classic ZeroVM manifests with channels bound to temp files.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::zerocell::testing::GuestPath;
using ::zerocell::testing::IsOkAndHolds;
using ::zerocell::testing::ReadFile;
using ::zerocell::testing::StatusIs;
using ::zerocell::testing::TempDir;

// A classic manifest running `program` with stdin from `in`, stdout to `out`, stderr to
// /dev/stderr, plus `extra` lines.
std::string ClassicManifest(const std::string& program, const std::string& in,
                            const std::string& out, const std::string& stdout_etag = "0",
                            const std::string& extra = "") {
  return absl::StrFormat(
      "Version = 20130611\n"
      "Program = %s\n"
      "Timeout = 5\n"
      "Memory = 33554432, 0\n"
      "===== channels =====\n"
      "Channel = %s, /dev/stdin, 0, 0, 100, 100000, 0, 0\n"
      "Channel = %s, /dev/stdout, 0, %s, 0, 0, 100, 100000\n"
      "Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 100000\n"
      "%s",
      program, in, out, stdout_etag, extra);
}

TEST(CliManifestTest, ReadsChannelsFromUrisAndWritesOutputsBack) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "manifest input\n");
  const std::string out = dir.Write("out.txt", "old contents that must disappear\n");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), in, out));
  CliResult r = RunCli({"manifest", manifest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(ReadFile(out), IsOkAndHolds("manifest input\n"));
}

TEST(CliManifestTest, CreatesAMissingOutputFile) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "abc");
  const std::string out = dir.File("new.txt");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), in, out));
  CliResult r = RunCli({"manifest", manifest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(out), IsOkAndHolds("abc"));
}

TEST(CliManifestTest, DevStdoutUriGoesToTheCliStdout) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "to the terminal\n");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), in, "/dev/stdout"));
  CliResult r = RunCli({"manifest", manifest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "to the terminal\n");
}

TEST(CliManifestTest, ReportHasZeroVmLabelsAndZerocellLines) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "0123");
  const std::string out = dir.File("out.txt");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), in, out, /*stdout_etag=*/"1"));
  CliResult r = RunCli({"manifest", "--report", manifest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("validator state = 2\n"), HasSubstr("daemon = 0\n"),
                    HasSubstr("user return code = 0\n"),
                    // sha256("0123"): what went through /dev/stdout.
                    HasSubstr("etag(s) = /dev/stdout "
                              "1be2e452b46d7a0d9656bbb1f768e8248eba1b75baed65f5d99eafa948899a6a"
                              "\n"),
                    ContainsRegex("accounting = [0-9]+\\.[0-9][0-9] [0-9]+\\.[0-9][0-9] "
                                  "1 4 1 4 0 0 0 0\n"),
                    HasSubstr("exit state = ok\n"), HasSubstr("outcome = EXITED\n"),
                    ContainsRegex("wall = [0-9.]+ s\n"),
                    ContainsRegex("peak memory = [1-9][0-9]* bytes\n")));
  EXPECT_THAT(ReadFile(out), IsOkAndHolds("0123"));
}

TEST(CliManifestTest, ReportSaysDisabledWithoutEtags) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "x");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), in, dir.File("out")));
  CliResult r = RunCli({"manifest", "--report", manifest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("etag(s) = disabled\n"));
}

TEST(CliManifestTest, ReportOfAPolicyViolation) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "");
  const std::string out = dir.File("out.txt");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("pol_socket"), in, out));
  CliResult r = RunCli({"manifest", "--report", manifest});
  EXPECT_EQ(r.exit_code, 159);
  EXPECT_THAT(r.out, AllOf(HasSubstr("exit state = policy violation: socket (41)\n"),
                           HasSubstr("outcome = POLICY_VIOLATION\n")));
  EXPECT_THAT(r.err, HasSubstr("zerocell: POLICY_VIOLATION: socket (41)"));
  // Output written before the violation still goes back to the uri.
  EXPECT_THAT(ReadFile(out), IsOkAndHolds("start\n"));
}

TEST(CliManifestTest, ExtraChannelsAreBoundToo) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "");
  const std::string data = dir.Write("data.txt", "data1");
  const std::string sink = dir.File("sink.txt");
  const std::string extra = absl::StrFormat(
      "Channel = %s, /dev/in, 0, 0, 10, 100, 0, 0\n"
      "Channel = %s, /dev/out, 0, 0, 0, 0, 10, 100\n",
      data, sink);
  const std::string manifest = dir.Write(
      "job.manifest", ClassicManifest(GuestPath("channels"), in, dir.File("stdout"), "0", extra));
  CliResult r = RunCli({"manifest", manifest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(dir.File("stdout")), IsOkAndHolds(HasSubstr("fd 3 read=5 [data1]")));
  EXPECT_THAT(ReadFile(sink), IsOkAndHolds("w4"));
}

TEST(CliManifestTest, JsonPrintsTheExecuteResponse) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "json me");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), in, "/dev/stdout"));
  CliResult r = RunCli({"manifest", "--json", manifest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  zerocell::v1::ExecuteResponse response;
  auto status = google::protobuf::util::JsonStringToMessage(r.out, &response);
  ASSERT_THAT(status, IsOk()) << "\n" << r.out;
  EXPECT_EQ(response.outcome(), zerocell::v1::OUTCOME_EXITED);
  ASSERT_EQ(response.channels_size(), 3);
  EXPECT_EQ(response.channels(1).output(), "json me");
}

TEST(CliManifestTest, MissingInputFileNamesTheLineAndUri) {
  TempDir dir;
  const std::string missing = dir.File("missing-input.txt");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(GuestPath("cat"), missing, dir.File("out")));
  CliResult r = RunCli({"manifest", manifest});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("line 6"), HasSubstr("missing-input.txt")));
  EXPECT_THAT(ReadFile(dir.File("out")), StatusIs(absl::StatusCode::kNotFound))
      << "nothing may run or be written";
}

TEST(CliManifestTest, MalformedManifestsExit2NamingTheLine) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "");
  const std::string bad_type = dir.Write(
      "bad_type.manifest",
      absl::StrFormat("Version = 20130611\nProgram = %s\nTimeout = 5\nMemory = 33554432, 0\n"
                      "Channel = %s, /dev/stdin, 9, 0, 1, 1, 0, 0\n",
                      GuestPath("cat"), in));
  CliResult r = RunCli({"manifest", bad_type});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("bad_type.manifest"), HasSubstr("line 5")));

  const std::string no_version =
      dir.Write("no_version.manifest", "Program = /x\nTimeout = 5\nMemory = 33554432, 0\n");
  CliResult r2 = RunCli({"manifest", no_version});
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_THAT(r2.err, HasSubstr("Version"));

  CliResult r3 = RunCli({"manifest", dir.File("does-not-exist.manifest")});
  EXPECT_EQ(r3.exit_code, 2);
  EXPECT_THAT(r3.err, HasSubstr("does-not-exist.manifest"));
}

TEST(CliManifestTest, MissingProgramExits127) {
  TempDir dir;
  const std::string in = dir.Write("in.txt", "");
  const std::string manifest =
      dir.Write("job.manifest", ClassicManifest(dir.File("no-such-nexe"), in, dir.File("out")));
  CliResult r = RunCli({"manifest", manifest});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_THAT(r.err, HasSubstr("no-such-nexe"));
}

TEST(CliManifestTest, BadFlagsExit2) {
  TempDir dir;
  CliResult unknown = RunCli({"manifest", "--frob", dir.File("m")});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("--frob"));
  CliResult both = RunCli({"manifest", "--json", "--report", dir.File("m")});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("--json"));
  CliResult none = RunCli({"manifest"});
  EXPECT_EQ(none.exit_code, 2);
  CliResult limit = RunCli({"manifest", "--output-limit=lots", dir.File("m")});
  EXPECT_EQ(limit.exit_code, 2);
  EXPECT_THAT(limit.err, HasSubstr("--output-limit"));
}

}  // namespace
}  // namespace zerocell::client::testing
