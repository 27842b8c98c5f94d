// `zerocell version`, `zerocell --version` and `zerocelld --version` print the project version
// of the top CMakeLists.txt and the commit the binaries were built from.
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client {
namespace {

using testing::CliResult;
using ::testing::HasSubstr;
using testing::RunCli;

// ECMAScript regex over the whole text (gtest's MatchesRegex is POSIX: no \n, no {n}).
bool FullMatch(const std::string& text, const std::string& pattern) {
  return std::regex_match(text, std::regex(pattern));
}

std::string SourceFile(const std::string& relative) {
  const char* dir = std::getenv("ZEROCELL_SOURCE_DIR");
  std::ifstream in(absl::StrCat(dir != nullptr ? dir : ".", "/", relative));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "0.1.0" from project(zerocell VERSION 0.1.0 ...).
std::string ProjectVersion() {
  std::smatch m;
  const std::string cmake = SourceFile("CMakeLists.txt");
  EXPECT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(zerocell VERSION ([0-9.]+))")));
  return m.size() > 1 ? m[1].str() : "?";
}

// The commit of the source tree, or "" when git cannot tell (no .git: a tarball).
std::string SourceCommit() {
  const char* dir = std::getenv("ZEROCELL_SOURCE_DIR");
  absl::StatusOr<std::string> out =
      server::testing::RunCommand({"git", "-C", dir != nullptr ? dir : ".", "rev-parse", "HEAD"});
  return out.ok() ? std::string(absl::StripTrailingAsciiWhitespace(*out)) : "";
}

TEST(VersionTest, CliPrintsTheProjectVersionAndCommit) {
  const std::string version = ProjectVersion();
  CliResult line = RunCli({"version"});
  EXPECT_EQ(line.exit_code, 0) << line.err;
  EXPECT_TRUE(FullMatch(
      line.out, absl::StrCat("zerocell ", version, R"( \(commit [0-9a-f]{12}(, modified)?\)\n)")))
      << line.out;
  EXPECT_EQ(RunCli({"--version"}).out, line.out);

  CliResult json = RunCli({"version", "--json"});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_TRUE(
      FullMatch(json.out, absl::StrCat(R"(\{"version":")", version,
                                       R"(","commit":"[0-9a-f]{40}","modified":(true|false)\}\n)")))
      << json.out;
  if (const std::string commit = SourceCommit(); !commit.empty()) {
    EXPECT_THAT(json.out, HasSubstr(commit)) << "binaries older than the checkout? rebuild";
  }

  CliResult bad = RunCli({"version", "--bogus"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("version: unexpected argument \"--bogus\""));
}

TEST(VersionTest, ZerocelldPrintsTheSameVersionNotTheBuildMode) {
  absl::StatusOr<std::string> out =
      server::testing::RunCommand({zerocell::testing::BinPath("zerocelld"), "--version"});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out,
              ::testing::StartsWith(absl::StrCat("zerocelld ", ProjectVersion(), " (commit ")));
  EXPECT_THAT(*out, ::testing::Not(HasSubstr("NDEBUG")));
  // The same build, the same commit as the CLI.
  CliResult cli = RunCli({"version"});
  EXPECT_EQ(absl::StripPrefix(*out, "zerocelld"), absl::StripPrefix(cli.out, "zerocell"));
}

}  // namespace
}  // namespace zerocell::client
