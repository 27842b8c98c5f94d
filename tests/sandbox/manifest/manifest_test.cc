// Tests for ManifestBuilder validation, defaults, clamping, handle order and channel helpers.
#include "sandbox/manifest/manifest.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ChannelSpec Chan(std::string alias, int64_t gets, int64_t get_size, int64_t puts,
                 int64_t put_size) {
  ChannelSpec ch;
  ch.alias = std::move(alias);
  ch.gets = gets;
  ch.get_size = get_size;
  ch.puts = puts;
  ch.put_size = put_size;
  return ch;
}

// A builder with the three mandatory channels.
ManifestBuilder StdBuilder() {
  ManifestBuilder b;
  b.add_channel(StdinChannel("in")).add_channel(StdoutChannel(100)).add_channel(StderrChannel(100));
  return b;
}

void ExpectInvalid(const ManifestBuilder& b, const std::string& substr) {
  absl::StatusOr<Manifest> m = b.Build();
  ASSERT_THAT(m, ::testing::Not(IsOk())) << "expected error containing: " << substr;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(substr));
}

TEST(ManifestBuilderTest, DefaultsBuild) {
  absl::StatusOr<Manifest> m = StdBuilder().Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout(), ManifestBuilder::kDefaultTimeout);
  EXPECT_EQ(m->cpu_limit(), ManifestBuilder::kDefaultTimeout);
  EXPECT_EQ(m->memory_bytes(), ManifestBuilder::kDefaultMemoryBytes);
  EXPECT_EQ(m->output_limit_bytes(), ManifestBuilder::kDefaultOutputLimitBytes);
  EXPECT_EQ(m->max_processes(), 1);
  EXPECT_THAT(m->argv(), ElementsAre("program"));
  EXPECT_TRUE(m->env().empty());
  EXPECT_EQ(m->clock_start(), absl::UnixEpoch());
  EXPECT_EQ(m->random_seed(), 0u);
  ASSERT_EQ(m->channels().size(), 3u);
  EXPECT_EQ(m->channels()[0].initial_bytes, "in");
  EXPECT_THAT(m->handle_order(), ElementsAre(0, 1, 2));
}

TEST(ManifestBuilderTest, SettersAreKept) {
  ManifestBuilder b = StdBuilder();
  b.set_timeout(absl::Seconds(3))
      .set_cpu_limit(absl::Seconds(2))
      .set_memory_bytes(int64_t{32} << 20)
      .set_output_limit_bytes(1000)
      .set_argv({"prog", "a", ""})
      .set_env({"A=1", "B=", "C==x"})
      .set_clock_start(absl::FromUnixSeconds(1700000000))
      .set_random_seed(42);
  absl::StatusOr<Manifest> m = b.Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout(), absl::Seconds(3));
  EXPECT_EQ(m->cpu_limit(), absl::Seconds(2));
  EXPECT_EQ(m->memory_bytes(), int64_t{32} << 20);
  EXPECT_EQ(m->output_limit_bytes(), 1000);
  EXPECT_THAT(m->argv(), ElementsAre("prog", "a", ""));
  EXPECT_THAT(m->env(), ElementsAre("A=1", "B=", "C==x"));
  EXPECT_EQ(m->clock_start(), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(m->random_seed(), 42u);
}

TEST(ManifestBuilderTest, Timeout) {
  ExpectInvalid(StdBuilder().set_timeout(absl::Seconds(-1)),
                "timeout: must be > 0 and <= 2147483647s, got -1s");
  ExpectInvalid(StdBuilder().set_timeout(absl::ZeroDuration()), "timeout: must be > 0");
  // ZeroVM's bound: 2^31 - 1 seconds (a server caps far lower with --max_timeout_ms).
  ExpectInvalid(StdBuilder().set_timeout(absl::Seconds(2147483647) + absl::Nanoseconds(1)),
                "timeout: must be > 0 and <= 2147483647s");
  ExpectInvalid(StdBuilder().set_timeout(absl::InfiniteDuration()), "timeout:");
  EXPECT_THAT(StdBuilder().set_timeout(absl::Hours(25)).Build(), IsOk());
  EXPECT_THAT(StdBuilder().set_timeout(absl::Seconds(2147483647)).Build(), IsOk());
  EXPECT_THAT(StdBuilder().set_timeout(absl::Nanoseconds(1)).Build(), IsOk());
}

TEST(ManifestBuilderTest, CpuLimit) {
  auto m = StdBuilder().set_timeout(absl::Seconds(5)).set_cpu_limit(absl::ZeroDuration()).Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->cpu_limit(), absl::Seconds(5));  // zero means "same as timeout"

  m = StdBuilder().set_timeout(absl::Seconds(5)).set_cpu_limit(absl::Seconds(9)).Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->cpu_limit(), absl::Seconds(5));  // clamped

  m = StdBuilder().set_timeout(absl::Seconds(5)).set_cpu_limit(absl::Milliseconds(100)).Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->cpu_limit(), absl::Milliseconds(100));

  ExpectInvalid(StdBuilder().set_cpu_limit(absl::Seconds(-1)), "cpu_limit: must be >= 0");
}

TEST(ManifestBuilderTest, MemoryBytes) {
  ExpectInvalid(StdBuilder().set_memory_bytes(0), "memory_bytes: must be in [1048576, ");
  ExpectInvalid(StdBuilder().set_memory_bytes(-5), "got -5");
  ExpectInvalid(StdBuilder().set_memory_bytes((int64_t{1} << 20) - 1), "memory_bytes:");
  ExpectInvalid(StdBuilder().set_memory_bytes((int64_t{64} << 30) + 1), "memory_bytes:");
  EXPECT_THAT(StdBuilder().set_memory_bytes(int64_t{1} << 20).Build(), IsOk());
  EXPECT_THAT(StdBuilder().set_memory_bytes(int64_t{64} << 30).Build(), IsOk());
}

TEST(ManifestBuilderTest, MaxProcesses) {
  ExpectInvalid(StdBuilder().set_max_processes(0), "max_processes: must be in [1, 256], got 0");
  ExpectInvalid(StdBuilder().set_max_processes(257), "max_processes:");
  absl::StatusOr<Manifest> m = StdBuilder().set_max_processes(256).Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->max_processes(), 256);
}

TEST(ManifestBuilderTest, OutputLimitBytes) {
  ExpectInvalid(StdBuilder().set_output_limit_bytes(0), "output_limit_bytes: must be > 0");
  ExpectInvalid(StdBuilder().set_output_limit_bytes(-1), "output_limit_bytes:");
  ExpectInvalid(StdBuilder().set_output_limit_bytes((int64_t{4} << 30) + 1), "output_limit_bytes:");
  EXPECT_THAT(StdBuilder().set_output_limit_bytes(int64_t{4} << 30).Build(), IsOk());
  EXPECT_THAT(StdBuilder().set_output_limit_bytes(1).Build(), IsOk());
}

TEST(ManifestBuilderTest, Argv) {
  ExpectInvalid(StdBuilder().set_argv({}), "argv: must not be empty");
  ExpectInvalid(StdBuilder().set_argv({"a", std::string("b\0c", 3)}), "argv[1]: contains a NUL");
  ExpectInvalid(StdBuilder().set_argv(std::vector<std::string>(ManifestLimits::kMaxArgs + 1, "")),
                "argv: 4097 entries exceed 4096");
  EXPECT_THAT(StdBuilder().set_argv(std::vector<std::string>(ManifestLimits::kMaxArgs, "")).Build(),
              IsOk());
}

TEST(ManifestBuilderTest, ArgvEnvTotalBytes) {
  // Each string counts with its terminating NUL: 2 * (524287 + 1) = 1 MiB exactly is fine.
  const std::string half(524287, 'a');
  EXPECT_THAT(StdBuilder().set_argv({half}).set_env({"K=" + half.substr(2)}).Build(), IsOk());
  ExpectInvalid(StdBuilder().set_argv({half}).set_env({"K=" + half.substr(1)}),
                "argv: total argv+env bytes 1048577 exceed 1048576");
  ExpectInvalid(StdBuilder().set_argv({std::string(2000000, 'x')}),
                "argv: total argv+env bytes 2000001 exceed 1048576");
}

TEST(ManifestBuilderTest, Env) {
  ExpectInvalid(StdBuilder().set_env({"A=1", "B=2", "FOO"}), "env[2]: \"FOO\" is not KEY=VALUE");
  ExpectInvalid(StdBuilder().set_env({"=x"}), "env[0]: \"=x\" is not KEY=VALUE");
  ExpectInvalid(StdBuilder().set_env({std::string("A=\0", 3)}), "env[0]: contains a NUL");
  ExpectInvalid(StdBuilder().set_env(std::vector<std::string>(ManifestLimits::kMaxArgs + 1, "A=")),
                "env: 4097 entries exceed 4096");
}

TEST(ManifestBuilderTest, AliasRules) {
  ExpectInvalid(StdBuilder().add_channel(Chan("", 1, 1, 0, 0)),
                "channels[3].alias: must not be empty");
  ExpectInvalid(StdBuilder().add_channel(Chan("/" + std::string(255, 'a'), 1, 1, 0, 0)),
                "channels[3].alias: 256 bytes exceed 255");
  EXPECT_THAT(StdBuilder().add_channel(Chan("/" + std::string(254, 'a'), 1, 1, 0, 0)).Build(),
              IsOk());
  ExpectInvalid(StdBuilder().add_channel(Chan(std::string("/dev/a\0b", 8), 1, 1, 0, 0)),
                "channels[3].alias: contains a NUL byte");
}

TEST(ManifestBuilderTest, DuplicateAlias) {
  ManifestBuilder b = StdBuilder();
  b.add_channel(Chan("/dev/x", 1, 1, 0, 0)).add_channel(Chan("/dev/x", 0, 0, 1, 1));
  ExpectInvalid(b, "channels[4].alias: duplicate alias \"/dev/x\" (also channels[3])");
  ExpectInvalid(StdBuilder().add_channel(StdoutChannel(5)),
                "channels[3].alias: duplicate alias \"/dev/stdout\" (also channels[1])");
}

TEST(ManifestBuilderTest, ChannelType) {
  ChannelSpec ch = Chan("/dev/t", 1, 1, 0, 0);
  ch.type = static_cast<ChannelType>(4);
  ExpectInvalid(StdBuilder().add_channel(ch), "channels[3].type: 4 is not 0..3");
  ch.type = static_cast<ChannelType>(-1);
  ExpectInvalid(StdBuilder().add_channel(ch), "channels[3].type: -1 is not 0..3");
  for (int t = 0; t <= 3; ++t) {
    ch.type = static_cast<ChannelType>(t);
    EXPECT_THAT(StdBuilder().add_channel(ch).Build(), IsOk()) << t;
  }
}

TEST(ManifestBuilderTest, NegativeLimits) {
  ExpectInvalid(StdBuilder().add_channel(Chan("/dev/n", -5, 1, 1, 1)),
                "channels[3].gets: negative limit -5");
  ExpectInvalid(StdBuilder().add_channel(Chan("/dev/n", 1, -1, 1, 1)),
                "channels[3].get_size: negative limit -1");
  ExpectInvalid(StdBuilder().add_channel(Chan("/dev/n", 1, 1, -2, 1)),
                "channels[3].puts: negative limit -2");
  ExpectInvalid(StdBuilder().add_channel(Chan("/dev/n", 1, 1, 1, INT64_MIN)),
                "channels[3].put_size: negative limit");
}

TEST(ManifestBuilderTest, NilChannel) {
  ManifestBuilder b;
  b.add_channel(StdinChannel(""))
      .add_channel(StdoutChannel(1))
      .add_channel(Chan("/dev/z", 0, 0, 0, 0));
  ExpectInvalid(b, "channels[2]: nil channel: all four limits are 0");
  // One non-zero limit is enough: a channel that is neither readable nor writable but not nil.
  EXPECT_THAT(StdBuilder().add_channel(Chan("/dev/z", 1, 0, 0, 0)).Build(), IsOk());
}

TEST(ManifestBuilderTest, MissingStandardChannels) {
  ExpectInvalid(ManifestBuilder(), "channels: missing standard channel /dev/stdin");
  ExpectInvalid(ManifestBuilder().add_channel(StdinChannel("")).add_channel(StderrChannel(1)),
                "channels: missing standard channel /dev/stdout");
  ExpectInvalid(ManifestBuilder().add_channel(StdinChannel("")).add_channel(StdoutChannel(1)),
                "channels: missing standard channel /dev/stderr");
}

TEST(ManifestBuilderTest, TooManyChannels) {
  ManifestBuilder b = StdBuilder();
  for (size_t i = 3; i <= ManifestLimits::kMaxChannels; ++i) {
    b.add_channel(Chan("/dev/c" + std::to_string(i), 1, 1, 0, 0));
  }
  ExpectInvalid(b, "channels: 1025 channels exceed 1024");
}

TEST(ManifestBuilderTest, HandleOrder) {
  ManifestBuilder b;
  b.add_channel(Chan("/dev/zeta", 1, 1, 0, 0))         // 0
      .add_channel(StderrChannel(10))                  // 1
      .add_channel(Chan("/dev/a0", 1, 1, 0, 0))        // 2
      .add_channel(StdoutChannel(10))                  // 3
      .add_channel(Chan("/dev/a", 1, 1, 0, 0))         // 4
      .add_channel(Chan("/dev/B", 1, 1, 0, 0))         // 5: 'B' < 'a' in byte order
      .add_channel(Chan("/dev/\xc3\xa9", 1, 1, 0, 0))  // 6: high bytes sort last
      .add_channel(StdinChannel("x"))                  // 7
      .add_channel(Chan("/data", 1, 1, 0, 0));         // 8
  absl::StatusOr<Manifest> m = b.Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_THAT(m->handle_order(), ElementsAre(7, 3, 1, 8, 5, 4, 2, 0, 6));
  // channels() keeps the insertion order.
  EXPECT_EQ(m->channels()[0].alias, "/dev/zeta");
  EXPECT_EQ(m->channels()[7].initial_bytes, "x");
}

TEST(ChannelHelpersTest, Stdin) {
  ChannelSpec ch = StdinChannel("hello");
  EXPECT_EQ(ch.alias, "/dev/stdin");
  EXPECT_EQ(ch.type, ChannelType::kSeqReadSeqWrite);
  EXPECT_FALSE(ch.etag);
  EXPECT_EQ(ch.gets, int64_t{1} << 50);
  EXPECT_EQ(ch.get_size, int64_t{1} << 50);
  EXPECT_EQ(ch.puts, 0);
  EXPECT_EQ(ch.put_size, 0);
  EXPECT_EQ(ch.initial_bytes, "hello");
  EXPECT_TRUE(ch.readable());
  EXPECT_FALSE(ch.writable());
}

TEST(ChannelHelpersTest, StdoutStderr) {
  for (const auto& [ch, alias] :
       {std::pair{StdoutChannel(77), "/dev/stdout"}, std::pair{StderrChannel(77), "/dev/stderr"}}) {
    EXPECT_EQ(ch.alias, alias);
    EXPECT_EQ(ch.type, ChannelType::kSeqReadSeqWrite);
    EXPECT_EQ(ch.gets, 0);
    EXPECT_EQ(ch.get_size, 0);
    EXPECT_EQ(ch.puts, int64_t{1} << 50);
    EXPECT_EQ(ch.put_size, 77);
    EXPECT_TRUE(ch.initial_bytes.empty());
    EXPECT_FALSE(ch.readable());
    EXPECT_TRUE(ch.writable());
  }
}

}  // namespace
}  // namespace zerocell::sandbox

namespace zerocell::sandbox {
namespace {

ManifestBuilder WithStd() {
  ManifestBuilder b;
  b.add_channel(StdinChannel("")).add_channel(StdoutChannel(10)).add_channel(StderrChannel(10));
  return b;
}

TEST(ManifestMountsTest, MountsAndTheDefaultScratch) {
  ASSERT_OK_AND_ASSIGN(Manifest none, WithStd().Build());
  EXPECT_TRUE(none.mounts().empty());
  EXPECT_FALSE(none.scratch().has_value());  // no tree: no file system to hold /tmp
  ASSERT_OK_AND_ASSIGN(
      Manifest m,
      WithStd().add_mount({"/", "sha256:aa"}).add_mount({"/opt/data", "sha256:bb"}).Build());
  ASSERT_EQ(m.mounts().size(), 2u);
  EXPECT_EQ(m.mounts()[1].mountpoint, "/opt/data");
  EXPECT_EQ(m.mounts()[1].tree, "sha256:bb");
  ASSERT_TRUE(m.scratch().has_value());
  EXPECT_EQ(m.scratch()->path, "/tmp");
  EXPECT_EQ(m.scratch()->max_bytes, ManifestBuilder::kDefaultScratchBytes);
  EXPECT_EQ(m.scratch()->max_files, ManifestBuilder::kDefaultScratchFiles);
  ASSERT_OK_AND_ASSIGN(Manifest s,
                       WithStd().add_mount({"/", "t"}).set_scratch({"/work", 100, 3}).Build());
  EXPECT_EQ(s.scratch()->path, "/work");
  EXPECT_EQ(s.scratch()->max_files, 3);
}

TEST(ManifestMountsTest, ErrorsNameTheField) {
  auto error = [](ManifestBuilder b) { return std::string(b.Build().status().message()); };
  EXPECT_THAT(error(WithStd().add_mount({"opt", "t"})), HasSubstr("mounts[0].mountpoint"));
  EXPECT_THAT(error(WithStd().add_mount({"/", "t"}).add_mount({"/a/../b", "t"})),
              HasSubstr("mounts[1].mountpoint"));
  EXPECT_THAT(error(WithStd().add_mount({"/a/", "t"})), HasSubstr("mounts[0].mountpoint"));
  EXPECT_THAT(error(WithStd().add_mount({"/", ""})), HasSubstr("mounts[0].tree"));
  EXPECT_THAT(error(WithStd().add_mount({"/", "t"}).add_mount({"/", "u"})),
              HasSubstr("mounts[1].mountpoint: \"/\" is already mounts[0]"));
  EXPECT_THAT(error(WithStd().add_mount({"/", "t"}).set_scratch({"/", 1, 1})),
              HasSubstr("scratch.path"));
  EXPECT_THAT(error(WithStd().set_scratch({"tmp", 1, 1})), HasSubstr("scratch.path"));
  EXPECT_THAT(error(WithStd().add_mount({"/x", "t"}).set_scratch({"/x", 1, 1})),
              HasSubstr("scratch.path: \"/x\" is mounts[0]"));
  EXPECT_THAT(error(WithStd().set_scratch({"/tmp", 0, 1})), HasSubstr("scratch.max_bytes"));
  EXPECT_THAT(error(WithStd().set_scratch({"/tmp", 1, -1})), HasSubstr("scratch.max_files"));
  ManifestBuilder many = WithStd();
  for (int i = 0; i <= 16; ++i) many.add_mount({"/m" + std::to_string(i), "t"});
  EXPECT_THAT(error(many), HasSubstr("mounts: 17 entries exceed 16"));
}

}  // namespace
}  // namespace zerocell::sandbox
