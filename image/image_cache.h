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
#include "image/tree_image.h"
#include "image/validator.h"
#include "sandbox/image.h"

namespace zerocell::image {

// A cached, accepted image. Immutable. Holding the shared_ptr pins it: the cache never evicts an
// entry while a CachedImage handle to it is alive outside the cache (a copy of the inner
// sandbox::Image alone does not pin: keep the CachedImage for the duration of a run).
struct CachedImage {
  std::string id;    // "sha256:<64 lowercase hex>" of the ELF or tar bytes
  std::string name;  // label from the first registration; empty for a preloaded image
  ImageKind kind = ImageKind::kElf;
  std::shared_ptr<const sandbox::Image> image;  // kElf only (null for a tree)
  ValidationReport report;                      // kElf only
  std::shared_ptr<const TreeImage> tree;        // kTree only: the FileTree and its ELFs
  int64_t registered_unix_ns = 0;  // preloaded: the file's mtime, i.e. when it was first cached

  // The registered bytes: the ELF file's or the tar archive's size.
  uint64_t size_bytes() const;
  // Descriptors it holds open: an ELF's memfd, or one memfd per distinct file of a tree.
  uint64_t descriptors() const;
};

// Live statistics of one image (changes as it is used).
struct ImageInfo {
  std::shared_ptr<const CachedImage> image;
  int64_t executions = 0;
  int64_t last_used_unix_ns = 0;
  bool in_use = false;  // a handle other than the cache's (and this ImageInfo's) exists
};

// Callbacks for metrics; called without the cache's lock held, from the calling thread. All
// optional. A hit is an Acquire or Register answered from the cache (including a remembered
// rejection, or another caller's validation waited for); a miss is an unknown id or a first
// registration. Preload counts neither.
struct CacheObserver {
  std::function<void()> on_hit;
  std::function<void()> on_miss;
  std::function<void(uint64_t bytes)> on_evict;
  std::function<void(uint64_t bytes, int64_t images)> on_size;  // after every change
  std::function<void(const Validation&)> on_validated;          // each validation actually run
  // persist_dir failures: a failed write (which also fails its Register) or removal.
  std::function<void(const absl::Status&)> on_store_error;
};

struct CacheOptions {
  // Sum of what cached images cost: each image's size rounded up to whole pages, plus 4 KiB for
  // its entry and report.
  uint64_t max_bytes = uint64_t{1} << 30;
  // Cached images at most.
  uint64_t max_images = 4096;
  // Descriptors the cached images may hold together (CachedImage::descriptors: a tree holds one
  // per distinct file); zerocelld derives it from RLIMIT_NOFILE. A tree needing more on its own
  // is refused with RESOURCE_EXHAUSTED.
  uint64_t max_descriptors = UINT64_MAX;
  ValidatorOptions validator;
  // Bounds of a tree image's content (entries, file bytes); its ELFs are admitted by `validator`.
  sandbox::fs::TreeLimits tree_limits;
  // Empty: memory only. Otherwise accepted images are written there as <hex>.elf (trees as
  // <hex>.tar) (0600, in a
  // directory created 0700; atomically, via a temp file and rename), an evicted image's file is
  // removed (the directory mirrors the cache), and Create() preloads every <hex>.elf, oldest
  // first, re-validating each: a file whose content does not match its name, that is now
  // rejected or unreadable is skipped (left in place) with a warning in preload_warnings();
  // temp files of an interrupted write are removed. One cache per directory.
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
  // An image larger than max_bytes: RESOURCE_EXHAUSTED naming both sizes. When the cache is full
  // of pinned images, the new one is still admitted (pinned by the caller's handle) and the
  // cache stays over budget until a later Register/Acquire finds images released. Re-registering
  // cached bytes counts as a use for the LRU order (not as an execution). With a persist_dir,
  // an image that cannot be written there is refused with ImageStore::Write's error
  // (RESOURCE_EXHAUSTED naming the directory and errno when the disk is full): nothing is cached
  // and no file is left, and a later Register of the same bytes tries again.
  absl::StatusOr<RegisterResult> Register(std::string_view bytes, std::string_view name,
                                          ValidationReport* rejected = nullptr);

  // The same for a tree image (a tar archive, see ValidateTree): same id space, LRU, namespaces
  // of the caller and persistence. A refused ELF member: INVALID_ARGUMENT naming the file, with
  // *rejected holding its report and *rejected_path its path (when given). Bytes already cached
  // as the other kind are INVALID_ARGUMENT naming the kind. A tree costs its contents rounded
  // up to pages plus 4 KiB and 256 bytes per entry (see ChargeForTree).
  absl::StatusOr<RegisterResult> RegisterTree(std::string_view bytes, std::string_view name,
                                              ValidationReport* rejected = nullptr,
                                              std::string* rejected_path = nullptr);

  // Cached image by id, marking it used (LRU + execution count). NOT_FOUND when unknown;
  // INVALID_ARGUMENT naming `field` when the id is not "sha256:" + 64 lowercase hex.
  absl::StatusOr<std::shared_ptr<const CachedImage>> Acquire(std::string_view id,
                                                             std::string_view field = "image_id");

  // Evicts `id` now (its file too) unless a handle pins it: true when it was removed. For an
  // owner that knows the image is no longer wanted (e.g. no client namespace holds it).
  bool Remove(std::string_view id);

  // Like Acquire without counting a use. The returned ImageInfo holds a handle: drop it soon.
  absl::StatusOr<ImageInfo> Get(std::string_view id) const;

  // Most recently used first (same caveat as Get).
  std::vector<ImageInfo> List() const;

  // Charged bytes of the cached images (see CacheOptions::max_bytes).
  uint64_t bytes() const;
  // What an image of `size_bytes` costs against max_bytes.
  static uint64_t ChargeFor(uint64_t size_bytes);
  // What a tree image costs against max_bytes.
  static uint64_t ChargeForTree(const TreeImage& tree);
  std::vector<std::string> preload_warnings() const;

 private:
  class Impl;
  explicit ImageCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_IMAGE_CACHE_H_
