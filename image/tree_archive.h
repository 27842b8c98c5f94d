// Reads a tar archive (ustar, pax, GNU) with libarchive into a FileTree, checking every entry.
#ifndef ZEROCELL_IMAGE_TREE_ARCHIVE_H_
#define ZEROCELL_IMAGE_TREE_ARCHIVE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandbox/fs/file_tree.h"

namespace zerocell::image {

// Reads `archive` (an uncompressed tar: ustar, pax or GNU, long names and sparse files included)
// entry by entry, streaming each file's bytes into the tree's sealed memfds (memory stays bounded
// by the tree's own content, never a second copy of it). The rules:
//   - paths are normalized by FileTreeBuilder::NormalizePath ("./a", "/a" and "a/" are "a";
//     a "..", "." or empty component is refused);
//   - directories, regular files (sparse: holes read as zeros), symlinks and hard links (to a
//     regular file earlier in the archive) only. Character and block devices, FIFOs and sockets
//     are refused, not dropped: a tree image is content-addressed, and an id whose tree silently
//     lacks entries of its archive would surprise whoever built it;
//   - a symlink target may not leave the tree lexically: a relative target is resolved from the
//     link's directory and an absolute one from the tree's root ("/" is the root of the guest's
//     view, where the tree is mounted at "/"), and a ".." above the root is refused. Targets are
//     stored verbatim; the guest's path resolution follows them inside its own view only;
//   - `limits` bounds the entry count and the sum of file sizes (sparse holes count);
//   - a path appearing twice is refused.
// Errors are INVALID_ARGUMENT (RESOURCE_EXHAUSTED for a limit) and start with the entry's index
// and path: `tree entry 12 "usr/bin/x": symlink target "../../../etc" leaves the tree`.
absl::StatusOr<std::shared_ptr<const sandbox::fs::FileTree>> ReadTreeArchive(
    std::string_view archive, const sandbox::fs::TreeLimits& limits);

// Checks a symlink's target by the rule above. `link_path` is the link's normalized path.
absl::Status CheckSymlinkTarget(std::string_view link_path, std::string_view target);

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_TREE_ARCHIVE_H_
