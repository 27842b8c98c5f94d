// Persistence of accepted images for the cache: one <hex>.elf or <hex>.tar file per image.
#ifndef ZEROCELL_IMAGE_IMAGE_STORE_H_
#define ZEROCELL_IMAGE_IMAGE_STORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "image/image_id.h"

namespace zerocell::image {

// One <64 lowercase hex>.elf (a program) or .tar (a tree) file found by ImageStore::Scan.
struct StoredImage {
  std::string path;
  ImageKind kind = ImageKind::kElf;
  std::string sha256_hex;  // from the file name, not yet checked against the content
  int64_t mtime_unix_ns = 0;
};

// Not thread-safe by itself: the cache serializes removals with its own lock, and writes only
// ever target ids no other thread is writing or removing (its single-flight guarantees that).
// Files written here are 0600 in a 0700 directory: images may be someone's private programs.
class ImageStore {
 public:
  // Uses `dir`, creating it (0700, one level) when missing. Errors name the path.
  static absl::StatusOr<ImageStore> Open(std::string dir);

  const std::string& dir() const { return dir_; }

  // Removes temp files left by an interrupted Write and lists the image files, oldest first.
  // Anything surprising (a removed temp file, an *.elf whose name is not a sha256 hex, a symlink
  // or non-regular *.elf) is described in `warnings`; other files are ignored.
  absl::StatusOr<std::vector<StoredImage>> Scan(std::vector<std::string>* warnings) const;

  // The file's bytes; refuses symlinks, non-regular files and files above `max_bytes`.
  absl::StatusOr<std::string> Read(const StoredImage& image, uint64_t max_bytes) const;

  // Writes <hex>.elf (<hex>.tar for a tree) atomically: a 0600 temp file in the same directory,
  // then rename, so a crash leaves either the whole file or a temp file that Scan removes. No
  // fsync: preload re-hashes every file, so a torn file after power loss is skipped, never
  // trusted. On failure the temp file is removed and no file is created: RESOURCE_EXHAUSTED when
  // the file system is full (ENOSPC, EDQUOT, EFBIG), INTERNAL otherwise; the message names the
  // directory, the step, strerror and the errno name ("... No space left on device (ENOSPC)").
  absl::Status Write(std::string_view sha256_hex, std::string_view bytes,
                     ImageKind kind = ImageKind::kElf) const;

  // Deletes <hex>.elf (.tar); a missing file is not an error.
  absl::Status Remove(std::string_view sha256_hex, ImageKind kind = ImageKind::kElf) const;

 private:
  explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(std::string_view sha256_hex, ImageKind kind) const;

  std::string dir_;
};

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_IMAGE_STORE_H_
