// `zerocell run --tree=TAR[:MOUNT] PROGRAM` end to end, locally and against a real zerocelld:
// a program by its path in a tree, a data tree at a sub-path, --scratch, and the errors; and
// `zerocell batch --tree`.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/image/tar_builder.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"

namespace zerocell::client::testing {
namespace {

using ::testing::HasSubstr;
using ::zerocell::testing::IsOk;
using ::zerocell::testing::TarBuilder;
using ::zerocell::testing::TempDir;
using ::zerocell::testing::ZerocelldProcess;

class CliTreeTest : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server = ZerocelldProcess::Start({});
    ASSERT_THAT(server, IsOk());
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    TarBuilder tree;
    tree.File("bin/fs_probe", zerocell::testing::GuestBytes("fs_probe"), 0755)
        .File("bin/hello", zerocell::testing::GuestBytes("hello"), 0755)
        .File("etc/motd", "hi\n");
    tree_ = dir_.Write("tree.tar", tree.bytes());
    TarBuilder data;
    data.File("numbers.txt", "3\n1\n2\n");
    data_ = dir_.Write("data.tar", data.bytes());
  }

  // `zerocell run ARGS...`, with --server when the parameter says remote.
  CliResult Run(std::vector<std::string> args) {
    std::vector<std::string> full = {"run", "--no-stdin"};
    if (GetParam()) full.push_back("--server=" + server_->grpc_address());
    full.insert(full.end(), args.begin(), args.end());
    return RunCli(full);
  }

  // Debian's busybox-static as a tree (scripts/make-tree.sh), in this test's directory; "" (and
  // a failure) when the script fails.
  std::string BusyboxTree() {
    const char* source = std::getenv("ZEROCELL_SOURCE_DIR");
    const std::string busybox = dir_.File("busybox.tar");
    const std::string command = std::string("bash ") + (source ? source : ".") +
                                "/scripts/make-tree.sh busybox " + busybox + " >/dev/null";
    if (std::system(command.c_str()) != 0) {
      ADD_FAILURE() << command;
      return "";
    }
    return busybox;
  }

  static ZerocelldProcess* server_;
  TempDir dir_;
  std::string tree_, data_;
};

ZerocelldProcess* CliTreeTest::server_ = nullptr;

TEST_P(CliTreeTest, ProgramByItsPathInTheTree) {
  CliResult r = Run({"--tree=" + tree_, "/bin/hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
}

TEST_P(CliTreeTest, SecondTreeAtASubPathAndTheProgramSeesBoth) {
  CliResult r = Run({"--tree=" + tree_, "--tree=" + data_ + ":/data", "/bin/fs_probe", "read",
                     "/data/numbers.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bytes=6"));
  r = Run({"--tree=" + tree_, "/bin/fs_probe", "read", "/etc/motd"});
  EXPECT_THAT(r.out, HasSubstr("bytes=3"));
}

TEST_P(CliTreeTest, ScratchFlagReachesTheResult) {
  CliResult r = Run({"--json", "--tree=" + tree_, "--scratch=/work:1M:10", "/bin/hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"path\":\"/work\""));
}

TEST_P(CliTreeTest, ErrorsNameThePathOrTheFlag) {
  CliResult missing = Run({"--tree=" + tree_, "/bin/nope"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("/bin/nope"));
  CliResult not_elf = Run({"--tree=" + tree_, "/etc/motd"});
  EXPECT_NE(not_elf.exit_code, 0);
  EXPECT_THAT(not_elf.err, HasSubstr("is not an ELF program"));
  CliResult no_tar = Run({"--tree=" + dir_.File("absent.tar"), "/bin/hello"});
  EXPECT_EQ(no_tar.exit_code, 2);
  EXPECT_THAT(no_tar.err, HasSubstr("--tree="));
  CliResult bad_scratch = Run({"--tree=" + tree_, "--scratch=/tmp", "/bin/hello"});
  EXPECT_EQ(bad_scratch.exit_code, 2);
  EXPECT_THAT(bad_scratch.err, HasSubstr("--scratch=/tmp"));
}

// Debian's busybox-static as a tree (scripts/make-tree.sh): a shell script of builtins and an
// awk program over data in a second tree, each writing the /tmp scratch and reading it back, and
// sort over the same data, in one process (the default).
TEST_P(CliTreeTest, BusyboxShellAwkAndSortOverADataTreeWithScratch) {
  const std::string busybox = BusyboxTree();
  ASSERT_FALSE(busybox.empty());
  TarBuilder data;
  data.File("sales.txt", "north 120\nsouth 80\nnorth 40\neast 200\nsouth 20\n")
      .File("report.sh",
            "north=0 south=0 east=0\n"
            "while read region amount; do eval \"$region=\\$((\\$$region + amount))\"; done "
            "< /data/sales.txt\n"
            "for r in east north south; do eval \"echo \\\"\\$$r $r\\\"\"; done > "
            "/tmp/totals.txt\n"
            "while read line; do echo \"total $line\"; done < /tmp/totals.txt\n")
      .File("report.awk",
            "{ total[$1] += $2 }\n"
            "END { for (r in total) print total[r], r > \"/tmp/t\"; close(\"/tmp/t\")\n"
            "  while ((getline line < \"/tmp/t\") > 0) n++\n"
            "  print n, \"regions\" }\n");
  const std::string data_tar = dir_.Write("data.tar", data.bytes());
  const std::string trees = "--tree=" + busybox;
  const std::string data_mount = "--tree=" + data_tar + ":/data";

  CliResult sh = Run({trees, data_mount, "/bin/sh", "/data/report.sh"});
  EXPECT_EQ(sh.exit_code, 0) << sh.err;
  EXPECT_EQ(sh.out, "total 200 east\ntotal 160 north\ntotal 100 south\n");
  CliResult awk = Run({trees, data_mount, "/bin/awk", "-f", "/data/report.awk", "/data/sales.txt"});
  EXPECT_EQ(awk.exit_code, 0) << awk.err;
  EXPECT_EQ(awk.out, "3 regions\n");
  CliResult sort = Run({trees, data_mount, "/bin/sort", "-k2", "-n", "/data/sales.txt"});
  EXPECT_EQ(sort.exit_code, 0) << sort.err;
  EXPECT_EQ(sort.out, "south 20\nnorth 40\nsouth 80\nnorth 120\neast 200\n");
  // With the scratch elsewhere, /tmp is nowhere (the busybox tree has none): nothing to write.
  CliResult no_scratch =
      Run({trees, data_mount, "--scratch=/work:1K", "/bin/sh", "/data/report.sh"});
  EXPECT_THAT(no_scratch.err, HasSubstr("can't create /tmp/totals.txt"));
  EXPECT_EQ(no_scratch.out, "");
}

// Issue 16's case: a busybox sh script runs sort and awk (applets it runs in a forked child,
// waiting for each) over a data tree, writes the /tmp scratch, then prints it to stdout with head
// (Debian's busybox-static runs cat by re-executing itself: execve, which no run may do). With
// one process, the default, the shell cannot fork and says so.
TEST_P(CliTreeTest, BusyboxShellForksSortAndAwkWithProcesses) {
  const std::string busybox = BusyboxTree();
  ASSERT_FALSE(busybox.empty());
  TarBuilder data;
  data.File("sales.txt", "north 120\nsouth 80\nnorth 40\neast 200\nsouth 20\n")
      .File("pipeline.sh",
            "sort -k2 -n /data/sales.txt > /tmp/sorted.txt\n"
            "awk '{ total[$1] += $2 } END { for (r in total) print total[r], r }' "
            "/tmp/sorted.txt > /tmp/totals.txt\n"
            "sort -n /tmp/totals.txt > /tmp/report.txt\n"
            "echo \"sorted:\"\n"
            "head -n 100 /tmp/sorted.txt\n"
            "echo \"totals:\"\n"
            "head -n 100 /tmp/report.txt\n");
  const std::string data_tar = dir_.Write("data.tar", data.bytes());
  const std::string trees = "--tree=" + busybox;
  const std::string data_mount = "--tree=" + data_tar + ":/data";

  CliResult sh = Run({trees, data_mount, "--processes=4", "/bin/sh", "/data/pipeline.sh"});
  EXPECT_EQ(sh.exit_code, 0) << sh.err;
  EXPECT_EQ(sh.out,
            "sorted:\nsouth 20\nnorth 40\nsouth 80\nnorth 120\neast 200\n"
            "totals:\n100 south\n160 north\n200 east\n");
  CliResult inline_script =
      Run({trees, data_mount, "--processes=2", "/bin/sh", "-c",
           "sort -r /data/sales.txt > /tmp/r; awk '{ print NR, $1 }' /tmp/r; head -n 9 /tmp/r"});
  EXPECT_EQ(inline_script.exit_code, 0) << inline_script.err;
  EXPECT_EQ(inline_script.out,
            "1 south\n2 south\n3 north\n4 north\n5 east\n"
            "south 80\nsouth 20\nnorth 40\nnorth 120\neast 200\n");
  CliResult one = Run({trees, data_mount, "--processes=1", "/bin/sh", "/data/pipeline.sh"});
  EXPECT_THAT(one.err, HasSubstr("can't fork"));
  EXPECT_NE(one.exit_code, 0);
  CliResult bad = Run({trees, data_mount, "--processes=0", "/bin/sh", "/data/pipeline.sh"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--processes"));
}

// `zerocell batch` only runs on a server.
using CliTreeBatchTest = CliTreeTest;

// The stdout text of the batch result line whose index is `index` ("" when there is none).
std::string BatchStdout(const std::string& out, int index) {
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, absl::StrCat("\"index\":", index, ","))) continue;
    size_t at = line.find("\"alias\":\"/dev/stdout\"");
    if (at == absl::string_view::npos) return "";
    constexpr absl::string_view kOutput = "\"output\":\"";
    at = line.find(kOutput, at);
    if (at == absl::string_view::npos) return "";
    at += kOutput.size();
    std::string text;
    if (!absl::Base64Unescape(line.substr(at, line.find('"', at) - at), &text)) return "";
    return text;
  }
  return "";
}

// --tree mounts the archives in every run of the batch, which names its program by path: the
// PROGRAM given, or the one a line names; a path not in the trees fails that run alone.
TEST_P(CliTreeBatchTest, BatchRunsProgramsByPathInTheTrees) {
  CliResult r = RunCli({"batch", "--server=" + server_->grpc_address(), "--tree=" + tree_,
                        "--tree=" + data_ + ":/data", "/bin/fs_probe"},
                       "{\"argv\": [\"/bin/fs_probe\", \"read\", \"/data/numbers.txt\"]}\n"
                       "{\"programPath\": \"/bin/hello\"}\n"
                       "{\"programPath\": \"/bin/nope\"}\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(BatchStdout(r.out, 0), HasSubstr("bytes=6"));
  EXPECT_EQ(BatchStdout(r.out, 1), "hello, world\n");
  EXPECT_THAT(r.out, HasSubstr("\"index\":2,\"errorCode\":5"));  // NOT_FOUND, that run only
  EXPECT_THAT(r.out, HasSubstr("manifest.program_path: \\\"/bin/nope\\\""));

  r = RunCli({"batch", "--server=" + server_->grpc_address(), "--scratch=/tmp:1M", "/bin/hello"},
             "{}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--scratch: needs --tree"));
}

INSTANTIATE_TEST_SUITE_P(Remote, CliTreeBatchTest, ::testing::Values(true),
                         [](const ::testing::TestParamInfo<bool>&) { return "Remote"; });

INSTANTIATE_TEST_SUITE_P(LocalAndRemote, CliTreeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Remote" : "Local";
                         });

}  // namespace
}  // namespace zerocell::client::testing
