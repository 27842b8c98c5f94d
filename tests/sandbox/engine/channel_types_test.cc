// Integration tests for the four ZeroVM channel types: which calls honour offsets, lseek, append
// versus positioned writes, zero-filled gaps, and the per-channel counters.
#include <cstdint>
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
using testing::Lines;
using testing::ReadChannel;
using testing::RunGuest;
using testing::StdManifest;
using testing::StdoutOf;
using testing::WriteChannel;

constexpr char kData[] = "0123456789";

// A manifest running random_io with `ops` on "/dev/in" (fd 3, kData) and "/dev/out" (fd 4),
// both of `type`.
ManifestBuilder TypedManifest(ChannelType type, std::vector<std::string> ops) {
  ops.insert(ops.begin(), "random_io");
  ManifestBuilder b = StdManifest(std::move(ops));
  b.add_channel(ReadChannel("/dev/in", kData, type))
      .add_channel(WriteChannel("/dev/out", 100, type));
  return b;
}

TEST(EngineChannelTypesTest, Type0IgnoresOffsetsAndRefusesSeek) {
  ManifestBuilder b = TypedManifest(ChannelType::kSeqReadSeqWrite,
                                    {"lseek,3,2,set", "pread,3,3,7", "read,3,3", "pwrite,4,AB,100",
                                     "write,4,CD", "lseek,4,0,set", "lseek,0,0,cur"});
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("lseek,3,2,set = -1 errno=29",  // ESPIPE
                                              "pread,3,3,7 = 3 [012]",        // offset ignored
                                              "read,3,3 = 3 [345]",           //
                                              "pwrite,4,AB,100 = 2",          // appends
                                              "write,4,CD = 2",               //
                                              "lseek,4,0,set = -1 errno=29",  //
                                              "lseek,0,0,cur = -1 errno=29"));
  const ChannelResult* out = FindChannel(r, "/dev/out");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->output, "ABCD");
  EXPECT_EQ(out->writes, 2);
  EXPECT_EQ(out->write_bytes, 4);
  const ChannelResult* in = FindChannel(r, "/dev/in");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, 2);
  EXPECT_EQ(in->read_bytes, 6);
  EXPECT_EQ(in->output, "");
}

TEST(EngineChannelTypesTest, Type1ReadsAtOffsetsAndAppendsWrites) {
  ManifestBuilder b =
      TypedManifest(ChannelType::kRandReadSeqWrite,
                    {"pread,3,4,6", "read,3,3", "lseek,3,5,set", "read,3,2", "lseek,3,-2,end",
                     "read,3,5", "read,3,1", "pread,3,4,100", "pread,3,3,1", "lseek,3,-3,cur",
                     "read,3,1", "pwrite,4,AB,50", "write,4,CD"});
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)),
              ElementsAre("pread,3,4,6 = 4 [6789]",  //
                          "read,3,3 = 3 [012]",      // pread did not move the read position
                          "lseek,3,5,set = 5",       //
                          "read,3,2 = 2 [56]",       //
                          "lseek,3,-2,end = 8",      //
                          "read,3,5 = 2 [89]",       //
                          "read,3,1 = 0",            // EOF
                          "pread,3,4,100 = 0",       // beyond the end: EOF
                          "pread,3,3,1 = 3 [123]",   //
                          "lseek,3,-3,cur = 7",      //
                          "read,3,1 = 1 [7]",        //
                          "pwrite,4,AB,50 = 2",      // writes append: offset ignored
                          "write,4,CD = 2"));
  const ChannelResult* in = FindChannel(r, "/dev/in");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, 6);
  EXPECT_EQ(in->read_bytes, 15);
  const ChannelResult* out = FindChannel(r, "/dev/out");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->output, "ABCD");
}

TEST(EngineChannelTypesTest, Type2ReadsSequentiallyAndWritesAtOffsets) {
  ManifestBuilder b =
      TypedManifest(ChannelType::kSeqReadRandWrite,
                    {"pread,3,2,5", "read,3,2", "write,4,abc", "pwrite,4,Z,6", "pwrite,4,Q,1"});
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("pread,3,2,5 = 2 [01]",  // offset ignored
                                              "read,3,2 = 2 [23]",     //
                                              "write,4,abc = 3",       //
                                              "pwrite,4,Z,6 = 1",      //
                                              "pwrite,4,Q,1 = 1"));
  const ChannelResult* out = FindChannel(r, "/dev/out");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->output, std::string("aQc\0\0\0Z", 7));  // gap zero-filled, overwrite in place
  EXPECT_EQ(out->writes, 3);
  EXPECT_EQ(out->write_bytes, 5);
}

TEST(EngineChannelTypesTest, Type3IsFileLikeInBothDirections) {
  ManifestBuilder b = TypedManifest(ChannelType::kRandReadRandWrite,
                                    {"pread,3,3,4", "read,3,2", "lseek,3,8,set", "read,3,5",
                                     "write,4,ab", "pwrite,4,XY,3", "write,4,c", "pwrite,4,Z,9"});
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("pread,3,3,4 = 3 [456]",  //
                                              "read,3,2 = 2 [01]",      //
                                              "lseek,3,8,set = 8",      //
                                              "read,3,5 = 2 [89]",      //
                                              "write,4,ab = 2",         //
                                              "pwrite,4,XY,3 = 2",      //
                                              "write,4,c = 1",          // at the write position
                                              "pwrite,4,Z,9 = 1"));
  const ChannelResult* out = FindChannel(r, "/dev/out");
  ASSERT_NE(out, nullptr);
  // write() continues at the write position (2) that pwrite() left alone, as in POSIX.
  EXPECT_EQ(out->output, std::string("abcXY\0\0\0\0Z", 10));
  EXPECT_EQ(out->writes, 4);
  EXPECT_EQ(out->write_bytes, 6);
}

TEST(EngineChannelTypesTest, VectoredCallsMoveAllBuffersInOrder) {
  ManifestBuilder b = TypedManifest(ChannelType::kSeqReadSeqWrite,
                                    {"readv,3,3,4", "readv,3,2,10", "writev,4,hello,world"});
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("readv,3,3,4 = 7 [0123456]",  //
                                              "readv,3,2,10 = 3 [789]",     //
                                              "writev,4,hello,world = 10"));
  const ChannelResult* in = FindChannel(r, "/dev/in");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, 2);
  EXPECT_EQ(in->read_bytes, 10);
  const ChannelResult* out = FindChannel(r, "/dev/out");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->output, "helloworld");
  EXPECT_EQ(out->writes, 1);
}

TEST(EngineChannelTypesTest, LargeSequentialCopyIsExact) {
  std::string data;
  for (int64_t i = 0; i < 300000; ++i) data.push_back(static_cast<char>((i * 7919) % 251));
  ManifestBuilder b = StdManifest({"cat", "65536"}, data);
  ZC_ASSERT_RUN(r, RunGuest("cat", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(StdoutOf(r) == data)
      << "stdout differs from stdin (" << StdoutOf(r).size() << " vs " << data.size() << " bytes)";
  const ChannelResult* in = FindChannel(r, "/dev/stdin");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, 5);  // ceil(300000 / 65536); the EOF read is free
  EXPECT_EQ(in->read_bytes, 300000);
  const ChannelResult* out = FindChannel(r, "/dev/stdout");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->writes, 5);
  EXPECT_EQ(out->write_bytes, 300000);
  EXPECT_GE(r.usage.notified_syscalls, 11);  // 6 reads + 5 writes at least
}

}  // namespace
}  // namespace zerocell::sandbox
