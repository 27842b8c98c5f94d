// Engine: prepare (plan the request) -> prestart or claim -> release -> supervise; see engine.h.
#include "sandbox/engine.h"

#include <linux/audit.h>
#include <seccomp.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "sandbox/fs/guest_fs.h"
#include "sandbox/host/host_probe.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/launch/spawner.h"
#include "sandbox/launch/spec_builder.h"
#include "sandbox/loader_wait.h"
#include "sandbox/policy/syscall_policy.h"
#include "sandbox/supervisor/channel.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/supervisor/supervisor.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox {
namespace {

// Channel results for a guest that never ran (zero counters, etag of nothing).
std::vector<ChannelResult> UntouchedChannels(const Manifest& manifest) {
  std::vector<ChannelResult> out;
  for (const ChannelSpec& spec : manifest.channels()) {
    supervisor::Channel channel(spec);
    out.push_back(channel.TakeResult());
  }
  return out;
}

// The image's segments as the loader maps them (page ranges), and the executable ones.
void ImageRanges(const elf::ElfLayout& layout, uint64_t bias,
                 std::vector<supervisor::AddressRange>* segments,
                 std::vector<supervisor::AddressRange>* code) {
  constexpr uint64_t kPage = launch::kPageSize;
  for (const elf::LoadSegment& seg : layout.segments) {
    const supervisor::AddressRange r = {(bias + seg.vaddr) & ~(kPage - 1),
                                        (bias + seg.vaddr + seg.memsz + kPage - 1) & ~(kPage - 1)};
    segments->push_back(r);
    if (seg.exec) code->push_back(r);
  }
}

absl::Status Died() { return absl::AbortedError("the parked sandbox ended before its release"); }

// Waits for the loader's next notification (it is already on its way) and receives it.
absl::Status NextLoaderCall(int listener, const sys::Process& process, absl::Time deadline,
                            seccomp_notif* req) {
  absl::Status ready = AwaitLoader(listener, process, -1, deadline, "took its release");
  if (absl::IsAborted(ready)) return Died();
  RETURN_IF_ERROR(ready);
  memset(req, 0, sizeof(*req));
  const int rc = seccomp_notify_receive(listener, req);
  if (rc == -ENOENT) return Died();
  if (rc != 0) return ErrnoStatus(-rc, "receive from the released loader");
  return absl::OkStatus();
}

// Answers the park read, then lets through exactly the loader's prlimit64 calls for the request's
// limits. CONTINUE on a pointer-carrying call is safe only here: no guest instruction has run
// yet, and the pointer is checked to be the header the engine wrote into the loader.
absl::Status ReleaseLoader(int listener, const sys::Process& process, uint64_t park_id,
                           uint64_t mailbox, const launch::GoHeader& header, absl::Time deadline) {
  seccomp_notif_resp resp = {};
  resp.id = park_id;
  resp.val = sizeof(launch::GoHeader);
  int rc = seccomp_notify_respond(listener, &resp);
  if (rc == -ENOENT) return Died();
  if (rc != 0) return ErrnoStatus(-rc, "release the parked sandbox");
  for (int i = 0; i < launch::kGoRlimits; ++i) {
    seccomp_notif req;
    RETURN_IF_ERROR(NextLoaderCall(listener, process, deadline, &req));
    const uint64_t want_ptr = mailbox + offsetof(launch::GoHeader, rlimits) +
                              i * sizeof(launch::SpecRlimit) + offsetof(launch::SpecRlimit, soft);
    const seccomp_data& d = req.data;
    if (d.arch != AUDIT_ARCH_X86_64 || d.nr != SYS_prlimit64 || d.args[0] != 0 ||
        d.args[1] != header.rlimits[i].resource || d.args[2] != want_ptr || d.args[3] != 0) {
      return absl::InternalError(
          absl::StrCat("the released loader made an unexpected call: ", SyscallName(d.arch, d.nr)));
    }
    resp = {};
    resp.id = req.id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    rc = seccomp_notify_respond(listener, &resp);
    if (rc == -ENOENT) return Died();
    if (rc != 0) return ErrnoStatus(-rc, "let the loader set its limits");
  }
  return absl::OkStatus();
}

// The loader sets the request's backstop limits unprivileged (it may run as nobody), so it cannot
// raise a hard limit above the one it inherited from this process: such a request cannot run.
absl::Status CheckBackstops(const launch::GoPlan& plan) {
  for (const launch::SpecRlimit& r : plan.header.rlimits) {
    rlimit own;
    if (getrlimit(static_cast<__rlimit_resource>(r.resource), &own) != 0) continue;
    if (own.rlim_max != RLIM_INFINITY && r.hard > own.rlim_max) {
      const bool cpu = r.resource == RLIMIT_CPU;
      return absl::FailedPreconditionError(
          absl::StrCat(cpu ? "cpu_limit" : "memory_bytes", ": the request needs a ",
                       cpu ? "RLIMIT_CPU" : "RLIMIT_AS", " backstop of ", r.hard,
                       cpu ? " s" : " bytes", " but this process's hard limit is ", own.rlim_max,
                       "; raise the limit the engine runs with, or ask for less"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<launch::GoPlan> PlanFor(const Image& image, const Manifest& manifest) {
  ASSIGN_OR_RETURN(
      launch::GoPlan plan,
      launch::BuildGoPlan(image.layout(), manifest,
                          image.interpreter() ? &image.interpreter()->layout() : nullptr));
  RETURN_IF_ERROR(CheckBackstops(plan));
  return plan;
}

// The inputs a run is given, checked before anything is spawned.
absl::Status CheckInputs(const Manifest& manifest, const std::vector<InputSource*>& inputs) {
  if (inputs.empty()) return absl::OkStatus();
  const std::vector<ChannelSpec>& specs = manifest.channels();
  if (inputs.size() != specs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs: ", inputs.size(), " given for ", specs.size(), " channels"));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    if (inputs[i] == nullptr) continue;
    if (!specs[i].readable()) {
      return absl::InvalidArgumentError(absl::StrCat("channels[", i, "] (", specs[i].alias,
                                                     "): an input for a channel that is not "
                                                     "readable"));
    }
    if (specs[i].writable() && !inputs[i]->size().has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("channels[", i, "] (", specs[i].alias,
                       "): readable and writable, so its input must be a file or bytes, not a "
                       "stream (its contents are its output)"));
    }
  }
  return absl::OkStatus();
}

// The guest's file system: the manifest's mounts over the trees the caller resolved, and the
// scratch's directory; checked before anything is spawned.
absl::StatusOr<std::shared_ptr<const fs::GuestFs>> BuildGuestFs(const Manifest& manifest,
                                                                const RunOptions& options) {
  const std::vector<MountSpec>& mounts = manifest.mounts();
  if (options.trees.size() != mounts.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trees: ", options.trees.size(), " given for ", mounts.size(), " mounts"));
  }
  if (!options.executable.empty() && options.executable.size() != mounts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("executable: ", options.executable.size(),
                                                   " given for ", mounts.size(), " mounts"));
  }
  std::vector<fs::GuestFs::Mount> fs_mounts;
  for (size_t i = 0; i < mounts.size(); ++i) {
    fs_mounts.push_back({mounts[i].mountpoint, options.trees[i],
                         options.executable.empty() ? nullptr : options.executable[i]});
  }
  std::shared_ptr<fs::ScratchDir> scratch;  // the run's own: dropped with its GuestFs
  if (const std::optional<ScratchSpec>& s = manifest.scratch()) {
    scratch = std::make_shared<fs::ScratchDir>(s->path, s->max_bytes, s->max_files);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<const fs::GuestFs> built,
                   fs::GuestFs::Create(std::move(fs_mounts), {}, std::move(scratch)));
  return std::shared_ptr<const fs::GuestFs>(std::move(built));
}

std::string DefaultLoaderPath() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "zerocell-loader";
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "zerocell-loader";
}

}  // namespace

CancelToken::CancelToken() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) status_ = ErrnoStatus(errno, "eventfd for a cancel token");
}
CancelToken::~CancelToken() {
  if (fd_ >= 0) close(fd_);
}
void CancelToken::Cancel() {
  uint64_t one = 1;
  (void)!write(fd_, &one, sizeof(one));
}

Engine::Engine(std::string loader_path, std::unique_ptr<CompiledPolicy> policy,
               std::shared_ptr<const host::HostCapabilities> host)
    : loader_path_(std::move(loader_path)), policy_(std::move(policy)), host_(std::move(host)) {}
Engine::~Engine() = default;

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  std::string loader = options.loader_path.empty() ? DefaultLoaderPath() : options.loader_path;
  if (access(loader.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("zerocell-loader not executable at ", loader, ": ", strerror(errno)));
  }
  std::shared_ptr<const host::HostCapabilities> caps = std::move(options.host);
  if (caps == nullptr) caps = std::make_shared<const host::HostCapabilities>(host::ProbeHost());
  RETURN_IF_ERROR(host::CheckUsable(*caps));
  // Why here and not at a run's first fork: orphans of any run must be ours to reap.
  RETURN_IF_ERROR(supervisor::BecomeSubreaper());
  ASSIGN_OR_RETURN(std::unique_ptr<CompiledPolicy> policy, CompiledPolicy::Build());
  return std::unique_ptr<Engine>(new Engine(std::move(loader), std::move(policy), std::move(caps)));
}

PreparedRun::PreparedRun(const Image& image, const Manifest& manifest,
                         std::unique_ptr<launch::GoPlan> plan)
    : image_(&image), manifest_(&manifest), plan_(std::move(plan)) {}
PreparedRun::PreparedRun(PreparedRun&&) noexcept = default;
PreparedRun::~PreparedRun() = default;

absl::StatusOr<PreparedRun> Engine::Prepare(const Image& image, const Manifest& manifest) const {
  ASSIGN_OR_RETURN(launch::GoPlan plan, PlanFor(image, manifest));
  return PreparedRun(image, manifest, std::make_unique<launch::GoPlan>(std::move(plan)));
}

absl::StatusOr<Result> Engine::Run(const Image& image, const Manifest& manifest,
                                   const RunOptions& options) const {
  // A request this image cannot serve is refused before anything is spawned.
  ASSIGN_OR_RETURN(PreparedRun prepared, Prepare(image, manifest));
  return Run(prepared, options);
}

absl::StatusOr<Result> Engine::Run(const PreparedRun& run, const RunOptions& options) const {
  const absl::Time start = absl::Now();
  const Manifest& manifest = run.manifest();
  RETURN_IF_ERROR(CheckInputs(manifest, options.inputs));
  ASSIGN_OR_RETURN(std::shared_ptr<const fs::GuestFs> guest_fs, BuildGuestFs(manifest, options));
  if (options.cancel != nullptr) RETURN_IF_ERROR(options.cancel->status());
  const absl::Time deadline = start + manifest.timeout();
  absl::StatusOr<std::unique_ptr<ParkedSandbox>> parked =
      Prestart(run.image(), deadline, options.cancel);
  if (absl::IsDeadlineExceeded(parked.status())) {
    Result result;
    result.outcome = Outcome::kTimeout;
    result.detail = absl::StrCat("wall-clock timeout of ", absl::FormatDuration(manifest.timeout()),
                                 " reached before the guest started");
    result.channels = UntouchedChannels(manifest);
    result.usage.wall = absl::Now() - start;
    result.usage.startup = result.usage.wall;
    return result;
  }
  if (!parked.ok()) return parked.status();
  return Release(**parked, run, options, std::move(guest_fs), start);
}

absl::StatusOr<Result> Engine::RunParked(std::unique_ptr<ParkedSandbox> sandbox, const Image& image,
                                         const Manifest& manifest,
                                         const RunOptions& options) const {
  if (sandbox == nullptr || sandbox->image_sha256() != image.sha256_hex()) {
    return absl::FailedPreconditionError("the parked sandbox was started for another image");
  }
  ASSIGN_OR_RETURN(PreparedRun prepared, Prepare(image, manifest));
  return RunParked(std::move(sandbox), prepared, options);
}

absl::StatusOr<Result> Engine::RunParked(std::unique_ptr<ParkedSandbox> sandbox,
                                         const PreparedRun& run, const RunOptions& options) const {
  const absl::Time start = absl::Now();
  if (sandbox == nullptr || sandbox->image_sha256() != run.image().sha256_hex()) {
    return absl::FailedPreconditionError("the parked sandbox was started for another image");
  }
  RETURN_IF_ERROR(CheckInputs(run.manifest(), options.inputs));
  ASSIGN_OR_RETURN(std::shared_ptr<const fs::GuestFs> guest_fs,
                   BuildGuestFs(run.manifest(), options));
  if (options.cancel != nullptr) RETURN_IF_ERROR(options.cancel->status());
  return Release(*sandbox, run, options, std::move(guest_fs), start);
}

absl::StatusOr<Result> Engine::Release(ParkedSandbox& sandbox, const PreparedRun& run,
                                       const RunOptions& options,
                                       std::shared_ptr<const fs::GuestFs> fs,
                                       absl::Time start) const {
  const launch::GoPlan& plan = *run.plan_;
  const Manifest& manifest = run.manifest();
  const absl::Time deadline = start + manifest.timeout();
  sys::Process& process = sandbox.process_;
  // The stack image at the top of the parked stack, the header into the park read's buffer.
  const iovec local[2] = {{const_cast<char*>(plan.stack_image.data()), plan.stack_image.size()},
                          {const_cast<launch::GoHeader*>(&plan.header), sizeof(plan.header)}};
  const iovec remote[2] = {{reinterpret_cast<void*>(launch::kStackTop - plan.stack_image.size()),
                            plan.stack_image.size()},
                           {reinterpret_cast<void*>(sandbox.mailbox_), sizeof(plan.header)}};
  const ssize_t want = static_cast<ssize_t>(plan.stack_image.size() + sizeof(plan.header));
  const ssize_t wrote = process_vm_writev(process.pid(), local, 2, remote, 2, 0);
  if (wrote != want) {
    if (wrote < 0 && errno == ESRCH) return Died();
    return ErrnoStatus(wrote < 0 ? errno : EIO, "write the request into the parked sandbox");
  }

  supervisor::SuperviseParams params;
  params.manifest = &manifest;
  params.process = &process;
  params.listener = std::move(sandbox.listener_);
  params.proc_statm = std::move(sandbox.statm_);
  params.proc_status = std::move(sandbox.status_);
  params.cancel_fd = options.cancel ? options.cancel->fd() : -1;
  params.observer = options.observer;
  params.inputs = options.inputs;
  params.fs = std::move(fs);
  params.wall_deadline = deadline;
  params.initial_brk = sandbox.ready_.brk;
  params.guest_bytes = plan.image_bytes + plan.stack_bytes;
  params.stack_bytes = plan.stack_bytes;
  const elf::ElfLayout& layout = run.image().layout();
  ImageRanges(layout, layout.pie ? launch::kPieBase : 0, &params.image_segments,
              &params.image_code);
  if (run.image().interpreter() != nullptr) {
    ImageRanges(run.image().interpreter()->layout(), launch::kInterpBase, &params.image_segments,
                &params.image_code);
  }
  const int listener = params.listener.get();
  absl::Time released_at = absl::InfiniteFuture();
  params.release = [&] {
    absl::Status released =
        ReleaseLoader(listener, process, sandbox.park_id_, sandbox.mailbox_, plan.header, deadline);
    released_at = absl::Now();
    return released;
  };
  params.release_unmap_bytes = plan.header.stack_low - launch::kParkedStackLow;
  params.sync_wake_up = host_->notif_sync_wake_up == host::Probed::kYes;
  ASSIGN_OR_RETURN(supervisor::SuperviseResult supervised,
                   supervisor::Supervise(std::move(params)));
  if (supervised.cancelled) return absl::CancelledError("run cancelled");
  Result result = std::move(supervised.result);
  result.usage.wall = absl::Now() - start;
  result.usage.startup = std::min(released_at, absl::Now()) - start;
  result.nondeterminism =
      host::Nondeterminism(*host_, run.image().instruction_use(),
                           {.vdso_removed = (sandbox.ready_.flags & launch::kReadyVdsoRemoved) != 0,
                            .cpuid_faulting = sandbox.cpuid_faulting_});
  if (result.usage.peak_processes > 1) {
    // Several processes: what the host decides between them reaches the guest (architecture.md
    // "Determinism").
    result.nondeterminism.push_back(
        "processes: the run forked; the interleaving of its processes, a fork answered EAGAIN "
        "near max_processes while another ends, children's host pids (and their gaps: other "
        "processes of the host), SIGCHLD's host CPU times and a signal's sender pid vary");
  }
  return result;
}

}  // namespace zerocell::sandbox
