// The supervision loop: deadlines, cancellation and the process around the Dispatcher.
#include "sandbox/supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/errno_status.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/supervisor/dispatcher.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/supervisor/memory_accounting.h"
#include "sandbox/supervisor/notifier.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/supervisor/run_budget.h"
#include "sandbox/sys/syscalls.h"
#include "sandbox/vdso/clock_page.h"

namespace zerocell::sandbox::supervisor {
namespace {

// Linux 6.6+: the woken side runs on the waker's CPU (Debian 12's headers predate it).
constexpr unsigned long kIoctlNotifSetFlags = _IOW('!', 4, uint64_t);
constexpr uint64_t kNotifSyncWakeUp = 1;

// Waits on the listener, the process, the cancel fd and a pending call's descriptor, with the
// wall and CPU deadlines; the Dispatcher serves the notifications.
class Loop {
 public:
  Loop(SuperviseParams& p, GuestState& guest, const RunBudget& budget, RunGroup& group)
      : p_(p),
        guest_(guest),
        group_(group),
        budget_(budget),
        notifier_(p.listener.get()),
        dispatcher_(notifier_, guest) {}

  absl::StatusOr<SuperviseResult> Run() {
    const absl::Duration cpu_limit = budget_.cpu_limit();
    absl::Time next_cpu_check = absl::Now();
    bool listener_open = true;
    for (;;) {
      if (guest_.stop().has_value() || guest_.cancelled()) break;
      const absl::Time now = absl::Now();
      if (now >= p_.wall_deadline) {
        guest_.EndFor(RunBudget::Verdict::kTimeout);
        break;
      }
      if (now >= next_cpu_check) {
        // The run's CPU is the guest's and this thread's work for it. They take turns (the
        // guest waits while a handler runs), so together they never run faster than wall time:
        // checking again once the remaining budget has passed is exact enough and costs nothing
        // in between. Handlers doing long work check the budget themselves.
        const absl::Duration used = budget_.GuestCpu() + budget_.SupervisorCpu();
        if (used >= cpu_limit) {
          guest_.EndFor(RunBudget::Verdict::kCpuLimit);
          break;
        }
        // Several processes run at once: their CPU grows that many times faster than wall time.
        next_cpu_check = now + (cpu_limit - used) / std::max<int64_t>(1, LiveProcesses(guest_));
      }
      const absl::Duration wait = std::min(p_.wall_deadline, next_cpu_check) - now;
      // Reads waiting on a stream (their processes are blocked in them) add its descriptor.
      // (One pending call cannot grow into many: a run of one process pays nothing for this.)
      if (dispatcher_.pending_count() > 1) dispatcher_.DropGoneCallers();
      fds_.assign({{listener_open ? p_.listener.get() : -1, POLLIN, 0},
                   {p_.process->pidfd(), POLLIN, 0},
                   {p_.cancel_fd, POLLIN, 0}});
      for (size_t i = 0; i < dispatcher_.pending_count(); ++i) {
        fds_.push_back({dispatcher_.pending_fd(i), POLLIN, 0});
      }
      pollfd* fds = fds_.data();
      timespec ts = absl::ToTimespec(std::max(wait, absl::ZeroDuration()));
      int n = ppoll(fds, fds_.size(), &ts, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "ppoll");
      }
      if (fds[2].revents & POLLIN) {
        cancelled_ = true;
        break;
      }
      size_t ready = 3;
      while (ready < fds_.size() && fds[ready].revents == 0) ++ready;
      if (ready < fds_.size()) {
        if (absl::Status s = dispatcher_.RetryPending(ready - 3); !s.ok()) return s;
        continue;
      }
      // The run ends with its first process, whatever the others still ask.
      if (fds[1].revents & POLLIN) break;
      if (fds[0].revents & POLLIN) {
        if (absl::Status s = dispatcher_.HandleNext(); !s.ok()) return s;
        continue;
      }
      if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) listener_open = false;
    }
    return Finish();
  }

 private:
  absl::StatusOr<SuperviseResult> Finish() {
    cancelled_ = cancelled_ || guest_.cancelled();
    const bool stopped = guest_.stop().has_value() || cancelled_;
    if (stopped) p_.process->Kill();
    // The run ends with its first process: every other one ends with it, also those the
    // supervisor never saw (a child that made no notified call, a fork not paired yet).
    rusage others = {};
    if (p_.manifest->max_processes() > 1) {
      group_.Kill();
      group_.ReapOthers(&others);
    }
    int status = 0;
    rusage usage = {};
    if (absl::Status s = p_.process->Reap(&status, &usage); !s.ok()) return s;

    SuperviseResult out;
    out.cancelled = cancelled_;
    Result& r = out.result;
    r.usage.user_cpu = absl::DurationFromTimeval(usage.ru_utime) +
                       absl::DurationFromTimeval(others.ru_utime) + guest_.reaped_user_cpu();
    r.usage.system_cpu = absl::DurationFromTimeval(usage.ru_stime) +
                         absl::DurationFromTimeval(others.ru_stime) + guest_.reaped_system_cpu();
    r.usage.supervisor_cpu = budget_.SupervisorCpu();
    r.usage.peak_memory_bytes = guest_.PeakRssBytes();
    r.usage.notified_syscalls = dispatcher_.notified();
    r.usage.peak_processes = guest_.peak_processes();
    r.process_limit_exceeded = guest_.process_limit_hit();
    if (guest_.stop().has_value()) {
      r.outcome = guest_.stop()->outcome;
      r.detail = guest_.stop()->detail;
      r.violation = guest_.stop()->violation;
    } else if (WIFEXITED(status)) {
      r.outcome = Outcome::kExited;
      r.exit_code = WEXITSTATUS(status);
      r.detail = absl::StrCat("exited with code ", r.exit_code);
    } else if (WIFSIGNALED(status)) {
      const int sig = WTERMSIG(status);
      const absl::Duration cpu = r.usage.user_cpu + r.usage.system_cpu;
      if (sig == SIGXCPU || (sig == SIGKILL && cpu >= p_.manifest->cpu_limit())) {
        r.outcome = Outcome::kCpuLimit;  // the RLIMIT_CPU backstop fired first
        r.detail = absl::StrCat("CPU limit of ", absl::FormatDuration(p_.manifest->cpu_limit()),
                                " reached (the guest's CPU and the supervisor's work for it)");
      } else {
        r.outcome = Outcome::kSignaled;
        r.term_signal = sig;
        r.detail = absl::StrCat("killed by signal ", sig, " (", strsignal(sig), ")");
      }
    }
    r.channels = guest_.TakeChannelResults();
    r.scratch = guest_.ScratchResults();
    r.memory_etag = guest_.memory_etag();
    return out;
  }

  SuperviseParams& p_;
  GuestState& guest_;
  RunGroup& group_;
  const RunBudget& budget_;
  SeccompNotifier notifier_;
  Dispatcher dispatcher_;
  std::vector<pollfd> fds_;
  bool cancelled_ = false;
};

sys::UniqueFd OpenProc(pid_t pid, const char* file) {
  return sys::UniqueFd(open(absl::StrCat("/proc/", pid, "/", file).c_str(), O_RDONLY | O_CLOEXEC));
}

// The mappings every guest starts with, in address order: the image, the loader, the stack.
std::vector<AddressRange> StartingMappings(const SuperviseParams& p, uint64_t loader_end) {
  std::vector<AddressRange> out = p.image_segments;
  out.push_back({vdso::kClockPageAddr, loader_end});  // the guest's vDSO, then the loader
  out.push_back({launch::kStackTop - p.stack_bytes, launch::kStackTop});
  std::sort(out.begin(), out.end(),
            [](const AddressRange& a, const AddressRange& b) { return a.start < b.start; });
  return out;
}

}  // namespace

absl::StatusOr<SuperviseResult> Supervise(SuperviseParams params) {
  // From here on this thread works for this run only; its CPU is the run's from the guest's first
  // instruction (StartGuest below).
  RunBudget budget(params.process->pid(), params.manifest->cpu_limit(), params.wall_deadline,
                   params.cancel_fd);
  // Whatever this returns, no process of the run outlives it.
  RunGroup group(*params.process, params.manifest->max_processes() > 1);
  GuestState guest(*params.manifest, std::make_unique<ProcessMemory>(params.process->pid()),
                   params.process->pidfd());
  guest.set_budget(&budget);
  if (params.fs != nullptr) guest.set_fs(std::move(params.fs));
  if (absl::Status opened = guest.Open(params.inputs); !opened.ok()) {
    params.process->Kill();
    int status;
    rusage usage;
    (void)params.process->Reap(&status, &usage);
    return opened;
  }
  MemoryAccounting& mem = guest.mem();
  mem.statm = params.proc_statm.valid() ? std::move(params.proc_statm)
                                        : OpenProc(params.process->pid(), "statm");
  mem.status = std::move(params.proc_status);  // SamplePeakRss opens it when not given
  mem.pid = params.process->pid();
  guest.first().pid = params.process->pid();
  guest.set_observer(params.observer);
  mem.brk = params.initial_brk;
  mem.loader_end = (params.initial_brk + launch::kPageSize - 1) & ~(launch::kPageSize - 1);
  mem.stack_bytes = params.stack_bytes;
  mem.tables_baseline = PageTablesFor(StartingMappings(params, mem.loader_end));
  mem.code = params.image_code;
  // The loader's mappings and, right below them, the guest's vDSO and its clock page: never
  // moved or grown.
  mem.code.push_back({vdso::kClockPageAddr, mem.loader_end});
  // Only a run of one process reads the clock through its vDSO (spec_builder.cc).
  if (params.manifest->max_processes() == 1) guest.set_clock_page(vdso::kClockPageAddr);
  // What the loader itself still maps is not the guest's: measure it once, before the guest runs
  // (this also records the start-up resident size, the peak of a guest that dies early).
  const int64_t vm = VmBytes(mem);
  const uint64_t guest_and_dropped = params.guest_bytes + params.release_unmap_bytes;
  if (vm > 0 && static_cast<uint64_t>(vm) > guest_and_dropped) {
    mem.overhead_bytes = static_cast<uint64_t>(vm) - guest_and_dropped;
  }
  // Guest and supervisor hand the CPU to each other on every notified call (Linux 6.6+).
  if (params.sync_wake_up) {
    (void)ioctl(params.listener.get(), kIoctlNotifSetFlags, kNotifSyncWakeUp);
  }
  if (params.release) {
    if (absl::Status released = params.release(); !released.ok()) {
      params.process->Kill();
      int status;
      rusage usage;
      (void)params.process->Reap(&status, &usage);
      if (!absl::IsDeadlineExceeded(released)) return released;
      // The request's own timeout, as at any other moment: a result, not an error.
      SuperviseResult out;
      out.result.outcome = Outcome::kTimeout;
      out.result.detail =
          absl::StrCat("wall-clock timeout of ", absl::FormatDuration(params.manifest->timeout()),
                       " reached before the guest started");
      out.result.channels = guest.TakeChannelResults();
      out.result.scratch = guest.ScratchResults();
      return out;
    }
  }
  // Why not from the start: opening channels and the release are what every run costs the server;
  // counted, they made a busy guest's default CPU limit (= its timeout) end it before its wall
  // timeout, as CPU_LIMIT instead of TIMEOUT.
  if (params.manifest->max_processes() > 1) {
    // The run's CPU is all of its processes': the first one's clock (above) plus what it reaped
    // and what the others used so far (/proc, clock-tick resolution).
    budget.set_other_cpu([&guest] {
      return GroupCpu(guest.first().pid) + guest.reaped_user_cpu() + guest.reaped_system_cpu();
    });
  }
  budget.StartGuest();
  Loop loop(params, guest, budget, group);
  return loop.Run();
}

}  // namespace zerocell::sandbox::supervisor
