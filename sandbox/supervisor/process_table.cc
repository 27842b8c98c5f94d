// The run's processes and fork pairing; see process_table.h.
#include "sandbox/supervisor/process_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/errno_status.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/supervisor/guest_memory.h"
#include "sandbox/supervisor/run_budget.h"
#include "sandbox/sys/syscalls.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {
namespace {

// The whole of a small /proc file, or "" when it is gone.
std::string ReadSmall(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// The parent in /proc/<pid>/stat: the field after the state, after the last ')' (the command
// name may hold spaces and parentheses).
pid_t StatParent(const std::string& stat) {
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 4 >= stat.size()) return -1;
  return static_cast<pid_t>(strtol(stat.c_str() + close_paren + 4, nullptr, 10));
}

// waitid's idtype for a pidfd (Linux 5.4; glibc's headers may predate it).
constexpr int kPPidfd = 3;

// Fields of /proc/<pid>/stat after the command name: [0] is the state (field 3).
std::vector<long long> StatFields(const std::string& stat) {
  std::vector<long long> out;
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return out;
  const char* p = stat.c_str() + close_paren + 1;
  while (*p == ' ') ++p;
  out.push_back(0);  // the state letter
  while (*p != '\0' && *p != ' ') ++p;
  while (*p != '\0' && out.size() < 16) {
    char* end = nullptr;
    const long long v = strtoll(p, &end, 10);
    if (end == p) break;
    out.push_back(v);
    p = end;
  }
  return out;
}

bool HasProcChildren() {
  static const bool has =
      access(absl::StrCat("/proc/self/task/", syscall(SYS_gettid), "/children").c_str(), F_OK) == 0;
  return has;
}

GuestProcess* Find(GuestState& g, pid_t pid) {
  for (auto& p : g.processes()) {
    if (p->pid == pid && !HasExited(*p)) return p.get();
  }
  return nullptr;
}

bool Known(GuestState& g, pid_t pid) {
  for (auto& p : g.processes()) {
    if (p->pid == pid) return true;
  }
  return false;
}

// The child takes the state its parent had at the fork.
// `pidfd`: the child's, when the caller opened it already; else opened here.
GuestProcess* Adopt(GuestState& g, GuestProcess& parent, pid_t pid, sys::UniqueFd pidfd = {}) {
  std::unique_ptr<PendingFork> fork = std::move(parent.pending);
  if (!pidfd.valid()) pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  const int raw = pidfd.get();
  auto child = std::make_unique<GuestProcess>(pid, raw, std::make_unique<ProcessMemory>(pid),
                                              std::move(fork->fds));
  child->own_pidfd = std::move(pidfd);
  child->cwd = std::move(fork->cwd);
  child->mem = std::move(fork->mem);
  if (!fork->vfork) {
    // Its own address space, a copy of the parent's: its own /proc files.
    child->mem->pid = pid;
    child->mem->statm.reset(
        open(absl::StrCat("/proc/", pid, "/statm").c_str(), O_RDONLY | O_CLOEXEC));
    child->mem->status.reset();
  }
  child->own_pid = pid;
  child->parent_pid = parent.own_pid;
  child->host_parent = parent.pid;
  // A child gone before it was seen (its pidfd could not be opened) counts as ended.
  child->exited = raw < 0;
  g.processes().push_back(std::move(child));
  return g.processes().back().get();
}

void AddRusage(rusage& total, const rusage& ru) {
  const auto add = [](timeval& a, const timeval& b) {
    a.tv_sec += b.tv_sec;
    a.tv_usec += b.tv_usec;
    if (a.tv_usec >= 1000000) {
      a.tv_usec -= 1000000;
      ++a.tv_sec;
    }
  };
  add(total.ru_utime, ru.ru_utime);
  add(total.ru_stime, ru.ru_stime);
}

}  // namespace

RunGroup::~RunGroup() {
  if (!first_.reaped()) {
    Kill();
    first_.Kill();
    ReapOthers(nullptr);
    int status;
    rusage usage;
    (void)first_.Reap(&status, &usage);
  }
}

void RunGroup::Kill() {
  // Why only while unreaped: once the first process is reaped its pid, the group id, may be
  // another run's.
  if (!first_.reaped()) KillGroup(first_.pid());
}

void RunGroup::ReapOthers(rusage* total) {
  if (!several_ || others_reaped_ || first_.reaped()) return;
  others_reaped_ = true;
  const pid_t pgid = first_.pid();
  // Bounded: a kill that does not end a process (never expected) must not hold the run forever.
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  for (;;) {
    bool others = false;
    for (pid_t pid : GroupMembers(pgid)) {
      if (pid == pgid) continue;
      others = true;
      // Ours once its parent died (it was re-parented to us); else its dying parent's.
      int status;
      rusage ru;
      pid_t r;
      do {
        r = wait4(pid, &status, __WALL | WNOHANG, &ru);
      } while (r < 0 && errno == EINTR);
      if (r == pid && total != nullptr) AddRusage(*total, ru);
    }
    if (!others || absl::Now() >= deadline) return;
    absl::SleepFor(absl::Milliseconds(1));
  }
}

std::shared_ptr<MemoryAccounting> MemoryAccounting::CopyFor(pid_t child) const {
  auto copy = std::make_shared<MemoryAccounting>();
  copy->limit_bytes = limit_bytes;
  copy->overhead_bytes = overhead_bytes;
  copy->tables_baseline = tables_baseline;
  copy->tables_measured = tables_measured;
  copy->tables_admitted = tables_admitted;
  copy->code = code;
  copy->brk = brk;
  copy->pid = child;
  copy->stack_bytes = stack_bytes;
  copy->loader_end = loader_end;
  copy->last_accounted = last_accounted;
  return copy;
}

bool HasExited(GuestProcess& p) {
  if (p.exited) return true;
  if (p.pidfd >= 0) {
    pollfd pfd = {p.pidfd, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) p.exited = true;
  }
  return p.exited;
}

bool Reaped(const GuestProcess& p) {
  if (p.pidfd < 0) return true;  // gone before it was seen
  return sys::PidfdSendSignal(p.pidfd, 0) != 0 && errno == ESRCH;
}

void ReleaseEnded(GuestState& g) {
  auto& procs = g.processes();
  for (auto it = procs.begin() + 1; it != procs.end();) {
    GuestProcess& p = **it;
    if (!HasExited(p)) {
      ++it;
      continue;
    }
    // An orphan re-parented to us (the subreaper) is ours to reap now, not at the run's end:
    // a zombie holds a pid of the host's. ECHILD: its guest parent reaps it.
    siginfo_t si = {};
    rusage ru = {};
    if (p.pidfd >= 0 &&
        syscall(SYS_waitid, kPPidfd, p.pidfd, &si, WEXITED | WNOHANG | __WALL, &ru) == 0 &&
        si.si_pid != 0) {
      g.AddReapedCpu(absl::DurationFromTimeval(ru.ru_utime),
                     absl::DurationFromTimeval(ru.ru_stime));
    }
    // An ended parent's pending fork still pairs its orphaned child (SelectCaller).
    if (p.pending != nullptr || !Reaped(p)) {
      ++it;
      continue;
    }
    if (&g.current() == &p) g.set_current(&g.first());
    g.NotePeakRss(p.mem->peak_rss_bytes);
    it = procs.erase(it);
  }
}

int64_t LiveProcesses(GuestState& g) {
  ReleaseEnded(g);
  int64_t live = 0;
  for (auto& p : g.processes()) {
    // Until reaped (an ended parent kept for its pending fork may be).
    if (p.get() == &g.first() || !Reaped(*p)) ++live;
    if (p->pending != nullptr) ++live;
  }
  return live;
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  if (HasProcChildren()) {
    const std::string list = ReadSmall(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
    for (const char* p = list.c_str(); *p != '\0';) {
      char* end = nullptr;
      const long child = strtol(p, &end, 10);
      if (end == p) break;
      out.push_back(static_cast<pid_t>(child));
      p = end;
    }
    return out;
  }
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    int candidate = 0;
    if (!absl::SimpleAtoi(e->d_name, &candidate) || candidate <= 0) continue;
    if (StatParent(ReadSmall(absl::StrCat("/proc/", candidate, "/stat"))) == pid) {
      out.push_back(candidate);
    }
  }
  closedir(dir);
  return out;
}

std::vector<pid_t> GroupMembers(pid_t pgid) {
  std::vector<std::pair<pid_t, pid_t>> found;  // pid, parent
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return {};
  while (dirent* e = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0) continue;
    const std::vector<long long> f = StatFields(ReadSmall(absl::StrCat("/proc/", pid, "/stat")));
    // f[1]: ppid (field 4), f[2]: pgrp (field 5).
    if (f.size() > 2 && f[2] == pgid) found.emplace_back(pid, static_cast<pid_t>(f[1]));
  }
  closedir(dir);
  // Parents first: those whose parent is no member, then their children, level by level.
  std::vector<pid_t> out;
  const auto member = [&](pid_t pid) {
    for (const auto& [p, parent] : found) {
      if (p == pid) return true;
    }
    return false;
  };
  for (const auto& [pid, parent] : found) {
    if (!member(parent)) out.push_back(pid);
  }
  for (size_t i = 0; i < out.size(); ++i) {
    for (const auto& [pid, parent] : found) {
      if (parent == out[i] && pid != out[i]) out.push_back(pid);
    }
  }
  return out;
}

absl::Duration GroupCpu(pid_t pgid) {
  absl::Duration sum;
  for (pid_t pid : GroupMembers(pgid)) {
    // The first's own CPU is its clock's (RunBudget); its reaped children's is here.
    sum += ProcStatCpu(pid, /*own=*/pid != pgid, /*reaped=*/true);
  }
  return sum;
}

absl::Status BecomeSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return ErrnoStatus(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  }
  return absl::OkStatus();
}

void KillGroup(pid_t pgid) {
  if (pgid > 1) (void)kill(-pgid, SIGKILL);
}

pid_t ParentOf(pid_t pid) {
  const std::string status = ReadSmall(absl::StrCat("/proc/", pid, "/status"));
  const size_t at = status.find("\nPPid:");
  if (at == std::string::npos) return -1;
  return static_cast<pid_t>(strtol(status.c_str() + at + 6, nullptr, 10));
}

void ResolvePendingFork(GuestState& g, GuestProcess& parent) {
  if (parent.pending == nullptr) return;
  for (pid_t child : ChildrenOf(parent.pid)) {
    // One fork is pending at a time, so the one child the run does not know is its child.
    if (!Known(g, child)) {
      Adopt(g, parent, child);
      return;
    }
  }
  parent.pending.reset();  // the child already ended and was reaped
}

bool SelectCaller(GuestState& g, pid_t pid, uint32_t arch, int64_t nr,
                  const std::function<bool()>& still_waiting) {
  // pid 0: a state with no real process behind it (handler unit tests).
  if (g.first().pid == pid || g.first().pid == 0) {
    g.set_current(&g.first());
    return true;
  }
  if (GuestProcess* known = Find(g, pid); known != nullptr) {
    g.set_current(known);
    return true;
  }
  // A child's first notified call: its parent's pending fork is its state.
  // Why this order: a pid names a process only while it lives. The pidfd first, then its parent
  // from /proc, then the caller still waiting in its call: then both were the caller's.
  sys::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  const pid_t parent = ParentOf(pid);
  if (!still_waiting()) return false;
  if (GuestProcess* p = Find(g, parent); p != nullptr && p->pending != nullptr) {
    g.set_current(Adopt(g, *p, pid, std::move(pidfd)));
    return true;
  }
  // Its parent ended before the child was seen (the child was re-parented): the one ended
  // process with a fork pending is its parent. Two of them cannot be told apart.
  GuestProcess* orphaned_by = nullptr;
  int candidates = 0;
  for (auto& p : g.processes()) {
    if (p->pending != nullptr && HasExited(*p)) {
      orphaned_by = p.get();
      ++candidates;
    }
  }
  if (candidates == 1) {
    g.set_current(Adopt(g, *orphaned_by, pid, std::move(pidfd)));
    return true;
  }
  // Why a violation: only the run's processes share its listener, and each was a fork the
  // supervisor saw; a caller it cannot pair would run with no state of its own.
  g.Stop(Outcome::kPolicyViolation,
         absl::StrFormat("a process of the run could not be paired with its fork (%d "
                         "candidate parents)",
                         candidates),
         Violation{SyscallName(arch, nr), nr, "unpaired child process"});
  return false;
}

}  // namespace zerocell::sandbox::supervisor
