// GuestFs: mounts over a skeleton, and Linux's path walk over them; see guest_fs.h.
#include "sandbox/fs/guest_fs.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace zerocell::sandbox::fs {
namespace {

std::string Join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (out.size() > 1) out.push_back('/');
  out.append(name);
  return out;
}

std::string ParentPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Pushes the components of `path` so that the first one is at the back (the next to walk).
void PushComponents(std::string_view path, std::vector<std::string>* todo) {
  std::vector<std::string> parts;
  size_t at = 0;
  while (at < path.size()) {
    size_t end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    if (end > at) parts.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo->push_back(std::move(*it));
}

}  // namespace

absl::StatusOr<std::unique_ptr<const GuestFs>> GuestFs::Create(
    std::vector<Mount> mounts, std::vector<std::string> extra_dirs,
    std::shared_ptr<ScratchDir> scratch) {
  if (scratch != nullptr) extra_dirs.push_back(scratch->path());
  FileTreeBuilder skeleton;
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (mounts[i].tree == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat("mounts[%d]: no tree", i));
    }
    const std::string& mp = mounts[i].mountpoint;
    if (mp.empty() || mp[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrFormat("mounts[%d].mountpoint: \"%s\" is not absolute", i, mp));
    }
    if (!skeleton.AddDirectory(mp, 0755).ok()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "mounts[%d].mountpoint: \"%s\" is not a normalized path, or mounted twice", i, mp));
    }
  }
  for (const std::string& dir : extra_dirs) {
    absl::Status added = skeleton.AddDirectory(dir, 0755);
    // A directory named twice (a mountpoint and the scratch) is refused by the manifest; here
    // only a bad spelling matters.
    if (!added.ok() && !FileTreeBuilder::NormalizePath(dir).ok()) return added;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const FileTree> skel, std::move(skeleton).Build());
  std::unique_ptr<GuestFs> fs(new GuestFs());
  fs->mounts_.push_back(Mount{"/", std::move(skel)});
  fs->scratch_ = std::move(scratch);
  for (size_t i = 0; i < mounts.size(); ++i) {
    // The mountpoint must be a directory in what is mounted so far (a file there would hide it).
    Location at;
    const int err = fs->Resolve(fs->Root(), mounts[i].mountpoint, {false, false}, &at);
    if (err != 0 || fs->node(at).type != NodeType::kDirectory) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "mounts[%d].mountpoint: \"%s\" is not a directory in the trees mounted before it", i,
          mounts[i].mountpoint));
    }
    const int index = static_cast<int>(fs->mounts_.size());
    fs->mount_at_[at.path] = index;
    fs->mounts_.push_back(
        Mount{at.path, std::move(mounts[i].tree), std::move(mounts[i].executable)});
  }
  return std::unique_ptr<const GuestFs>(std::move(fs));
}

Location GuestFs::Root() const {
  auto it = mount_at_.find("/");
  return Location{it == mount_at_.end() ? 0 : it->second, FileTree::kRoot, "/"};
}

const FileTree::Node& GuestFs::node(const Location& at) const {
  return mounts_[static_cast<size_t>(at.mount)].tree->node(at.node);
}

int GuestFs::ContentFd(const Location& at) const {
  if (IsScratch(at)) return -1;
  return mounts_[static_cast<size_t>(at.mount)].tree->ContentFd(at.node);
}

NodeType GuestFs::Type(const Location& at) const {
  return IsScratch(at) ? scratch_->type(at.node) : node(at).type;
}

std::string_view GuestFs::SymlinkTarget(const Location& at) const {
  return IsScratch(at) ? std::string_view(scratch_->symlink_target(at.node))
                       : std::string_view(node(at).symlink_target);
}

std::string GuestFs::PathOf(const Location& at) const {
  return IsScratch(at) ? scratch_->PathOf(at.node) : at.path;
}

bool GuestFs::Child(const Location& dir, std::string_view name, Location* out) const {
  if (IsScratch(dir)) {
    // Nothing is mounted inside the scratch: its own names are all there is.
    auto id = scratch_->Lookup(dir.node, name);
    if (!id) return false;
    *out = Location{kScratchMount, *id, Join(PathOf(dir), name)};
    return true;
  }
  std::string path = Join(dir.path, name);
  // The scratch covers whatever a tree holds at its path (the manifest keeps mounts off it).
  if (scratch_ != nullptr && path == scratch_->path()) {
    *out = Location{kScratchMount, ScratchDir::kRoot, std::move(path)};
    return true;
  }
  if (auto it = mount_at_.find(path); it != mount_at_.end()) {
    *out = Location{it->second, FileTree::kRoot, std::move(path)};
    return true;
  }
  if (auto id = mounts_[static_cast<size_t>(dir.mount)].tree->Child(dir.node, name)) {
    *out = Location{dir.mount, *id, std::move(path)};
    return true;
  }
  // A directory on the way to a mountpoint that the tree covering it does not have.
  if (dir.mount != 0) {
    if (auto id = mounts_[0].tree->Find(std::string_view(path).substr(1))) {
      *out = Location{0, *id, std::move(path)};
      return true;
    }
  }
  return false;
}

Location GuestFs::Parent(const Location& dir) const {
  if (IsScratch(dir)) {
    if (dir.node != ScratchDir::kRoot) {
      const ScratchDir::Id up = scratch_->parent(dir.node);
      return Location{kScratchMount, up, scratch_->PathOf(up)};
    }
    Location at;
    Resolve(Root(), ParentPath(scratch_->path()), {false, false}, &at);  // skeleton dirs
    return at;
  }
  if (dir.path == "/") return Root();
  std::string parent = ParentPath(dir.path);
  if (dir.mount != 0 && dir.node != FileTree::kRoot) {
    return Location{dir.mount, node(dir).parent, std::move(parent)};
  }
  // A mount's root or a skeleton directory: the parent is whatever the guest sees there.
  Location at;
  Resolve(Root(), parent, {false, false}, &at);  // canonical: every component is a directory
  return at;
}

int GuestFs::Resolve(const Location& start, std::string_view path, ResolveOptions options,
                     Location* out) const {
  if (path.empty()) return ENOENT;
  if (path.size() > kMaxPath) return ENAMETOOLONG;
  const bool trailing_slash = path.back() == '/';
  Location cur = path.front() == '/' ? Root() : start;
  std::vector<std::string> todo;
  PushComponents(path, &todo);
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.back());
    todo.pop_back();
    const bool last = todo.empty();
    if (name.size() > kMaxName) return ENAMETOOLONG;
    if (Type(cur) != NodeType::kDirectory) return ENOTDIR;
    // A removed scratch directory (someone's cwd) has no entries, not even "." and "..".
    if (IsScratch(cur) && !scratch_->Exists(cur.node)) return ENOENT;
    if (name == ".") continue;
    if (name == "..") {
      cur = Parent(cur);  // ".." of the root is the root: nothing lies above it
      continue;
    }
    Location next;
    if (!Child(cur, name, &next)) return ENOENT;
    if (Type(next) == NodeType::kSymlink && (!last || options.follow_last || trailing_slash)) {
      if (++links > kMaxSymlinks) return ELOOP;
      // Resolved in the guest's namespace: an absolute target starts at the guest's root.
      const std::string_view target = SymlinkTarget(next);
      if (target.front() == '/') cur = Root();
      PushComponents(target, &todo);
      continue;
    }
    cur = std::move(next);
  }
  if ((trailing_slash || options.want_dir) && Type(cur) != NodeType::kDirectory) {
    return ENOTDIR;
  }
  *out = std::move(cur);
  return 0;
}

NodeInfo GuestFs::Info(const Location& at) const {
  NodeInfo info;
  if (IsScratch(at)) {
    // Fixed values (times 0) like a tree's: nothing of the host, nothing of when it ran.
    info.type = scratch_->type(at.node);
    info.mode = scratch_->mode(at.node);
    info.size = scratch_->size(at.node);
    info.ino = uint64_t{at.node} + 1;
    info.dev = Dev(static_cast<int>(mounts_.size()));  // a device of its own, past the mounts
    info.nlink = scratch_->nlink(at.node);
    return info;
  }
  const FileTree::Node& n = node(at);
  info.type = n.type;
  info.mode = n.mode;
  info.size = n.size;
  info.ino = uint64_t{at.node} + 1;
  info.dev = Dev(at.mount);
  info.mtime_sec = n.mtime_sec;
  info.mtime_nsec = n.mtime_nsec;
  if (n.type == NodeType::kDirectory) {
    const FileTree& tree = *mounts_[static_cast<size_t>(at.mount)].tree;
    // 2 + subdirectories, mountpoints included: find(1) trusts the count to skip stat calls.
    info.nlink = 2;
    for (const auto& [name, id] : n.children) {
      if (tree.node(id).type == NodeType::kDirectory) ++info.nlink;
    }
    if (at.mount != 0) {
      const FileTree& skel = *mounts_[0].tree;
      if (auto sid = skel.Find(std::string_view(at.path).substr(1))) {
        for (const auto& [name, id] : skel.node(*sid).children) {
          if (auto own = tree.Child(at.node, name);
              !own || tree.node(*own).type != NodeType::kDirectory) {
            ++info.nlink;
          }
        }
      }
    }
  }
  return info;
}

std::vector<DirEntry> GuestFs::List(const Location& dir) const {
  std::vector<DirEntry> out;
  if (IsScratch(dir)) {
    if (!scratch_->Exists(dir.node)) return out;  // removed: empty, without "." and ".."
    out.push_back(DirEntry{".", Info(dir).ino, NodeType::kDirectory, 0});
    out.push_back(DirEntry{"..", Info(Parent(dir)).ino, NodeType::kDirectory, 1});
    for (const auto& [name, id] : scratch_->Children(dir.node)) {
      out.push_back(DirEntry{name, uint64_t{id} + 1, scratch_->type(id), uint64_t{id} + 2});
    }
    std::sort(out.begin() + 2, out.end(),
              [](const DirEntry& a, const DirEntry& b) { return a.pos < b.pos; });
    return out;
  }
  const FileTree& tree = *mounts_[static_cast<size_t>(dir.mount)].tree;
  const FileTree::Node& n = tree.node(dir.node);
  for (const auto& [name, id] : n.children) {
    out.push_back(DirEntry{name, uint64_t{id} + 1, tree.node(id).type});
  }
  if (dir.mount != 0) {
    // Mountpoints (and the skeleton leading to them) below this directory that its tree lacks.
    const FileTree& skel = *mounts_[0].tree;
    if (auto sid = skel.Find(std::string_view(dir.path).substr(1))) {
      for (const auto& [name, id] : skel.node(*sid).children) {
        if (!tree.Child(dir.node, name)) {
          Location child;
          Child(dir, name, &child);
          out.push_back(DirEntry{name, Info(child).ino, NodeType::kDirectory});
        }
      }
      std::sort(out.begin(), out.end(),
                [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    }
  }
  out.insert(out.begin(), {DirEntry{".", Info(dir).ino, NodeType::kDirectory},
                           DirEntry{"..", Info(Parent(dir)).ino, NodeType::kDirectory}});
  for (size_t i = 0; i < out.size(); ++i) out[i].pos = i;
  return out;
}

bool GuestFs::MayExecute(const Location& at, uint64_t offset, uint64_t length) const {
  // Scratch bytes are the guest's own writing: never code (W^X across the whole run).
  if (IsScratch(at)) return false;
  const Mount& m = mounts_[static_cast<size_t>(at.mount)];
  return m.executable != nullptr && m.tree->node(at.node).type == NodeType::kRegular &&
         m.executable->Allows(at.node, offset, length);
}

}  // namespace zerocell::sandbox::fs
