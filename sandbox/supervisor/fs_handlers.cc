// The guest's file system calls: open, stat, read, lseek, getdents64, readlink, access, cwd.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "sandbox/supervisor/fs_calls.h"
#include "sandbox/supervisor/fs_path.h"
#include "sandbox/supervisor/handlers.h"

namespace zerocell::sandbox::supervisor {
namespace {

// Tree contents go to the guest in pieces of this size, with the run's budget checked between.
constexpr uint64_t kReadChunk = 1 << 20;

int64_t Fd(const Call& c, int i = 0) { return static_cast<int32_t>(c.args[i]); }

// What F_GETFL reports of the open flags (the kernel drops the open-time-only ones and adds
// O_LARGEFILE on 64-bit).
constexpr int kKeptFlags = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECTORY | O_NOFOLLOW | O_PATH |
                           O_NOATIME | O_DIRECT | O_DSYNC | O_SYNC;

unsigned char DirentType(fs::NodeType t) {
  switch (t) {
    case fs::NodeType::kDirectory:
      return DT_DIR;
    case fs::NodeType::kRegular:
      return DT_REG;
    case fs::NodeType::kSymlink:
      return DT_LNK;
  }
  return DT_UNKNOWN;
}

struct stat StatOfNode(const fs::GuestFs& fs, const fs::Location& at) {
  const fs::NodeInfo info = fs.Info(at);
  struct stat st = {};
  st.st_dev = info.dev;
  st.st_ino = info.ino;
  st.st_nlink = info.nlink;
  const mode_t type = info.type == fs::NodeType::kDirectory ? S_IFDIR
                      : info.type == fs::NodeType::kSymlink ? S_IFLNK
                                                            : S_IFREG;
  st.st_mode = type | info.mode;
  // The guest owns every file it sees (one fixed identity, docs/architecture.md "Determinism").
  st.st_uid = kGuestUid;
  st.st_gid = kGuestGid;
  st.st_size = static_cast<off_t>(info.size);
  st.st_blksize = 65536;  // large stdio buffers: fewer notified calls
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_atim = st.st_mtim = st.st_ctim = {info.mtime_sec, info.mtime_nsec};
  return st;
}

// Owner permission bits against R_OK/W_OK/X_OK for the guest (which owns every file).
int CheckAccess(const fs::GuestFs& fs, const fs::Location& at, uint64_t mode) {
  const fs::NodeInfo info = fs.Info(at);
  if (mode & W_OK) {
    if (!fs::GuestFs::IsScratch(at)) return EROFS;
    if (!(info.mode & S_IWUSR)) return EACCES;
  }
  if ((mode & R_OK) && !(info.mode & S_IRUSR)) return EACCES;
  if ((mode & X_OK) && !(info.mode & S_IXUSR)) return EACCES;
  return 0;
}

// The last component of a path (trailing slashes dropped): "" for "/".
std::string_view LastName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

struct stat FsStat(const GuestState& g, const OpenFile& file) {
  return StatOfNode(g.fs(), file.at);
}

Reply FsOpen(GuestState& g, int64_t dirfd, std::string_view path, uint64_t flags, uint64_t mode) {
  const int access = static_cast<int>(flags & O_ACCMODE);
  const bool creates = flags & O_CREAT;
  const bool excl = creates && (flags & O_EXCL);
  const bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
  fs::Location at;
  // With O_CREAT|O_EXCL a final symlink is never followed (the kernel's rule).
  const bool follow = !(flags & O_NOFOLLOW) && !excl;
  int err = ResolveAt(g, dirfd, path, {follow, (flags & O_DIRECTORY) != 0 && !tmpfile}, &at);
  bool created = false;
  if (err == ENOENT && creates && !tmpfile) {
    // A new name: refused for the read-only file system once its directory exists.
    fs::Location dir;
    if (int parent = ResolveParent(g, dirfd, path, &dir)) return Reply::Error(parent);
    if (!fs::GuestFs::IsScratch(dir)) return Reply::Error(EROFS);
    if (path.back() == '/') return Reply::Error(EISDIR);  // the kernel's answer to "new/"
    fs::ScratchDir::Id id;
    if (int e = g.fs().scratch()->Create(dir.node, LastName(path), fs::NodeType::kRegular,
                                         static_cast<uint32_t>(mode), "", &id)) {
      return Reply::Error(e);
    }
    at = fs::Location{fs::GuestFs::kScratchMount, id, g.fs().scratch()->PathOf(id)};
    created = true;
  } else if (err != 0) {
    return Reply::Error(err);
  }
  const bool scratch = fs::GuestFs::IsScratch(at);
  if (tmpfile) return Reply::Error(scratch ? EOPNOTSUPP : EROFS);  // no unnamed scratch files
  if (excl && !created) return Reply::Error(EEXIST);
  const fs::NodeType type = g.fs().Type(at);
  if (type == fs::NodeType::kSymlink && !(flags & O_PATH)) return Reply::Error(ELOOP);
  if (!(flags & O_PATH)) {
    const bool writes = access != O_RDONLY;
    if (type == fs::NodeType::kDirectory && (writes || creates)) return Reply::Error(EISDIR);
    // Only scratch files are writable; everything of the trees is read-only.
    if (!scratch && (writes || (flags & O_TRUNC))) return Reply::Error(EROFS);
    if (scratch && !created) {
      const uint32_t perm = g.fs().Info(at).mode;
      const bool alters = writes || (flags & O_TRUNC);
      if ((alters && !(perm & S_IWUSR)) || (access != O_WRONLY && !(perm & S_IRUSR))) {
        return Reply::Error(EACCES);
      }
    }
    if (scratch && (flags & O_TRUNC) && type == fs::NodeType::kRegular) {
      if (int e = g.fs().scratch()->Truncate(at.node, 0)) return Reply::Error(e);
    }
  }
  auto file = std::make_shared<OpenFile>();
  if (scratch && type == fs::NodeType::kRegular)
    file->scratch_hold = g.fs().scratch()->Hold(at.node);
  const std::shared_ptr<int>& held = g.real_files();
  if (type == fs::NodeType::kRegular && !(flags & O_PATH) && g.injector() != nullptr &&
      *held < GuestState::kMaxRealFiles) {
    // Our own O_RDONLY description of the sealed memfd (the tree's is read-write for its
    // builder): a guest holding it can neither write it nor map it writable and shared. Bounded
    // per run: each is a descriptor of the server, which a guest must not exhaust.
    const std::string self = "/proc/self/fd/" + std::to_string(g.fs().ContentFd(at));
    sys::UniqueFd real(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
    if (real.valid()) {
      ++*held;
      file->real = std::shared_ptr<const sys::UniqueFd>(new sys::UniqueFd(std::move(real)),
                                                        [held](const sys::UniqueFd* fd) {
                                                          --*held;
                                                          delete fd;
                                                        });
    }
  }
  file->at = std::move(at);
  file->flags = static_cast<int>(flags & kKeptFlags) | O_LARGEFILE;
  return Reply::FromResult(FsPlaceFile(g, std::move(file), (flags & O_CLOEXEC) != 0, 0));
}

int FsPlaceFile(GuestState& g, std::shared_ptr<OpenFile> file, bool cloexec, int min_fd) {
  if (file->real != nullptr && g.injector() != nullptr && min_fd <= FdTable::kTreeFdLo) {
    const int fd = g.fds().AddFile(file, cloexec, 0, /*in_range=*/true);
    if (fd >= 0) {
      if (g.injector()->Inject(file->real->get(), fd) == fd) {
        g.fds().set_injected(fd, true);
        return fd;
      }
      g.fds().Close(fd);  // never a number in the range without its memfd behind it
    }
  }
  return g.fds().AddFile(std::move(file), cloexec, min_fd);
}

int FsDupTo(GuestState& g, int64_t fd, int64_t newfd, bool cloexec) {
  std::shared_ptr<OpenFile> file = g.fds().FileRef(fd);
  if (!FdTable::InTreeRange(newfd)) return g.fds().DupTo(fd, newfd, cloexec);
  // A number in the range must hold what the kernel will read there: only a tree file's memfd.
  if (file == nullptr || file->real == nullptr || g.injector() == nullptr) return -EBADF;
  if (g.injector()->Inject(file->real->get(), static_cast<int>(newfd)) != newfd) return -EBADF;
  const int placed = g.fds().DupTo(fd, newfd, cloexec);
  if (placed >= 0) g.fds().set_injected(placed, true);
  return placed;
}

int FsStatAt(GuestState& g, int64_t dirfd, std::string_view path, uint64_t at_flags,
             struct stat* out) {
  if (path.empty()) {
    if (!(at_flags & AT_EMPTY_PATH)) return ENOENT;
    if (dirfd == AT_FDCWD) {
      *out = StatOfNode(g.fs(), g.cwd());
      return 0;
    }
    const OpenFile* f = g.fds().File(dirfd);
    if (f == nullptr) return EBADF;  // channels are answered before this
    *out = StatOfNode(g.fs(), f->at);
    return 0;
  }
  fs::Location at;
  if (int err = ResolveAt(g, dirfd, path, {!(at_flags & AT_SYMLINK_NOFOLLOW), false}, &at)) {
    return err;
  }
  *out = StatOfNode(g.fs(), at);
  return 0;
}

Reply FsAccess(GuestState& g, int64_t dirfd, std::string_view path, uint64_t mode,
               uint64_t at_flags) {
  if (mode & ~uint64_t{R_OK | W_OK | X_OK}) return Reply::Error(EINVAL);
  if (at_flags & ~uint64_t{AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH}) {
    return Reply::Error(EINVAL);
  }
  fs::Location at;
  if (path.empty() && (at_flags & AT_EMPTY_PATH)) {
    const OpenFile* f = dirfd == AT_FDCWD ? nullptr : g.fds().File(dirfd);
    if (dirfd != AT_FDCWD && f == nullptr) return Reply::Error(EBADF);
    at = f == nullptr ? g.cwd() : f->at;
  } else if (int err = ResolveAt(g, dirfd, path, {!(at_flags & AT_SYMLINK_NOFOLLOW), false}, &at)) {
    return Reply::Error(err);
  }
  return Reply::Error(CheckAccess(g.fs(), at, mode));
}

Reply FsRead(GuestState& g, OpenFile& file, const std::vector<iovec>& iov, uint64_t,
             std::optional<int64_t> offset) {
  if (file.flags & O_PATH) return Reply::Error(EBADF);
  if (g.fs().Type(file.at) == fs::NodeType::kDirectory) return Reply::Error(EISDIR);
  if ((file.flags & O_ACCMODE) == O_WRONLY) return Reply::Error(EBADF);
  if (offset.has_value() && *offset < 0) return Reply::Error(EINVAL);
  if (fs::GuestFs::IsScratch(file.at)) return ScratchRead(g, file, iov, offset);
  const uint64_t size = g.fs().Info(file.at).size;
  // With a real description the offset is the kernel's: every descriptor of the file shares it,
  // also those the kernel reads in place. Without one, the file's own.
  const int source = file.real != nullptr ? file.real->get() : g.fs().ContentFd(file.at);
  uint64_t pos = offset.has_value()     ? static_cast<uint64_t>(*offset)
                 : file.real != nullptr ? static_cast<uint64_t>(::lseek(source, 0, SEEK_CUR))
                                        : file.pos;
  const uint64_t start = pos;
  std::string buf;
  bool stop = false;
  for (const iovec& v : iov) {
    uint64_t seg_done = 0;
    while (seg_done < v.iov_len && pos < size) {
      if (pos > start && g.Exhausted()) return Reply::Error(EINTR);  // the run is ending
      const uint64_t n = std::min({kReadChunk, v.iov_len - seg_done, size - pos});
      buf.resize(n);
      const ssize_t got = ::pread(source, buf.data(), n, static_cast<off_t>(pos));
      if (got <= 0) {
        stop = true;
        break;
      }
      const uint64_t dst = reinterpret_cast<uint64_t>(v.iov_base) + seg_done;
      if (int err = g.memory().Write(dst, buf.data(), static_cast<size_t>(got))) {
        if (pos == start) return Reply::Error(err);
        stop = true;  // as the kernel: a short read up to the fault
        break;
      }
      seg_done += static_cast<uint64_t>(got);
      pos += static_cast<uint64_t>(got);
    }
    if (stop || pos >= size || seg_done < v.iov_len) break;
  }
  if (!offset.has_value()) {
    if (file.real != nullptr) {
      ::lseek(source, static_cast<off_t>(pos), SEEK_SET);
    } else {
      file.pos = pos;
    }
  }
  return Reply::Value(static_cast<int64_t>(pos - start));
}

Reply FsLseek(GuestState& g, OpenFile& file, int64_t offset, int whence) {
  if (file.flags & O_PATH) return Reply::Error(EBADF);
  const fs::NodeInfo info = g.fs().Info(file.at);
  if (info.type == fs::NodeType::kDirectory) {
    // Directory positions are entry indices (the d_off getdents64 reports).
    if (whence == SEEK_SET && offset >= 0) {
      file.pos = static_cast<uint64_t>(offset);
    } else if (!(whence == SEEK_CUR && offset == 0)) {
      return Reply::Error(EINVAL);
    }
    return Reply::Value(static_cast<int64_t>(file.pos));
  }
  if (file.real != nullptr) {
    // The kernel's own lseek on the sealed memfd: its semantics exactly (SEEK_DATA/HOLE too).
    const off_t r = ::lseek(file.real->get(), offset, whence);
    return r < 0 ? Reply::Error(errno) : Reply::Value(r);
  }
  const auto size = static_cast<int64_t>(info.size);
  int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      base = static_cast<int64_t>(file.pos);
      break;
    case SEEK_END:
      base = size;
      break;
    case SEEK_DATA:
    case SEEK_HOLE:  // no holes: data up to the size, the hole at the size
      if (offset < 0 || offset >= size) return Reply::Error(ENXIO);
      file.pos = static_cast<uint64_t>(whence == SEEK_DATA ? offset : size);
      return Reply::Value(static_cast<int64_t>(file.pos));
    default:
      return Reply::Error(EINVAL);
  }
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return Reply::Error(EINVAL);
  file.pos = static_cast<uint64_t>(base + offset);
  return Reply::Value(static_cast<int64_t>(file.pos));
}

Reply FsGetfl(const OpenFile& file) { return Reply::Value(file.flags); }

Reply FsSetfl(OpenFile& file, uint64_t flags) {
  // Only the status flags the kernel lets F_SETFL change; the access mode never changes.
  constexpr int kSettable = O_APPEND | O_NONBLOCK | O_NOATIME;
  if (flags & (O_ASYNC | O_DIRECT)) return Reply::Error(EINVAL);
  file.flags = (file.flags & ~kSettable) | (static_cast<int>(flags) & kSettable);
  return Reply::Value(0);
}

namespace {

Reply Getdents64(GuestState& g, const Call& c) {
  OpenFile* f = g.fds().File(Fd(c));
  if (f == nullptr) return Reply::Error(g.fds().IsOpen(Fd(c)) ? ENOTDIR : EBADF);
  if (f->flags & O_PATH) return Reply::Error(EBADF);
  if (g.fs().Type(f->at) != fs::NodeType::kDirectory) return Reply::Error(ENOTDIR);
  const std::vector<fs::DirEntry> entries = g.fs().List(f->at);
  const uint64_t count = std::min<uint64_t>(c.args[2], 1 << 20);
  std::string out;
  // The first entry at or after the position (positions rise along a listing: fs::DirEntry).
  size_t index = static_cast<size_t>(
      std::lower_bound(entries.begin(), entries.end(), f->pos,
                       [](const fs::DirEntry& e, uint64_t pos) { return e.pos < pos; }) -
      entries.begin());
  uint64_t next = f->pos;
  for (; index < entries.size(); ++index) {
    const fs::DirEntry& e = entries[index];
    const size_t reclen = (offsetof(dirent64, d_name) + e.name.size() + 1 + 7) & ~size_t{7};
    if (out.size() + reclen > count) break;
    const size_t at = out.size();
    out.resize(at + reclen, '\0');
    dirent64 head = {};
    head.d_ino = e.ino;
    head.d_off = static_cast<int64_t>(e.pos + 1);
    next = e.pos + 1;
    head.d_reclen = static_cast<unsigned short>(reclen);
    head.d_type = DirentType(e.type);
    memcpy(&out[at], &head, offsetof(dirent64, d_name));
    memcpy(&out[at + offsetof(dirent64, d_name)], e.name.data(), e.name.size());
  }
  if (out.empty() && index < entries.size()) return Reply::Error(EINVAL);  // buffer too small
  if (int err = g.memory().Write(c.args[1], out.data(), out.size())) return Reply::Error(err);
  f->pos = next;
  return Reply::Value(static_cast<int64_t>(out.size()));
}

Reply ReadlinkCommon(GuestState& g, int64_t dirfd, uint64_t path_addr, uint64_t buf,
                     uint64_t size) {
  std::string path;
  if (int err = ReadPath(g, path_addr, &path)) return Reply::Error(err);
  if (static_cast<int64_t>(size) <= 0) return Reply::Error(EINVAL);
  fs::Location at;
  if (int err = ResolveAt(g, dirfd, path, {false, false}, &at)) return Reply::Error(err);
  if (g.fs().Type(at) != fs::NodeType::kSymlink) return Reply::Error(EINVAL);
  const std::string_view target = g.fs().SymlinkTarget(at);
  const size_t len = std::min<size_t>(target.size(), size);
  if (int err = g.memory().Write(buf, target.data(), len)) return Reply::Error(err);
  return Reply::Value(static_cast<int64_t>(len));
}
Reply Readlink(GuestState& g, const Call& c) {
  return ReadlinkCommon(g, AT_FDCWD, c.args[0], c.args[1], c.args[2]);
}
Reply Readlinkat(GuestState& g, const Call& c) {
  return ReadlinkCommon(g, Fd(c), c.args[1], c.args[2], c.args[3]);
}

Reply Chdir(GuestState& g, const Call& c) {
  std::string path;
  if (int err = ReadPath(g, c.args[0], &path)) return Reply::Error(err);
  fs::Location at;
  if (int err = ResolveAt(g, AT_FDCWD, path, {true, true}, &at)) return Reply::Error(err);
  if (!(g.fs().Info(at).mode & S_IXUSR)) return Reply::Error(EACCES);
  g.set_cwd(std::move(at));
  return Reply::Value(0);
}

Reply Fchdir(GuestState& g, const Call& c) {
  const OpenFile* f = g.fds().File(Fd(c));
  if (f == nullptr) return Reply::Error(g.fds().IsOpen(Fd(c)) ? ENOTDIR : EBADF);
  if (g.fs().Type(f->at) != fs::NodeType::kDirectory) return Reply::Error(ENOTDIR);
  g.set_cwd(f->at);
  return Reply::Value(0);
}

Reply Getcwd(GuestState& g, const Call& c) {
  // A removed scratch directory has no path (the kernel's answer too).
  if (fs::GuestFs::IsScratch(g.cwd()) && !g.fs().scratch()->Exists(g.cwd().node)) {
    return Reply::Error(ENOENT);
  }
  const std::string cwd = g.fs().PathOf(g.cwd());
  if (c.args[1] < cwd.size() + 1) return Reply::Error(ERANGE);
  if (int err = g.memory().Write(c.args[0], cwd.c_str(), cwd.size() + 1)) return Reply::Error(err);
  return Reply::Value(static_cast<int64_t>(cwd.size() + 1));
}

}  // namespace

void RegisterFsHandlers(HandlerTable& t) {
  t[SYS_getdents64] = Getdents64;
  t[SYS_readlink] = Readlink;
  t[SYS_readlinkat] = Readlinkat;
  t[SYS_chdir] = Chdir;
  t[SYS_fchdir] = Fchdir;
  t[SYS_getcwd] = Getcwd;
  RegisterFsWriteHandlers(t);
  RegisterScratchHandlers(t);  // over the refusals, for the scratch
}

}  // namespace zerocell::sandbox::supervisor
