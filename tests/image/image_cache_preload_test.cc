// ImageCache with a persist directory (write, preload, crash leftovers) and the real validator.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_cache.h"
#include "image/image_id.h"
#include "tests/image/image_cache_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;
using ::zerocell::testing::IsOkAndHolds;

namespace zerocell::image {
namespace {

namespace fs = std::filesystem;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FakeValidator;
using ::testing::HasSubstr;
using testing::HelloVariant;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::zerocell::testing::TempDir;

constexpr uint64_t kRoom = uint64_t{1} << 20;

absl::StatusOr<std::unique_ptr<ImageCache>> OpenCache(FakeValidator& fake, const std::string& dir,
                                                      uint64_t max_bytes = kRoom) {
  CacheOptions options;
  options.max_bytes = max_bytes;
  options.persist_dir = dir;
  options.validate = fake.Fn();
  return ImageCache::Create(std::move(options));
}

std::string FileOf(const std::string& dir, const std::string& id) {
  return dir + "/" + id.substr(kImageIdPrefix.size()) + ".elf";
}

std::vector<std::string> DirNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

std::vector<std::string> ListedIds(const ImageCache& cache) {
  std::vector<std::string> ids;
  for (const ImageInfo& info : cache.List()) ids.push_back(info.image->id);
  return ids;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

TEST(ImageCachePreloadTest, AcceptedImagesArePersistedAndPreloaded) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/images";  // created by the cache
  FakeValidator first;
  std::string a, b;
  {
    absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(first, dir);
    ASSERT_THAT(cache, IsOk());
    a = (*cache)->Register(HelloVariant(1), "a").value().image->id;
    b = (*cache)->Register(HelloVariant(2), "b").value().image->id;
    // A rejected image is not persisted.
    EXPECT_THAT((*cache)->Register(HelloVariant(3) + "REJECT-ME", "bad"), ::testing::Not(IsOk()));
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(FileOf(dir, a).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(zerocell::testing::ReadFile(FileOf(dir, b)), IsOkAndHolds(HelloVariant(2)));
  EXPECT_THAT(DirNames(dir), UnorderedElementsAre(a.substr(7) + ".elf", b.substr(7) + ".elf"));

  FakeValidator second;
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(second, dir);
  ASSERT_THAT(cache, IsOk());
  EXPECT_THAT((*cache)->preload_warnings(), IsEmpty());
  EXPECT_EQ(second.calls(), 2);  // preloaded images are validated again
  EXPECT_THAT(ListedIds(**cache), UnorderedElementsAre(a, b));
  EXPECT_EQ((*cache)->bytes(), ImageCache::ChargeFor(HelloVariant(1).size()) +
                                   ImageCache::ChargeFor(HelloVariant(2).size()));
  absl::StatusOr<RegisterResult> again = (*cache)->Register(HelloVariant(1), "a");
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->already_registered);
  EXPECT_EQ(second.calls(), 2);
  EXPECT_THAT((*cache)->Acquire(b), IsOk());
}

TEST(ImageCachePreloadTest, BadFilesAreSkippedWithWarningsAndTempFilesRemoved) {
  TempDir tmp;
  const std::string dir = tmp.path();
  FakeValidator first;
  std::string good, renamed, corrupted;
  {
    absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(first, dir);
    ASSERT_THAT(cache, IsOk());
    good = (*cache)->Register(HelloVariant(1), "").value().image->id;
    renamed = (*cache)->Register(HelloVariant(2), "").value().image->id;
    corrupted = (*cache)->Register(HelloVariant(3), "").value().image->id;
  }
  // A file under another image's name, a file whose bytes changed, a temp file from a crash,
  // a file the validator now rejects, and an *.elf whose name is no id.
  const std::string wrong_name = FileOf(dir, ImageIdOf("something else"));
  fs::rename(FileOf(dir, renamed), wrong_name);
  WriteFile(FileOf(dir, corrupted), HelloVariant(3) + "x");
  const std::string temp = dir + "/.tmp-" + good.substr(7) + "-AbCdEf";
  WriteFile(temp, "half written");
  const std::string now_rejected = HelloVariant(4) + "REJECT-ME";
  WriteFile(FileOf(dir, ImageIdOf(now_rejected)), now_rejected);
  WriteFile(dir + "/notes.elf", "not an image");

  FakeValidator second;
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(second, dir);
  ASSERT_THAT(cache, IsOk());
  EXPECT_THAT(ListedIds(**cache), ElementsAre(good));
  const std::vector<std::string> warnings = (*cache)->preload_warnings();
  EXPECT_EQ(warnings.size(), 5u) << ::testing::PrintToString(warnings);
  EXPECT_THAT(warnings, Contains(AllOf(HasSubstr(wrong_name), HasSubstr(renamed))));
  EXPECT_THAT(warnings, Contains(AllOf(HasSubstr(FileOf(dir, corrupted)),
                                       HasSubstr("not the id its name claims"))));
  EXPECT_THAT(warnings, Contains(AllOf(HasSubstr(temp), HasSubstr("removed"))));
  EXPECT_THAT(warnings, Contains(AllOf(HasSubstr(ImageIdOf(now_rejected).substr(7)),
                                       HasSubstr("rejected"), HasSubstr("int 0x80"))));
  EXPECT_THAT(warnings, Contains(HasSubstr("notes.elf")));
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_TRUE(fs::exists(wrong_name));  // skipped files are left for the operator
}

TEST(ImageCachePreloadTest, EvictionRemovesTheFileAndPreloadKeepsTheNewest) {
  TempDir tmp;
  const std::string dir = tmp.path();
  const uint64_t room = 2 * ImageCache::ChargeFor(HelloVariant(0).size() + 100);
  FakeValidator first;
  std::string a, b, c;
  {
    absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(first, dir, room);
    ASSERT_THAT(cache, IsOk());
    a = (*cache)->Register(HelloVariant(1), "").value().image->id;
    b = (*cache)->Register(HelloVariant(2), "").value().image->id;
    c = (*cache)->Register(HelloVariant(3), "").value().image->id;  // evicts a
    EXPECT_FALSE(fs::exists(FileOf(dir, a)));
    EXPECT_TRUE(fs::exists(FileOf(dir, b)));
    EXPECT_TRUE(fs::exists(FileOf(dir, c)));
  }
  // Oldest file first at preload, so c (written last) is the most recently used.
  fs::last_write_time(FileOf(dir, b), fs::file_time_type::clock::now() - std::chrono::hours(1));
  FakeValidator second;
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(second, dir, room);
  ASSERT_THAT(cache, IsOk());
  EXPECT_THAT(ListedIds(**cache), ElementsAre(c, b));

  // A smaller cache over the same directory keeps what fits, newest first, and says so.
  FakeValidator third;
  cache = OpenCache(third, dir, room / 2);
  ASSERT_THAT(cache, IsOk());
  EXPECT_THAT(ListedIds(**cache), ElementsAre(c));
  EXPECT_THAT((*cache)->preload_warnings(), ElementsAre(HasSubstr("evicted 1")));
  EXPECT_FALSE(fs::exists(FileOf(dir, b)));
}

// A write that fails (here: the directory vanished under the server) refuses the registration
// with the directory and errno named, caches nothing, and leaves nothing behind; the same bytes
// are tried again once the directory is back. (A full disk, RESOURCE_EXHAUSTED, is the e2e
// test's: hardening_e2e_test FullImageDirRefusesTheImage...)
TEST(ImageCachePreloadTest, AnImageThatCannotBePersistedIsRefusedAndNotCached) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/images";
  FakeValidator fake;
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(fake, dir);
  ASSERT_THAT(cache, IsOk());
  const std::string a = (*cache)->Register(HelloVariant(1), "a").value().image->id;
  const std::string b = ImageIdOf(HelloVariant(2));
  fs::remove_all(dir);

  absl::StatusOr<RegisterResult> refused = (*cache)->Register(HelloVariant(2), "b");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(refused.status().message(), HasSubstr(dir));
  EXPECT_THAT(refused.status().message(), HasSubstr("(ENOENT)"));
  EXPECT_THAT(ListedIds(**cache), ElementsAre(a));
  EXPECT_EQ((*cache)->Acquire(b).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*cache)->bytes(), ImageCache::ChargeFor(HelloVariant(1).size()));

  ASSERT_TRUE(fs::create_directory(dir));
  absl::StatusOr<RegisterResult> retried = (*cache)->Register(HelloVariant(2), "b");
  ASSERT_THAT(retried, IsOk());
  EXPECT_FALSE(retried->already_registered);
  EXPECT_EQ(fake.calls(), 3);  // the refused bytes were not remembered as accepted
  EXPECT_THAT(DirNames(dir), ElementsAre(b.substr(7) + ".elf"));
}

TEST(ImageCachePreloadTest, UnusableDirectoryFailsCreate) {
  TempDir tmp;
  const std::string file = tmp.path() + "/plain";
  WriteFile(file, "x");
  FakeValidator fake;
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(fake, file);
  EXPECT_EQ(cache.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cache.status().message(), HasSubstr(file));
  cache = OpenCache(fake, tmp.path() + "/missing/nested");
  EXPECT_EQ(cache.status().code(), absl::StatusCode::kNotFound);
}

int OpenFds() {
  int count = 0;
  for ([[maybe_unused]] const fs::directory_entry& entry :
       fs::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

TEST(ImageCachePreloadTest, NoFdOutlivesTheCache) {
  TempDir tmp;
  const int before = OpenFds();
  {
    FakeValidator fake;
    const uint64_t room = 2 * ImageCache::ChargeFor(HelloVariant(0).size() + 100);
    absl::StatusOr<std::unique_ptr<ImageCache>> cache = OpenCache(fake, tmp.path(), room);
    ASSERT_THAT(cache, IsOk());
    for (int i = 0; i < 5; ++i) ASSERT_THAT((*cache)->Register(HelloVariant(i), ""), IsOk());
    EXPECT_THAT((*cache)->Register(HelloVariant(0) + "REJECT-ME", ""), ::testing::Not(IsOk()));
    EXPECT_EQ(OpenFds(), before + 2);  // one sealed memfd per cached image, none for evicted ones
    FakeValidator again;
    absl::StatusOr<std::unique_ptr<ImageCache>> preloaded = OpenCache(again, tmp.path(), room);
    ASSERT_THAT(preloaded, IsOk());
    EXPECT_EQ(OpenFds(), before + 4);
  }
  EXPECT_EQ(OpenFds(), before);
}

// The real ValidateImage behind the cache, on real guests.
TEST(ImageCacheRealValidatorTest, AcceptsHelloAndRemembersARejectedGuest) {
  int validations = 0;
  CacheOptions options;
  options.max_bytes = kRoom * 8;
  options.observer.on_validated = [&](const Validation&) { ++validations; };
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = ImageCache::Create(std::move(options));
  ASSERT_THAT(cache, IsOk());

  const std::string hello = zerocell::testing::GuestBytes("hello");
  absl::StatusOr<RegisterResult> result = (*cache)->Register(hello, "hello");
  ASSERT_THAT(result, IsOk());
  const ValidationReport& report = result->image->report;
  EXPECT_TRUE(report.accepted);
  EXPECT_TRUE(report.instructions_checked);
  EXPECT_GT(report.instructions, 100);
  EXPECT_GT(report.executable_bytes, 0);
  EXPECT_EQ(report.policy, InstructionPolicy::kStandard);
  EXPECT_EQ(result->image->id, ImageIdOf(hello));

  const std::string int80 = zerocell::testing::GuestBytes("pol_int80");
  for (int i = 0; i < 2; ++i) {
    ValidationReport rejected;
    absl::Status status = (*cache)->Register(int80, "int80", &rejected).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), AnyOf(HasSubstr("int 0x80"), HasSubstr("int80")));
    EXPECT_FALSE(rejected.accepted);
    EXPECT_FALSE(rejected.rejections.empty());
  }
  EXPECT_EQ(validations, 2);  // hello once, pol_int80 once
}

}  // namespace
}  // namespace zerocell::image
