// Integration tests for channel quotas: gets/get_size/puts/put_size cut transfers short, then
// fail with EDQUOT, keep the data moved so far, set the flags; end-of-data wins over quota.
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
using testing::Pattern;
using testing::RunGuest;
using testing::StderrOf;
using testing::StdManifest;

constexpr char kInput25[] = "0123456789ABCDEFGHIJKLMNO";
constexpr char kInput20[] = "0123456789ABCDEFGHIJ";

// A manifest whose stdin has `data` and the given read quotas; quota_probe runs with `args`.
ManifestBuilder ReadQuotaManifest(std::vector<std::string> args, std::string data, int64_t gets,
                                  int64_t get_size) {
  args.insert(args.begin(), "quota_probe");
  ManifestBuilder b;
  ChannelSpec in = StdinChannel(std::move(data));
  in.gets = gets;
  in.get_size = get_size;
  b.add_channel(in)
      .add_channel(StdoutChannel(testing::kStdOutputBytes))
      .add_channel(StderrChannel(testing::kStdOutputBytes))
      .set_argv(std::move(args))
      .set_timeout(testing::kTestTimeout);
  return b;
}

// A manifest with a writable "/dev/out" (fd 3) of the given write quotas.
ManifestBuilder WriteQuotaManifest(std::vector<std::string> args, int64_t puts, int64_t put_size) {
  args.insert(args.begin(), "quota_probe");
  ManifestBuilder b = StdManifest(std::move(args));
  ChannelSpec out = testing::WriteChannel("/dev/out", put_size);
  out.puts = puts;
  b.add_channel(out);
  return b;
}

struct Counters {
  int64_t calls;
  int64_t bytes;
  bool exceeded;
};

void ExpectReadCounters(const Result& r, Counters want) {
  const ChannelResult* in = FindChannel(r, "/dev/stdin");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->reads, want.calls);
  EXPECT_EQ(in->read_bytes, want.bytes);
  EXPECT_EQ(in->get_quota_exceeded, want.exceeded);
  EXPECT_FALSE(in->put_quota_exceeded);
}

void ExpectWriteCounters(const Result& r, Counters want) {
  const ChannelResult* out = FindChannel(r, "/dev/out");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->writes, want.calls);
  EXPECT_EQ(out->write_bytes, want.bytes);
  EXPECT_EQ(out->put_quota_exceeded, want.exceeded);
  EXPECT_FALSE(out->get_quota_exceeded);
  EXPECT_EQ(out->output, Pattern(want.bytes, 'A'));  // data moved before EDQUOT is kept
}

TEST(EngineQuotaTest, GetSizeCutsTheReadShortThenEdquot) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"read", "0", "10"}, kInput25,
                                                             testing::kBigQuota, 15)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0 [0123456789]", "5 0 [ABCDE]", "-1 122"));
  ExpectReadCounters(r, {2, 15, true});
}

TEST(EngineQuotaTest, GetsLimitsReadCalls) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"read", "0", "10"}, kInput25, 2,
                                                             testing::kBigQuota)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0 [0123456789]", "10 0 [ABCDEFGHIJ]", "-1 122"));
  ExpectReadCounters(r, {2, 20, true});
}

TEST(EngineQuotaTest, SpentGetSizeRefusesTheNextRead) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"read", "0", "10"}, kInput25,
                                                             testing::kBigQuota, 20)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0 [0123456789]", "10 0 [ABCDEFGHIJ]", "-1 122"));
  ExpectReadCounters(r, {2, 20, true});
}

TEST(EngineQuotaTest, EndOfDataWinsOverByteQuota) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"read", "0", "10"}, kInput20,
                                                             testing::kBigQuota, 20)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0 [0123456789]", "10 0 [ABCDEFGHIJ]", "0 0"));
  ExpectReadCounters(r, {2, 20, false});
}

TEST(EngineQuotaTest, EndOfDataWinsOverCallQuota) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"read", "0", "10"}, kInput20, 2,
                                                             testing::kBigQuota)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0 [0123456789]", "10 0 [ABCDEFGHIJ]", "0 0"));
  ExpectReadCounters(r, {2, 20, false});
}

TEST(EngineQuotaTest, EmptyInputReadsEofNotEdquot) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"read", "0", "10"}, "", 1, 1)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("0 0"));
  ExpectReadCounters(r, {0, 0, false});
}

TEST(EngineQuotaTest, ReadvIsOneCall) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"readv", "0", "5", "100", "5"},
                                                             kInput25, 1, testing::kBigQuota)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0 [0123456789]", "-1 122"));
  ExpectReadCounters(r, {1, 10, true});
}

TEST(EngineQuotaTest, ReadvIsCutShortByGetSize) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", ReadQuotaManifest({"readv", "0", "5", "100", "5"},
                                                             kInput25, testing::kBigQuota, 7)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("7 0 [0123456]", "-1 122"));
  ExpectReadCounters(r, {1, 7, true});
}

TEST(EngineQuotaTest, PutSizeCutsTheWriteShortThenEdquot) {
  ZC_ASSERT_RUN(
      r, RunGuest("quota_probe", WriteQuotaManifest({"write", "3", "10"}, testing::kBigQuota, 25)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0", "10 0", "5 0", "-1 122"));
  ExpectWriteCounters(r, {3, 25, true});
}

TEST(EngineQuotaTest, PutsLimitsWriteCalls) {
  ZC_ASSERT_RUN(
      r, RunGuest("quota_probe", WriteQuotaManifest({"write", "3", "10"}, 2, testing::kBigQuota)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0", "10 0", "-1 122"));
  ExpectWriteCounters(r, {2, 20, true});
}

TEST(EngineQuotaTest, WritevIsOneCall) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", WriteQuotaManifest({"writev", "3", "4", "100", "6"}, 1,
                                                              testing::kBigQuota)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0", "-1 122"));
  ExpectWriteCounters(r, {1, 10, true});
}

TEST(EngineQuotaTest, WithinQuotaNothingIsFlagged) {
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", WriteQuotaManifest({"write", "3", "10", "5"}, 5, 50)));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0", "10 0", "10 0", "10 0", "10 0"));
  ExpectWriteCounters(r, {5, 50, false});
}

TEST(EngineQuotaTest, StdoutQuotaAppliesToo) {
  ManifestBuilder b;
  b.add_channel(StdinChannel(""))
      .add_channel(StdoutChannel(15))
      .add_channel(StderrChannel(testing::kStdOutputBytes))
      .set_argv({"quota_probe", "write", "1", "10"})
      .set_timeout(testing::kTestTimeout);
  ZC_ASSERT_RUN(r, RunGuest("quota_probe", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << testing::Describe(r);
  EXPECT_THAT(Lines(StderrOf(r)), ElementsAre("10 0", "5 0", "-1 122"));
  const ChannelResult* out = FindChannel(r, "/dev/stdout");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->output, Pattern(15, 'A'));
  EXPECT_TRUE(out->put_quota_exceeded);
  EXPECT_EQ(out->writes, 2);
  EXPECT_EQ(out->write_bytes, 15);
}

}  // namespace
}  // namespace zerocell::sandbox
