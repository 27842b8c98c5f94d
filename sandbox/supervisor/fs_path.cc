// Guest path arguments and their resolution; see fs_path.h.
#include "sandbox/supervisor/fs_path.h"

#include <fcntl.h>

#include <cerrno>

namespace zerocell::sandbox::supervisor {

int ReadPath(GuestState& g, uint64_t addr, std::string* out) {
  return g.memory().ReadString(addr, fs::GuestFs::kMaxPath + 1, out);
}

int ResolveAt(GuestState& g, int64_t dirfd, std::string_view path, fs::ResolveOptions options,
              fs::Location* out) {
  if (path.empty()) return ENOENT;
  const fs::Location* start = &g.cwd();
  if (path.front() != '/' && dirfd != AT_FDCWD) {
    const OpenFile* f = g.fds().File(dirfd);
    if (f == nullptr) return g.fds().IsOpen(dirfd) ? ENOTDIR : EBADF;
    if (g.fs().Type(f->at) != fs::NodeType::kDirectory) return ENOTDIR;
    start = &f->at;
  }
  return g.fs().Resolve(*start, path, options, out);
}

int ResolveParent(GuestState& g, int64_t dirfd, std::string_view path, fs::Location* out) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ResolveAt(g, dirfd, ".", {true, true}, out);
  return ResolveAt(g, dirfd, slash == 0 ? "/" : path.substr(0, slash), {true, true}, out);
}

}  // namespace zerocell::sandbox::supervisor
