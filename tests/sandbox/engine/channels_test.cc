// Integration tests for channel handles: std fds, pre-opened fds in alias byte order, open by
// alias, shared positions, dup family, close, and direction checks (EBADF / EACCES / ENOENT).
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
using ::testing::ElementsAreArray;
using testing::FindChannel;
using testing::Lines;
using testing::ReadChannel;
using testing::RunGuest;
using ::testing::StartsWith;
using testing::StdManifest;
using testing::StdoutOf;
using testing::WriteChannel;

// The argv of the random_io script guest for `ops`.
std::vector<std::string> Ops(std::vector<std::string> ops) {
  ops.insert(ops.begin(), "random_io");
  return ops;
}

TEST(EngineChannelsTest, PreopenedFdsFollowAliasByteOrder) {
  // Declared out of order; byte order is "/dev/B" < "/dev/a" < "/dev/c" < "/dev/d" (uppercase
  // sorts first, so a case-insensitive sort would fail this).
  ManifestBuilder b = StdManifest({"channels", "/dev/B", "/dev/a", "/dev/zz"});
  b.add_channel(ReadChannel("/dev/c", "CCC"))
      .add_channel(ReadChannel("/dev/B", "BBB"))
      .add_channel(WriteChannel("/dev/a", 100))
      .add_channel(ReadChannel("/dev/d", "DDD"));
  ZC_ASSERT_RUN(r, RunGuest("channels", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("fd 3 read=3 [BBB]",  //
                                              "fd 3 write=-1 errno=9",
                                              "fd 4 read=-1 errno=9",  //
                                              "fd 4 write=2 errno=0",
                                              "fd 5 read=3 [CCC]",  //
                                              "fd 5 write=-1 errno=9",
                                              "fd 6 read=3 [DDD]",  //
                                              "fd 6 write=-1 errno=9",
                                              "fd 7 fstat errno=9",  //
                                              "open /dev/B r=7",     // lowest free fd
                                              "open /dev/B w=-13",   // read-only: EACCES
                                              "open /dev/a r=-13",   // write-only: EACCES
                                              "open /dev/a w=7",     //
                                              "open /dev/zz r=-2",   // unknown alias: ENOENT
                                              "open /dev/zz w=-2",   //
                                              "open /etc/passwd=-2"));

  // Results come back in manifest order, with direction and final contents.
  std::vector<std::string> aliases;
  for (const ChannelResult& ch : r.channels) aliases.push_back(ch.alias);
  EXPECT_THAT(aliases, ElementsAre("/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/c", "/dev/B",
                                   "/dev/a", "/dev/d"));
  const ChannelResult* a = FindChannel(r, "/dev/a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->writable);
  EXPECT_EQ(a->output, "w4");
  EXPECT_EQ(a->writes, 1);
  EXPECT_EQ(a->write_bytes, 2);
  EXPECT_EQ(a->reads, 0);
  const ChannelResult* upper_b = FindChannel(r, "/dev/B");
  ASSERT_NE(upper_b, nullptr);
  EXPECT_FALSE(upper_b->writable);
  EXPECT_EQ(upper_b->output, "");
  EXPECT_EQ(upper_b->reads, 1);
  EXPECT_EQ(upper_b->read_bytes, 3);
  EXPECT_EQ(upper_b->writes, 0);  // the refused write did not count
  const ChannelResult* in = FindChannel(r, "/dev/stdin");
  ASSERT_NE(in, nullptr);
  EXPECT_FALSE(in->writable);
}

TEST(EngineChannelsTest, StandardChannelsAreFdsZeroToTwo) {
  ManifestBuilder b =
      StdManifest(Ops({"read,0,64", "write,1,OUT", "write,2,ERR", "read,0,64"}), "input!");
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  // The direct write comes first; the buffered report is flushed at exit.
  EXPECT_EQ(StdoutOf(r),
            "OUT"
            "read,0,64 = 6 [input!]\n"
            "write,1,OUT = 3\n"
            "write,2,ERR = 3\n"
            "read,0,64 = 0\n");
  EXPECT_EQ(testing::StderrOf(r), "ERR");
  const ChannelResult* in = FindChannel(r, "/dev/stdin");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, 1);
  EXPECT_EQ(in->read_bytes, 6);
}

TEST(EngineChannelsTest, AllHandlesOfAChannelShareItsPosition) {
  ManifestBuilder b = StdManifest(Ops({"read,3,2", "open,/dev/in,r", "read,4,2", "openat,/dev/in,r",
                                       "read,5,2", "dup,3", "read,6,2", "close,4", "open,/dev/in,r",
                                       "read,4,5", "read,3,5", "close,4", "read,4,1", "close,4"}));
  b.add_channel(ReadChannel("/dev/in", "abcdefghij"));
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("read,3,2 = 2 [ab]",      //
                                              "open,/dev/in,r = 4",     //
                                              "read,4,2 = 2 [cd]",      //
                                              "openat,/dev/in,r = 5",   //
                                              "read,5,2 = 2 [ef]",      //
                                              "dup,3 = 6",              //
                                              "read,6,2 = 2 [gh]",      //
                                              "close,4 = 0",            //
                                              "open,/dev/in,r = 4",     // lowest free again
                                              "read,4,5 = 2 [ij]",      //
                                              "read,3,5 = 0",           // EOF for every fd
                                              "close,4 = 0",            //
                                              "read,4,1 = -1 errno=9",  // closed: EBADF
                                              "close,4 = -1 errno=9"));
  const ChannelResult* in = FindChannel(r, "/dev/in");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, 5);  // the read at EOF is free
  EXPECT_EQ(in->read_bytes, 10);
}

TEST(EngineChannelsTest, DupFamilyIsEmulated) {
  ManifestBuilder b =
      StdManifest(Ops({"dup2,3,10", "read,10,2", "dup3,3,11", "read,11,2", "fcntl_dupfd,3,20",
                       "read,20,2", "fcntl_dupfd,3,0", "close,3", "read,10,2", "read,3,1",
                       "dup2,3,12", "dup2,10,10", "dup,99"}));
  b.add_channel(ReadChannel("/dev/in", "0123456789"));
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("dup2,3,10 = 10",          //
                                              "read,10,2 = 2 [01]",      //
                                              "dup3,3,11 = 11",          //
                                              "read,11,2 = 2 [23]",      //
                                              "fcntl_dupfd,3,20 = 20",   //
                                              "read,20,2 = 2 [45]",      //
                                              "fcntl_dupfd,3,0 = 4",     // lowest free >= 0
                                              "close,3 = 0",             //
                                              "read,10,2 = 2 [67]",      // the dup outlives fd 3
                                              "read,3,1 = -1 errno=9",   //
                                              "dup2,3,12 = -1 errno=9",  // closed source
                                              "dup2,10,10 = 10",         // same fd: a no-op
                                              "dup,99 = -1 errno=9"));
}

TEST(EngineChannelsTest, DirectionIsEnforced) {
  ChannelSpec rw = ReadChannel("/dev/rw", "xy");
  rw.puts = testing::kBigQuota;
  rw.put_size = 100;
  ManifestBuilder b =
      StdManifest(Ops({"read,1,1", "write,0,x", "write,3,x", "read,5,1", "open,/dev/in,rw",
                       "open,/dev/in,w", "open,/dev/out,rw", "open,/dev/out,r", "open,/dev/rw,rw",
                       "open,/dev/stdin,r", "open,/dev/stdout,w"}),
                  "stdin");
  b.add_channel(ReadChannel("/dev/in", "data"))    // fd 3
      .add_channel(WriteChannel("/dev/out", 100))  // fd 4
      .add_channel(rw);                            // fd 5 ("/dev/out" < "/dev/rw")
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("read,1,1 = -1 errno=9",           //
                                              "write,0,x = -1 errno=9",          //
                                              "write,3,x = -1 errno=9",          //
                                              "read,5,1 = 1 [x]",                //
                                              "open,/dev/in,rw = -1 errno=13",   //
                                              "open,/dev/in,w = -1 errno=13",    //
                                              "open,/dev/out,rw = -1 errno=13",  //
                                              "open,/dev/out,r = -1 errno=13",   //
                                              "open,/dev/rw,rw = 6",             //
                                              "open,/dev/stdin,r = 7",           //
                                              "open,/dev/stdout,w = 8"));
  for (const ChannelResult& ch : r.channels) {
    if (ch.alias == "/dev/rw" || ch.alias == "/dev/stdout") continue;
    EXPECT_EQ(ch.reads + ch.writes, 0) << ch.alias << ": refused calls must not count";
  }
}

TEST(EngineChannelsTest, StandardFdsCanBeClosedAndReopened) {
  // random_io flushes its report to fd 1 at exit, so fd 1 must be open again by then.
  ManifestBuilder b = StdManifest(Ops({"close,1", "write,1,lost", "open,/dev/stdout,w",
                                       "write,1,back", "close,0", "read,0,1", "dup,2", "close,0"}));
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_EQ(StdoutOf(r),
            "back"
            "close,1 = 0\n"
            "write,1,lost = -1 errno=9\n"
            "open,/dev/stdout,w = 1\n"  // the lowest free fd
            "write,1,back = 4\n"
            "close,0 = 0\n"
            "read,0,1 = -1 errno=9\n"
            "dup,2 = 0\n"
            "close,0 = 0\n");
}

TEST(EngineChannelsTest, UnknownPathsAreNotFound) {
  ManifestBuilder b = StdManifest(
      Ops({"open,/dev/nope,r", "openat,/etc/passwd,r", "open,dev/in,r", "open,/dev/in/,r",
           "open,/dev/IN,r", "open,/proc/self/mem,rw", "open,.,r", "openat,/dev/in,r"}));
  b.add_channel(ReadChannel("/dev/in", "data"));
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAre("open,/dev/nope,r = -1 errno=2",        //
                                              "openat,/etc/passwd,r = -1 errno=2",    //
                                              "open,dev/in,r = -1 errno=2",           //
                                              "open,/dev/in/,r = -1 errno=2",         //
                                              "open,/dev/IN,r = -1 errno=2",          //
                                              "open,/proc/self/mem,rw = -1 errno=2",  //
                                              // the guest's root: empty, read-only
                                              "open,.,r = 4",  //
                                              "openat,/dev/in,r = 5"));
}

TEST(EngineChannelsTest, ManyChannelsGetConsecutiveFds) {
  std::vector<std::string> ops;
  ManifestBuilder b = StdManifest({});
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    std::string alias =
        "/dev/ch" + std::string(1, static_cast<char>('A' + i / 10)) + std::to_string(i % 10);
    b.add_channel(ReadChannel(alias, alias));
    ops.push_back("read," + std::to_string(3 + i) + ",64");
    expected.push_back(ops.back() + " = " + std::to_string(alias.size()) + " [" + alias + "]");
  }
  b.set_argv(Ops(ops));
  ZC_ASSERT_RUN(r, RunGuest("random_io", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)), ElementsAreArray(expected));
}

}  // namespace
}  // namespace zerocell::sandbox
