// The writable scratch (fs::ScratchDir): reads and writes of its files, and the calls that change
// names there (mkdir, symlink, unlink, rmdir, rename, truncate, chmod), and private mappings.
// Outside it each falls back to the read-only answer (fs_write_handlers.cc: EROFS after the
// kernel's earlier checks).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "sandbox/launch/launch_spec.h"
#include "sandbox/supervisor/fs_calls.h"
#include "sandbox/supervisor/fs_path.h"
#include "sandbox/supervisor/handlers.h"

namespace zerocell::sandbox::supervisor {
namespace {

// Bytes move between guest memory and the scratch in pieces of this size, with the run's budget
// checked between them (a deadline waits for one piece at most).
constexpr uint64_t kChunk = 1 << 20;
constexpr int kCwd = -1;  // no dirfd argument: relative to the cwd

int64_t Arg(const Call& c, int i) { return static_cast<int32_t>(c.args[i]); }
int64_t DirfdArg(const Call& c, int i) { return i == kCwd ? AT_FDCWD : Arg(c, i); }

std::string_view LastName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A path's directory and last name; `scratch` tells whether that directory is in the scratch.
struct Parent {
  fs::Location dir;
  std::string path;
  std::string_view name;
  bool scratch = false;
};

int ResolveNew(GuestState& g, int64_t dirfd, uint64_t path_addr, Parent* out) {
  if (int err = ReadPath(g, path_addr, &out->path)) return err;
  if (out->path.empty()) return ENOENT;
  if (int err = ResolveParent(g, dirfd, out->path, &out->dir)) return err;
  out->name = LastName(out->path);
  out->scratch = fs::GuestFs::IsScratch(out->dir);
  return 0;
}

fs::ScratchDir& Scratch(GuestState& g) { return *g.fs().scratch(); }

// mkdir/mkdirat and symlink/symlinkat: a new name in a scratch directory.
int MakeNode(GuestState& g, int64_t dirfd, uint64_t path_addr, fs::NodeType type, uint32_t mode,
             std::string_view target) {
  Parent p;
  if (int err = ResolveNew(g, dirfd, path_addr, &p)) return err;
  if (!p.scratch) return RefuseWrite(g, dirfd, p.path, WriteKind::kCreate, 0);
  // "new/" names a directory: only mkdir may make it.
  if (type != fs::NodeType::kDirectory && p.path.back() == '/') {
    fs::Location at;
    return ResolveAt(g, dirfd, p.path, {false, false}, &at) == 0 ? EEXIST : ENOENT;
  }
  fs::ScratchDir::Id id;
  return Scratch(g).Create(p.dir.node, p.name, type, mode, target, &id);
}

template <int kDirfd, int kPath, int kMode>
Reply Mkdir(GuestState& g, const Call& c) {
  return Reply::Error(MakeNode(g, DirfdArg(c, kDirfd), c.args[kPath], fs::NodeType::kDirectory,
                               static_cast<uint32_t>(c.args[kMode]), ""));
}

template <int kTarget, int kDirfd, int kPath>
Reply Symlink(GuestState& g, const Call& c) {
  std::string target;
  if (int err = ReadPath(g, c.args[kTarget], &target)) return Reply::Error(err);
  return Reply::Error(
      MakeNode(g, DirfdArg(c, kDirfd), c.args[kPath], fs::NodeType::kSymlink, 0777, target));
}

int RemoveNode(GuestState& g, int64_t dirfd, uint64_t path_addr, bool want_dir) {
  Parent p;
  if (int err = ResolveNew(g, dirfd, path_addr, &p)) return err;
  if (!p.scratch) return RefuseWrite(g, dirfd, p.path, WriteKind::kRemove, 0);
  if (!want_dir && p.path.back() == '/') {
    // unlink("name/"): a directory is EISDIR, anything else ENOTDIR (the walk's answer).
    fs::Location at;
    if (int err = ResolveAt(g, dirfd, p.path, {false, false}, &at)) return err;
    return EISDIR;
  }
  return Scratch(g).Remove(p.dir.node, p.name, want_dir);
}

Reply Unlink(GuestState& g, const Call& c) {
  return Reply::Error(RemoveNode(g, AT_FDCWD, c.args[0], false));
}
Reply Rmdir(GuestState& g, const Call& c) {
  return Reply::Error(RemoveNode(g, AT_FDCWD, c.args[0], true));
}
Reply Unlinkat(GuestState& g, const Call& c) {
  if (c.args[2] & ~uint64_t{AT_REMOVEDIR}) return Reply::Error(EINVAL);
  return Reply::Error(RemoveNode(g, Arg(c, 0), c.args[1], (c.args[2] & AT_REMOVEDIR) != 0));
}

// rename within the scratch; across its edge EXDEV (as between two mounts), else read-only.
template <int kOldDirfd, int kOld, int kNewDirfd, int kNew, int kFlags>
Reply Rename(GuestState& g, const Call& c) {
  const uint64_t flags = kFlags < 0 ? 0 : c.args[kFlags];
  // RENAME_EXCHANGE and RENAME_WHITEOUT are not offered: EINVAL, as a file system without them.
  if (flags & ~uint64_t{RENAME_NOREPLACE}) return Reply::Error(EINVAL);
  Parent from, to;
  const int64_t od = DirfdArg(c, kOldDirfd), nd = DirfdArg(c, kNewDirfd);
  if (int err = ResolveNew(g, od, c.args[kOld], &from)) return Reply::Error(err);
  if (int err = ResolveNew(g, nd, c.args[kNew], &to)) return Reply::Error(err);
  if (from.scratch != to.scratch) return Reply::Error(EXDEV);
  if (!from.scratch) {
    const int first = RefuseWrite(g, od, from.path, WriteKind::kRemove, AT_SYMLINK_NOFOLLOW);
    if (first != EROFS) return Reply::Error(first);
    return Reply::Error(RefuseWrite(g, nd, to.path, WriteKind::kRemove, 0));
  }
  return Reply::Error(Scratch(g).Rename(from.dir.node, from.name, to.dir.node, to.name,
                                        (flags & RENAME_NOREPLACE) != 0));
}

// truncate(path, length) and ftruncate(fd, length).
Reply Truncate(GuestState& g, const Call& c) {
  if (static_cast<int64_t>(c.args[1]) < 0) return Reply::Error(EINVAL);  // checked first
  std::string path;
  if (int err = ReadPath(g, c.args[0], &path)) return Reply::Error(err);
  fs::Location at;
  if (int err = ResolveAt(g, AT_FDCWD, path, {true, false}, &at)) return Reply::Error(err);
  if (!fs::GuestFs::IsScratch(at)) return Reply::Error(EROFS);
  if (g.fs().Type(at) == fs::NodeType::kDirectory) return Reply::Error(EISDIR);
  if (!(g.fs().Info(at).mode & S_IWUSR)) return Reply::Error(EACCES);
  return Reply::Error(Scratch(g).Truncate(at.node, c.args[1]));
}

Reply Ftruncate(GuestState& g, const Call& c) {
  const OpenFile* f = g.fds().File(Arg(c, 0));
  if (f == nullptr) return Reply::Error(g.fds().IsOpen(Arg(c, 0)) ? EINVAL : EBADF);
  if (static_cast<int64_t>(c.args[1]) < 0) return Reply::Error(EINVAL);
  // Only a scratch file open for writing (a channel or tree file: EINVAL, as a read-only fd).
  if ((f->flags & O_PATH) || (f->flags & O_ACCMODE) == O_RDONLY || !fs::GuestFs::IsScratch(f->at)) {
    return Reply::Error((f->flags & O_PATH) ? EBADF : EINVAL);
  }
  return Reply::Error(Scratch(g).Truncate(f->at.node, c.args[1]));
}

// chmod in the scratch sets the bits (a symlink's stay 0777); elsewhere EROFS.
int ChmodPath(GuestState& g, int64_t dirfd, uint64_t path_addr, uint64_t mode) {
  std::string path;
  if (int err = ReadPath(g, path_addr, &path)) return err;
  fs::Location at;
  if (int err = ResolveAt(g, dirfd, path, {true, false}, &at)) return err;
  if (!fs::GuestFs::IsScratch(at)) return EROFS;
  return Scratch(g).Chmod(at.node, static_cast<uint32_t>(mode));
}
Reply Chmod(GuestState& g, const Call& c) {
  return Reply::Error(ChmodPath(g, AT_FDCWD, c.args[0], c.args[1]));
}
Reply Fchmodat(GuestState& g, const Call& c) {
  return Reply::Error(ChmodPath(g, Arg(c, 0), c.args[1], c.args[2]));
}
Reply Fchmod(GuestState& g, const Call& c) {
  const OpenFile* f = g.fds().File(Arg(c, 0));
  if (f == nullptr) return Reply::Error(g.fds().IsOpen(Arg(c, 0)) ? EROFS : EBADF);
  if (!fs::GuestFs::IsScratch(f->at)) return Reply::Error(EROFS);
  return Reply::Error(Scratch(g).Chmod(f->at.node, static_cast<uint32_t>(c.args[1])));
}

// utimensat/utimes/utime/futimesat: in the scratch they succeed and change nothing (its times
// are fixed: a run must not show when it ran); elsewhere EROFS.
int TouchPath(GuestState& g, int64_t dirfd, uint64_t path_addr, uint64_t at_flags) {
  std::string path;
  if (path_addr != 0) {
    if (int err = ReadPath(g, path_addr, &path)) return err;
  }
  fs::Location at;
  if (path_addr == 0 || (path.empty() && (at_flags & AT_EMPTY_PATH))) {
    if (path_addr != 0 && dirfd == AT_FDCWD) {
      at = g.cwd();
    } else if (const OpenFile* f = g.fds().File(dirfd)) {
      at = f->at;
    } else {
      return g.fds().IsOpen(dirfd) ? EROFS : EBADF;  // a channel: not a file to touch
    }
  } else if (int err = ResolveAt(g, dirfd, path, {!(at_flags & AT_SYMLINK_NOFOLLOW), false}, &at)) {
    return err;
  }
  return fs::GuestFs::IsScratch(at) ? 0 : EROFS;
}
Reply Utimensat(GuestState& g, const Call& c) {
  return Reply::Error(TouchPath(g, Arg(c, 0), c.args[1], c.args[3]));
}
Reply Futimesat(GuestState& g, const Call& c) {
  return Reply::Error(TouchPath(g, Arg(c, 0), c.args[1], 0));
}
Reply Utimes(GuestState& g, const Call& c) {
  // A null path is EFAULT for utimes/utime (only utimensat takes it for "the fd").
  if (c.args[0] == 0) return Reply::Error(EFAULT);
  return Reply::Error(TouchPath(g, AT_FDCWD, c.args[0], 0));
}

}  // namespace

Reply ScratchRead(GuestState& g, OpenFile& file, const std::vector<iovec>& iov,
                  std::optional<int64_t> offset) {
  const fs::ScratchDir& scratch = Scratch(g);
  uint64_t pos = offset.has_value() ? static_cast<uint64_t>(*offset) : file.pos;
  const uint64_t start = pos;
  std::string buf;
  for (const iovec& v : iov) {
    uint64_t done = 0;
    while (done < v.iov_len) {
      if (pos > start && g.Exhausted()) return Reply::Error(EINTR);  // the run is ending
      const uint64_t got =
          scratch.Read(file.at.node, pos, std::min(kChunk, v.iov_len - done), &buf);
      if (got == 0) break;
      if (int err =
              g.memory().Write(reinterpret_cast<uint64_t>(v.iov_base) + done, buf.data(), got)) {
        if (pos == start) return Reply::Error(err);
        done = v.iov_len + 1;  // as the kernel: a short read up to the fault
        break;
      }
      done += got;
      pos += got;
    }
    if (done != v.iov_len) break;
  }
  if (!offset.has_value()) file.pos = pos;
  return Reply::Value(static_cast<int64_t>(pos - start));
}

Reply FsWrite(GuestState& g, OpenFile& file, const std::vector<iovec>& iov, uint64_t,
              std::optional<int64_t> offset) {
  // Tree files are only ever open O_RDONLY and directories never for writing: EBADF, as for any
  // descriptor not open for writing.
  if ((file.flags & O_PATH) || (file.flags & O_ACCMODE) == O_RDONLY) return Reply::Error(EBADF);
  if (!fs::GuestFs::IsScratch(file.at)) return Reply::Error(EBADF);
  if (offset.has_value() && *offset < 0) return Reply::Error(EINVAL);
  fs::ScratchDir& scratch = Scratch(g);
  // O_APPEND writes at the end whatever the offset (pwrite too: Linux's behaviour).
  uint64_t pos = (file.flags & O_APPEND) ? scratch.size(file.at.node)
                 : offset.has_value()    ? static_cast<uint64_t>(*offset)
                                         : file.pos;
  const uint64_t start = pos;
  std::string buf;
  for (const iovec& v : iov) {
    uint64_t done = 0;
    while (done < v.iov_len) {
      if (pos > start && g.Exhausted()) return Reply::Error(EINTR);  // the run is ending
      // One piece at a time from guest memory: a huge length costs nothing past the quota.
      buf.resize(std::min(kChunk, v.iov_len - done));
      if (int err = g.memory().Read(reinterpret_cast<uint64_t>(v.iov_base) + done, buf.data(),
                                    buf.size())) {
        if (pos == start) return Reply::Error(err);
        done = v.iov_len + 1;
        break;
      }
      const int64_t wrote = scratch.Write(file.at.node, pos, buf);
      if (wrote < 0) {
        if (pos == start) return Reply::Error(static_cast<int>(-wrote));
        done = v.iov_len + 1;
        break;
      }
      done += static_cast<uint64_t>(wrote);
      pos += static_cast<uint64_t>(wrote);
      if (static_cast<uint64_t>(wrote) < buf.size()) {
        done = v.iov_len + 1;  // cut short by the quota
        break;
      }
    }
    if (done != v.iov_len) break;
  }
  if (!offset.has_value()) file.pos = pos;
  return Reply::Value(static_cast<int64_t>(pos - start));
}

int ScratchPrepareMap(GuestState& g, int64_t fd, const OpenFile& file, uint64_t length,
                      uint64_t flags, uint64_t offset) {
  if ((flags & MAP_TYPE) != MAP_PRIVATE || g.injector() == nullptr) return ENODEV;
  if ((file.flags & O_ACCMODE) == O_WRONLY) return EACCES;
  if (length == 0 || offset % launch::kPageSize != 0) return EINVAL;
  const fs::ScratchDir& scratch = Scratch(g);
  const uint64_t size = scratch.size(file.at.node);
  // Only the mapped range is copied (the rest of the snapshot is a hole): the host memory a
  // snapshot holds is bounded by the mapping, which the memory limit counts (Mmap's accounting).
  sys::UniqueFd snap(::memfd_create("zerocell-scratch-map", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!snap.valid() || ::ftruncate(snap.get(), static_cast<off_t>(size)) != 0) return ENOMEM;
  std::string bytes;
  for (uint64_t at = offset; at < size && at - offset < length;) {
    const uint64_t got =
        scratch.Read(file.at.node, at, std::min(kChunk, length - (at - offset)), &bytes);
    if (got == 0) break;
    if (::pwrite(snap.get(), bytes.data(), got, static_cast<off_t>(at)) !=
        static_cast<ssize_t>(got)) {
      return ENOMEM;
    }
    at += got;
  }
  // Sealed, and only a read-only description reaches the guest: it can neither change the
  // snapshot nor map it writable and shared.
  if (::fcntl(snap.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
    return ENOMEM;
  }
  const std::string self = "/proc/self/fd/" + std::to_string(snap.get());
  sys::UniqueFd ro(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ro.valid()) return ENOMEM;
  // Replaces whatever real descriptor an earlier mapping left at this number (SETFD): each
  // mapping sees the file as it is now.
  if (g.injector()->Inject(ro.get(), static_cast<int>(fd)) != fd) return ENODEV;
  g.fds().set_injected(fd, true);  // close lets the kernel drop it (io_handlers.cc Close)
  return 0;
}

void RegisterScratchHandlers(HandlerTable& t) {
  t[SYS_mkdir] = Mkdir<kCwd, 0, 1>;
  t[SYS_mkdirat] = Mkdir<0, 1, 2>;
  t[SYS_symlink] = Symlink<0, kCwd, 1>;
  t[SYS_symlinkat] = Symlink<0, 1, 2>;
  t[SYS_unlink] = Unlink;
  t[SYS_unlinkat] = Unlinkat;
  t[SYS_rmdir] = Rmdir;
  t[SYS_rename] = Rename<kCwd, 0, kCwd, 1, -1>;
  t[SYS_renameat] = Rename<0, 1, 2, 3, -1>;
  t[SYS_renameat2] = Rename<0, 1, 2, 3, 4>;
  t[SYS_truncate] = Truncate;
  t[SYS_ftruncate] = Ftruncate;
  t[SYS_chmod] = Chmod;
  t[SYS_fchmodat] = Fchmodat;
  t[SYS_fchmod] = Fchmod;
  t[SYS_utimensat] = Utimensat;
  t[SYS_futimesat] = Futimesat;
  t[SYS_utimes] = Utimes;
  t[SYS_utime] = Utimes;
}

}  // namespace zerocell::sandbox::supervisor
