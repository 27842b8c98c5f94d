// Builds an Image: checks the ELF, copies it into a sealed memfd and hashes it.
#include "sandbox/image.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/errno_status.h"
#include "base/sha256.h"
#include "base/status_macros.h"

namespace zerocell::sandbox {
namespace {

// Seals that make the memfd immutable: no write, no resize, no removing the seals. Sandboxes
// map it after the check, so its bytes must be the ones that were checked.
constexpr int kImageSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;

// errno of a failed call on `path`, as a status naming both.
absl::Status PathError(int error, const std::string& path, absl::string_view what) {
  absl::Status status = ErrnoStatus(error, absl::StrCat(path, ": ", what));
  // A path through a non-directory names no file: NOT_FOUND, as for ENOENT.
  if (error == ENOTDIR) return absl::NotFoundError(status.message());
  return status;
}

absl::Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write to the image memfd");
    }
    if (n == 0) return absl::InternalError("write to the image memfd made no progress");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadImageFile(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
  int raw = -1;
  do {
    raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (raw < 0 && errno == EINTR);
  if (raw < 0) return PathError(errno, path, "cannot open the image file");
  const sys::UniqueFd fd(raw);

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return PathError(errno, path, "cannot stat the image file");
  if (S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": is a directory, not an image file"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a regular file, cannot be an image"));
  }
  // ParseElf refuses larger images anyway; the clamp also keeps limit + 1 from overflowing.
  const uint64_t limit = std::min(max_bytes, elf::kMaxImageBytes);
  if (static_cast<uint64_t>(st.st_size) > limit) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": image is ", st.st_size,
                                                   " bytes, above the limit of ", limit, " bytes"));
  }

  // One spare byte past the limit detects a file that grew after fstat.
  std::string bytes(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t used = 0;
  while (true) {
    if (used == bytes.size()) {
      if (used > limit) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": image grew above the limit of ", limit, " bytes while read"));
      }
      bytes.resize(std::min<uint64_t>(uint64_t{2} * used, limit + 1));
    }
    const ssize_t n = ::read(fd.get(), bytes.data() + used, bytes.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PathError(errno, path, "cannot read the image file");
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  bytes.resize(used);
  return bytes;
}

absl::StatusOr<std::shared_ptr<const Image>> Image::FromBytes(std::string_view bytes,
                                                              std::string_view sha256_hex_known,
                                                              host::InstructionUse use) {
  ASSIGN_OR_RETURN(elf::ElfLayout layout, elf::ParseElf(bytes));
  ASSIGN_OR_RETURN(std::shared_ptr<Image> image,
                   Seal(bytes, std::move(layout), sha256_hex_known, use));
  return image;
}

absl::StatusOr<std::shared_ptr<const Image>> Image::DynamicFromBytes(
    std::string_view bytes, std::shared_ptr<const Image> interpreter,
    std::string_view sha256_hex_known, host::InstructionUse use) {
  if (interpreter == nullptr) return absl::InvalidArgumentError("interpreter: missing");
  ASSIGN_OR_RETURN(elf::ElfLayout layout, elf::ParseElf(bytes, elf::ElfRole::kTreeMember));
  if (layout.interpreter.empty()) {
    return absl::InvalidArgumentError("not dynamically linked: the program has no PT_INTERP");
  }
  RETURN_IF_ERROR(launch::CheckInterpreter(interpreter->layout()));
  const host::InstructionUse& theirs = interpreter->instruction_use();
  use = {use.known && theirs.known, use.bits | theirs.bits};
  ASSIGN_OR_RETURN(std::shared_ptr<Image> image,
                   Seal(bytes, std::move(layout), sha256_hex_known, use));
  image->interpreter_ = std::move(interpreter);
  return image;
}

absl::StatusOr<std::shared_ptr<Image>> Image::Seal(std::string_view bytes, elf::ElfLayout layout,
                                                   std::string_view sha256_hex_known,
                                                   host::InstructionUse use) {
  std::string sha256_hex =
      sha256_hex_known.empty() ? base::Sha256Hex(bytes) : std::string(sha256_hex_known);

  sys::UniqueFd memfd(::memfd_create("zerocell-image", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd.valid()) return ErrnoStatus(errno, "memfd_create for the image");
  RETURN_IF_ERROR(WriteAll(memfd.get(), bytes));
  // Executable segments' partial pages, cleaned, after the ELF bytes (see launch::CleanPages).
  constexpr uint64_t kPage = launch::kPageSize;
  std::vector<launch::CleanPages> clean = launch::PlanCleanPages(layout, bytes.size());
  std::string pages;
  for (size_t i = 0; i < clean.size(); ++i) {
    const elf::LoadSegment& seg = layout.segments[i];
    if (clean[i].head) pages += launch::CleanPage(bytes, seg, seg.offset & ~(kPage - 1));
    if (clean[i].tail)
      pages += launch::CleanPage(bytes, seg, (seg.offset + seg.filesz - 1) & ~(kPage - 1));
  }
  if (!pages.empty()) {
    pages.insert(0, (kPage - bytes.size() % kPage) % kPage, '\0');  // to the next page
    RETURN_IF_ERROR(WriteAll(memfd.get(), pages));
  }
  if (::fcntl(memfd.get(), F_ADD_SEALS, kImageSeals) != 0) {
    return ErrnoStatus(errno, "sealing the image memfd (F_ADD_SEALS)");
  }
  // Private constructor: make_shared cannot reach it.
  return std::shared_ptr<Image>(new Image(std::move(layout), std::move(clean), std::move(memfd),
                                          bytes.size(), std::move(sha256_hex), use));
}

absl::StatusOr<std::shared_ptr<const Image>> Image::FromFile(const std::string& path,
                                                             host::InstructionUse use) {
  ASSIGN_OR_RETURN(std::string bytes, ReadImageFile(path));
  absl::StatusOr<std::shared_ptr<const Image>> image = FromBytes(bytes, {}, use);
  if (!image.ok()) {
    return absl::Status(image.status().code(), absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

}  // namespace zerocell::sandbox
