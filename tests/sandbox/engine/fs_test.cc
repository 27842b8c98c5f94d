// Real runs with trees mounted: path resolution stays in the guest's trees, writes are EROFS,
// large directories list whole, tree files read and map, hostile guests stay contained.
#include <cerrno>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/fs/file_tree.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox::testing {
namespace {

using ::testing::HasSubstr;
using ::zerocell::testing::IsOk;
using ::zerocell::testing::StatusIs;

std::shared_ptr<const fs::FileTree> RootTree() {
  fs::FileTreeBuilder b;
  EXPECT_THAT(b.AddFile("etc/passwd", 0644, "guest:x:1000:1000:tree\n", 1234), IsOk());
  EXPECT_THAT(b.AddSymlink("bin/to_passwd", "/etc/passwd"), IsOk());
  EXPECT_THAT(b.AddSymlink("bin/to_host", "/../../../../etc/shadow"), IsOk());
  EXPECT_THAT(b.AddSymlink("loop/a", "b"), IsOk());
  EXPECT_THAT(b.AddSymlink("loop/b", "a"), IsOk());
  EXPECT_THAT(b.AddDirectory("data", 0755), IsOk());
  for (int i = 0; i < 5000; ++i) {
    EXPECT_THAT(b.AddFile("big/entry" + std::to_string(10000 + i), 0644, "x"), IsOk());
  }
  std::string content(10 << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  EXPECT_THAT(b.AddFile("blob", 0644, content), IsOk());
  auto tree = std::move(b).Build();
  EXPECT_THAT(tree.status(), IsOk());
  return *tree;
}

std::shared_ptr<const fs::FileTree> DataTree() {
  fs::FileTreeBuilder b;
  EXPECT_THAT(b.AddFile("table.csv", 0644, "id,name\n"), IsOk());
  auto tree = std::move(b).Build();
  EXPECT_THAT(tree.status(), IsOk());
  return *tree;
}

// One tree set for the whole suite: building the 10 MiB file and 5,000 entries once.
const RunOptions& Trees() {
  static const RunOptions* options = [] {
    auto* o = new RunOptions();
    o->trees = {RootTree(), DataTree()};
    return o;
  }();
  return *options;
}

ManifestBuilder Mounted(std::vector<std::string> argv, std::string stdin_data = "") {
  ManifestBuilder b = StdManifest(std::move(argv), std::move(stdin_data));
  b.add_mount({"/", "root-tree"}).add_mount({"/data", "data-tree"});
  return b;
}

TEST(EngineFsTest, PathsStayInsideTheGuestsTrees) {
  ZC_ASSERT_RUN(r, RunGuestWith("fs_probe", Mounted({"fs_probe", "paths"}, "in\n"), Trees()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
  const std::string enoent = "E" + std::to_string(ENOENT);
  EXPECT_EQ(kv.at("passwd"), "guest:x:1000:1000:tree");
  EXPECT_EQ(kv.at("climb"), "guest:x:1000:1000:tree");
  EXPECT_EQ(kv.at("dotdot"), "guest:x:1000:1000:tree");
  EXPECT_EQ(kv.at("abs_link"), "guest:x:1000:1000:tree");
  EXPECT_EQ(kv.at("host_link"), enoent);
  EXPECT_EQ(kv.at("proc_maps"), enoent);
  EXPECT_EQ(kv.at("proc_fd"), enoent);
  EXPECT_EQ(kv.at("dev_host"), enoent);
  EXPECT_EQ(kv.at("mounted"), "id,name");
  EXPECT_EQ(kv.at("mount_up"), "guest:x:1000:1000:tree");
  EXPECT_EQ(kv.at("loop"), "E" + std::to_string(ELOOP));
  EXPECT_EQ(kv.at("readlink_exe"), enoent);
  EXPECT_EQ(kv.at("readlink_to_host"), "/../../../../etc/shadow");
  EXPECT_EQ(kv.at("long_path"), "E" + std::to_string(ENAMETOOLONG));
  EXPECT_EQ(kv.at("long_name"), "E" + std::to_string(ENAMETOOLONG));
  EXPECT_EQ(kv.at("relative"), "guest:x:1000:1000:tree");
  EXPECT_EQ(kv.at("cwd"), "/etc");
  EXPECT_EQ(kv.at("cwd_up"), "/");
  EXPECT_THAT(StdoutOf(r), HasSubstr("uid=1000 mode=100644 size=23 mtime=1234\n"));
  EXPECT_EQ(kv.at("stdin_alias"), "in");
}

TEST(EngineFsTest, EveryWritingCallIsErofs) {
  ZC_ASSERT_RUN(r, RunGuestWith("fs_probe", Mounted({"fs_probe", "erofs"}), Trees()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
  const std::string erofs = "E" + std::to_string(EROFS);
  for (const char* call :
       {"open_wr", "open_creat", "open_trunc", "mkdir", "rmdir", "unlink", "rename", "symlink",
        "link", "chmod", "chown", "truncate", "utimensat", "mknod", "fchmod"}) {
    EXPECT_EQ(kv.at(call), erofs) << call;
  }
  EXPECT_EQ(kv.at("write"), "E" + std::to_string(EBADF));
  EXPECT_EQ(kv.at("ftruncate"), "E" + std::to_string(EINVAL));
  EXPECT_THAT(StdoutOf(r), HasSubstr("alive\n"));
}

TEST(EngineFsTest, ReaddirOverFiveThousandEntries) {
  ZC_ASSERT_RUN(r, RunGuestWith("fs_probe", Mounted({"fs_probe", "list", "/big"}), Trees()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "count=5000 first=entry10000 last=entry14999\n");
  ZC_ASSERT_RUN(root, RunGuestWith("fs_probe", Mounted({"fs_probe", "list", "/"}), Trees()));
  // The mountpoint and the default scratch are listed with the tree's own entries.
  EXPECT_EQ(StdoutOf(root), "count=7 first=big last=tmp\n");
}

TEST(EngineFsTest, ReadsATenMebibyteFileWhole) {
  ZC_ASSERT_RUN(r, RunGuestWith("fs_probe", Mounted({"fs_probe", "read", "/blob"}), Trees()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  unsigned long sum = 0;
  for (size_t i = 0; i < (10u << 20); ++i)
    sum = sum * 31 + static_cast<unsigned char>('a' + i % 26);
  EXPECT_THAT(StdoutOf(r), HasSubstr("bytes=10485760 sum=" + std::to_string(sum) + " last=0\n"));
  EXPECT_THAT(StdoutOf(r), HasSubstr("fd=1024 "));  // in the tree range: its memfd injected
  // 2,561 reads of 4 KiB ran in the kernel: the run notified only its startup and a few calls.
  EXPECT_LT(r.usage.notified_syscalls, 100) << Describe(r);
}

TEST(EngineFsTest, MapsATreeFileButNeverExecutable) {
  ZC_ASSERT_RUN(r, RunGuestWith("fs_probe", Mounted({"fs_probe", "mmap", "/blob"}), Trees()));
  EXPECT_THAT(StdoutOf(r), HasSubstr("mmap=ok size=10485760 head=abcdefgh\n"));
  ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  EXPECT_EQ(r.violation.syscall, "mmap");
}

TEST(EngineFsTest, TreesMustMatchTheMounts) {
  RunOptions none;
  absl::StatusOr<Result> r = RunGuestWith("fs_probe", Mounted({"fs_probe", "paths"}), none);
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("trees: 0 given for 2 mounts")));
}

// The hostile corpus stays contained with a tree mounted.
class EngineFsHostileTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineFsHostileTest, StillAViolation) {
  ZC_ASSERT_RUN(r, RunGuestWith(GetParam(), Mounted({GetParam()}), Trees()));
  if (std::string(GetParam()) == "pol_int80" && Host().int80 == host::ForeignAbi::kFaults) {
    EXPECT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
  } else {
    EXPECT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  }
  EXPECT_EQ(StdoutOf(r), "start\n");
}

INSTANTIATE_TEST_SUITE_P(Corpus, EngineFsHostileTest,
                         ::testing::Values("pol_socket", "pol_execve", "pol_ptrace", "pol_x32",
                                           "pol_x32_asm", "pol_int80"));

TEST(EngineFsTest, HostFilesStayUnreachableWithATreeMounted) {
  ZC_ASSERT_RUN(r, RunGuestWith("pol_open_host", Mounted({"pol_open_host"}), Trees()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  // /etc/passwd is the tree's now (at the first number of the tree range); /proc is in no tree.
  EXPECT_EQ(StdoutOf(r), "open=1024 errno=0\nopenat=-1 errno=2\n");
}

}  // namespace
}  // namespace zerocell::sandbox::testing
