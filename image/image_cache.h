// Content-addressed cache of validated images: sha256 ids, sealed memfds, byte-bounded LRU.
#ifndef ZEROCELL_IMAGE_IMAGE_CACHE_H_
#define ZEROCELL_IMAGE_IMAGE_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "image/image_id.h"
#include "image/validator.h"
#include "sandbox/image.h"

namespace zerocell::image {

// A cached, accepted image. Immutable. Holding the shared_ptr pins it: the cache never evicts an
// entry while a CachedImage handle to it is alive outside the cache.
struct CachedImage {
  std::string id;    // "sha256:<64 lowercase hex>"
  std::string name;  // label from the first registration
  std::shared_ptr<const sandbox::Image> image;
  ValidationReport report;
  int64_t registered_unix_ns = 0;
};

// Live statistics of one image (changes as it is used).
struct ImageInfo {
  std::shared_ptr<const CachedImage> image;
  int64_t executions = 0;
  int64_t last_used_unix_ns = 0;
  bool in_use = false;
};

// Callbacks for metrics; called without the cache's lock held. All optional.
struct CacheObserver {
  std::function<void()> on_hit;
  std::function<void()> on_miss;
  std::function<void(uint64_t bytes)> on_evict;
  std::function<void(uint64_t bytes, int64_t images)> on_size;  // after every change
  std::function<void(const Validation&)> on_validated;          // each validation actually run
};

struct CacheOptions {
  uint64_t max_bytes = uint64_t{1} << 30;  // sum of cached image sizes
  ValidatorOptions validator;
  // Empty: memory only. Otherwise accepted images are written there as <hex>.elf (atomically,
  // via a temp file and rename) and Create() preloads every *.elf found, re-validating each
  // (a file whose content does not match its name, or that is now rejected, is skipped with a
  // warning returned in preload_warnings()).
  std::string persist_dir;
  CacheObserver observer;
  // Replaces ValidateImage(bytes, validator) (tests count calls with it). Empty: the real one.
  std::function<Validation(std::string_view bytes)> validate;
};

struct RegisterResult {
  std::shared_ptr<const CachedImage> image;
  bool already_registered = false;
};

// Thread-safe.
class ImageCache {
 public:
  static absl::StatusOr<std::unique_ptr<ImageCache>> Create(CacheOptions options);
  ~ImageCache();

  // Validates (once per distinct content, even under concurrent calls with the same bytes) and
  // caches. A rejected image: INVALID_ARGUMENT from the validator, with *rejected (if given)
  // holding its report; rejections are remembered by hash too, so hostile repeats cost a hash.
  // An image larger than max_bytes: RESOURCE_EXHAUSTED. When the cache is full of pinned images,
  // the new one is still returned (pinned by the caller) and evicted once released.
  absl::StatusOr<RegisterResult> Register(std::string_view bytes, std::string_view name,
                                          ValidationReport* rejected = nullptr);

  // Cached image by id, marking it used (LRU + execution count). NOT_FOUND when unknown;
  // INVALID_ARGUMENT naming `field` when the id is not "sha256:" + 64 lowercase hex.
  absl::StatusOr<std::shared_ptr<const CachedImage>> Acquire(std::string_view id,
                                                             std::string_view field = "image_id");

  // Like Acquire without counting a use.
  absl::StatusOr<ImageInfo> Get(std::string_view id) const;

  // Most recently used first.
  std::vector<ImageInfo> List() const;

  uint64_t bytes() const;
  std::vector<std::string> preload_warnings() const;

 private:
  class Impl;
  explicit ImageCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_IMAGE_CACHE_H_
