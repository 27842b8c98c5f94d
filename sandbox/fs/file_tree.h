// An immutable read-only file tree (a tree image's content): directories, regular files, symlinks.
#ifndef ZEROCELL_SANDBOX_FS_FILE_TREE_H_
#define ZEROCELL_SANDBOX_FS_FILE_TREE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::fs {

enum class NodeType : uint8_t { kDirectory, kRegular, kSymlink };

// Bounds a tree is built within; the builder refuses (INVALID_ARGUMENT / RESOURCE_EXHAUSTED,
// naming the path) whatever crosses them.
struct TreeLimits {
  static constexpr size_t kMaxNameBytes = 255;   // NAME_MAX
  static constexpr size_t kMaxPathBytes = 4095;  // PATH_MAX without the NUL
  static constexpr size_t kMaxSymlinkBytes = 4095;
  uint64_t max_nodes = 100000;                   // directories + files + symlinks
  uint64_t max_total_bytes = uint64_t{1} << 30;  // sum of regular files' sizes
};

// Shared by every run that mounts the tree, so it is never mutated after Build. Node ids are
// dense (0 = the root directory); the inode number a guest sees is id + 1.
class FileTree {
 public:
  using NodeId = uint32_t;
  static constexpr NodeId kRoot = 0;

  struct Node {
    NodeType type = NodeType::kDirectory;
    uint32_t mode = 0;      // permission bits only (07777)
    int64_t mtime_sec = 0;  // as archived: part of the content, so deterministic
    int64_t mtime_nsec = 0;
    uint64_t size = 0;           // regular: content bytes; symlink: target bytes; directory: 0
    NodeId parent = kRoot;       // the root is its own parent
    std::string name;            // empty for the root
    std::string symlink_target;  // symlinks only, verbatim (relative or absolute)
    // Directories only: children sorted by name (byte order), for lookup and listing.
    std::vector<std::pair<std::string, NodeId>> children;
    // Regular files only: index into the content table (hard links share one).
    uint32_t content = 0;
  };

  const Node& node(NodeId id) const { return nodes_[id]; }
  size_t node_count() const { return nodes_.size(); }
  // Distinct file contents, each one sealed memfd held open while the tree lives.
  size_t content_count() const { return contents_.size(); }
  uint64_t total_bytes() const { return total_bytes_; }

  // The child `name` of directory `dir` (no symlink resolution, no "." or ".."), or nullopt.
  std::optional<NodeId> Child(NodeId dir, std::string_view name) const;
  // Looks up a normalized relative path ("usr/bin/sh"; "" is the root) without following any
  // symlink: for callers that already resolved it (the builder, tests, admission reports).
  std::optional<NodeId> Find(std::string_view path) const;
  // "usr/bin/sh" for a node ("" for the root).
  std::string PathOf(NodeId id) const;

  // A sealed memfd (F_SEAL_WRITE|SHRINK|GROW|SEAL) holding the regular file's bytes; owned by
  // the tree, valid as long as it lives. Readers use pread; runs may inject a duplicate of it
  // into a guest (sealed, so no guest can change what another one reads).
  int ContentFd(NodeId id) const;

 private:
  friend class FileTreeBuilder;
  FileTree() = default;
  std::vector<Node> nodes_;
  std::vector<std::shared_ptr<const sys::UniqueFd>> contents_;
  uint64_t total_bytes_ = 0;
};

// Builds a FileTree from entries in any order (an archive's order). Paths are relative and
// normalized: components separated by single '/', none empty, "." or "..", none longer than
// NAME_MAX, no NUL; a trailing '/' and a leading "./" or "/" are accepted and dropped. Missing
// parent directories are created (mode 0755, mtime 0) and take the archive's values when their
// own entry comes later. A second entry for the same path is refused, as is an entry below a
// non-directory. Errors name the path.
class FileTreeBuilder {
 public:
  explicit FileTreeBuilder(TreeLimits limits = {});

  absl::Status AddDirectory(std::string_view path, uint32_t mode, int64_t mtime_sec = 0,
                            int64_t mtime_nsec = 0);
  // Copies `content` into a sealed memfd at once (the builder does not keep the bytes).
  absl::Status AddFile(std::string_view path, uint32_t mode, std::string_view content,
                       int64_t mtime_sec = 0, int64_t mtime_nsec = 0);
  // The file's bytes come from `read(buf, len)` (bytes read, 0 at the end, or a status) until
  // it has delivered `size` bytes, for archive readers that stream; fewer or more bytes than
  // `size` is INVALID_ARGUMENT naming the path.
  using ReadFn = absl::FunctionRef<absl::StatusOr<size_t>(char* buf, size_t len)>;
  absl::Status AddFileFrom(std::string_view path, uint32_t mode, uint64_t size, ReadFn read,
                           int64_t mtime_sec = 0, int64_t mtime_nsec = 0);
  // `target` is stored verbatim; non-empty, at most kMaxSymlinkBytes, no NUL.
  absl::Status AddSymlink(std::string_view path, std::string_view target, int64_t mtime_sec = 0,
                          int64_t mtime_nsec = 0);
  // A second name for the regular file at `existing` (added before): they share their bytes.
  absl::Status AddHardLink(std::string_view path, std::string_view existing);

  absl::StatusOr<std::shared_ptr<const FileTree>> Build() &&;

  // "a/b" for an accepted spelling, or INVALID_ARGUMENT naming it.
  static absl::StatusOr<std::string> NormalizePath(std::string_view path);

 private:
  absl::StatusOr<FileTree::NodeId> AddNode(std::string_view path, FileTree::Node node);
  absl::StatusOr<FileTree::NodeId> EnsureDirectory(std::string_view normalized);

  TreeLimits limits_;
  std::unique_ptr<FileTree> tree_;
  std::vector<bool> implicit_;  // directories created for a child, not yet declared
  absl::flat_hash_map<std::string, FileTree::NodeId> by_path_;
};

}  // namespace zerocell::sandbox::fs

#endif  // ZEROCELL_SANDBOX_FS_FILE_TREE_H_
