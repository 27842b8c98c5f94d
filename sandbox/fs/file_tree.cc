// Builds and queries FileTree: normalized paths, implicit parents, sealed memfd contents.
#include "sandbox/fs/file_tree.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/errno_status.h"
#include "base/status_macros.h"

namespace zerocell::sandbox::fs {
namespace {

// Debian's abseil has its own string_view type; the public API takes std::string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Why sealed: one memfd serves every run mounting the tree; no guest (nor the server) may change
// or resize what the others read or map.
constexpr int kContentSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;

absl::Status WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write to a tree file's memfd");
    }
    if (n == 0) return absl::InternalError("write to a tree file's memfd made no progress");
    data += n;
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<sys::UniqueFd> NewContentFd() {
  sys::UniqueFd fd(::memfd_create("zerocell-tree-file", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return ErrnoStatus(errno, "memfd_create for a tree file");
  return fd;
}

absl::Status Seal(int fd) {
  if (::fcntl(fd, F_ADD_SEALS, kContentSeals) != 0) {
    return ErrnoStatus(errno, "sealing a tree file's memfd (F_ADD_SEALS)");
  }
  return absl::OkStatus();
}

std::string_view Parent(std::string_view normalized) {
  size_t slash = normalized.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : normalized.substr(0, slash);
}

std::string_view Base(std::string_view normalized) {
  size_t slash = normalized.rfind('/');
  return slash == std::string_view::npos ? normalized : normalized.substr(slash + 1);
}

}  // namespace

std::optional<FileTree::NodeId> FileTree::Child(NodeId dir, std::string_view name) const {
  const Node& d = nodes_[dir];
  if (d.type != NodeType::kDirectory) return std::nullopt;
  auto it = std::lower_bound(
      d.children.begin(), d.children.end(), name,
      [](const std::pair<std::string, NodeId>& c, std::string_view n) { return c.first < n; });
  if (it == d.children.end() || it->first != name) return std::nullopt;
  return it->second;
}

std::optional<FileTree::NodeId> FileTree::Find(std::string_view path) const {
  NodeId at = kRoot;
  if (path.empty()) return at;
  for (absl::string_view part : absl::StrSplit(A(path), '/')) {
    std::optional<NodeId> next = Child(at, std::string_view(part.data(), part.size()));
    if (!next) return std::nullopt;
    at = *next;
  }
  return at;
}

std::string FileTree::PathOf(NodeId id) const {
  std::vector<std::string_view> parts;
  while (id != kRoot) {
    parts.push_back(nodes_[id].name);
    id = nodes_[id].parent;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!out.empty()) out.push_back('/');
    out.append(*it);
  }
  return out;
}

int FileTree::ContentFd(NodeId id) const {
  const Node& n = nodes_[id];
  if (n.type != NodeType::kRegular) return -1;
  return contents_[n.content]->get();
}

FileTreeBuilder::FileTreeBuilder(TreeLimits limits) : limits_(limits), tree_(new FileTree()) {
  FileTree::Node root;
  root.type = NodeType::kDirectory;
  root.mode = 0755;
  tree_->nodes_.push_back(std::move(root));
  implicit_.push_back(true);
  by_path_.emplace("", FileTree::kRoot);
}

absl::StatusOr<std::string> FileTreeBuilder::NormalizePath(std::string_view path) {
  absl::string_view p = A(path);
  while (absl::ConsumePrefix(&p, "./") || absl::ConsumePrefix(&p, "/")) {
  }
  while (absl::ConsumeSuffix(&p, "/")) {
  }
  if (p == ".") p = "";
  if (p.size() > TreeLimits::kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", A(path.substr(0, 64)),
                                                   "...\": longer than ", TreeLimits::kMaxPathBytes,
                                                   " bytes"));
  }
  if (p.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", A(path), "\": contains a NUL byte"));
  }
  if (p.empty()) return std::string();
  for (absl::string_view part : absl::StrSplit(p, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "path \"", A(path), "\": component \"", part,
          "\" is not allowed (empty, \".\" and \"..\" components could leave or alias the tree)"));
    }
    if (part.size() > TreeLimits::kMaxNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat("path \"", A(path),
                                                     "\": a component is longer than ",
                                                     TreeLimits::kMaxNameBytes, " bytes"));
    }
  }
  return std::string(p.data(), p.size());
}

absl::StatusOr<FileTree::NodeId> FileTreeBuilder::EnsureDirectory(std::string_view normalized) {
  if (auto it = by_path_.find(std::string(normalized)); it != by_path_.end()) {
    if (tree_->nodes_[it->second].type != NodeType::kDirectory) {
      return absl::InvalidArgumentError(absl::StrCat(
          "path \"", A(normalized), "\": is not a directory but has entries below it"));
    }
    return it->second;
  }
  ASSIGN_OR_RETURN(FileTree::NodeId parent, EnsureDirectory(Parent(normalized)));
  if (tree_->nodes_.size() >= limits_.max_nodes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "path \"", A(normalized), "\": the tree has more than ", limits_.max_nodes, " entries"));
  }
  FileTree::Node dir;
  dir.type = NodeType::kDirectory;
  dir.mode = 0755;
  dir.parent = parent;
  dir.name = std::string(Base(normalized));
  auto id = static_cast<FileTree::NodeId>(tree_->nodes_.size());
  tree_->nodes_.push_back(std::move(dir));
  implicit_.push_back(true);
  by_path_.emplace(std::string(normalized), id);
  return id;
}

absl::StatusOr<FileTree::NodeId> FileTreeBuilder::AddNode(std::string_view path,
                                                          FileTree::Node node) {
  if (tree_ == nullptr) return absl::FailedPreconditionError("FileTreeBuilder used after Build");
  ASSIGN_OR_RETURN(std::string normalized, NormalizePath(path));
  if (auto it = by_path_.find(normalized); it != by_path_.end()) {
    FileTree::Node& existing = tree_->nodes_[it->second];
    // A directory created for its children takes its own entry's values when that comes later.
    if (node.type == NodeType::kDirectory && existing.type == NodeType::kDirectory &&
        implicit_[it->second]) {
      existing.mode = node.mode;
      existing.mtime_sec = node.mtime_sec;
      existing.mtime_nsec = node.mtime_nsec;
      implicit_[it->second] = false;
      return it->second;
    }
    return absl::InvalidArgumentError(absl::StrCat("path \"", normalized.empty() ? "/" : normalized,
                                                   "\": appears twice in the tree"));
  }
  ASSIGN_OR_RETURN(FileTree::NodeId parent, EnsureDirectory(Parent(normalized)));
  if (tree_->nodes_.size() >= limits_.max_nodes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "path \"", A(normalized), "\": the tree has more than ", limits_.max_nodes, " entries"));
  }
  node.parent = parent;
  node.name = std::string(Base(normalized));
  node.mode &= 07777;
  auto id = static_cast<FileTree::NodeId>(tree_->nodes_.size());
  tree_->nodes_.push_back(std::move(node));
  implicit_.push_back(false);
  by_path_.emplace(std::move(normalized), id);
  return id;
}

absl::Status FileTreeBuilder::AddDirectory(std::string_view path, uint32_t mode, int64_t mtime_sec,
                                           int64_t mtime_nsec) {
  FileTree::Node node;
  node.type = NodeType::kDirectory;
  node.mode = mode;
  node.mtime_sec = mtime_sec;
  node.mtime_nsec = mtime_nsec;
  return AddNode(path, std::move(node)).status();
}

absl::Status FileTreeBuilder::AddFile(std::string_view path, uint32_t mode,
                                      std::string_view content, int64_t mtime_sec,
                                      int64_t mtime_nsec) {
  size_t at = 0;
  return AddFileFrom(
      path, mode, content.size(),
      [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
        size_t n = std::min(len, content.size() - at);
        std::copy_n(content.data() + at, n, buf);
        at += n;
        return n;
      },
      mtime_sec, mtime_nsec);
}

absl::Status FileTreeBuilder::AddFileFrom(std::string_view path, uint32_t mode, uint64_t size,
                                          ReadFn read, int64_t mtime_sec, int64_t mtime_nsec) {
  if (tree_ == nullptr) return absl::FailedPreconditionError("FileTreeBuilder used after Build");
  if (size > limits_.max_total_bytes - std::min(limits_.max_total_bytes, tree_->total_bytes_)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "path \"", A(path), "\": the tree's files exceed ", limits_.max_total_bytes, " bytes"));
  }
  ASSIGN_OR_RETURN(sys::UniqueFd fd, NewContentFd());
  std::string buf(64 * 1024, '\0');
  uint64_t copied = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, read(buf.data(), buf.size()));
    if (n == 0) break;
    if (n > size - copied) {
      return absl::InvalidArgumentError(
          absl::StrCat("path \"", A(path), "\": holds more than its declared ", size, " bytes"));
    }
    RETURN_IF_ERROR(WriteAll(fd.get(), buf.data(), n));
    copied += n;
  }
  if (copied != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("path \"", A(path), "\": holds ", copied, " bytes, not its declared ", size));
  }
  RETURN_IF_ERROR(Seal(fd.get()));
  FileTree::Node node;
  node.type = NodeType::kRegular;
  node.mode = mode;
  node.size = size;
  node.mtime_sec = mtime_sec;
  node.mtime_nsec = mtime_nsec;
  node.content = static_cast<uint32_t>(tree_->contents_.size());
  RETURN_IF_ERROR(AddNode(path, std::move(node)).status());
  tree_->contents_.push_back(std::make_shared<const sys::UniqueFd>(std::move(fd)));
  tree_->total_bytes_ += size;
  return absl::OkStatus();
}

absl::Status FileTreeBuilder::AddSymlink(std::string_view path, std::string_view target,
                                         int64_t mtime_sec, int64_t mtime_nsec) {
  if (target.empty() || target.size() > TreeLimits::kMaxSymlinkBytes ||
      target.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("path \"", A(path), "\": a symlink target must be 1 to ",
                     TreeLimits::kMaxSymlinkBytes, " bytes without NUL"));
  }
  FileTree::Node node;
  node.type = NodeType::kSymlink;
  node.mode = 0777;
  node.size = target.size();
  node.symlink_target = std::string(target);
  node.mtime_sec = mtime_sec;
  node.mtime_nsec = mtime_nsec;
  return AddNode(path, std::move(node)).status();
}

absl::Status FileTreeBuilder::AddHardLink(std::string_view path, std::string_view existing) {
  if (tree_ == nullptr) return absl::FailedPreconditionError("FileTreeBuilder used after Build");
  ASSIGN_OR_RETURN(std::string target, NormalizePath(existing));
  auto it = by_path_.find(target);
  if (it == by_path_.end() || tree_->nodes_[it->second].type != NodeType::kRegular) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", A(path), "\": hard link to \"",
                                                   A(existing),
                                                   "\", which is not a regular file added before"));
  }
  FileTree::Node node = tree_->nodes_[it->second];
  node.children.clear();
  return AddNode(path, std::move(node)).status();
}

absl::StatusOr<std::shared_ptr<const FileTree>> FileTreeBuilder::Build() && {
  if (tree_ == nullptr) return absl::FailedPreconditionError("FileTreeBuilder used after Build");
  std::vector<FileTree::Node>& nodes = tree_->nodes_;
  for (FileTree::NodeId id = 1; id < nodes.size(); ++id) {
    nodes[nodes[id].parent].children.emplace_back(nodes[id].name, id);
  }
  for (FileTree::Node& n : nodes) {
    std::sort(n.children.begin(), n.children.end());
  }
  by_path_.clear();
  return std::shared_ptr<const FileTree>(std::move(tree_));
}

}  // namespace zerocell::sandbox::fs
