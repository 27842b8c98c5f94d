// Real runs with a writable scratch at /tmp: a C program makes, writes, reads, lists, renames
// and removes files there, hits both quotas, finds the trees still read-only, and the run's
// ScratchResult tells what was left and the peaks.
#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/fs/file_tree.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox::testing {
namespace {

using ::zerocell::testing::IsOk;

RunOptions Tree() {
  fs::FileTreeBuilder b;
  EXPECT_THAT(b.AddFile("etc/passwd", 0644, "guest:x:1000:1000:tree\n"), IsOk());
  auto tree = std::move(b).Build();
  EXPECT_THAT(tree.status(), IsOk());
  RunOptions o;
  o.trees = {*tree};
  return o;
}

std::string E(int err) { return "E" + std::to_string(err); }

TEST(EngineScratchTest, AProgramUsesTmpWithinItsQuotas) {
  ManifestBuilder m = StdManifest({"scratch_probe"});
  m.add_mount({"/", "root-tree"}).set_scratch({"/tmp", 65536, 8});
  ZC_ASSERT_RUN(r, RunGuestWith("scratch_probe", m, Tree()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const std::map<std::string, std::string> kv = KeyValues(StdoutOf(r));
  EXPECT_EQ(kv.at("write"), "13");
  EXPECT_EQ(kv.at("readback"), "hello scratch");
  EXPECT_EQ(kv.at("size"), "13 mode=100644 nlink=1");
  EXPECT_EQ(kv.at("excl_again"), E(EEXIST));
  EXPECT_EQ(kv.at("mkdir"), "0");
  EXPECT_EQ(kv.at("rename"), "0");
  EXPECT_EQ(kv.at("stat_old"), E(ENOENT));
  EXPECT_EQ(kv.at("stdio_line2"), "line two");
  EXPECT_EQ(kv.at("list"), ".,..,g,s.txt,");
  EXPECT_EQ(kv.at("rmdir_full"), E(ENOTEMPTY));
  EXPECT_EQ(kv.at("cwd"), "/tmp/d");
  EXPECT_EQ(kv.at("relative"), "hello");
  EXPECT_EQ(kv.at("mmap_private"), "Hello scratch");
  EXPECT_EQ(kv.at("mmap_shared"), "ENODEV");
  EXPECT_EQ(kv.at("after_map"), "hello");
  EXPECT_EQ(kv.at("rename_out"), E(EXDEV));
  EXPECT_EQ(kv.at("creat_etc"), E(EROFS));
  EXPECT_EQ(kv.at("mkdir_etc"), E(EROFS));
  EXPECT_EQ(kv.at("quota_write1"), std::to_string(65536 - 13 - 18));  // cut short
  EXPECT_EQ(kv.at("quota_write2"), E(EDQUOT));
  EXPECT_EQ(kv.at("unlink_open"), "0");
  EXPECT_EQ(kv.at("stat_unlinked"), E(ENOENT));
  EXPECT_EQ(kv.at("created"), "5 errno=" + std::to_string(EDQUOT));
  EXPECT_EQ(kv.at("mkdir_over"), E(EDQUOT));
  ASSERT_TRUE(r.scratch.has_value());
  EXPECT_EQ(r.scratch->path, "/tmp");
  EXPECT_EQ(r.scratch->bytes, 13 + 18);  // /tmp/q's bytes went with its close
  EXPECT_EQ(r.scratch->peak_bytes, 65536);
  EXPECT_EQ(r.scratch->files, 8);
  EXPECT_EQ(r.scratch->peak_files, 8);
  EXPECT_TRUE(r.scratch->bytes_quota_exceeded);
  EXPECT_TRUE(r.scratch->files_quota_exceeded);
}

// With a tree and no scratch declared, /tmp is one (empty at the start), and is reported.
TEST(EngineScratchTest, TheDefaultScratchIsReported) {
  ManifestBuilder m = StdManifest({"fs_probe", "list", "/tmp"});
  m.add_mount({"/", "root-tree"});
  ZC_ASSERT_RUN(r, RunGuestWith("fs_probe", m, Tree()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "count=0 first= last=\n");
  ASSERT_TRUE(r.scratch.has_value());
  EXPECT_EQ(r.scratch->path, "/tmp");
  EXPECT_EQ(r.scratch->bytes, 0);
  EXPECT_FALSE(r.scratch->bytes_quota_exceeded);
}

}  // namespace
}  // namespace zerocell::sandbox::testing
