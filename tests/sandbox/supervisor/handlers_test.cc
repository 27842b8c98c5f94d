// Unit tests of every emulated syscall handler against fake guest memory: channel I/O and
// descriptors, paths, stat, poll, the virtual clock, seeded random, identity, limits, memory.
#include "sandbox/supervisor/handlers.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/supervisor/memory_accounting.h"
#include "sandbox/supervisor/run_budget.h"
#include "tests/testing/fake_kernel.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::supervisor {
namespace {

using ::zerocell::testing::IsOk;

using zerocell::testing::FakeGuestMemory;

constexpr uint64_t kBuf = 0x10000;   // 64 KiB of mapped scratch
constexpr uint64_t kPath = 0x30000;  // where tests put path strings
constexpr uint64_t kUnmapped = 0x900000;
constexpr int64_t kMemory = 64 << 20;

Manifest MakeManifest(uint64_t seed = 7) {
  ChannelSpec data;  // random read, sequential write, 8 bytes of content
  data.alias = "/dev/data";
  data.type = ChannelType::kRandReadRandWrite;
  data.gets = 100;
  data.get_size = 1000;
  data.puts = 100;
  data.put_size = 1000;
  data.initial_bytes = "01234567";
  ChannelSpec limited;  // two reads at most
  limited.alias = "/dev/limited";
  limited.gets = 2;
  limited.get_size = 100;
  limited.initial_bytes = std::string(50, 'x');
  absl::StatusOr<Manifest> m = ManifestBuilder()
                                   .add_channel(StdinChannel("stdin bytes"))
                                   .add_channel(StdoutChannel(1 << 20))
                                   .add_channel(StderrChannel(16))
                                   .add_channel(data)
                                   .add_channel(limited)
                                   .set_memory_bytes(kMemory)
                                   .set_random_seed(seed)
                                   .set_clock_start(absl::FromUnixSeconds(1000000))
                                   .Build();
  EXPECT_THAT(m, IsOk());
  return *std::move(m);
}

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(manifest_); }

  void Reset(const Manifest& m) {
    auto memory = std::make_unique<FakeGuestMemory>();
    memory_ = memory.get();
    memory_->Map(kBuf, 1 << 16);
    memory_->Map(kPath, 4096);
    guest_ = std::make_unique<GuestState>(m, std::move(memory), -1);
    ASSERT_THAT(guest_->Open({}), IsOk());
  }

  Reply Run(int64_t nr, std::initializer_list<uint64_t> args = {}) {
    Call call;
    call.nr = nr;
    int i = 0;
    for (uint64_t a : args) call.args[i++] = a;
    Handler h = Handlers()[static_cast<size_t>(nr)];
    EXPECT_NE(h, nullptr) << "no handler for " << nr;
    return h == nullptr ? Reply::Error(ENOSYS) : h(*guest_, call);
  }

  uint64_t Path(const std::string& path) {
    std::string page = path;
    page.resize(std::max<size_t>(4096, path.size() + 1), '\0');  // as a real page would be
    memory_->Map(kPath, page);
    return kPath;
  }

  // Writes into mapped memory, as the guest would.
  void Put(uint64_t addr, const std::string& bytes) {
    ASSERT_EQ(memory_->Write(addr, bytes.data(), bytes.size()), 0);
  }
  template <typename T>
  void PutValue(uint64_t addr, const T& value) {
    Put(addr, std::string(reinterpret_cast<const char*>(&value), sizeof(T)));
  }

  template <typename T>
  T At(uint64_t addr) {
    T value;
    const std::string bytes = memory_->Bytes(addr, sizeof(T));
    memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }

  std::string Output(const std::string& alias) {
    return guest_->channel(guest_->FindAlias(alias)).data();
  }

  Manifest manifest_ = MakeManifest();
  FakeGuestMemory* memory_ = nullptr;
  std::unique_ptr<GuestState> guest_;
};

void ExpectValue(const Reply& r, int64_t value) {
  EXPECT_EQ(r.error, 0) << strerror(r.error);
  EXPECT_EQ(r.value, value);
  EXPECT_FALSE(r.continue_syscall);
}
void ExpectError(const Reply& r, int error) {
  EXPECT_EQ(r.error, error) << "got " << strerror(r.error) << ", value " << r.value;
}

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

// ---- clock, random, identity --------------------------------------------------------------------

TEST_F(HandlersTest, ClocksReadTheVirtualClock) {
  ExpectValue(Run(SYS_clock_gettime, {CLOCK_REALTIME, kBuf}), 0);
  const timespec t1 = At<timespec>(kBuf);
  EXPECT_EQ(t1.tv_sec, 1000000);
  ExpectValue(Run(SYS_clock_gettime, {CLOCK_MONOTONIC, kBuf}), 0);
  const timespec m1 = At<timespec>(kBuf);
  EXPECT_EQ(m1.tv_sec, 0);
  timespec sleep = {5, 0};
  Put(kBuf + 0x100, std::string(reinterpret_cast<char*>(&sleep), sizeof(sleep)));
  ExpectValue(Run(SYS_nanosleep, {kBuf + 0x100, 0}), 0);
  ExpectValue(Run(SYS_clock_gettime, {CLOCK_MONOTONIC, kBuf}), 0);
  EXPECT_EQ(At<timespec>(kBuf).tv_sec, 5);
  ExpectError(Run(SYS_clock_gettime, {99, kBuf}), EINVAL);
  ExpectError(Run(SYS_clock_gettime, {CLOCK_REALTIME, kUnmapped}), EFAULT);
  const Reply secs = Run(SYS_time, {0});
  EXPECT_EQ(secs.value, 1000005);
  ExpectValue(Run(SYS_gettimeofday, {kBuf, 0}), 0);
  EXPECT_EQ(At<timeval>(kBuf).tv_sec, 1000005);
  ExpectValue(Run(SYS_clock_getres, {CLOCK_MONOTONIC, kBuf}), 0);
  EXPECT_EQ(At<timespec>(kBuf).tv_nsec, 1000);

  timespec bad = {0, 2000000000};
  Put(kBuf + 0x100, std::string(reinterpret_cast<char*>(&bad), sizeof(bad)));
  ExpectError(Run(SYS_nanosleep, {kBuf + 0x100, 0}), EINVAL);
  timespec until = {100, 0};  // absolute: advances the clock to it
  Put(kBuf + 0x100, std::string(reinterpret_cast<char*>(&until), sizeof(until)));
  ExpectValue(Run(SYS_clock_nanosleep, {CLOCK_MONOTONIC, TIMER_ABSTIME, kBuf + 0x100, 0}), 0);
  EXPECT_GE(guest_->clock_ns(), int64_t{100} * 1000000000);
  ExpectError(Run(SYS_clock_nanosleep, {77, 0, kBuf + 0x100, 0}), EINVAL);
}

TEST_F(HandlersTest, GetrandomIsSeededAndDeterministic) {
  ExpectValue(Run(SYS_getrandom, {kBuf, 32, 0}), 32);
  const std::string first = memory_->Bytes(kBuf, 32);
  Reset(manifest_);
  ExpectValue(Run(SYS_getrandom, {kBuf, 32, 0}), 32);
  EXPECT_EQ(memory_->Bytes(kBuf, 32), first);
  Manifest other = MakeManifest(8);
  Reset(other);
  ExpectValue(Run(SYS_getrandom, {kBuf, 32, 0}), 32);
  EXPECT_NE(memory_->Bytes(kBuf, 32), first);
  ExpectError(Run(SYS_getrandom, {kUnmapped, 32, 0}), EFAULT);
}

TEST_F(HandlersTest, IdentityIsFixed) {
  ExpectValue(Run(SYS_getpid), kGuestPid);
  ExpectValue(Run(SYS_gettid), kGuestPid);
  ExpectValue(Run(SYS_getppid), kGuestPpid);
  ExpectValue(Run(SYS_getuid), kGuestUid);
  ExpectValue(Run(SYS_getegid), kGuestGid);
  ExpectValue(Run(SYS_getresuid, {kBuf, kBuf + 4, kBuf + 8}), 0);
  EXPECT_EQ(At<uint32_t>(kBuf + 8), static_cast<uint32_t>(kGuestUid));
  ExpectValue(Run(SYS_uname, {kBuf}), 0);
  EXPECT_STREQ(At<utsname>(kBuf).nodename, "zerocell");
  ExpectError(Run(SYS_uname, {kUnmapped}), EFAULT);
  ExpectValue(Run(SYS_sched_getaffinity, {0, 128, kBuf}), 8);
  EXPECT_EQ(At<uint64_t>(kBuf), 1u);
  ExpectError(Run(SYS_sched_getaffinity, {0, 4, kBuf}), EINVAL);
  ExpectValue(Run(SYS_getcpu, {kBuf, 0, 0}), 0);
  ExpectError(Run(SYS_setuid, {0}), EPERM);
  ExpectError(Run(SYS_wait4, {static_cast<uint64_t>(-1), 0, 0, 0}), ECHILD);
  ExpectError(Run(SYS_futex, {kBuf, 6 /* FUTEX_LOCK_PI */, 0}), ENOSYS);
}

TEST_F(HandlersTest, LimitsComeFromTheManifestAndCannotBeRaised) {
  ExpectValue(Run(SYS_getrlimit, {RLIMIT_AS, kBuf}), 0);
  EXPECT_EQ(At<rlimit>(kBuf).rlim_cur, static_cast<rlim_t>(kMemory));
  ExpectValue(Run(SYS_prlimit64, {0, RLIMIT_NOFILE, 0, kBuf}), 0);
  EXPECT_EQ(At<rlimit>(kBuf).rlim_max, static_cast<rlim_t>(FdTable::kMaxFds));
  ExpectError(Run(SYS_prlimit64, {0, RLIMIT_AS, kBuf, 0}), EPERM);
  ExpectError(Run(SYS_prlimit64, {1234, RLIMIT_AS, 0, kBuf}), ESRCH);
  ExpectError(Run(SYS_getrlimit, {999, kBuf}), EINVAL);
  ExpectError(Run(SYS_setrlimit, {RLIMIT_AS, kBuf}), EPERM);
  ExpectValue(Run(SYS_sysinfo, {kBuf}), 0);
  ExpectValue(Run(SYS_prctl, {PR_GET_NAME, kBuf}), 0);
  EXPECT_STREQ(memory_->Bytes(kBuf, 16).c_str(), "zerocell");
  ExpectError(Run(SYS_prctl, {PR_SET_SECCOMP, 0}), EINVAL);
}

// ---- memory and exit ----------------------------------------------------------------------------

TEST_F(HandlersTest, ExecutableMemoryIsAViolation) {
  Run(SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  Reset(manifest_);
  Run(SYS_mprotect, {kBuf, 4096, PROT_READ | PROT_EXEC});
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->violation.syscall, "mprotect");
}

TEST_F(HandlersTest, FileMappingsAreRefused) {
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, 0, 0}), ENODEV);
  EXPECT_FALSE(guest_->stop().has_value());
}

// /proc/<pid>/statm as the accounting reads it: "size resident ..." in pages.
class MemoryLimitTest : public HandlersTest {
 protected:
  void SetStatm(int64_t size_bytes) {
    const int64_t page = sysconf(_SC_PAGESIZE);
    char path[] = "/tmp/zerocell-statm-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    const std::string line = std::to_string(size_bytes / page) + " 1 0 0 0 0 0\n";
    ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    guest_->mem().statm.reset(fd);
    guest_->mem().limit_bytes = kMemory;
  }
};

TEST_F(MemoryLimitTest, GrowthWithinTheLimitContinuesInTheKernel) {
  SetStatm(16 << 20);
  const Reply r =
      Run(SYS_mmap, {0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  EXPECT_TRUE(r.continue_syscall);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(MemoryLimitTest, GrowthPastTheLimitStopsWithMemoryLimit) {
  SetStatm(60 << 20);
  const Reply r =
      Run(SYS_mmap, {0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0});
  ExpectError(r, ENOMEM);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kMemoryLimit);
}

TEST_F(MemoryLimitTest, MremapGrowthAndBrkAreAccounted) {
  SetStatm(60 << 20);
  ExpectError(Run(SYS_mremap, {kBuf, 4096, 8 << 20, MREMAP_MAYMOVE, 0}), ENOMEM);
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kMemoryLimit);
  Reset(manifest_);
  SetStatm(60 << 20);
  EXPECT_TRUE(Run(SYS_mremap, {kBuf, 8 << 20, 4096, 0, 0}).continue_syscall);  // shrinking
  guest_->mem().brk = 0x1000000;
  ExpectError(Run(SYS_brk, {0x1000000 + (8 << 20)}), ENOMEM);
}

// --- issue 14: code, madvise, memory growth unseen by the size arguments, bounded work

TEST_F(HandlersTest, MremapOfCodeIsAViolation) {
  // Growing file-backed code maps the image's next pages executable (bytes never decoded).
  guest_->mem().code = {{0x400000, 0x402000}};
  ExpectError(Run(SYS_mremap, {0x401000, 4096, 0x3000, 0, 0}), EPERM);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
  EXPECT_EQ(guest_->stop()->violation.syscall, "mremap");
  Reset(manifest_);
  guest_->mem().code = {{0x400000, 0x402000}};
  // A range that only ends where code starts is not code.
  EXPECT_TRUE(Run(SYS_mremap, {0x3ff000, 4096, 4096, 0, 0}).continue_syscall);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, MadviseTheKernelIsNotAskedFor) {
  // Hints that leave the bytes as they are: answered here, the kernel never runs them.
  for (uint64_t advice : {MADV_FREE, MADV_HUGEPAGE, MADV_COLD, MADV_PAGEOUT}) {
    ExpectValue(Run(SYS_madvise, {kBuf, 4096, advice}), 0);
  }
  for (uint64_t advice : {uint64_t{MADV_REMOVE}, uint64_t{25}, uint64_t{102}, uint64_t{1000}}) {
    ExpectError(Run(SYS_madvise, {kBuf, 4096, advice}), EINVAL);
  }
  // The kernel reads an int: DONTNEED with high bits set is what the filter lets through anyway.
  EXPECT_TRUE(Run(SYS_madvise, {kBuf, 4096, (uint64_t{1} << 32) | MADV_DONTNEED}).continue_syscall);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, GrowsdownAndHugetlbMappingsAreRefused) {
  for (uint64_t flag : {MAP_GROWSDOWN, MAP_HUGETLB}) {
    ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flag,
                               ~0ull, 0}),
                EINVAL);
  }
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, GetrandomGivesAtMostOneMiBACall) {
  constexpr uint64_t kBig = 0x1000000;
  memory_->Map(kBig, 2 << 20);
  ExpectValue(Run(SYS_getrandom, {kBig, 2 << 20, 0}), 1 << 20);
}

TEST_F(MemoryLimitTest, MremapKeepingTheOldRangeCountsTheNewOneWhole) {
  // MREMAP_DONTUNMAP leaves the old range mapped: equal sizes still add new_size.
  SetStatm(60 << 20);
  ExpectError(Run(SYS_mremap, {kBuf, 8 << 20, 8 << 20, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0}),
              ENOMEM);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kMemoryLimit);
}

TEST(PageTablesTest, SparseMappingsNeedATablePerBlock) {
  constexpr uint64_t kPage = 4096, kGiB = uint64_t{1} << 30;
  // The top table, then one table per level for a lone page.
  EXPECT_EQ(PageTablesFor({{kGiB, kGiB + kPage}}), 5 * kPage);
  // Two pages 1 GiB apart: a page table and a directory each, sharing the upper levels.
  EXPECT_EQ(PageTablesFor({{kGiB, kGiB + kPage}, {2 * kGiB, 2 * kGiB + kPage}}), 7 * kPage);
  // Two pages in the same 2 MiB block share everything.
  EXPECT_EQ(PageTablesFor({{kGiB, kGiB + kPage}, {kGiB + 2 * kPage, kGiB + 3 * kPage}}), 5 * kPage);
  // The most a new 4 KiB mapping can add anywhere: one table per level.
  EXPECT_EQ(PageTableGrowth(kPage), 4 * kPage);
  EXPECT_EQ(PageTableGrowth(0), 0u);
}

TEST_F(HandlersTest, LongCallsStopBetweenPiecesOnceTheRunMustEnd) {
  // A write of 4 MiB goes in 1 MiB pieces; with the deadline passed the handler stops after the
  // first, the guest stopped with TIMEOUT (the call is left unanswered).
  absl::StatusOr<Manifest> big = ManifestBuilder()
                                     .add_channel(StdinChannel(""))
                                     .add_channel(StdoutChannel(8 << 20))
                                     .add_channel(StderrChannel(16))
                                     .set_memory_bytes(kMemory)
                                     .Build();
  ASSERT_THAT(big, IsOk());
  constexpr uint64_t kBig = 0x1000000;
  const auto write_4mib = [&](const RunBudget& budget) {
    Reset(*big);
    memory_->Map(kBig, 4 << 20);
    guest_->set_budget(&budget);
    Run(SYS_write, {1, kBig, 4 << 20});
  };
  const RunBudget late(/*pid=*/-1, absl::Hours(1), absl::Now() - absl::Seconds(1),
                       /*cancel_fd=*/-1);
  write_4mib(late);
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kTimeout);
  // A cancelled run ends the same way, with no outcome of its own.
  const int cancel = eventfd(1, EFD_CLOEXEC);
  ASSERT_GE(cancel, 0);
  const RunBudget cancelled(-1, absl::Hours(1), absl::InfiniteFuture(), cancel);
  write_4mib(cancelled);
  EXPECT_TRUE(guest_->cancelled());
  EXPECT_FALSE(guest_->stop().has_value());
  close(cancel);
  // With time left, the whole write is done.
  const RunBudget plenty(-1, absl::Hours(1), absl::InfiniteFuture(), -1);
  write_4mib(plenty);
  EXPECT_FALSE(guest_->stop().has_value());
}

TEST_F(HandlersTest, ExitGroupRunsInTheKernel) {
  EXPECT_TRUE(Run(SYS_exit_group, {3}).continue_syscall);
}

TEST_F(HandlersTest, SignalsToOthersAreRefused) {
  ExpectValue(Run(SYS_kill, {static_cast<uint64_t>(kGuestPid), 0}), 0);
  EXPECT_NE(Run(SYS_kill, {1, 9}).error, 0);
  EXPECT_NE(Run(SYS_kill, {static_cast<uint64_t>(kGuestPid), 65}).error, 0);
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
}  // namespace zerocell::sandbox::supervisor
