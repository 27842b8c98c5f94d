// The writable scratch through the handlers and the fake kernel: files made, written, read,
// listed, renamed and removed in /tmp with the kernel's errnos; quotas; EROFS and EXDEV outside.
#include <dirent.h>
#include <linux/fs.h>

#include <cstddef>
#include <vector>

#include "gmock/gmock.h"
#include "handler_fixture.h"
#include "sandbox/fs/guest_fs.h"

namespace zerocell::sandbox::supervisor::handler_test {
namespace {

using ::testing::ElementsAre;

constexpr uint64_t kPath2 = 0x40000;  // a second path argument (rename, symlink)
constexpr uint64_t kMaxBytes = 64;
constexpr uint64_t kMaxFiles = 4;

Manifest ScratchManifest() {
  absl::StatusOr<Manifest> m = ManifestBuilder()
                                   .add_channel(StdinChannel(""))
                                   .add_channel(StdoutChannel(1 << 20))
                                   .add_channel(StderrChannel(1 << 20))
                                   .add_mount({"/", "tree"})
                                   .set_scratch({"/tmp", kMaxBytes, kMaxFiles})
                                   .set_memory_bytes(kMemory)
                                   .Build();
  EXPECT_THAT(m, IsOk());
  return *std::move(m);
}

class ScratchHandlersTest : public HandlersTest {
 protected:
  void SetUp() override {
    manifest_ = ScratchManifest();
    HandlersTest::SetUp();
    fs::FileTreeBuilder b;
    ASSERT_THAT(b.AddFile("etc/passwd", 0644, "root:x:0:0\n"), IsOk());
    ASSERT_OK_AND_ASSIGN(auto tree, std::move(b).Build());
    scratch_ = std::make_shared<fs::ScratchDir>("/tmp", kMaxBytes, kMaxFiles);
    ASSERT_OK_AND_ASSIGN(auto fs, fs::GuestFs::Create({{"/", tree}}, {}, scratch_));
    guest_->set_fs(std::move(fs));
    memory_->Map(kPath2, 4096);
  }
  uint64_t Path2(const std::string& path) {
    std::string page = path;
    page.resize(4096, '\0');
    memory_->Map(kPath2, page);
    return kPath2;
  }
  int64_t OpenPath(const std::string& path, uint64_t flags = O_RDONLY, uint64_t mode = 0644) {
    const Reply r = Run(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), Path(path), flags, mode});
    return r.error ? -r.error : r.value;
  }
  int64_t Write(int64_t fd, const std::string& bytes) {
    Put(kBuf, bytes);
    const Reply r = Run(SYS_write, {static_cast<uint64_t>(fd), kBuf, bytes.size()});
    return r.error ? -r.error : r.value;
  }
  std::string Read(int64_t fd, uint64_t len) {
    const Reply r = Run(SYS_read, {static_cast<uint64_t>(fd), kBuf, len});
    EXPECT_EQ(r.error, 0) << strerror(r.error);
    return memory_->Bytes(kBuf, static_cast<size_t>(r.value));
  }
  struct stat StatOf(const std::string& path) {
    ExpectValue(Run(SYS_stat, {Path(path), kBuf}), 0);
    return At<struct stat>(kBuf);
  }
  std::vector<std::string> List(const std::string& dir) {
    const int64_t fd = OpenPath(dir, O_RDONLY | O_DIRECTORY);
    EXPECT_GE(fd, 0);
    const Reply r = Run(SYS_getdents64, {static_cast<uint64_t>(fd), kBuf, 4096});
    EXPECT_EQ(r.error, 0);
    const std::string bytes = memory_->Bytes(kBuf, static_cast<size_t>(r.value));
    std::vector<std::string> names;
    for (size_t at = 0; at < bytes.size();) {
      dirent64 d;
      memcpy(&d, bytes.data() + at, offsetof(dirent64, d_name));
      names.emplace_back(bytes.data() + at + offsetof(dirent64, d_name));
      at += d.d_reclen;
    }
    Run(SYS_close, {static_cast<uint64_t>(fd)});
    return names;
  }

  std::shared_ptr<fs::ScratchDir> scratch_;
};

TEST_F(ScratchHandlersTest, CreateWriteReadStatAndList) {
  const int64_t fd = OpenPath("/tmp/a", O_CREAT | O_RDWR | O_EXCL, 0640);
  ASSERT_GE(fd, 0);
  EXPECT_LT(fd, FdTable::kTreeFdLo);  // emulated: every byte goes through the supervisor
  EXPECT_EQ(Write(fd, "hello"), 5);
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(fd), 0, SEEK_SET}), 0);
  EXPECT_EQ(Read(fd, 100), "hello");
  // A hole past the end reads as zeros.
  ExpectValue(Run(SYS_lseek, {static_cast<uint64_t>(fd), 3, SEEK_END}), 8);
  EXPECT_EQ(Write(fd, "x"), 1);
  ExpectValue(Run(SYS_pread64, {static_cast<uint64_t>(fd), kBuf, 100, 4}), 5);
  EXPECT_EQ(memory_->Bytes(kBuf, 5), std::string("o\0\0\0x", 5));
  ExpectValue(Run(SYS_fstat, {static_cast<uint64_t>(fd), kBuf}), 0);
  const auto st = At<struct stat>(kBuf);
  EXPECT_EQ(st.st_size, 9);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_uid, static_cast<uid_t>(kGuestUid));
  EXPECT_EQ(st.st_blocks, 1);
  EXPECT_EQ(st.st_mtim.tv_sec, 0);
  EXPECT_EQ(StatOf("/tmp").st_mode, S_IFDIR | 01777);
  EXPECT_EQ(OpenPath("/tmp/a", O_CREAT | O_EXCL | O_WRONLY), -EEXIST);
  // O_APPEND writes at the end; O_TRUNC empties.
  const int64_t app = OpenPath("/tmp/a", O_WRONLY | O_APPEND);
  EXPECT_EQ(Write(app, "!"), 1);
  EXPECT_EQ(StatOf("/tmp/a").st_size, 10);
  ExpectError(Run(SYS_read, {static_cast<uint64_t>(app), kBuf, 1}), EBADF);
  EXPECT_GE(OpenPath("/tmp/a", O_WRONLY | O_TRUNC), 0);
  EXPECT_EQ(StatOf("/tmp/a").st_size, 0);
  EXPECT_THAT(List("/tmp"), ElementsAre(".", "..", "a"));
  EXPECT_THAT(List("/"), ::testing::Contains("tmp"));
  // A read-only descriptor cannot write; fsync is a no-op.
  const int64_t ro = OpenPath("/tmp/a");
  ExpectError(Run(SYS_write, {static_cast<uint64_t>(ro), kBuf, 1}), EBADF);
  ExpectError(Run(SYS_ftruncate, {static_cast<uint64_t>(ro), 0}), EINVAL);
  ExpectValue(Run(SYS_fsync, {static_cast<uint64_t>(fd)}), 0);
  ExpectValue(Run(SYS_ftruncate, {static_cast<uint64_t>(fd), 3}), 0);
  EXPECT_EQ(StatOf("/tmp/a").st_size, 3);
}

TEST_F(ScratchHandlersTest, ByteQuotaPartialWriteThenEdquot) {
  const int64_t fd = OpenPath("/tmp/big", O_CREAT | O_WRONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Write(fd, std::string(60, 'a')), 60);
  EXPECT_FALSE(guest_->ScratchResults()->bytes_quota_exceeded);
  EXPECT_EQ(Write(fd, std::string(10, 'b')), 4);  // what fits
  EXPECT_EQ(Write(fd, "c"), -EDQUOT);
  ExpectError(Run(SYS_ftruncate, {static_cast<uint64_t>(fd), 100}), EDQUOT);
  const std::optional<ScratchResult> r = guest_->ScratchResults();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, "/tmp");
  EXPECT_EQ(r->bytes, 64);
  EXPECT_EQ(r->peak_bytes, 64);
  EXPECT_TRUE(r->bytes_quota_exceeded);
  EXPECT_FALSE(r->files_quota_exceeded);
  ExpectValue(Run(SYS_unlink, {Path("/tmp/big")}), 0);
  EXPECT_EQ(guest_->ScratchResults()->bytes, 64);  // open: its bytes stay
  ExpectValue(Run(SYS_close, {static_cast<uint64_t>(fd)}), 0);
  EXPECT_EQ(guest_->ScratchResults()->bytes, 0);
  EXPECT_EQ(guest_->ScratchResults()->files, 0);
}

TEST_F(ScratchHandlersTest, FileQuota) {
  for (const char* p : {"/tmp/1", "/tmp/2", "/tmp/3"}) ASSERT_GE(OpenPath(p, O_CREAT), 0);
  ExpectValue(Run(SYS_mkdir, {Path("/tmp/d"), 0755}), 0);
  EXPECT_EQ(OpenPath("/tmp/4", O_CREAT | O_WRONLY), -EDQUOT);
  ExpectError(Run(SYS_symlink, {Path("x"), Path2("/tmp/s")}), EDQUOT);
  const std::optional<ScratchResult> r = guest_->ScratchResults();
  EXPECT_EQ(r->files, 4);
  EXPECT_EQ(r->peak_files, 4);
  EXPECT_TRUE(r->files_quota_exceeded);
  EXPECT_FALSE(r->bytes_quota_exceeded);
}

TEST_F(ScratchHandlersTest, NamesRenameSymlinkAndCwd) {
  const int64_t a = OpenPath("/tmp/a", O_CREAT | O_WRONLY);
  ASSERT_GE(a, 0);
  ExpectValue(Run(SYS_mkdir, {Path("/tmp/d"), 0777}), 0);
  EXPECT_EQ(StatOf("/tmp/d").st_mode, S_IFDIR | 0755);
  EXPECT_EQ(StatOf("/tmp").st_nlink, 3u);
  ExpectError(Run(SYS_mkdir, {Path("/tmp/d"), 0755}), EEXIST);
  ExpectError(Run(SYS_mkdir, {Path("/tmp/no/d"), 0755}), ENOENT);
  ExpectValue(Run(SYS_rename, {Path("/tmp/a"), Path2("/tmp/d/b")}), 0);
  ExpectError(Run(SYS_stat, {Path("/tmp/a"), kBuf}), ENOENT);
  ExpectError(Run(SYS_rename, {Path("/tmp/d/b"), Path2("/etc/b")}), EXDEV);
  ExpectError(Run(SYS_rename, {Path("/etc/passwd"), Path2("/tmp/p")}), EXDEV);
  ExpectError(
      Run(SYS_renameat2, {static_cast<uint64_t>(AT_FDCWD), Path("/tmp/d/b"),
                          static_cast<uint64_t>(AT_FDCWD), Path2("/tmp/d/c"), RENAME_EXCHANGE}),
      EINVAL);
  ExpectValue(Run(SYS_symlink, {Path("b"), Path2("/tmp/d/l")}), 0);
  ExpectValue(Run(SYS_readlink, {Path("/tmp/d/l"), kBuf, 100}), 1);
  EXPECT_EQ(memory_->Bytes(kBuf, 1), "b");
  EXPECT_EQ(StatOf("/tmp/d/l").st_mode & S_IFMT, S_IFREG);  // followed
  ExpectValue(Run(SYS_lstat, {Path("/tmp/d/l"), kBuf}), 0);
  EXPECT_EQ(At<struct stat>(kBuf).st_mode, S_IFLNK | 0777);
  ExpectError(Run(SYS_rmdir, {Path("/tmp/d")}), ENOTEMPTY);
  ExpectError(Run(SYS_unlink, {Path("/tmp/d")}), EISDIR);
  ExpectError(Run(SYS_rmdir, {Path("/tmp/d/b")}), ENOTDIR);
  ExpectValue(Run(SYS_chdir, {Path("/tmp/d")}), 0);
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 7);
  EXPECT_EQ(memory_->Bytes(kBuf, 7), std::string("/tmp/d\0", 7));
  const int64_t b = OpenPath("b", O_RDONLY);  // relative to a scratch cwd
  EXPECT_GE(b, 0);
  EXPECT_THAT(List("."), ElementsAre(".", "..", "b", "l"));
  ExpectValue(Run(SYS_rename, {Path("/tmp/d"), Path2("/tmp/e")}), 0);
  ExpectValue(Run(SYS_getcwd, {kBuf, 100}), 7);  // the cwd follows its directory's rename
  EXPECT_EQ(memory_->Bytes(kBuf, 7), std::string("/tmp/e\0", 7));
  ExpectValue(Run(SYS_unlinkat, {static_cast<uint64_t>(AT_FDCWD), Path("b"), 0}), 0);
  ExpectValue(Run(SYS_unlink, {Path("l")}), 0);
  ExpectValue(Run(SYS_chdir, {Path("..")}), 0);
  ExpectValue(Run(SYS_unlinkat, {static_cast<uint64_t>(AT_FDCWD), Path("e"), AT_REMOVEDIR}), 0);
  EXPECT_THAT(List("/tmp"), ElementsAre(".", ".."));
  EXPECT_EQ(guest_->ScratchResults()->files, 1);  // a (renamed b): unlinked, open twice
  ExpectValue(Run(SYS_close, {static_cast<uint64_t>(b)}), 0);
  EXPECT_EQ(guest_->ScratchResults()->files, 1);
  ExpectValue(Run(SYS_close, {static_cast<uint64_t>(a)}), 0);
  EXPECT_EQ(guest_->ScratchResults()->files, 0);
}

// rm -r: reading a directory in small pieces while unlinking what was read neither skips nor
// repeats an entry, so the directory ends empty.
TEST_F(ScratchHandlersTest, UnlinkingWhileListingSeesEveryEntryOnce) {
  scratch_ = std::make_shared<fs::ScratchDir>("/tmp", 1 << 20, 1000);
  ASSERT_OK_AND_ASSIGN(auto fs, fs::GuestFs::Create({}, {}, scratch_));
  guest_->set_fs(std::move(fs));
  ExpectValue(Run(SYS_mkdir, {Path("/tmp/many"), 0755}), 0);
  for (int i = 0; i < 200; ++i) {
    ASSERT_GE(OpenPath("/tmp/many/file-with-a-longish-name-" + std::to_string(i), O_CREAT), 0);
  }
  const int64_t dir = OpenPath("/tmp/many", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  int seen = 0;
  for (;;) {
    const Reply r = Run(SYS_getdents64, {static_cast<uint64_t>(dir), kBuf, 512});
    ASSERT_EQ(r.error, 0);
    if (r.value == 0) break;
    const std::string bytes = memory_->Bytes(kBuf, static_cast<size_t>(r.value));
    for (size_t at = 0; at < bytes.size();) {
      dirent64 d;
      memcpy(&d, bytes.data() + at, offsetof(dirent64, d_name));
      const std::string name = bytes.data() + at + offsetof(dirent64, d_name);
      at += d.d_reclen;
      if (name == "." || name == "..") continue;
      ++seen;
      ExpectValue(Run(SYS_unlink, {Path("/tmp/many/" + name)}), 0);
    }
  }
  EXPECT_EQ(seen, 200);
  ExpectValue(Run(SYS_rmdir, {Path("/tmp/many")}), 0);
}

// Records what would be put into the guest, and the snapshot's bytes and seals.
class SnapshotInjector : public FdInjector {
 public:
  int Inject(int src_fd, int target_fd) override {
    targets.push_back(target_fd);
    bytes.assign(64, '\0');
    bytes.resize(static_cast<size_t>(std::max<ssize_t>(pread(src_fd, bytes.data(), 64, 0), 0)));
    seals = fcntl(src_fd, F_GET_SEALS);
    access = fcntl(src_fd, F_GETFL) & O_ACCMODE;
    return target_fd;
  }
  std::vector<int> targets;
  std::string bytes;
  int seals = 0, access = -1;
};

TEST_F(ScratchHandlersTest, PrivateMappingsGetASealedSnapshotAtTheGuestsNumber) {
  SnapshotInjector injector;
  guest_->set_injector(&injector);
  const int64_t fd = OpenPath("/tmp/m", O_CREAT | O_RDWR);
  const uint64_t ufd = static_cast<uint64_t>(fd);
  EXPECT_EQ(Write(fd, "first"), 5);
  const Reply mapped = Run(SYS_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ufd, 0});
  EXPECT_TRUE(mapped.continue_syscall);
  EXPECT_THAT(injector.targets, ElementsAre(fd));
  EXPECT_EQ(injector.bytes, "first");
  EXPECT_EQ(injector.access, O_RDONLY);
  EXPECT_EQ(injector.seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SEAL),
            F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_TRUE(guest_->fds().injected(fd));
  // A later mapping sees later writes: a new snapshot replaces the old one.
  ExpectValue(Run(SYS_pwrite64, {ufd, kBuf, 0, 0}), 0);
  Put(kBuf, "SECOND");
  ExpectValue(Run(SYS_pwrite64, {ufd, kBuf, 6, 0}), 6);
  EXPECT_TRUE(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, ufd, 0}).continue_syscall);
  EXPECT_EQ(injector.bytes, "SECOND");
  EXPECT_EQ(injector.targets.size(), 2u);
  // Never shared (MAP_SHARED would neither follow writes nor count them), never for a write-only
  // descriptor, never executable (a policy violation, as for any file without admitted code).
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_SHARED, ufd, 0}), ENODEV);
  const int64_t wo = OpenPath("/tmp/m", O_WRONLY);
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, static_cast<uint64_t>(wo), 0}),
              EACCES);
  EXPECT_EQ(injector.targets.size(), 2u);
  // Closing the descriptor lets the kernel close the snapshot it holds there.
  EXPECT_TRUE(Run(SYS_close, {ufd}).continue_syscall);
  const uint64_t again = static_cast<uint64_t>(OpenPath("/tmp/m"));
  EXPECT_TRUE(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, again, 0}).continue_syscall);
  ASSERT_TRUE(guest_->fds().injected(static_cast<int64_t>(again)));
  // Even with a real descriptor there, in the form ld.so maps code in: scratch bytes are the
  // guest's own writing, never code.
  Run(SYS_mmap, {0x600000, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, again, 0});
  ASSERT_TRUE(guest_->stop().has_value());
  EXPECT_EQ(guest_->stop()->outcome, Outcome::kPolicyViolation);
}

TEST_F(ScratchHandlersTest, OutsideTheScratchStaysReadOnly) {
  EXPECT_EQ(OpenPath("/etc/new", O_CREAT | O_WRONLY), -EROFS);
  EXPECT_EQ(OpenPath("/etc/passwd", O_WRONLY), -EROFS);
  ExpectError(Run(SYS_mkdir, {Path("/etc/d"), 0755}), EROFS);
  ExpectError(Run(SYS_unlink, {Path("/etc/passwd")}), EROFS);
  ExpectError(Run(SYS_truncate, {Path("/etc/passwd"), 0}), EROFS);
  ExpectError(Run(SYS_rmdir, {Path("/tmp")}), EROFS);  // the scratch itself is not its own
  ExpectError(Run(SYS_access, {Path("/etc"), W_OK}), EROFS);
  ExpectValue(Run(SYS_access, {Path("/tmp"), W_OK}), 0);
  EXPECT_EQ(OpenPath("/tmp", O_TMPFILE | O_RDWR), -EOPNOTSUPP);
  const int64_t tree = OpenPath("/etc/passwd");
  ExpectError(Run(SYS_ftruncate, {static_cast<uint64_t>(tree), 0}), EINVAL);
  // Without an injector (no real descriptor can be given): not mappable.
  const int64_t fd = OpenPath("/tmp/m", O_CREAT | O_RDWR);
  EXPECT_EQ(Write(fd, "data"), 4);
  ExpectError(Run(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, static_cast<uint64_t>(fd), 0}),
              ENODEV);
  ExpectValue(Run(SYS_truncate, {Path("/tmp/m"), 1}), 0);
  ExpectValue(Run(SYS_chmod, {Path("/tmp/m"), 0400}), 0);
  EXPECT_EQ(OpenPath("/tmp/m", O_WRONLY), -EACCES);
  EXPECT_EQ(OpenPath("/tmp/m", O_RDONLY | O_TRUNC), -EACCES);
  ExpectError(Run(SYS_access, {Path("/tmp/m"), W_OK}), EACCES);
  // touch: times in the scratch are fixed, so setting them succeeds and changes nothing.
  ExpectValue(Run(SYS_utimensat, {static_cast<uint64_t>(AT_FDCWD), Path("/tmp/m"), 0, 0}), 0);
  ExpectValue(Run(SYS_utimensat, {static_cast<uint64_t>(fd), 0, 0, 0}), 0);
  EXPECT_EQ(StatOf("/tmp/m").st_mtim.tv_sec, 0);
  ExpectError(Run(SYS_utimensat, {static_cast<uint64_t>(AT_FDCWD), Path("/etc/passwd"), 0, 0}),
              EROFS);
  ExpectError(Run(SYS_utimensat, {static_cast<uint64_t>(tree), 0, 0, 0}), EROFS);
  ExpectError(Run(SYS_utimes, {Path("/etc/nothing"), 0}), ENOENT);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor::handler_test
