// /proc scans of processes, and polling; see processes.h.
#include "tests/testing/processes.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/testing/files.h"

namespace zerocell::testing {
namespace {

// Reads the state letter and the parent pid of /proc/<pid>/stat. False when it is gone.
bool ReadStat(pid_t pid, char* state, pid_t* ppid) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!text.ok()) return false;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, the last ')' ends it.
  const size_t close = text->rfind(')');
  if (close == std::string::npos || close + 4 >= text->size()) return false;
  *state = (*text)[close + 2];
  *ppid = static_cast<pid_t>(std::strtol(text->c_str() + close + 4, nullptr, 10));
  return true;
}

// A sanitizer runtime starts llvm-symbolizer as a child of the process at its first report
// (suppressed reports too: matching a suppression needs function names), and keeps it: it is the
// runtime's helper, not a process of the code under test, so the scans below leave it out.
bool IsSanitizerSymbolizer(pid_t pid) {
  if (!kAddressSanitizer && !kThreadSanitizer) return false;
  absl::StatusOr<std::string> comm = ReadFile(absl::StrCat("/proc/", pid, "/comm"));
  return comm.ok() && comm->rfind("llvm-symbolizer", 0) == 0;
}

// pid -> parent pid of every process in /proc (but a sanitizer's symbolizer).
std::map<pid_t, pid_t> ParentMap() {
  std::map<pid_t, pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* entry = readdir(dir)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    char state = 0;
    pid_t ppid = 0;
    if (ReadStat(pid, &state, &ppid) && !IsSanitizerSymbolizer(pid)) out[pid] = ppid;
  }
  closedir(dir);
  return out;
}

}  // namespace

std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& [child, ppid] : ParentMap()) {
    if (ppid == parent) out.push_back(child);
  }
  return out;  // ascending: the map is ordered by pid
}

std::vector<pid_t> SandboxPids(pid_t server) {
  std::vector<pid_t> out;
  for (pid_t child : ChildPids(server)) {
    absl::StatusOr<std::string> comm = ReadFile(absl::StrCat("/proc/", child, "/comm"));
    if (comm.ok() && absl::StripTrailingAsciiWhitespace(*comm) == "zerocell-loader") {
      out.push_back(child);
    }
  }
  return out;
}

bool WaitForNoSandboxes(pid_t server, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  absl::Time empty_since = absl::InfiniteFuture();
  while (true) {
    const absl::Time now = absl::Now();
    if (!SandboxPids(server).empty()) {
      empty_since = absl::InfiniteFuture();
    } else if (empty_since == absl::InfiniteFuture()) {
      empty_since = now;
    } else if (now - empty_since >= absl::Milliseconds(100)) {
      return true;
    }
    if (now >= until) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string DescribeProcesses(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) {
    absl::StatusOr<std::string> comm = ReadFile(absl::StrCat("/proc/", pid, "/comm"));
    absl::StrAppend(&out, out.empty() ? "" : " ", pid, "(",
                    comm.ok() ? absl::StripTrailingAsciiWhitespace(*comm) : "gone", " ",
                    std::string(1, ProcessState(pid)), ")");
  }
  return out;
}

std::vector<pid_t> DescendantPids(pid_t pid) {
  std::multimap<pid_t, pid_t> children;
  for (const auto& [child, parent] : ParentMap()) children.emplace(parent, child);
  std::vector<pid_t> out;
  std::deque<pid_t> todo = {pid};
  while (!todo.empty()) {
    const pid_t p = todo.front();
    todo.pop_front();
    auto [begin, end] = children.equal_range(p);
    for (auto it = begin; it != end; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

char ProcessState(pid_t pid) {
  char state = 0;
  pid_t ppid = 0;
  return ReadStat(pid, &state, &ppid) ? state : '\0';
}

bool ProcessGone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

bool HasZombieChild() {
  siginfo_t info = {};
  if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) return false;
  return info.si_pid != 0;
}

int OpenFdCount(pid_t pid) {
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* entry = readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++n;
  }
  closedir(dir);
  return n;
}

std::vector<std::string> ThreadsNotBlocking(pid_t pid, int sig) {
  std::vector<std::string> open;
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return {absl::StrCat("cannot read ", tasks)};
  while (dirent* entry = readdir(dir)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &tid) || tid == pid) continue;
    const std::string base = absl::StrCat(tasks, "/", tid);
    absl::StatusOr<std::string> status = ReadFile(base + "/status");
    if (!status.ok()) continue;  // the thread ended meanwhile
    uint64_t blocked = 0;
    for (absl::string_view line : absl::StrSplit(*status, '\n')) {
      if (absl::ConsumePrefix(&line, "SigBlk:")) {
        (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &blocked);
      }
    }
    if ((blocked & (uint64_t{1} << (sig - 1))) == 0) {
      absl::StatusOr<std::string> comm = ReadFile(base + "/comm");
      open.push_back(
          absl::StrCat(comm.ok() ? absl::StripAsciiWhitespace(*comm) : "?", "(", tid, ")"));
    }
  }
  closedir(dir);
  return open;
}

bool WaitFor(const std::function<bool()>& predicate, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  for (;;) {
    if (predicate()) return true;
    if (absl::Now() >= until) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace zerocell::testing
