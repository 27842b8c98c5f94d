// Unit tests of the channel I/O handlers against fake guest memory: read/write families, quotas,
// paths and descriptors, stat, poll; and every handler in the table against bad pointers.
#include "sandbox/supervisor/handlers.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/sandbox/supervisor/handler_fixture.h"

namespace zerocell::sandbox::supervisor::handler_test {
namespace {

// ---- read / write families -------------------------------------------------------------------

TEST_F(HandlersTest, ReadCopiesChannelBytesIntoGuestMemory) {
  ExpectValue(Run(SYS_read, {0, kBuf, 5}), 5);
  EXPECT_EQ(memory_->Bytes(kBuf, 5), "stdin");
  ExpectValue(Run(SYS_read, {0, kBuf, 100}), 6);
  EXPECT_EQ(memory_->Bytes(kBuf, 6), " bytes");
  ExpectValue(Run(SYS_read, {0, kBuf, 100}), 0);  // EOF
}

TEST_F(HandlersTest, ReadIntoUnmappedBufferFaultsAndLosesNothing) {
  ExpectError(Run(SYS_read, {0, kUnmapped, 5}), EFAULT);
  ExpectValue(Run(SYS_read, {0, kBuf, 5}), 5);
  EXPECT_EQ(memory_->Bytes(kBuf, 5), "stdin");  // the faulted read did not consume them
}

TEST_F(HandlersTest, ReadAndWriteCheckDescriptors) {
  ExpectError(Run(SYS_read, {42, kBuf, 5}), EBADF);
  ExpectError(Run(SYS_write, {42, kBuf, 5}), EBADF);
  ExpectError(Run(SYS_read, {static_cast<uint64_t>(-1), kBuf, 5}), EBADF);
  ExpectError(Run(SYS_write, {0, kBuf, 5}), EBADF);  // stdin is not writable
  ExpectError(Run(SYS_read, {1, kBuf, 5}), EBADF);   // stdout is not readable
}

TEST_F(HandlersTest, WriteStoresTheCopyMadeBeforeTheGuestChangedItsBuffer) {
  Put(kBuf, std::string("original"));
  memory_->after_read = [&](uint64_t, size_t) { memory_->Write(kBuf, "REWRITE!", 8); };
  ExpectValue(Run(SYS_write, {1, kBuf, 8}), 8);
  EXPECT_EQ(Output("/dev/stdout"), "original");
}

TEST_F(HandlersTest, WriteFromUnmappedBufferStoresNothing) {
  ExpectError(Run(SYS_write, {1, kUnmapped, 8}), EFAULT);
  EXPECT_EQ(Output("/dev/stdout"), "");
}

TEST_F(HandlersTest, WriteBeyondThePutSizeQuotaIsCutThenRefused) {
  Put(kBuf, std::string(32, 'e'));
  ExpectValue(Run(SYS_write, {2, kBuf, 32}), 16);  // stderr's put_size is 16
  ExpectError(Run(SYS_write, {2, kBuf, 1}), EDQUOT);
  EXPECT_EQ(Output("/dev/stderr"), std::string(16, 'e'));
}

TEST_F(HandlersTest, GetsQuotaLimitsReadCalls) {
  const int fd = static_cast<int>(Run(SYS_open, {Path("/dev/limited"), O_RDONLY}).value);
  ASSERT_GE(fd, 3);
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 10}), 10);
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 10}), 10);
  const Reply third = Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 10});
  EXPECT_NE(third.error, 0);  // quota spent: no more bytes, whatever is left
}

TEST_F(HandlersTest, VectorReadScattersAndVectorWriteGathers) {
  iovec iov[2] = {{reinterpret_cast<void*>(kBuf + 100), 3},
                  {reinterpret_cast<void*>(kBuf + 200), 4}};
  Put(kBuf + 0x8000, std::string(reinterpret_cast<char*>(iov), sizeof(iov)));
  ExpectValue(Run(SYS_readv, {0, kBuf + 0x8000, 2}), 7);
  EXPECT_EQ(memory_->Bytes(kBuf + 100, 3), "std");
  EXPECT_EQ(memory_->Bytes(kBuf + 200, 4), "in b");
  ExpectValue(Run(SYS_writev, {1, kBuf + 0x8000, 2}), 7);
  EXPECT_EQ(Output("/dev/stdout"), "stdin b");
  ExpectError(Run(SYS_writev, {1, kBuf + 0x8000, 1025}), EINVAL);  // more than IOV_MAX
  ExpectError(Run(SYS_readv, {0, kUnmapped, 2}), EFAULT);
}

TEST_F(HandlersTest, VectorWithOverflowingLengthsIsRefused) {
  iovec iov[2] = {{reinterpret_cast<void*>(kBuf), ~size_t{0} >> 1},
                  {reinterpret_cast<void*>(kBuf), ~size_t{0} >> 1}};
  Put(kBuf + 0x8000, std::string(reinterpret_cast<char*>(iov), sizeof(iov)));
  ExpectError(Run(SYS_writev, {1, kBuf + 0x8000, 2}), EINVAL);
}

TEST_F(HandlersTest, PositionedCallsOnARandomAccessChannel) {
  const uint64_t fd = static_cast<uint64_t>(Run(SYS_open, {Path("/dev/data"), O_RDWR}).value);
  ExpectValue(Run(SYS_pread64, {fd, kBuf, 3, 4}), 3);
  EXPECT_EQ(memory_->Bytes(kBuf, 3), "456");
  Put(kBuf, std::string("AB"));
  ExpectValue(Run(SYS_pwrite64, {fd, kBuf, 2, 1}), 2);
  ExpectValue(Run(SYS_pread64, {fd, kBuf, 8, 0}), 8);
  EXPECT_EQ(memory_->Bytes(kBuf, 8), "0AB34567");
  ExpectValue(Run(SYS_lseek, {fd, 6, SEEK_SET}), 6);
  ExpectValue(Run(SYS_read, {fd, kBuf, 8}), 2);
  EXPECT_EQ(memory_->Bytes(kBuf, 2), "67");
}

TEST_F(HandlersTest, SequentialChannelsIgnoreOffsets) {
  // As in ZeroVM: a sequential channel serves positioned calls in order, the offset unused.
  ExpectValue(Run(SYS_pread64, {0, kBuf, 5, 4}), 5);
  EXPECT_EQ(memory_->Bytes(kBuf, 5), "stdin");
  Put(kBuf, std::string("ab"));
  ExpectValue(Run(SYS_pwrite64, {1, kBuf, 2, 100}), 2);
  ExpectValue(Run(SYS_pwrite64, {1, kBuf, 1, 0}), 1);
  EXPECT_EQ(Output("/dev/stdout"), "aba");
  ExpectError(Run(SYS_lseek, {9, 0, SEEK_SET}), EBADF);
}

// ---- paths and descriptors --------------------------------------------------------------------

TEST_F(HandlersTest, OpenResolvesOnlyDeclaredAliases) {
  const Reply r = Run(SYS_open, {Path("/dev/stdout"), O_WRONLY});
  ASSERT_EQ(r.error, 0);
  EXPECT_GE(r.value, 3);
  ExpectError(Run(SYS_open, {Path("/etc/passwd"), O_RDONLY}), ENOENT);
  ExpectError(Run(SYS_open, {Path("/dev/stdout/../stdin"), O_RDONLY}), ENOENT);
  ExpectError(Run(SYS_open, {Path(""), O_RDONLY}), ENOENT);
  ExpectError(Run(SYS_open, {kUnmapped, O_RDONLY}), EFAULT);
  ExpectError(Run(SYS_open, {Path("/dev/stdout"), O_RDONLY}), EACCES);
  ExpectError(Run(SYS_open, {Path("/dev/stdin"), O_RDWR}), EACCES);
  ExpectError(Run(SYS_open, {Path("/dev/stdin"), O_RDONLY | O_DIRECTORY}), ENOTDIR);
  ExpectValue(Run(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), Path("/dev/stdin"), O_RDONLY}),
              r.value + 1);
}

TEST_F(HandlersTest, LongPathIsRefused) {
  memory_->Map(kPath, std::string(5000, 'a') + std::string(1, '\0'));
  ExpectError(Run(SYS_open, {kPath, O_RDONLY}), ENAMETOOLONG);
}

TEST_F(HandlersTest, DupFamilyAndClose) {
  ExpectValue(Run(SYS_dup, {1}), 5);  // 0..4 are the five channels, pre-opened
  ExpectValue(Run(SYS_dup2, {1, 10}), 10);
  ExpectValue(Run(SYS_dup2, {1, 1}), 1);
  ExpectError(Run(SYS_dup3, {1, 1, 0}), EINVAL);
  ExpectValue(Run(SYS_dup3, {0, 11, O_CLOEXEC}), 11);
  ExpectError(Run(SYS_dup, {77}), EBADF);
  Put(kBuf, std::string("via dup"));
  ExpectValue(Run(SYS_write, {10, kBuf, 7}), 7);
  EXPECT_EQ(Output("/dev/stdout"), "via dup");
  ExpectValue(Run(SYS_close, {10}), 0);
  ExpectError(Run(SYS_close, {10}), EBADF);
  ExpectError(Run(SYS_write, {10, kBuf, 7}), EBADF);
  ExpectValue(Run(SYS_fcntl, {1, F_DUPFD, 20}), 20);
  ExpectValue(Run(SYS_fcntl, {1, F_GETFL}), O_WRONLY);
  ExpectValue(Run(SYS_fcntl, {0, F_GETFL}), O_RDONLY);
  ExpectValue(Run(SYS_fcntl, {1, F_SETFD, FD_CLOEXEC}), 0);
  ExpectError(Run(SYS_fcntl, {1, F_SETLK, 0}), EINVAL);
  ExpectError(Run(SYS_fcntl, {99, F_GETFL}), EBADF);
}

TEST_F(HandlersTest, StatDescribesChannelsNotHostFiles) {
  ExpectValue(Run(SYS_fstat, {1, kBuf}), 0);
  const struct stat out = At<struct stat>(kBuf);
  EXPECT_TRUE(S_ISFIFO(out.st_mode));
  EXPECT_EQ(out.st_mode & 0777, 0222u);
  EXPECT_EQ(out.st_uid, static_cast<uid_t>(kGuestUid));
  EXPECT_EQ(out.st_mtim.tv_sec, 1000000);  // the manifest's clock, not the host's

  ExpectValue(Run(SYS_stat, {Path("/dev/data"), kBuf}), 0);
  const struct stat data = At<struct stat>(kBuf);
  EXPECT_TRUE(S_ISREG(data.st_mode));
  EXPECT_EQ(data.st_size, 8);
  ExpectError(Run(SYS_stat, {Path("/tmp"), kBuf}), ENOENT);
  ExpectError(Run(SYS_fstat, {1, kUnmapped}), EFAULT);
  ExpectError(Run(SYS_fstat, {50, kBuf}), EBADF);

  ExpectValue(Run(SYS_newfstatat, {0, Path(""), kBuf, AT_EMPTY_PATH}), 0);
  EXPECT_EQ(At<struct stat>(kBuf).st_mode & 0777, 0444u);
  ExpectError(Run(SYS_newfstatat, {0, Path(""), kBuf, 0}), ENOENT);
  ExpectError(Run(SYS_newfstatat, {55, Path(""), kBuf, AT_EMPTY_PATH}), EBADF);

  ExpectValue(Run(SYS_statx,
                  {static_cast<uint64_t>(AT_FDCWD), Path("/dev/data"), 0, STATX_BASIC_STATS, kBuf}),
              0);
  EXPECT_EQ(At<struct statx>(kBuf).stx_size, 8u);
}

TEST_F(HandlersTest, AccessFollowsChannelDirections) {
  ExpectValue(Run(SYS_access, {Path("/dev/stdin"), R_OK}), 0);
  ExpectError(Run(SYS_access, {Path("/dev/stdin"), W_OK}), EACCES);
  ExpectError(Run(SYS_access, {Path("/dev/stdout"), X_OK}), EACCES);
  ExpectError(Run(SYS_access, {Path("/bin/sh"), F_OK}), ENOENT);
  ExpectValue(Run(SYS_faccessat, {static_cast<uint64_t>(AT_FDCWD), Path("/dev/data"), R_OK | W_OK}),
              0);
  ExpectValue(Run(SYS_faccessat2, {static_cast<uint64_t>(AT_FDCWD), Path("/dev/stdout"), W_OK, 0}),
              0);
}

TEST_F(HandlersTest, PollReportsChannelsAlwaysReadyAndAdvancesTheClockWhenIdle) {
  pollfd fds[3] = {{0, POLLIN, 0}, {1, POLLOUT | POLLIN, 0}, {33, POLLIN, 0}};
  Put(kBuf, std::string(reinterpret_cast<char*>(fds), sizeof(fds)));
  ExpectValue(Run(SYS_poll, {kBuf, 3, 0}), 3);
  const std::string out = memory_->Bytes(kBuf, sizeof(fds));
  memcpy(fds, out.data(), sizeof(fds));
  EXPECT_EQ(fds[0].revents, POLLIN);
  EXPECT_EQ(fds[1].revents, POLLOUT);
  EXPECT_EQ(fds[2].revents, POLLNVAL);

  pollfd none = {-1, POLLIN, 0};
  Put(kBuf, std::string(reinterpret_cast<char*>(&none), sizeof(none)));
  const int64_t before = guest_->clock_ns();
  ExpectValue(Run(SYS_poll, {kBuf, 1, 250}), 0);
  EXPECT_EQ(guest_->clock_ns() - before, 250 * 1000000);
  ExpectError(Run(SYS_poll, {kBuf, FdTable::kMaxFds + 1, 0}), EINVAL);
  ExpectError(Run(SYS_ppoll, {kUnmapped, 1, 0, 0}), EFAULT);
}

TEST_F(HandlersTest, IoctlGetcwdAndFdOnlyCalls) {
  ExpectError(Run(SYS_ioctl, {1, 0x5401 /* TCGETS */, kBuf}), ENOTTY);
  ExpectError(Run(SYS_ioctl, {44, 0x5401, kBuf}), EBADF);
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 2);
  EXPECT_EQ(memory_->Bytes(kBuf, 2), std::string("/\0", 2));
  ExpectError(Run(SYS_getcwd, {kBuf, 1}), ERANGE);
  ExpectError(Run(SYS_getcwd, {kUnmapped, 10}), EFAULT);
  ExpectValue(Run(SYS_fsync, {1}), 0);
  ExpectError(Run(SYS_fsync, {31}), EBADF);
}

// Every handler in the table answers (or stops the guest) for arguments that point nowhere: no
// crash, no exception, no touch of unmapped memory.
TEST_F(HandlersTest, EveryHandlerCopesWithUnmappedArguments) {
  for (size_t nr = 0; nr < Handlers().size(); ++nr) {
    if (Handlers()[nr] == nullptr) continue;
    Reset(manifest_);
    const Reply r =
        Run(static_cast<int64_t>(nr), {3, kUnmapped, 4096, kUnmapped, kUnmapped, kUnmapped});
    EXPECT_TRUE(r.error >= 0 && r.error < 4096) << "syscall " << nr;
    EXPECT_EQ(memory_->Bytes(kBuf, 4), std::string(4, '\0')) << "syscall " << nr;
  }
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor::handler_test
