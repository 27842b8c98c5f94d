// Calls that would modify the guest's read-only file system: EROFS, after the checks the kernel
// makes first (a missing directory on the way is ENOENT, an existing name to create EEXIST).
#include <fcntl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <string>

#include "sandbox/supervisor/fs_path.h"
#include "sandbox/supervisor/handlers.h"

namespace zerocell::sandbox::supervisor {
namespace {

constexpr int kCwd = -1;   // no dirfd argument: relative to the cwd
constexpr int kNone = -1;  // no flags argument

using Kind = WriteKind;

int64_t Arg(const Call& c, int i) { return static_cast<int32_t>(c.args[i]); }

}  // namespace

int RefuseWrite(GuestState& g, int64_t dirfd, std::string_view path, WriteKind kind,
                uint64_t at_flags) {
  fs::Location at;
  if (path.empty() && (at_flags & AT_EMPTY_PATH) && kind == Kind::kModify) {
    if (dirfd == AT_FDCWD) return EROFS;
    return g.fds().IsOpen(dirfd) ? EROFS : EBADF;
  }
  if (kind == Kind::kModify) {
    const int err = ResolveAt(g, dirfd, path, {!(at_flags & AT_SYMLINK_NOFOLLOW), false}, &at);
    return err != 0 ? err : EROFS;
  }
  if (path.empty()) return ENOENT;
  if (int err = ResolveParent(g, dirfd, path, &at)) return err;
  if (kind == Kind::kCreate && ResolveAt(g, dirfd, path, {false, false}, &at) == 0) return EEXIST;
  return EROFS;
}

namespace {

int RefusePath(GuestState& g, int64_t dirfd, uint64_t path_addr, Kind kind, uint64_t at_flags) {
  std::string path;
  if (int err = ReadPath(g, path_addr, &path)) return err;
  return RefuseWrite(g, dirfd, path, kind, at_flags);
}

template <int kDirfd, int kPath, Kind kKind, int kFlags = kNone, bool kNoFollow = false>
Reply Refuse(GuestState& g, const Call& c) {
  const int64_t dirfd = kDirfd == kCwd ? AT_FDCWD : Arg(c, kDirfd);
  uint64_t flags = kFlags == kNone ? 0 : c.args[kFlags];
  if (kNoFollow) flags |= AT_SYMLINK_NOFOLLOW;
  return Reply::Error(RefusePath(g, dirfd, c.args[kPath], kKind, flags));
}

// rename(old, new) and link(old, new): both names are checked, then EROFS.
template <int kOldDirfd, int kOld, int kNewDirfd, int kNew, Kind kOldKind>
Reply RefuseTwo(GuestState& g, const Call& c) {
  const int64_t od = kOldDirfd == kCwd ? AT_FDCWD : Arg(c, kOldDirfd);
  const int64_t nd = kNewDirfd == kCwd ? AT_FDCWD : Arg(c, kNewDirfd);
  const int first = RefusePath(g, od, c.args[kOld], kOldKind, AT_SYMLINK_NOFOLLOW);
  if (first != EROFS) return Reply::Error(first);
  const int second = RefusePath(g, nd, c.args[kNew], Kind::kRemove, 0);
  return Reply::Error(second);
}

// utimensat(dirfd, NULL, times, 0) is futimens(dirfd).
Reply Utimensat(GuestState& g, const Call& c) {
  if (c.args[1] == 0) return Reply::Error(g.fds().IsOpen(Arg(c, 0)) ? EROFS : EBADF);
  return Reply::Error(RefusePath(g, Arg(c, 0), c.args[1], Kind::kModify, c.args[3]));
}

// fchmod, fchown, fsetxattr, ...: nothing the guest has open can be changed.
Reply RefuseFd(GuestState& g, const Call& c) {
  return Reply::Error(g.fds().IsOpen(Arg(c, 0)) ? EROFS : EBADF);
}

}  // namespace

void RegisterFsWriteHandlers(HandlerTable& t) {
  t[SYS_mkdir] = Refuse<kCwd, 0, Kind::kCreate>;
  t[SYS_mkdirat] = Refuse<0, 1, Kind::kCreate>;
  t[SYS_mknod] = Refuse<kCwd, 0, Kind::kCreate>;
  t[SYS_mknodat] = Refuse<0, 1, Kind::kCreate>;
  t[SYS_symlink] = Refuse<kCwd, 1, Kind::kCreate>;
  t[SYS_symlinkat] = Refuse<1, 2, Kind::kCreate>;
  t[SYS_rmdir] = Refuse<kCwd, 0, Kind::kRemove>;
  t[SYS_unlink] = Refuse<kCwd, 0, Kind::kRemove>;
  t[SYS_unlinkat] = Refuse<0, 1, Kind::kRemove>;
  t[SYS_rename] = RefuseTwo<kCwd, 0, kCwd, 1, Kind::kRemove>;
  t[SYS_renameat] = RefuseTwo<0, 1, 2, 3, Kind::kRemove>;
  t[SYS_renameat2] = RefuseTwo<0, 1, 2, 3, Kind::kRemove>;
  t[SYS_link] = RefuseTwo<kCwd, 0, kCwd, 1, Kind::kModify>;
  t[SYS_linkat] = RefuseTwo<0, 1, 2, 3, Kind::kModify>;
  t[SYS_chmod] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_fchmodat] = Refuse<0, 1, Kind::kModify>;
  t[SYS_chown] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_lchown] = Refuse<kCwd, 0, Kind::kModify, kNone, true>;
  t[SYS_fchownat] = Refuse<0, 1, Kind::kModify, 4>;
  t[SYS_truncate] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_utime] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_utimes] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_futimesat] = Refuse<0, 1, Kind::kModify>;
  t[SYS_utimensat] = Utimensat;
  t[SYS_setxattr] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_lsetxattr] = Refuse<kCwd, 0, Kind::kModify, kNone, true>;
  t[SYS_removexattr] = Refuse<kCwd, 0, Kind::kModify>;
  t[SYS_lremovexattr] = Refuse<kCwd, 0, Kind::kModify, kNone, true>;
  t[SYS_fchmod] = RefuseFd;
  t[SYS_fchown] = RefuseFd;
  t[SYS_fsetxattr] = RefuseFd;
  t[SYS_fremovexattr] = RefuseFd;
  // No extended attributes exist to be read.
  t[SYS_getxattr] = Fail<EOPNOTSUPP>;
  t[SYS_lgetxattr] = Fail<EOPNOTSUPP>;
  t[SYS_fgetxattr] = Fail<EOPNOTSUPP>;
  t[SYS_listxattr] = Constant<0>;
  t[SYS_llistxattr] = Constant<0>;
  t[SYS_flistxattr] = Constant<0>;
}

}  // namespace zerocell::sandbox::supervisor
