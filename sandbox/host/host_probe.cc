// The host probe: runs the experiments of probe_children.h and reads the kernel's reports.
#include "sandbox/host/host_probe.h"

#include <cpuid.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sandbox/host/probe_children.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::host {
namespace {

constexpr absl::Duration kChildTimeout = absl::Seconds(2);
// Linux 6.6+ (Debian 12's headers predate it): the woken side runs on the waker's CPU.
constexpr unsigned long kIoctlNotifSetFlags = _IOW('!', 4, uint64_t);
constexpr uint64_t kNotifSyncWakeUp = 1;

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

int ReadIntFile(const char* path) {
  int value = -1;
  std::string text = ReadSmallFile(path);
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) return -1;
  return value;
}

// "Key:\tvalue" from /proc/self/status.
std::string StatusField(const std::string& status, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, ":")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

void ReadIdentity(HostCapabilities& c) {
  utsname u;
  if (uname(&u) == 0) c.kernel_release = u.release;
  c.uid = getuid();
  c.euid = geteuid();
  c.gid = getgid();
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) == 0) {
    c.cap_effective = (uint64_t{data[1].effective} << 32) | data[0].effective;
  }
  c.no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
  const std::string status = ReadSmallFile("/proc/self/status");
  if (!absl::SimpleAtoi(StatusField(status, "Seccomp_filters"), &c.seccomp_filters)) {
    c.seccomp_filters = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2 ? 1 : 0;
  }
  c.randomize_va_space = ReadIntFile("/proc/sys/kernel/randomize_va_space");
  c.ptrace_scope = ReadIntFile("/proc/sys/kernel/yama/ptrace_scope");
  c.core_pattern_pipe = absl::StartsWith(ReadSmallFile("/proc/sys/kernel/core_pattern"), "|");
}

void ProbeKernelFeatures(HostCapabilities& c) {
  {
    sys::UniqueFd fd(memfd_create("zerocell-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    c.memfd_seal =
        fd.valid() && fcntl(fd.get(), F_ADD_SEALS,
                            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0
            ? Probed::kYes
            : Probed::kNo;
  }
  const int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
  if (fd >= 0) {
    const bool closed = syscall(SYS_close_range, fd, fd, 0) == 0 && fcntl(fd, F_GETFD) < 0;
    if (!closed) close(fd);
    c.close_range = closed ? Probed::kYes : Probed::kNo;
  } else {
    c.close_range = Probed::kUnknown;
  }
  c.vsyscall = VsyscallMode::kNone;
  for (absl::string_view line : absl::StrSplit(ReadSmallFile("/proc/self/maps"), '\n')) {
    if (!absl::EndsWith(line, "[vsyscall]")) continue;
    const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    const bool readable = parts.size() > 1 && absl::StartsWith(parts[1], "r");
    c.vsyscall = readable ? VsyscallMode::kEmulate : VsyscallMode::kXonly;
  }
}

// Runs one experiment child to its end; its wait status, or nullopt when it could not run.
std::optional<int> RunChild(int (*fn)(void*), void* arg) {
  absl::StatusOr<ProbeChild> child = ProbeChild::Start(fn, arg, ProbeChild::Mode::kVfork);
  if (!child.ok()) return std::nullopt;
  absl::StatusOr<int> status = child->Wait(kChildTimeout);
  if (!status.ok()) return std::nullopt;
  return *status;
}

bool KilledBy(const std::optional<int>& status, int sig) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == sig;
}
bool ExitedWith(const std::optional<int>& status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

// Trapped when the instruction kills the child with SIGSEGV after the control was accepted.
Probed TrapResult(const std::optional<int>& status) {
  if (!status) return Probed::kUnknown;
  return KilledBy(status, SIGSEGV) ? Probed::kYes : Probed::kNo;
}

ForeignAbi ForeignResult(const std::optional<int>& status) {
  if (!status || ExitedWith(status, kSetupRefused)) return ForeignAbi::kUnknown;
  if (ExitedWith(status, kFilterMarker)) return ForeignAbi::kReachesFilter;
  if (WIFSIGNALED(*status)) return ForeignAbi::kFaults;
  return ForeignAbi::kOther;
}

bool HasRdtscp() {
  unsigned a, b, c, d;
  return __get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27));
}

void ProbeDeterminism(HostCapabilities& c) {
  c.tsc_trap = TrapResult(RunChild(TscChild, nullptr));
  int marker = 1;
  c.rdtscp_trap = HasRdtscp() ? TrapResult(RunChild(TscChild, &marker)) : Probed::kUnknown;
  c.cpuid_faulting = TrapResult(RunChild(CpuidFaultChild, nullptr));
  const std::optional<int> persona = RunChild(PersonalityChild, nullptr);
  c.fixed_addresses = !persona                    ? Probed::kUnknown
                      : ExitedWith(persona, kRan) ? Probed::kYes
                                                  : Probed::kNo;
  absl::StatusOr<std::string> marker_filter = CompileProbeFilter(ProbeFilter::kForeignAbiMarker);
  if (marker_filter.ok()) {
    FilterArgs args = {&*marker_filter};
    c.int80 = ForeignResult(RunChild(Int80Child, &args));
    c.x32 = ForeignResult(RunChild(X32Child, &args));
  }
}

struct NotifyFindings {
  Probed notification = Probed::kNo, cont = Probed::kUnknown, sync = Probed::kUnknown,
         addfd = Probed::kUnknown, process_vm = Probed::kUnknown, proc_mem = Probed::kUnknown,
         pidfd = Probed::kUnknown;
  std::string error;
  bool AllNeeded() const {
    return notification == Probed::kYes && cont == Probed::kYes && process_vm == Probed::kYes;
  }
};

bool Ready(int fd, int timeout_ms) {
  pollfd p = {fd, POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n == 1 && (p.revents & POLLIN);
}

constexpr uint64_t kCanary = 0x5a43'7a63'7072'6f62;

// The memory checks on a child the way the supervisor reaches a sandbox: cross-process reads and
// writes of `canary`, which the child's copy of the caller's frame holds at the same address.
void ProbeMemoryAccess(pid_t pid, const volatile uint64_t* canary, NotifyFindings& f) {
  uint64_t got = 0;
  const uint64_t addr = reinterpret_cast<uint64_t>(canary);
  const bool read_ok =
      sys::ReadProcessMemory(pid, addr, &got, sizeof(got)) == sizeof(got) && got == kCanary;
  const bool write_ok = sys::WriteProcessMemory(pid, addr, &got, sizeof(got)) == sizeof(got);
  f.process_vm = read_ok && write_ok ? Probed::kYes : Probed::kNo;
  sys::UniqueFd mem(open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  got = 0;
  f.proc_mem = mem.valid() &&
                       pread(mem.get(), &got, sizeof(got), static_cast<off_t>(addr)) ==
                           static_cast<ssize_t>(sizeof(got)) &&
                       got == kCanary
                   ? Probed::kYes
                   : Probed::kNo;
}

NotifyFindings RunNotifyExperiment(const std::string& bpf, bool drop) {
  NotifyFindings f;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    f.error = absl::StrCat("pipe2: ", strerror(errno));
    return f;
  }
  sys::UniqueFd report_rd(p[0]), report_wr(p[1]);
  // In this frame, which exists before the fork: the child's copy holds it at the same address.
  volatile uint64_t canary = kCanary;
  NotifyArgs args = {&bpf, report_wr.get(), drop, getpid()};
  absl::StatusOr<ProbeChild> child =
      ProbeChild::Start(NotifyChild, &args, ProbeChild::Mode::kForkSharingFds);
  if (!child.ok()) {
    f.pidfd = Probed::kNo;
    f.error = std::string(child.status().message());
    return f;
  }
  f.pidfd = sys::PidfdSendSignal(child->pidfd(), 0) == 0 ? Probed::kYes : Probed::kNo;
  int32_t report = 0;
  if (!Ready(report_rd.get(), 2000) || read(report_rd.get(), &report, sizeof(report)) != 4) {
    f.error = "the probe child did not report";
    return f;
  }
  if (report < 0) {
    f.error = drop ? absl::StrCat("privilege drop: ", strerror(-report))
                   : absl::StrCat("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): ", strerror(-report));
    return f;
  }
  sys::UniqueFd listener(report);  // the child's listener, in the descriptor table it shares
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  if (seccomp_notify_alloc(&req, &resp) != 0) return f;
  for (int call = 0; call < 2; ++call) {
    memset(req, 0, sizeof(*req));
    if (!Ready(listener.get(), 2000) || seccomp_notify_receive(listener.get(), req) != 0 ||
        req->data.nr != SYS_getppid) {
      f.error = "no notification arrived for a notified call";
      break;
    }
    if (call == 0) {
      f.notification = Probed::kYes;
      f.sync = ioctl(listener.get(), kIoctlNotifSetFlags, kNotifSyncWakeUp) == 0 ? Probed::kYes
                                                                                 : Probed::kNo;
      seccomp_notif_addfd add = {req->id, 0, static_cast<uint32_t>(report_rd.get()), 0, O_CLOEXEC};
      const int added = ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &add);
      f.addfd = added >= 0 ? Probed::kYes : Probed::kNo;
      if (added >= 0) close(added);  // it landed in the table this process shares
      ProbeMemoryAccess(child->pid(), &canary, f);
    }
    memset(resp, 0, sizeof(*resp));
    resp->id = req->id;
    resp->val = call == 0 ? kNotifyAnswer : 0;
    resp->flags = call == 0 ? 0 : SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (seccomp_notify_respond(listener.get(), resp) != 0) break;
  }
  seccomp_notify_free(req, resp);
  absl::StatusOr<int> status = child->Wait(kChildTimeout);
  if (f.notification == Probed::kYes && status.ok() && WIFEXITED(*status)) {
    f.cont = WEXITSTATUS(*status) == kRan ? Probed::kYes : Probed::kNo;
  }
  return f;
}

void ProbeNotification(HostCapabilities& c) {
  absl::StatusOr<std::string> bpf = CompileProbeFilter(ProbeFilter::kNotifyGetppid);
  if (!bpf.ok()) {
    c.user_notification = Probed::kNo;
    c.notification_error = std::string(bpf.status().message());
    return;
  }
  NotifyFindings f;
  const bool try_drop =
      c.euid == 0 && HasCap(c, kCapSetuid) && HasCap(c, kCapSetgid) && HasCap(c, kCapSysPtrace);
  if (try_drop) {
    f = RunNotifyExperiment(*bpf, /*drop=*/true);
    c.privilege_drop = f.AllNeeded() ? Probed::kYes : Probed::kNo;
  } else if (c.euid == 0) {
    c.privilege_drop = Probed::kNo;
  }
  if (!try_drop || !f.AllNeeded()) f = RunNotifyExperiment(*bpf, /*drop=*/false);
  c.user_notification = f.notification;
  c.notif_continue = f.cont;
  c.notif_sync_wake_up = f.sync;
  c.notif_addfd = f.addfd;
  c.process_vm = f.process_vm;
  c.proc_mem = f.proc_mem;
  c.pidfd = f.pidfd;
  c.notification_error = f.error;
}

}  // namespace

HostCapabilities ProbeHost() {
  const absl::Time start = absl::Now();
  HostCapabilities c;
  ReadIdentity(c);
  ProbeKernelFeatures(c);
  ProbeNotification(c);
  if (c.pidfd == Probed::kYes) ProbeDeterminism(c);  // every experiment needs a pidfd child
  c.probe_time = absl::Now() - start;
  return c;
}

}  // namespace zerocell::sandbox::host
