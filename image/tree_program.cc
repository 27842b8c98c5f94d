// Resolving a manifest's program path in its mounted trees to an image the engine runs.
#include "image/tree_program.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "sandbox/fs/guest_fs.h"

namespace zerocell::image {
namespace {

using sandbox::fs::FileTree;
using sandbox::fs::GuestFs;
using sandbox::fs::Location;

// An admitted ELF found in the guest's view, with the tree it lives in.
struct FoundElf {
  const TreeImage* tree = nullptr;
  const TreeElf* elf = nullptr;
  FileTree::NodeId node = 0;
  int mount = 0;  // index into the caller's mounts
};

absl::Status PathError(absl::string_view field, absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": \"", path, "\" ", why));
}

absl::StatusOr<FoundElf> FindElf(const GuestFs& fs, const std::vector<MountedTree>& mounts,
                                 absl::string_view field, absl::string_view path) {
  Location at;
  if (int err = fs.Resolve(fs.Root(), std::string_view(path.data(), path.size()), {}, &at);
      err != 0) {
    return PathError(field, path,
                     absl::StrCat("is not in the mounted trees (", std::strerror(err), ")"));
  }
  // Location::mount 0 is GuestFs's skeleton of directories leading to mountpoints.
  if (at.mount == 0 || fs.node(at).type != sandbox::fs::NodeType::kRegular) {
    return PathError(field, path, "is not a regular file");
  }
  FoundElf found;
  found.mount = at.mount - 1;
  found.tree = mounts[static_cast<size_t>(found.mount)].tree.get();
  found.node = at.node;
  found.elf = found.tree->ElfAt(at.node);
  if (found.elf == nullptr) return PathError(field, path, "is not an ELF program");
  return found;
}

// The file's bytes, read through a private mapping of its sealed memfd.
template <typename Fn>
auto WithBytes(const FileTree& tree, FileTree::NodeId node, Fn fn) -> decltype(fn({})) {
  const uint64_t size = tree.node(node).size;
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, tree.ContentFd(node), 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap of a tree file");
  auto result = fn(std::string_view(static_cast<const char*>(p), size));
  ::munmap(p, size);
  return result;
}

absl::StatusOr<std::shared_ptr<const sandbox::Image>> StaticImage(const FoundElf& f,
                                                                  uint32_t host_instructions,
                                                                  absl::string_view field) {
  const ProgramImages::Key key{f.tree->tree->node(f.node).content, -1};
  if (auto image = f.tree->programs->Find(key)) return image;
  absl::StatusOr<std::shared_ptr<const sandbox::Image>> image =
      WithBytes(*f.tree->tree, f.node, [&](std::string_view bytes) {
        return sandbox::Image::FromBytes(bytes, {},
                                         sandbox::host::InstructionUse::Decoded(host_instructions));
      });
  if (!image.ok()) return PathError(field, f.elf->path, image.status().message());
  return f.tree->programs->Insert(key, *std::move(image));
}

}  // namespace

absl::StatusOr<TreeRun> PrepareTreeRun(const std::vector<MountedTree>& mounts,
                                       std::string_view program_path, std::string_view field) {
  std::vector<GuestFs::Mount> fs_mounts;
  TreeRun run;
  // Any ELF of any mounted tree may end up mapped: the run's instruction use is all of theirs.
  uint32_t host_instructions = 0;
  for (const MountedTree& m : mounts) {
    if (m.tree == nullptr) return absl::InvalidArgumentError("PrepareTreeRun: null tree");
    fs_mounts.push_back({m.mountpoint, m.tree->tree, m.tree->executable});
    run.trees.push_back(m.tree->tree);
    run.executable.push_back(m.tree->executable);
    host_instructions |= m.tree->host_instructions;
  }
  if (program_path.empty()) return run;
  ASSIGN_OR_RETURN(std::unique_ptr<const GuestFs> fs, GuestFs::Create(std::move(fs_mounts)));
  const absl::string_view afield(field.data(), field.size());
  const absl::string_view apath(program_path.data(), program_path.size());
  ASSIGN_OR_RETURN(FoundElf program, FindElf(*fs, mounts, afield, apath));
  run.program_mount = program.mount;
  if (program.elf->interpreter.empty()) {
    if (program.elf->needs_libraries) {
      return PathError(afield, apath, "needs shared libraries but names no interpreter");
    }
    ASSIGN_OR_RETURN(run.image, StaticImage(program, host_instructions, afield));
    return run;
  }
  const std::string interp_field =
      absl::StrCat(absl::string_view(field.data(), field.size()), " (interpreter)");
  ASSIGN_OR_RETURN(FoundElf interp, FindElf(*fs, mounts, interp_field, program.elf->interpreter));
  if (!interp.elf->interpreter.empty() || interp.elf->needs_libraries) {
    return PathError(interp_field, program.elf->interpreter,
                     "is not a self-contained interpreter (it needs libraries)");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const sandbox::Image> interpreter,
                   StaticImage(interp, host_instructions, interp_field));
  // Memoized in the program's tree when the interpreter comes from that same tree (the usual
  // case); otherwise built for this run.
  const bool same_tree = interp.tree == program.tree;
  const ProgramImages::Key key{program.tree->tree->node(program.node).content,
                               same_tree ? program.tree->tree->node(interp.node).content : -2};
  if (same_tree) {
    if (auto image = program.tree->programs->Find(key)) {
      run.image = std::move(image);
      return run;
    }
  }
  absl::StatusOr<std::shared_ptr<const sandbox::Image>> built =
      WithBytes(*program.tree->tree, program.node, [&](std::string_view bytes) {
        // Why a combined identity: a warm pool keys parked sandboxes on the image's hash, and a
        // parked dynamic program holds its interpreter too.
        const std::string identity =
            base::Sha256Hex(absl::StrCat(base::Sha256Hex(bytes), ":", interpreter->sha256_hex()));
        return sandbox::Image::DynamicFromBytes(
            bytes, interpreter, identity,
            sandbox::host::InstructionUse::Decoded(host_instructions));
      });
  if (!built.ok()) return PathError(afield, apath, built.status().message());
  std::shared_ptr<const sandbox::Image> image = *std::move(built);
  run.image = same_tree ? program.tree->programs->Insert(key, std::move(image)) : std::move(image);
  return run;
}

}  // namespace zerocell::image
