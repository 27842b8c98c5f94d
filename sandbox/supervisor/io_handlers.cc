// Emulated channel I/O: read/write families, open by alias, descriptors, stat, poll.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/supervisor/fs_calls.h"
#include "sandbox/supervisor/fs_path.h"
#include "sandbox/supervisor/handlers.h"

namespace zerocell::sandbox::supervisor {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr uint64_t kMaxIov = 1024;  // IOV_MAX
// Large copies go in pieces of this size, with the run's budget checked between them
// (GuestState::Exhausted), so that a deadline, the CPU limit or a cancel waits at most one piece.
constexpr uint64_t kCopyChunk = 1 << 20;

int64_t Fd(const Call& c, int i = 0) { return static_cast<int32_t>(c.args[i]); }

// Guest iovec array, copied once (decisions are made on the copy).
int ReadIovecs(GuestState& g, uint64_t addr, uint64_t count, std::vector<iovec>* out,
               uint64_t* total) {
  if (count > kMaxIov) return EINVAL;
  out->resize(count);
  if (int err = g.memory().Read(addr, out->data(), count * sizeof(iovec)); err) return err;
  *total = 0;
  for (const iovec& v : *out) {
    if (v.iov_len > (uint64_t{1} << 62) || *total + v.iov_len < *total) return EINVAL;
    *total += v.iov_len;
  }
  return 0;
}

Reply DoRead(GuestState& g, int64_t fd, const std::vector<iovec>& iov, uint64_t total,
             std::optional<int64_t> offset) {
  if (OpenFile* f = g.fds().File(fd)) return FsRead(g, *f, iov, total, offset);
  const int ch = g.fds().Lookup(fd);
  if (ch < 0) return Reply::Error(EBADF);
  Channel& c = g.channel(ch);
  // The pieces of a read come in order: scatter them over the iovecs from a cursor.
  size_t seg = 0;
  uint64_t seg_off = 0;
  const ReadResult r = c.Read(total, offset, [&](uint64_t done, std::string_view bytes) -> int {
    if (done > 0 && g.Exhausted()) return EINTR;  // the run is ending: the rest does not matter
    const size_t seg_at = seg;
    const uint64_t off_at = seg_off;
    while (!bytes.empty()) {
      while (seg < iov.size() && seg_off == iov[seg].iov_len) {
        ++seg;
        seg_off = 0;
      }
      if (seg == iov.size()) break;  // cannot happen: reads never exceed the iovecs' total
      const uint64_t n = std::min<uint64_t>(bytes.size(), iov[seg].iov_len - seg_off);
      if (int err = g.memory().Write(reinterpret_cast<uint64_t>(iov[seg].iov_base) + seg_off,
                                     bytes.data(), n)) {
        seg = seg_at;  // the piece does not count: the next read serves it again
        seg_off = off_at;
        return err;
      }
      seg_off += n;
      bytes.remove_prefix(n);
    }
    return 0;
  });
  if (r.wait) {
    // A stream that can wait must say on what; one that cannot is broken, not at its end.
    return c.ready_fd() >= 0 ? Reply::Wait(c.ready_fd()) : Reply::Error(EIO);
  }
  if (r.error != 0) return Reply::Error(r.error);
  return Reply::Value(static_cast<int64_t>(r.moved));
}

// After a write was stored: output accounting, the observer, the output limit, the reply.
Reply FinishWrite(GuestState& g, int ch, Channel& c, uint64_t size_before, std::string_view bytes,
                  uint64_t total, bool over_capacity, uint64_t offset) {
  g.AddOutput(c.size() - size_before);
  if (g.observer() != nullptr && !bytes.empty()) {
    g.observer()->OnWrite(ch, offset, bytes);
    if (g.observer()->takes_output(ch)) c.DropOutput();
  }
  if (over_capacity) {
    g.Stop(Outcome::kOutputLimit, "output limit of " +
                                      std::to_string(g.manifest().output_limit_bytes()) +
                                      " bytes reached writing " + c.spec().alias);
  }
  if (bytes.empty() && total > 0) return Reply::Error(over_capacity ? EFBIG : EDQUOT);
  return Reply::Value(static_cast<int64_t>(bytes.size()));
}

Reply DoWrite(GuestState& g, int64_t fd, const std::vector<iovec>& iov, uint64_t total,
              std::optional<int64_t> offset) {
  if (OpenFile* f = g.fds().File(fd)) return FsWrite(g, *f, iov, total, offset);
  const int ch = g.fds().Lookup(fd);
  if (ch < 0) return Reply::Error(EBADF);
  Channel& c = g.channel(ch);
  bool over_capacity = false;
  // Bytes an observer takes away are held only for one write: bound that write.
  const bool taken = g.observer() != nullptr && g.observer()->takes_output(ch) &&
                     !c.spec().readable() && !c.spec().random_write();
  const uint64_t length = taken ? std::min(total, kStreamedWriteMax) : total;
  WriteGrant grant = c.PlanWrite(length, offset, g.output_capacity(), &over_capacity);
  if (grant.error) return Reply::Error(grant.error);
  const uint64_t before = c.data().size();
  const uint64_t size_before = c.size();
  if (grant.length > 0 && grant.offset == size_before) {
    // An append: the guest's bytes go straight into the channel's buffer.
    const int err = c.CommitAppend(grant, !offset.has_value(), [&](char* dst, uint64_t len) {
      uint64_t done = 0;
      for (const iovec& v : iov) {
        if (done == len) break;
        const uint64_t n = std::min<uint64_t>(v.iov_len, len - done);
        for (uint64_t off = 0; off < n; off += kCopyChunk) {
          if (done > 0 && g.Exhausted()) return EINTR;  // the run is ending
          const uint64_t k = std::min(kCopyChunk, n - off);
          if (int e =
                  g.memory().Read(reinterpret_cast<uint64_t>(v.iov_base) + off, dst + done, k)) {
            return e;  // nothing is stored from a write with a bad buffer
          }
          done += k;
        }
      }
      return 0;
    });
    if (err) return Reply::Error(err);
    return FinishWrite(g, ch, c, size_before, std::string_view(c.data()).substr(before), total,
                       over_capacity, grant.offset);
  }
  std::string bytes;
  for (const iovec& v : iov) {
    if (bytes.size() == grant.length) break;
    uint64_t n = std::min<uint64_t>(v.iov_len, grant.length - bytes.size());
    for (uint64_t off = 0; off < n; off += kCopyChunk) {
      if (!bytes.empty() && g.Exhausted()) return Reply::Error(EINTR);  // the run is ending
      uint64_t k = std::min(kCopyChunk, n - off);
      size_t at = bytes.size();
      bytes.resize(at + k);
      if (int err = g.memory().Read(reinterpret_cast<uint64_t>(v.iov_base) + off, &bytes[at], k)) {
        return Reply::Error(err);  // nothing is stored from a write with a bad buffer
      }
    }
  }
  c.CommitWrite(grant, bytes, !offset.has_value());
  return FinishWrite(g, ch, c, size_before, bytes, total, over_capacity, grant.offset);
}

std::vector<iovec> Single(uint64_t buf, uint64_t len) {
  return {iovec{reinterpret_cast<void*>(buf), static_cast<size_t>(len)}};
}

Reply Read(GuestState& g, const Call& c) {
  return DoRead(g, Fd(c), Single(c.args[1], c.args[2]), c.args[2], std::nullopt);
}
Reply Pread(GuestState& g, const Call& c) {
  return DoRead(g, Fd(c), Single(c.args[1], c.args[2]), c.args[2], static_cast<int64_t>(c.args[3]));
}
Reply Write(GuestState& g, const Call& c) {
  return DoWrite(g, Fd(c), Single(c.args[1], c.args[2]), c.args[2], std::nullopt);
}
Reply Pwrite(GuestState& g, const Call& c) {
  return DoWrite(g, Fd(c), Single(c.args[1], c.args[2]), c.args[2],
                 static_cast<int64_t>(c.args[3]));
}

template <bool kWrite, bool kPositioned>
Reply Vector(GuestState& g, const Call& c) {
  std::vector<iovec> iov;
  uint64_t total = 0;
  if (int err = ReadIovecs(g, c.args[1], c.args[2], &iov, &total)) return Reply::Error(err);
  std::optional<int64_t> offset;
  // preadv2/pwritev2 with offset -1 use the current position.
  if (kPositioned && static_cast<int64_t>(c.args[3]) != -1)
    offset = static_cast<int64_t>(c.args[3]);
  return kWrite ? DoWrite(g, Fd(c), iov, total, offset) : DoRead(g, Fd(c), iov, total, offset);
}

Reply Lseek(GuestState& g, const Call& c) {
  if (OpenFile* f = g.fds().File(Fd(c))) {
    return FsLseek(g, *f, static_cast<int64_t>(c.args[1]), static_cast<int>(c.args[2]));
  }
  const int ch = g.fds().Lookup(Fd(c));
  if (ch < 0) return Reply::Error(EBADF);
  return Reply::FromResult(
      g.channel(ch).Seek(static_cast<int64_t>(c.args[1]), static_cast<int>(c.args[2])));
}

// A path names a channel by its alias (exact spelling, checked first), or else the guest's file
// system; nothing of the host's either way.
int ReadPathArg(GuestState& g, uint64_t path_addr, std::string* path, int* channel) {
  if (int err = g.memory().ReadString(path_addr, kMaxPath, path)) return err;
  *channel = path->empty() ? -1 : g.FindAlias(*path);
  return 0;
}

Reply OpenCommon(GuestState& g, int64_t dirfd, uint64_t path_addr, uint64_t flags,
                 uint64_t create_mode) {
  std::string path;
  int ch = -1;
  if (int err = ReadPathArg(g, path_addr, &path, &ch)) return Reply::Error(err);
  if (ch < 0) return FsOpen(g, dirfd, path, flags, create_mode);
  const ChannelSpec& spec = g.channel(ch).spec();
  const int mode = static_cast<int>(flags & O_ACCMODE);
  const bool want_read = mode == O_RDONLY || mode == O_RDWR;
  const bool want_write = mode == O_WRONLY || mode == O_RDWR;
  if ((want_read && !spec.readable()) || (want_write && !spec.writable())) {
    return Reply::Error(EACCES);
  }
  if (flags & O_DIRECTORY) return Reply::Error(ENOTDIR);
  return Reply::FromResult(g.fds().Open(ch));
}

Reply Open(GuestState& g, const Call& c) {
  return OpenCommon(g, AT_FDCWD, c.args[0], c.args[1], c.args[2]);
}
Reply Openat(GuestState& g, const Call& c) {
  return OpenCommon(g, Fd(c), c.args[1], c.args[2], c.args[3]);
}
Reply Creat(GuestState& g, const Call& c) {
  return OpenCommon(g, AT_FDCWD, c.args[0], O_CREAT | O_WRONLY | O_TRUNC, c.args[1]);
}

Reply Close(GuestState& g, const Call& c) {
  const bool injected = g.fds().injected(Fd(c));
  if (int err = g.fds().Close(Fd(c))) return Reply::Error(-err);
  // The guest's real descriptor (a tree file's memfd) goes too: the kernel closes it, after the
  // table (one thread: nothing can reuse the number in between).
  return injected ? Reply::Continue() : Reply::Value(0);
}

struct stat StatOf(GuestState& g, int ch) {
  const Channel& channel = g.channel(ch);
  const ChannelSpec& spec = channel.spec();
  struct stat st = {};
  const bool random = spec.random_read() || spec.random_write();
  st.st_dev = 1;
  st.st_ino = static_cast<ino_t>(ch + 1);
  st.st_nlink = 1;
  st.st_mode =
      (random ? S_IFREG : S_IFIFO) | (spec.readable() ? 0444 : 0) | (spec.writable() ? 0222 : 0);
  st.st_uid = kGuestUid;
  st.st_gid = kGuestGid;
  st.st_size = random ? static_cast<off_t>(channel.size()) : 0;
  st.st_blksize = 65536;  // large stdio buffers: fewer notified calls
  st.st_blocks = (st.st_size + 511) / 512;
  const int64_t t = g.realtime_base_ns();
  st.st_atim = st.st_mtim = st.st_ctim = {t / 1000000000, t % 1000000000};
  return st;
}

Reply PutStat(GuestState& g, const struct stat& st, uint64_t addr) {
  return Reply::FromResult(-g.memory().WriteValue(addr, st));
}

Reply Fstat(GuestState& g, const Call& c) {
  if (const OpenFile* f = g.fds().File(Fd(c))) return PutStat(g, FsStat(g, *f), c.args[1]);
  const int ch = g.fds().Lookup(Fd(c));
  if (ch < 0) return Reply::Error(EBADF);
  return PutStat(g, StatOf(g, ch), c.args[1]);
}

// stat/lstat (dirfd AT_FDCWD), newfstatat(dirfd, path, buf, flags) and statx(dirfd, path, flags,
// mask, buf): a channel's alias or fd, or the file system.
int StatAny(GuestState& g, int64_t dirfd, uint64_t path_addr, uint64_t flags, struct stat* st) {
  std::string path;
  int ch = -1;
  if (int err = ReadPathArg(g, path_addr, &path, &ch)) return err;
  if (path.empty() && (flags & AT_EMPTY_PATH)) ch = g.fds().Lookup(dirfd);
  if (ch >= 0) {
    *st = StatOf(g, ch);
    return 0;
  }
  return FsStatAt(g, dirfd, path, flags, st);
}

Reply Stat(GuestState& g, const Call& c) {
  struct stat st;
  if (int err = StatAny(g, AT_FDCWD, c.args[0], 0, &st)) return Reply::Error(err);
  return PutStat(g, st, c.args[1]);
}

Reply Lstat(GuestState& g, const Call& c) {
  struct stat st;
  if (int err = StatAny(g, AT_FDCWD, c.args[0], AT_SYMLINK_NOFOLLOW, &st)) return Reply::Error(err);
  return PutStat(g, st, c.args[1]);
}

Reply Newfstatat(GuestState& g, const Call& c) {
  struct stat st;
  if (int err = StatAny(g, Fd(c), c.args[1], c.args[3], &st)) return Reply::Error(err);
  return PutStat(g, st, c.args[2]);
}

Reply Statx(GuestState& g, const Call& c) {
  struct stat st;
  if (int err = StatAny(g, Fd(c), c.args[1], c.args[2], &st)) return Reply::Error(err);
  struct statx sx = {};
  sx.stx_mask = STATX_BASIC_STATS;
  sx.stx_blksize = static_cast<uint32_t>(st.st_blksize);
  sx.stx_nlink = static_cast<uint32_t>(st.st_nlink);
  sx.stx_ino = st.st_ino;
  sx.stx_dev_major = major(st.st_dev);
  sx.stx_dev_minor = minor(st.st_dev);
  sx.stx_uid = st.st_uid;
  sx.stx_gid = st.st_gid;
  sx.stx_mode = static_cast<uint16_t>(st.st_mode);
  sx.stx_size = static_cast<uint64_t>(st.st_size);
  sx.stx_blocks = static_cast<uint64_t>(st.st_blocks);
  sx.stx_atime = sx.stx_mtime = sx.stx_ctime =
      sx.stx_btime = {st.st_mtim.tv_sec, static_cast<uint32_t>(st.st_mtim.tv_nsec), 0};
  return Reply::FromResult(-g.memory().WriteValue(c.args[4], sx));
}

Reply AccessCommon(GuestState& g, int64_t dirfd, uint64_t path_addr, uint64_t mode,
                   uint64_t flags) {
  std::string path;
  int ch = -1;
  if (int err = ReadPathArg(g, path_addr, &path, &ch)) return Reply::Error(err);
  if (ch < 0) return FsAccess(g, dirfd, path, mode, flags);
  const ChannelSpec& spec = g.channel(ch).spec();
  if (((mode & R_OK) && !spec.readable()) || ((mode & W_OK) && !spec.writable()) || (mode & X_OK)) {
    return Reply::Error(EACCES);
  }
  return Reply::Value(0);
}
Reply Access(GuestState& g, const Call& c) {
  return AccessCommon(g, AT_FDCWD, c.args[0], c.args[1], 0);
}
Reply Faccessat(GuestState& g, const Call& c) {
  return AccessCommon(g, Fd(c), c.args[1], c.args[2], 0);
}
Reply Faccessat2(GuestState& g, const Call& c) {
  return AccessCommon(g, Fd(c), c.args[1], c.args[2], c.args[3]);
}

Reply Ioctl(GuestState& g, const Call& c) {
  if (!g.fds().IsOpen(Fd(c))) return Reply::Error(EBADF);
  return Reply::Error(ENOTTY);  // channels and tree files are never terminals
}

Reply DupCommon(GuestState& g, int64_t fd, int min_fd, bool cloexec);

Reply Fcntl(GuestState& g, const Call& c) {
  const int64_t fd = Fd(c);
  if (!g.fds().IsOpen(fd)) return Reply::Error(EBADF);
  OpenFile* file = g.fds().File(fd);
  switch (static_cast<int>(c.args[1])) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return DupCommon(g, fd, static_cast<int>(c.args[2]),
                       static_cast<int>(c.args[1]) == F_DUPFD_CLOEXEC);
    case F_GETFD:
      return Reply::Value(g.fds().cloexec(fd) ? FD_CLOEXEC : 0);
    case F_SETFD:
      g.fds().set_cloexec(fd, c.args[2] & FD_CLOEXEC);
      return Reply::Value(0);
    case F_SETFL:
      return file != nullptr ? FsSetfl(*file, c.args[2]) : Reply::Value(0);
    case F_GETFL: {
      if (file != nullptr) return FsGetfl(*file);
      const ChannelSpec& spec = g.channel(g.fds().Lookup(fd)).spec();
      return Reply::Value(spec.readable() && spec.writable() ? O_RDWR
                          : spec.writable()                  ? O_WRONLY
                                                             : O_RDONLY);
    }
    default:
      return Reply::Error(EINVAL);
  }
}

// A second descriptor: a tree file's goes to the tree range when it can (fs_calls.h).
Reply DupCommon(GuestState& g, int64_t fd, int min_fd, bool cloexec) {
  if (!g.fds().IsOpen(fd)) return Reply::Error(EBADF);
  if (std::shared_ptr<OpenFile> file = g.fds().FileRef(fd)) {
    if (min_fd >= FdTable::kMaxFds) return Reply::Error(EINVAL);
    return Reply::FromResult(FsPlaceFile(g, std::move(file), cloexec, std::max(min_fd, 0)));
  }
  return Reply::FromResult(g.fds().Dup(fd, min_fd, cloexec));
}

Reply Dup(GuestState& g, const Call& c) { return DupCommon(g, Fd(c), 0, false); }

Reply Dup2(GuestState& g, const Call& c) {
  if (!g.fds().IsOpen(Fd(c))) return Reply::Error(EBADF);
  if (Fd(c) == Fd(c, 1)) return Reply::Value(Fd(c, 1));
  return Reply::FromResult(FsDupTo(g, Fd(c), Fd(c, 1), false));
}

Reply Dup3(GuestState& g, const Call& c) {
  if (c.args[2] & ~uint64_t{O_CLOEXEC}) return Reply::Error(EINVAL);
  if (Fd(c) == Fd(c, 1)) return Reply::Error(EINVAL);
  if (!g.fds().IsOpen(Fd(c))) return Reply::Error(EBADF);
  return Reply::FromResult(FsDupTo(g, Fd(c), Fd(c, 1), (c.args[2] & O_CLOEXEC) != 0));
}

// Channels never block: readable ones are always ready to read, writable ones to write.
Reply PollCommon(GuestState& g, uint64_t fds_addr, uint64_t nfds, int64_t timeout_ns) {
  if (nfds > FdTable::kMaxFds) return Reply::Error(EINVAL);
  std::vector<pollfd> fds(nfds);
  if (int err = g.memory().Read(fds_addr, fds.data(), nfds * sizeof(pollfd))) {
    return Reply::Error(err);
  }
  int ready = 0;
  for (pollfd& p : fds) {
    p.revents = 0;
    if (p.fd < 0) continue;
    const int ch = g.fds().Lookup(p.fd);
    if (const OpenFile* f = g.fds().File(p.fd)) {
      // Files never block: readable always, writable when open for writing (scratch files).
      const short out = (f->flags & O_ACCMODE) != O_RDONLY ? POLLOUT | POLLWRNORM : 0;
      p.revents = static_cast<short>(p.events & (POLLIN | POLLRDNORM | out));
    } else if (ch < 0) {
      p.revents = POLLNVAL;
    } else {
      const ChannelSpec& spec = g.channel(ch).spec();
      if (spec.readable()) p.revents |= static_cast<short>(p.events & POLLIN);
      if (spec.writable()) p.revents |= static_cast<short>(p.events & POLLOUT);
    }
    if (p.revents) ++ready;
  }
  if (int err = g.memory().Write(fds_addr, fds.data(), nfds * sizeof(pollfd))) {
    return Reply::Error(err);
  }
  if (ready == 0 && timeout_ns > 0) g.AdvanceClock(timeout_ns);  // nothing will ever change
  return Reply::Value(ready);
}

Reply Poll(GuestState& g, const Call& c) {
  const int64_t ms = static_cast<int32_t>(c.args[2]);
  return PollCommon(g, c.args[0], c.args[1], ms > 0 ? ms * 1000000 : 0);
}

Reply Ppoll(GuestState& g, const Call& c) {
  int64_t ns = 0;
  if (c.args[2] != 0) {
    timespec ts;
    if (int err = g.memory().ReadValue(c.args[2], &ts)) return Reply::Error(err);
    // As the kernel: a negative or non-normalized timeout is EINVAL, one past the clock's range
    // waits forever (computed without overflow: the guest chose these numbers).
    constexpr int64_t kNanos = 1000000000;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kNanos) return Reply::Error(EINVAL);
    ns = ts.tv_sec > INT64_MAX / kNanos - 1 ? INT64_MAX : ts.tv_sec * kNanos + ts.tv_nsec;
  }
  return PollCommon(g, c.args[0], c.args[1], ns);
}

Reply ValidFdZero(GuestState& g, const Call& c) {
  return Reply::Error(g.fds().IsOpen(Fd(c)) ? 0 : EBADF);
}

}  // namespace

void RegisterIoHandlers(HandlerTable& t) {
  t[SYS_read] = Read;
  t[SYS_write] = Write;
  t[SYS_pread64] = Pread;
  t[SYS_pwrite64] = Pwrite;
  t[SYS_readv] = Vector<false, false>;
  t[SYS_writev] = Vector<true, false>;
  t[SYS_preadv] = Vector<false, true>;
  t[SYS_pwritev] = Vector<true, true>;
  t[SYS_preadv2] = Vector<false, true>;
  t[SYS_pwritev2] = Vector<true, true>;
  t[SYS_lseek] = Lseek;
  t[SYS_open] = Open;
  t[SYS_openat] = Openat;
  t[SYS_close] = Close;
  t[SYS_fstat] = Fstat;
  t[SYS_stat] = Stat;
  t[SYS_lstat] = Lstat;
  t[SYS_creat] = Creat;
  t[SYS_newfstatat] = Newfstatat;
  t[SYS_statx] = Statx;
  t[SYS_access] = Access;
  t[SYS_faccessat] = Faccessat;
  t[SYS_faccessat2] = Faccessat2;
  t[SYS_ioctl] = Ioctl;
  t[SYS_fcntl] = Fcntl;
  t[SYS_dup] = Dup;
  t[SYS_dup2] = Dup2;
  t[SYS_dup3] = Dup3;
  t[SYS_poll] = Poll;
  t[SYS_ppoll] = Ppoll;
  t[SYS_fsync] = ValidFdZero;
  t[SYS_fdatasync] = ValidFdZero;
  t[SYS_fadvise64] = ValidFdZero;
  t[SYS_flock] = ValidFdZero;
  t[SYS_ftruncate] = Fail<EINVAL>;  // channels cannot be truncated (as in ZeroVM)
  t[SYS_sendfile] = Fail<ENOSYS>;   // callers fall back to read/write
  t[SYS_copy_file_range] = Fail<ENOSYS>;
  t[SYS_splice] = Fail<ENOSYS>;
  t[SYS_openat2] = Fail<ENOSYS>;
  t[SYS_statfs] = Fail<ENOSYS>;
  t[SYS_fstatfs] = Fail<ENOSYS>;
}

}  // namespace zerocell::sandbox::supervisor
