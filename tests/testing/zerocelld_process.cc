// A real zerocelld process for tests and benchmarks; see zerocelld_process.h.
#include "tests/testing/zerocelld_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/errno_status.h"
#include "sandbox/sys/unique_fd.h"

extern char** environ;

namespace zerocell::testing {
namespace {

using sandbox::sys::UniqueFd;

// The integer after "key": in a flat JSON object; -1 when absent.
int64_t JsonInt(const std::string& json, const std::string& key) {
  const std::string quoted = absl::StrCat("\"", key, "\"");
  size_t at = json.find(quoted);
  if (at == std::string::npos) return -1;
  at = json.find(':', at + quoted.size());
  if (at == std::string::npos) return -1;
  ++at;
  while (at < json.size() && (json[at] == ' ' || json[at] == '"')) ++at;
  size_t end = at;
  while (end < json.size() && absl::ascii_isdigit(static_cast<unsigned char>(json[end]))) ++end;
  int64_t v = -1;
  if (!absl::SimpleAtoi(absl::string_view(json.data() + at, end - at), &v)) return -1;
  return v;
}

// waitpid without EINTR; the pid, 0 (WNOHANG, still running) or -1.
pid_t WaitPid(pid_t pid, int* status, int flags) {
  pid_t r;
  while ((r = waitpid(pid, status, flags)) < 0 && errno == EINTR) {
  }
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZerocelldProcess>> ZerocelldProcess::Start(
    std::vector<std::string> extra_flags) {
  return Start(std::move(extra_flags), Options());
}

absl::StatusOr<std::unique_ptr<ZerocelldProcess>> ZerocelldProcess::Start(
    std::vector<std::string> extra_flags, const Options& options) {
  const std::string binary = options.binary.empty() ? BinPath("zerocelld") : options.binary;
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(binary, " is not an executable"));
  }
  absl::StatusOr<TempDir> dir = TempDir::Create("zerocelld");
  if (!dir.ok()) return dir.status();
  const std::string ready = dir->File("ready.json");
  const std::string log = dir->File("server.log");

  std::vector<std::string> args = {
      binary, "--listen=127.0.0.1:0",
      options.metrics ? "--metrics_listen=127.0.0.1:0" : "--metrics_listen=",
      absl::StrCat("--ready_file=", ready)};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Opened before fork: the child only dup2s and execs (async-signal-safe).
  UniqueFd log_fd(open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", log));
  UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd.valid()) return ErrnoStatus(errno, "open /dev/null");

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    // Why: a crashed test or benchmark must not leave a server (and its sandboxes) running.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (dup2(null_fd.get(), 0) < 0 || dup2(log_fd.get(), 1) < 0 || dup2(log_fd.get(), 2) < 0) {
      _exit(127);
    }
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  std::unique_ptr<ZerocelldProcess> server(
      new ZerocelldProcess(std::move(*dir), pid, options.stop_grace));

  const absl::Time deadline = absl::Now() + options.ready_timeout;
  while (true) {
    int status = 0;
    if (WaitPid(pid, &status, WNOHANG) == pid) {
      server->reaped_ = true;
      server->exit_status_ = status;
      const std::string logs = server->Logs();
      const std::string message =
          absl::StrCat("zerocelld exited (wait status ", status,
                       ") before it was ready; args: ", absl::StrJoin(args, " "), "\nlog:\n", logs);
      if (absl::StrContains(logs, "Unknown command line flag")) {
        return absl::InvalidArgumentError(message);
      }
      return absl::FailedPreconditionError(message);
    }
    absl::StatusOr<std::string> content = ReadFile(ready);
    if (content.ok()) {
      server->grpc_port_ = static_cast<int>(JsonInt(*content, "grpc_port"));
      server->metrics_port_ = std::max(0, static_cast<int>(JsonInt(*content, "metrics_port")));
      if (server->grpc_port_ <= 0) {
        return absl::InternalError(
            absl::StrCat("ready file without a grpc_port: ", *content, "\nlog:\n", server->Logs()));
      }
      return server;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("zerocelld not ready after ",
                                                      absl::FormatDuration(options.ready_timeout),
                                                      "\nlog:\n", server->Logs()));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

ZerocelldProcess::~ZerocelldProcess() {
  if (reaped_) return;
  if (stop_grace_ > absl::ZeroDuration() && kill(pid_, SIGTERM) == 0 &&
      WaitExit(stop_grace_).ok()) {
    return;
  }
  kill(pid_, SIGKILL);
  int status = 0;
  WaitPid(pid_, &status, 0);
}

std::string ZerocelldProcess::grpc_address() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

absl::Status ZerocelldProcess::Signal(int sig) {
  if (reaped_) return absl::FailedPreconditionError("zerocelld was already reaped");
  if (kill(pid_, sig) != 0) return ErrnoStatus(errno, absl::StrCat("kill(", pid_, ", ", sig, ")"));
  return absl::OkStatus();
}

absl::StatusOr<int> ZerocelldProcess::WaitExit(absl::Duration timeout) {
  if (reaped_) return exit_status_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = WaitPid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_status_ = status;
      return status;
    }
    if (r < 0) return ErrnoStatus(errno, "waitpid");
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("zerocelld still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string ZerocelldProcess::Logs() const {
  return ReadFile(dir_.File("server.log")).value_or(std::string());
}

std::string ZerocelldProcess::LogsWith(std::string_view needle, absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  std::string logs = Logs();
  while (logs.find(needle) == std::string::npos && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
    logs = Logs();
  }
  return logs;
}

}  // namespace zerocell::testing
