// Which files of a tree a guest may map executable, and where: their admitted code pages.
#ifndef ZEROCELL_SANDBOX_FS_EXECUTABLE_FILES_H_
#define ZEROCELL_SANDBOX_FS_EXECUTABLE_FILES_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sandbox/fs/file_tree.h"

namespace zerocell::sandbox::fs {

// Built by admission (image/tree_image: each admitted ELF's executable segments, page-rounded,
// whose pages hold only the segment's bytes and zeros), then shared read-only by runs. A file
// not listed is never mapped executable.
class ExecutableFiles {
 public:
  // [page_offset, page_end): page-aligned file offsets of one admitted executable segment.
  void Add(FileTree::NodeId node, uint64_t page_offset, uint64_t page_end) {
    ranges_[node].emplace_back(page_offset, page_end);
  }
  // True when [offset, offset + length) of `node` lies inside one of its admitted ranges.
  bool Allows(FileTree::NodeId node, uint64_t offset, uint64_t length) const {
    auto it = ranges_.find(node);
    if (it == ranges_.end() || length == 0 || offset + length < offset) return false;
    for (const auto& [lo, hi] : it->second) {
      if (offset >= lo && offset + length <= hi) return true;
    }
    return false;
  }
  size_t size() const { return ranges_.size(); }

 private:
  absl::flat_hash_map<FileTree::NodeId, std::vector<std::pair<uint64_t, uint64_t>>> ranges_;
};

}  // namespace zerocell::sandbox::fs

#endif  // ZEROCELL_SANDBOX_FS_EXECUTABLE_FILES_H_
