// The guest's file system: read-only trees mounted at guest paths, and path resolution in it.
#ifndef ZEROCELL_SANDBOX_FS_GUEST_FS_H_
#define ZEROCELL_SANDBOX_FS_GUEST_FS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sandbox/fs/executable_files.h"
#include "sandbox/fs/file_tree.h"
#include "sandbox/fs/scratch_dir.h"

namespace zerocell::sandbox::fs {

// One node as the guest reaches it: the mount it belongs to (GuestFs::kScratchMount: the
// scratch, `node` a ScratchDir::Id), its node there, and its canonical absolute guest path ("/"
// for the root; no symlink, "." or ".." in it; a scratch node's may be stale after a rename:
// GuestFs::PathOf is current).
struct Location {
  int mount = 0;
  FileTree::NodeId node = FileTree::kRoot;
  std::string path = "/";
};

// How a path is resolved (openat flags, AT_* flags).
struct ResolveOptions {
  bool follow_last = true;  // false: O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, lstat, readlink
  bool want_dir = false;    // O_DIRECTORY: the result must be a directory (ENOTDIR)
};

// What stat reports for a node; nothing of the host (docs/architecture.md "File trees").
struct NodeInfo {
  NodeType type = NodeType::kDirectory;
  uint32_t mode = 0;  // permission bits
  uint64_t size = 0;
  uint64_t ino = 0;  // node id + 1
  uint64_t dev = 0;  // per mount
  uint32_t nlink = 1;
  int64_t mtime_sec = 0, mtime_nsec = 0;
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  NodeType type = NodeType::kDirectory;
  // Where a listing resumes to return this entry next (getdents64's d_off is pos + 1), rising
  // along a listing: a tree's the index; a scratch child's its never-reused id + 2, so that
  // removing entries while reading a directory (rm -r) neither skips nor repeats the others.
  uint64_t pos = 0;
};

// Immutable once made: trees mounted read-only at absolute guest paths, later mounts covering
// earlier ones. Below every mount is a skeleton: the directories leading to each mountpoint (and
// to `extra_dirs`, e.g. the scratch path), so that a mount needs no directory in the tree below.
// Resolution is pure: nothing of the host is ever consulted, whatever the path's spelling; a
// symlink's target is resolved in this namespace too.
class GuestFs {
 public:
  static constexpr int kMaxSymlinks = 40;  // as Linux: ELOOP past it
  static constexpr size_t kMaxPath = 4095;
  static constexpr size_t kMaxName = 255;

  struct Mount {
    std::string mountpoint;  // normalized absolute path
    std::shared_ptr<const FileTree> tree;
    // The tree's admitted code pages (null: no file of it may be mapped executable).
    std::shared_ptr<const ExecutableFiles> executable = nullptr;
  };
  static constexpr int kScratchMount = -1;  // Location::mount of a scratch node
  // INVALID_ARGUMENT naming mounts[i] for a bad mountpoint or a null tree. `scratch`: the run's
  // writable directory (null: none), seen at its path over everything mounted there. It is the
  // one mutable part of an otherwise immutable namespace: one run's, used by one thread.
  static absl::StatusOr<std::unique_ptr<const GuestFs>> Create(
      std::vector<Mount> mounts, std::vector<std::string> extra_dirs = {},
      std::shared_ptr<ScratchDir> scratch = nullptr);

  Location Root() const;
  // Resolves `path` from `start` (the cwd or a directory fd's location; ignored for an absolute
  // path). 0, or the errno Linux gives: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG.
  int Resolve(const Location& start, std::string_view path, ResolveOptions options,
              Location* out) const;
  // The parent directory of `dir` ("/" for the root).
  Location Parent(const Location& dir) const;

  NodeInfo Info(const Location& at) const;
  NodeType Type(const Location& at) const;
  std::string_view SymlinkTarget(const Location& at) const;  // "" for a non-symlink
  std::string PathOf(const Location& at) const;              // current, also in the scratch
  // A tree node (never a scratch location: see IsScratch).
  const FileTree::Node& node(const Location& at) const;
  // A regular tree file's sealed memfd (FileTree::ContentFd); -1 for a scratch file.
  int ContentFd(const Location& at) const;
  // The scratch (null when none is declared) and whether `at` lies in it.
  ScratchDir* scratch() const { return scratch_.get(); }
  static bool IsScratch(const Location& at) { return at.mount == kScratchMount; }
  // A directory's entries: ".", "..", then its children by name, with mountpoints below it
  // (whether or not its tree has them) as the mounted roots; a scratch directory's children in
  // the order they were made.
  std::vector<DirEntry> List(const Location& dir) const;

  size_t mount_count() const { return mounts_.size(); }
  // True when [offset, offset + length) of the regular file at `at` is admitted code of its tree
  // (ExecutableFiles): the only file bytes a guest may map executable.
  bool MayExecute(const Location& at, uint64_t offset, uint64_t length) const;

 private:
  GuestFs() = default;
  // The child `name` of directory `dir`, as the guest sees it; false if none.
  bool Child(const Location& dir, std::string_view name, Location* out) const;
  uint64_t Dev(int mount) const { return 0x2a00 + static_cast<uint64_t>(mount); }

  // mounts_[0] is the skeleton; the caller's mounts follow, in order.
  std::vector<Mount> mounts_;
  absl::flat_hash_map<std::string, int> mount_at_;  // mountpoint -> topmost mount there
  std::shared_ptr<ScratchDir> scratch_;
};

}  // namespace zerocell::sandbox::fs

#endif  // ZEROCELL_SANDBOX_FS_GUEST_FS_H_
