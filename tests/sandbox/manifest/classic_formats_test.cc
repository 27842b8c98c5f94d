// Tests for the two ZeroVM manifest versions: 20140509's 7-field channels, /boot/elf, Boot,
// Broker and empty values; 20130611's stricter rules; the /dev/nvram channel applied to a run.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/manifest/classic_parser.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A 20140509 job: its program comes through /boot/elf, the version line comes last.
constexpr char kDevel[] =
    "Channel = /srv/job/input.txt, /dev/stdin, 0, 10, 4096, 0, 0\n"     // 1
    "Channel = /srv/job/output.txt, /dev/stdout, 0, 0, 0, 10, 4096\n"   // 2
    "Channel = /srv/job/errors.txt, /dev/stderr, 0, 0, 0, 10, 4096\n"   // 3
    "Channel = bin/job-program, /boot/elf, 1, 0x100, 0x100000, 0, 0\n"  // 4
    "Memory = 0x4000000, 1\n"                                           // 5
    "Timeout = 600\n"                                                   // 6
    "Version = 20140509\n";                                             // 7

std::string Devel(absl::string_view extra) { return absl::StrCat(kDevel, extra); }

absl::Status ErrorOf(const std::string& text) { return ParseClassicManifest(text).status(); }

void ExpectError(const std::string& text, const std::string& prefix,
                 std::vector<std::string> parts = {}) {
  const absl::Status s = ErrorOf(text);
  ASSERT_THAT(s, ::testing::Not(IsOk())) << "expected: " << prefix;
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), StartsWith(prefix));
  for (const std::string& p : parts) EXPECT_THAT(std::string(s.message()), HasSubstr(p));
}

TEST(ClassicDevelTest, SevenFieldChannelsAndBootElfProgram) {
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(kDevel);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->version, "20140509");
  EXPECT_EQ(m->program, "bin/job-program");
  EXPECT_EQ(m->program_line, 4);
  EXPECT_EQ(m->timeout, absl::Seconds(600));
  EXPECT_EQ(m->memory_bytes, 0x4000000);
  EXPECT_TRUE(m->memory_etag);
  ASSERT_EQ(m->channels.size(), 4u);
  const ClassicChannel& in = m->channels[0];
  EXPECT_EQ(in.uri, "/srv/job/input.txt");
  EXPECT_EQ(in.spec.type, ChannelType::kSeqReadSeqWrite);
  EXPECT_FALSE(in.spec.etag);
  EXPECT_EQ(in.spec.gets, 10);
  EXPECT_EQ(in.spec.get_size, 4096);
  EXPECT_EQ(in.spec.puts, 0);
  EXPECT_EQ(m->channels[1].spec.put_size, 4096);
  const ClassicChannel& boot = m->channels[3];
  EXPECT_EQ(boot.spec.alias, "/boot/elf");
  EXPECT_EQ(boot.spec.type, ChannelType::kRandReadSeqWrite);
  EXPECT_EQ(boot.spec.get_size, 0x100000);

  absl::StatusOr<Manifest> run = ToManifest(*m, {});
  ASSERT_THAT(run, IsOk());
  EXPECT_THAT(run->argv(), ElementsAre("job-program"));
  EXPECT_TRUE(run->memory_etag());
  EXPECT_EQ(run->timeout(), absl::Seconds(600));
}

TEST(ClassicDevelTest, ProgramKeyAddsTheBootElfChannel) {
  const std::string text = absl::StrReplaceAll(
      kDevel, {{"Channel = bin/job-program, /boot/elf, 1, 0x100, 0x100000, 0, 0\n",
                "Program = /opt/tools/job\n"}});
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->program, "/opt/tools/job");
  ASSERT_EQ(m->channels.size(), 4u);
  const ClassicChannel& boot = m->channels[3];
  EXPECT_EQ(boot.uri, "/opt/tools/job");
  EXPECT_EQ(boot.spec.alias, "/boot/elf");
  EXPECT_EQ(boot.spec.type, ChannelType::kRandReadSeqWrite);
  EXPECT_EQ(boot.spec.gets, 0x1000000);
  EXPECT_EQ(boot.spec.get_size, 0x1000000);
  EXPECT_EQ(boot.line, 4);
  // Program and an explicit /boot/elf channel collide, as in ZeroVM.
  ExpectError(Devel("Program = /opt/tools/job\n"),
              "line 8: Channel field 2 (alias): duplicate alias \"/boot/elf\" (also line 4)");
}

TEST(ClassicDevelTest, EightFieldChannelsIgnoreTheirEtagField) {
  const std::string text =
      "Version = 20140509\nProgram = /opt/job\nMemory = 33554432, 0\nTimeout = 5\n"
      "Channel = /dev/null, /dev/stdin, 0, 7, 1, 1, 0, 0\n"
      "Channel = /tmp/o, /dev/stdout, 0, not-a-number, 0, 0, 1, 64\n"
      "Channel = /tmp/e, /dev/stderr, 0, 1, 0, 0, 1, 64\n";
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(text);
  ASSERT_THAT(m, IsOk());
  for (const ClassicChannel& ch : m->channels) EXPECT_FALSE(ch.spec.etag) << ch.spec.alias;
  ASSERT_EQ(m->channels.size(), 4u);  // /boot/elf (from Program, line 2) comes first
  EXPECT_EQ(m->channels[0].spec.alias, "/boot/elf");
  EXPECT_EQ(m->channels[2].spec.put_size, 64);
  // The same etag values are errors under 20130611, which reads the field.
  ExpectError(absl::StrReplaceAll(text, {{"20140509", "20130611"}}),
              "line 5: Channel field 4 (etag): \"7\" is not 0 or 1");
}

TEST(ClassicDevelTest, SevenAfterEightFieldsIsMixed) {
  ExpectError(
      "Version = 20140509\nProgram = /p\nMemory = 33554432, 0\nTimeout = 5\n"
      "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
      "Channel = /tmp/o, /dev/stdout, 0, 0, 0, 1, 64\n"
      "Channel = /tmp/e, /dev/stderr, 0, 0, 0, 1, 64\n",
      "line 6: Channel: a 7-field channel after the 8-field one on line 5", {"mixed"});
  // The other order is what ZeroVM accepted.
  EXPECT_THAT(
      ParseClassicManifest("Version = 20140509\nProgram = /p\nMemory = 33554432, 0\nTimeout = 5\n"
                           "Channel = /dev/null, /dev/stdin, 0, 1, 1, 0, 0\n"
                           "Channel = /tmp/o, /dev/stdout, 0, 0, 0, 0, 1, 64\n"
                           "Channel = /tmp/e, /dev/stderr, 0, 1, 0, 0, 1, 64\n"),
      IsOk());
}

TEST(ClassicDevelTest, FieldCountsAndEmptyValues) {
  ExpectError(Devel("Channel = /a, /dev/a, 0, 1, 1, 0\n"),
              "line 8: Channel: expected 7 comma-separated fields", {"got 6"});
  ExpectError(Devel("Channel = /a, /dev/a, 0, 0, 1, 1, 0, 0, 0\n"), "line 8: Channel: expected 7",
              {"got 9"});
  ExpectError(Devel("Node = \n"), "line 8: Node: has no value");
  ExpectError(Devel("Job =\n"), "line 8: Job: has no value");
  // 20130611 has no such rule: an empty Node is 0 there (an empty integer), an empty Etag text.
  EXPECT_THAT(
      ParseClassicManifest("Version = 20130611\nProgram = /p\nMemory = 33554432, 0\nTimeout = 5\n"
                           "Node =\nEtag =\n"
                           "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
                           "Channel = /tmp/o, /dev/stdout, 0, 0, 0, 0, 1, 64\n"
                           "Channel = /tmp/e, /dev/stderr, 0, 0, 0, 0, 1, 64\n"),
      IsOk());
}

TEST(ClassicDevelTest, KeysOfEachVersion) {
  // Node is text in 20140509, an integer in 20130611.
  EXPECT_THAT(ParseClassicManifest(Devel("Node = worker-7\n")), IsOk());
  const std::string master =
      "Version = 20130611\nProgram = /p\nMemory = 33554432, 0\nTimeout = 5\n"
      "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
      "Channel = /tmp/o, /dev/stdout, 0, 0, 0, 0, 1, 64\n"
      "Channel = /tmp/e, /dev/stderr, 0, 0, 0, 0, 1, 64\n";
  ExpectError(master + "Node = worker-7\n", "line 8: Node: \"worker-7\" is not an integer");
  // Boot and Broker are 20140509 keys: unknown, hence ignored, in 20130611; NameServer and Etag
  // the other way round.
  EXPECT_THAT(ParseClassicManifest(master + "Boot = whatever\nBroker = x\n"), IsOk());
  EXPECT_THAT(ParseClassicManifest(Devel("NameServer = garbage\nEtag = x\n")), IsOk());
  ExpectError(Devel("Broker = /run/broker.sock\n"), "line 8: Broker: given without Node");
  EXPECT_THAT(ParseClassicManifest(Devel("Broker = /run/broker.sock\nNode = 3\n")), IsOk());
  ExpectError(Devel("Boot = a\nBoot = b\n"), "line 9: duplicate Boot (first on line 8)");
  ExpectError(master + "Job = /" + std::string(108, 'j') + "\n", "line 8: Job: 109 bytes");
  EXPECT_THAT(ParseClassicManifest(master + "Job = /" + std::string(107, 'j') + "\n"), IsOk());
  // 20130611 needs Program; 20140509 refuses 7-field channels there with a hint.
  ExpectError(absl::StrReplaceAll(master, {{"Program = /p\n", ""}}), "manifest: missing Program");
  ExpectError(master + "Channel = /a, /dev/a, 0, 1, 1, 0, 0\n",
              "line 8: Channel: expected 8 comma-separated fields, got 7",
              {"7-field channels need Version 20140509"});
}

TEST(ClassicDevelTest, ProgramMustComeFromProgramOrBootElf) {
  const std::string no_program = absl::StrReplaceAll(
      kDevel, {{"Channel = bin/job-program, /boot/elf, 1, 0x100, 0x100000, 0, 0\n", ""}});
  ExpectError(no_program, "manifest: missing Program (or a /boot/elf channel)");
  ExpectError(no_program + "Boot = /opt/zerovm/uboot.bin\n",
              "line 7: Boot: ", {"untrusted loader", "Program or a /boot/elf channel"});
  // A Boot next to a program is accepted and unused: Zerocell loads the program itself.
  absl::StatusOr<ClassicManifest> m = ParseClassicManifest(Devel("Boot = /opt/uboot.bin\n"));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->program, "bin/job-program");
  ExpectError(absl::StrReplaceAll(kDevel, {{"/boot/elf, 1,", "/boot/elf, 0,"}}),
              "line 4: Channel /boot/elf: ", {"readable at random"});
}

TEST(ClassicDevelTest, NetworkChannelsNameTheLine) {
  for (const char* uri : {"opaque:local|job-1-2", "opaque-thing", "tcp:2:0", "/a;/b"}) {
    ExpectError(
        Devel(absl::StrCat("Channel = ", uri, ", /dev/peer, 0, 0, 0, 1, 1\n")),
        "line 8: Channel field 1 (uri): ", {"sandbox-to-sandbox channels", "not supported yet"});
  }
  // 20140509 paths may hold ':' (its network names all start with "opaque").
  EXPECT_THAT(ParseClassicManifest(Devel("Channel = /data/a:b, /dev/ab, 0, 1, 1, 0, 0\n")), IsOk());
}

// ---- /dev/nvram applied by ToManifest ----

constexpr char kWithNvram[] =
    "Version = 20130611\nProgram = /opt/bin/wordfreq\nMemory = 33554432, 0\nTimeout = 5\n"
    "Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 1000, 0, 0\n"
    "Channel = /tmp/o, /dev/stdout, 0, 0, 0, 0, 10, 4096\n"
    "Channel = /tmp/e, /dev/stderr, 0, 0, 0, 0, 10, 4096\n"
    "Channel = /tmp/job.nvram, /dev/nvram, 3, 0, 100, 4096, 100, 4096\n";  // line 8

TEST(ClassicNvramTest, ArgsEnvAndTimeReachTheManifest) {
  absl::StatusOr<ClassicManifest> c = ParseClassicManifest(kWithNvram);
  ASSERT_THAT(c, IsOk());
  const std::string nvram =
      "[args]\nargs = wordfreq --top 3 some\\x20file\n"
      "[env]\nname=LANG, value=C\nname=GREETING, value=hi\\x2c\\x20there\n"
      "[time]\nseconds = 1700000000\n"
      "[fstab]\n\n[mapping]\nchannel=/dev/stdin, mode=char\n";
  absl::StatusOr<Manifest> m = ToManifest(*c, {"", "", "", nvram});
  ASSERT_THAT(m, IsOk());
  EXPECT_THAT(m->argv(), ElementsAre("wordfreq", "--top", "3", "some file"));
  EXPECT_THAT(m->env(), ElementsAre("LANG=C", "GREETING=hi, there"));
  EXPECT_EQ(m->clock_start(), absl::FromUnixSeconds(1700000000));
  // The guest still reads the nvram itself.
  EXPECT_EQ(m->channels()[3].initial_bytes, nvram);
}

TEST(ClassicNvramTest, WithoutArgsTheProgramNameIsArgv) {
  absl::StatusOr<ClassicManifest> c = ParseClassicManifest(kWithNvram);
  ASSERT_THAT(c, IsOk());
  absl::StatusOr<Manifest> m = ToManifest(*c, {"", "", "", "[env]\nname=A, value=1\n"});
  ASSERT_THAT(m, IsOk());
  EXPECT_THAT(m->argv(), ElementsAre("wordfreq"));
  EXPECT_THAT(m->env(), ElementsAre("A=1"));
  EXPECT_EQ(m->clock_start(), absl::UnixEpoch());
}

TEST(ClassicNvramTest, ErrorsNameTheChannelLineAndTheNvramLine) {
  absl::StatusOr<ClassicManifest> c = ParseClassicManifest(kWithNvram);
  ASSERT_THAT(c, IsOk());
  absl::Status s =
      ToManifest(*c, {"", "", "", "[args]\nargs = x\n[time]\nseconds = soon\n"}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("line 8: Channel /dev/nvram (\"/tmp/job.nvram\"): nvram line 4: [time] "
                         "seconds: \"soon\""));
  // A caller that mounts nothing (ToManifest) refuses [fstab] records.
  s = ToManifest(
          *c, {"", "", "", "[fstab]\nchannel=/dev/stdin, mountpoint=/, access=ro, removable=no\n"})
          .status();
  EXPECT_THAT(std::string(s.message()),
              StartsWith("line 8: Channel /dev/nvram (\"/tmp/job.nvram\"): nvram line 2: "
                         "[fstab] channel \"/dev/stdin\" mounted at \"/\": file trees are not "
                         "mounted here"));
}

TEST(ClassicNvramTest, FstabChannelsAreReadableChannelsOfTheManifest) {
  absl::StatusOr<ClassicManifest> c = ParseClassicManifest(kWithNvram);
  ASSERT_THAT(c, IsOk());
  std::vector<ClassicMount> mounts;
  absl::StatusOr<ManifestBuilder> b = ToManifestBuilder(
      *c,
      {"", "", "", "[args]\nargs = x\n[fstab]\nchannel=/dev/stdin, mountpoint=/in, access=ro\n"},
      &mounts);
  ASSERT_THAT(b, IsOk());
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].channel, 0u);
  EXPECT_EQ(mounts[0].mountpoint, "/in");
  EXPECT_EQ(mounts[0].nvram_line, 4);
  EXPECT_EQ(mounts[0].context, "line 8: Channel /dev/nvram (\"/tmp/job.nvram\"): nvram line 4");
  // The channel stays declared.
  absl::StatusOr<Manifest> m = b->Build();
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->channels()[0].alias, "/dev/stdin");

  const auto error = [&](const std::string& fstab) {
    std::vector<ClassicMount> ignored;
    return std::string(
        ToManifestBuilder(*c, {"", "", "", "[fstab]\n" + fstab}, &ignored).status().message());
  };
  EXPECT_THAT(error("channel=/dev/python.tar, mountpoint=/, access=ro\n"),
              StartsWith("line 8: Channel /dev/nvram (\"/tmp/job.nvram\"): nvram line 2: [fstab] "
                         "channel \"/dev/python.tar\" mounted at \"/\": no Channel of the manifest "
                         "has that alias"));
  EXPECT_THAT(error("channel=/dev/stdout, mountpoint=/, access=ro\n"),
              HasSubstr("nvram line 2: [fstab] channel \"/dev/stdout\" mounted at \"/\": the "
                        "Channel at line 6 is not readable"));
  EXPECT_THAT(error("channel=/dev/nvram, mountpoint=/, access=ro\n"),
              HasSubstr("the Channel at line 8 is the nvram itself"));
}

}  // namespace
}  // namespace zerocell::sandbox
