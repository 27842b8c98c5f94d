// A tree image: a tar archive read into a FileTree, with every ELF file in it admitted.
#ifndef ZEROCELL_IMAGE_TREE_IMAGE_H_
#define ZEROCELL_IMAGE_TREE_IMAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "image/validator.h"
#include "sandbox/fs/executable_files.h"
#include "sandbox/fs/file_tree.h"
#include "sandbox/image.h"

namespace zerocell::image {

// An executable PT_LOAD of an admitted tree ELF, as a dynamic loader step maps it.
struct ExecutableRange {
  uint64_t vaddr = 0;        // as linked (plus the load base for ET_DYN)
  uint64_t file_offset = 0;  // the segment's first file byte
  uint64_t file_size = 0;    // p_filesz
  uint64_t page_offset = 0;  // file_offset rounded down to a page
  uint64_t page_end = 0;     // file_offset + file_size rounded up to a page
  // The page-rounded range holds file bytes of another PT_LOAD (Debian links with
  // -z separate-code, so its files should have none).
  bool shares_pages = false;
  // The page-rounded range holds file bytes outside the segment (headers, padding, other
  // segments): mapping it from the file would make them executable; a loader maps such edge
  // pages from a cleaned copy instead.
  bool has_slack = false;
  // The slack bytes (inside the file) are all zero: mapping the page-rounded range executable
  // exposes no byte admission did not decode but zeros.
  bool slack_zero = false;
  // A guest's dynamic loader may map this range executable (ExecutableFiles): no other
  // segment's bytes share its pages and its slack is zero.
  bool mappable() const { return !shares_pages && (!has_slack || slack_zero); }
};

// One admitted ELF file of the tree (hard links to it share its node's content).
struct TreeElf {
  std::string path;  // normalized, as in the tree ("usr/lib/x86_64-linux-gnu/libc.so.6")
  sandbox::fs::FileTree::NodeId node = 0;
  bool shared_object = false;  // ET_DYN (a PIE executable or a library)
  std::string interpreter;     // PT_INTERP ("/lib64/ld-linux-x86-64.so.2"); empty: none
  bool needs_libraries = false;
  uint64_t entry = 0;
  std::vector<ExecutableRange> executable;  // by vaddr
  ValidationReport report;
};

// Program images built from a tree's ELFs (PrepareTreeRun), kept as long as the tree: a warm
// pool keys on them, and building one copies the file. Key: the program's content index and its
// interpreter's (-1: static). Thread-safe.
class ProgramImages {
 public:
  using Key = std::pair<uint32_t, int64_t>;
  std::shared_ptr<const sandbox::Image> Find(Key key) const {
    absl::MutexLock lock(&mu_);
    auto it = images_.find(key);
    return it == images_.end() ? nullptr : it->second;
  }
  // The image already there for `key`, or `image` (now there).
  std::shared_ptr<const sandbox::Image> Insert(Key key,
                                               std::shared_ptr<const sandbox::Image> image) {
    absl::MutexLock lock(&mu_);
    return images_.try_emplace(key, std::move(image)).first->second;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<const sandbox::Image>> images_ ABSL_GUARDED_BY(mu_);
};

// Immutable once built; shared by the cache and every user of the tree.
struct TreeImage {
  std::shared_ptr<const sandbox::fs::FileTree> tree;
  std::vector<TreeElf> elves;  // sorted by path
  uint64_t archive_bytes = 0;  // the tar's size
  uint64_t file_count = 0;     // regular files (hard links counted once per name)
  uint64_t total_bytes = 0;    // sum of distinct file contents' sizes
  int64_t validation_ns = 0;   // reading the archive plus admitting every ELF
  // Every mappable executable range of every admitted ELF, per node (hard links included).
  std::shared_ptr<const sandbox::fs::ExecutableFiles> executable;
  // Host-state-reading instructions decoded in any ELF of the tree (a run may map any of them).
  uint32_t host_instructions = 0;
  // Memoized program images (not part of the tree's value; see ProgramImages).
  std::unique_ptr<ProgramImages> programs = std::make_unique<ProgramImages>();

  // The admission record of the ELF at `node` (any of its hard-link names), or nullptr for a
  // node that is not an admitted ELF.
  const TreeElf* ElfAt(sandbox::fs::FileTree::NodeId node) const;
  // Bytes the tree holds in memory: every distinct content rounded up to pages.
  uint64_t memory_bytes() const { return memory_bytes_; }

 private:
  friend struct TreeBuilderAccess;
  std::vector<std::pair<uint32_t, size_t>> elf_by_content_;  // (content index, elves index)
  uint64_t memory_bytes_ = 0;
};

struct TreeOptions {
  sandbox::fs::TreeLimits limits;
  // The same instruction policy as program images; tree_member is set by ValidateTree.
  ValidatorOptions validator;
};

// The outcome of ValidateTree. `status` is OK exactly when `tree` is set. A refused ELF makes it
// INVALID_ARGUMENT naming the file: `tree file "usr/lib/libbad.so": instruction at file offset
// 0x1105 (vaddr 0x1105): rdrand eax: ...`, with that file's report in `refused` (and its path in
// `refused_path`); an archive error names the entry (see ReadTreeArchive).
struct TreeValidation {
  absl::Status status;
  std::shared_ptr<const TreeImage> tree;
  std::string refused_path;
  std::optional<ValidationReport> refused;
};

// Reads the archive (ReadTreeArchive) and admits every regular file that starts with "\x7fELF"
// with the ELF checks of a tree member and the instruction policy of `options.validator`. Each
// distinct content is validated once. Thread-safe.
TreeValidation ValidateTree(std::string_view archive, const TreeOptions& options);

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_TREE_IMAGE_H_
