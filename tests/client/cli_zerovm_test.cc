// `zerocell manifest` with jobs written the way ZeroVM's users wrote them: the 20140509 format,
// relative paths, the nvram's argv/env/clock, long timeouts, the memory etag, network channels,
// and inputs that never end or arrive slowly (also through `zerocell run`), under an address-space
// limit that loading such an input whole would break.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/image/tar_builder.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "zerocell/v1/sandbox.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client::testing {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using ::zerocell::testing::GuestPath;
using ::zerocell::testing::IsOkAndHolds;
using ::zerocell::testing::ReadFile;
using ::zerocell::testing::StatusIs;
using ::zerocell::testing::TempDir;

// RLIMIT_AS for the CLI in the endless-input tests: what it needs for a normal run with room to
// spare, far below what holding such an input would take.
constexpr int64_t kCliAddressSpaceKib = 1 << 20;  // 1 GiB

// A job directory with the program linked in under a relative name.
class JobDir {
 public:
  explicit JobDir(const std::string& guest) {
    std::filesystem::create_directories(dir_.File("bin"));
    std::filesystem::create_symlink(GuestPath(guest), dir_.File("bin/job"));
  }
  const TempDir& dir() const { return dir_; }
  CliResult Run(const std::string& manifest_text, std::vector<std::string> extra_args = {},
                CliOptions options = {}) const {
    dir_.Write("job.manifest", manifest_text);
    options.cwd = dir_.path();
    std::vector<std::string> args = {"manifest"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.push_back("job.manifest");
    return RunCliWith(args, options);
  }

 private:
  TempDir dir_;
};

// A zvsh-style 20130611 job: Node, 4 GiB of memory, stdin from the CLI's stdin, an nvram channel.
std::string ZvshStyle(absl::string_view timeout = "50", absl::string_view memory = "4294967296,0") {
  return absl::StrFormat(
      "Node = 1\n"
      "Version = 20130611\n"
      "Timeout = %s\n"
      "Memory = %s\n"
      "Program = bin/job\n"
      "Channel = /dev/stdin,/dev/stdin,0,0,4294967296,4294967296,0,0\n"
      "Channel = out.txt,/dev/stdout,0,0,0,0,4294967296,4294967296\n"
      "Channel = err.txt,/dev/stderr,0,0,0,0,4294967296,4294967296\n"
      "Channel = nvram.1,/dev/nvram,3,0,4294967296,4294967296,4294967296,4294967296\n",
      timeout, memory);
}

TEST(CliZeroVmTest, DevelFormatWithBootElfAndRelativePaths) {
  JobDir job("cat");
  job.dir().Write("input.txt", "read through a relative uri\n");
  CliResult r = job.Run(
      "Channel = input.txt, /dev/stdin, 0, 16, 4096, 0, 0\n"
      "Channel = output.txt, /dev/stdout, 0, 0, 0, 16, 4096\n"
      "Channel = /dev/null, /dev/stderr, 0, 0, 0, 16, 4096\n"
      "Channel = bin/job, /boot/elf, 1, 0x10000, 0x1000000, 0, 0\n"
      "Version = 20140509\n"
      "Memory = 33554432, 0\n"
      "Timeout = 5\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(job.dir().File("output.txt")),
              IsOkAndHolds("read through a relative uri\n"));
}

TEST(CliZeroVmTest, NvramGivesArgvEnvAndClock) {
  JobDir job("echo_args");
  job.dir().Write("nvram.1",
                  "[args]\n"
                  "args = job hello\\x20world \"two words\" last\\x2c\n"
                  "[fstab]\n\n"
                  "[env]\n"
                  "name=GREETING,value=hi\\x2c\\x20you\n"
                  "[mapping]\n"
                  "channel=/dev/stdin,mode=file\n");
  CliResult r = job.Run(ZvshStyle());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(
      ReadFile(job.dir().File("out.txt")),
      IsOkAndHolds("argc=4\nargv[0]=job\nargv[1]=hello world\nargv[2]=two words\nargv[3]=last,\n"
                   "env=GREETING=hi, you\n"));
  // The nvram channel is readable and writable: it goes back to its file unchanged.
  EXPECT_THAT(ReadFile(job.dir().File("nvram.1")), IsOkAndHolds(HasSubstr("[args]")));

  // ARGS after the file are appended; --argv0 replaces argv[0].
  CliResult more = RunCliWith({"manifest", "--argv0=renamed", "job.manifest", "extra"},
                              CliOptions{.cwd = job.dir().path()});
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_THAT(ReadFile(job.dir().File("out.txt")),
              IsOkAndHolds(AllOf(HasSubstr("argc=5\nargv[0]=renamed\nargv[1]=hello world\n"),
                                 HasSubstr("argv[4]=extra\n"))));

  JobDir clock("determinism");
  clock.dir().Write("nvram.1", "[args]\nargs = d\n[time]\nseconds = 1700000000\n");
  CliResult c = clock.Run(ZvshStyle());
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(ReadFile(clock.dir().File("out.txt")),
              IsOkAndHolds(HasSubstr("realtime=1700000000.0")));
}

TEST(CliZeroVmTest, NvramErrorsNameTheNvramLine) {
  JobDir job("echo_args");
  job.dir().Write("nvram.1", "[args]\nargs = job\n[time]\nseconds = tomorrow\n");
  CliResult r = job.Run(ZvshStyle());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("job.manifest: line 9: Channel /dev/nvram"),
                           HasSubstr("nvram line 4: [time] seconds: \"tomorrow\"")));
}

// ZRT's [fstab]: tar archives served by channels, mounted read-only where the nvram says.
std::string FstabJob() {
  return ZvshStyle() +
         "Channel = python.tar,/dev/python.tar,3,0,4294967296,4294967296,0,0\n"  // line 10
         "Channel = data.tar,/dev/1.data.tar,1,0,4294967296,4294967296,0,0\n";   // line 11
}

TEST(CliZeroVmTest, NvramFstabMountsTarChannels) {
  JobDir job("cat_file");
  job.dir().Write("python.tar", zerocell::testing::TarBuilder()
                                    .Dir("lib")
                                    .File("lib/python/site.py", "print('from the root tree')\n")
                                    .bytes());
  const std::string data_tar =
      zerocell::testing::TarBuilder().File("greeting.txt", "hello from a tree\n").bytes();
  job.dir().Write("data.tar", data_tar);
  job.dir().Write("nvram.1",
                  "[args]\n"
                  "args = job /lib/python/site.py /data/greeting.txt /dev/1.data.tar\n"
                  "[fstab]\n"
                  "channel=/dev/python.tar, mountpoint=/, access=ro, removable=no\n"
                  "channel=/dev/1.data.tar, mountpoint=/data, access=ro\n");
  CliResult r = job.Run(FstabJob());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The files of both trees, then the archive itself: its channel stays readable.
  EXPECT_THAT(
      ReadFile(job.dir().File("out.txt")),
      IsOkAndHolds(absl::StrCat("print('from the root tree')\nhello from a tree\n", data_tar)));

  // Without the mount the path is not there (the guest's tree is empty but for its channels).
  job.dir().Write("nvram.1",
                  "[args]\nargs = job /data/greeting.txt\n[fstab]\n"
                  "channel=/dev/python.tar, mountpoint=/, access=ro\n");
  r = job.Run(FstabJob());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(ReadFile(job.dir().File("err.txt")),
              IsOkAndHolds(HasSubstr("cat_file: /data/greeting.txt: open errno=2")));
}

TEST(CliZeroVmTest, NvramFstabErrorsNameTheNvramLine) {
  JobDir job("cat_file");
  job.dir().Write("python.tar", zerocell::testing::TarBuilder().File("a", "a\n").bytes());
  job.dir().Write("data.tar", "not a tar archive, but a channel still");
  const auto refused = [&](const std::string& nvram) {
    std::filesystem::remove(job.dir().File("out.txt"));
    job.dir().Write("nvram.1", nvram);
    CliResult r = job.Run(FstabJob());
    EXPECT_THAT(ReadFile(job.dir().File("out.txt")), StatusIs(absl::StatusCode::kNotFound))
        << "nothing may run: " << nvram;
    return r;
  };
  // A channel the manifest does not declare.
  CliResult r = refused(
      "[args]\nargs = job\n[fstab]\nchannel=/dev/python.tar, mountpoint=/, access=ro\n"
      "channel=/dev/2.python.tar, mountpoint=/usr, access=ro\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("job.manifest: line 9: Channel /dev/nvram (\"nvram.1\"): nvram line "
                               "5: [fstab] channel \"/dev/2.python.tar\" mounted at \"/usr\": no "
                               "Channel of the manifest has that alias"));
  // Writable trees are not: the scratch directory is the guest's writable place.
  r = refused("[fstab]\nchannel=/dev/python.tar, mountpoint=/, access=rw\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("job.manifest: line 9: Channel /dev/nvram"),
                           HasSubstr("nvram line 2: [fstab] access: \"rw\" is not ro"),
                           HasSubstr("scratch directory")));
  // A channel that holds no tar archive: refused as a tree, naming the file.
  r = refused("[fstab]\nchannel=/dev/1.data.tar, mountpoint=/data, access=ro\n");
  EXPECT_EQ(r.exit_code, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("job.manifest: line 9: Channel /dev/nvram (\"nvram.1\"): nvram line "
                               "2: [fstab] archive of the Channel at line 11 (data.tar): refused: "
                               "tree archive: not a tar archive"));
  // An archive that is no regular file (a FIFO the channel could stream) is the manifest's error.
  ASSERT_EQ(mkfifo(job.dir().File("fifo.tar").c_str(), 0600), 0);
  std::filesystem::rename(job.dir().File("fifo.tar"), job.dir().File("python.tar"));
  r = refused("[fstab]\nchannel=/dev/python.tar, mountpoint=/, access=ro\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nvram line 2: [fstab] archive of the Channel at line 10: "));
  // A missing archive: the channel's own line.
  std::filesystem::remove(job.dir().File("data.tar"));
  r = refused("[fstab]\nchannel=/dev/1.data.tar, mountpoint=/data, access=ro\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("job.manifest: line 11: Channel uri"));
}

TEST(CliZeroVmTest, ZeroVmTimeoutsAndMemoryInLocalMode) {
  JobDir job("echo_args");
  job.dir().Write("nvram.1", "[args]\nargs = job\n");
  // More than a day is what demo jobs wrote to mean "no limit".
  CliResult r = job.Run(ZvshStyle("90000"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = job.Run(ZvshStyle("2147483647"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = job.Run(ZvshStyle("2147483648"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("line 3: Timeout: \"2147483648\" is above 2147483647"));
  r = job.Run(ZvshStyle("50", "8589934592,0"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("line 4: Memory field 1 (bytes): 8589934592 is above ZeroVM's"));
}

TEST(CliZeroVmTest, NetworkChannelsAreRefusedNamingTheLine) {
  JobDir job("cat");
  CliResult r = job.Run(
      "Version = 20130611\nProgram = bin/job\nTimeout = 5\nMemory = 33554432, 0\n"
      "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
      "Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 1, 1\n"
      "Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 1, 1\n"
      "Channel = tcp:2:0, /dev/out/reducer, 0, 0, 0, 0, 100, 100\n"
      "NameServer = udp:127.0.0.1:54321\nNode = 1\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err,
              AllOf(HasSubstr("job.manifest: line 8: Channel field 1 (uri): \"tcp:2:0\""),
                    HasSubstr("sandbox-to-sandbox channels"), HasSubstr("not supported yet")));
}

TEST(CliZeroVmTest, MemoryEtagInTheReportAndTheJson) {
  JobDir job("mem_pattern");
  const std::string manifest =
      "Version = 20130611\nProgram = bin/job\nTimeout = 5\nMemory = 67108864, 1\n"
      "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
      "Channel = out.txt, /dev/stdout, 0, 1, 0, 0, 10, 100\n"
      "Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 10, 100\n";
  CliResult a = job.Run(manifest, {"--report"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // ZeroVM's order: channel etags, then /dev/memory.
  EXPECT_THAT(a.out, ContainsRegex("etag\\(s\\) = /dev/stdout [0-9a-f]{64} /dev/memory "
                                   "[0-9a-f]{64}\n"));
  CliResult other = RunCliWith({"manifest", "--report", "job.manifest", "seed-b"},
                               CliOptions{.cwd = job.dir().path()});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(a.out.substr(a.out.find("/dev/memory"), 76),
            other.out.substr(other.out.find("/dev/memory"), 76));

  CliResult json = job.Run(manifest, {"--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  zerocell::v1::ExecuteResponse response;
  ASSERT_THAT(google::protobuf::util::JsonStringToMessage(json.out, &response), IsOk()) << json.out;
  EXPECT_EQ(response.memory_etag().size(), 64u);
  for (const std::string& item : response.nondeterminism()) {
    if (absl::StartsWith(item, "addresses:")) {
      GTEST_SKIP() << "this host refuses fixed addresses (the run reports it): the memory etag "
                      "covers the mapping layout and varies between runs";
    }
  }
  // Stable across runs, and the report and the JSON carry the same digest.
  CliResult b = job.Run(manifest, {"--report"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out.substr(a.out.find("etag(s)"), 160), b.out.substr(b.out.find("etag(s)"), 160));
  EXPECT_EQ(response.memory_etag(), a.out.substr(a.out.find("/dev/memory ") + 12, 64));
}

TEST(CliZeroVmTest, EndlessZeroChannelStopsAtItsQuota) {
  JobDir job("drain");
  CliResult r = job.Run(
      "Version = 20130611\nProgram = bin/job\nTimeout = 20\nMemory = 33554432, 0\n"
      "Channel = /dev/zero, /dev/stdin, 0, 1, 0x1000000, 0x1000000, 0, 0\n"
      "Channel = out.txt, /dev/stdout, 0, 0, 0, 0, 10, 100\n"
      "Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 10, 100\n",
      {"--report"}, CliOptions{.address_space_kib = kCliAddressSpaceKib});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(job.dir().File("out.txt")), IsOkAndHolds("read=16777216 end=122\n"));
  EXPECT_THAT(r.out, HasSubstr("accounting = "));
}

TEST(CliZeroVmTest, EndlessPipedStdinEndsAtTheTimeout) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<bool> stop = false;
  std::thread yes([fd = fds[1], &stop] {
    const std::string block(65536, 'y');
    while (!stop && write(fd, block.data(), block.size()) > 0) {
    }
    close(fd);
  });
  JobDir job("drain");
  job.dir().Write("nvram.1", "[args]\nargs = drain\n");
  CliResult r = job.Run(ZvshStyle("2", "33554432,0"), {},
                        CliOptions{.stdin_fd = fds[0], .address_space_kib = kCliAddressSpaceKib});
  close(fds[0]);
  stop = true;
  yes.join();
  EXPECT_EQ(r.exit_code, 124) << r.err;  // TIMEOUT, not an abort
  EXPECT_THAT(r.err, HasSubstr("TIMEOUT"));
}

TEST(CliZeroVmTest, SlowStdinCountsAgainstTheTimeout) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "some ", 5), 5);  // and then nothing, the writer still there
  JobDir job("drain");
  job.dir().Write("nvram.1", "[args]\nargs = drain\n");
  const auto start = std::chrono::steady_clock::now();
  CliResult r = job.Run(ZvshStyle("1", "33554432,0"), {"--report"}, CliOptions{.stdin_fd = fds[0]});
  const auto took = std::chrono::steady_clock::now() - start;
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(r.exit_code, 124) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("exit state = session timeout"), HasSubstr("accounting = "),
                           Not(HasSubstr("outcome = EXITED"))));
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(CliZeroVmTest, RunStreamsStdinAndChannels) {
  // Endless stdin: the guest reads until the timeout; the CLI's memory stays bounded.
  CliResult r = RunCliWith({"run", "--stdin=/dev/zero", "--timeout=1", GuestPath("drain")},
                           CliOptions{.address_space_kib = kCliAddressSpaceKib});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  // With a quota it ends there.
  r = RunCliWith({"run", "--channel=/dev/stdin=/dev/zero,get_size=16M", GuestPath("drain")},
                 CliOptions{.address_space_kib = kCliAddressSpaceKib});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "read=16777216 end=122\n");
  // A pipe on the CLI's stdin, read as it comes.
  r = RunCliWith({"run", "--stdin=-", GuestPath("cat")}, CliOptions{.stdin_data = "piped\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "piped\n");
  // A directory is no input.
  r = RunCli({"run", "--stdin=/", GuestPath("cat")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("--stdin"), HasSubstr("directory")));
}

}  // namespace
}  // namespace zerocell::client::testing
