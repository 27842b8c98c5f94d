// The guest file system's side of the calls channels share (open, stat, read, lseek, access):
// io_handlers.cc answers a channel alias or a channel fd itself and hands the rest here.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_FS_CALLS_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_FS_CALLS_H_

#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "sandbox/supervisor/guest_state.h"

namespace zerocell::sandbox::supervisor {

// open/openat/creat of a path that is no channel alias. Anything that would write is EROFS,
// except in the scratch, where O_CREAT makes a file with `mode` (less the umask).
Reply FsOpen(GuestState& g, int64_t dirfd, std::string_view path, uint64_t flags,
             uint64_t mode = 0666);
// stat of a path (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH in `at_flags`); 0 or an errno.
int FsStatAt(GuestState& g, int64_t dirfd, std::string_view path, uint64_t at_flags,
             struct stat* out);
// What fstat reports for an open file; nothing of the host (docs/architecture.md "File trees").
struct stat FsStat(const GuestState& g, const OpenFile& file);
// access/faccessat/faccessat2 of a path that is no channel alias.
Reply FsAccess(GuestState& g, int64_t dirfd, std::string_view path, uint64_t mode,
               uint64_t at_flags);
// read/pread/readv/preadv of an open file.
Reply FsRead(GuestState& g, OpenFile& file, const std::vector<iovec>& iov, uint64_t total,
             std::optional<int64_t> offset);
// write/pwrite/writev/pwritev of an open file: a scratch file's bytes, within its byte quota (a
// short count, or EDQUOT when nothing fits); EBADF for anything not open for writing.
Reply FsWrite(GuestState& g, OpenFile& file, const std::vector<iovec>& iov, uint64_t total,
              std::optional<int64_t> offset);
Reply FsLseek(GuestState& g, OpenFile& file, int64_t offset, int whence);
// Gives `file` a descriptor: in the tree range with its memfd injected at the same number when
// it has one and the range has room (then reads run in the kernel), else an emulated number
// >= min_fd. The descriptor or -errno.
int FsPlaceFile(GuestState& g, std::shared_ptr<OpenFile> file, bool cloexec, int min_fd);
// dup2/dup3 of an open file onto `newfd`: in the tree range only by injecting its memfd there.
int FsDupTo(GuestState& g, int64_t fd, int64_t newfd, bool cloexec);

// read of a scratch file (FsRead's checks made): from `offset`, or the file's own and advanced.
Reply ScratchRead(GuestState& g, OpenFile& file, const std::vector<iovec>& iov,
                  std::optional<int64_t> offset);

// mmap(addr, length, prot, flags, fd, offset) of a scratch file, before the call is accounted and
// continued: puts a read-only, sealed snapshot of the mapped bytes at the guest's number `fd`
// (the kernel maps that). 0, or the errno to answer: ENODEV for MAP_SHARED (a snapshot would not
// follow later writes, nor could writes through it be counted) or without an injector, EACCES
// for a descriptor not open for reading.
int ScratchPrepareMap(GuestState& g, int64_t fd, const OpenFile& file, uint64_t length,
                      uint64_t flags, uint64_t offset);

// F_GETFL / F_SETFL of an open file.
Reply FsGetfl(const OpenFile& file);
Reply FsSetfl(OpenFile& file, uint64_t flags);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_FS_CALLS_H_
