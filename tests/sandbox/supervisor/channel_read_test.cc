// Channel read tests: get quotas (EOF wins), read positions per channel type, and lseek.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "sandbox/supervisor/channel.h"
#include "tests/sandbox/supervisor/channel_test_util.h"

namespace zerocell::sandbox::supervisor {
namespace {

using testing::DoRead;
using testing::DoWrite;
using testing::kBig;
using testing::Reader;
using testing::ReadOut;
using testing::Sha256Hex;
using testing::Writer;

// ---- Reads ----

TEST(ChannelReadTest, SequentialReadsReturnDataInOrderAndCount) {
  Channel ch(Reader("hello world"));
  EXPECT_EQ(DoRead(ch, 5).bytes, "hello");
  EXPECT_EQ(DoRead(ch, 100).bytes, " world");
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.alias, "/dev/test");
  EXPECT_EQ(r.reads, 2);
  EXPECT_EQ(r.read_bytes, 11);
  EXPECT_EQ(r.writes, 0);
  EXPECT_EQ(r.write_bytes, 0);
  EXPECT_FALSE(r.get_quota_exceeded);
  EXPECT_FALSE(r.put_quota_exceeded);
}

TEST(ChannelReadTest, EofWinsOverSpentGets) {
  Channel ch(Reader("abc", ChannelType::kSeqReadSeqWrite, /*gets=*/1));
  EXPECT_EQ(DoRead(ch, 10).bytes, "abc");
  for (int i = 0; i < 3; ++i) {
    ReadOut eof = DoRead(ch, 10);
    EXPECT_EQ(eof.error, 0) << "a read at end of data must return 0, not EDQUOT";
    EXPECT_EQ(eof.bytes, "");
  }
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 1);  // reads at EOF are free
  EXPECT_EQ(r.read_bytes, 3);
  EXPECT_FALSE(r.get_quota_exceeded);
}

TEST(ChannelReadTest, EofWinsOverSpentGetSize) {
  // get_size exactly equals the data: ZeroVM would answer EDQUOT; Zerocell answers EOF.
  Channel ch(Reader("abcd", ChannelType::kSeqReadSeqWrite, kBig, /*get_size=*/4));
  EXPECT_EQ(DoRead(ch, 4).bytes, "abcd");
  ReadOut eof = DoRead(ch, 4);
  EXPECT_EQ(eof.error, 0);
  EXPECT_EQ(eof.bytes, "");
  EXPECT_FALSE(ch.TakeResult().get_quota_exceeded);
}

TEST(ChannelReadTest, EofReadReturnsZero) {
  Channel ch(Reader("", ChannelType::kSeqReadSeqWrite, 1, 1));
  const ReadOut r = DoRead(ch, 10);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.bytes, "");
}

TEST(ChannelReadTest, EdquotOnceGetsAreSpent) {
  Channel ch(Reader("abcdef", ChannelType::kSeqReadSeqWrite, /*gets=*/2));
  EXPECT_EQ(DoRead(ch, 1).bytes, "a");
  EXPECT_EQ(DoRead(ch, 1).bytes, "b");
  EXPECT_EQ(DoRead(ch, 1).error, EDQUOT);
  EXPECT_EQ(DoRead(ch, 1).error, EDQUOT);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 2);
  EXPECT_EQ(r.read_bytes, 2);
  EXPECT_TRUE(r.get_quota_exceeded);
}

TEST(ChannelReadTest, EdquotOnceGetSizeIsSpent) {
  Channel ch(Reader("0123456789", ChannelType::kSeqReadSeqWrite, kBig, /*get_size=*/4));
  EXPECT_EQ(DoRead(ch, 4).bytes, "0123");  // exactly the quota: not cut short
  ReadOut refused = DoRead(ch, 1);
  EXPECT_EQ(refused.error, EDQUOT);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 1);
  EXPECT_EQ(r.read_bytes, 4);
  EXPECT_TRUE(r.get_quota_exceeded);
}

TEST(ChannelReadTest, ReadExactlyUpToGetSizeDoesNotSetTheFlag) {
  Channel ch(Reader("0123456789", ChannelType::kSeqReadSeqWrite, kBig, /*get_size=*/4));
  EXPECT_EQ(DoRead(ch, 4).bytes, "0123");
  EXPECT_FALSE(ch.TakeResult().get_quota_exceeded);
}

TEST(ChannelReadTest, PartialReadIsClippedToGetSize) {
  Channel ch(Reader("0123456789", ChannelType::kSeqReadSeqWrite, kBig, /*get_size=*/4));
  EXPECT_EQ(DoRead(ch, 10).bytes, "0123");
  EXPECT_EQ(DoRead(ch, 10).error, EDQUOT);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 1);
  EXPECT_EQ(r.read_bytes, 4);
  EXPECT_TRUE(r.get_quota_exceeded);
}

TEST(ChannelReadTest, PartialReadSetsTheFlagImmediately) {
  Channel ch(Reader("0123456789", ChannelType::kSeqReadSeqWrite, kBig, /*get_size=*/3));
  EXPECT_EQ(DoRead(ch, 5).bytes, "012");
  EXPECT_TRUE(ch.TakeResult().get_quota_exceeded);
}

TEST(ChannelReadTest, ReadShortAtEndOfDataIsNotAQuotaCut) {
  Channel ch(Reader("abc", ChannelType::kSeqReadSeqWrite, kBig, /*get_size=*/100));
  EXPECT_EQ(DoRead(ch, 50).bytes, "abc");
  EXPECT_FALSE(ch.TakeResult().get_quota_exceeded);
}

TEST(ChannelReadTest, HugeLengthIsClippedToWhatIsAvailable) {
  Channel ch(Reader("abc"));
  const ReadOut r = DoRead(ch, uint64_t{1} << 40);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.bytes, "abc");
}

TEST(ChannelReadTest, SequentialReadIgnoresOffset) {
  for (ChannelType type : {ChannelType::kSeqReadSeqWrite, ChannelType::kSeqReadRandWrite}) {
    SCOPED_TRACE(static_cast<int>(type));
    Channel ch(Reader("abcdef", type));
    EXPECT_EQ(DoRead(ch, 2, /*offset=*/4).bytes, "ab");
    EXPECT_EQ(DoRead(ch, 2, /*offset=*/0).bytes, "cd");   // pread advances a sequential channel
    EXPECT_EQ(DoRead(ch, 2, /*offset=*/-1).bytes, "ef");  // even a negative offset is ignored
    EXPECT_EQ(DoRead(ch, 2).bytes, "");
  }
}

TEST(ChannelReadTest, RandomReadHonoursOffsetWithoutMovingPosition) {
  for (ChannelType type : {ChannelType::kRandReadSeqWrite, ChannelType::kRandReadRandWrite}) {
    SCOPED_TRACE(static_cast<int>(type));
    Channel ch(Reader("abcdef", type));
    EXPECT_EQ(DoRead(ch, 2, /*offset=*/3).bytes, "de");
    EXPECT_EQ(DoRead(ch, 2, /*offset=*/1).bytes, "bc");
    EXPECT_EQ(DoRead(ch, 2).bytes, "ab");  // the position is still 0
    EXPECT_EQ(DoRead(ch, 10, /*offset=*/4).bytes, "ef");
    EXPECT_EQ(DoRead(ch, 2).bytes, "cd");
  }
}

TEST(ChannelReadTest, ReadOnRandomChannelAdvancesPosition) {
  Channel ch(Reader("abcdef", ChannelType::kRandReadSeqWrite));
  EXPECT_EQ(DoRead(ch, 2).bytes, "ab");
  EXPECT_EQ(DoRead(ch, 2).bytes, "cd");
  EXPECT_EQ(ch.Seek(0, SEEK_CUR), 4);
  EXPECT_EQ(DoRead(ch, 10).bytes, "ef");
  EXPECT_EQ(DoRead(ch, 10).bytes, "");
}

TEST(ChannelReadTest, RandomReadAtOrPastEndIsFreeEof) {
  Channel ch(Reader("abc", ChannelType::kRandReadSeqWrite, /*gets=*/1));
  EXPECT_EQ(DoRead(ch, 1, 0).bytes, "a");
  for (int64_t off : {3, 4, 1000}) {
    ReadOut eof = DoRead(ch, 1, off);
    EXPECT_EQ(eof.error, 0) << off;
    EXPECT_EQ(eof.bytes, "") << off;
  }
  EXPECT_EQ(DoRead(ch, 1, 1).error, EDQUOT);  // inside the data the spent quota applies
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 1);
  EXPECT_TRUE(r.get_quota_exceeded);
}

TEST(ChannelReadTest, RandomReadWithNegativeOffsetIsEinval) {
  Channel ch(Reader("abc", ChannelType::kRandReadRandWrite));
  EXPECT_EQ(DoRead(ch, 1, -1).error, EINVAL);
  EXPECT_EQ(ch.TakeResult().reads, 0);
}

TEST(ChannelReadTest, ZeroLengthReadMovesNothingAndCountsNothing) {
  Channel ch(Reader("abc", ChannelType::kSeqReadSeqWrite, /*gets=*/1));
  const ReadResult r = ch.Read(0, std::nullopt, [](uint64_t, std::string_view) {
    ADD_FAILURE() << "nothing to deliver";
    return 0;
  });
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.moved, 0u);
  EXPECT_EQ(DoRead(ch, 3).bytes, "abc");  // the single get is still available
}

TEST(ChannelReadTest, ReadOnWriteOnlyChannelIsEbadf) {
  Channel ch(Writer());
  const Deliver none = [](uint64_t, std::string_view) { return 0; };
  EXPECT_EQ(ch.Read(1, std::nullopt, none).error, EBADF);
  EXPECT_EQ(ch.Read(0, std::nullopt, none).error, EBADF);
}

TEST(ChannelReadTest, FailedCopyMovesNothing) {
  // The guest buffer was bad (EFAULT): no counter or position changes.
  Channel ch(Reader("abcdef", ChannelType::kSeqReadSeqWrite, /*gets=*/1, kBig, /*etag=*/true));
  const ReadResult r = ch.Read(3, std::nullopt, [](uint64_t, std::string_view) { return EFAULT; });
  EXPECT_EQ(r.error, EFAULT);
  EXPECT_EQ(r.moved, 0u);
  EXPECT_EQ(DoRead(ch, 3).bytes, "abc");
  ChannelResult res = ch.TakeResult();
  EXPECT_EQ(res.reads, 1);
  EXPECT_EQ(res.read_bytes, 3);
  EXPECT_EQ(res.etag, Sha256Hex("abc"));
}

TEST(ChannelReadTest, ShortCopyCountsAndAdvancesOnlyWhatMoved) {
  // A read larger than one piece whose second piece cannot be copied: the first counts, and the
  // next read starts where it ended.
  const std::string data(kInputChunk + 10, 'x');
  Channel ch(Reader(data, ChannelType::kSeqReadSeqWrite, kBig, kBig, /*etag=*/true));
  int pieces = 0;
  const ReadResult r = ch.Read(data.size(), std::nullopt, [&](uint64_t done, std::string_view b) {
    if (pieces++ == 1) return EFAULT;
    EXPECT_EQ(done, 0u);
    EXPECT_EQ(b.size(), kInputChunk);
    return 0;
  });
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.moved, kInputChunk);
  EXPECT_EQ(DoRead(ch, 100).bytes, std::string(10, 'x'));
  ChannelResult res = ch.TakeResult();
  EXPECT_EQ(res.reads, 2);
  EXPECT_EQ(res.read_bytes, static_cast<int64_t>(data.size()));
  EXPECT_EQ(res.etag, Sha256Hex(data));
}

// ---- lseek ----

TEST(ChannelSeekTest, SequentialChannelIsEspipe) {
  Channel r(Reader("abc", ChannelType::kSeqReadSeqWrite));
  EXPECT_EQ(r.Seek(0, SEEK_SET), -ESPIPE);
  Channel w(Writer(ChannelType::kSeqReadSeqWrite));
  EXPECT_EQ(w.Seek(0, SEEK_CUR), -ESPIPE);
}

TEST(ChannelSeekTest, SetCurEnd) {
  Channel ch(Reader("0123456789", ChannelType::kRandReadSeqWrite));
  EXPECT_EQ(ch.Seek(4, SEEK_SET), 4);
  EXPECT_EQ(DoRead(ch, 2).bytes, "45");
  EXPECT_EQ(ch.Seek(0, SEEK_CUR), 6);
  EXPECT_EQ(ch.Seek(-3, SEEK_CUR), 3);
  EXPECT_EQ(DoRead(ch, 1).bytes, "3");
  EXPECT_EQ(ch.Seek(-2, SEEK_END), 8);
  EXPECT_EQ(DoRead(ch, 5).bytes, "89");
  EXPECT_EQ(ch.Seek(5, SEEK_END), 15);  // past the end is allowed; reads there are EOF
  ReadOut eof = DoRead(ch, 1);
  EXPECT_EQ(eof.error, 0);
  EXPECT_EQ(eof.bytes, "");
}

TEST(ChannelSeekTest, NegativeResultIsEinvalAndKeepsPosition) {
  Channel ch(Reader("0123456789", ChannelType::kRandReadRandWrite));
  EXPECT_EQ(ch.Seek(5, SEEK_SET), 5);
  EXPECT_EQ(ch.Seek(-1, SEEK_SET), -EINVAL);
  EXPECT_EQ(ch.Seek(-6, SEEK_CUR), -EINVAL);
  EXPECT_EQ(ch.Seek(-11, SEEK_END), -EINVAL);
  EXPECT_EQ(ch.Seek(std::numeric_limits<int64_t>::max(), SEEK_CUR), -EINVAL);  // overflow
  EXPECT_EQ(ch.Seek(0, 12345), -EINVAL);                                       // bad whence
  EXPECT_EQ(ch.Seek(0, SEEK_CUR), 5);
  EXPECT_EQ(DoRead(ch, 1).bytes, "5");
}

TEST(ChannelSeekTest, SeqReadRandWriteSeeksTheWritePosition) {
  Channel ch(Writer(ChannelType::kSeqReadRandWrite));
  DoWrite(ch, "abcdef");
  EXPECT_EQ(ch.Seek(0, SEEK_CUR), 6);
  EXPECT_EQ(ch.Seek(2, SEEK_SET), 2);
  DoWrite(ch, "Z");
  EXPECT_EQ(ch.Seek(0, SEEK_END), 6);
  DoWrite(ch, "g");
  EXPECT_EQ(ch.TakeResult().output, "abZdefg");
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor
