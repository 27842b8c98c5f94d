// ScratchDir: the run's in-memory writable directory; see scratch_dir.h.
#include "sandbox/fs/scratch_dir.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>

namespace zerocell::sandbox::fs {
namespace {

constexpr size_t kMaxName = 255;  // NAME_MAX
constexpr uint64_t kMaxOffset = std::numeric_limits<int64_t>::max();

}  // namespace

ScratchDir::ScratchDir(std::string path, uint64_t max_bytes, uint64_t max_files)
    : path_(std::move(path)), max_bytes_(max_bytes), max_files_(max_files) {
  Node root;
  root.mode = 01777;  // as /tmp: every guest process may create here (there is one user)
  nodes_.emplace(kRoot, std::move(root));
}

ScratchDir::~ScratchDir() { *alive_ = false; }

const ScratchDir::Node* ScratchDir::Find(Id id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

ScratchDir::Node* ScratchDir::Find(Id id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

NodeType ScratchDir::type(Id id) const {
  const Node* n = Find(id);
  return n == nullptr ? NodeType::kDirectory : n->type;
}

uint32_t ScratchDir::mode(Id id) const {
  const Node* n = Find(id);
  return n == nullptr ? 0 : n->mode;
}

uint64_t ScratchDir::size(Id id) const {
  const Node* n = Find(id);
  if (n == nullptr || n->type == NodeType::kDirectory) return 0;
  return n->data.size();
}

uint32_t ScratchDir::nlink(Id id) const {
  const Node* n = Find(id);
  if (n == nullptr || !n->linked) return 0;
  if (n->type != NodeType::kDirectory) return 1;
  uint32_t links = 2;  // its name and its "."; then each subdirectory's ".."
  for (const auto& [name, child] : n->children) {
    if (type(child) == NodeType::kDirectory) ++links;
  }
  return links;
}

const std::string& ScratchDir::symlink_target(Id id) const {
  static const std::string kNone;
  const Node* n = Find(id);
  return n == nullptr || n->type != NodeType::kSymlink ? kNone : n->data;
}

ScratchDir::Id ScratchDir::parent(Id id) const {
  const Node* n = Find(id);
  return n == nullptr ? kRoot : n->parent;
}

std::string ScratchDir::PathOf(Id id) const {
  const Node* n = Find(id);
  if (n == nullptr) return path_ + " (deleted)";
  std::vector<const std::string*> names;
  const bool deleted = !n->linked;
  for (Id at = id; at != kRoot;) {
    const Node* cur = Find(at);
    if (cur == nullptr) break;
    names.push_back(&cur->name);
    at = cur->parent;
  }
  std::string out = path_;
  for (auto it = names.rbegin(); it != names.rend(); ++it) out += "/" + **it;
  if (deleted) out += " (deleted)";
  return out;
}

std::optional<ScratchDir::Id> ScratchDir::Lookup(Id dir, std::string_view name) const {
  const Node* d = Find(dir);
  if (d == nullptr || d->type != NodeType::kDirectory) return std::nullopt;
  auto it = d->children.find(name);
  if (it == d->children.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, ScratchDir::Id>> ScratchDir::Children(Id dir) const {
  const Node* d = Find(dir);
  if (d == nullptr) return {};
  return {d->children.begin(), d->children.end()};
}

int ScratchDir::Create(Id dir, std::string_view name, NodeType type, uint32_t mode,
                       std::string_view target, Id* out) {
  Node* d = Find(dir);
  if (d == nullptr) return ENOENT;  // a removed directory takes no new names (as Linux)
  if (d->type != NodeType::kDirectory) return ENOTDIR;
  if (name.size() > kMaxName) return ENAMETOOLONG;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return name.empty() ? ENOENT : EEXIST;
  }
  if (d->children.find(name) != d->children.end()) return EEXIST;
  if (!(d->mode & S_IWUSR) || !(d->mode & S_IXUSR)) return EACCES;
  if (type == NodeType::kSymlink && (target.empty() || target.size() > TreeLimits::kMaxPathBytes)) {
    return target.empty() ? ENOENT : ENAMETOOLONG;
  }
  // The count bounds the supervisor's memory as much as the bytes do: names and nodes.
  if (usage_.files >= max_files_) {
    usage_.files_quota_exceeded = true;
    return EDQUOT;
  }
  if (next_id_ == std::numeric_limits<Id>::max()) return ENOSPC;  // ids are never reused
  const Id id = next_id_++;
  Node n;
  n.type = type;
  n.mode = type == NodeType::kSymlink ? 0777 : (mode & 07777 & ~kUmask);
  n.parent = dir;
  n.name = std::string(name);
  if (type == NodeType::kSymlink) n.data = std::string(target);
  nodes_.emplace(id, std::move(n));
  d->children.emplace(std::string(name), id);
  usage_.files++;
  usage_.peak_files = std::max(usage_.peak_files, usage_.files);
  *out = id;
  return 0;
}

void ScratchDir::Unlink(Id dir, const std::string& name) {
  Node* d = Find(dir);
  auto it = d->children.find(name);
  const Id id = it->second;
  d->children.erase(it);
  Node* n = Find(id);
  n->linked = false;
  MaybeDrop(id);
}

void ScratchDir::MaybeDrop(Id id) {
  Node* n = Find(id);
  if (n == nullptr || n->linked || n->holds > 0 || id == kRoot) return;
  if (n->type == NodeType::kRegular) usage_.bytes -= n->data.size();
  usage_.files--;
  nodes_.erase(id);
}

int ScratchDir::Remove(Id dir, std::string_view name, bool want_dir) {
  const Node* d = Find(dir);
  if (d == nullptr) return ENOENT;
  if (d->type != NodeType::kDirectory) return ENOTDIR;
  if (name == ".") return EINVAL;
  if (name == "..") return ENOTEMPTY;
  auto it = d->children.find(name);
  if (it == d->children.end()) return ENOENT;
  if (!(d->mode & S_IWUSR)) return EACCES;
  const Node* n = Find(it->second);
  if (want_dir) {
    if (n->type != NodeType::kDirectory) return ENOTDIR;
    if (!n->children.empty()) return ENOTEMPTY;
  } else if (n->type == NodeType::kDirectory) {
    return EISDIR;
  }
  Unlink(dir, it->first);
  return 0;
}

bool ScratchDir::IsAncestor(Id ancestor, Id id) const {
  for (Id at = id;; at = parent(at)) {
    if (at == ancestor) return true;
    if (at == kRoot) return false;
  }
}

int ScratchDir::Rename(Id from_dir, std::string_view from, Id to_dir, std::string_view to,
                       bool noreplace) {
  Node* fd = Find(from_dir);
  Node* td = Find(to_dir);
  if (fd == nullptr || td == nullptr) return ENOENT;
  if (fd->type != NodeType::kDirectory || td->type != NodeType::kDirectory) return ENOTDIR;
  if (from == "." || from == ".." || to == "." || to == "..") return from == ".." ? EBUSY : EINVAL;
  if (to.size() > kMaxName) return ENAMETOOLONG;
  auto src = fd->children.find(from);
  if (src == fd->children.end()) return ENOENT;
  if (!(fd->mode & S_IWUSR) || !(td->mode & S_IWUSR)) return EACCES;
  const Id id = src->second;
  const bool is_dir = type(id) == NodeType::kDirectory;
  // A directory moved below itself would cut its subtree off from the root (a cycle).
  if (is_dir && IsAncestor(id, to_dir)) return EINVAL;
  auto dst = td->children.find(to);
  if (dst != td->children.end()) {
    if (dst->second == id) return 0;  // the same file under both names: nothing to do
    if (noreplace) return EEXIST;
    const Node* old = Find(dst->second);
    if (old->type == NodeType::kDirectory) {
      if (!is_dir) return EISDIR;
      if (!old->children.empty()) return ENOTEMPTY;
    } else if (is_dir) {
      return ENOTDIR;
    }
    Unlink(to_dir, dst->first);
  }
  fd->children.erase(fd->children.find(from));
  td->children.emplace(std::string(to), id);
  Node* n = Find(id);
  n->parent = to_dir;
  n->name = std::string(to);
  return 0;
}

int ScratchDir::Chmod(Id id, uint32_t mode) {
  Node* n = Find(id);
  if (n == nullptr) return ENOENT;
  if (n->type != NodeType::kSymlink) n->mode = mode & 07777;
  return 0;
}

uint64_t ScratchDir::Read(Id file, uint64_t offset, uint64_t len, std::string* out) const {
  out->clear();
  const Node* n = Find(file);
  if (n == nullptr || n->type != NodeType::kRegular || offset >= n->data.size()) return 0;
  const uint64_t k = std::min<uint64_t>(len, n->data.size() - offset);
  out->assign(n->data, offset, k);
  return k;
}

void ScratchDir::Grow(uint64_t bytes) {
  usage_.bytes += bytes;
  usage_.peak_bytes = std::max(usage_.peak_bytes, usage_.bytes);
}

int64_t ScratchDir::Write(Id file, uint64_t offset, std::string_view data) {
  Node* n = Find(file);
  if (n == nullptr || n->type != NodeType::kRegular) return -EBADF;
  if (data.empty()) return 0;
  if (offset > kMaxOffset - data.size()) return -EFBIG;
  const uint64_t size = n->data.size();
  // The most this file may reach: its size plus what the quota has left. A hole counts as it
  // is held in memory (zeros), so an offset far past the end cannot grow the supervisor freely.
  const uint64_t room = max_bytes_ > usage_.bytes ? max_bytes_ - usage_.bytes : 0;
  const uint64_t limit = size + room;
  uint64_t len = data.size();
  if (offset + len > limit) {
    usage_.bytes_quota_exceeded = true;
    if (offset >= limit) return -EDQUOT;
    len = limit - offset;
  }
  const uint64_t end = offset + len;
  if (end > size) {
    n->data.resize(end, '\0');
    Grow(end - size);
  }
  n->data.replace(offset, len, data.data(), len);
  return static_cast<int64_t>(len);
}

int ScratchDir::Truncate(Id file, uint64_t new_size) {
  Node* n = Find(file);
  if (n == nullptr) return ENOENT;
  if (n->type == NodeType::kDirectory) return EISDIR;
  if (n->type != NodeType::kRegular) return EINVAL;
  if (new_size > kMaxOffset) return EFBIG;
  const uint64_t size = n->data.size();
  if (new_size > size) {
    if (new_size - size > max_bytes_ - std::min(max_bytes_, usage_.bytes)) {
      usage_.bytes_quota_exceeded = true;
      return EDQUOT;
    }
    n->data.resize(new_size, '\0');
    Grow(new_size - size);
  } else {
    n->data.resize(new_size);
    n->data.shrink_to_fit();
    usage_.bytes -= size - new_size;
  }
  return 0;
}

std::shared_ptr<const void> ScratchDir::Hold(Id id) {
  Node* n = Find(id);
  if (n == nullptr) return nullptr;
  n->holds++;
  std::shared_ptr<bool> alive = alive_;
  return std::shared_ptr<const void>(n, [this, id, alive](const void*) {
    if (!*alive) return;  // the scratch went first (the run's end): nothing left to release
    if (Node* held = Find(id)) {
      held->holds--;
      MaybeDrop(id);
    }
  });
}

}  // namespace zerocell::sandbox::fs
