// Per-client image namespaces over the shared image cache (issue 14, finding 7): which images
// each client may see and execute, with that client's own name, counts and times for them.
#ifndef ZEROCELL_SERVER_IMAGE_NAMESPACES_H_
#define ZEROCELL_SERVER_IMAGE_NAMESPACES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace zerocell::server {

// One image as one namespace sees it.
struct NamespacedImage {
  std::string id;    // "sha256:<hex>"
  std::string name;  // this namespace's label (its first registration's)
  int64_t registered_unix_ns = 0;
  int64_t executions = 0;  // by this namespace's clients, since start
  int64_t last_used_unix_ns = 0;
  int running = 0;            // this namespace's Executes of it now
  uint64_t charge_bytes = 0;  // what it costs against the namespace's bound (the cache's charge)
};

// Charge of a cached image (ImageCache::ChargeFor of its size); 0 when the cache lacks it.
using ChargeOf = std::function<uint64_t(absl::string_view id)>;

// Thread-safe. The cache stays one content-addressed store shared by all namespaces (an image
// is validated and held once); this index only decides visibility and keeps per-namespace
// statistics, so that no client learns another's names, counts or use. An image the cache
// evicted is dropped from every namespace when next listed or looked up (Forget).
class ImageNamespaces {
 public:
  // `persist_dir` empty: memory only. Otherwise memberships are kept in
  // <persist_dir>/namespaces/<sha256 of the namespace key> (one line per image: hex id,
  // registration time, escaped name; written atomically), loaded here, so that images preloaded
  // after a restart stay visible to the clients that registered them. Unreadable or malformed
  // files are skipped with a warning.
  //
  // `max_bytes` bounds each namespace: the charges of its images (ChargeOf; loaded memberships
  // are charged through `charge_of`). Why a bound: the cache is shared, and without it one
  // client registering many images would push every other client's images out of the LRU.
  static absl::StatusOr<std::unique_ptr<ImageNamespaces>> Create(
      const std::string& persist_dir, uint64_t max_bytes, const ChargeOf& charge_of,
      std::vector<std::string>* warnings);

  // Makes `id` (costing `charge_bytes`) visible in `ns`. Returns true when it was not before (a
  // first registration there, which also sets its name), false when it already was (a use).
  // A new image that takes the namespace over its bound first drops the namespace's images the
  // cache no longer holds (ChargeOf 0: evicted by the shared LRU), then evicts its least
  // recently used images that are not running, oldest first; the evicted ids no other namespace
  // holds are appended to *orphans (the caller drops them from the cache, so that they stop taking
  // room there). RESOURCE_EXHAUSTED naming --image_namespace_max_bytes, with nothing changed,
  // when the image alone is above the bound or the namespace's running images leave no room.
  // The persist error, if any, in *store_error (the membership holds in memory regardless).
  absl::StatusOr<bool> Add(absl::string_view ns, absl::string_view id, absl::string_view name,
                           uint64_t charge_bytes, int64_t now_unix_ns,
                           std::vector<std::string>* orphans, absl::Status* store_error);
  // True when some namespace holds `id`.
  bool HeldByAny(absl::string_view id) const;
  // Charged bytes of `ns`'s images.
  uint64_t bytes(absl::string_view ns) const;
  uint64_t max_bytes() const { return max_bytes_; }
  bool Contains(absl::string_view ns, absl::string_view id) const;
  // An Execute of `id` by `ns` starts (executions, last use, running) / ends (running).
  void ExecutionStarted(absl::string_view ns, absl::string_view id, int64_t now_unix_ns);
  void ExecutionEnded(absl::string_view ns, absl::string_view id);
  // NOT_FOUND unless `ns` holds `id`.
  absl::StatusOr<NamespacedImage> Get(absl::string_view ns, absl::string_view id) const;
  // The images of `ns`, most recently used (or registered) first.
  std::vector<NamespacedImage> List(absl::string_view ns) const;
  // Drops `id` from every namespace (the cache no longer holds it).
  void Forget(absl::string_view id, absl::Status* store_error);

 private:
  struct Space {
    std::string file;  // persist file; empty without a persist dir
    absl::flat_hash_map<std::string, NamespacedImage> images;
    uint64_t bytes = 0;  // sum of images' charge_bytes
  };
  ImageNamespaces(std::string dir, uint64_t max_bytes, ChargeOf charge_of)
      : dir_(std::move(dir)), max_bytes_(max_bytes), charge_of_(std::move(charge_of)) {}
  bool HeldByAnyLocked(absl::string_view id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The namespace's space (created empty when `create`).
  Space* Find(absl::string_view ns, bool create) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Space* Find(absl::string_view ns) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status Persist(const Space& space) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::string dir_;  // <persist_dir>/namespaces, or empty
  const uint64_t max_bytes_;
  const ChargeOf charge_of_;  // called under mu_: must not call back into this object
  mutable absl::Mutex mu_;
  // Keyed by the SHA-256 (hex) of the namespace key: the same name the persist file has.
  absl::flat_hash_map<std::string, Space> spaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_IMAGE_NAMESPACES_H_
