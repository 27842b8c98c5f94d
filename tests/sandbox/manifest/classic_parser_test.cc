// Tests for the classic ZeroVM manifest parser: syntax quirks, every error, and ToManifest.
#include "sandbox/manifest/classic_parser.h"

#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Lines 1..7: header keys and the three standard channels.
constexpr char kBase[] =
    "Version = 20130611\n"                                       // 1
    "Program = /bin/prog\n"                                      // 2
    "Timeout = 5\n"                                              // 3
    "Memory = 33554432, 0\n"                                     // 4
    "Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 1000, 0, 0\n"  // 5
    "Channel = /tmp/out, /dev/stdout, 0, 1, 0, 0, 10, 4096\n"    // 6
    "Channel = /tmp/err, /dev/stderr, 0, 0, 0, 0, 10, 4096\n";   // 7

// kBase plus `extra` starting at line 8.
std::string With(absl::string_view extra) { return absl::StrCat(kBase, extra); }

// Expects INVALID_ARGUMENT whose message starts with `prefix` and contains each of `parts`.
void ExpectError(const std::string& text, const std::string& prefix,
                 std::vector<std::string> parts = {}) {
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, ::testing::Not(IsOk())) << "expected error starting with: " << prefix;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
  EXPECT_THAT(std::string(m.status().message()), StartsWith(prefix));
  for (const std::string& p : parts) EXPECT_THAT(std::string(m.status().message()), HasSubstr(p));
}

TEST(ClassicParserTest, ValidFullManifest) {
  const std::string text = With(
      "# a comment = with an equals sign\n"
      "\n"
      "Node = 1\n"
      "Job = /tmp/job.sock\n"
      "Etag = something\n"
      "NameServer = udp:127.0.0.1:54321\n"
      "SomeFutureKey = whatever\n"
      "Channel = /data/in.bin, /dev/input, 1, 1, 0x10, 0777, 0, 0\n"
      "Channel = /data/rw, /dev/rw, 3, 0, 5, 50, 6, 60\n");
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->version, "20130611");
  EXPECT_EQ(m->program, "/bin/prog");
  EXPECT_EQ(m->timeout, absl::Seconds(5));
  EXPECT_EQ(m->timeout_line, 3);
  EXPECT_EQ(m->memory_bytes, 33554432);
  EXPECT_EQ(m->memory_line, 4);
  EXPECT_FALSE(m->memory_etag);
  ASSERT_EQ(m->channels.size(), 5u);
  const ClassicChannel& out = m->channels[1];
  EXPECT_EQ(out.uri, "/tmp/out");
  EXPECT_EQ(out.spec.alias, "/dev/stdout");
  EXPECT_TRUE(out.spec.etag);
  EXPECT_EQ(out.spec.puts, 10);
  EXPECT_EQ(out.spec.put_size, 4096);
  EXPECT_EQ(out.line, 6);
  const ClassicChannel& in = m->channels[3];
  EXPECT_EQ(in.uri, "/data/in.bin");
  EXPECT_EQ(in.spec.alias, "/dev/input");
  EXPECT_EQ(in.spec.type, ChannelType::kRandReadSeqWrite);
  EXPECT_TRUE(in.spec.etag);
  EXPECT_EQ(in.spec.gets, 16);       // 0x10
  EXPECT_EQ(in.spec.get_size, 511);  // 0777 octal
  EXPECT_EQ(in.spec.puts, 0);
  EXPECT_EQ(in.spec.put_size, 0);
  EXPECT_EQ(in.line, 15);
  const ClassicChannel& rw = m->channels[4];
  EXPECT_EQ(rw.spec.type, ChannelType::kRandReadRandWrite);
  EXPECT_EQ(rw.spec.gets, 5);
  EXPECT_EQ(rw.spec.get_size, 50);
  EXPECT_EQ(rw.spec.puts, 6);
  EXPECT_EQ(rw.spec.put_size, 60);
}

TEST(ClassicParserTest, DevelVersionAndMemoryEtag) {
  std::string text = absl::StrReplaceAll(
      kBase, {{"20130611", "20140509"}, {"Memory = 33554432, 0", "Memory=0x2000000,1"}});
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->version, "20140509");
  EXPECT_EQ(m->memory_bytes, 0x2000000);
  EXPECT_TRUE(m->memory_etag);
}

TEST(ClassicParserTest, BannerAndMultiEqualsLinesAreIgnored) {
  const std::string text = absl::StrCat(
      "==========================\n"
      "=== test manifest ===\n"
      "Timeout = 1 = 2\n"  // two '=': ignored, so the real Timeout below is no duplicate
      "no equals sign here\n",
      kBase);
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout, absl::Seconds(5));
  EXPECT_EQ(m->timeout_line, 7);
}

TEST(ClassicParserTest, CrlfAndWhitespace) {
  std::string text = absl::StrReplaceAll(kBase, {{"\n", "\r\n"}});
  text = absl::StrReplaceAll(text, {{"Timeout = 5", "  \tTimeout\t=   5  "}});
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout, absl::Seconds(5));
  EXPECT_EQ(m->channels[2].spec.put_size, 4096);
  EXPECT_EQ(m->channels[2].spec.alias, "/dev/stderr");
  // No trailing newline at all is fine too.
  std::string no_nl(kBase);
  no_nl.pop_back();
  EXPECT_THAT(ParseClassicManifest(no_nl), IsOk());
}

TEST(ClassicParserTest, Base0Integers) {
  struct Case {
    std::string text;
    int64_t want;
  };
  const Case cases[] = {{"42", 42}, {"0x2A", 42}, {"0X2a", 42}, {"052", 42},
                        {"0", 0},   {"+42", 42},  {"00", 0},    {"9223372036854775807", INT64_MAX}};
  for (const Case& c : cases) {
    const std::string text =
        With(absl::StrCat("Channel = /x, /dev/x, 0, 0, 1, ", c.text, ", 1, 1\n"));
    absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
    ASSERT_THAT(m, IsOk()) << c.text;
    EXPECT_EQ(m->channels[3].spec.get_size, c.want) << c.text;
  }
  // An empty field is 0, as ZeroVM's ToInt (strtoll converts nothing and stops at the end).
  absl::StatusOr<ClassicManifest> empty =
      ParseClassicManifest(With("Channel = /x, /dev/x, 0, 0, 1, 1, , 1\n"));
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->channels[3].spec.puts, 0);
  const std::string bad[] = {"4G", "08", "0x", "1.5", "12abc", "0x1g", "1 2", "--1"};
  for (const std::string& b : bad) {
    ExpectError(With(absl::StrCat("Channel = /x, /dev/x, 0, 0, 1, ", b, ", 1, 1\n")),
                "line 8: Channel field 6 (get_size): ", {"is not an integer"});
  }
  ExpectError(With("Channel = /x, /dev/x, 0, 0, 1, 9223372036854775808, 1, 1\n"),
              "line 8: Channel field 6 (get_size): \"9223372036854775808\" is out of the int64");
  ExpectError(With("Channel = /x, /dev/x, 0, 0, 1, 0xffffffffffffffffff, 1, 1\n"),
              "line 8: Channel field 6 (get_size): ", {"out of the int64 range"});
}

TEST(ClassicParserTest, SizeCaps) {
  ExpectError(std::string(kClassicMaxBytes + 1, '#'), "manifest: 524289 bytes exceed");
  std::string many(kBase);
  for (int i = 7; i < 8193; ++i) many += "#\n";
  ExpectError(many, "manifest: ", {"lines exceed the 8192-line limit"});
  // Exactly 8192 lines (with a trailing newline) is accepted.
  std::string exact(kBase);
  for (int i = 7; i < 8192; ++i) exact += "#\n";
  EXPECT_THAT(ParseClassicManifest(exact), IsOk());
}

TEST(ClassicParserTest, VersionErrors) {
  ExpectError(absl::StrReplaceAll(kBase, {{"20130611", "20120611"}}),
              "line 1: Version: \"20120611\" is not 20130611 or 20140509");
  ExpectError(With("Version = 20130611\n"), "line 8: duplicate Version (first on line 1)");
}

TEST(ClassicParserTest, RelativeProgramIsKeptForTheWorkingDirectory) {
  absl::StatusOr<ClassicManifest> m =
      ParseClassicManifest(absl::StrReplaceAll(kBase, {{"/bin/prog", "dummy.nexe"}}));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->program, "dummy.nexe");
  EXPECT_EQ(m->program_line, 2);
}

TEST(ClassicParserTest, ProgramErrors) {
  ExpectError(absl::StrReplaceAll(kBase, {{"Program = /bin/prog", "Program ="}}),
              "line 2: Program: must not be empty");
  ExpectError(With("Program = /bin/other\n"), "line 8: duplicate Program (first on line 2)");
  ExpectError(absl::StrReplaceAll(kBase, {{"/bin/prog", std::string("/bin/p\0g", 8)}}),
              "line 2: Program: ", {"contains a NUL byte"});
}

TEST(ClassicParserTest, TimeoutErrors) {
  ExpectError(absl::StrReplaceAll(kBase, {{"Timeout = 5", "Timeout = 0"}}),
              "line 3: Timeout: \"0\" is not >= 1");
  ExpectError(absl::StrReplaceAll(kBase, {{"Timeout = 5", "Timeout = -3"}}),
              "line 3: Timeout: \"-3\" is not >= 1");
  ExpectError(absl::StrReplaceAll(kBase, {{"Timeout = 5", "Timeout = 5s"}}),
              "line 3: Timeout: \"5s\" is not an integer");
  ExpectError(absl::StrReplaceAll(kBase, {{"Timeout = 5", "Timeout = 99999999999999999999"}}),
              "line 3: Timeout: ", {"out of the int64 range"});
  ExpectError(absl::StrReplaceAll(kBase, {{"Timeout = 5", "Timeout = 2147483648"}}),
              "line 3: Timeout: \"2147483648\" is above 2147483647", {"32 bits"});
  ExpectError(With("Timeout = 5\n"), "line 8: duplicate Timeout (first on line 3)");
}

TEST(ClassicParserTest, MemoryErrors) {
  auto mem = [](absl::string_view v) {
    return absl::StrReplaceAll(kBase, {{"Memory = 33554432, 0", absl::StrCat("Memory = ", v)}});
  };
  ExpectError(mem("abc, 0"), "line 4: Memory field 1 (bytes): \"abc\" is not an integer");
  ExpectError(mem("0, 0"), "line 4: Memory field 1 (bytes): \"0\" is not > 0");
  ExpectError(mem("-1, 0"), "line 4: Memory field 1 (bytes): \"-1\" is not > 0");
  ExpectError(mem("4G, 0"), "line 4: Memory field 1 (bytes): \"4G\" is not an integer");
  ExpectError(mem("33554432, 2"), "line 4: Memory field 2 (etag): \"2\" is not 0 or 1");
  ExpectError(mem("33554432, x"), "line 4: Memory field 2 (etag): \"x\" is not an integer");
  ExpectError(mem("4294967297, 0"), "line 4: Memory field 1 (bytes): 4294967297 is above ZeroVM's",
              {"4 GiB"});
  ExpectError(mem("4096, 0"), "line 4: Memory field 1 (bytes): 4096 is below 1048576");
  ExpectError(mem("1000"),
              "line 4: Memory: expected 2 comma-separated fields (bytes, etag), got 1");
  ExpectError(mem("1000, 0, 1"), "line 4: Memory: expected 2 comma-separated fields", {"got 3"});
  ExpectError(With("Memory = 1000, 0\n"), "line 8: duplicate Memory (first on line 4)");
}

TEST(ClassicParserTest, ChannelFieldCount) {
  ExpectError(With("Channel = /a, /dev/a, 0, 0, 1, 1, 1\n"),
              "line 8: Channel: expected 8 comma-separated fields, got 7");
  ExpectError(With("Channel = /a, /dev/a, 0, 0, 1, 1, 1, 1, 1\n"),
              "line 8: Channel: expected 8 comma-separated fields, got 9");
  ExpectError(With("Channel =\n"), "line 8: Channel: expected 8 comma-separated fields, got 1");
}

TEST(ClassicParserTest, ChannelUriErrors) {
  // A relative uri is an extension: it is opened from the working directory.
  absl::StatusOr<ClassicManifest> rel =
      ParseClassicManifest(With("Channel = data/a, /dev/a, 0, 0, 1, 1, 0, 0\n"));
  ASSERT_THAT(rel, IsOk());
  EXPECT_EQ(rel->channels[3].uri, "data/a");
  for (const char* uri : {"tcp:1.2.3.4:80", "TCP:2:0", "udp:1:2", "ipc:x:y", "opaque:local|a",
                          "/a;/b", "tcp:1:0;tcp:2:0"}) {
    ExpectError(
        With(absl::StrCat("Channel = ", uri, ", /dev/a, 0, 0, 1, 1, 0, 0\n")),
        "line 8: Channel field 1 (uri): ", {"sandbox-to-sandbox channels", "not supported yet"});
  }
  ExpectError(With("Channel = /a:b, /dev/a, 0, 0, 1, 1, 0, 0\n"),
              "line 8: Channel field 1 (uri): \"/a:b\": a ':' in a channel path is refused");
  ExpectError(With("Channel = , /dev/a, 0, 0, 1, 1, 0, 0\n"),
              "line 8: Channel field 1 (uri): must not be empty");
}

TEST(ClassicParserTest, ChannelAliasErrors) {
  ExpectError(With("Channel = /a, , 0, 0, 1, 1, 0, 0\n"),
              "line 8: Channel field 2 (alias): must not be empty");
  ExpectError(With(absl::StrCat("Channel = /a, /", std::string(255, 'x'), ", 0, 0, 1, 1, 0, 0\n")),
              "line 8: Channel field 2 (alias): ", {"is 256 bytes, more than 255"});
  ExpectError(With(std::string("Channel = /a, /dev/\0a, 0, 0, 1, 1, 0, 0\n", 40)),
              "line 8: Channel field 2 (alias): ", {"contains a NUL byte"});
  ExpectError(With("Channel = /a, /dev/x, 0, 0, 1, 1, 0, 0\n"
                   "# gap\n"
                   "Channel = /b, /dev/x, 0, 0, 0, 0, 1, 1\n"),
              "line 10: Channel field 2 (alias): duplicate alias \"/dev/x\" (also line 8)");
  ExpectError(With("Channel = /a, /dev/stdout, 0, 0, 0, 0, 1, 1\n"),
              "line 8: Channel field 2 (alias): duplicate alias \"/dev/stdout\" (also line 6)");
}

TEST(ClassicParserTest, ChannelTypeAndEtagErrors) {
  ExpectError(With("Channel = /a, /dev/a, 5, 0, 1, 1, 0, 0\n"),
              "line 8: Channel field 3 (type): \"5\" is not 0..3");
  ExpectError(With("Channel = /a, /dev/a, -1, 0, 1, 1, 0, 0\n"),
              "line 8: Channel field 3 (type): \"-1\" is not 0..3");
  ExpectError(With("Channel = /a, /dev/a, seq, 0, 1, 1, 0, 0\n"),
              "line 8: Channel field 3 (type): \"seq\" is not an integer");
  ExpectError(With("Channel = /a, /dev/a, 0, 2, 1, 1, 0, 0\n"),
              "line 8: Channel field 4 (etag): \"2\" is not 0 or 1");
  ExpectError(With("Channel = /a, /dev/a, 0, yes, 1, 1, 0, 0\n"),
              "line 8: Channel field 4 (etag): \"yes\" is not an integer");
}

TEST(ClassicParserTest, ChannelLimitErrors) {
  ExpectError(With("Channel = /a, /dev/a, 0, 0, -5, 1, 0, 0\n"),
              "line 8: Channel field 5 (gets): \"-5\" is a negative limit");
  ExpectError(With("Channel = /a, /dev/a, 0, 0, 1, -1, 0, 0\n"),
              "line 8: Channel field 6 (get_size): \"-1\" is a negative limit");
  ExpectError(With("Channel = /a, /dev/a, 0, 0, 1, 1, -0x1, 0\n"),
              "line 8: Channel field 7 (puts): \"-0x1\" is a negative limit");
  ExpectError(With("Channel = /a, /dev/a, 0, 0, 1, 1, 0, 4G\n"),
              "line 8: Channel field 8 (put_size): \"4G\" is not an integer");
  ExpectError(With("Channel = /a, /dev/a, 0, 0, 0, 0, 0, 0\n"),
              "line 8: Channel: nil channel: all four limits are 0");
}

TEST(ClassicParserTest, TooManyChannels) {
  std::string text(kBase);
  for (size_t i = 3; i <= ManifestLimits::kMaxChannels; ++i) {
    absl::StrAppend(&text, "Channel = /a, /dev/c", i, ", 0, 0, 1, 1, 0, 0\n");
  }
  ExpectError(text, "line 1029: Channel: more than 1024 channels");
}

TEST(ClassicParserTest, MissingKeys) {
  auto drop = [](absl::string_view line) {
    return absl::StrReplaceAll(kBase, {{line, "# removed"}});
  };
  ExpectError(drop("Version = 20130611"), "manifest: missing Version");
  ExpectError(drop("Program = /bin/prog"), "manifest: missing Program");
  ExpectError(drop("Timeout = 5"), "manifest: missing Timeout");
  ExpectError(drop("Memory = 33554432, 0"), "manifest: missing Memory");
  ExpectError(drop("Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 1000, 0, 0"),
              "manifest: missing standard channel /dev/stdin");
  ExpectError(drop("Channel = /tmp/out, /dev/stdout, 0, 1, 0, 0, 10, 4096"),
              "manifest: missing standard channel /dev/stdout");
  ExpectError(drop("Channel = /tmp/err, /dev/stderr, 0, 0, 0, 0, 10, 4096"),
              "manifest: missing standard channel /dev/stderr");
  ExpectError("", "manifest: missing Version");
}

TEST(ClassicParserTest, KeysAreCaseSensitive) {
  // "timeout" is an unknown key (ignored), so Timeout is still missing.
  ExpectError(absl::StrReplaceAll(kBase, {{"Timeout = 5", "timeout = 5"}}),
              "manifest: missing Timeout");
}

TEST(ToManifestTest, BuildsManifest) {
  absl::StatusOr<ClassicManifest> c =
      ParseClassicManifest(With("Channel = /data/in, /dev/input, 1, 0, 10, 100, 0, 0\n"));
  ASSERT_THAT(c, IsOk());
  absl::StatusOr<Manifest> m = ToManifest(*c, {"stdin-bytes", "", "", "input-bytes"});
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout(), absl::Seconds(5));
  EXPECT_EQ(m->cpu_limit(), absl::Seconds(5));
  EXPECT_EQ(m->memory_bytes(), 33554432);
  EXPECT_THAT(m->argv(), ElementsAre("prog"));
  EXPECT_FALSE(m->memory_etag());
  ASSERT_EQ(m->channels().size(), 4u);
  EXPECT_EQ(m->channels()[0].initial_bytes, "stdin-bytes");
  EXPECT_EQ(m->channels()[3].initial_bytes, "input-bytes");
  EXPECT_EQ(m->channels()[3].alias, "/dev/input");
  EXPECT_EQ(m->channels()[3].type, ChannelType::kRandReadSeqWrite);
  EXPECT_TRUE(m->channels()[1].etag);
  EXPECT_THAT(m->handle_order(), ElementsAre(0, 1, 2, 3));

  // No inputs at all is allowed.
  absl::StatusOr<Manifest> empty = ToManifest(*c, {});
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->channels()[0].initial_bytes.empty());
}

TEST(ToManifestTest, BuilderCanBeAdjusted) {
  absl::StatusOr<ClassicManifest> c = ParseClassicManifest(kBase);
  ASSERT_THAT(c, IsOk());
  absl::StatusOr<ManifestBuilder> b = ToManifestBuilder(*c, {});
  ASSERT_THAT(b, IsOk());
  b->set_env({"A=1"}).set_output_limit_bytes(10);
  absl::StatusOr<Manifest> m = b->Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_THAT(m->env(), ElementsAre("A=1"));
  EXPECT_EQ(m->output_limit_bytes(), 10);
}

TEST(ToManifestTest, Errors) {
  absl::StatusOr<ClassicManifest> c = ParseClassicManifest(kBase);
  ASSERT_THAT(c, IsOk());

  absl::Status s = ToManifest(*c, {"a", "b"}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("manifest: 2 channel inputs given for 3 channels"));

  s = ToManifest(*c, {"", "oops", ""}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("line 6: Channel: \"/dev/stdout\" is not readable but was given 4"));

  // ZeroVM's range, in local mode too: 90000 s (beyond a day) is fine, 2^31 s is not.
  ClassicManifest big = *c;
  big.timeout = absl::Seconds(90000);
  absl::StatusOr<Manifest> day = ToManifest(big, {});
  ASSERT_THAT(day, IsOk());
  EXPECT_EQ(day->timeout(), absl::Seconds(90000));
  big.timeout = absl::Seconds(2147483648);
  s = ToManifest(big, {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("line 3: Timeout: 596523h14m8s is not in 1..2147483647 seconds"));

  ClassicManifest small = *c;
  small.memory_bytes = 4096;
  s = ToManifest(small, {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("line 4: Memory field 1 (bytes): 4096 is not in [1048576, 4294967296]"));
}

// Mutated manifests (bytes flipped, inserted, deleted; lines duplicated) either parse or fail with
// INVALID_ARGUMENT naming a line or the manifest as a whole; never anything else, never a crash.
TEST(ClassicParserRobustnessTest, MutationsFailCleanly) {
  std::mt19937 rng(12345);
  const std::string base = kBase;
  std::string alphabet = "=,#\r\n \t0123456789-xX/G\xff";
  alphabet.push_back('\0');
  int parsed = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          text.erase(at, 1 + rng() % 8);
          break;
        default: {  // duplicate the line that holds `at`
          const size_t begin =
              text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
          const size_t end = text.find('\n', at);
          text.insert(begin, text.substr(begin, end == std::string::npos ? std::string::npos
                                                                         : end - begin + 1));
        }
      }
    }
    absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
    if (m.ok()) {
      ++parsed;
      continue;
    }
    ASSERT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
    const std::string message(m.status().message());
    EXPECT_TRUE(message.rfind("line ", 0) == 0 || message.rfind("manifest: ", 0) == 0)
        << "mutation " << i << ": " << message;
  }
  EXPECT_GT(parsed, 0);  // some mutations are harmless (comments, whitespace)
}

}  // namespace
}  // namespace zerocell::sandbox
