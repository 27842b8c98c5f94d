// `zerocell validate` end to end: build/bin/zerocell as a subprocess checking real guests offline.
#include <sys/stat.h>

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "zerocell/v1/sandbox.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client::testing {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::zerocell::testing::GuestPath;
using ::zerocell::testing::TempDir;

// Parses --json output strictly (unknown fields are an error, so names must be the proto's).
zerocell::v1::ValidationReport ParseReport(const std::string& json) {
  zerocell::v1::ValidationReport report;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &report, options);
  EXPECT_THAT(status, IsOk()) << "\n" << json;
  return report;
}

TEST(CliValidateTest, AcceptedProgramPrintsTheReportAndExitsZero) {
  const std::string hello = GuestPath("hello");
  CliResult r = RunCli({"validate", hello});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith(hello + ": accepted (standard policy)\n"));
  EXPECT_THAT(r.out, AllOf(HasSubstr("  kind: ET_EXEC, entry 0x"), HasSubstr("  instructions: "),
                           HasSubstr("  undecodable bytes: "), HasSubstr("  warnings: 0\n"),
                           HasSubstr("  refused instructions: 0\n")));
  EXPECT_EQ(r.err, "");
}

// glibc's static startup has many cpuid instructions: one summary line, the JSON lists each.
TEST(CliValidateTest, WarningsOfOneKindAreSummarised) {
  CliResult r = RunCli({"validate", GuestPath("glibc_hello")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("\n    cpuid: [0-9]+ places, first at 0x[0-9a-f]+\n"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("    cpuid at ")));
}

TEST(CliValidateTest, StaticPieIsNamed) {
  CliResult r = RunCli({"validate", GuestPath("hello_pie")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  kind: static-pie, entry 0x"));
}

TEST(CliValidateTest, RefusedInstructionExits126WithOffsetAndRule) {
  const std::string guest = GuestPath("pol_int80");
  CliResult r = RunCli({"validate", guest});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_THAT(r.out, StartsWith(guest + ": refused: instruction at file offset 0x"));
  EXPECT_THAT(r.out, AllOf(HasSubstr("  refused instructions: 1\n"),
                           HasSubstr("): int 0x80: software interrupt other than int3\n")));
  EXPECT_THAT(r.err, StartsWith("zerocell: validate: " + guest + ": refused: instruction at "));
  EXPECT_THAT(r.err, EndsWith("int 0x80: software interrupt other than int3 (standard policy)\n"));
}

TEST(CliValidateTest, JsonIsTheValidationReport) {
  CliResult r = RunCli({"validate", "--json", GuestPath("hello")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.out, EndsWith("\n"));
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line";
  const zerocell::v1::ValidationReport report = ParseReport(r.out);
  EXPECT_TRUE(report.accepted());
  EXPECT_TRUE(report.instructions_checked());
  EXPECT_EQ(report.policy(), zerocell::v1::INSTRUCTION_POLICY_STANDARD);
  EXPECT_EQ(report.kind(), zerocell::v1::ELF_KIND_EXEC);
  EXPECT_GT(report.instructions(), 1000);
  EXPECT_GT(report.executable_bytes(), 0);
  EXPECT_GT(report.load_segments(), 0);
  EXPECT_TRUE(report.rejections().empty());
  // Defaults are printed too, so scripts always find the fields.
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"rejections\":[]"), HasSubstr("\"warnings\":[]")));
}

TEST(CliValidateTest, DeterministicPolicyRefusesRdtscThatStandardOnlyWarnsAbout) {
  const std::string guest = GuestPath("rdtsc");
  CliResult standard = RunCli({"validate", "--json", guest});
  EXPECT_EQ(standard.exit_code, 0) << standard.err;
  const zerocell::v1::ValidationReport warned = ParseReport(standard.out);
  ASSERT_EQ(warned.warnings_size(), 1);
  EXPECT_THAT(warned.warnings(0), StartsWith("rdtsc at 0x"));

  CliResult deterministic = RunCli({"validate", "--policy=deterministic", "--json", guest});
  EXPECT_EQ(deterministic.exit_code, 126);
  const zerocell::v1::ValidationReport refused = ParseReport(deterministic.out);
  EXPECT_FALSE(refused.accepted());
  EXPECT_EQ(refused.policy(), zerocell::v1::INSTRUCTION_POLICY_DETERMINISTIC);
  ASSERT_EQ(refused.rejections_size(), 1);
  EXPECT_EQ(refused.rejections(0).instruction(), "rdtsc");
  EXPECT_EQ(refused.rejections(0).rule(), "non-deterministic: reads the time-stamp counter");
  EXPECT_EQ(refused.rejections(0).vaddr(),
            std::stoull(warned.warnings(0).substr(std::string("rdtsc at ").size()), nullptr, 16));
  EXPECT_THAT(deterministic.err, HasSubstr("(deterministic policy)"));
}

TEST(CliValidateTest, ElfRefusalExits126NamingTheProblem) {
  TempDir dir;
  const std::string script = dir.Write("script.sh", "#!/bin/sh\necho hi\n");
  CliResult r = RunCli({"validate", script});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.out, script + ": refused: not an ELF file: it starts with #! (a script)\n");
  EXPECT_EQ(r.err, "zerocell: validate: " + script +
                       ": refused: not an ELF file: it starts with #! (a script)\n");
  CliResult json = RunCli({"validate", "--json", script});
  EXPECT_EQ(json.exit_code, 126);
  const zerocell::v1::ValidationReport report = ParseReport(json.out);
  EXPECT_FALSE(report.accepted());
  EXPECT_EQ(report.kind(), zerocell::v1::ELF_KIND_UNSPECIFIED);
}

TEST(CliValidateTest, MissingProgramExits127) {
  TempDir dir;
  CliResult r = RunCli({"validate", dir.File("absent")});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "zerocell: validate: " + dir.File("absent") +
                       ": cannot open the image file: No such file or directory\n");
}

// A FIFO with no writer would block a plain open() forever (RunCli fails the test after 60 s).
TEST(CliValidateTest, FifoIsRefusedAtOnceAsNotARegularFile) {
  TempDir dir;
  const std::string fifo = dir.File("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  CliResult r = RunCli({"validate", fifo});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "zerocell: validate: " + fifo + ": not a regular file, cannot be an image\n");
}

TEST(CliValidateTest, DirectoryIsRefusedNamingIt) {
  TempDir dir;
  CliResult r = RunCli({"validate", dir.path()});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.err, "zerocell: validate: " + dir.path() + ": is a directory, not an image file\n");
}

TEST(CliValidateTest, UsageErrorsExit2NamingTheFlag) {
  const std::string hello = GuestPath("hello");
  CliResult policy = RunCli({"validate", "--policy=strict", hello});
  EXPECT_EQ(policy.exit_code, 2);
  EXPECT_THAT(policy.err,
              HasSubstr("--policy: expected standard or deterministic (got \"strict\")"));
  CliResult unknown = RunCli({"validate", "--fast", hello});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown flag --fast"));
  EXPECT_EQ(RunCli({"validate"}).exit_code, 2);
  EXPECT_EQ(RunCli({"validate", hello, hello}).exit_code, 2);
}

TEST(CliValidateTest, HelpDescribesTheCommand) {
  CliResult help = RunCli({"help", "validate"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out,
              AllOf(StartsWith("Usage: zerocell validate [FLAGS] PROGRAM\n"),
                    HasSubstr("--policy=standard|deterministic"), HasSubstr("admission check")));
  EXPECT_EQ(RunCli({"validate", "--help"}).out, help.out);
  EXPECT_THAT(RunCli({"help"}).out, HasSubstr("  validate [FLAGS] PROGRAM"));
}

}  // namespace
}  // namespace zerocell::client::testing
