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
    const std::string& persist_dir, std::vector<std::string>* warnings) {
  if (persist_dir.empty()) return std::unique_ptr<ImageNamespaces>(new ImageNamespaces(""));
  const std::string dir = absl::StrCat(persist_dir, "/namespaces");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat(dir, ": cannot create the namespace directory"));
  }
  std::unique_ptr<ImageNamespaces> out(new ImageNamespaces(dir));
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

bool ImageNamespaces::Add(absl::string_view ns, absl::string_view id, absl::string_view name,
                          int64_t now_unix_ns, absl::Status* store_error) {
  absl::MutexLock lock(&mu_);
  Space* space = Find(ns, true);
  auto [it, inserted] = space->images.try_emplace(std::string(id));
  if (!inserted) {
    it->second.last_used_unix_ns = std::max(it->second.last_used_unix_ns, now_unix_ns);
    return false;
  }
  it->second.id = std::string(id);
  it->second.name = std::string(name);
  it->second.registered_unix_ns = now_unix_ns;
  it->second.last_used_unix_ns = now_unix_ns;
  *store_error = Persist(*space);
  return true;
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
    if (space.images.erase(id) == 0) continue;
    if (absl::Status s = Persist(space); !s.ok() && store_error->ok()) *store_error = s;
  }
}

}  // namespace zerocell::server
