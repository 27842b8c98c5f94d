// The file-system handlers against the fake kernel: open flags, stat values, reads, listings,
// readlink, access, the cwd, descriptors, and EROFS for every writing call.
#include <dirent.h>

#include "handler_fixture.h"
#include "sandbox/fs/guest_fs.h"

namespace zerocell::sandbox::supervisor::handler_test {
namespace {

constexpr uint64_t kPath2 = 0x40000;  // a second path argument (rename, link)

class FsHandlersTest : public HandlersTest {
 protected:
  void SetUp() override {
    HandlersTest::SetUp();
    fs::FileTreeBuilder b;
    ASSERT_THAT(b.AddFile("etc/passwd", 0644, "root:x:0:0\n", 1700000000, 5), IsOk());
    ASSERT_THAT(b.AddFile("bin/tool", 0755, std::string(100000, 't')), IsOk());
    ASSERT_THAT(b.AddFile("secret", 0200, "s"), IsOk());
    ASSERT_THAT(b.AddSymlink("etc/link", "passwd"), IsOk());
    ASSERT_THAT(b.AddSymlink("etc/host", "/proc/self/exe"), IsOk());
    ASSERT_THAT(b.AddFile("dev/stdin", 0644, "a file under the alias"), IsOk());
    for (int i = 0; i < 300; ++i) {
      ASSERT_THAT(b.AddFile("many/f" + std::to_string(1000 + i), 0644, ""), IsOk());
    }
    ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
    ASSERT_OK_AND_ASSIGN(auto fs, fs::GuestFs::Create({{"/", tree}}, {"/tmp"}));
    guest_->set_fs(std::move(fs));
    memory_->Map(kPath2, 4096);
  }
  int64_t OpenPath(const std::string& path, uint64_t flags = O_RDONLY) {
    const Reply r = Run(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), Path(path), flags});
    return r.error ? -r.error : r.value;
  }
  uint64_t Path2(const std::string& path) {
    std::string page = path;
    page.resize(4096, '\0');
    memory_->Map(kPath2, page);
    return kPath2;
  }
  struct stat StatOf(const std::string& path, int64_t nr = SYS_stat) {
    ExpectValue(Run(nr, {Path(path), kBuf}), 0);
    return At<struct stat>(kBuf);
  }
};

TEST_F(FsHandlersTest, OpenReadSeekAndCloseATreeFile) {
  const int64_t fd = OpenPath("/etc/passwd");
  ASSERT_GE(fd, 5);  // after the five channels
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 4}), 4);
  EXPECT_EQ(memory_->Bytes(kBuf, 4), "root");
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 100}), 7);
  EXPECT_EQ(memory_->Bytes(kBuf, 7), ":x:0:0\n");
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 100}), 0);  // end of file
  ExpectValue(Run(SYS_pread64, {static_cast<uint64_t>(fd), kBuf, 3, 5}), 3);
  EXPECT_EQ(memory_->Bytes(kBuf, 3), "x:0");
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(fd), static_cast<uint64_t>(-2), SEEK_END}), 9);
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 100}), 2);
  ExpectError(Run(SYS_lseek, {static_cast<uint64_t>(fd), static_cast<uint64_t>(-100), SEEK_CUR}),
              EINVAL);
  ExpectError(Run(SYS_lseek, {static_cast<uint64_t>(fd), 11, SEEK_DATA}), ENXIO);
  ExpectError(Run(SYS_read, {static_cast<uint64_t>(fd), kUnmapped, 100}), 0);  // at EOF: 0
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(fd), 0, SEEK_SET}), 0);
  ExpectError(Run(SYS_read, {static_cast<uint64_t>(fd), kUnmapped, 100}), EFAULT);
  ExpectError(Run(SYS_write, {static_cast<uint64_t>(fd), kBuf, 1}), EBADF);
  ExpectValue(Run(SYS_close, {static_cast<uint64_t>(fd)}), 0);
  ExpectError(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 1}), EBADF);
}

TEST_F(FsHandlersTest, ReadvScattersAndLargeFilesReadWhole) {
  const int64_t fd = OpenPath("/bin/tool");
  ASSERT_GE(fd, 0);
  const iovec iov[2] = {{reinterpret_cast<void*>(kBuf + 0x100), 3},
                        {reinterpret_cast<void*>(kBuf + 0x4000), 40000}};
  Put(kBuf, std::string(reinterpret_cast<const char*>(iov), sizeof(iov)));
  ExpectValue(Run(SYS_readv, {static_cast<uint64_t>(fd), kBuf, 2}), 40003);
  EXPECT_EQ(memory_->Bytes(kBuf + 0x100, 3), "ttt");
  EXPECT_EQ(memory_->Bytes(kBuf + 0x4000 + 39995, 5), "ttttt");
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(fd), 0, SEEK_CUR}), 40003);
  ExpectValue(Run(SYS_pread64, {static_cast<uint64_t>(fd), kBuf, 100, 99990}), 10);
}

TEST_F(FsHandlersTest, OpenFlagsFollowTheKernel) {
  EXPECT_EQ(OpenPath("/etc/passwd", O_WRONLY), -EROFS);
  EXPECT_EQ(OpenPath("/etc/passwd", O_RDWR), -EROFS);
  EXPECT_EQ(OpenPath("/etc/passwd", O_RDONLY | O_TRUNC), -EROFS);
  EXPECT_EQ(OpenPath("/etc/new", O_WRONLY | O_CREAT), -EROFS);
  EXPECT_EQ(OpenPath("/nodir/new", O_WRONLY | O_CREAT), -ENOENT);
  EXPECT_EQ(OpenPath("/etc/passwd", O_WRONLY | O_CREAT | O_EXCL), -EEXIST);
  EXPECT_EQ(OpenPath("/etc/passwd", O_RDONLY | O_DIRECTORY), -ENOTDIR);
  EXPECT_EQ(OpenPath("/etc", O_WRONLY), -EISDIR);
  EXPECT_EQ(OpenPath("/etc/link", O_RDONLY | O_NOFOLLOW), -ELOOP);
  EXPECT_GE(OpenPath("/etc/link", O_PATH | O_NOFOLLOW), 0);
  EXPECT_EQ(OpenPath("/tmp", O_TMPFILE | O_RDWR), -EROFS);
  EXPECT_EQ(OpenPath("/missing"), -ENOENT);
  EXPECT_EQ(OpenPath(""), -ENOENT);
  EXPECT_EQ(OpenPath("/" + std::string(256, 'n')), -ENAMETOOLONG);
  // Host paths are only what the tree holds.
  EXPECT_EQ(OpenPath("/proc/self/maps"), -ENOENT);
  EXPECT_EQ(OpenPath("/etc/host"), -ENOENT);
  const int64_t climbed = OpenPath("/../../../etc/passwd");
  ASSERT_GE(climbed, 0);
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(climbed), kBuf, 4}), 4);
  EXPECT_EQ(memory_->Bytes(kBuf, 4), "root");  // the tree's file, not the host's
  ExpectError(Run(SYS_open, {Path("/etc/passwd"), O_WRONLY}), EROFS);
  ExpectError(Run(SYS_creat, {Path("/etc/x"), 0644}), EROFS);
}

TEST_F(FsHandlersTest, ChannelAliasesStayOnTop) {
  const int64_t fd = OpenPath("/dev/stdin");
  ASSERT_GE(fd, 0);
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, 100}), 11);
  EXPECT_EQ(memory_->Bytes(kBuf, 11), "stdin bytes");
  // Another spelling is a path in the tree.
  const int64_t file = OpenPath("/dev/./stdin");
  ExpectValue(Run(SYS_read, {static_cast<uint64_t>(file), kBuf, 100}), 22);
}

TEST_F(FsHandlersTest, OpenatFromADirectoryFd) {
  const int64_t dir = OpenPath("/etc", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  ExpectValue(Run(SYS_openat, {static_cast<uint64_t>(dir), Path("passwd"), O_RDONLY}), dir + 1);
  ExpectValue(Run(SYS_openat, {static_cast<uint64_t>(dir), Path("../bin/tool"), O_RDONLY}),
              dir + 2);
  ExpectError(Run(SYS_openat, {1, Path("passwd"), O_RDONLY}), ENOTDIR);  // a channel
  ExpectError(Run(SYS_openat, {99, Path("passwd"), O_RDONLY}), EBADF);
  ExpectError(Run(SYS_openat, {static_cast<uint64_t>(dir + 1), Path("x"), O_RDONLY}), ENOTDIR);
  ExpectError(Run(SYS_read, {static_cast<uint64_t>(dir), kBuf, 10}), EISDIR);
  ExpectError(Run(SYS_openat2, {static_cast<uint64_t>(AT_FDCWD), Path("/etc"), kBuf, 24}), ENOSYS);
}

TEST_F(FsHandlersTest, StatValuesHoldNothingOfTheHost) {
  const struct stat st = StatOf("/etc/passwd");
  EXPECT_EQ(st.st_mode, S_IFREG | 0644u);
  EXPECT_EQ(st.st_size, 11);
  EXPECT_EQ(st.st_uid, static_cast<uid_t>(kGuestUid));
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 5);
  EXPECT_EQ(st.st_dev, 0x2a01u);
  EXPECT_EQ(StatOf("/etc/link", SYS_lstat).st_mode, S_IFLNK | 0777u);
  EXPECT_EQ(StatOf("/etc/link", SYS_stat).st_ino, st.st_ino);
  EXPECT_EQ(StatOf("/etc").st_mode, S_IFDIR | 0755u);
  const int64_t fd = OpenPath("/etc/passwd");
  ExpectValue(Run(SYS_fstat, {static_cast<uint64_t>(fd), kBuf}), 0);
  EXPECT_EQ(At<struct stat>(kBuf).st_ino, st.st_ino);
  ExpectValue(Run(SYS_newfstatat, {static_cast<uint64_t>(fd), Path(""), kBuf, AT_EMPTY_PATH}), 0);
  EXPECT_EQ(At<struct stat>(kBuf).st_ino, st.st_ino);
  ExpectError(Run(SYS_newfstatat, {static_cast<uint64_t>(fd), Path(""), kBuf, 0}), ENOENT);
  ExpectValue(Run(SYS_newfstatat,
                  {static_cast<uint64_t>(AT_FDCWD), Path("/etc/link"), kBuf, AT_SYMLINK_NOFOLLOW}),
              0);
  EXPECT_TRUE(S_ISLNK(At<struct stat>(kBuf).st_mode));
  ExpectValue(Run(SYS_statx, {static_cast<uint64_t>(AT_FDCWD), Path("/etc/passwd"), 0,
                              STATX_BASIC_STATS, kBuf}),
              0);
  const struct statx sx = At<struct statx>(kBuf);
  EXPECT_EQ(sx.stx_ino, st.st_ino);
  EXPECT_EQ(sx.stx_size, 11u);
  EXPECT_EQ(sx.stx_mtime.tv_sec, 1700000000);
  ExpectError(Run(SYS_stat, {Path("/etc/passwd/"), kBuf}), ENOTDIR);
}

TEST_F(FsHandlersTest, Getdents64ListsEveryEntryOnceInSmallPieces) {
  const int64_t dir = OpenPath("/many", O_RDONLY | O_DIRECTORY);
  std::vector<std::string> names;
  for (int guard = 0; guard < 1000; ++guard) {
    const Reply r = Run(SYS_getdents64, {static_cast<uint64_t>(dir), kBuf, 512});
    ASSERT_EQ(r.error, 0);
    if (r.value == 0) break;
    const std::string bytes = memory_->Bytes(kBuf, static_cast<size_t>(r.value));
    for (size_t at = 0; at < bytes.size();) {
      dirent64 d;
      memcpy(&d, bytes.data() + at, offsetof(dirent64, d_name));
      names.emplace_back(bytes.data() + at + offsetof(dirent64, d_name));
      EXPECT_EQ(d.d_type, names.size() <= 2 ? DT_DIR : DT_REG);
      at += d.d_reclen;
    }
  }
  ASSERT_EQ(names.size(), 302u);
  EXPECT_EQ(names[0], ".");
  EXPECT_EQ(names[1], "..");
  EXPECT_EQ(names[2], "f1000");
  EXPECT_EQ(names[301], "f1299");
  ExpectError(Run(SYS_getdents64, {static_cast<uint64_t>(dir), kBuf, 10}), 0);  // at the end: 0
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(dir), 0, SEEK_SET}), 0);
  ExpectError(Run(SYS_getdents64, {static_cast<uint64_t>(dir), kBuf, 10}), EINVAL);
  ExpectError(Run(SYS_getdents64, {static_cast<uint64_t>(dir), kUnmapped, 4096}), EFAULT);
  ExpectError(Run(SYS_getdents64, {static_cast<uint64_t>(OpenPath("/etc/passwd")), kBuf, 4096}),
              ENOTDIR);
  ExpectError(Run(SYS_getdents64, {0, kBuf, 4096}), ENOTDIR);  // a channel
  ExpectError(Run(SYS_getdents64, {99, kBuf, 4096}), EBADF);
}

TEST_F(FsHandlersTest, ReadlinkGivesTheTargetVerbatim) {
  ExpectValue(Run(SYS_readlink, {Path("/etc/link"), kBuf, 100}), 6);
  EXPECT_EQ(memory_->Bytes(kBuf, 6), "passwd");
  ExpectValue(Run(SYS_readlink, {Path("/etc/link"), kBuf, 3}), 3);  // truncated, no NUL
  ExpectValue(Run(SYS_readlinkat, {static_cast<uint64_t>(AT_FDCWD), Path("/etc/host"), kBuf, 99}),
              14);
  ExpectError(Run(SYS_readlink, {Path("/etc/passwd"), kBuf, 100}), EINVAL);
  ExpectError(Run(SYS_readlink, {Path("/etc/link"), kBuf, 0}), EINVAL);
  ExpectError(Run(SYS_readlink, {Path("/proc/self/exe"), kBuf, 100}), ENOENT);
  ExpectError(Run(SYS_readlink, {Path("/etc/link"), kUnmapped, 100}), EFAULT);
}

TEST_F(FsHandlersTest, AccessChecksTheOwnerBitsAndRefusesWrites) {
  ExpectValue(Run(SYS_access, {Path("/etc/passwd"), R_OK}), 0);
  ExpectValue(Run(SYS_access, {Path("/etc/passwd"), F_OK}), 0);
  ExpectError(Run(SYS_access, {Path("/etc/passwd"), W_OK}), EROFS);
  ExpectError(Run(SYS_access, {Path("/etc/passwd"), X_OK}), EACCES);
  ExpectValue(Run(SYS_access, {Path("/bin/tool"), X_OK}), 0);
  ExpectError(Run(SYS_access, {Path("/secret"), R_OK}), EACCES);
  ExpectError(Run(SYS_access, {Path("/nothing"), F_OK}), ENOENT);
  ExpectError(Run(SYS_access, {Path("/etc/passwd"), 8}), EINVAL);
  ExpectValue(Run(SYS_faccessat2,
                  {static_cast<uint64_t>(AT_FDCWD), Path("/etc/link"), R_OK, AT_SYMLINK_NOFOLLOW}),
              0);
  ExpectError(Run(SYS_faccessat2, {static_cast<uint64_t>(AT_FDCWD), Path("/etc"), R_OK, 0x1}),
              EINVAL);
  ExpectValue(Run(SYS_access, {Path("/dev/stdin"), R_OK}), 0);  // the channel
}

TEST_F(FsHandlersTest, WorkingDirectory) {
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 2);
  EXPECT_EQ(memory_->Bytes(kBuf, 2), std::string("/\0", 2));
  ExpectValue(Run(SYS_chdir, {Path("/etc/")}), 0);
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 5);
  EXPECT_EQ(memory_->Bytes(kBuf, 5), std::string("/etc\0", 5));
  ExpectError(Run(SYS_getcwd, {kBuf, 4}), ERANGE);
  EXPECT_GE(OpenPath("passwd"), 0);
  ExpectError(Run(SYS_chdir, {Path("passwd")}), ENOTDIR);
  ExpectError(Run(SYS_chdir, {Path("/nothing")}), ENOENT);
  ExpectValue(Run(SYS_chdir, {Path("../../..")}), 0);
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 2);
  const int64_t dir = OpenPath("/many", O_RDONLY | O_DIRECTORY);
  ExpectValue(Run(SYS_fchdir, {static_cast<uint64_t>(dir)}), 0);
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 6);
  ExpectError(Run(SYS_fchdir, {static_cast<uint64_t>(OpenPath("/etc/passwd"))}), ENOTDIR);
  ExpectError(Run(SYS_fchdir, {0}), ENOTDIR);
  ExpectError(Run(SYS_fchdir, {99}), EBADF);
}

TEST_F(FsHandlersTest, DupSharesTheOffsetAndFcntlKeepsTheAccessMode) {
  const auto fd = static_cast<uint64_t>(OpenPath("/etc/passwd", O_RDONLY | O_CLOEXEC));
  ExpectValue(Run(SYS_fcntl, {fd, F_GETFD}), FD_CLOEXEC);
  const Reply dup = Run(SYS_dup, {fd});
  ASSERT_EQ(dup.error, 0);
  ExpectValue(Run(SYS_fcntl, {static_cast<uint64_t>(dup.value), F_GETFD}), 0);
  ExpectValue(Run(SYS_read, {fd, kBuf, 5}), 5);
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(dup.value), 0, SEEK_CUR}), 5);
  ExpectValue(Run(SYS_dup2, {fd, 100}), 100);
  ExpectValue(Run(SYS_read, {100, kBuf, 100}), 6);
  ExpectValue(Run(SYS_dup3, {fd, 101, O_CLOEXEC}), 101);
  ExpectValue(Run(SYS_fcntl, {101, F_GETFD}), FD_CLOEXEC);
  ExpectError(Run(SYS_dup3, {fd, 101, O_NONBLOCK}), EINVAL);
  ExpectValue(Run(SYS_fcntl, {fd, F_DUPFD_CLOEXEC, 200}), 200);
  ExpectValue(Run(SYS_fcntl, {fd, F_GETFL}), O_RDONLY | O_LARGEFILE);
  ExpectValue(Run(SYS_fcntl, {fd, F_SETFL, O_RDWR | O_NONBLOCK}), 0);
  ExpectValue(Run(SYS_fcntl, {fd, F_GETFL}), O_RDONLY | O_LARGEFILE | O_NONBLOCK);
  ExpectError(Run(SYS_fcntl, {fd, F_SETFL, O_ASYNC}), EINVAL);
  ExpectError(Run(SYS_ioctl, {fd, 0x5401}), ENOTTY);
  ExpectValue(Run(SYS_close, {fd}), 0);
  ExpectValue(Run(SYS_read, {200, kBuf, 100}), 0);  // the description lives on in its dups
}

TEST_F(FsHandlersTest, EveryWritingCallIsRefused) {
  const uint64_t cwd = static_cast<uint64_t>(AT_FDCWD);
  ExpectError(Run(SYS_mkdir, {Path("/etc/new"), 0755}), EROFS);
  ExpectError(Run(SYS_mkdir, {Path("/etc"), 0755}), EEXIST);
  ExpectError(Run(SYS_mkdir, {Path("/nodir/new"), 0755}), ENOENT);
  ExpectError(Run(SYS_mkdirat, {cwd, Path("/etc/new"), 0755}), EROFS);
  ExpectError(Run(SYS_rmdir, {Path("/etc")}), EROFS);
  ExpectError(Run(SYS_unlink, {Path("/etc/passwd")}), EROFS);
  ExpectError(Run(SYS_unlink, {Path("/etc/passwd/x")}), ENOTDIR);
  ExpectError(Run(SYS_unlinkat, {cwd, Path("/etc/passwd"), 0}), EROFS);
  ExpectError(Run(SYS_rename, {Path("/etc/passwd"), Path2("/etc/p2")}), EROFS);
  // As the kernel: a read-only mount refuses before it looks up the names.
  ExpectError(Run(SYS_rename, {Path("/etc/nothing"), Path2("/etc/p2")}), EROFS);
  ExpectError(Run(SYS_rename, {Path("/nodir/x"), Path2("/etc/p2")}), ENOENT);
  ExpectError(Run(SYS_renameat2, {cwd, Path("/etc/passwd"), cwd, Path2("/x"), 0}), EROFS);
  ExpectError(Run(SYS_symlink, {Path("target"), Path2("/etc/s")}), EROFS);
  ExpectError(Run(SYS_symlink, {Path("target"), Path2("/etc/passwd")}), EEXIST);
  ExpectError(Run(SYS_symlinkat, {Path("target"), cwd, Path2("/etc/s")}), EROFS);
  ExpectError(Run(SYS_link, {Path("/etc/passwd"), Path2("/etc/l")}), EROFS);
  ExpectError(Run(SYS_linkat, {cwd, Path("/etc/passwd"), cwd, Path2("/etc/l"), 0}), EROFS);
  ExpectError(Run(SYS_chmod, {Path("/etc/passwd"), 0777}), EROFS);
  ExpectError(Run(SYS_chmod, {Path("/nothing"), 0777}), ENOENT);
  ExpectError(Run(SYS_fchmodat, {cwd, Path("/etc/passwd"), 0777}), EROFS);
  ExpectError(Run(SYS_chown, {Path("/etc/passwd"), 0, 0}), EROFS);
  ExpectError(Run(SYS_lchown, {Path("/etc/link"), 0, 0}), EROFS);
  ExpectError(Run(SYS_fchownat, {cwd, Path("/etc/passwd"), 0, 0, 0}), EROFS);
  ExpectError(Run(SYS_truncate, {Path("/etc/passwd"), 0}), EROFS);
  ExpectError(Run(SYS_utimensat, {cwd, Path("/etc/passwd"), 0, 0}), EROFS);
  ExpectError(Run(SYS_utimes, {Path("/etc/passwd"), 0}), EROFS);
  ExpectError(Run(SYS_mknod, {Path("/etc/fifo"), S_IFIFO | 0644, 0}), EROFS);
  ExpectError(Run(SYS_mknodat, {cwd, Path("/etc/fifo"), S_IFIFO | 0644, 0}), EROFS);
  ExpectError(Run(SYS_setxattr, {Path("/etc/passwd"), Path2("user.x"), kBuf, 1, 0}), EROFS);
  const auto fd = static_cast<uint64_t>(OpenPath("/etc/passwd"));
  ExpectError(Run(SYS_fchmod, {fd, 0777}), EROFS);
  ExpectError(Run(SYS_fchown, {fd, 0, 0}), EROFS);
  ExpectError(Run(SYS_utimensat, {fd, 0, 0, 0}), EROFS);
  ExpectError(Run(SYS_fchmod, {99, 0777}), EBADF);
  ExpectError(Run(SYS_ftruncate, {fd, 0}), EINVAL);
}

TEST_F(FsHandlersTest, WithoutMountsTheRootIsEmptyAndReadOnly) {
  Reset(manifest_);  // a fresh guest: no mounts
  ExpectError(Run(SYS_open, {Path("/etc/passwd"), O_RDONLY}), ENOENT);
  ExpectError(Run(SYS_mkdir, {Path("/x"), 0755}), EROFS);
  const Reply root = Run(SYS_open, {Path("/"), O_RDONLY | O_DIRECTORY});
  ASSERT_EQ(root.error, 0);
  ExpectValue(Run(SYS_getdents64, {static_cast<uint64_t>(root.value), kBuf, 4096}), 48);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor::handler_test

namespace zerocell::sandbox::supervisor::handler_test {
namespace {

// Records injections as SECCOMP_IOCTL_NOTIF_ADDFD would make them; `fail` refuses them.
class FakeInjector : public FdInjector {
 public:
  int Inject(int src_fd, int target_fd) override {
    if (fail || src_fd < 0) return -EBADF;
    targets.push_back(target_fd);
    return target_fd;
  }
  std::vector<int> targets;
  bool fail = false;
};

class FsInjectionTest : public FsHandlersTest {
 protected:
  void SetUp() override {
    FsHandlersTest::SetUp();
    guest_->set_injector(&injector_);
  }
  FakeInjector injector_;
};

constexpr uint64_t kLo = FdTable::kTreeFdLo;

TEST_F(FsInjectionTest, TreeFilesAreInjectedAtTheirNumberInTheRange) {
  EXPECT_EQ(OpenPath("/etc/passwd"), static_cast<int64_t>(kLo));
  EXPECT_EQ(OpenPath("/bin/tool"), static_cast<int64_t>(kLo + 1));
  EXPECT_EQ(injector_.targets, (std::vector<int>{int(kLo), int(kLo + 1)}));
  // Directories and O_PATH have no memfd: emulated numbers.
  EXPECT_EQ(OpenPath("/etc", O_RDONLY | O_DIRECTORY), 5);
  EXPECT_EQ(OpenPath("/etc/passwd", O_PATH), 6);
  // A read the filter sent here anyway (e.g. from a dup below the range) shares the offset.
  ExpectValue(Run(SYS_read, {kLo, kBuf, 5}), 5);
  ExpectValue(Run(SYS_dup2, {kLo, 40}), 40);
  ExpectValue(Run(SYS_read, {40, kBuf, 100}), 6);
  EXPECT_EQ(memory_->Bytes(kBuf, 6), "x:0:0\n");
  // fstat is emulated: nothing of the memfd's inode.
  ExpectValue(Run(SYS_fstat, {kLo, kBuf}), 0);
  EXPECT_EQ(At<struct stat>(kBuf).st_dev, 0x2a01u);
}

TEST_F(FsInjectionTest, CloseOfAnInjectedFdLetsTheKernelCloseIt) {
  ASSERT_EQ(OpenPath("/etc/passwd"), static_cast<int64_t>(kLo));
  const Reply r = Run(SYS_close, {kLo});
  EXPECT_TRUE(r.continue_syscall);
  EXPECT_EQ(guest_->fds().File(kLo), nullptr);
  ExpectValue(Run(SYS_close, {4}), 0);  // a channel: no real fd, answered here
  ExpectError(Run(SYS_close, {kLo}), EBADF);
}

TEST_F(FsInjectionTest, DupsGoToTheRangeAndNothingElseCanEnterIt) {
  ASSERT_EQ(OpenPath("/etc/passwd"), static_cast<int64_t>(kLo));
  ExpectValue(Run(SYS_dup, {kLo}), kLo + 1);
  ExpectValue(Run(SYS_fcntl, {kLo, F_DUPFD_CLOEXEC, 0}), kLo + 2);
  ExpectValue(Run(SYS_dup2, {kLo, kLo + 100}), kLo + 100);
  EXPECT_EQ(injector_.targets.size(), 4u);
  EXPECT_TRUE(guest_->fds().injected(kLo + 100));
  // A channel or a directory in the range would be read from a memfd by the kernel.
  ExpectError(Run(SYS_dup2, {1, kLo + 200}), EBADF);
  const int64_t dir = OpenPath("/etc", O_RDONLY | O_DIRECTORY);
  ExpectError(Run(SYS_dup3, {static_cast<uint64_t>(dir), kLo + 201, 0}), EBADF);
  ExpectValue(Run(SYS_fcntl, {1, F_DUPFD, kLo}), FdTable::kTreeFdHi);  // skips the range
}

TEST_F(FsInjectionTest, OnlyInjectedTreeFilesMap) {
  ASSERT_EQ(OpenPath("/bin/tool"), static_cast<int64_t>(kLo));
  const Reply mapped = Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, kLo, 0});
  EXPECT_TRUE(mapped.continue_syscall);
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, 1, 0}), ENODEV);
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, kLo + 7, 0}), EBADF);
  Run(SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, kLo, 0});
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
}

TEST_F(FsInjectionTest, AFailedInjectionFallsBackToAnEmulatedNumber) {
  injector_.fail = true;
  EXPECT_EQ(OpenPath("/etc/passwd"), 5);
  EXPECT_FALSE(guest_->fds().injected(5));
  ExpectValue(Run(SYS_read, {5, kBuf, 4}), 4);
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, 5, 0}), ENODEV);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor::handler_test

namespace zerocell::sandbox::supervisor::handler_test {
namespace {

TEST_F(FsInjectionTest, TheServerHoldsABoundedNumberOfRealDescriptorsPerRun) {
  std::vector<int64_t> fds;
  for (int i = 0; i < GuestState::kMaxRealFiles + 10; ++i) fds.push_back(OpenPath("/etc/passwd"));
  EXPECT_EQ(*guest_->real_files(), GuestState::kMaxRealFiles);
  EXPECT_EQ(fds[GuestState::kMaxRealFiles - 1],
            static_cast<int64_t>(kLo) + GuestState::kMaxRealFiles - 1);
  // Past the bound: emulated numbers below the range, served from the tree's memfd.
  const auto extra = static_cast<uint64_t>(fds.back());
  EXPECT_LT(extra, kLo);
  ExpectValue(Run(SYS_read, {extra, kBuf, 4}), 4);
  EXPECT_EQ(memory_->Bytes(kBuf, 4), "root");
  ExpectValue(Run(SYS_lseek, {extra, 0, SEEK_CUR}), 4);
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, extra, 0}), ENODEV);
  Run(SYS_close, {kLo});
  EXPECT_EQ(*guest_->real_files(), GuestState::kMaxRealFiles - 1);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor::handler_test
