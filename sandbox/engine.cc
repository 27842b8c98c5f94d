// Engine::Run: spec -> spawn -> handshake -> supervise -> result; see engine.h.
#include "sandbox/engine.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/launch/spawner.h"
#include "sandbox/launch/spec_builder.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/status_macros.h"
#include "sandbox/supervisor/channel.h"
#include "sandbox/supervisor/supervisor.h"
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
    case launch::LoaderStep::kCloseFds:
      return "close descriptors";
    case launch::LoaderStep::kInstallFilter:
      return "install seccomp filter";
    case launch::LoaderStep::kHandoff:
      return "hand off listener";
    case launch::LoaderStep::kNone:
      break;
  }
  return "unknown step";
}

// Channel results for a guest that never ran (zero counters, etag of nothing).
std::vector<ChannelResult> UntouchedChannels(const Manifest& manifest) {
  std::vector<ChannelResult> out;
  for (const ChannelSpec& spec : manifest.channels()) {
    supervisor::Channel channel(spec);
    out.push_back(channel.TakeResult());
  }
  return out;
}

struct Handshake {
  launch::Ready ready = {};
  sys::UniqueFd listener;
};

enum class WaitResult { kReady, kTimeout, kCancelled };

// Waits for the loader's Ready message (and the listener fd it carries) until the deadline.
absl::StatusOr<WaitResult> AwaitHandshake(int control, const CancelToken* cancel,
                                          absl::Time deadline, Handshake* out) {
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return WaitResult::kTimeout;
    pollfd fds[2] = {{control, POLLIN, 0}, {cancel ? cancel->fd() : -1, POLLIN, 0}};
    timespec ts = absl::ToTimespec(left);
    int n = ppoll(fds, 2, &ts, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys::ErrnoStatus(errno, "ppoll handshake");
    if (fds[1].revents & POLLIN) return WaitResult::kCancelled;
    if (fds[0].revents == 0) continue;
    iovec iov = {&out->ready, sizeof(out->ready)};
    alignas(cmsghdr) char control_buf[CMSG_SPACE(sizeof(int))];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control_buf;
    msg.msg_controllen = sizeof(control_buf);
    ssize_t got = recvmsg(control, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return sys::ErrnoStatus(errno, "recvmsg handshake");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        out->listener.reset(fd);
      }
    }
    if (got != static_cast<ssize_t>(sizeof(out->ready)) ||
        out->ready.magic != launch::kReadyMagic) {
      return absl::InternalError("zerocell-loader exited before the guest started");
    }
    return WaitResult::kReady;
  }
}

std::vector<std::string> Nondeterminism(uint32_t flags) {
  std::vector<std::string> out;
  if (!(flags & launch::kReadyTscTrapped)) {
    out.push_back(
        "rdtsc: this host cannot trap it (PR_SET_TSC failed); the guest can read the "
        "host's time stamp counter");
  }
  if (!(flags & launch::kReadyVdsoRemoved)) {
    out.push_back(
        "vdso: this host did not let the loader unmap the vDSO/vvar pages; the guest "
        "can read the host clock from memory");
  }
  out.push_back(
      "cpuid: the guest sees this host's CPU model and features (stable on this host, "
      "different across hosts)");
  return out;
}

std::string DefaultLoaderPath() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "zerocell-loader";
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "zerocell-loader";
}

}  // namespace

CancelToken::CancelToken() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
CancelToken::~CancelToken() {
  if (fd_ >= 0) close(fd_);
}
void CancelToken::Cancel() {
  uint64_t one = 1;
  (void)!write(fd_, &one, sizeof(one));
}

Engine::Engine(std::string loader_path, std::unique_ptr<CompiledPolicy> policy)
    : loader_path_(std::move(loader_path)), policy_(std::move(policy)) {}
Engine::~Engine() = default;

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  std::string loader = options.loader_path.empty() ? DefaultLoaderPath() : options.loader_path;
  if (access(loader.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("zerocell-loader not executable at ", loader, ": ", strerror(errno)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CompiledPolicy> policy, CompiledPolicy::Build());
  return std::unique_ptr<Engine>(new Engine(std::move(loader), std::move(policy)));
}

absl::StatusOr<Result> Engine::Run(const Image& image, const Manifest& manifest,
                                   const RunOptions& options) const {
  const CancelToken* cancel = options.cancel;
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + manifest.timeout();
  launch::SpecialRanges special;
  {
    absl::MutexLock lock(&special_mu_);
    special = special_;
  }
  ASSIGN_OR_RETURN(
      launch::BuiltSpec spec,
      launch::BuildLaunchSpec(image.layout(), manifest, policy_->bpf(), getpid(), special));
  ASSIGN_OR_RETURN(sys::UniqueFd spec_fd, sys::SealedMemfd("zerocell-spec", spec.bytes));
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return sys::ErrnoStatus(errno, "socketpair");
  }
  sys::UniqueFd control(pair[0]), child_control(pair[1]);
  ASSIGN_OR_RETURN(
      sys::Process process,
      launch::SpawnLoader(loader_path_, {child_control.get(), image.memfd(), spec_fd.get()}));
  child_control.reset();
  spec_fd.reset();

  Handshake handshake;
  ASSIGN_OR_RETURN(WaitResult waited, AwaitHandshake(control.get(), cancel, deadline, &handshake));
  if (waited == WaitResult::kCancelled) return absl::CancelledError("run cancelled");
  const absl::Duration startup = absl::Now() - start;
  Result result;
  if (waited == WaitResult::kTimeout || handshake.ready.step != 0) {
    // The guest never ran: a timeout during start-up, or a loader step that failed.
    process.Kill();
    int status;
    rusage usage;
    RETURN_IF_ERROR(process.Reap(&status, &usage));
    const auto step = static_cast<launch::LoaderStep>(handshake.ready.step);
    const int error = handshake.ready.error;
    if (waited == WaitResult::kTimeout) {
      result.outcome = Outcome::kTimeout;
      result.detail =
          absl::StrCat("wall-clock timeout of ", absl::FormatDuration(manifest.timeout()),
                       " reached before the guest started");
    } else if (error == ENOMEM && (step == launch::LoaderStep::kMapSegments ||
                                   step == launch::LoaderStep::kMapStack)) {
      result.outcome = Outcome::kMemoryLimit;
      result.detail = absl::StrFormat("memory limit %d bytes: the loader could not %s",
                                      manifest.memory_bytes(), StepName(step));
    } else {
      return absl::InternalError(
          absl::StrCat("zerocell-loader failed to ", StepName(step), ": ", strerror(error)));
    }
    result.channels = UntouchedChannels(manifest);
    result.usage.wall = absl::Now() - start;
    return result;
  }

  if (handshake.ready.special.vdso != 0 && handshake.ready.special.vdso != special.vdso) {
    absl::MutexLock lock(&special_mu_);
    special_ = handshake.ready.special;
  }
  supervisor::SuperviseParams params;
  params.manifest = &manifest;
  params.process = &process;
  params.listener = std::move(handshake.listener);
  params.cancel_fd = cancel ? cancel->fd() : -1;
  params.observer = options.observer;
  params.wall_deadline = deadline;
  params.initial_brk = handshake.ready.brk;
  params.guest_bytes = spec.image_bytes + spec.stack_bytes;
  params.stack_bytes = spec.stack_bytes;
  if (!params.listener.valid()) return absl::InternalError("loader sent no seccomp listener");
  ASSIGN_OR_RETURN(supervisor::SuperviseResult supervised,
                   supervisor::Supervise(std::move(params)));
  if (supervised.cancelled) return absl::CancelledError("run cancelled");
  result = std::move(supervised.result);
  result.usage.wall = absl::Now() - start;
  result.usage.startup = startup;
  result.nondeterminism = Nondeterminism(handshake.ready.flags);
  return result;
}

}  // namespace zerocell::sandbox
