// scripts/make-tree.sh: the busybox and python3 trees build from the installed Debian packages
// and register (every ELF admitted); prints how long admitting the python3 tree took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/tree_image.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::image {
namespace {

std::string MakeTree(const testing::TempDir& dir, const std::string& name) {
  const char* source = std::getenv("ZEROCELL_SOURCE_DIR");
  const std::string out = dir.File(name + ".tar");
  const std::string command = std::string("bash ") + (source ? source : ".") +
                              "/scripts/make-tree.sh " + name + " " + out + " >/dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  absl::StatusOr<std::string> bytes = testing::ReadFile(out);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

TEST(MakeTreeTest, BusyboxTreeHasAShellAndAppletsAndRegisters) {
  testing::TempDir dir;
  const std::string tar = MakeTree(dir, "busybox");
  TreeValidation v = ValidateTree(tar, TreeOptions{});
  ASSERT_TRUE(v.status.ok()) << v.status;
  const sandbox::fs::FileTree& t = *v.tree->tree;
  ASSERT_TRUE(t.Find("usr/bin/sh").has_value());
  EXPECT_EQ(t.node(*t.Find("usr/bin/sh")).symlink_target, "/bin/busybox");
  EXPECT_EQ(t.node(*t.Find("bin")).symlink_target, "usr/bin");
  for (const char* applet : {"usr/bin/sort", "usr/bin/awk"}) {
    EXPECT_TRUE(t.Find(applet).has_value()) << applet;
  }
  ASSERT_EQ(v.tree->elves.size(), 1u);
  EXPECT_EQ(v.tree->elves[0].path, "usr/bin/busybox");
  EXPECT_TRUE(v.tree->elves[0].report.instructions_checked);
  EXPECT_EQ(MakeTree(dir, "busybox"), tar) << "not deterministic";
}

TEST(MakeTreeTest, Python3TreeHasTheInterpreterItsLibrariesAndLoader) {
  testing::TempDir dir;
  const std::string tar = MakeTree(dir, "python3");
  const auto start = std::chrono::steady_clock::now();
  TreeValidation v = ValidateTree(tar, TreeOptions{});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(v.status.ok()) << v.status;
  std::printf("python3 tree: %zu bytes, %llu files, %zu ELF files, admitted in %.3f s\n",
              tar.size(), static_cast<unsigned long long>(v.tree->file_count), v.tree->elves.size(),
              seconds);
  const sandbox::fs::FileTree& t = *v.tree->tree;
  for (const char* path :
       {"usr/bin/python3.11", "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/lib/python3.11/os.py",
        "usr/lib/python3.11/__pycache__/os.cpython-311.pyc"}) {
    ASSERT_TRUE(t.Find(path).has_value()) << path;
  }
  const TreeElf* python = v.tree->ElfAt(*t.Find("usr/bin/python3.11"));
  ASSERT_NE(python, nullptr);
  EXPECT_EQ(python->interpreter, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_TRUE(python->needs_libraries);
  for (const TreeElf& elf : v.tree->elves) {
    for (const ExecutableRange& r : elf.executable) EXPECT_FALSE(r.shares_pages) << elf.path;
  }
}

}  // namespace
}  // namespace zerocell::image
