// GuestFs path resolution: absolute/relative, ".", "..", symlinks, mounts, every errno.
#include "sandbox/fs/guest_fs.h"

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::fs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using zerocell::testing::IsOk;
using zerocell::testing::StatusIs;

std::shared_ptr<const FileTree> RootTree() {
  FileTreeBuilder b;
  EXPECT_THAT(b.AddFile("etc/passwd", 0644, "guest:x:1000:1000::/:/bin/sh\n", 7, 8), IsOk());
  EXPECT_THAT(b.AddFile("bin/sh", 0755, "sh"), IsOk());
  EXPECT_THAT(b.AddSymlink("bin/rel", "sh"), IsOk());
  EXPECT_THAT(b.AddSymlink("bin/abs", "/etc/passwd"), IsOk());
  EXPECT_THAT(b.AddSymlink("bin/up", "../../../../etc/passwd"), IsOk());
  EXPECT_THAT(b.AddSymlink("loop/a", "b"), IsOk());
  EXPECT_THAT(b.AddSymlink("loop/b", "a"), IsOk());
  EXPECT_THAT(b.AddSymlink("usr", "opt/usr"), IsOk());  // a symlinked directory
  EXPECT_THAT(b.AddFile("opt/usr/lib/libc.so", 0644, "lib"), IsOk());
  EXPECT_THAT(b.AddSymlink("proc", "/etc"), IsOk());
  EXPECT_THAT(b.AddDirectory("data", 0755), IsOk());  // covered by a mount below
  EXPECT_THAT(b.AddFile("data/hidden", 0644, "covered"), IsOk());
  auto t = std::move(b).Build();
  EXPECT_THAT(t.status(), IsOk());
  return *t;
}

std::shared_ptr<const FileTree> DataTree() {
  FileTreeBuilder b;
  EXPECT_THAT(b.AddFile("table.csv", 0644, "a,b\n"), IsOk());
  EXPECT_THAT(b.AddSymlink("root", "/"), IsOk());
  auto t = std::move(b).Build();
  EXPECT_THAT(t.status(), IsOk());
  return *t;
}

class GuestFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fs = GuestFs::Create({{"/", RootTree()}, {"/data", DataTree()}, {"/mnt/x/y", DataTree()}},
                              {"/tmp"});
    ASSERT_THAT(fs.status(), IsOk());
    fs_ = *std::move(fs);
  }
  // The canonical path `path` resolves to from `start`, or "errno N".
  std::string Walk(std::string_view path, ResolveOptions o = {}, const Location* start = nullptr) {
    Location out;
    const Location root = fs_->Root();
    const int err = fs_->Resolve(start ? *start : root, path, o, &out);
    if (err != 0) return "errno " + std::to_string(err);
    return out.path + "@" + std::to_string(out.mount);
  }
  std::unique_ptr<const GuestFs> fs_;
};

TEST_F(GuestFsTest, AbsoluteAndRelativePaths) {
  EXPECT_EQ(Walk("/etc/passwd"), "/etc/passwd@1");
  EXPECT_EQ(Walk("//etc///passwd"), "/etc/passwd@1");
  Location etc;
  ASSERT_EQ(fs_->Resolve(fs_->Root(), "/etc", {}, &etc), 0);
  EXPECT_EQ(Walk("passwd", {}, &etc), "/etc/passwd@1");
  EXPECT_EQ(Walk("./passwd", {}, &etc), "/etc/passwd@1");
  EXPECT_EQ(Walk("../bin/sh", {}, &etc), "/bin/sh@1");
  EXPECT_EQ(Walk("/", {}, &etc), "/@1");
  EXPECT_EQ(Walk(".", {}, &etc), "/etc@1");
  EXPECT_EQ(Walk(""), "errno " + std::to_string(ENOENT));
}

TEST_F(GuestFsTest, DotDotAtTheRootStaysThere) {
  EXPECT_EQ(Walk("/../../etc/passwd"), "/etc/passwd@1");
  EXPECT_EQ(Walk("/.."), "/@1");
  EXPECT_EQ(Walk("../../.."), "/@1");
  // The symlink climbs past the root: it stays inside the guest's namespace.
  EXPECT_EQ(Walk("/bin/up"), "/etc/passwd@1");
}

TEST_F(GuestFsTest, SymlinksRelativeAbsoluteAndAsDirectories) {
  EXPECT_EQ(Walk("/bin/rel"), "/bin/sh@1");
  EXPECT_EQ(Walk("/bin/abs"), "/etc/passwd@1");
  EXPECT_EQ(Walk("/usr/lib/libc.so"), "/opt/usr/lib/libc.so@1");
  EXPECT_EQ(Walk("/usr/lib/../lib/libc.so"), "/opt/usr/lib/libc.so@1");
  // ".." after a symlinked directory is the target's parent (physical, as Linux).
  EXPECT_EQ(Walk("/usr/.."), "/opt@1");
  // A symlink to "/" in a mounted tree is the guest's root, not the tree's.
  EXPECT_EQ(Walk("/data/root/etc/passwd"), "/etc/passwd@1");
  // "/proc" is only what the tree says it is.
  EXPECT_EQ(Walk("/proc/passwd"), "/etc/passwd@1");
  EXPECT_EQ(Walk("/proc/self/exe"), "errno " + std::to_string(ENOENT));
}

TEST_F(GuestFsTest, NoFollowOnTheLastComponentOnly) {
  EXPECT_EQ(Walk("/bin/rel", {false, false}), "/bin/rel@1");
  EXPECT_EQ(Walk("/usr/lib/libc.so", {false, false}), "/opt/usr/lib/libc.so@1");
  // A trailing slash follows the last symlink even with O_NOFOLLOW.
  EXPECT_EQ(Walk("/usr/", {false, false}), "/opt/usr@1");
}

TEST_F(GuestFsTest, SymlinkLoopsAreEloop) {
  EXPECT_EQ(Walk("/loop/a"), "errno " + std::to_string(ELOOP));
  EXPECT_EQ(Walk("/loop/a", {false, false}), "/loop/a@1");
  EXPECT_EQ(Walk("/loop/a/x"), "errno " + std::to_string(ELOOP));
}

TEST_F(GuestFsTest, FortySymlinksResolveFortyOneDoNot) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("f", 0644, "x"), IsOk());
  for (int i = 1; i <= 41; ++i) {
    ASSERT_THAT(b.AddSymlink("l" + std::to_string(i), i == 1 ? "f" : "l" + std::to_string(i - 1)),
                IsOk());
  }
  ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
  ASSERT_OK_AND_ASSIGN(auto fs, GuestFs::Create({{"/", tree}}));
  Location out;
  EXPECT_EQ(fs->Resolve(fs->Root(), "/l40", {}, &out), 0);
  EXPECT_EQ(out.path, "/f");
  EXPECT_EQ(fs->Resolve(fs->Root(), "/l41", {}, &out), ELOOP);
}

TEST_F(GuestFsTest, NotADirectoryAndTrailingSlashes) {
  EXPECT_EQ(Walk("/etc/passwd/"), "errno " + std::to_string(ENOTDIR));
  EXPECT_EQ(Walk("/etc/passwd/x"), "errno " + std::to_string(ENOTDIR));
  EXPECT_EQ(Walk("/etc/passwd/."), "errno " + std::to_string(ENOTDIR));
  EXPECT_EQ(Walk("/etc/passwd/.."), "errno " + std::to_string(ENOTDIR));
  EXPECT_EQ(Walk("/etc/passwd", {true, true}), "errno " + std::to_string(ENOTDIR));
  EXPECT_EQ(Walk("/etc/", {true, true}), "/etc@1");
  EXPECT_EQ(Walk("/etc/nothing"), "errno " + std::to_string(ENOENT));
  EXPECT_EQ(Walk("/nothing/x"), "errno " + std::to_string(ENOENT));
}

TEST_F(GuestFsTest, NameTooLong) {
  EXPECT_EQ(Walk("/" + std::string(256, 'a')), "errno " + std::to_string(ENAMETOOLONG));
  EXPECT_EQ(Walk("/" + std::string(255, 'a')), "errno " + std::to_string(ENOENT));
  std::string deep;
  while (deep.size() < 4096) deep += "/.";
  EXPECT_EQ(Walk(deep), "errno " + std::to_string(ENAMETOOLONG));
  EXPECT_EQ(Walk(deep.substr(0, 4094) + "/"), "/@1");
}

TEST_F(GuestFsTest, MountsCoverTheTreeBelowAndClimbOut) {
  EXPECT_EQ(Walk("/data/table.csv"), "/data/table.csv@2");
  EXPECT_EQ(Walk("/data/hidden"), "errno " + std::to_string(ENOENT));
  EXPECT_EQ(Walk("/data/../etc/passwd"), "/etc/passwd@1");
  // /mnt/x is in no tree: the skeleton leads to the mount.
  EXPECT_EQ(Walk("/mnt/x/y/table.csv"), "/mnt/x/y/table.csv@3");
  EXPECT_EQ(Walk("/mnt/x/y/../../x/y/.."), "/mnt/x@0");
  EXPECT_EQ(Walk("/tmp"), "/tmp@0");
}

TEST_F(GuestFsTest, StatHoldsTreeValuesAndPerMountDevices) {
  Location passwd, table;
  ASSERT_EQ(fs_->Resolve(fs_->Root(), "/etc/passwd", {}, &passwd), 0);
  ASSERT_EQ(fs_->Resolve(fs_->Root(), "/data/table.csv", {}, &table), 0);
  NodeInfo p = fs_->Info(passwd), t = fs_->Info(table);
  EXPECT_EQ(p.type, NodeType::kRegular);
  EXPECT_EQ(p.mode, 0644u);
  EXPECT_EQ(p.size, 29u);
  EXPECT_EQ(p.mtime_sec, 7);
  EXPECT_EQ(p.mtime_nsec, 8);
  EXPECT_EQ(p.ino, uint64_t{passwd.node} + 1);
  EXPECT_NE(p.dev, t.dev);
  EXPECT_EQ(fs_->Info(fs_->Root()).nlink, 2u + 7u);  // bin data etc loop opt, mnt tmp
}

TEST_F(GuestFsTest, ListingMergesMountpointsAndDots) {
  Location root = fs_->Root();
  std::vector<std::string> names;
  for (const DirEntry& e : fs_->List(root)) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre(".", "..", "bin", "data", "etc", "loop", "mnt", "opt", "proc",
                                 "tmp", "usr"));
  Location mnt;
  ASSERT_EQ(fs_->Resolve(root, "/mnt/x", {}, &mnt), 0);
  names.clear();
  for (const DirEntry& e : fs_->List(mnt)) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre(".", "..", "y"));
}

TEST(GuestFsCreateTest, MountpointMustBeADirectoryBelow) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("data", 0644, "file"), IsOk());
  ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
  EXPECT_THAT(GuestFs::Create({{"/", tree}, {"/data", tree}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mounts[1].mountpoint")));
  EXPECT_THAT(GuestFs::Create({{"/", nullptr}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mounts[0]")));
}

TEST(GuestFsCreateTest, WithoutARootTreeTheSkeletonIsTheRoot) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("x", 0644, "x"), IsOk());
  ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
  ASSERT_OK_AND_ASSIGN(auto fs, GuestFs::Create({{"/opt", tree}}));
  Location out;
  EXPECT_EQ(fs->Resolve(fs->Root(), "/opt/x", {}, &out), 0);
  EXPECT_EQ(fs->Resolve(fs->Root(), "/etc/passwd", {}, &out), ENOENT);
}

}  // namespace
}  // namespace zerocell::sandbox::fs
