// Helpers for the zerocell CLI tests: the CLI run as a subprocess.
#include "tests/client/cli_test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"

extern char** environ;

namespace zerocell::client::testing {
namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

std::string ZerocellPath() { return zerocell::testing::BinPath("zerocell"); }

CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_data,
                 int interrupt_after_ms) {
  CliOptions options;
  options.stdin_data = stdin_data;
  options.interrupt_after_ms = interrupt_after_ms;
  return RunCliWith(args, options);
}

CliResult RunCliWith(const std::vector<std::string>& args, const CliOptions& options) {
  CliResult result;
  const int interrupt_after_ms = options.interrupt_after_ms;
  zerocell::testing::TempDir scratch;
  const std::string stdin_path =
      options.stdin_path.empty() ? scratch.Write("stdin", options.stdin_data) : options.stdin_path;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, options.stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());

  std::string program = ZerocellPath();
  if (!options.cwd.empty() && program[0] != '/') {
    program = (std::filesystem::current_path() / program).string();
  }
  std::vector<std::string> words;
  // Not under ASan or TSan: the CLI, built with it too, could not even start (see
  // kShadowMemorySanitizer). The other builds check those bounds.
  if (options.address_space_kib > 0 && !::zerocell::testing::kShadowMemorySanitizer) {
    // RLIMIT_AS for the CLI (and so for everything it spawns), soft and hard.
    words = {"/bin/sh", "-c",
             absl::StrCat("ulimit -v ", options.address_space_kib, " && exec \"$0\" \"$@\"")};
  }
  words.push_back(program);
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  program = words[0];
  pid_t pid = 0;
  const int err = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (err != 0) {
    ADD_FAILURE() << "posix_spawn " << program << ": errno " << err;
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }

  // Drain both pipes until EOF so that a chatty CLI never blocks on a full pipe.
  const int64_t start = NowMs();
  const int64_t deadline = start + 60'000;
  int64_t interrupt_at = interrupt_after_ms >= 0 ? start + interrupt_after_ms : INT64_MAX;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    const int64_t now = NowMs();
    if (now >= interrupt_at) {
      kill(pid, SIGINT);
      interrupt_at = INT64_MAX;
    }
    if (now >= deadline) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(std::min(deadline, interrupt_at) - now));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) ADD_FAILURE() << "zerocell did not finish within 60 s";
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  return result;
}

}  // namespace zerocell::client::testing
