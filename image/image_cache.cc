// The image cache: single-flight validation, byte-bounded LRU with pinning, rejection memory.
#include "image/image_cache.h"

#include <algorithm>
#include <list>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "image/image_store.h"

namespace zerocell::image {
namespace {

// What an entry costs against max_bytes: its memfd's pages plus the entry and its report. Why
// not the file size alone: tiny images would then cost nothing, and a flood of them would pin
// one fd each until the process runs out.
uint64_t Charge(const CachedImage& image) {
  if (image.kind == ImageKind::kTree) return ImageCache::ChargeForTree(*image.tree);
  return ImageCache::ChargeFor(image.image->size_bytes());
}

// Flights and remembered rejections are per kind: the same bytes refused as an ELF may still be
// a valid tree, and the reverse.
std::string KeyOf(ImageKind kind, const std::string& id) {
  return kind == ImageKind::kTree ? absl::StrCat("tree:", id) : id;
}

absl::string_view KindName(ImageKind kind) {
  return kind == ImageKind::kTree ? "a tree" : "an ELF";
}

// Remembered rejections: enough to absorb a client retrying a handful of bad images, small
// enough that a flood of distinct bad images costs bounded memory (reports hold <= 100 entries).
constexpr size_t kMaxRememberedRejections = 1024;

int64_t NowUnixNs() { return absl::ToUnixNanos(absl::Now()); }

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view HexOf(const std::string& id) {
  return std::string_view(id).substr(kImageIdPrefix.size());
}

absl::Status NotFound(std::string_view id, std::string_view field) {
  return absl::NotFoundError(absl::StrCat(AbslView(field), ": image ", AbslView(id),
                                          " not found (never registered here, or evicted)"));
}

}  // namespace

class ImageCache::Impl {
 public:
  Impl(CacheOptions options, std::optional<ImageStore> store)
      : options_(std::move(options)), store_(std::move(store)) {}

  // Loads every image file of the persist directory (Create only, before any other call).
  absl::Status Preload();

  absl::StatusOr<RegisterResult> Register(ImageKind kind, std::string_view bytes,
                                          std::string_view name, ValidationReport* rejected,
                                          std::string* rejected_path);
  absl::StatusOr<std::shared_ptr<const CachedImage>> Acquire(std::string_view id,
                                                             std::string_view field);
  absl::StatusOr<ImageInfo> Get(std::string_view id) const;
  bool Remove(std::string_view id);
  std::vector<ImageInfo> List() const;
  uint64_t bytes() const {
    absl::ReaderMutexLock lock(&mu_);
    return bytes_;
  }
  std::vector<std::string> preload_warnings() const { return preload_warnings_; }

 private:
  struct Entry {
    std::shared_ptr<const CachedImage> image;
    int64_t executions = 0;
    int64_t last_used_unix_ns = 0;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  struct Rejection {
    absl::Status status;
    ValidationReport report;
    std::string path;                      // a tree's refused file
    std::list<std::string>::iterator lru;  // position in rejected_lru_
  };
  // One validation in progress; concurrent registrations of the same bytes wait for it.
  struct Flight {
    bool done = false;
    absl::Status status;
    std::shared_ptr<const CachedImage> image;  // when status is OK
    bool rejected = false;                     // the validator refused the bytes
    ValidationReport report;                   // when rejected
    std::string path;                          // when rejected: a tree's refused file
  };
  // What a change did, reported to the observer once the lock is released.
  struct Changes {
    std::vector<uint64_t> evicted;
    bool size_changed = false;
    std::vector<absl::Status> store_errors;
  };

  // What admission found: an ELF's validation, or a tree's (report and path of a refused file).
  struct Admission {
    Validation validation;
    std::string path;
    std::shared_ptr<const TreeImage> tree;
  };
  // The validation run by the leader of a flight, outside the lock.
  Admission Validate(ImageKind kind, std::string_view bytes) const {
    Admission a;
    if (kind == ImageKind::kTree) {
      TreeValidation t = ValidateTree(
          bytes, TreeOptions{.limits = options_.tree_limits, .validator = options_.validator});
      a.validation.status = t.status;
      a.validation.report.policy = options_.validator.policy;
      if (t.refused.has_value()) a.validation.report = *std::move(t.refused);
      a.validation.report.accepted = t.status.ok();
      a.path = std::move(t.refused_path);
      a.tree = std::move(t.tree);
    } else {
      a.validation =
          options_.validate ? options_.validate(bytes) : ValidateImage(bytes, options_.validator);
    }
    if (options_.observer.on_validated) options_.observer.on_validated(a.validation);
    return a;
  }
  // Builds the CachedImage of accepted bytes.
  absl::StatusOr<std::shared_ptr<const CachedImage>> Build(std::string id, std::string_view bytes,
                                                           std::string_view name,
                                                           Admission admission,
                                                           int64_t registered_unix_ns) const;

  void InsertLocked(std::shared_ptr<const CachedImage> image, int64_t last_used_unix_ns,
                    Changes* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TouchLocked(Entry& entry, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    entry.last_used_unix_ns = now;
    lru_.splice(lru_.begin(), lru_, entry.lru);
  }
  bool OverBudgetLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return bytes_ > options_.max_bytes || entries_.size() > options_.max_images ||
           descriptors_ > options_.max_descriptors;
  }
  // Evicts least recently used unpinned entries until the cache fits max_bytes and max_images
  // (or only pinned entries remain). Files are removed under the lock so that a concurrent
  // re-registration of the same id, which must wait for this lock, cannot have its fresh file
  // deleted.
  void EvictLocked(Changes* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes one unpinned entry (and its file); `it` is its position in lru_.
  std::list<std::string>::iterator EraseLocked(std::list<std::string>::iterator it,
                                               Changes* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RememberRejectionLocked(const std::string& key, const absl::Status& status,
                               const ValidationReport& report, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ImageInfo InfoLocked(const Entry& entry) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  void Report(const Changes& changes) ABSL_LOCKS_EXCLUDED(mu_);
  void Hit() const {
    if (options_.observer.on_hit) options_.observer.on_hit();
  }
  void Miss() const {
    if (options_.observer.on_miss) options_.observer.on_miss();
  }
  void StoreError(const absl::Status& status) const {
    if (options_.observer.on_store_error) options_.observer.on_store_error(status);
  }

  const CacheOptions options_;
  const std::optional<ImageStore> store_;
  std::vector<std::string> preload_warnings_;  // written by Preload only

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // ids, most recently used first
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t descriptors_ ABSL_GUARDED_BY(mu_) = 0;  // sum of CachedImage::descriptors()
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Rejection> rejections_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> rejected_lru_ ABSL_GUARDED_BY(mu_);

  // Serializes on_size calls so the last one reports the latest state. Taken before mu_.
  absl::Mutex size_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

absl::StatusOr<std::shared_ptr<const CachedImage>> ImageCache::Impl::Build(
    std::string id, std::string_view bytes, std::string_view name, Admission admission,
    int64_t registered_unix_ns) const {
  if (admission.tree != nullptr) {
    auto cached = std::make_shared<CachedImage>();
    cached->id = std::move(id);
    cached->name = std::string(name);
    cached->kind = ImageKind::kTree;
    cached->tree = std::move(admission.tree);
    cached->report.accepted = true;
    cached->report.policy = options_.validator.policy;
    cached->registered_unix_ns = registered_unix_ns;
    return cached;
  }
  ValidationReport& report = admission.validation.report;
  ASSIGN_OR_RETURN(std::shared_ptr<const sandbox::Image> image,
                   sandbox::Image::FromBytes(
                       bytes, std::string_view(id).substr(kImageIdPrefix.size()),
                       report.instructions_checked
                           ? sandbox::host::InstructionUse::Decoded(report.host_instructions)
                           : sandbox::host::InstructionUse::Unknown()));
  auto cached = std::make_shared<CachedImage>();
  cached->id = std::move(id);
  cached->name = std::string(name);
  cached->image = std::move(image);
  cached->report = std::move(report);
  cached->registered_unix_ns = registered_unix_ns;
  return cached;
}

void ImageCache::Impl::InsertLocked(std::shared_ptr<const CachedImage> image,
                                    int64_t last_used_unix_ns, Changes* changes) {
  const std::string id = image->id;
  bytes_ += Charge(*image);
  descriptors_ += image->descriptors();
  lru_.push_front(id);
  entries_[id] = Entry{.image = std::move(image),
                       .executions = 0,
                       .last_used_unix_ns = last_used_unix_ns,
                       .lru = lru_.begin()};
  changes->size_changed = true;
  EvictLocked(changes);
}

void ImageCache::Impl::EvictLocked(Changes* changes) {
  auto it = lru_.end();
  while (OverBudgetLocked() && it != lru_.begin()) {
    --it;
    auto entry = entries_.find(*it);
    // use_count() == 1: only the cache holds it, and new holders can only come from the cache
    // under this lock, so it cannot become pinned while we evict it.
    if (entry->second.image.use_count() > 1) continue;
    it = EraseLocked(it, changes);
  }
}

std::list<std::string>::iterator ImageCache::Impl::EraseLocked(std::list<std::string>::iterator it,
                                                               Changes* changes) {
  auto entry = entries_.find(*it);
  const uint64_t size = Charge(*entry->second.image);
  if (store_.has_value()) {
    if (absl::Status removed = store_->Remove(HexOf(*it), entry->second.image->kind);
        !removed.ok()) {
      changes->store_errors.push_back(std::move(removed));
    }
  }
  bytes_ -= size;
  descriptors_ -= entry->second.image->descriptors();
  changes->evicted.push_back(size);
  changes->size_changed = true;
  entries_.erase(entry);
  return lru_.erase(it);
}

bool ImageCache::Impl::Remove(std::string_view id) {
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    auto entry = entries_.find(AbslView(id));
    // Pinned (running, or being registered): left to the LRU, which takes it once released.
    if (entry == entries_.end() || entry->second.image.use_count() > 1) return false;
    EraseLocked(entry->second.lru, &changes);
  }
  Report(changes);
  return true;
}

void ImageCache::Impl::RememberRejectionLocked(const std::string& id, const absl::Status& status,
                                               const ValidationReport& report,
                                               const std::string& path) {
  if (rejections_.contains(id)) return;
  if (rejections_.size() >= kMaxRememberedRejections) {
    rejections_.erase(rejected_lru_.back());
    rejected_lru_.pop_back();
  }
  rejected_lru_.push_front(id);
  rejections_[id] =
      Rejection{.status = status, .report = report, .path = path, .lru = rejected_lru_.begin()};
}

ImageInfo ImageCache::Impl::InfoLocked(const Entry& entry) const {
  // Read before the copy below exists: that copy is the caller's, not a use.
  const bool in_use = entry.image.use_count() > 1;
  return ImageInfo{.image = entry.image,
                   .executions = entry.executions,
                   .last_used_unix_ns = entry.last_used_unix_ns,
                   .in_use = in_use};
}

void ImageCache::Impl::Report(const Changes& changes) {
  for (const absl::Status& error : changes.store_errors) StoreError(error);
  if (options_.observer.on_evict) {
    for (uint64_t size : changes.evicted) options_.observer.on_evict(size);
  }
  if (!changes.size_changed || !options_.observer.on_size) return;
  absl::MutexLock order(&size_mu_);
  uint64_t bytes = 0;
  int64_t images = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    bytes = bytes_;
    images = static_cast<int64_t>(entries_.size());
  }
  options_.observer.on_size(bytes, images);
}

absl::StatusOr<RegisterResult> ImageCache::Impl::Register(ImageKind kind, std::string_view bytes,
                                                          std::string_view name,
                                                          ValidationReport* rejected,
                                                          std::string* rejected_path) {
  if (bytes.size() > options_.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("image is ", bytes.size(),
                                                     " bytes, above the cache capacity of ",
                                                     options_.max_bytes, " bytes"));
  }
  std::string id = ImageIdOf(bytes);
  const std::string key = KeyOf(kind, id);

  // Either the answer is known (cached, remembered rejection, or another caller's flight), or
  // this caller leads a new flight.
  std::shared_ptr<Flight> flight;
  bool lead = false;
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = entries_.find(id); it != entries_.end() && it->second.image->kind != kind) {
      flight = std::make_shared<Flight>();
      flight->done = true;
      flight->status = absl::InvalidArgumentError(
          absl::StrCat("image ", id, ": these bytes are registered as ",
                       KindName(it->second.image->kind), " image, not as ", KindName(kind)));
    } else if (it != entries_.end()) {
      TouchLocked(it->second, NowUnixNs());
      flight = std::make_shared<Flight>();
      flight->done = true;
      flight->image = it->second.image;  // pins it before any eviction below
      // Over budget only when pinned images forced an admission; some may be released by now.
      if (OverBudgetLocked()) EvictLocked(&changes);
    } else if (auto bad = rejections_.find(key); bad != rejections_.end()) {
      rejected_lru_.splice(rejected_lru_.begin(), rejected_lru_, bad->second.lru);
      flight = std::make_shared<Flight>();
      flight->done = true;
      flight->status = bad->second.status;
      flight->rejected = true;
      flight->report = bad->second.report;
      flight->path = bad->second.path;
    } else if (auto running = flights_.find(key); running != flights_.end()) {
      flight = running->second;
      mu_.Await(absl::Condition(&flight->done));
    } else {
      flight = std::make_shared<Flight>();
      flights_.emplace(key, flight);
      lead = true;
    }
  }
  if (!lead) {
    Report(changes);
    if (flight->status.ok() || flight->rejected ||
        flight->status.code() == absl::StatusCode::kInvalidArgument) {
      Hit();
    } else {
      Miss();  // the leader failed for a reason of its own (e.g. memfd_create); nothing known
    }
    if (!flight->status.ok()) {
      if (flight->rejected && rejected != nullptr) *rejected = flight->report;
      if (flight->rejected && rejected_path != nullptr) *rejected_path = flight->path;
      return flight->status;
    }
    return RegisterResult{.image = flight->image, .already_registered = true};
  }

  Miss();
  Admission admission = Validate(kind, bytes);
  const Validation& validation = admission.validation;
  const int64_t now = NowUnixNs();
  absl::Status status = validation.status;
  std::shared_ptr<const CachedImage> image;
  if (status.ok()) {
    absl::StatusOr<std::shared_ptr<const CachedImage>> built =
        Build(id, bytes, name, admission, now);
    if (built.ok() && (*built)->descriptors() > options_.max_descriptors) {
      // Why refuse: cached, it would push every other image out and still leave the server
      // without descriptors for its runs and connections.
      status = absl::ResourceExhaustedError(absl::StrCat(
          "tree holds ", (*built)->descriptors(), " distinct files, above this server's budget of ",
          options_.max_descriptors, " open files for cached images (RLIMIT_NOFILE)"));
    } else if (built.ok()) {
      image = *std::move(built);
      // Written before the entry is visible: nobody can evict (and remove) it meanwhile. Why
      // refuse rather than serve from memory: a client told "registered" expects the image to
      // survive a restart, and an image the disk cannot hold would silently vanish then.
      if (store_.has_value()) {
        if (absl::Status written = store_->Write(HexOf(id), bytes, kind); !written.ok()) {
          StoreError(written);
          status = std::move(written);
          image = nullptr;
        }
      }
    } else {
      status = built.status();
    }
  }
  {
    absl::MutexLock lock(&mu_);
    flights_.erase(key);
    flight->status = status;
    flight->image = image;
    if (!validation.status.ok()) {
      flight->rejected = true;
      flight->report = validation.report;
      flight->path = admission.path;
      RememberRejectionLocked(key, validation.status, validation.report, admission.path);
    }
    flight->done = true;
    if (image != nullptr) InsertLocked(image, now, &changes);
  }
  Report(changes);
  if (!status.ok()) {
    if (!validation.status.ok() && rejected != nullptr) *rejected = validation.report;
    if (!validation.status.ok() && rejected_path != nullptr) *rejected_path = admission.path;
    return status;
  }
  return RegisterResult{.image = std::move(image), .already_registered = false};
}

absl::StatusOr<std::shared_ptr<const CachedImage>> ImageCache::Impl::Acquire(
    std::string_view id, std::string_view field) {
  RETURN_IF_ERROR(CheckImageId(id, field));
  std::shared_ptr<const CachedImage> image;
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(AbslView(id));
    if (it != entries_.end()) {
      Entry& entry = it->second;
      ++entry.executions;
      TouchLocked(entry, NowUnixNs());
      image = entry.image;
      // Over budget only when pinned images forced an admission; some may be released by now.
      if (OverBudgetLocked()) EvictLocked(&changes);
    }
  }
  if (image == nullptr) {
    Miss();
    return NotFound(id, field);
  }
  Hit();
  Report(changes);
  return image;
}

absl::StatusOr<ImageInfo> ImageCache::Impl::Get(std::string_view id) const {
  constexpr std::string_view kField = "image_id";
  RETURN_IF_ERROR(CheckImageId(id, kField));
  absl::ReaderMutexLock lock(&mu_);
  auto it = entries_.find(AbslView(id));
  if (it == entries_.end()) return NotFound(id, kField);
  return InfoLocked(it->second);
}

std::vector<ImageInfo> ImageCache::Impl::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<ImageInfo> infos;
  infos.reserve(lru_.size());
  for (const std::string& id : lru_) infos.push_back(InfoLocked(entries_.at(id)));
  return infos;
}

absl::Status ImageCache::Impl::Preload() {
  if (!store_.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<StoredImage> files, store_->Scan(&preload_warnings_));
  Changes changes;
  // Oldest file first, so the most recently written image ends up most recently used.
  for (const StoredImage& file : files) {
    absl::StatusOr<std::string> bytes = store_->Read(file, options_.max_bytes);
    if (!bytes.ok()) {
      preload_warnings_.push_back(absl::StrCat("skipped: ", bytes.status().message()));
      continue;
    }
    const std::string id = ImageIdOf(*bytes);
    if (HexOf(id) != file.sha256_hex) {
      preload_warnings_.push_back(
          absl::StrCat(file.path, ": skipped: content is ", id, ", not the id its name claims"));
      continue;
    }
    // Re-validated: the file may predate a stricter validator, or have been altered on disk.
    Admission admission = Validate(file.kind, *bytes);
    if (!admission.validation.status.ok()) {
      preload_warnings_.push_back(
          absl::StrCat(file.path, ": skipped: rejected: ", admission.validation.status.message()));
      continue;
    }
    absl::StatusOr<std::shared_ptr<const CachedImage>> image =
        Build(id, *bytes, "", std::move(admission), file.mtime_unix_ns);
    if (!image.ok()) {
      preload_warnings_.push_back(absl::StrCat(file.path, ": skipped: ", image.status().message()));
      continue;
    }
    absl::MutexLock lock(&mu_);
    const size_t before = changes.evicted.size();
    InsertLocked(*std::move(image), file.mtime_unix_ns, &changes);
    if (changes.evicted.size() > before) {
      preload_warnings_.push_back(
          absl::StrCat("evicted ", changes.evicted.size() - before,
                       " older preloaded image(s) (files removed) to stay within ",
                       options_.max_bytes, " bytes"));
    }
  }
  Report(changes);
  return absl::OkStatus();
}

ImageCache::ImageCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageCache::~ImageCache() = default;

absl::StatusOr<std::unique_ptr<ImageCache>> ImageCache::Create(CacheOptions options) {
  if (options.max_bytes == 0) return absl::InvalidArgumentError("cache max_bytes: must be > 0");
  if (options.max_images == 0) return absl::InvalidArgumentError("cache max_images: must be > 0");
  std::optional<ImageStore> store;
  if (!options.persist_dir.empty()) {
    ASSIGN_OR_RETURN(store, ImageStore::Open(options.persist_dir));
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(store));
  RETURN_IF_ERROR(impl->Preload());
  return std::unique_ptr<ImageCache>(new ImageCache(std::move(impl)));
}

absl::StatusOr<RegisterResult> ImageCache::Register(std::string_view bytes, std::string_view name,
                                                    ValidationReport* rejected) {
  return impl_->Register(ImageKind::kElf, bytes, name, rejected, nullptr);
}

absl::StatusOr<RegisterResult> ImageCache::RegisterTree(std::string_view bytes,
                                                        std::string_view name,
                                                        ValidationReport* rejected,
                                                        std::string* rejected_path) {
  return impl_->Register(ImageKind::kTree, bytes, name, rejected, rejected_path);
}

uint64_t CachedImage::descriptors() const {
  return kind == ImageKind::kTree ? tree->tree->content_count() : 1;
}

uint64_t CachedImage::size_bytes() const {
  return kind == ImageKind::kTree ? tree->archive_bytes : image->size_bytes();
}

uint64_t ImageCache::ChargeForTree(const TreeImage& tree) {
  constexpr uint64_t kEntryOverhead = 4096;
  constexpr uint64_t kNodeOverhead = 256;  // a node, its name, its path in the index
  return tree.memory_bytes() + kEntryOverhead + kNodeOverhead * tree.tree->node_count();
}

absl::StatusOr<std::shared_ptr<const CachedImage>> ImageCache::Acquire(std::string_view id,
                                                                       std::string_view field) {
  return impl_->Acquire(id, field);
}

absl::StatusOr<ImageInfo> ImageCache::Get(std::string_view id) const { return impl_->Get(id); }

std::vector<ImageInfo> ImageCache::List() const { return impl_->List(); }

bool ImageCache::Remove(std::string_view id) { return impl_->Remove(id); }

uint64_t ImageCache::ChargeFor(uint64_t size_bytes) {
  constexpr uint64_t kPage = 4096;
  constexpr uint64_t kEntryOverhead = 4096;
  return (size_bytes + kPage - 1) / kPage * kPage + kEntryOverhead;
}

uint64_t ImageCache::bytes() const { return impl_->bytes(); }

std::vector<std::string> ImageCache::preload_warnings() const { return impl_->preload_warnings(); }

}  // namespace zerocell::image
