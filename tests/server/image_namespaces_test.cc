// ImageNamespaces' per-namespace bound (--image_namespace_max_bytes): eviction of the
// namespace's own least recently used idle images, refusal when nothing can go, orphans.
#include "server/image_namespaces.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace zerocell::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Id(int n) { return absl::StrCat("sha256:", std::string(63, 'a'), n); }

std::vector<std::string> Ids(const ImageNamespaces& spaces, const std::string& ns) {
  std::vector<std::string> ids;
  for (const NamespacedImage& image : spaces.List(ns)) ids.push_back(image.id);
  return ids;
}

class ImageNamespacesTest : public ::testing::Test {
 protected:
  // Room for three images of 100 bytes per namespace.
  void SetUp() override {
    std::vector<std::string> warnings;
    absl::StatusOr<std::unique_ptr<ImageNamespaces>> made = ImageNamespaces::Create(
        "", 300, [this](absl::string_view id) { return gone_.contains(id) ? 0 : 100; }, &warnings);
    ASSERT_TRUE(made.ok()) << made.status();
    spaces_ = *std::move(made);
  }
  // Adds at time `t`; returns the orphans, failing the test on an error.
  std::vector<std::string> Add(const std::string& ns, int image, int64_t t, uint64_t charge = 100) {
    std::vector<std::string> orphans;
    absl::Status stored;
    absl::StatusOr<bool> added = spaces_->Add(ns, Id(image), "", charge, t, &orphans, &stored);
    EXPECT_TRUE(added.ok()) << added.status();
    EXPECT_TRUE(stored.ok()) << stored;
    return orphans;
  }
  std::unique_ptr<ImageNamespaces> spaces_;
  absl::flat_hash_set<std::string> gone_;  // ids "the cache" no longer holds
};

TEST_F(ImageNamespacesTest, ANewImageEvictsTheNamespacesOwnLeastRecentlyUsedIdleImage) {
  EXPECT_THAT(Add("bob", 9, 1), IsEmpty());
  for (int i = 1; i <= 3; ++i) EXPECT_THAT(Add("mallory", i, 10 + i), IsEmpty());
  Add("mallory", 1, 20);  // a use: 2 is now her least recently used
  EXPECT_THAT(Add("mallory", 4, 21), ElementsAre(Id(2)));
  EXPECT_THAT(Ids(*spaces_, "mallory"), ElementsAre(Id(4), Id(1), Id(3)));
  EXPECT_EQ(spaces_->bytes("mallory"), 300u);
  // Bob's image is older than all of hers, and untouched.
  EXPECT_THAT(Ids(*spaces_, "bob"), ElementsAre(Id(9)));
  EXPECT_EQ(spaces_->bytes("bob"), 100u);
}

// An image the shared LRU evicted still counts until looked up; it goes before a usable one.
TEST_F(ImageNamespacesTest, ImagesTheCacheEvictedGoFirst) {
  for (int i = 1; i <= 3; ++i) Add("bob", i, 10 + i);
  gone_.insert(Id(3));  // his most recently used
  EXPECT_THAT(Add("bob", 4, 20), IsEmpty());
  EXPECT_THAT(Ids(*spaces_, "bob"), ElementsAre(Id(4), Id(2), Id(1)));
  EXPECT_EQ(spaces_->bytes("bob"), 300u);
}

TEST_F(ImageNamespacesTest, AnImageAnotherNamespaceHoldsIsNoOrphan) {
  Add("bob", 1, 1);
  for (int i = 1; i <= 3; ++i) Add("mallory", i, 10 + i);
  // Her 1 goes from her namespace, but bob still holds it: the cache must keep it.
  EXPECT_THAT(Add("mallory", 4, 20), IsEmpty());
  EXPECT_THAT(Add("mallory", 5, 21), ElementsAre(Id(2)));
  EXPECT_TRUE(spaces_->HeldByAny(Id(1)));
  EXPECT_FALSE(spaces_->HeldByAny(Id(2)));
}

TEST_F(ImageNamespacesTest, RunningImagesAreNotEvictedAndARefusalChangesNothing) {
  for (int i = 1; i <= 3; ++i) Add("mallory", i, 10 + i);
  spaces_->ExecutionStarted("mallory", Id(1), 14);
  spaces_->ExecutionStarted("mallory", Id(2), 15);
  // 1 and 2 run: the larger new image needs both 3 and one of them gone.
  std::vector<std::string> orphans;
  absl::Status stored;
  absl::StatusOr<bool> refused = spaces_->Add("mallory", Id(4), "", 200, 20, &orphans, &stored);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("--image_namespace_max_bytes"));
  EXPECT_THAT(orphans, IsEmpty());
  EXPECT_EQ(Ids(*spaces_, "mallory").size(), 3u);
  EXPECT_EQ(spaces_->bytes("mallory"), 300u);
  // One of the same size fits by evicting 3, the only idle one.
  EXPECT_THAT(Add("mallory", 5, 21), ElementsAre(Id(3)));
  spaces_->ExecutionEnded("mallory", Id(1));
  EXPECT_THAT(Add("mallory", 6, 22), ElementsAre(Id(1)));
}

TEST_F(ImageNamespacesTest, AnImageAboveTheBoundIsRefused) {
  std::vector<std::string> orphans;
  absl::Status stored;
  absl::StatusOr<bool> refused = spaces_->Add("bob", Id(1), "", 301, 1, &orphans, &stored);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("301 bytes"));
  EXPECT_THAT(Ids(*spaces_, "bob"), IsEmpty());
  EXPECT_FALSE(spaces_->HeldByAny(Id(1)));
}

TEST(ImageNamespacesPersistTest, ReloadedMembershipsAreChargedAndKeptWithinTheBound) {
  absl::StatusOr<::zerocell::testing::TempDir> dir =
      ::zerocell::testing::TempDir::Create("ns-bound");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const ChargeOf cached = [](absl::string_view id) -> uint64_t {
    return id == Id(2) ? 0 : 100;  // 2 is no longer cached
  };
  std::vector<std::string> warnings;
  {
    absl::StatusOr<std::unique_ptr<ImageNamespaces>> spaces =
        ImageNamespaces::Create(dir->path(), 300, cached, &warnings);
    ASSERT_TRUE(spaces.ok()) << spaces.status();
    std::vector<std::string> orphans;
    absl::Status stored;
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE((*spaces)->Add("bob", Id(i), "", 100, i, &orphans, &stored).ok());
    }
  }
  absl::StatusOr<std::unique_ptr<ImageNamespaces>> reloaded =
      ImageNamespaces::Create(dir->path(), 100, cached, &warnings);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  // 2 is dropped (not cached); of 1 and 3 only one fits a bound of 100.
  EXPECT_EQ((*reloaded)->bytes("bob"), 100u);
  EXPECT_THAT(Ids(**reloaded, "bob"), ElementsAre(Id(3)));  // the newest
  EXPECT_THAT(warnings, ::testing::Contains(HasSubstr("does not fit")));
}

}  // namespace
}  // namespace zerocell::server
