// /proc scans of this process's children; see child_processes.h.
#include "tests/sandbox/engine/child_processes.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

namespace zerocell::sandbox::testing {
namespace {

// Reads the state letter and the parent pid of /proc/<pid>/stat. False when it is gone.
bool ReadStat(pid_t pid, char* state, pid_t* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return false;
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, the last ')' ends it.
  const size_t close = text.rfind(')');
  if (close == std::string::npos || close + 4 >= text.size()) return false;
  *state = text[close + 2];
  *ppid = static_cast<pid_t>(std::strtol(text.c_str() + close + 4, nullptr, 10));
  return true;
}

}  // namespace

std::vector<pid_t> ChildPids() {
  std::vector<pid_t> out;
  const pid_t self = getpid();
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* entry = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    char state = 0;
    pid_t ppid = 0;
    if (ReadStat(pid, &state, &ppid) && ppid == self) out.push_back(pid);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
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

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  for (;;) {
    if (done()) return true;
    if (absl::Now() >= until) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace zerocell::sandbox::testing
