// Image files (programs and trees) of the cache's persist directory: atomic writes, crash
// leftovers, safe reads.
#include "image/image_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/errno_status.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::image {
namespace {

using sandbox::sys::UniqueFd;

constexpr absl::string_view kSuffix = ".elf";
constexpr absl::string_view kTreeSuffix = ".tar";
// Temp files start with a dot so they never look like an image to Scan or to a shell glob.
constexpr absl::string_view kTempPrefix = ".tmp-";

absl::Status PathError(int error, absl::string_view path, absl::string_view what) {
  return ErrnoStatus(error, absl::StrCat(path, ": ", what));
}

bool IsSha256Hex(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A failed write of an image file, as Write documents it: a full file system is
// RESOURCE_EXHAUSTED (the client may retry once space is made), anything else INTERNAL (the
// server's directory is broken; PERMISSION_DENIED or NOT_FOUND would blame the client).
absl::Status WriteError(int error, absl::string_view dir, absl::string_view step) {
  const bool full = error == ENOSPC || error == EDQUOT || error == EFBIG;
  const char* name = ::strerrorname_np(error);
  std::string message = absl::StrCat(
      "image directory ", dir, ": cannot persist the image (", step, "): ", std::strerror(error),
      " (", name != nullptr ? std::string(name) : absl::StrCat("errno ", error), ")");
  return full ? absl::ResourceExhaustedError(std::move(message))
              : absl::InternalError(std::move(message));
}

absl::Status WriteAll(int fd, std::string_view bytes, absl::string_view dir) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return WriteError(errno, dir, "write");
    }
    // write(2) returning 0 for a non-empty buffer on a regular file: treat it as a full disk.
    if (n == 0) return WriteError(ENOSPC, dir, "write made no progress");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImageStore> ImageStore::Open(std::string dir) {
  if (dir.empty()) return absl::InvalidArgumentError("image directory: empty path");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return PathError(errno, dir, "cannot create the image directory");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return PathError(errno, dir, "image directory");
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": image directory is not a directory"));
  }
  return ImageStore(std::move(dir));
}

std::string ImageStore::PathOf(std::string_view sha256_hex, ImageKind kind) const {
  return absl::StrCat(dir_, "/", absl::string_view(sha256_hex.data(), sha256_hex.size()),
                      kind == ImageKind::kTree ? kTreeSuffix : kSuffix);
}

absl::StatusOr<std::vector<StoredImage>> ImageStore::Scan(
    std::vector<std::string>* warnings) const {
  DIR* raw = ::opendir(dir_.c_str());
  if (raw == nullptr) return PathError(errno, dir_, "cannot list the image directory");
  const std::unique_ptr<DIR, int (*)(DIR*)> listing(raw, &::closedir);

  std::vector<StoredImage> found;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(listing.get());
    if (entry == nullptr) {
      if (errno != 0) return PathError(errno, dir_, "cannot list the image directory");
      break;
    }
    const absl::string_view name(entry->d_name);
    const std::string path = absl::StrCat(dir_, "/", name);
    if (absl::StartsWith(name, kTempPrefix)) {
      if (::unlink(path.c_str()) == 0) {
        warnings->push_back(
            absl::StrCat(path, ": removed a temp file left by an interrupted write"));
      } else {
        warnings->push_back(
            absl::StrCat(path, ": cannot remove leftover temp file: ", std::strerror(errno)));
      }
      continue;
    }
    const bool tree = absl::EndsWith(name, kTreeSuffix);
    if (!tree && !absl::EndsWith(name, kSuffix)) continue;
    const absl::string_view hex = name.substr(0, name.size() - kSuffix.size());
    if (!IsSha256Hex(hex)) {
      warnings->push_back(absl::StrCat(
          path, ": skipped: the name is not <sha256 as 64 lowercase hex>.elf (or .tar)"));
      continue;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      warnings->push_back(absl::StrCat(path, ": skipped: ", std::strerror(errno)));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      warnings->push_back(absl::StrCat(path, ": skipped: not a regular file"));
      continue;
    }
    found.push_back(StoredImage{
        .path = path,
        .kind = tree ? ImageKind::kTree : ImageKind::kElf,
        .sha256_hex = std::string(hex),
        .mtime_unix_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
    });
  }
  std::sort(found.begin(), found.end(), [](const StoredImage& a, const StoredImage& b) {
    return std::tie(a.mtime_unix_ns, a.path) < std::tie(b.mtime_unix_ns, b.path);
  });
  return found;
}

absl::StatusOr<std::string> ImageStore::Read(const StoredImage& image, uint64_t max_bytes) const {
  // O_NOFOLLOW: a symlink planted after Scan must not make us read a file outside the directory.
  // O_NONBLOCK: a FIFO must not hang startup; it is refused as not a regular file.
  int raw = -1;
  do {
    raw = ::open(image.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } while (raw < 0 && errno == EINTR);
  if (raw < 0) return PathError(errno, image.path, "cannot open");
  const UniqueFd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return PathError(errno, image.path, "cannot stat");
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(image.path, ": not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        image.path, ": ", st.st_size, " bytes, above the cache capacity of ", max_bytes, " bytes"));
  }
  // One spare byte detects a file that grew after fstat.
  std::string bytes(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t used = 0;
  while (used < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + used, bytes.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PathError(errno, image.path, "cannot read");
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used != static_cast<size_t>(st.st_size)) {
    return absl::AbortedError(absl::StrCat(image.path, ": changed size while read"));
  }
  bytes.resize(used);
  return bytes;
}

absl::Status ImageStore::Write(std::string_view sha256_hex, std::string_view bytes,
                               ImageKind kind) const {
  const absl::string_view hex(sha256_hex.data(), sha256_hex.size());
  std::string temp = absl::StrCat(dir_, "/", kTempPrefix, hex, "-XXXXXX");
  // mkostemp creates the file 0600 and O_EXCL, whatever the umask.
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return WriteError(errno, dir_, "create a temp file");
  absl::Status status = WriteAll(fd.get(), bytes, dir_);
  // close() can be where a quota or a network file system reports the failed write.
  if (::close(fd.release()) != 0 && status.ok()) status = WriteError(errno, dir_, "close");
  const std::string path = PathOf(sha256_hex, kind);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = WriteError(errno, dir_, "rename into place");
  }
  // Why: a failed write must leave nothing that looks like an image, not even a temp file.
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

absl::Status ImageStore::Remove(std::string_view sha256_hex, ImageKind kind) const {
  const std::string path = PathOf(sha256_hex, kind);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PathError(errno, path, "cannot remove");
  }
  return absl::OkStatus();
}

}  // namespace zerocell::image
