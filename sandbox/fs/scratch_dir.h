// A run's writable scratch directory: an in-memory tree of directories, regular files and
// symlinks with byte and file-count quotas, owned by the supervisor and dropped with the run.
#ifndef ZEROCELL_SANDBOX_FS_SCRATCH_DIR_H_
#define ZEROCELL_SANDBOX_FS_SCRATCH_DIR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sandbox/fs/file_tree.h"

namespace zerocell::sandbox::fs {

// What the quotas saw: sizes now and at most, and whether a call was cut short or refused.
struct ScratchUsage {
  uint64_t bytes = 0, peak_bytes = 0;  // sum of regular files' sizes (open unlinked ones too)
  uint64_t files = 0, peak_files = 0;  // files, directories and symlinks (not the root)
  bool bytes_quota_exceeded = false;
  bool files_quota_exceeded = false;
};

// Nothing here touches the host: file bytes live in std::strings, names and modes in maps, and
// stat values are fixed (times 0, ownership the caller's). Ids are never reused within a run, so
// a stale id (a removed directory a descriptor or the cwd still names) is detected, not aliased.
// Errors are the kernel's errnos (0 for success), negative where a byte count is returned.
class ScratchDir {
 public:
  using Id = uint32_t;
  static constexpr Id kRoot = 0;
  static constexpr uint32_t kUmask = 022;  // the guest's fixed umask (process_handlers.cc)

  ScratchDir(std::string path, uint64_t max_bytes, uint64_t max_files);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Where the guest sees it: an absolute normalized path.
  const std::string& path() const { return path_; }

  // False for an id that was removed (or never made).
  bool Exists(Id id) const { return nodes_.count(id) != 0; }
  // Of an existing id (a removed one reads as an empty directory with no links).
  NodeType type(Id id) const;
  uint32_t mode(Id id) const;
  uint64_t size(Id id) const;
  uint32_t nlink(Id id) const;
  const std::string& symlink_target(Id id) const;
  // A directory's parent (the root's is the root); the root for a removed id.
  Id parent(Id id) const;
  // The guest path of a linked node (e.g. "/tmp/a/b"); for a removed one, its last path with
  // " (deleted)" as Linux shows it.
  std::string PathOf(Id id) const;

  std::optional<Id> Lookup(Id dir, std::string_view name) const;
  // A directory's children, by name (no "." or "..").
  std::vector<std::pair<std::string, Id>> Children(Id dir) const;

  // Makes `name` in `dir`: a regular file, a directory or a symlink to `target`. Permission bits
  // `mode` are masked by the umask (not for symlinks: 0777). EEXIST, ENOENT (dir removed),
  // ENOTDIR, ENAMETOOLONG, EDQUOT (files quota), EACCES (dir not writable).
  int Create(Id dir, std::string_view name, NodeType type, uint32_t mode, std::string_view target,
             Id* out);
  // unlink (`want_dir` false: EISDIR for a directory) or rmdir (true: ENOTDIR, ENOTEMPTY).
  int Remove(Id dir, std::string_view name, bool want_dir);
  // rename(2) within the scratch; `noreplace` is RENAME_NOREPLACE. EINVAL for a directory moved
  // into itself, ENOTEMPTY, EISDIR, ENOTDIR, EEXIST as the kernel.
  int Rename(Id from_dir, std::string_view from, Id to_dir, std::string_view to, bool noreplace);
  int Chmod(Id id, uint32_t mode);

  // Reads up to `len` bytes at `offset` of a regular file into `out` (holes are zeros).
  uint64_t Read(Id file, uint64_t offset, uint64_t len, std::string* out) const;
  // Writes `data` at `offset`, growing the file: what fits the byte quota is written (a short
  // count), nothing fits: -EDQUOT. -EFBIG past the largest offset.
  int64_t Write(Id file, uint64_t offset, std::string_view data);
  // Sets the size: growth beyond the byte quota is -EDQUOT (nothing changes).
  int Truncate(Id file, uint64_t size);

  // Keeps a node's bytes while a descriptor (or the cwd) refers to it, also once unlinked: the
  // node goes when the last holder drops the handle and no name links it.
  std::shared_ptr<const void> Hold(Id id);

  ScratchUsage usage() const { return usage_; }
  uint64_t max_bytes() const { return max_bytes_; }
  uint64_t max_files() const { return max_files_; }

 private:
  struct Node {
    NodeType type = NodeType::kDirectory;
    uint32_t mode = 0;
    Id parent = kRoot;
    std::string name;    // last name it was linked under
    bool linked = true;  // has a name in a directory (the root always)
    uint32_t holds = 0;  // descriptors and cwds referring to it
    std::string data;    // regular files: the bytes; symlinks: the target
    std::map<std::string, Id, std::less<>> children;  // directories, by name
  };
  const Node* Find(Id id) const;
  Node* Find(Id id);
  // Drops `id` when it is neither linked nor held: its bytes and its file count go.
  void MaybeDrop(Id id);
  // `name` is not used after the erase: it may be the erased map key itself.
  void Unlink(Id dir, const std::string& name);
  bool IsAncestor(Id ancestor, Id id) const;  // ancestor == id counts
  void Grow(uint64_t bytes);

  std::string path_;
  uint64_t max_bytes_, max_files_;
  std::unordered_map<Id, Node> nodes_;  // pointer-stable: handlers keep Node* across inserts
  Id next_id_ = kRoot + 1;
  ScratchUsage usage_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for holds outliving us
};

}  // namespace zerocell::sandbox::fs

#endif  // ZEROCELL_SANDBOX_FS_SCRATCH_DIR_H_
