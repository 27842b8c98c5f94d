// A zerocelld started by zerocell-bench, and the /proc readers its memory figures use.
#include "bench/zerocelld_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"

extern char** environ;

namespace zerocell::bench {
namespace {

// The number after `key` in a "Key:   1234 kB" line of `text`; NOT_FOUND without the key.
absl::StatusOr<int64_t> KibField(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) return value;
  }
  return absl::NotFoundError(absl::StrCat("no ", key, " field"));
}

void AddField(absl::string_view line, MemoryFigures* f) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(line, absl::MaxSplits(':', 1));
  absl::string_view value = absl::StripAsciiWhitespace(kv.second);
  absl::ConsumeSuffix(&value, "kB");
  int64_t kib = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &kib)) return;
  if (kv.first == "Rss") f->rss_kib += kib;
  if (kv.first == "Pss") f->pss_kib += kib;
  if (kv.first == "Private_Clean" || kv.first == "Private_Dirty") f->private_kib += kib;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZerocelldProcess>> ZerocelldProcess::Start(
    const std::string& binary, const std::vector<std::string>& flags) {
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "zerocell-bench-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  auto child = std::unique_ptr<ZerocelldProcess>(new ZerocelldProcess(dir_template));
  const std::string ready = child->dir_ + "/ready.json";
  std::vector<std::string> args = {binary, "--listen=127.0.0.1:0",
                                   "--metrics_listen=", absl::StrCat("--ready_file=", ready)};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const std::string log = child->dir_ + "/server.log";
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err =
      posix_spawn(&child->pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    child->pid_ = -1;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot start ", binary));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(child->pid_, &status, WNOHANG) == child->pid_) {
      child->pid_ = -1;
      const std::string text = ReadFile(log).value_or("");
      const std::string message =
          absl::StrCat("zerocelld exited (wait status ", status, ") before it was ready:\n", text);
      if (absl::StrContains(text, "Unknown command line flag")) {
        return absl::InvalidArgumentError(message);
      }
      return absl::InternalError(message);
    }
    if (absl::StatusOr<std::string> json = ReadFile(ready); json.ok()) {
      const size_t at = json->find("\"grpc_port\":");
      int port = 0;
      if (at != std::string::npos) {
        const size_t begin = at + 12;
        const size_t end = json->find_first_not_of("0123456789", begin);
        (void)absl::SimpleAtoi(absl::string_view(*json).substr(begin, end - begin), &port);
      }
      if (port <= 0) return absl::InternalError(absl::StrCat("bad ready file: ", *json));
      child->address_ = absl::StrCat("127.0.0.1:", port);
      return child;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError("zerocelld not ready after 30 s");
}

ZerocelldProcess::~ZerocelldProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<int64_t> ProcStatusKib(pid_t pid, absl::string_view field) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(absl::StrCat("/proc/", pid, "/status")));
  return KibField(text, field);
}

absl::StatusOr<int64_t> MemInfoKib(absl::string_view field) {
  ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/meminfo"));
  return KibField(text, field);
}

std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;  // exited meanwhile
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last
    // ')'.
    const size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
    int ppid = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid) && ppid == parent) {
      out.push_back(pid);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid) {
  ProcessMemory out;
  ASSIGN_OR_RETURN(std::string rollup, ReadFile(absl::StrCat("/proc/", pid, "/smaps_rollup")));
  for (absl::string_view line : absl::StrSplit(rollup, '\n')) AddField(line, &out.total);
  ASSIGN_OR_RETURN(out.pte_kib, ProcStatusKib(pid, "VmPTE"));
  ASSIGN_OR_RETURN(std::string smaps, ReadFile(absl::StrCat("/proc/", pid, "/smaps")));
  std::map<std::string, MemoryFigures> by_name;
  MemoryFigures* current = nullptr;
  for (absl::string_view line : absl::StrSplit(smaps, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.empty()) continue;
    if (absl::EndsWith(fields[0], ":")) {  // "Rss:  12 kB" inside the current mapping
      if (current != nullptr) AddField(line, current);
      continue;
    }
    // "start-end perms offset dev inode [name]"; the name may contain spaces.
    std::string name = "[anon]";
    if (fields.size() > 5) {
      name = std::string(line.substr(static_cast<size_t>(fields[5].data() - line.data())));
      if (absl::EndsWith(name, " (deleted)")) name.resize(name.size() - 10);
    }
    current = &by_name[name];
  }
  out.by_name.assign(by_name.begin(), by_name.end());
  std::sort(out.by_name.begin(), out.by_name.end(),
            [](const auto& a, const auto& b) { return a.second.rss_kib > b.second.rss_kib; });
  return out;
}

}  // namespace zerocell::bench
