// A run from file trees: the program a manifest names by path, its interpreter, and the trees.
#ifndef ZEROCELL_IMAGE_TREE_PROGRAM_H_
#define ZEROCELL_IMAGE_TREE_PROGRAM_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "image/tree_image.h"
#include "sandbox/fs/executable_files.h"
#include "sandbox/fs/file_tree.h"
#include "sandbox/image.h"

namespace zerocell::image {

// One tree image mounted at a guest path (a manifest's MountSpec, resolved).
struct MountedTree {
  std::string mountpoint;
  std::shared_ptr<const TreeImage> tree;
};

// What the engine needs to start a program from mounted trees (RunOptions::trees and
// ::executable, in mount order, and the image to run).
struct TreeRun {
  std::shared_ptr<const sandbox::Image> image;
  std::vector<std::shared_ptr<const sandbox::fs::FileTree>> trees;
  std::vector<std::shared_ptr<const sandbox::fs::ExecutableFiles>> executable;
  int program_mount = 0;  // index into the mounts of the tree holding the program
};

// Resolves `program_path` in the guest's view of `mounts` (symlinks followed, later mounts
// covering earlier ones) to an ELF the tree's admission accepted. A static one runs as is; one
// with PT_INTERP runs with that interpreter, resolved in the same view (it must be an admitted,
// self-contained ELF). Images are built once per tree and reused (warm pools key on them).
// INVALID_ARGUMENT naming `field` ("manifest.program_path") and the path otherwise. An empty
// `program_path`: only the trees (TreeRun::image null), for a program given as an image.
absl::StatusOr<TreeRun> PrepareTreeRun(const std::vector<MountedTree>& mounts,
                                       std::string_view program_path,
                                       std::string_view field = "manifest.program_path");

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_TREE_PROGRAM_H_
