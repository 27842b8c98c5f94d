// Unit tests of the CLI's flag parsing and value parsers.
#include "client/cli_values.h"

#include <string>
#include <vector>

#include "client/cli_args.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr FlagSpec kSpecs[] = {
    {"timeout", "S", false, "t"},
    {"env", "K=V", true, "e"},
    {"json", "", false, "j"},
};

TEST(ParseFlagsTest, StopsAtTheFirstNonFlagAndKeepsTheRestUntouched) {
  std::vector<std::string> args = {"--timeout=2", "--json", "prog", "--timeout=9", "--bogus", "-"};
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kSpecs);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->Get("timeout"), "2");
  EXPECT_TRUE(parsed->GetBool("json"));
  EXPECT_THAT(parsed->positional(), ElementsAre("prog", "--timeout=9", "--bogus", "-"));
}

TEST(ParseFlagsTest, DoubleDashAndSeparateValues) {
  std::vector<std::string> args = {"--timeout", "3", "--env=A=1", "--env", "B=2", "--", "--json"};
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kSpecs);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->Get("timeout"), "3");
  EXPECT_THAT(parsed->GetAll("env"), ElementsAre("A=1", "B=2"));
  EXPECT_FALSE(parsed->GetBool("json"));
  EXPECT_THAT(parsed->positional(), ElementsAre("--json"));
}

TEST(ParseFlagsTest, ErrorsNameTheFlag) {
  auto err = [](std::vector<std::string> args) {
    absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kSpecs);
    EXPECT_THAT(parsed, ::testing::Not(IsOk()));
    return std::string(parsed.status().message());
  };
  EXPECT_THAT(err({"--nope"}), HasSubstr("--nope"));
  EXPECT_THAT(err({"--timeout"}), HasSubstr("--timeout: missing value"));
  EXPECT_THAT(err({"--timeout=1", "--timeout=2"}), HasSubstr("--timeout: given more than once"));
  EXPECT_THAT(err({"--json=yes"}), HasSubstr("--json"));
}

TEST(ParseFlagsTest, SwitchValues) {
  std::vector<std::string> off = {"--json=false"};
  EXPECT_FALSE(ParseFlags(off, kSpecs)->GetBool("json"));
  std::vector<std::string> on = {"--json=1"};
  EXPECT_TRUE(ParseFlags(on, kSpecs)->GetBool("json"));
}

TEST(ParseByteSizeTest, SuffixesAndErrors) {
  EXPECT_EQ(*ParseByteSize("--m", "4096"), 4096);
  EXPECT_EQ(*ParseByteSize("--m", "64K"), 64 << 10);
  EXPECT_EQ(*ParseByteSize("--m", "64M"), 64 << 20);
  EXPECT_EQ(*ParseByteSize("--m", "64MiB"), 64 << 20);
  EXPECT_EQ(*ParseByteSize("--m", "1g"), int64_t{1} << 30);
  EXPECT_EQ(*ParseByteSize("--m", "2T"), int64_t{2} << 40);
  for (const char* bad :
       {"", "M", "-1", "1.5G", "12Q", "1GG", "99999999999999999999", "16777216T"}) {
    absl::StatusOr<int64_t> v = ParseByteSize("--memory", bad);
    EXPECT_THAT(v, ::testing::Not(IsOk())) << bad;
    EXPECT_THAT(v.status().message(), HasSubstr("--memory")) << bad;
  }
}

TEST(ParsePositiveDurationTest, SecondsAndUnits) {
  EXPECT_EQ(*ParsePositiveDuration("--t", "2"), absl::Seconds(2));
  EXPECT_EQ(*ParsePositiveDuration("--t", "1.5"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParsePositiveDuration("--t", "0.001"), absl::Milliseconds(1));
  EXPECT_EQ(*ParsePositiveDuration("--t", "500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParsePositiveDuration("--t", "2m"), absl::Minutes(2));
  for (const char* bad : {"", "0", "-1", "abc", "1.2.3", "0ms", "-5s", "inf", "1.0000000001"}) {
    absl::StatusOr<absl::Duration> d = ParsePositiveDuration("--timeout", bad);
    EXPECT_THAT(d, ::testing::Not(IsOk())) << bad;
    EXPECT_THAT(d.status().message(), HasSubstr("--timeout")) << bad;
  }
}

TEST(ParseUnixSecondsTest, IntegerAndFraction) {
  EXPECT_EQ(*ParseUnixSeconds("--clock", "1700000000"), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseUnixSeconds("--clock", "1.25"), absl::FromUnixMillis(1250));
  EXPECT_THAT(ParseUnixSeconds("--clock", "-1"), ::testing::Not(IsOk()));
  EXPECT_THAT(ParseUnixSeconds("--clock", "soon"), ::testing::Not(IsOk()));
}

TEST(ParseIntegerTest, DecimalHexAndRange) {
  EXPECT_EQ(*ParseInt64("--n", "-5"), -5);
  EXPECT_EQ(*ParseInt64("--n", "0x10"), 16);
  EXPECT_THAT(ParseInt64("--n", "+5"), ::testing::Not(IsOk()));
  EXPECT_THAT(ParseInt64("--n", "5x"), ::testing::Not(IsOk()));
  EXPECT_EQ(*ParseUint64("--seed", "18446744073709551615"), UINT64_MAX);
  EXPECT_THAT(ParseUint64("--seed", "-1"), ::testing::Not(IsOk()));
  EXPECT_THAT(ParseUint64("--seed", "18446744073709551616"), ::testing::Not(IsOk()));
}

TEST(ParseChannelFlagTest, InputOnlyIsReadableWithUnlimitedQuotas) {
  absl::StatusOr<ChannelFlag> c = ParseChannelFlag("/dev/in=/tmp/data");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->spec.alias, "/dev/in");
  EXPECT_EQ(c->input_path, "/tmp/data");
  EXPECT_TRUE(c->spec.readable());
  EXPECT_FALSE(c->spec.writable());
  EXPECT_EQ(c->spec.gets, kUnlimitedQuota);
  EXPECT_EQ(c->spec.type, sandbox::ChannelType::kSeqReadSeqWrite);
  EXPECT_FALSE(c->spec.etag);
}

TEST(ParseChannelFlagTest, OutputWithExplicitQuotasTypeAndEtag) {
  absl::StatusOr<ChannelFlag> c =
      ParseChannelFlag("/dev/out=,type=3,puts=5,put_size=1K,etag,out=/tmp/o");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->input_path.empty());
  EXPECT_EQ(c->output_path, "/tmp/o");
  EXPECT_FALSE(c->spec.readable());
  EXPECT_EQ(c->spec.puts, 5);
  EXPECT_EQ(c->spec.put_size, 1024);
  EXPECT_EQ(c->spec.type, sandbox::ChannelType::kRandReadRandWrite);
  EXPECT_TRUE(c->spec.etag);
}

TEST(ParseChannelFlagTest, QuotasWithoutFilesMakeTheDirection) {
  absl::StatusOr<ChannelFlag> c = ParseChannelFlag("/dev/x=,puts=2");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->spec.writable());
  EXPECT_EQ(c->spec.put_size, kUnlimitedQuota);
  EXPECT_TRUE(c->output_path.empty());
}

TEST(ParseChannelFlagTest, ErrorsNameTheChannel) {
  for (const char* bad : {"noalias", "=file", "/dev/x=", "/dev/x=f,type=4", "/dev/x=f,type=-1",
                          "/dev/x=f,gets=-1", "/dev/x=f,color=red", "/dev/x=f,gets",
                          "/dev/x=f,etag=2", "/dev/x=f,gets=0", "/dev/x=,out="}) {
    absl::StatusOr<ChannelFlag> c = ParseChannelFlag(bad);
    EXPECT_THAT(c, ::testing::Not(IsOk())) << bad;
    EXPECT_THAT(c.status().message(), HasSubstr("--channel")) << bad;
  }
}

}  // namespace
}  // namespace zerocell::client
