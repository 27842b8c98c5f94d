// Engine::Prestart: spawn the loader, take its handshake and listener, wait for it to park.
#include <fcntl.h>
#include <linux/audit.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "sandbox/engine.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/launch/spawner.h"
#include "sandbox/launch/spec_builder.h"
#include "sandbox/loader_wait.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox {
namespace {

const char* StepName(launch::LoaderStep step) {
  switch (step) {
    case launch::LoaderStep::kSignals:
      return "reset signals";
    case launch::LoaderStep::kPrctl:
      return "prctl";
    case launch::LoaderStep::kRlimits:
      return "apply rlimits";
    case launch::LoaderStep::kReadSpec:
      return "read launch spec";
    case launch::LoaderStep::kMapSegments:
      return "map program segments";
    case launch::LoaderStep::kMapStack:
      return "map stack";
    case launch::LoaderStep::kDropPrivileges:
      return "drop privileges";
    case launch::LoaderStep::kUnmapVdso:
      return "unmap vdso";
    case launch::LoaderStep::kUnmapExecStack:
      return "unmap the exec stack";
    case launch::LoaderStep::kDropCapabilities:
      return "drop capabilities";
    case launch::LoaderStep::kCloseFds:
      return "close descriptors";
    case launch::LoaderStep::kInstallFilter:
      return "install seccomp filter";
    case launch::LoaderStep::kHandoff:
      return "hand off listener";
    case launch::LoaderStep::kMapVdso:
      return "map the guest's vdso and clock page";
    case launch::LoaderStep::kNone:
      break;
  }
  return "unknown step";
}

// AwaitLoader for prestart: a loader that ends here failed, which is INTERNAL for the caller.
absl::Status AwaitPrestart(int fd, const sys::Process& process, const CancelToken* cancel,
                           absl::Time deadline, const char* what) {
  absl::Status s = AwaitLoader(fd, process, cancel ? cancel->fd() : -1, deadline, what);
  if (absl::IsAborted(s)) return absl::InternalError(s.message());
  return s;
}

// Takes the loader's Ready message and the listener it carries.
absl::Status ReceiveHandshake(int control, launch::Ready* ready, sys::UniqueFd* listener) {
  iovec iov = {ready, sizeof(*ready)};
  alignas(cmsghdr) char control_buf[CMSG_SPACE(sizeof(int))];
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control_buf;
  msg.msg_controllen = sizeof(control_buf);
  ssize_t got;
  do {
    got = recvmsg(control, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return ErrnoStatus(errno, "recvmsg handshake");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof(fd));
      listener->reset(fd);
    }
  }
  if (got != static_cast<ssize_t>(sizeof(*ready)) || ready->magic != launch::kReadyMagic) {
    return absl::InternalError("zerocell-loader exited before it parked");
  }
  if (ready->step != 0) {
    const auto step = static_cast<launch::LoaderStep>(ready->step);
    return absl::InternalError(
        absl::StrCat("zerocell-loader failed to ", StepName(step), ": ", strerror(ready->error)));
  }
  if (!listener->valid()) return absl::InternalError("loader sent no seccomp listener");
  return absl::OkStatus();
}

// Takes the park read from the listener. The loader, not a guest, made it (no guest code has
// run yet), but its form is still checked: the release writes to the buffer it names.
absl::Status ReceivePark(int listener, pid_t pid, uint64_t* id, uint64_t* mailbox) {
  seccomp_notif req = {};
  int rc;
  do {
    rc = seccomp_notify_receive(listener, &req);
  } while (rc == -EINTR);
  if (rc != 0) return ErrnoStatus(-rc, "receive the loader's park read");
  const seccomp_data& d = req.data;
  if (req.pid != static_cast<uint32_t>(pid) || d.arch != AUDIT_ARCH_X86_64 || d.nr != SYS_read ||
      d.args[0] != static_cast<uint64_t>(launch::kControlFd) ||
      d.args[2] != sizeof(launch::GoHeader)) {
    return absl::InternalError(
        absl::StrCat("zerocell-loader parked in an unexpected call: ", SyscallName(d.arch, d.nr)));
  }
  *id = req.id;
  *mailbox = d.args[1];
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ParkedSandbox>> Engine::Prestart(const Image& image,
                                                                absl::Time deadline,
                                                                const CancelToken* cancel) const {
  if (cancel != nullptr) RETURN_IF_ERROR(cancel->status());
  const absl::Time start = absl::Now();
  launch::SpecialRanges special;
  {
    absl::MutexLock lock(&special_mu_);
    special = special_;
  }
  const bool fault_cpuid = host::ShouldFaultCpuid(*host_, image.instruction_use());
  const uint32_t flags = (host::ShouldDropPrivileges(*host_) ? launch::kSpecDropPrivileges : 0) |
                         (fault_cpuid ? launch::kSpecFaultCpuid : 0);
  ASSIGN_OR_RETURN(
      std::string spec,
      launch::BuildParkSpec(image.layout(), image.clean_pages(), policy_->bpf(), getpid(), special,
                            flags,
                            image.interpreter() == nullptr
                                ? launch::InterpreterLayout{}
                                : launch::InterpreterLayout{&image.interpreter()->layout(),
                                                            &image.interpreter()->clean_pages()}));
  ASSIGN_OR_RETURN(sys::UniqueFd spec_fd, sys::SealedMemfd("zerocell-spec", spec));
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return ErrnoStatus(errno, "socketpair");
  }
  sys::UniqueFd control(pair[0]), child_control(pair[1]);
  ASSIGN_OR_RETURN(sys::Process process,
                   launch::SpawnLoader(loader_path_,
                                       {child_control.get(), image.memfd(), spec_fd.get(),
                                        image.interpreter() ? image.interpreter()->memfd() : -1},
                                       host::ShouldFixAddresses(*host_)));
  child_control.reset();
  spec_fd.reset();
  auto sandbox =
      std::unique_ptr<ParkedSandbox>(new ParkedSandbox(std::move(process), image.sha256_hex()));
  sandbox->cpuid_faulting_ = fault_cpuid;
  const sys::Process& child = sandbox->process_;

  RETURN_IF_ERROR(AwaitPrestart(control.get(), child, cancel, deadline, "started"));
  RETURN_IF_ERROR(ReceiveHandshake(control.get(), &sandbox->ready_, &sandbox->listener_));
  if (sandbox->ready_.special.vdso != 0 && sandbox->ready_.special.vdso != special.vdso) {
    absl::MutexLock lock(&special_mu_);
    special_ = sandbox->ready_.special;
  }
  RETURN_IF_ERROR(AwaitPrestart(sandbox->listener_.get(), child, cancel, deadline, "parked"));
  RETURN_IF_ERROR(
      ReceivePark(sandbox->listener_.get(), child.pid(), &sandbox->park_id_, &sandbox->mailbox_));
  // Opened now so that a request does not pay for it.
  const std::string proc = absl::StrCat("/proc/", child.pid(), "/");
  sandbox->statm_.reset(open((proc + "statm").c_str(), O_RDONLY | O_CLOEXEC));
  sandbox->status_.reset(open((proc + "status").c_str(), O_RDONLY | O_CLOEXEC));
  sandbox->parked_at_ = absl::Now();
  sandbox->prestart_time_ = sandbox->parked_at_ - start;
  return sandbox;
}

bool ParkedSandbox::Alive() const {
  pollfd pfd = {process_.pidfd(), POLLIN, 0};
  return poll(&pfd, 1, 0) == 0;
}

}  // namespace zerocell::sandbox
