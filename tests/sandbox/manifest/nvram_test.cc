// Tests for the nvram parser: ZRT's sections, records, args splitting and escapes, and the errors
// that replace what ZRT did silently.
#include "sandbox/manifest/nvram.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

NvramSettings Parse(const std::string& text) {
  absl::StatusOr<NvramSettings> n = ParseNvram(text);
  EXPECT_THAT(n, IsOk());
  return n.ok() ? *std::move(n) : NvramSettings{};
}

std::string Error(const std::string& text) {
  absl::StatusOr<NvramSettings> n = ParseNvram(text);
  EXPECT_THAT(n, ::testing::Not(IsOk())) << text;
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(n.status().message());
}

TEST(NvramTest, EmptyOrSectionlessTextConfiguresNothing) {
  for (const char* text : {"", "\n\n", "args = not in a section\n", "# only a comment\n"}) {
    const NvramSettings n = Parse(text);
    EXPECT_FALSE(n.args.has_value()) << text;
    EXPECT_THAT(n.env, IsEmpty());
    EXPECT_FALSE(n.clock_seconds.has_value());
  }
}

TEST(NvramTest, ArgsSplitOnBlanksWithQuotesAndEscapes) {
  const NvramSettings n = Parse(
      "[args]\n"
      "args =  tool  -v\tpath\\x20with\\x20spaces \"two words\" a\\x2Cb q\\x22uote back\\x5cslash "
      "line\\x0abreak\n");
  ASSERT_TRUE(n.args.has_value());
  EXPECT_THAT(*n.args, ElementsAre("tool", "-v", "path with spaces", "two words", "a,b", "q\"uote",
                                   "back\\slash", "line\nbreak"));
}

TEST(NvramTest, ArgsQuirksAsZrtHasThem) {
  // A quote only opens where an argument starts, and a quoted argument ends at the quote.
  EXPECT_THAT(*Parse("[args]\nargs = a\"b \"c d\"e\n").args, ElementsAre("a\"b", "c d", "e"));
  // An unterminated quote runs to the end; a lone quote at the end is an argument.
  EXPECT_THAT(*Parse("[args]\nargs = x \"y z\n").args, ElementsAre("x", "y z"));
  EXPECT_THAT(*Parse("[args]\nargs = x \"\n").args, ElementsAre("x", "\""));
  // Escapes need two hex digits; anything else stays as written.
  EXPECT_THAT(*Parse("[args]\nargs = \\x4 \\xzz \\x41\\x4\n").args,
              ElementsAre("\\x4", "\\xzz", "A\\x4"));
  // ',' separates records' keys and '#' starts a comment, even inside a value: both need escapes.
  EXPECT_THAT(*Parse("[args]\nargs = a b, c d # e f\n").args, ElementsAre("a", "b"));
  // Every args line adds to argv; an empty value adds nothing.
  EXPECT_THAT(*Parse("[args]\nargs = one two\nargs =\nargs = three\n").args,
              ElementsAre("one", "two", "three"));
}

TEST(NvramTest, EnvRecords) {
  const NvramSettings n = Parse(
      "[env]\n"
      "name = HOME, value = /home/zvm\n"
      "value=last\\x20first, name=ORDER\n"  // keys in any order
      "name=PARTIAL\n"                      // no value: ZRT drops the record
      "name=DUP, value=1, value=2\n"        // a repeated key keeps its first value
      "name=RAW\\x41, value=x\n"            // names are not unescaped
      "unknown=1, name=U, value=u\n");      // unknown keys are ignored
  EXPECT_THAT(n.env,
              ElementsAre("HOME=/home/zvm", "ORDER=last first", "DUP=1", "RAW\\x41=x", "U=u"));
  EXPECT_THAT(Error("[env]\nname=A, value=1\nname=, value=2\n"),
              StartsWith("nvram line 3: [env] name: \"\" is not a variable name"));
  EXPECT_THAT(Error("[env]\nname=A\\x3dB, value=1\nname=C=D, value=2\n"),
              StartsWith("nvram line 3: [env] name: \"C=D\""));
}

TEST(NvramTest, TimeSetsTheClockStart) {
  EXPECT_EQ(Parse("[time]\nseconds=1370454582 # when the test was written\n").clock_seconds,
            1370454582u);
  EXPECT_EQ(Parse("[time]\nseconds=1\nseconds=4294967295\n").clock_seconds, 4294967295u);
  EXPECT_THAT(Error("[time]\nseconds=12x\n"),
              StartsWith("nvram line 2: [time] seconds: \"12x\" is not a decimal number"));
  EXPECT_THAT(Error("[time]\nseconds=4294967296\n"), StartsWith("nvram line 2: [time] seconds:"));
  EXPECT_THAT(Error("[time]\nseconds=-5\n"), StartsWith("nvram line 2: [time] seconds:"));
}

TEST(NvramTest, OtherSectionsAreAccepted) {
  const NvramSettings n = Parse(
      "[mapping]\nchannel=/dev/stdin, mode=pipe\nchannel=/dev/stdout, mode=char\n"
      "[debug]\nverbosity=4\n"
      "[precache]\nprecache=yes\n"
      "[fstab]\n# nothing mounted\n\n"
      "[not-a-zrt-section]\nargs = ignored\n"
      "[args]\nargs = prog\n");
  EXPECT_THAT(*n.args, ElementsAre("prog"));
}

TEST(NvramTest, FstabRecordsAreMounts) {
  const NvramSettings n = Parse(
      "[args]\nargs = python\n"
      "[fstab]\n"
      "channel=/dev/python.tar, mountpoint=/, access=ro, removable=no\n"
      "# removable and fsname have defaults: three keys make a record\n"
      "channel = /dev/1.data.tar , mountpoint = /data/set , access = ro\n"
      "channel=/dev/extra.tar, mountpoint=/opt, access=ro, removable=yes, fsname=TAR\n"
      "channel=/dev/ignored.tar, access=ro\n");  // no mountpoint: no record, as in ZRT
  ASSERT_EQ(n.mounts.size(), 3u);
  EXPECT_EQ(n.mounts[0].channel, "/dev/python.tar");
  EXPECT_EQ(n.mounts[0].mountpoint, "/");
  EXPECT_EQ(n.mounts[0].line, 4);
  EXPECT_EQ(n.mounts[1].channel, "/dev/1.data.tar");
  EXPECT_EQ(n.mounts[1].mountpoint, "/data/set");
  EXPECT_EQ(n.mounts[1].line, 6);
  EXPECT_EQ(n.mounts[2].channel, "/dev/extra.tar");
  EXPECT_EQ(n.mounts[2].line, 7);
  EXPECT_THAT(*n.args, ElementsAre("python"));
  EXPECT_THAT(Parse("[args]\nargs = a\n").mounts, IsEmpty());
}

TEST(NvramTest, FstabRefusalsNameTheLine) {
  // Trees are read-only: ZRT's wo (export at exit) and any other access are refused.
  std::string e = Error("[fstab]\nchannel=/dev/out.tar, mountpoint=/out, access=wo\n");
  EXPECT_THAT(e, StartsWith("nvram line 2: [fstab] access: \"wo\""));
  EXPECT_THAT(e, HasSubstr("read-only"));
  EXPECT_THAT(e, HasSubstr("scratch directory"));
  e = Error(
      "[fstab]\nchannel=/dev/t, mountpoint=/, access=ro\n\nchannel=/dev/u, mountpoint=/u, "
      "access=rw\n");
  EXPECT_THAT(e, StartsWith("nvram line 4: [fstab] access: \"rw\" is not ro"));
  EXPECT_THAT(e, HasSubstr("scratch directory"));
  EXPECT_THAT(Error("[fstab]\nchannel=/dev/t, mountpoint=/, access=ro, removable=maybe\n"),
              StartsWith("nvram line 2: [fstab] removable: \"maybe\" is not yes or no"));
  EXPECT_THAT(Error("[fstab]\nchannel=/dev/t, mountpoint=/, access=ro, fsname=sqlite\n"),
              StartsWith("nvram line 2: [fstab] fsname: \"sqlite\" is not supported"));
  // Mountpoints: absolute and normalized.
  for (const char* bad : {"data", "", "/data/", "//data", "/a/./b", "/a/../b", "/.."}) {
    EXPECT_THAT(Error(absl::StrCat("[fstab]\nchannel=/dev/t, mountpoint=", bad, ", access=ro\n")),
                StartsWith(absl::StrCat("nvram line 2: [fstab] mountpoint: \"", bad,
                                        "\" is not an absolute normalized path")))
        << bad;
  }
  // One archive per mountpoint (ZRT merged them; a Zerocell mount covers the one beneath).
  EXPECT_THAT(Error("[fstab]\nchannel=/dev/a, mountpoint=/lib, access=ro\n"
                    "channel=/dev/b, mountpoint=/lib, access=ro\n"),
              StartsWith("nvram line 3: [fstab] mountpoint: \"/lib\" is already mounted by nvram "
                         "line 2"));
}

TEST(NvramTest, SectionHeaders) {
  // A header must start its line; its name matches the first ZRT section it begins.
  EXPECT_THAT(*Parse("[arg]\nargs = short-name\n").args, ElementsAre("short-name"));
  EXPECT_THAT(*Parse("[ args ]\nargs = spaced\n").args, ElementsAre("spaced"));
  EXPECT_FALSE(Parse("  [args]\nargs = indented header\n").args.has_value());
  EXPECT_FALSE(Parse("[args\nargs = unclosed\n").args.has_value());
  // Sections repeat: records add up.
  EXPECT_THAT(*Parse("[args]\nargs = a\n[env]\nname=X, value=1\n[args]\nargs = b\n").args,
              ElementsAre("a", "b"));
}

TEST(NvramTest, CrlfLines) {
  const NvramSettings n = Parse("[args]\r\nargs = a b\r\n[env]\r\nname=K, value=v\r\n");
  EXPECT_THAT(*n.args, ElementsAre("a", "b"));
  EXPECT_THAT(n.env, ElementsAre("K=v"));
}

TEST(NvramTest, UnescapeNvram) {
  EXPECT_EQ(UnescapeNvram("a\\x20b\\x2C\\x2cc"), "a b,,c");
  EXPECT_EQ(UnescapeNvram("\\x00"), std::string(1, '\0'));
  EXPECT_EQ(UnescapeNvram("\\xff\\xFF"), "\xff\xff");
  EXPECT_EQ(UnescapeNvram("\\x"), "\\x");
  EXPECT_EQ(UnescapeNvram("\\x2"), "\\x2");
  EXPECT_EQ(UnescapeNvram("\\\\x41"), "\\A");
}

}  // namespace
}  // namespace zerocell::sandbox
