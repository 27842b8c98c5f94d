// Channel unit tests: quotas (EOF wins), positions per channel type, writes, lseek, etags, results.
#include "sandbox/supervisor/channel.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace zerocell::sandbox::supervisor {
namespace {

constexpr int64_t kBig = int64_t{1} << 40;
constexpr uint64_t kNoCap = std::numeric_limits<uint64_t>::max();

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr), 1);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

ChannelSpec Spec(ChannelType type, int64_t gets, int64_t get_size, int64_t puts, int64_t put_size,
                 std::string data = "", bool etag = false) {
  ChannelSpec s;
  s.alias = "/dev/test";
  s.type = type;
  s.etag = etag;
  s.gets = gets;
  s.get_size = get_size;
  s.puts = puts;
  s.put_size = put_size;
  s.initial_bytes = std::move(data);
  return s;
}

ChannelSpec Reader(std::string data, ChannelType type = ChannelType::kSeqReadSeqWrite,
                   int64_t gets = kBig, int64_t get_size = kBig, bool etag = false) {
  return Spec(type, gets, get_size, 0, 0, std::move(data), etag);
}

ChannelSpec Writer(ChannelType type = ChannelType::kSeqReadSeqWrite, int64_t puts = kBig,
                   int64_t put_size = kBig, bool etag = false) {
  return Spec(type, 0, 0, puts, put_size, "", etag);
}

// What one guest read returned: the errno, or the bytes.
struct ReadOut {
  int error = 0;
  std::string bytes;
};

// A read() (no offset, moves the position) or pread() (offset, never moves a random position),
// with the guest copy succeeding in full.
ReadOut DoRead(Channel& ch, uint64_t len, std::optional<int64_t> offset = std::nullopt) {
  const ReadGrant g = ch.PlanRead(len, offset);
  if (g.error != 0) return {g.error, ""};
  if (g.length == 0) return {0, ""};  // end of data (the offset may lie past it)
  EXPECT_LE(g.offset + g.length, ch.data().size());
  std::string bytes = ch.data().substr(g.offset, g.length);
  ch.CommitRead(g, g.length, !offset.has_value());
  return {0, bytes};
}

struct WriteOut {
  int error = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool over_capacity = false;
};

// A write() or pwrite() of `bytes`, storing what the grant allows.
WriteOut DoWrite(Channel& ch, std::string_view bytes, std::optional<int64_t> offset = std::nullopt,
                 uint64_t capacity = kNoCap) {
  WriteOut out;
  const WriteGrant g = ch.PlanWrite(bytes.size(), offset, capacity, &out.over_capacity);
  out.error = g.error;
  out.offset = g.offset;
  out.length = g.length;
  if (g.error == 0) {
    EXPECT_LE(g.length, bytes.size());
    ch.CommitWrite(g, bytes.substr(0, g.length), !offset.has_value());
  }
  return out;
}

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

TEST(ChannelReadTest, EofGrantHasZeroLength) {
  Channel ch(Reader("", ChannelType::kSeqReadSeqWrite, 1, 1));
  ReadGrant g = ch.PlanRead(10, std::nullopt);
  EXPECT_EQ(g.error, 0);
  EXPECT_EQ(g.length, 0u);
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
  ReadGrant g = ch.PlanRead(uint64_t{1} << 40, std::nullopt);
  EXPECT_EQ(g.error, 0);
  EXPECT_EQ(g.offset, 0u);
  EXPECT_EQ(g.length, 3u);
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
  ReadGrant g = ch.PlanRead(0, std::nullopt);
  EXPECT_EQ(g.error, 0);
  EXPECT_EQ(g.length, 0u);
  ch.CommitRead(g, 0, true);
  EXPECT_EQ(DoRead(ch, 3).bytes, "abc");  // the single get is still available
}

TEST(ChannelReadTest, ReadOnWriteOnlyChannelIsEbadf) {
  Channel ch(Writer());
  EXPECT_EQ(ch.PlanRead(1, std::nullopt).error, EBADF);
  EXPECT_EQ(ch.PlanRead(0, std::nullopt).error, EBADF);
}

TEST(ChannelReadTest, FailedCopyMovesNothing) {
  // The guest buffer was bad (EFAULT): CommitRead with 0 moved changes no counter or position.
  Channel ch(Reader("abcdef", ChannelType::kSeqReadSeqWrite, /*gets=*/1, kBig, /*etag=*/true));
  ReadGrant g = ch.PlanRead(3, std::nullopt);
  ASSERT_EQ(g.length, 3u);
  ch.CommitRead(g, 0, true);
  EXPECT_EQ(DoRead(ch, 3).bytes, "abc");
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 1);
  EXPECT_EQ(r.read_bytes, 3);
  EXPECT_EQ(r.etag, Sha256Hex("abc"));
}

TEST(ChannelReadTest, ShortCopyCountsAndAdvancesOnlyWhatMoved) {
  Channel ch(Reader("abcdef", ChannelType::kSeqReadSeqWrite, kBig, kBig, /*etag=*/true));
  ReadGrant g = ch.PlanRead(4, std::nullopt);
  ASSERT_EQ(g.length, 4u);
  ch.CommitRead(g, 2, true);
  EXPECT_EQ(DoRead(ch, 10).bytes, "cdef");
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 2);
  EXPECT_EQ(r.read_bytes, 6);
  EXPECT_EQ(r.etag, Sha256Hex("abcdef"));
}

// ---- Writes ----

TEST(ChannelWriteTest, SequentialWriteAppendsIgnoringOffset) {
  for (ChannelType type : {ChannelType::kSeqReadSeqWrite, ChannelType::kRandReadSeqWrite}) {
    SCOPED_TRACE(static_cast<int>(type));
    Channel ch(Writer(type));
    WriteOut a = DoWrite(ch, "abc", /*offset=*/100);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.offset, 0u);
    EXPECT_EQ(a.length, 3u);
    WriteOut b = DoWrite(ch, "de", /*offset=*/0);
    EXPECT_EQ(b.offset, 3u);
    EXPECT_EQ(DoWrite(ch, "f", /*offset=*/-5).error, 0);  // ignored, so not EINVAL
    EXPECT_EQ(DoWrite(ch, "g").offset, 6u);
    ChannelResult r = ch.TakeResult();
    EXPECT_EQ(r.output, "abcdefg");
    EXPECT_EQ(r.writes, 4);
    EXPECT_EQ(r.write_bytes, 7);
    EXPECT_FALSE(r.put_quota_exceeded);
  }
}

TEST(ChannelWriteTest, EdquotOncePutsAreSpent) {
  Channel ch(Writer(ChannelType::kSeqReadSeqWrite, /*puts=*/2));
  EXPECT_EQ(DoWrite(ch, "a").length, 1u);
  EXPECT_EQ(DoWrite(ch, "b").length, 1u);
  EXPECT_EQ(DoWrite(ch, "c").error, EDQUOT);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.output, "ab");
  EXPECT_EQ(r.writes, 2);
  EXPECT_EQ(r.write_bytes, 2);
  EXPECT_TRUE(r.put_quota_exceeded);
}

TEST(ChannelWriteTest, EdquotOncePutSizeIsSpent) {
  Channel ch(Writer(ChannelType::kSeqReadSeqWrite, kBig, /*put_size=*/4));
  WriteOut full = DoWrite(ch, "abcd");
  EXPECT_EQ(full.length, 4u);
  EXPECT_EQ(DoWrite(ch, "e").error, EDQUOT);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.output, "abcd");
  EXPECT_EQ(r.writes, 1);
  EXPECT_TRUE(r.put_quota_exceeded);
}

TEST(ChannelWriteTest, WriteExactlyUpToPutSizeDoesNotSetTheFlag) {
  Channel ch(Writer(ChannelType::kSeqReadSeqWrite, kBig, /*put_size=*/4));
  EXPECT_EQ(DoWrite(ch, "abcd").length, 4u);
  EXPECT_FALSE(ch.TakeResult().put_quota_exceeded);
}

TEST(ChannelWriteTest, PartialWriteIsClippedToPutSize) {
  Channel ch(Writer(ChannelType::kSeqReadSeqWrite, kBig, /*put_size=*/4));
  EXPECT_EQ(DoWrite(ch, "ab").length, 2u);
  WriteOut cut = DoWrite(ch, "cdefgh");
  EXPECT_EQ(cut.error, 0);
  EXPECT_EQ(cut.length, 2u);
  EXPECT_EQ(DoWrite(ch, "x").error, EDQUOT);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.output, "abcd");
  EXPECT_EQ(r.writes, 2);
  EXPECT_EQ(r.write_bytes, 4);
  EXPECT_TRUE(r.put_quota_exceeded);
}

TEST(ChannelWriteTest, RandomWriteAtOffsetZeroFillsTheGap) {
  for (ChannelType type : {ChannelType::kSeqReadRandWrite, ChannelType::kRandReadRandWrite}) {
    SCOPED_TRACE(static_cast<int>(type));
    Channel ch(Writer(type));
    WriteOut a = DoWrite(ch, "xy", /*offset=*/5);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.offset, 5u);
    EXPECT_EQ(a.length, 2u);
    EXPECT_EQ(DoWrite(ch, "ab", /*offset=*/0).offset, 0u);
    ChannelResult r = ch.TakeResult();
    EXPECT_EQ(r.output, std::string("ab\0\0\0xy", 7));
    EXPECT_EQ(r.writes, 2);
    EXPECT_EQ(r.write_bytes, 4);  // zero fill is not data written by the guest
  }
}

TEST(ChannelWriteTest, RandomWriteUsesAndAdvancesWritePosition) {
  Channel ch(Writer(ChannelType::kSeqReadRandWrite));
  EXPECT_EQ(DoWrite(ch, "abcdef").offset, 0u);
  EXPECT_EQ(DoWrite(ch, "Q", /*offset=*/1).offset, 1u);  // pwrite does not move the position
  EXPECT_EQ(DoWrite(ch, "gh").offset, 6u);
  EXPECT_EQ(ch.Seek(2, SEEK_SET), 2);
  EXPECT_EQ(DoWrite(ch, "Z").offset, 2u);
  EXPECT_EQ(DoWrite(ch, "Y").offset, 3u);
  EXPECT_EQ(ch.TakeResult().output, "aQZYefgh");
}

TEST(ChannelWriteTest, WritePastTheEndViaSeekZeroFills) {
  Channel ch(Writer(ChannelType::kRandReadRandWrite));
  EXPECT_EQ(ch.Seek(3, SEEK_SET), 3);
  EXPECT_EQ(DoWrite(ch, "z").offset, 3u);
  EXPECT_EQ(ch.TakeResult().output, std::string("\0\0\0z", 4));
}

TEST(ChannelWriteTest, WriteTooFarPastTheEndIsEinval) {
  Channel ch(Writer(ChannelType::kSeqReadRandWrite, kBig, /*put_size=*/10));
  EXPECT_EQ(DoWrite(ch, "a", /*offset=*/1000).error, EINVAL);
  EXPECT_EQ(DoWrite(ch, "a", /*offset=*/11).error, EINVAL);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(r.writes, 0);
  EXPECT_FALSE(r.put_quota_exceeded);
}

TEST(ChannelWriteTest, RandomWriteWithNegativeOffsetIsEinval) {
  Channel ch(Writer(ChannelType::kRandReadRandWrite));
  EXPECT_EQ(DoWrite(ch, "a", -1).error, EINVAL);
  EXPECT_EQ(ch.TakeResult().writes, 0);
}

TEST(ChannelWriteTest, ZeroLengthWriteCountsNothing) {
  Channel ch(Writer(ChannelType::kSeqReadSeqWrite, /*puts=*/1));
  WriteOut w = DoWrite(ch, "");
  EXPECT_EQ(w.error, 0);
  EXPECT_EQ(w.length, 0u);
  EXPECT_EQ(DoWrite(ch, "a").length, 1u);  // the single put is still available
  EXPECT_EQ(ch.TakeResult().writes, 1);
}

TEST(ChannelWriteTest, WriteOnReadOnlyChannelIsEbadf) {
  Channel ch(Reader("abc"));
  bool over = true;
  EXPECT_EQ(ch.PlanWrite(1, std::nullopt, kNoCap, &over).error, EBADF);
  EXPECT_FALSE(over);
}

TEST(ChannelWriteTest, CapacityCutsTheWriteAndReportsIt) {
  Channel ch(Writer());
  WriteOut cut = DoWrite(ch, "0123456789", std::nullopt, /*capacity=*/4);
  EXPECT_EQ(cut.error, 0);
  EXPECT_EQ(cut.length, 4u);
  EXPECT_TRUE(cut.over_capacity);
  WriteOut none = DoWrite(ch, "x", std::nullopt, /*capacity=*/0);
  EXPECT_EQ(none.length, 0u);
  EXPECT_TRUE(none.over_capacity);
  WriteOut fits = DoWrite(ch, "ab", std::nullopt, /*capacity=*/2);
  EXPECT_EQ(fits.length, 2u);
  EXPECT_FALSE(fits.over_capacity);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.output, "0123ab");
  EXPECT_FALSE(r.put_quota_exceeded);  // the output limit is not the channel's quota
}

TEST(ChannelWriteTest, OverwriteInsideTheDataNeedsNoCapacity) {
  Channel ch(Writer(ChannelType::kRandReadRandWrite));
  DoWrite(ch, "abcdef");
  WriteOut over = DoWrite(ch, "XY", /*offset=*/1, /*capacity=*/0);
  EXPECT_EQ(over.length, 2u);
  EXPECT_FALSE(over.over_capacity);
  // Growing by 2 with room for 1: only up to one byte past the end.
  WriteOut grow = DoWrite(ch, "1234", /*offset=*/4, /*capacity=*/1);
  EXPECT_EQ(grow.length, 3u);
  EXPECT_TRUE(grow.over_capacity);
  EXPECT_EQ(ch.TakeResult().output, "aXYd123");
}

TEST(ChannelWriteTest, ZeroFilledGapCountsAgainstCapacity) {
  Channel ch(Writer(ChannelType::kSeqReadRandWrite));
  WriteOut w = DoWrite(ch, "ab", /*offset=*/8, /*capacity=*/5);
  EXPECT_EQ(w.length, 0u);
  EXPECT_TRUE(w.over_capacity);
  EXPECT_EQ(ch.TakeResult().output, "");
}

TEST(ChannelWriteTest, AppendAfterInputOfReadWriteChannel) {
  Channel ch(Spec(ChannelType::kRandReadSeqWrite, kBig, kBig, kBig, kBig, "input"));
  EXPECT_EQ(DoWrite(ch, "+out").offset, 5u);
  EXPECT_EQ(DoRead(ch, 100, 0).bytes, "input+out");
  EXPECT_EQ(ch.TakeResult().output, "input+out");
}

TEST(ChannelWriteTest, RandomReadWriteChannelIsFileLike) {
  // Type 3 behaves like a file: data written is read back, and write() then read() continue
  // from one position.
  Channel ch(Spec(ChannelType::kRandReadRandWrite, kBig, kBig, kBig, kBig, "abcdef"));
  EXPECT_EQ(DoWrite(ch, "XY").offset, 0u);
  EXPECT_EQ(DoRead(ch, 2).bytes, "cd");
  EXPECT_EQ(DoRead(ch, 6, 0).bytes, "XYcdef");
}

TEST(ChannelWriteTest, RandomReadWriteChannelReadMovesTheWritePosition) {
  // One file offset for type 3: after read() of 3 bytes, write() lands at offset 3 (ZeroVM too:
  // a read on a random-writable channel sets putpos = off + n).
  Channel ch(Spec(ChannelType::kRandReadRandWrite, kBig, kBig, kBig, kBig, "abcdef"));
  EXPECT_EQ(DoRead(ch, 3).bytes, "abc");
  EXPECT_EQ(DoWrite(ch, "X").offset, 3u);
  EXPECT_EQ(ch.Seek(0, SEEK_CUR), 4);
  EXPECT_EQ(DoRead(ch, 1).bytes, "e");
  EXPECT_EQ(ch.TakeResult().output, "abcXef");
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

// ---- Etag ----

TEST(ChannelEtagTest, HashesEveryMovedByteInCallOrder) {
  Channel ch(Spec(ChannelType::kRandReadRandWrite, kBig, kBig, kBig, kBig, "hello world",
                  /*etag=*/true));
  std::string moved;
  moved += DoRead(ch, 5).bytes;  // "hello"
  ASSERT_EQ(DoWrite(ch, "XY", 20).length, 2u);
  moved += "XY";
  moved += DoRead(ch, 5, 6).bytes;  // "world"
  moved += DoRead(ch, 3).bytes;     // " wo"
  ASSERT_EQ(DoWrite(ch, "!").length, 1u);
  moved += "!";
  EXPECT_EQ(moved, "helloXYworld wo!");
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.etag, Sha256Hex(moved));
  EXPECT_EQ(r.etag.size(), 64u);
  EXPECT_EQ(r.etag, absl::AsciiStrToLower(r.etag));
}

TEST(ChannelEtagTest, RefusedAndEmptyCallsAreNotHashed) {
  Channel ch(Spec(ChannelType::kSeqReadSeqWrite, /*gets=*/1, kBig, /*puts=*/1, /*put_size=*/3,
                  "abc", /*etag=*/true));
  EXPECT_EQ(DoRead(ch, 2).bytes, "ab");
  EXPECT_EQ(DoRead(ch, 2).error, EDQUOT);
  EXPECT_EQ(DoWrite(ch, "12345").length, 3u);
  EXPECT_EQ(DoWrite(ch, "6").error, EDQUOT);
  EXPECT_EQ(DoWrite(ch, "").length, 0u);
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.etag, Sha256Hex("ab123"));
}

TEST(ChannelEtagTest, NoTrafficIsSha256OfEmpty) {
  Channel ch(Reader("abc", ChannelType::kSeqReadSeqWrite, kBig, kBig, /*etag=*/true));
  EXPECT_EQ(ch.TakeResult().etag,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ChannelEtagTest, EmptyWhenNotAsked) {
  Channel ch(Reader("abc"));
  DoRead(ch, 3);
  EXPECT_EQ(ch.TakeResult().etag, "");
}

// ---- Results ----

TEST(ChannelResultTest, OutputOnlyForWritableChannels) {
  Channel reader(Reader("secret input"));
  DoRead(reader, 3);
  ChannelResult r = reader.TakeResult();
  EXPECT_FALSE(r.writable);
  EXPECT_EQ(r.output, "");

  Channel writer(Writer());
  DoWrite(writer, "out");
  ChannelResult w = writer.TakeResult();
  EXPECT_TRUE(w.writable);
  EXPECT_EQ(w.output, "out");
}

TEST(ChannelResultTest, WriteOnlyChannelIgnoresInitialBytes) {
  Channel ch(Spec(ChannelType::kSeqReadSeqWrite, 0, 0, kBig, kBig, "ignored"));
  EXPECT_EQ(ch.data(), "");
  DoWrite(ch, "x");
  EXPECT_EQ(ch.TakeResult().output, "x");
}

TEST(ChannelResultTest, CountersAddUpAcrossDirections) {
  Channel ch(Spec(ChannelType::kRandReadRandWrite, kBig, kBig, kBig, kBig, "0123456789"));
  DoRead(ch, 3);
  DoRead(ch, 4, 2);
  DoRead(ch, 100, 10);  // EOF: free
  DoWrite(ch, "ab", 0);
  DoWrite(ch, "cde");
  DoWrite(ch, "", 0);  // empty: not counted
  ChannelResult r = ch.TakeResult();
  EXPECT_EQ(r.reads, 2);
  EXPECT_EQ(r.read_bytes, 7);
  EXPECT_EQ(r.writes, 2);
  EXPECT_EQ(r.write_bytes, 5);
  EXPECT_FALSE(r.get_quota_exceeded);
  EXPECT_FALSE(r.put_quota_exceeded);
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor
