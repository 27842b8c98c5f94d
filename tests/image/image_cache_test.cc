// ImageCache: single-flight validation, LRU eviction by bytes, pinning, ids, rejections, metrics.
#include "image/image_cache.h"

#include <fcntl.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_id.h"
#include "tests/image/image_cache_test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::image {
namespace {

using ::testing::ElementsAre;
using testing::FakeValidator;
using ::testing::HasSubstr;
using testing::HelloVariant;
using testing::kRejectMarker;

// A cache of `max_bytes` using `fake` as its validator.
std::unique_ptr<ImageCache> MakeCache(FakeValidator& fake, uint64_t max_bytes,
                                      CacheObserver observer = {}) {
  CacheOptions options;
  options.max_bytes = max_bytes;
  options.validate = fake.Fn();
  options.observer = std::move(observer);
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = ImageCache::Create(std::move(options));
  EXPECT_THAT(cache, IsOk());
  return cache.ok() ? *std::move(cache) : nullptr;
}

// Registers `bytes` and returns its id (the handle is dropped: the entry is not pinned).
std::string RegisterId(ImageCache& cache, const std::string& bytes) {
  absl::StatusOr<RegisterResult> result = cache.Register(bytes, "");
  EXPECT_THAT(result, IsOk());
  return result.ok() ? result->image->id : "";
}

std::vector<std::string> ListedIds(const ImageCache& cache) {
  std::vector<std::string> ids;
  for (const ImageInfo& info : cache.List()) ids.push_back(info.image->id);
  return ids;
}

// Room for `n` hello variants of at most 100 junk bytes each.
uint64_t RoomFor(int n) { return n * ImageCache::ChargeFor(HelloVariant(0).size() + 100); }

TEST(ImageCacheTest, RegisterCachesSealedImageUnderItsSha256) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(4));
  const std::string bytes = HelloVariant(0);
  absl::StatusOr<RegisterResult> result = cache->Register(bytes, "hello");
  ASSERT_THAT(result, IsOk());
  EXPECT_FALSE(result->already_registered);
  const CachedImage& image = *result->image;
  EXPECT_EQ(image.id, ImageIdOf(bytes));
  EXPECT_EQ(image.id, ImageIdFromHex(image.image->sha256_hex()));
  EXPECT_EQ(image.name, "hello");
  EXPECT_TRUE(image.report.accepted);
  EXPECT_GT(image.registered_unix_ns, 0);
  EXPECT_EQ(image.image->size_bytes(), bytes.size());
  const int seals = ::fcntl(image.image->memfd(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
            F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  EXPECT_EQ(cache->bytes(), ImageCache::ChargeFor(bytes.size()));

  absl::StatusOr<RegisterResult> again = cache->Register(bytes, "other label");
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->already_registered);
  EXPECT_EQ(again->image, result->image);
  EXPECT_EQ(again->image->name, "hello");  // the first registration's label stays
  EXPECT_EQ(fake.calls(), 1);
  EXPECT_EQ(cache->bytes(), ImageCache::ChargeFor(bytes.size()));
}

TEST(ImageCacheTest, ConcurrentRegistrationsOfSameBytesValidateOnce) {
  constexpr int kThreads = 16;
  FakeValidator fake;
  std::atomic<int> entered{0};
  // Hold the one validation open until every thread has called Register, so that the others
  // find it in flight (any that arrive later find it cached: either way, no second validation).
  fake.set_hook([&entered] {
    while (entered.load() < kThreads) absl::SleepFor(absl::Milliseconds(1));
    absl::SleepFor(absl::Milliseconds(50));
  });
  auto cache = MakeCache(fake, RoomFor(4));
  const std::string bytes = HelloVariant(1);

  std::vector<absl::StatusOr<RegisterResult>> results(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      entered.fetch_add(1);
      results[i] = cache->Register(bytes, "same");
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(fake.calls(), 1);
  int fresh = 0;
  for (const auto& result : results) {
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->image, results[0]->image);  // one CachedImage for everybody
    fresh += result->already_registered ? 0 : 1;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(cache->List().size(), 1u);
}

TEST(ImageCacheTest, DifferentBytesAreValidatedSeparately) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(4));
  std::vector<std::thread> threads;
  std::vector<std::string> ids(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { ids[i] = RegisterId(*cache, HelloVariant(i)); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(fake.calls(), 4);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 4u);
  EXPECT_EQ(cache->List().size(), 4u);
}

TEST(ImageCacheTest, EvictsLeastRecentlyUsedToStayWithinBytes) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(3));
  const std::string a = RegisterId(*cache, HelloVariant(1));
  const std::string b = RegisterId(*cache, HelloVariant(2));
  const std::string c = RegisterId(*cache, HelloVariant(3));
  ASSERT_THAT(cache->Acquire(a), IsOk());  // a becomes the most recent; b is now the oldest
  const std::string d = RegisterId(*cache, HelloVariant(4));

  EXPECT_THAT(ListedIds(*cache), ElementsAre(d, a, c));
  EXPECT_EQ(cache->Acquire(b).status().code(), absl::StatusCode::kNotFound);
  EXPECT_LE(cache->bytes(), RoomFor(3));

  // Registering the evicted bytes again validates them again and evicts the next oldest (c).
  const std::string b2 = RegisterId(*cache, HelloVariant(2));
  EXPECT_EQ(b2, b);
  EXPECT_EQ(fake.calls(), 5);
  EXPECT_THAT(ListedIds(*cache), ElementsAre(b, d, a));
}

TEST(ImageCacheTest, HeldImageIsNeverEvictedAndGoesOnceReleased) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(2));
  const std::string a = RegisterId(*cache, HelloVariant(1));
  absl::StatusOr<std::shared_ptr<const CachedImage>> held = cache->Acquire(a);
  ASSERT_THAT(held, IsOk());
  const std::string b = RegisterId(*cache, HelloVariant(2));
  cache->Acquire(b).IgnoreError();  // a is now the least recently used, but pinned
  const std::string c = RegisterId(*cache, HelloVariant(3));
  // b went instead of the pinned a.
  EXPECT_THAT(ListedIds(*cache), ElementsAre(c, a));
  ASSERT_THAT(cache->Get(a), IsOk());
  EXPECT_TRUE(cache->Get(a)->in_use);
  EXPECT_FALSE(cache->Get(c)->in_use);

  // Everything pinned: new images are admitted anyway, above the budget.
  absl::StatusOr<std::shared_ptr<const CachedImage>> held_c = cache->Acquire(c);
  ASSERT_THAT(held_c, IsOk());
  absl::StatusOr<RegisterResult> d = cache->Register(HelloVariant(4), "");
  ASSERT_THAT(d, IsOk());
  absl::StatusOr<RegisterResult> e = cache->Register(HelloVariant(5), "");
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(cache->List().size(), 4u);  // a, c, d, e: all held
  EXPECT_GT(cache->bytes(), RoomFor(3));
  for (const ImageInfo& info : cache->List()) EXPECT_TRUE(info.in_use) << info.image->id;

  // Released: the next change evicts the least recently used down to the budget.
  held->reset();
  held_c->reset();
  d->image.reset();
  const std::string e_id = e->image->id;
  e->image.reset();
  const std::string d_id = RegisterId(*cache, HelloVariant(4));  // a use of d, and a change
  EXPECT_LE(cache->bytes(), RoomFor(2));
  EXPECT_THAT(ListedIds(*cache), ElementsAre(d_id, e_id));  // a and c, the oldest, went
  EXPECT_EQ(cache->Acquire(a).status().code(), absl::StatusCode::kNotFound);
}

TEST(ImageCacheTest, UnknownIdIsNotFoundAndMalformedIdNamesTheField) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(1));
  const std::string unknown = ImageIdOf("never registered");
  absl::Status status = cache->Acquire(unknown).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(unknown));
  EXPECT_EQ(cache->Get(unknown).status().code(), absl::StatusCode::kNotFound);

  for (const std::string& bad :
       {std::string("sha256:ABC"), std::string("md5:0123"), "sha256:" + std::string(64, 'G'),
        "SHA256:" + std::string(64, 'a'), std::string("")}) {
    status = cache->Acquire(bad, "execute.image_id").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("execute.image_id")) << bad;
    status = cache->Get(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("image_id")) << bad;
  }
}

TEST(ImageCacheTest, RejectionIsRememberedWithItsReport) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(2));
  const std::string bad = HelloVariant(0) + std::string(kRejectMarker);
  for (int i = 0; i < 3; ++i) {
    ValidationReport report;
    absl::StatusOr<RegisterResult> result = cache->Register(bad, "bad", &report);
    ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << i;
    EXPECT_THAT(result.status().message(), HasSubstr("int 0x80")) << i;
    ASSERT_EQ(report.rejections.size(), 1u) << i;
    EXPECT_EQ(report.rejections[0].file_offset, 0x40u);
    EXPECT_FALSE(report.accepted);
  }
  EXPECT_EQ(fake.calls(), 1);
  EXPECT_TRUE(cache->List().empty());
  EXPECT_EQ(cache->bytes(), 0u);
  EXPECT_EQ(cache->Get(ImageIdOf(bad)).status().code(), absl::StatusCode::kNotFound);
}

TEST(ImageCacheTest, ConcurrentRejectedRegistrationsValidateOnce) {
  constexpr int kThreads = 8;
  FakeValidator fake;
  std::atomic<int> entered{0};
  fake.set_hook([&entered] {
    while (entered.load() < kThreads) absl::SleepFor(absl::Milliseconds(1));
    absl::SleepFor(absl::Milliseconds(20));
  });
  auto cache = MakeCache(fake, RoomFor(2));
  const std::string bad = HelloVariant(3) + std::string(kRejectMarker);
  std::vector<ValidationReport> reports(kThreads);
  std::vector<absl::Status> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      entered.fetch_add(1);
      statuses[i] = cache->Register(bad, "", &reports[i]).status();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(fake.calls(), 1);
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(statuses[i], statuses[0]);
    EXPECT_EQ(reports[i].rejections.size(), 1u);
  }
}

TEST(ImageCacheTest, ImageLargerThanTheCacheIsResourceExhausted) {
  FakeValidator fake;
  const std::string bytes = HelloVariant(0);
  auto cache = MakeCache(fake, bytes.size() - 1);
  absl::Status status = cache->Register(bytes, "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr(std::to_string(bytes.size())));
  EXPECT_THAT(status.message(), HasSubstr(std::to_string(bytes.size() - 1)));
  EXPECT_EQ(fake.calls(), 0);
}

TEST(ImageCacheTest, AcquireCountsExecutionsAndGetDoesNot) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(2));
  const std::string a = RegisterId(*cache, HelloVariant(1));
  const int64_t registered = cache->Get(a)->last_used_unix_ns;
  EXPECT_EQ(cache->Get(a)->executions, 0);
  for (int i = 0; i < 3; ++i) ASSERT_THAT(cache->Acquire(a), IsOk());
  absl::StatusOr<ImageInfo> info = cache->Get(a);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->executions, 3);
  EXPECT_GE(info->last_used_unix_ns, registered);
  EXPECT_FALSE(info->in_use);
  EXPECT_EQ(cache->Get(a)->executions, 3);
}

TEST(ImageCacheTest, ListIsMostRecentlyUsedFirst) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(5));
  const std::string a = RegisterId(*cache, HelloVariant(1));
  const std::string b = RegisterId(*cache, HelloVariant(2));
  const std::string c = RegisterId(*cache, HelloVariant(3));
  EXPECT_THAT(ListedIds(*cache), ElementsAre(c, b, a));
  ASSERT_THAT(cache->Acquire(a), IsOk());
  EXPECT_THAT(ListedIds(*cache), ElementsAre(a, c, b));
  ASSERT_THAT(cache->Register(HelloVariant(2), ""), IsOk());  // re-registering is a use too
  EXPECT_THAT(ListedIds(*cache), ElementsAre(b, a, c));
  ASSERT_THAT(cache->Get(c), IsOk());  // Get is not
  EXPECT_THAT(ListedIds(*cache), ElementsAre(b, a, c));
}

TEST(ImageCacheTest, ObserverSeesHitsMissesEvictionsAndBytes) {
  struct Counters {
    absl::Mutex mu;
    int hits = 0, misses = 0, evictions = 0, validations = 0;
    uint64_t evicted_bytes = 0, bytes = 0;
    int64_t images = 0;
  } counters;
  CacheObserver observer{
      .on_hit =
          [&] {
            absl::MutexLock l(&counters.mu);
            ++counters.hits;
          },
      .on_miss =
          [&] {
            absl::MutexLock l(&counters.mu);
            ++counters.misses;
          },
      .on_evict =
          [&](uint64_t bytes) {
            absl::MutexLock l(&counters.mu);
            ++counters.evictions;
            counters.evicted_bytes += bytes;
          },
      .on_size =
          [&](uint64_t bytes, int64_t images) {
            absl::MutexLock l(&counters.mu);
            counters.bytes = bytes;
            counters.images = images;
          },
      .on_validated =
          [&](const Validation&) {
            absl::MutexLock l(&counters.mu);
            ++counters.validations;
          },
      .on_store_error = nullptr,
  };
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(2), observer);
  const std::string a = RegisterId(*cache, HelloVariant(1));               // miss
  RegisterId(*cache, HelloVariant(1));                                     // hit
  ASSERT_THAT(cache->Acquire(a), IsOk());                                  // hit
  EXPECT_THAT(cache->Acquire(ImageIdOf("nope")), ::testing::Not(IsOk()));  // miss
  RegisterId(*cache, HelloVariant(2));                                     // miss
  RegisterId(*cache, HelloVariant(3));                                     // miss, evicts a
  EXPECT_THAT(cache->Register(HelloVariant(0) + std::string(kRejectMarker), ""),
              ::testing::Not(IsOk()));  // miss
  EXPECT_THAT(cache->Register(HelloVariant(0) + std::string(kRejectMarker), ""),
              ::testing::Not(IsOk()));  // hit

  absl::MutexLock l(&counters.mu);
  EXPECT_EQ(counters.hits, 3);
  EXPECT_EQ(counters.misses, 5);
  EXPECT_EQ(counters.validations, 4);
  EXPECT_EQ(counters.evictions, 1);
  EXPECT_EQ(counters.evicted_bytes, ImageCache::ChargeFor(HelloVariant(1).size()));
  EXPECT_EQ(counters.bytes, cache->bytes());
  EXPECT_EQ(counters.bytes, ImageCache::ChargeFor(HelloVariant(2).size()) +
                                ImageCache::ChargeFor(HelloVariant(3).size()));
  EXPECT_EQ(counters.images, 2);
}

TEST(ImageCacheTest, ConcurrentMixedUseKeepsTheBudget) {
  FakeValidator fake;
  auto cache = MakeCache(fake, RoomFor(3));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        absl::StatusOr<RegisterResult> r = cache->Register(HelloVariant((t * 7 + i) % 6), "");
        ASSERT_THAT(r, IsOk());
        absl::StatusOr<std::shared_ptr<const CachedImage>> again = cache->Acquire(r->image->id);
        // Our handle pins it: no other thread's registration can have evicted it.
        ASSERT_THAT(again, IsOk());
        EXPECT_EQ(*again, r->image);
        cache->List();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // All handles are released; one more change brings the cache within budget.
  RegisterId(*cache, HelloVariant(0));
  EXPECT_LE(cache->bytes(), RoomFor(3));
  uint64_t listed = 0;
  for (const ImageInfo& info : cache->List()) {
    listed += ImageCache::ChargeFor(info.image->image->size_bytes());
  }
  EXPECT_EQ(listed, cache->bytes());
}

// Each image holds an fd: the count is bounded too, and tiny images are charged whole pages.
TEST(ImageCacheTest, ImageCountIsBoundedAndTinyImagesAreChargedPages) {
  EXPECT_EQ(ImageCache::ChargeFor(133), 4096u + 4096u);
  FakeValidator fake;
  CacheOptions options;
  options.max_bytes = uint64_t{1} << 30;
  options.max_images = 2;
  options.validate = fake.Fn();
  absl::StatusOr<std::unique_ptr<ImageCache>> cache = ImageCache::Create(std::move(options));
  ASSERT_THAT(cache, IsOk());
  const std::string a = RegisterId(**cache, HelloVariant(1));
  const std::string b = RegisterId(**cache, HelloVariant(2));
  const std::string c = RegisterId(**cache, HelloVariant(3));
  EXPECT_THAT(ListedIds(**cache), ElementsAre(c, b));
  EXPECT_EQ((*cache)->Acquire(a).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace zerocell::image
