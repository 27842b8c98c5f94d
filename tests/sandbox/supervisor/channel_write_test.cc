// Channel write tests: put quotas, write positions, output capacity, etags and results.
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "sandbox/supervisor/channel.h"
#include "tests/sandbox/supervisor/channel_test_util.h"

namespace zerocell::sandbox::supervisor {
namespace {

using testing::DoRead;
using testing::DoWrite;
using testing::kBig;
using testing::kNoCap;
using testing::Reader;
using testing::Sha256Hex;
using testing::Spec;
using testing::WriteOut;
using testing::Writer;

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
