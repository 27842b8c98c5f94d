// Tar archive to FileTree with libarchive: entry types, symlink containment, streamed file bytes.
#include "image/tree_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"

namespace zerocell::image {
namespace {

using sandbox::fs::FileTreeBuilder;

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

std::string LibarchiveError(archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? std::string(text) : std::string("unknown libarchive error");
}

// "tree entry 3 \"usr/bin/sh\": " + what, keeping the builder's status code.
absl::Status AtEntry(int64_t index, std::string_view path, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("tree entry ", index, " \"", A(path), "\": ", status.message()));
}

std::string_view TypeName(mode_t type) {
  switch (type) {
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a FIFO";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "of an unknown type";
  }
}

// One entry of the archive into the builder.
absl::Status AddEntry(archive* a, archive_entry* entry, std::string_view path,
                      FileTreeBuilder& builder) {
  const int64_t mtime = archive_entry_mtime(entry);
  const int64_t mtime_nsec =
      archive_entry_mtime_is_set(entry) ? archive_entry_mtime_nsec(entry) : 0;
  const uint32_t mode = archive_entry_perm(entry);
  if (const char* existing = archive_entry_hardlink(entry); existing != nullptr) {
    return builder.AddHardLink(path, existing);
  }
  const mode_t type = archive_entry_filetype(entry);
  switch (type) {
    case AE_IFDIR:
      return builder.AddDirectory(path, mode, mtime, mtime_nsec);
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr) target = archive_entry_symlink_utf8(entry);
      if (target == nullptr) return absl::InvalidArgumentError("a symlink without a target");
      ASSIGN_OR_RETURN(std::string link, FileTreeBuilder::NormalizePath(path));
      RETURN_IF_ERROR(CheckSymlinkTarget(link, target));
      return builder.AddSymlink(path, target, mtime, mtime_nsec);
    }
    case AE_IFREG: {
      if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0) {
        return absl::InvalidArgumentError("a regular file without a size");
      }
      const auto size = static_cast<uint64_t>(archive_entry_size(entry));
      // archive_read_data fills a sparse file's holes with zeros.
      return builder.AddFileFrom(
          path, mode, size,
          [a](char* buf, size_t len) -> absl::StatusOr<size_t> {
            const la_ssize_t n = archive_read_data(a, buf, len);
            if (n < 0) {
              return absl::InvalidArgumentError(
                  absl::StrCat("reading its bytes: ", LibarchiveError(a)));
            }
            return static_cast<size_t>(n);
          },
          mtime, mtime_nsec);
    }
    default:
      // Why refused: the guest's view holds nothing of the host, and a device node or FIFO
      // would be a hole in that (or silently missing content if dropped).
      return absl::InvalidArgumentError(
          absl::StrCat("is ", A(TypeName(type)),
                       ": a tree holds only directories, regular files, symlinks and hard links"));
  }
}

}  // namespace

absl::Status CheckSymlinkTarget(std::string_view link_path, std::string_view target) {
  // Depth below the tree's root where resolution starts: the link's directory for a relative
  // target, the root for an absolute one.
  int64_t depth = 0;
  if (target.empty() || target.front() != '/') {
    for (absl::string_view part : absl::StrSplit(A(link_path), '/', absl::SkipEmpty())) {
      (void)part;
      ++depth;
    }
    --depth;  // the link's own name
  }
  for (absl::string_view part : absl::StrSplit(A(target), '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      // Why: a target climbing above the tree's root would name whatever the tree is mounted
      // beside (or, spelled against the host, the host's files).
      if (--depth < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("symlink target \"", A(target), "\" leaves the tree (a \"..\" above ",
                         target.front() == '/' ? "/" : "its root", ")"));
      }
      continue;
    }
    ++depth;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const sandbox::fs::FileTree>> ReadTreeArchive(
    std::string_view bytes, const sandbox::fs::TreeLimits& limits) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (a == nullptr) return absl::ResourceExhaustedError("libarchive: archive_read_new failed");
  // Tar only (ustar, pax, GNU, v7): one format whose every variant libarchive reads; no
  // compression filter, so the id (a hash of these bytes) names exactly what is read.
  if (archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
      archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree archive: not a tar archive: ", LibarchiveError(a.get())));
  }
  FileTreeBuilder builder(limits);
  int64_t index = 0;
  for (;; ++index) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      // ARCHIVE_WARN too: a header libarchive had to guess about is not admitted.
      return absl::InvalidArgumentError(
          absl::StrCat("tree archive: entry ", index, ": ", LibarchiveError(a.get())));
    }
    const char* raw = archive_entry_pathname(entry);
    if (raw == nullptr) raw = archive_entry_pathname_utf8(entry);
    if (raw == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tree entry ", index, ": no path"));
    }
    const std::string path(raw);
    if (absl::Status added = AddEntry(a.get(), entry, path, builder); !added.ok()) {
      // The builder's messages already quote the path; prefix the index and path once.
      return AtEntry(index, path, added);
    }
  }
  if (index == 0) {
    return absl::InvalidArgumentError("tree archive: no entries (an empty tar, or not a tar)");
  }
  return std::move(builder).Build();
}

}  // namespace zerocell::image
