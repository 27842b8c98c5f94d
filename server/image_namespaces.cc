// Per-client image namespaces over the shared image cache.
#include "server/image_namespaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/sha256.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::server {
namespace {

constexpr absl::string_view kIdPrefix = "sha256:";
constexpr absl::string_view kTempPrefix = ".tmp-";

std::string KeyHash(absl::string_view ns) {
  return base::Sha256Hex(std::string_view(ns.data(), ns.size()));
}

bool IsHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::Status WriteFileAtomically(const std::string& dir, const std::string& path,
                                 const std::string& body) {
  std::string temp = absl::StrCat(dir, "/", kTempPrefix, "XXXXXX");
  const sandbox::sys::UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat(temp, ": cannot create"));
  absl::string_view rest = body;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::unlink(temp.c_str());
      return absl::ErrnoToStatus(err, absl::StrCat(temp, ": cannot write"));
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot rename the temp file into place"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageNamespaces>> ImageNamespaces::Create(
    const std::string& persist_dir, uint64_t max_bytes, const ChargeOf& charge_of,
    std::vector<std::string>* warnings) {
  if (max_bytes == 0) {
    return absl::InvalidArgumentError("--image_namespace_max_bytes: must be > 0");
  }
  if (persist_dir.empty()) {
    return std::unique_ptr<ImageNamespaces>(new ImageNamespaces("", max_bytes, charge_of));
  }
  const std::string dir = absl::StrCat(persist_dir, "/namespaces");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat(dir, ": cannot create the namespace directory"));
  }
  std::unique_ptr<ImageNamespaces> out(new ImageNamespaces(dir, max_bytes, charge_of));
  DIR* raw = ::opendir(dir.c_str());
  if (raw == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat(dir, ": cannot list"));
  const std::unique_ptr<DIR, int (*)(DIR*)> listing(raw, &::closedir);
  absl::MutexLock lock(&out->mu_);
  while (const dirent* entry = ::readdir(listing.get())) {
    const absl::string_view file(entry->d_name);
    const std::string path = absl::StrCat(dir, "/", file);
    if (absl::StartsWith(file, kTempPrefix)) {
      ::unlink(path.c_str());  // an interrupted write; the previous file is intact
      continue;
    }
    if (!IsHex64(file)) continue;
    std::ifstream in(path);
    if (!in) {
      warnings->push_back(absl::StrCat(path, ": skipped: cannot read"));
      continue;
    }
    Space& space = out->spaces_[file];
    space.file = path;
    std::vector<NamespacedImage> loaded;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(' ', 2));
      int64_t registered = 0;
      std::string name;
      if (fields.size() != 3 || !IsHex64(fields[0]) || !absl::SimpleAtoi(fields[1], &registered) ||
          !absl::CUnescape(fields[2], &name)) {
        warnings->push_back(absl::StrCat(path, " line ", number, ": skipped: malformed"));
        continue;
      }
      NamespacedImage image;
      image.id = absl::StrCat(kIdPrefix, fields[0]);
      image.name = std::move(name);
      image.registered_unix_ns = registered;
      image.last_used_unix_ns = registered;
      // Not cached any more (evicted, or its file skipped at preload): dropped, not charged.
      image.charge_bytes = charge_of(image.id);
      if (image.charge_bytes > 0) loaded.push_back(std::move(image));
    }
    // Newest first: past the bound (a smaller --image_namespace_max_bytes than before) the
    // oldest registrations are dropped, as new ones would have evicted them.
    std::sort(loaded.begin(), loaded.end(), [](const NamespacedImage& a, const NamespacedImage& b) {
      return std::tie(b.registered_unix_ns, a.id) < std::tie(a.registered_unix_ns, b.id);
    });
    for (NamespacedImage& image : loaded) {
      if (space.bytes + image.charge_bytes > max_bytes) {
        warnings->push_back(absl::StrCat(path, ": dropped ", image.id,
                                         ": does not fit --image_namespace_max_bytes"));
        continue;
      }
      space.bytes += image.charge_bytes;
      space.images.emplace(image.id, std::move(image));
    }
  }
  return out;
}

ImageNamespaces::Space* ImageNamespaces::Find(absl::string_view ns, bool create) {
  const std::string key = KeyHash(ns);
  auto it = spaces_.find(key);
  if (it != spaces_.end()) return &it->second;
  if (!create) return nullptr;
  Space& space = spaces_[key];
  if (!dir_.empty()) space.file = absl::StrCat(dir_, "/", key);
  return &space;
}

const ImageNamespaces::Space* ImageNamespaces::Find(absl::string_view ns) const {
  auto it = spaces_.find(KeyHash(ns));
  return it == spaces_.end() ? nullptr : &it->second;
}

absl::Status ImageNamespaces::Persist(const Space& space) const {
  if (space.file.empty()) return absl::OkStatus();
  std::string body;
  for (const auto& [id, image] : space.images) {
    absl::StrAppend(&body, absl::string_view(id).substr(kIdPrefix.size()), " ",
                    image.registered_unix_ns, " ", absl::CEscape(image.name), "\n");
  }
  return WriteFileAtomically(dir_, space.file, body);
}

absl::StatusOr<bool> ImageNamespaces::Add(absl::string_view ns, absl::string_view id,
                                          absl::string_view name, uint64_t charge_bytes,
                                          int64_t now_unix_ns, std::vector<std::string>* orphans,
                                          absl::Status* store_error) {
  absl::MutexLock lock(&mu_);
  Space* space = Find(ns, true);
  if (auto it = space->images.find(id); it != space->images.end()) {
    it->second.last_used_unix_ns = std::max(it->second.last_used_unix_ns, now_unix_ns);
    return false;
  }
  if (charge_bytes > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the image is charged ", charge_bytes, " bytes, above this client's share of the cache (",
        max_bytes_, " bytes, --image_namespace_max_bytes)"));
  }
  // Images the shared LRU evicted still count here until looked up (Forget): gone for good, so
  // they go first, before any image the client can still use.
  if (space->bytes + charge_bytes > max_bytes_) {
    for (auto it = space->images.begin(); it != space->images.end();) {
      auto next = std::next(it);
      if (it->second.running == 0 && charge_of_(it->first) == 0) {
        space->bytes -= it->second.charge_bytes;
        space->images.erase(it);
      }
      it = next;
    }
  }
  // The namespace's least recently used images that are not running, oldest first, until the
  // new one fits; chosen before anything is changed, so that a refusal changes nothing.
  std::vector<const NamespacedImage*> idle;
  for (const auto& [image_id, image] : space->images) {
    if (image.running == 0) idle.push_back(&image);
  }
  std::sort(idle.begin(), idle.end(), [](const NamespacedImage* a, const NamespacedImage* b) {
    return std::tie(a->last_used_unix_ns, a->id) < std::tie(b->last_used_unix_ns, b->id);
  });
  uint64_t bytes = space->bytes;
  size_t evict = 0;
  while (bytes + charge_bytes > max_bytes_ && evict < idle.size()) {
    bytes -= idle[evict++]->charge_bytes;
  }
  if (bytes + charge_bytes > max_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this client's images fill its share of the cache (", max_bytes_,
                     " bytes, --image_namespace_max_bytes) and are running: no room for ",
                     charge_bytes, " more bytes; retry when they end"));
  }
  std::vector<std::string> evicted;
  for (size_t i = 0; i < evict; ++i) evicted.push_back(idle[i]->id);
  for (const std::string& old : evicted) space->images.erase(old);
  space->bytes = bytes + charge_bytes;
  NamespacedImage& added = space->images[std::string(id)];
  added.id = std::string(id);
  added.name = std::string(name);
  added.registered_unix_ns = now_unix_ns;
  added.last_used_unix_ns = now_unix_ns;
  added.charge_bytes = charge_bytes;
  for (std::string& old : evicted) {
    if (!HeldByAnyLocked(old)) orphans->push_back(std::move(old));
  }
  *store_error = Persist(*space);
  return true;
}

bool ImageNamespaces::HeldByAnyLocked(absl::string_view id) const {
  return std::any_of(spaces_.begin(), spaces_.end(),
                     [&](const auto& entry) { return entry.second.images.contains(id); });
}

bool ImageNamespaces::HeldByAny(absl::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  return HeldByAnyLocked(id);
}

uint64_t ImageNamespaces::bytes(absl::string_view ns) const {
  absl::ReaderMutexLock lock(&mu_);
  const Space* space = Find(ns);
  return space == nullptr ? 0 : space->bytes;
}

bool ImageNamespaces::Contains(absl::string_view ns, absl::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  const Space* space = Find(ns);
  return space != nullptr && space->images.contains(id);
}

void ImageNamespaces::ExecutionStarted(absl::string_view ns, absl::string_view id,
                                       int64_t now_unix_ns) {
  absl::MutexLock lock(&mu_);
  Space* space = Find(ns, false);
  if (space == nullptr) return;
  auto it = space->images.find(id);
  if (it == space->images.end()) return;
  it->second.executions += 1;
  it->second.running += 1;
  it->second.last_used_unix_ns = now_unix_ns;
}

void ImageNamespaces::ExecutionEnded(absl::string_view ns, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  Space* space = Find(ns, false);
  if (space == nullptr) return;
  auto it = space->images.find(id);
  if (it != space->images.end() && it->second.running > 0) it->second.running -= 1;
}

absl::StatusOr<NamespacedImage> ImageNamespaces::Get(absl::string_view ns,
                                                     absl::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  const Space* space = Find(ns);
  if (space != nullptr) {
    if (auto it = space->images.find(id); it != space->images.end()) return it->second;
  }
  return absl::NotFoundError(absl::StrCat(id, " is not in this client's namespace"));
}

std::vector<NamespacedImage> ImageNamespaces::List(absl::string_view ns) const {
  std::vector<NamespacedImage> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    const Space* space = Find(ns);
    if (space == nullptr) return out;
    out.reserve(space->images.size());
    for (const auto& [id, image] : space->images) out.push_back(image);
  }
  std::sort(out.begin(), out.end(), [](const NamespacedImage& a, const NamespacedImage& b) {
    return std::tie(b.last_used_unix_ns, a.id) < std::tie(a.last_used_unix_ns, b.id);
  });
  return out;
}

void ImageNamespaces::Forget(absl::string_view id, absl::Status* store_error) {
  absl::MutexLock lock(&mu_);
  for (auto& [key, space] : spaces_) {
    auto it = space.images.find(id);
    if (it == space.images.end()) continue;
    space.bytes -= it->second.charge_bytes;
    space.images.erase(it);
    if (absl::Status s = Persist(space); !s.ok() && store_error->ok()) *store_error = s;
  }
}

}  // namespace zerocell::server
