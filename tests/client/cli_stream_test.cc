// The zerocell CLI over ExecuteStream and ExecuteBatch (issue 15): an interactive guest driven
// through `zerocell run --server`, and `zerocell batch` printing one result per line.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"

extern char** environ;

namespace zerocell::client::testing {
namespace {

using ::testing::HasSubstr;
using ::zerocell::testing::GuestPath;
using ::zerocell::testing::ZerocelldProcess;

class CliStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start({"--pool_idle_ms=300"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }
  static std::string ServerFlag() { return absl::StrCat("--server=", server_->grpc_address()); }
  static ZerocelldProcess* server_;
};
ZerocelldProcess* CliStreamTest::server_ = nullptr;

// Reads from `fd` until what was read ends with `suffix` (true), or EOF / 20 s pass (false).
bool ReadUntil(int fd, const std::string& suffix, std::string* out) {
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (out->size() < suffix.size() ||
         out->compare(out->size() - suffix.size(), suffix.size(), suffix) != 0) {
    pollfd p = {fd, POLLIN, 0};
    const int left = static_cast<int>(absl::ToInt64Milliseconds(give_up - absl::Now()));
    if (left <= 0 || poll(&p, 1, left) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// The guest's prompt reaches the terminal before any input exists, each answer follows its line,
// and end of input ends the dialogue: remote mode behaves like a local interactive program.
TEST_F(CliStreamTest, InteractiveGuestIsDrivenThroughTheCli) {
  int in[2], out[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const std::string cli = ZerocellPath();
  const std::string server = ServerFlag();
  const std::string guest = GuestPath("prompt");
  std::vector<char*> argv = {const_cast<char*>(cli.c_str()),    const_cast<char*>("run"),
                             const_cast<char*>(server.c_str()), const_cast<char*>("--stdin=-"),
                             const_cast<char*>(guest.c_str()),  nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, cli.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);

  std::string seen;
  EXPECT_TRUE(ReadUntil(out[0], "name? ", &seen)) << seen;
  ASSERT_EQ(write(in[1], "ada\n", 4), 4);
  EXPECT_TRUE(ReadUntil(out[0], "hello, ada\nname? ", &seen)) << seen;
  ASSERT_EQ(write(in[1], "grace\n", 6), 6);
  EXPECT_TRUE(ReadUntil(out[0], "hello, grace\nname? ", &seen)) << seen;
  close(in[1]);
  EXPECT_TRUE(ReadUntil(out[0], "bye\n", &seen)) << seen;
  close(out[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(seen, "name? hello, ada\nname? hello, grace\nname? bye\n");
}

// One JSON result per run, each index once, outcomes and per-run errors side by side; a bad line
// is refused before anything runs, naming its number.
TEST_F(CliStreamTest, BatchPrintsOneResultPerRun) {
  CliResult r = RunCli({"batch", ServerFlag(), GuestPath("exit_code")},
                       "{\"argv\": [\"exit_code\", \"3\"]}\n"
                       "\n"
                       "{\"argv\": [\"exit_code\", \"0\"]}\n"
                       "{\"timeoutMs\": \"-1\"}\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  std::set<std::string> indexes;
  for (const std::string& line : lines) {
    if (absl::StrContains(line, "\"index\":0")) {
      EXPECT_THAT(line, HasSubstr("\"exitCode\":3"));
      indexes.insert("0");
    } else if (absl::StrContains(line, "\"index\":1")) {
      EXPECT_THAT(line, HasSubstr("\"outcome\":\"OUTCOME_EXITED\""));
      indexes.insert("1");
    } else if (absl::StrContains(line, "\"index\":2")) {
      EXPECT_THAT(line, HasSubstr("\"errorCode\":3"));  // INVALID_ARGUMENT
      EXPECT_THAT(line, HasSubstr("manifest.timeout_ms"));
      indexes.insert("2");
    }
  }
  EXPECT_EQ(indexes.size(), 3u) << r.out;

  r = RunCli({"batch", ServerFlag(), GuestPath("exit_code")},
             "{\"argv\": [\"x\"]}\n{\"nope\": 1}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("stdin line 2"));
  EXPECT_THAT(r.err, HasSubstr("nope"));
}

}  // namespace
}  // namespace zerocell::client::testing
