// FdTable unit tests: pre-opened handles, lowest-free allocation, dup2 semantics, limits.
#include "sandbox/supervisor/fd_table.h"

#include <cerrno>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace zerocell::sandbox::supervisor {
namespace {

TEST(FdTableTest, InitialDescriptorsFollowHandleOrder) {
  FdTable t({2, 0, 1, 4, 3});
  EXPECT_EQ(t.Lookup(0), 2);
  EXPECT_EQ(t.Lookup(1), 0);
  EXPECT_EQ(t.Lookup(2), 1);
  EXPECT_EQ(t.Lookup(3), 4);
  EXPECT_EQ(t.Lookup(4), 3);
  EXPECT_EQ(t.Lookup(5), -1);
  EXPECT_EQ(t.Lookup(-1), -1);
  EXPECT_EQ(t.Lookup(int64_t{1} << 40), -1);
  EXPECT_EQ(t.Lookup(int64_t{1} << 32), -1);  // must not truncate to fd 0
}

TEST(FdTableTest, OpenTakesTheLowestFreeNumber) {
  FdTable t({0, 1, 2});
  EXPECT_EQ(t.Open(7), 3);
  EXPECT_EQ(t.Open(7), 4);
  EXPECT_EQ(t.Close(1), 0);
  EXPECT_EQ(t.Close(3), 0);
  EXPECT_EQ(t.Open(5), 1);
  EXPECT_EQ(t.Lookup(1), 5);
  EXPECT_EQ(t.Open(6), 3);
  EXPECT_EQ(t.Open(6), 5);
  EXPECT_EQ(t.Lookup(4), 7);  // untouched
}

TEST(FdTableTest, OpenWithMinFd) {
  FdTable t({0, 1, 2});
  EXPECT_EQ(t.Open(9, 10), 10);
  for (int fd = 3; fd < 10; ++fd) EXPECT_EQ(t.Lookup(fd), -1) << fd;
  EXPECT_EQ(t.Open(8, 10), 11);
  EXPECT_EQ(t.Open(7, 1), 3);  // lowest free >= 1
  EXPECT_EQ(t.Open(6), 4);
  EXPECT_EQ(t.Close(1), 0);
  EXPECT_EQ(t.Open(5, 2), 5);  // fd 1 is free but below min_fd
  EXPECT_EQ(t.Open(5, 0), 1);
}

TEST(FdTableTest, OpenAtReplacesOrGrows) {
  FdTable t({0, 1, 2});
  EXPECT_EQ(t.OpenAt(1, 0), 1);  // dup2 onto an open fd closes it silently
  EXPECT_EQ(t.Lookup(1), 0);
  EXPECT_EQ(t.OpenAt(100, 2), 100);
  EXPECT_EQ(t.Lookup(100), 2);
  for (int fd = 3; fd < 100; ++fd) EXPECT_EQ(t.Lookup(fd), -1) << fd;
  EXPECT_EQ(t.Open(1), 3);  // the gap below 100 stays available
  EXPECT_EQ(t.OpenAt(FdTable::kMaxFds - 1, 1), FdTable::kMaxFds - 1);
  EXPECT_EQ(t.Lookup(FdTable::kMaxFds - 1), 1);
}

TEST(FdTableTest, OpenAtOutOfRangeIsEbadf) {
  FdTable t({0, 1, 2});
  EXPECT_EQ(t.OpenAt(-1, 0), -EBADF);
  EXPECT_EQ(t.OpenAt(FdTable::kMaxFds, 0), -EBADF);
  EXPECT_EQ(t.Lookup(FdTable::kMaxFds), -1);
}

TEST(FdTableTest, CloseAndEbadf) {
  FdTable t({0, 1, 2});
  EXPECT_EQ(t.Close(2), 0);
  EXPECT_EQ(t.Lookup(2), -1);
  EXPECT_EQ(t.Close(2), -EBADF);
  EXPECT_EQ(t.Close(3), -EBADF);
  EXPECT_EQ(t.Close(-1), -EBADF);
  EXPECT_EQ(t.Close(int64_t{1} << 40), -EBADF);
  EXPECT_EQ(t.Lookup(0), 0);
  EXPECT_EQ(t.Lookup(1), 1);
}

TEST(FdTableTest, TwoDescriptorsMayNameOneChannel) {
  FdTable t({0, 1, 2, 3});
  EXPECT_EQ(t.Open(3), 4);
  EXPECT_EQ(t.Close(3), 0);
  EXPECT_EQ(t.Lookup(4), 3);
}

TEST(FdTableTest, EmfileAtMaxFds) {
  FdTable t({0, 1, 2});
  int opened = 0;
  int last = 0;
  for (;;) {
    int fd = t.Open(0);
    if (fd < 0) {
      EXPECT_EQ(fd, -EMFILE);
      break;
    }
    last = fd;
    ASSERT_LT(++opened, FdTable::kMaxFds);
  }
  // Channels never take numbers in the tree range.
  EXPECT_EQ(opened, FdTable::kMaxFds - 3 - (FdTable::kTreeFdHi - FdTable::kTreeFdLo));
  EXPECT_EQ(last, FdTable::kMaxFds - 1);
  EXPECT_EQ(t.Open(0, 10), -EMFILE);
  EXPECT_EQ(t.Close(17), 0);
  EXPECT_EQ(t.Open(4), 17);  // a closed number becomes available again
  EXPECT_EQ(t.Open(4), -EMFILE);
}

TEST(FdTableTest, MinFdAtOrPastTheLimitNeverYieldsAnFdPastIt) {
  // fcntl(F_DUPFD, arg) with arg >= the fd limit must fail; the table must not grow past
  // kMaxFds (nor allocate min_fd entries for a huge guest-chosen arg).
  FdTable t({0, 1, 2});
  EXPECT_EQ(t.Open(0, FdTable::kMaxFds - 1), FdTable::kMaxFds - 1);
  int fd = t.Open(0, FdTable::kMaxFds);
  EXPECT_LT(fd, 0) << "got fd " << fd;
  fd = t.Open(0, FdTable::kMaxFds + 100);
  EXPECT_LT(fd, 0) << "got fd " << fd;
  EXPECT_EQ(t.Lookup(FdTable::kMaxFds), -1);
}

TEST(FdTableTest, TreeFilesTakeTheRangeAndNothingElseDoes) {
  FdTable t({0, 1, 2});
  auto file = std::make_shared<OpenFile>();
  EXPECT_EQ(t.AddFile(file, false, 0, /*in_range=*/true), FdTable::kTreeFdLo);
  EXPECT_EQ(t.AddFile(file, false, 0, /*in_range=*/true), FdTable::kTreeFdLo + 1);
  EXPECT_EQ(t.File(FdTable::kTreeFdLo), file.get());
  EXPECT_EQ(t.Lookup(FdTable::kTreeFdLo), -1);
  EXPECT_EQ(t.AddFile(file, false), 3);  // an emulated file: lowest free outside the range
  EXPECT_EQ(t.Open(7, FdTable::kTreeFdLo), FdTable::kTreeFdHi);  // F_DUPFD into the range
  EXPECT_EQ(t.Dup(1, FdTable::kTreeFdLo + 5, false), FdTable::kTreeFdHi + 1);
  t.set_injected(FdTable::kTreeFdLo, true);
  EXPECT_TRUE(t.injected(FdTable::kTreeFdLo));
  EXPECT_EQ(t.DupTo(FdTable::kTreeFdLo, 9, false), 9);
  EXPECT_FALSE(t.injected(9));  // a copy holds no real fd until one is injected
  EXPECT_EQ(t.Close(FdTable::kTreeFdLo), 0);
  EXPECT_FALSE(t.injected(FdTable::kTreeFdLo));
  for (int i = FdTable::kTreeFdLo; i < FdTable::kTreeFdHi; ++i) t.AddFile(file, false, 0, true);
  EXPECT_EQ(t.AddFile(file, false, 0, /*in_range=*/true), -EMFILE);
}

TEST(FdTableTest, MinFdPastTheLimitOnAFreshTableFails) {
  FdTable t({0, 1, 2});
  int fd = t.Open(0, FdTable::kMaxFds);
  EXPECT_LT(fd, 0) << "got fd " << fd;
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor
