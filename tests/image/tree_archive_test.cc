// ReadTreeArchive: tar formats, long names, sparse files, entry types, escapes, duplicates, caps.
#include "image/tree_archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/image/tar_builder.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::image {
namespace {

using sandbox::fs::FileTree;
using sandbox::fs::NodeType;
using sandbox::fs::TreeLimits;
using ::testing::HasSubstr;
using testing::TarBuilder;
using zerocell::testing::StatusIs;

std::string ContentOf(const FileTree& tree, std::string_view path) {
  std::optional<FileTree::NodeId> id = tree.Find(path);
  if (!id) return "<missing>";
  std::string out(tree.node(*id).size, '\0');
  EXPECT_EQ(::pread(tree.ContentFd(*id), out.data(), out.size(), 0),
            static_cast<ssize_t>(out.size()));
  return out;
}

class FormatTest : public ::testing::TestWithParam<TarBuilder::Format> {};

TEST_P(FormatTest, ReadsEveryEntryType) {
  TarBuilder tar(GetParam());
  tar.Dir("etc", 0700, 1600000000)
      .File("etc/motd", "hello\n", 0640, 1600000001)
      .File("./usr/bin/tool", "#!/bin/sh\n", 0755)
      .Symlink("usr/bin/alias", "tool")
      .Symlink("bin", "/usr/bin")
      .HardLink("usr/bin/tool2", "usr/bin/tool");
  ASSERT_OK_AND_ASSIGN(auto tree, ReadTreeArchive(tar.bytes(), TreeLimits{}));
  const FileTree::Node& etc = tree->node(*tree->Find("etc"));
  EXPECT_EQ(etc.type, NodeType::kDirectory);
  EXPECT_EQ(etc.mode, 0700u);
  EXPECT_EQ(etc.mtime_sec, 1600000000);
  const FileTree::Node& motd = tree->node(*tree->Find("etc/motd"));
  EXPECT_EQ(motd.type, NodeType::kRegular);
  EXPECT_EQ(motd.mode, 0640u);
  EXPECT_EQ(motd.mtime_sec, 1600000001);
  EXPECT_EQ(ContentOf(*tree, "etc/motd"), "hello\n");
  EXPECT_EQ(tree->node(*tree->Find("usr/bin/alias")).symlink_target, "tool");
  EXPECT_EQ(tree->node(*tree->Find("bin")).type, NodeType::kSymlink);
  EXPECT_EQ(tree->node(*tree->Find("bin")).symlink_target, "/usr/bin");
  const FileTree::Node& tool2 = tree->node(*tree->Find("usr/bin/tool2"));
  EXPECT_EQ(tool2.content, tree->node(*tree->Find("usr/bin/tool")).content);
  EXPECT_EQ(ContentOf(*tree, "usr/bin/tool2"), "#!/bin/sh\n");
  EXPECT_EQ(tree->total_bytes(), 6u + 10u);  // a hard link's bytes count once
}

std::string FormatName(const ::testing::TestParamInfo<TarBuilder::Format>& info) {
  switch (info.param) {
    case TarBuilder::Format::kUstar:
      return "ustar";
    case TarBuilder::Format::kPax:
      return "pax";
    case TarBuilder::Format::kGnu:
      return "gnu";
  }
  return "unknown";
}

INSTANTIATE_TEST_SUITE_P(Tar, FormatTest,
                         ::testing::Values(TarBuilder::Format::kUstar, TarBuilder::Format::kPax,
                                           TarBuilder::Format::kGnu),
                         FormatName);

class LongNameTest : public ::testing::TestWithParam<TarBuilder::Format> {};

TEST_P(LongNameTest, ReadsPathsAndTargetsLongerThanUstarFields) {
  const std::string dir(200, 'd');
  const std::string path = dir + "/" + std::string(250, 'f');
  const std::string target = std::string(250, 'f');
  TarBuilder tar(GetParam());
  tar.File(path, "long").Symlink(dir + "/" + std::string(120, 'l'), target);
  ASSERT_OK_AND_ASSIGN(auto tree, ReadTreeArchive(tar.bytes(), TreeLimits{}));
  EXPECT_EQ(ContentOf(*tree, path), "long");
  EXPECT_EQ(tree->node(*tree->Find(dir + "/" + std::string(120, 'l'))).symlink_target, target);
}

// pax (path, linkpath records) and GNU (././@LongLink) both carry long names.
INSTANTIATE_TEST_SUITE_P(Tar, LongNameTest,
                         ::testing::Values(TarBuilder::Format::kPax, TarBuilder::Format::kGnu),
                         FormatName);

// GNU tar writes sparse files in both its own and the pax format (GNU.sparse.*): holes read as
// zeros and the file keeps its logical size.
TEST(TreeArchiveTest, ReadsSparseFiles) {
  testing::TempDir dir;
  const std::string file = dir.File("sparse");
  {
    int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
    ASSERT_EQ(::pwrite(fd, "tail", 4, 3 << 20), 4);
    ::close(fd);
  }
  for (const char* format : {"gnu", "posix"}) {
    const std::string tar = dir.File(std::string("sparse-") + format + ".tar");
    const std::string command = "tar --sparse --format=" + std::string(format) + " -C " +
                                dir.path() + " -cf " + tar + " sparse";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    ASSERT_OK_AND_ASSIGN(std::string bytes, testing::ReadFile(tar));
    EXPECT_LT(bytes.size(), 64u * 1024) << format << ": not written sparse";
    ASSERT_OK_AND_ASSIGN(auto tree, ReadTreeArchive(bytes, TreeLimits{}));
    const std::string content = ContentOf(*tree, "sparse");
    ASSERT_EQ(content.size(), (3u << 20) + 4) << format;
    EXPECT_EQ(content.substr(0, 4), "head");
    EXPECT_EQ(content.substr(3 << 20), "tail");
    EXPECT_EQ(content.find_first_not_of('\0', 4), size_t{3} << 20);
  }
}

TEST(TreeArchiveTest, RefusesPathsThatLeaveTheTree) {
  for (const char* path : {"../etc/passwd", "a/../../x", "a/./b", "a//b/../c"}) {
    TarBuilder tar;
    tar.File("ok", "x").File(path, "x");
    EXPECT_THAT(ReadTreeArchive(tar.bytes(), TreeLimits{}).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(std::string("tree entry 1 \"") + path + "\"")))
        << path;
  }
}

TEST(TreeArchiveTest, RefusesSymlinkTargetsThatLeaveTheTree) {
  for (const auto& [link, target] :
       std::vector<std::pair<std::string, std::string>>{{"l", ".."},
                                                        {"a/l", "../../etc"},
                                                        {"a/b/l", "../x/../../../y"},
                                                        {"l", "/../etc"},
                                                        {"a/l", "/usr/../../etc"}}) {
    TarBuilder tar;
    tar.Symlink(link, target);
    EXPECT_THAT(ReadTreeArchive(tar.bytes(), TreeLimits{}).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("tree entry 0 \"" + link + "\""),
                                          HasSubstr("leaves the tree"))))
        << link << " -> " << target;
  }
  for (const auto& [link, target] :
       std::vector<std::pair<std::string, std::string>>{{"a/l", "../b"},
                                                        {"a/b/l", "../../c"},
                                                        {"l", "/usr/lib"},
                                                        {"l", "/usr/../etc"},
                                                        {"l", "./x/."},
                                                        {"a/l", "../a/../a/x"}}) {
    TarBuilder tar;
    tar.Symlink(link, target);
    EXPECT_TRUE(ReadTreeArchive(tar.bytes(), TreeLimits{}).ok()) << link << " -> " << target;
  }
}

TEST(TreeArchiveTest, RefusesDevicesFifosAndSockets) {
  // (tar has no socket type: no archive can hold one.)
  for (unsigned type : {AE_IFIFO, AE_IFCHR, AE_IFBLK}) {
    TarBuilder tar(TarBuilder::Format::kPax);
    tar.Dir("dev").Special("dev/thing", type);
    auto tree = ReadTreeArchive(tar.bytes(), TreeLimits{});
    EXPECT_THAT(tree.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                        ::testing::AllOf(HasSubstr("tree entry 1 \"dev/thing\""),
                                                         HasSubstr("a tree holds only"))))
        << type;
  }
}

TEST(TreeArchiveTest, RefusesDuplicatePaths) {
  TarBuilder tar;
  tar.File("a/f", "1").File("./a/f", "2");
  EXPECT_THAT(ReadTreeArchive(tar.bytes(), TreeLimits{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("tree entry 1"), HasSubstr("appears twice"))));
}

TEST(TreeArchiveTest, RefusesHardLinksToMissingOrNonRegularFiles) {
  TarBuilder tar;
  tar.Dir("d").HardLink("x", "d").HardLink("y", "missing");
  EXPECT_THAT(ReadTreeArchive(tar.bytes(), TreeLimits{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tree entry 1 \"x\"")));
}

TEST(TreeArchiveTest, EnforcesEntryAndByteCaps) {
  TarBuilder tar;
  tar.File("a", "1234").File("b", "5678").File("c/d", "9");
  const std::string bytes = tar.bytes();
  ASSERT_TRUE(ReadTreeArchive(bytes, TreeLimits{.max_nodes = 5, .max_total_bytes = 9}).ok());
  EXPECT_THAT(ReadTreeArchive(bytes, TreeLimits{.max_nodes = 4, .max_total_bytes = 9}).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("tree entry 2 \"c/d\"")));
  EXPECT_THAT(ReadTreeArchive(bytes, TreeLimits{.max_nodes = 5, .max_total_bytes = 8}).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("tree entry 2 \"c/d\"")));
}

TEST(TreeArchiveTest, RefusesWhatIsNotATar) {
  EXPECT_THAT(ReadTreeArchive("", TreeLimits{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadTreeArchive(std::string(4096, 'x'), TreeLimits{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tree archive")));
  TarBuilder tar;
  tar.File("a", std::string(3000, 'a'));
  std::string cut = tar.bytes();
  cut.resize(1024);  // header plus part of the body
  EXPECT_THAT(ReadTreeArchive(cut, TreeLimits{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"a\"")));
}

}  // namespace
}  // namespace zerocell::image
