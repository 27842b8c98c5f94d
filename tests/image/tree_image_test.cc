// Tree images: every ELF admitted (tree-member ELF checks, instruction policy), per-ELF loader
// facts, and tree images in the cache (ids, kinds, persistence).
#include "image/tree_image.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_cache.h"
#include "sandbox/elf/elf_image.h"
#include "tests/image/tar_builder.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::image {
namespace {

using ::testing::HasSubstr;
using testing::TarBuilder;
using zerocell::testing::StatusIs;

std::string Lib(const char* path) {
  absl::StatusOr<std::string> bytes = testing::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

TreeOptions Options(InstructionPolicy policy) {
  TreeOptions o;
  o.validator.policy = policy;
  return o;
}

CacheOptions PersistIn(const std::string& dir) {
  CacheOptions o;
  o.persist_dir = dir;
  return o;
}

TEST(TreeElfTest, ProgramChecksStillRefuseSharedObjectsAndTreeChecksAdmitThem) {
  const std::string lib = Lib(ZEROCELL_TREE_GOOD_LIB);
  EXPECT_FALSE(sandbox::elf::ParseElf(lib).ok());
  ASSERT_OK_AND_ASSIGN(auto layout,
                       sandbox::elf::ParseElf(lib, sandbox::elf::ElfRole::kTreeMember));
  EXPECT_TRUE(layout.pie);
}

TEST(TreeImageTest, AdmitsEveryElfAndRecordsWhatALoaderNeeds) {
  TarBuilder tar;
  tar.File("usr/lib/libgood.so", Lib(ZEROCELL_TREE_GOOD_LIB), 0644)
      .HardLink("usr/lib/libgood.so.1", "usr/lib/libgood.so")
      .File("bin/hello", testing::GuestBytes("hello"), 0755)
      .File("etc/not-elf",
            "\x7f"
            "ELX plain text")
      .File("tiny",
            "\x7f"
            "E");
  TreeValidation v = ValidateTree(tar.bytes(), Options(InstructionPolicy::kDeterministic));
  ASSERT_TRUE(v.status.ok()) << v.status;
  const TreeImage& t = *v.tree;
  EXPECT_EQ(t.file_count, 5u);
  ASSERT_EQ(t.elves.size(), 2u);  // one per distinct content, sorted by path
  EXPECT_EQ(t.elves[0].path, "bin/hello");
  EXPECT_FALSE(t.elves[0].shared_object);
  EXPECT_TRUE(t.elves[0].report.accepted);
  EXPECT_TRUE(t.elves[0].report.instructions_checked);
  EXPECT_GT(t.elves[0].report.instructions, 0);
  EXPECT_EQ(t.elves[1].path, "usr/lib/libgood.so");
  EXPECT_TRUE(t.elves[1].shared_object);
  EXPECT_TRUE(t.elves[1].interpreter.empty());
  ASSERT_FALSE(t.elves[1].executable.empty());
  for (const ExecutableRange& r : t.elves[1].executable) {
    EXPECT_EQ(r.page_offset % 4096, 0u);
    EXPECT_EQ(r.page_end % 4096, 0u);
    EXPECT_LE(r.page_offset, r.file_offset);
    EXPECT_GE(r.page_end, r.file_offset + r.file_size);
    // Debian's binutils link x86-64 with -z separate-code: code pages hold no other segment.
    EXPECT_FALSE(r.shares_pages);
  }
  // Found by any of its names; nothing for a file that is not an ELF.
  EXPECT_EQ(t.ElfAt(*t.tree->Find("usr/lib/libgood.so.1")), &t.elves[1]);
  EXPECT_EQ(t.ElfAt(*t.tree->Find("etc/not-elf")), nullptr);
  EXPECT_EQ(t.ElfAt(*t.tree->Find("usr")), nullptr);
}

TEST(TreeImageTest, AdmitsTheHostsDynamicLoaderAndLibc) {
  const char* kLibc = "/lib/x86_64-linux-gnu/libc.so.6";
  const char* kLdso = "/lib64/ld-linux-x86-64.so.2";
  if (::access(kLibc, R_OK) != 0 || ::access(kLdso, R_OK) != 0) {
    GTEST_SKIP() << "no Debian glibc on this host";
  }
  TarBuilder tar;
  tar.File("lib/x86_64-linux-gnu/libc.so.6", Lib(kLibc))
      .File("lib64/ld-linux-x86-64.so.2", Lib(kLdso));
  TreeValidation v = ValidateTree(tar.bytes(), Options(InstructionPolicy::kStandard));
  ASSERT_TRUE(v.status.ok()) << v.status;
  ASSERT_EQ(v.tree->elves.size(), 2u);
  for (const TreeElf& elf : v.tree->elves) {
    EXPECT_TRUE(elf.shared_object) << elf.path;
    EXPECT_TRUE(elf.report.instructions_checked) << elf.path;
    for (const ExecutableRange& r : elf.executable) EXPECT_FALSE(r.shares_pages) << elf.path;
  }
}

TEST(TreeImageTest, RefusesATreeWithARefusedInstructionNamingFileAndOffset) {
  const std::string rdrand = Lib(ZEROCELL_TREE_RDRAND_LIB);
  TarBuilder tar;
  tar.File("usr/lib/libgood.so", Lib(ZEROCELL_TREE_GOOD_LIB)).File("usr/lib/librand.so", rdrand);
  const std::string bytes = tar.bytes();
  // The standard policy lists rdrand as a warning.
  TreeValidation standard = ValidateTree(bytes, Options(InstructionPolicy::kStandard));
  ASSERT_TRUE(standard.status.ok()) << standard.status;
  EXPECT_THAT(standard.tree->elves[1].report.warnings, ::testing::Contains(HasSubstr("rdrand")));

  TreeValidation v = ValidateTree(bytes, Options(InstructionPolicy::kDeterministic));
  EXPECT_THAT(v.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 ::testing::AllOf(HasSubstr("tree file \"usr/lib/librand.so\""),
                                                  HasSubstr("instruction at file offset 0x"),
                                                  HasSubstr("rdrand"))));
  EXPECT_EQ(v.tree, nullptr);
  EXPECT_EQ(v.refused_path, "usr/lib/librand.so");
  ASSERT_TRUE(v.refused.has_value());
  ASSERT_EQ(v.refused->rejections.size(), 1u);
  const InstructionRejection& r = v.refused->rejections[0];
  EXPECT_THAT(r.instruction, HasSubstr("rdrand"));
  // The offset points at the instruction in the file: 0F C7 /6.
  ASSERT_LT(r.file_offset + 2, rdrand.size());
  EXPECT_EQ(static_cast<unsigned char>(rdrand[r.file_offset]), 0x0f);
  EXPECT_EQ(static_cast<unsigned char>(rdrand[r.file_offset + 1]), 0xc7);
}

TEST(TreeImageTest, RefusesAnInt80LibraryUnderTheStandardPolicy) {
  TarBuilder tar;
  tar.File("lib/libsys.so", Lib(ZEROCELL_TREE_INT80_LIB));
  TreeValidation v = ValidateTree(tar.bytes(), Options(InstructionPolicy::kStandard));
  EXPECT_THAT(v.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 ::testing::AllOf(HasSubstr("tree file \"lib/libsys.so\""),
                                                  HasSubstr("int 0x80"))));
}

TEST(TreeImageTest, RefusesAnElfThatFailsTheElfChecks) {
  std::string lib = Lib(ZEROCELL_TREE_GOOD_LIB);
  lib[4] = 1;  // ELFCLASS32
  TarBuilder tar;
  tar.File("lib/lib32.so", lib);
  TreeValidation v = ValidateTree(tar.bytes(), Options(InstructionPolicy::kStandard));
  EXPECT_THAT(v.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("tree file \"lib/lib32.so\": ELF class 32-bit")));
}

TEST(TreeImageCacheTest, RegistersCachesAndPersistsTrees) {
  testing::TempDir dir;
  TarBuilder tar;
  tar.File("usr/lib/libgood.so", Lib(ZEROCELL_TREE_GOOD_LIB)).File("etc/motd", "hi\n");
  const std::string bytes = tar.bytes();
  std::string id;
  {
    ASSERT_OK_AND_ASSIGN(auto cache, ImageCache::Create(PersistIn(dir.path())));
    ASSERT_OK_AND_ASSIGN(RegisterResult r, cache->RegisterTree(bytes, "base"));
    EXPECT_FALSE(r.already_registered);
    id = r.image->id;
    EXPECT_EQ(id, ImageIdOf(bytes));
    EXPECT_EQ(r.image->kind, ImageKind::kTree);
    EXPECT_EQ(r.image->image, nullptr);
    EXPECT_EQ(r.image->size_bytes(), bytes.size());
    EXPECT_EQ(r.image->tree->elves.size(), 1u);
    EXPECT_EQ(cache->bytes(), ImageCache::ChargeForTree(*r.image->tree));
    ASSERT_OK_AND_ASSIGN(RegisterResult again, cache->RegisterTree(bytes, "other"));
    EXPECT_TRUE(again.already_registered);
    // The same bytes as an ELF: the kind is named, nothing is validated again.
    EXPECT_THAT(cache->Register(bytes, "").status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("as a tree image")));
    ASSERT_OK_AND_ASSIGN(auto acquired, cache->Acquire(id));
    EXPECT_EQ(acquired->tree->tree->Find("etc/motd").has_value(), true);
    ASSERT_OK_AND_ASSIGN(std::string stored, testing::ReadFile(dir.File(id.substr(7) + ".tar")));
    EXPECT_EQ(stored, bytes);
  }
  ASSERT_OK_AND_ASSIGN(auto reloaded, ImageCache::Create(PersistIn(dir.path())));
  EXPECT_THAT(reloaded->preload_warnings(), ::testing::IsEmpty());
  ASSERT_OK_AND_ASSIGN(auto again, reloaded->Acquire(id));
  EXPECT_EQ(again->kind, ImageKind::kTree);
  EXPECT_EQ(again->tree->file_count, 2u);
  EXPECT_EQ(again->tree->elves[0].path, "usr/lib/libgood.so");
}

TEST(TreeImageCacheTest, RemembersARefusedTreeWithItsFile) {
  TarBuilder tar;
  tar.File("lib/libsys.so", Lib(ZEROCELL_TREE_INT80_LIB));
  const std::string bytes = tar.bytes();
  int validations = 0;
  CacheOptions options;
  options.observer.on_validated = [&](const Validation&) { ++validations; };
  ASSERT_OK_AND_ASSIGN(auto cache, ImageCache::Create(std::move(options)));
  for (int i = 0; i < 2; ++i) {
    ValidationReport report;
    std::string path;
    EXPECT_THAT(cache->RegisterTree(bytes, "", &report, &path).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lib/libsys.so")));
    EXPECT_EQ(path, "lib/libsys.so");
    EXPECT_FALSE(report.accepted);
    EXPECT_EQ(report.rejected_instructions, 1);
  }
  EXPECT_EQ(validations, 1);
  EXPECT_TRUE(cache->List().empty());
}

// Each distinct file of a tree holds a descriptor: the cache's descriptor budget evicts by it
// and refuses a tree that could never fit.
TEST(TreeImageCacheTest, DescriptorBudgetCountsEveryDistinctFile) {
  auto tree_of = [](int files, const std::string& tag) {
    TarBuilder tar;
    for (int i = 0; i < files; ++i) tar.File("f" + std::to_string(i), tag + std::to_string(i));
    tar.HardLink("again", "f0");  // shares f0's content: no descriptor of its own
    return tar.bytes();
  };
  CacheOptions options;
  options.max_descriptors = 5;
  ASSERT_OK_AND_ASSIGN(auto cache, ImageCache::Create(std::move(options)));
  ASSERT_OK_AND_ASSIGN(RegisterResult a, cache->RegisterTree(tree_of(3, "a"), ""));
  EXPECT_EQ(a.image->descriptors(), 3u);
  const std::string a_id = a.image->id;
  a = {};
  ASSERT_OK_AND_ASSIGN(RegisterResult b, cache->RegisterTree(tree_of(2, "b"), ""));
  EXPECT_EQ(cache->List().size(), 2u);  // 5 descriptors: within the budget
  b = {};
  ASSERT_OK_AND_ASSIGN(RegisterResult c, cache->RegisterTree(tree_of(1, "c"), ""));
  EXPECT_EQ(cache->Acquire(a_id).status().code(), absl::StatusCode::kNotFound)
      << "the least recently used tree goes when the descriptors run out";
  EXPECT_THAT(cache->RegisterTree(tree_of(6, "d"), "").status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("6 distinct files")));
}

}  // namespace
}  // namespace zerocell::image
