// FileTree and its builder: path rules, implicit parents, duplicates, limits, sealed contents.
#include "sandbox/fs/file_tree.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::fs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using zerocell::testing::IsOk;
using zerocell::testing::StatusIs;

std::string ReadContent(const FileTree& tree, FileTree::NodeId id) {
  std::string out(tree.node(id).size, '\0');
  EXPECT_EQ(::pread(tree.ContentFd(id), out.data(), out.size(), 0),
            static_cast<ssize_t>(out.size()));
  return out;
}

TEST(FileTreeTest, BuildsDirectoriesFilesAndSymlinksWithImplicitParents) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("./usr/bin/tool", 0755, "binary", 100, 5), IsOk());
  ASSERT_THAT(b.AddSymlink("usr/bin/alias", "tool"), IsOk());
  ASSERT_THAT(b.AddDirectory("usr/", 0700, 42), IsOk());  // after its child: takes its values
  ASSERT_THAT(b.AddFile("/etc/empty", 0644, ""), IsOk());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const FileTree> tree, std::move(b).Build());

  auto usr = tree->Find("usr");
  ASSERT_TRUE(usr.has_value());
  EXPECT_EQ(tree->node(*usr).mode, 0700u);
  EXPECT_EQ(tree->node(*usr).mtime_sec, 42);
  auto bin = tree->Find("usr/bin");
  ASSERT_TRUE(bin.has_value());
  EXPECT_EQ(tree->node(*bin).mode, 0755u);  // implicit
  EXPECT_THAT(tree->node(*bin).children,
              ElementsAre(Pair("alias", ::testing::_), Pair("tool", ::testing::_)));
  auto tool = tree->Find("usr/bin/tool");
  ASSERT_TRUE(tool.has_value());
  EXPECT_EQ(tree->node(*tool).type, NodeType::kRegular);
  EXPECT_EQ(tree->node(*tool).mtime_nsec, 5);
  EXPECT_EQ(ReadContent(*tree, *tool), "binary");
  EXPECT_EQ(tree->PathOf(*tool), "usr/bin/tool");
  auto alias = tree->Find("usr/bin/alias");
  ASSERT_TRUE(alias.has_value());
  EXPECT_EQ(tree->node(*alias).symlink_target, "tool");
  EXPECT_EQ(tree->node(*alias).size, 4u);
  EXPECT_EQ(tree->total_bytes(), 6u);
  EXPECT_FALSE(tree->Find("usr/bin/missing").has_value());
  EXPECT_FALSE(tree->Child(*tool, "x").has_value());  // not a directory
  EXPECT_EQ(tree->Find(""), FileTree::kRoot);
  EXPECT_EQ(tree->node(FileTree::kRoot).parent, FileTree::kRoot);
}

TEST(FileTreeTest, ContentsAreSealed) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("f", 0644, "abc"), IsOk());
  ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
  int fd = tree->ContentFd(*tree->Find("f"));
  int seals = ::fcntl(fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
            F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_LT(::pwrite(fd, "x", 1, 0), 0);
  EXPECT_EQ(tree->ContentFd(FileTree::kRoot), -1);
}

TEST(FileTreeTest, RefusesEscapingAndMalformedPaths) {
  for (const char* bad : {"a/../b", "..", "a/./b", "a//b", "a/../../etc"}) {
    FileTreeBuilder b;
    EXPECT_THAT(b.AddFile(bad, 0644, "x"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad)))
        << bad;
  }
  FileTreeBuilder b;
  EXPECT_THAT(b.AddFile(std::string(256, 'n'), 0644, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 255")));
  EXPECT_THAT(b.AddFile(std::string("a\0b", 3), 0644, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NUL")));
  EXPECT_THAT(b.AddSymlink("l", ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FileTreeTest, RefusesDuplicatesAndEntriesBelowFiles) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("a", 0644, "x"), IsOk());
  EXPECT_THAT(b.AddFile("a", 0644, "y"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("appears twice")));
  EXPECT_THAT(b.AddFile("a/b", 0644, "y"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a directory")));
  ASSERT_THAT(b.AddDirectory("d", 0755), IsOk());
  EXPECT_THAT(b.AddDirectory("d", 0755),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("appears twice")));
}

TEST(FileTreeTest, HardLinksShareContent) {
  FileTreeBuilder b;
  ASSERT_THAT(b.AddFile("a", 0644, "shared"), IsOk());
  ASSERT_THAT(b.AddHardLink("dir/b", "a"), IsOk());
  EXPECT_THAT(b.AddHardLink("c", "missing"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
  auto a = *tree->Find("a");
  auto link = *tree->Find("dir/b");
  EXPECT_EQ(tree->ContentFd(a), tree->ContentFd(link));
  EXPECT_EQ(ReadContent(*tree, link), "shared");
  EXPECT_EQ(tree->total_bytes(), 6u);
}

TEST(FileTreeTest, EnforcesLimits) {
  TreeLimits limits;
  limits.max_nodes = 3;  // the root and two more
  limits.max_total_bytes = 5;
  FileTreeBuilder b(limits);
  ASSERT_THAT(b.AddFile("a", 0644, "12345"), IsOk());
  EXPECT_THAT(b.AddFile("b", 0644, "6"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("exceed 5 bytes")));
  ASSERT_THAT(b.AddFile("c", 0644, ""), IsOk());
  EXPECT_THAT(b.AddFile("d", 0644, ""),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("more than 3 entries")));
}

TEST(FileTreeTest, StreamedFileMustMatchItsDeclaredSize) {
  FileTreeBuilder b;
  int calls = 0;
  auto three_bytes = [&](char* buf, size_t) -> absl::StatusOr<size_t> {
    if (calls++ > 0) return 0;
    buf[0] = 'a';
    buf[1] = 'b';
    buf[2] = 'c';
    return 3;
  };
  EXPECT_THAT(b.AddFileFrom("short", 0644, 4, three_bytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds 3 bytes")));
  calls = 0;
  EXPECT_THAT(b.AddFileFrom("long", 0644, 2, three_bytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than its declared")));
  EXPECT_FALSE(b.AddFileFrom("err", 0644, 1, [](char*, size_t) -> absl::StatusOr<size_t> {
                  return absl::DataLossError("truncated archive");
                }).ok());
}

}  // namespace
}  // namespace zerocell::sandbox::fs
