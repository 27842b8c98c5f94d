// ScratchDir: names, bytes, quotas, holds; and GuestFs walking into and out of it.
#include "sandbox/fs/scratch_dir.h"

#include <cerrno>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/fs/guest_fs.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::fs {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using zerocell::testing::IsOk;
using Id = ScratchDir::Id;

std::string ReadAll(const ScratchDir& s, Id id) {
  std::string out;
  s.Read(id, 0, 1 << 20, &out);
  return out;
}

TEST(ScratchDirTest, CreateWriteReadAndHoles) {
  ScratchDir s("/tmp", 1000, 10);
  Id f;
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "f", NodeType::kRegular, 0666, "", &f), 0);
  EXPECT_EQ(s.mode(f), 0644u);  // umask 022
  EXPECT_EQ(s.nlink(f), 1u);
  EXPECT_EQ(s.Write(f, 0, "hello"), 5);
  EXPECT_EQ(s.Write(f, 10, "x"), 1);  // a hole of 5 zeros
  EXPECT_EQ(ReadAll(s, f), std::string("hello\0\0\0\0\0x", 11));
  EXPECT_EQ(s.size(f), 11u);
  EXPECT_EQ(s.usage().bytes, 11u);
  std::string part;
  EXPECT_EQ(s.Read(f, 9, 100, &part), 2u);
  EXPECT_EQ(part, std::string("\0x", 2));
  EXPECT_EQ(s.Read(f, 11, 100, &part), 0u);
  EXPECT_EQ(s.PathOf(f), "/tmp/f");
  EXPECT_EQ(s.Create(ScratchDir::kRoot, "f", NodeType::kRegular, 0666, "", &f), EEXIST);
  EXPECT_EQ(s.Create(ScratchDir::kRoot, std::string(256, 'n'), NodeType::kRegular, 0, "", &f),
            ENAMETOOLONG);
}

TEST(ScratchDirTest, ByteQuotaCutsShortThenRefuses) {
  ScratchDir s("/tmp", 10, 10);
  Id a, b;
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "a", NodeType::kRegular, 0644, "", &a), 0);
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "b", NodeType::kRegular, 0644, "", &b), 0);
  EXPECT_EQ(s.Write(a, 0, "123456"), 6);
  EXPECT_FALSE(s.usage().bytes_quota_exceeded);
  EXPECT_EQ(s.Write(b, 0, "abcdef"), 4);  // what fits
  EXPECT_TRUE(s.usage().bytes_quota_exceeded);
  EXPECT_EQ(s.Write(b, 4, "z"), -EDQUOT);
  EXPECT_EQ(s.Write(a, 0, "OVER"), 4);       // rewriting held bytes needs no room
  EXPECT_EQ(s.Write(a, 100, "z"), -EDQUOT);  // a hole counts
  EXPECT_EQ(s.Truncate(a, 7), EDQUOT);
  EXPECT_EQ(s.Truncate(a, 2), 0);
  EXPECT_EQ(s.usage().bytes, 6u);
  EXPECT_EQ(s.usage().peak_bytes, 10u);
  EXPECT_EQ(s.Truncate(a, 6), 0);  // growth within the quota: zeros
  EXPECT_EQ(ReadAll(s, a), std::string("OV\0\0\0\0", 6));
  EXPECT_EQ(s.Write(a, uint64_t{1} << 63, "z"), -EFBIG);
}

TEST(ScratchDirTest, FileQuotaCountsDirectoriesAndSymlinks) {
  ScratchDir s("/tmp", 100, 3);
  Id d, l, f;
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "d", NodeType::kDirectory, 0777, "", &d), 0);
  ASSERT_EQ(s.Create(d, "l", NodeType::kSymlink, 0, "../x", &l), 0);
  ASSERT_EQ(s.Create(d, "f", NodeType::kRegular, 0600, "", &f), 0);
  EXPECT_FALSE(s.usage().files_quota_exceeded);
  EXPECT_EQ(s.Create(ScratchDir::kRoot, "g", NodeType::kRegular, 0600, "", &f), EDQUOT);
  EXPECT_TRUE(s.usage().files_quota_exceeded);
  EXPECT_EQ(s.symlink_target(l), "../x");
  EXPECT_EQ(s.mode(l), 0777u);
  EXPECT_EQ(s.nlink(d), 2u);
  EXPECT_EQ(s.nlink(ScratchDir::kRoot), 3u);
  EXPECT_EQ(s.Remove(d, "l", false), 0);
  EXPECT_EQ(s.usage().files, 2u);
  EXPECT_EQ(s.usage().peak_files, 3u);
  EXPECT_EQ(s.Create(ScratchDir::kRoot, "g", NodeType::kRegular, 0600, "", &f), 0);
}

TEST(ScratchDirTest, RemoveErrnos) {
  ScratchDir s("/tmp", 100, 10);
  Id d, f;
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "d", NodeType::kDirectory, 0755, "", &d), 0);
  ASSERT_EQ(s.Create(d, "f", NodeType::kRegular, 0644, "", &f), 0);
  EXPECT_EQ(s.Remove(ScratchDir::kRoot, "d", false), EISDIR);
  EXPECT_EQ(s.Remove(ScratchDir::kRoot, "d", true), ENOTEMPTY);
  EXPECT_EQ(s.Remove(d, "f", true), ENOTDIR);
  EXPECT_EQ(s.Remove(d, "nope", false), ENOENT);
  EXPECT_EQ(s.Remove(d, ".", true), EINVAL);
  EXPECT_EQ(s.Remove(d, "f", false), 0);
  EXPECT_EQ(s.Remove(ScratchDir::kRoot, "d", true), 0);
  EXPECT_FALSE(s.Exists(d));
  EXPECT_EQ(s.Create(d, "x", NodeType::kRegular, 0644, "", &f), ENOENT);  // a removed directory
  EXPECT_EQ(s.usage().files, 0u);
}

TEST(ScratchDirTest, UnlinkedButHeldKeepsItsBytesUntilReleased) {
  ScratchDir s("/tmp", 100, 10);
  Id f;
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "f", NodeType::kRegular, 0644, "", &f), 0);
  ASSERT_EQ(s.Write(f, 0, "data"), 4);
  std::shared_ptr<const void> hold = s.Hold(f);
  ASSERT_EQ(s.Remove(ScratchDir::kRoot, "f", false), 0);
  EXPECT_FALSE(s.Lookup(ScratchDir::kRoot, "f").has_value());
  EXPECT_EQ(ReadAll(s, f), "data");
  EXPECT_EQ(s.nlink(f), 0u);
  EXPECT_EQ(s.PathOf(f), "/tmp/f (deleted)");
  EXPECT_EQ(s.usage().bytes, 4u);
  EXPECT_EQ(s.usage().files, 1u);
  hold.reset();
  EXPECT_FALSE(s.Exists(f));
  EXPECT_EQ(s.usage().bytes, 0u);
  EXPECT_EQ(s.usage().files, 0u);
  // A hold outliving the scratch does nothing when dropped.
  auto gone = std::make_unique<ScratchDir>("/tmp", 100, 10);
  ASSERT_EQ(gone->Create(ScratchDir::kRoot, "g", NodeType::kRegular, 0644, "", &f), 0);
  hold = gone->Hold(f);
  gone.reset();
  hold.reset();
}

TEST(ScratchDirTest, RenameAsTheKernel) {
  ScratchDir s("/tmp", 100, 10);
  Id a, b, d, e, f;
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "a", NodeType::kRegular, 0644, "", &a), 0);
  ASSERT_EQ(s.Write(a, 0, "AA"), 2);
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "b", NodeType::kRegular, 0644, "", &b), 0);
  ASSERT_EQ(s.Write(b, 0, "BBB"), 3);
  ASSERT_EQ(s.Create(ScratchDir::kRoot, "d", NodeType::kDirectory, 0755, "", &d), 0);
  ASSERT_EQ(s.Create(d, "e", NodeType::kDirectory, 0755, "", &e), 0);
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "a", ScratchDir::kRoot, "b", true), EEXIST);
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "a", ScratchDir::kRoot, "b", false), 0);  // replaces
  EXPECT_EQ(s.usage().bytes, 2u);  // b's bytes went with it
  EXPECT_EQ(s.Lookup(ScratchDir::kRoot, "b"), a);
  EXPECT_FALSE(s.Lookup(ScratchDir::kRoot, "a").has_value());
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "d", e, "x", false), EINVAL);  // into itself
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "b", ScratchDir::kRoot, "d", false), EISDIR);
  EXPECT_EQ(s.Rename(d, "e", ScratchDir::kRoot, "b", false), ENOTDIR);
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "nope", ScratchDir::kRoot, "x", false), ENOENT);
  ASSERT_EQ(s.Create(e, "f", NodeType::kRegular, 0644, "", &f), 0);
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "b", d, "b", false), 0);
  EXPECT_EQ(s.PathOf(a), "/tmp/d/b");
  EXPECT_EQ(s.Rename(ScratchDir::kRoot, "d", ScratchDir::kRoot, "dd", false), 0);
  EXPECT_EQ(s.PathOf(f), "/tmp/dd/e/f");  // paths follow renames of their directories
  EXPECT_THAT(s.Children(d), ElementsAre(Pair("b", a), Pair("e", e)));
}

// The scratch as the guest reaches it: over the tree's /tmp, ".." back out, symlinks both ways.
TEST(ScratchDirTest, GuestFsWalksIntoAndOutOfTheScratch) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("etc/passwd", 0644, "p"), IsOk());
  ASSERT_THAT(b.AddFile("tmp/from_tree", 0644, "hidden"), IsOk());
  ASSERT_THAT(b.AddSymlink("etc/scratchlink", "/tmp/d"), IsOk());
  ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
  auto scratch = std::make_shared<ScratchDir>("/tmp", 100, 10);
  ASSERT_OK_AND_ASSIGN(auto fs, GuestFs::Create({{"/", tree}}, {}, scratch));
  Id d, l;
  ASSERT_EQ(scratch->Create(ScratchDir::kRoot, "d", NodeType::kDirectory, 0755, "", &d), 0);
  ASSERT_EQ(scratch->Create(d, "up", NodeType::kSymlink, 0, "../../etc/passwd", &l), 0);
  Location at;
  EXPECT_EQ(fs->Resolve(fs->Root(), "/tmp/from_tree", {}, &at), ENOENT);  // covered
  ASSERT_EQ(fs->Resolve(fs->Root(), "/etc/scratchlink", {}, &at), 0);
  EXPECT_TRUE(GuestFs::IsScratch(at));
  EXPECT_EQ(at.node, d);
  EXPECT_EQ(fs->PathOf(at), "/tmp/d");
  ASSERT_EQ(fs->Resolve(at, "up", {}, &at), 0);
  EXPECT_FALSE(GuestFs::IsScratch(at));
  EXPECT_EQ(at.path, "/etc/passwd");
  ASSERT_EQ(fs->Resolve(fs->Root(), "/tmp/d/../..", {}, &at), 0);
  EXPECT_EQ(at.path, "/");
  ASSERT_EQ(fs->Resolve(fs->Root(), "/tmp/d", {}, &at), 0);
  const NodeInfo info = fs->Info(at);
  EXPECT_EQ(info.type, NodeType::kDirectory);
  EXPECT_EQ(info.mode, 0755u);
  EXPECT_EQ(info.ino, uint64_t{d} + 1);
  EXPECT_EQ(info.mtime_sec, 0);
  EXPECT_EQ(fs->Info(fs->Root()).dev + 1, info.dev);  // a device after the last mount
  std::vector<std::string> names;
  for (const DirEntry& e : fs->List(at)) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre(".", "..", "up"));
  EXPECT_EQ(fs->ContentFd(at), -1);
  EXPECT_FALSE(fs->MayExecute(at, 0, 4096));
  EXPECT_EQ(fs->Resolve(at, "up/", {}, &at), ENOTDIR);
  ASSERT_EQ(scratch->Remove(d, "up", false), 0);
  ASSERT_EQ(scratch->Remove(ScratchDir::kRoot, "d", true), 0);
  ASSERT_EQ(fs->Resolve(fs->Root(), "/tmp", {}, &at), 0);
  Location removed{GuestFs::kScratchMount, d, "/tmp/d"};
  EXPECT_EQ(fs->Resolve(removed, "x", {}, &at), ENOENT);
  EXPECT_TRUE(fs->List(removed).empty());
}

}  // namespace
}  // namespace zerocell::sandbox::fs
