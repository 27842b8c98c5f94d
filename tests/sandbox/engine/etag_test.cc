// Integration tests for channel etags (SHA-256 over every byte moved, in call order, checked
// against OpenSSL here) and for bad guest pointers and huge lengths (EFAULT, no crash).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox {
namespace {

using ::testing::ElementsAre;
using testing::FindChannel;
using testing::kSha256OfEmpty;
using testing::Lines;
using testing::Pattern;
using testing::ReadChannel;
using testing::RunGuest;
using testing::Sha256Hex;
using testing::StdoutOf;
using testing::WriteChannel;

// Standard channels with etags on stdin and stdout (not on stderr).
ManifestBuilder EtagManifest(std::vector<std::string> argv, std::string data) {
  ManifestBuilder b;
  ChannelSpec in = StdinChannel(std::move(data));
  in.etag = true;
  ChannelSpec out = StdoutChannel(testing::kStdOutputBytes);
  out.etag = true;
  b.add_channel(in)
      .add_channel(out)
      .add_channel(StderrChannel(testing::kStdOutputBytes))
      .set_argv(std::move(argv))
      .set_timeout(testing::kTestTimeout);
  return b;
}

TEST(EngineEtagTest, CopiedDataHasTheSameEtagOnBothSides) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 31 + i / 7));
  ZC_ASSERT_RUN(r, RunGuest("cat", EtagManifest({"cat", "3000"}, data)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  const std::string want = Sha256Hex(data);
  EXPECT_EQ(FindChannel(r, "/dev/stdin")->etag, want);
  EXPECT_EQ(FindChannel(r, "/dev/stdout")->etag, want);
  EXPECT_EQ(FindChannel(r, "/dev/stderr")->etag, "");  // not asked for
}

TEST(EngineEtagTest, PartialReadHashesOnlyWhatWasMoved) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", EtagManifest({"quota_probe", "read", "0", "10", "2"},
                                                        "0123456789ABCDEFGHIJKLMNO")));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_EQ(FindChannel(r, "/dev/stdin")->etag, Sha256Hex("0123456789ABCDEFGHIJ"));
}

TEST(EngineEtagTest, QuotaCutWriteHashesOnlyWhatWasKept) {
  ManifestBuilder b = EtagManifest({"quota_probe", "write", "3", "10"}, "");
  ChannelSpec out = WriteChannel("/dev/out", 25);
  out.etag = true;
  b.add_channel(out);
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  const ChannelResult* ch = FindChannel(r, "/dev/out");
  ASSERT_NE(ch, nullptr);
  EXPECT_EQ(ch->output, Pattern(25, 'A'));
  EXPECT_EQ(ch->etag, Sha256Hex(Pattern(25, 'A')));
}

TEST(EngineEtagTest, UntouchedChannelsHashTheEmptyString) {
  ManifestBuilder b = EtagManifest({"exit_code", "0"}, "never read");
  ChannelSpec unused_in = ReadChannel("/dev/unused_in", "data");
  unused_in.etag = true;
  ChannelSpec unused_out = WriteChannel("/dev/unused_out");
  unused_out.etag = true;
  b.add_channel(unused_in).add_channel(unused_out).add_channel(ReadChannel("/dev/plain", "x"));
  ZC_ASSERT_RUN(r, RunGuest("exit_code", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_EQ(FindChannel(r, "/dev/stdin")->etag, kSha256OfEmpty);
  EXPECT_EQ(FindChannel(r, "/dev/stdout")->etag, kSha256OfEmpty);
  EXPECT_EQ(FindChannel(r, "/dev/unused_in")->etag, kSha256OfEmpty);
  EXPECT_EQ(FindChannel(r, "/dev/unused_out")->etag, kSha256OfEmpty);
  EXPECT_EQ(FindChannel(r, "/dev/plain")->etag, "");
}

TEST(EngineEtagTest, ReadsAndWritesAreHashedInCallOrder) {
  ChannelSpec rw = ReadChannel("/dev/rw", "abcdef");
  rw.puts = testing::kBigQuota;
  rw.put_size = 100;
  rw.etag = true;
  // Stops before the end of the initial data: whether appended bytes become readable is not
  // part of the contract.
  ManifestBuilder b = EtagManifest({"random_io", "read,3,3", "write,3,XY", "read,3,2"}, "");
  b.add_channel(rw);
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)),
              ElementsAre("read,3,3 = 3 [abc]", "write,3,XY = 2", "read,3,2 = 2 [de]"));
  const ChannelResult* ch = FindChannel(r, "/dev/rw");
  ASSERT_NE(ch, nullptr);
  EXPECT_EQ(ch->etag, Sha256Hex("abcXYde"));
  EXPECT_EQ(ch->reads, 2);
  EXPECT_EQ(ch->writes, 1);
}

TEST(EngineEtagTest, PositionedWritesAreHashedAsMovedNotAsStored) {
  ChannelSpec out = WriteChannel("/dev/out", 100, ChannelType::kRandReadRandWrite);
  out.etag = true;
  ManifestBuilder b = EtagManifest({"random_io", "pwrite,3,XY,3", "write,3,ab"}, "");
  b.add_channel(out);
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  const ChannelResult* ch = FindChannel(r, "/dev/out");
  ASSERT_NE(ch, nullptr);
  EXPECT_EQ(ch->output, std::string("ab\0XY", 5));
  EXPECT_EQ(ch->etag, Sha256Hex("XYab"));
}

TEST(EngineBadPointerTest, BadPointersAndHugeLengthsFailCleanly) {
  ManifestBuilder b = testing::StdManifest({"badptr"}, "hello");
  b.add_channel(ReadChannel("/dev/data", std::string(100, 'd')));
  ZC_ASSERT_RUN(r, RunGuest("badptr", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  std::string out = StdoutOf(r);
  // Only the report (written at exit) may reach stdout: every bad write moved nothing.
  EXPECT_THAT(Lines(out), ElementsAre("write_bad_ptr = -1 errno=14",        //
                                      "read_null = -1 errno=14",            //
                                      "readv_bad_iov = -1 errno=14",        //
                                      "read_huge_len = 5 errno=0",          // clipped to the data
                                      "write_huge_len = -1 errno=14",       //
                                      "write_kernel_ptr = -1 errno=14",     //
                                      "open_bad_path = -1 errno=14",        //
                                      "clock_gettime_bad = -1 errno=14",    //
                                      "uname_bad = -1 errno=14",            //
                                      "getrandom_bad = -1 errno=14",        //
                                      "nanosleep_bad = -1 errno=14",        //
                                      "writev_bad_iov = -1 errno=14",       //
                                      "writev_bad_base = -1 errno=14",      //
                                      "fstat_bad = -1 errno=14",            //
                                      "write_tail_unmapped = -1 errno=14",  //
                                      "read_tail_unmapped = -1 errno=14",   //
                                      "alive"));
  const ChannelResult* in = FindChannel(r, "/dev/stdin");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->read_bytes, 5);
  EXPECT_EQ(in->reads, 1);
}

}  // namespace
}  // namespace zerocell::sandbox
