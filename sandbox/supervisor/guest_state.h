// Everything the supervisor knows about one running guest; the syscall handlers act on it.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_GUEST_STATE_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_GUEST_STATE_H_

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sandbox/fs/guest_fs.h"
#include "sandbox/input_source.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/output_observer.h"
#include "sandbox/result.h"
#include "sandbox/supervisor/channel.h"
#include "sandbox/supervisor/fd_table.h"
#include "sandbox/supervisor/guest_memory.h"
#include "sandbox/supervisor/guest_process.h"
#include "sandbox/supervisor/run_budget.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {

// Fixed identity the guest sees (docs/architecture.md "Determinism").
inline constexpr int64_t kGuestPid = launch::kGuestPid;
inline constexpr int64_t kGuestPpid = launch::kGuestPpid;
inline constexpr int64_t kGuestUid = launch::kGuestUid;
inline constexpr int64_t kGuestGid = launch::kGuestGid;

// One notified syscall as the handlers see it.
struct Call {
  int64_t nr = 0;
  uint64_t args[6] = {};
};

// What to answer: a value, an errno, or "let the kernel run it" (only for calls whose arguments
// are all registers, so nothing the guest can change after our check), or nothing yet: the call
// waits for `wait_fd` to poll readable, and its handler runs again then (a handler answers Wait
// only before it changed anything).
struct Reply {
  int64_t value = 0;
  int error = 0;
  bool continue_syscall = false;
  int wait_fd = -1;

  static Reply Value(int64_t v) { return {v, 0, false, -1}; }
  static Reply Error(int e) { return {0, e, false, -1}; }
  static Reply Continue() { return {0, 0, true, -1}; }
  static Reply Wait(int fd) { return {0, 0, false, fd}; }
  // Handlers return negative errnos from helpers; this folds both forms.
  static Reply FromResult(int64_t r) { return r < 0 ? Error(static_cast<int>(-r)) : Value(r); }
};

// Puts one of our descriptors into the guest at a given number, for the call being served
// (SECCOMP_IOCTL_NOTIF_ADDFD): the Dispatcher in production, a fake in unit tests.
class FdInjector {
 public:
  virtual ~FdInjector() = default;
  // `target_fd`, or a negative errno.
  virtual int Inject(int src_fd, int target_fd) = 0;
};

// Why the supervisor stopped the guest (first reason wins).
struct StopReason {
  Outcome outcome;
  std::string detail;
  Violation violation;
};

class GuestState {
 public:
  // `memory`: the guest's memory (ProcessMemory of the sandbox; a fake in unit tests). `pidfd`:
  // where the signals the guest sends itself go (-1: none can be sent). Open() comes next, with
  // `inputs`: per channel (manifest order), where a readable one reads from; empty, or a null
  // entry, means the channel's initial_bytes. They must outlive this state.
  GuestState(const Manifest& manifest, std::unique_ptr<GuestMemory> memory, int pidfd);
  absl::Status Open(absl::Span<InputSource* const> inputs);

  const Manifest& manifest() const { return manifest_; }
  // The calling process's (process_table.h selects it before each handler runs).
  const GuestMemory& memory() const { return *current_->memory; }
  FdTable& fds() { return current_->fds; }
  Channel& channel(int index) { return *channels_[static_cast<size_t>(index)]; }
  int channel_count() const { return static_cast<int>(channels_.size()); }
  // Index of the channel named `alias`, or -1.
  int FindAlias(std::string_view alias) const;
  MemoryAccounting& mem() { return *current_->mem; }
  // The guest's file system (never null: without mounts, an empty read-only root) and its
  // working directory. Set before the guest runs; the default is the empty root.
  const fs::GuestFs& fs() const { return *fs_; }
  bool has_fs() const { return fs_ != nullptr; }
  void set_fs(std::shared_ptr<const fs::GuestFs> fs);
  const fs::Location& cwd() const { return current_->cwd; }
  void set_cwd(fs::Location cwd) { current_->cwd = std::move(cwd); }
  // Null: tree files are emulated descriptors only (no real fd in the guest).
  FdInjector* injector() const { return injector_; }
  void set_injector(FdInjector* injector) { injector_ = injector; }
  // Tree files' real descriptions held now (OpenFile::real): each is a descriptor of the server
  // process, so a run holds at most kMaxRealFiles; the rest are served from the tree's memfd.
  static constexpr int kMaxRealFiles = 128;
  const std::shared_ptr<int>& real_files() const { return real_files_; }
  int pidfd() const { return current_->pidfd; }  // for signals the caller sends itself

  // The run's processes: the first is the sandbox process, the caller the one being served.
  GuestProcess& first() { return *processes_.front(); }
  GuestProcess& current() { return *current_; }
  void set_current(GuestProcess* p) { current_ = p; }
  std::vector<std::unique_ptr<GuestProcess>>& processes() { return processes_; }
  // Most processes the run had at once, and whether a fork was refused at max_processes.
  int64_t peak_processes() const { return peak_processes_; }
  void NoteProcesses(int64_t live) { peak_processes_ = std::max(peak_processes_, live); }
  // CPU of the run's processes the supervisor reaped itself (orphans re-parented to it).
  absl::Duration reaped_user_cpu() const { return reaped_user_cpu_; }
  absl::Duration reaped_system_cpu() const { return reaped_system_cpu_; }
  void AddReapedCpu(absl::Duration user, absl::Duration system) {
    reaped_user_cpu_ += user;
    reaped_system_cpu_ += system;
  }
  // The run's resident high-water mark: the largest of its processes' (each folded in by the
  // memory sampling while it lives and at its exit, and kept here once it is released).
  int64_t PeakRssBytes() const;
  void NotePeakRss(int64_t bytes) { released_peak_rss_ = std::max(released_peak_rss_, bytes); }
  bool process_limit_hit() const { return process_limit_hit_; }
  void set_process_limit_hit() { process_limit_hit_ = true; }
  OutputObserver* observer() const { return observer_; }
  void set_observer(OutputObserver* observer) { observer_ = observer; }

  // Output limit bookkeeping across all writable channels.
  uint64_t output_capacity() const;
  void AddOutput(uint64_t bytes) { output_bytes_ += bytes; }

  // Virtual clock: nanoseconds since the run started, advanced by time calls and sleeps. It
  // saturates at INT64_MAX: a guest may sleep "forever" as often as it likes (never a wrap).
  // With a clock page (a real run: sandbox/vdso/clock_page.h) the clock lives there, where the
  // guest's vDSO ticks it too; it is read before and written after each use. Without one
  // (handler tests), or when the guest unmapped it, the state's own copy serves.
  int64_t TickClock();            // returns the time before advancing by 1 us
  void AdvanceClock(int64_t ns);  // ns <= 0: no change
  int64_t clock_ns();
  void set_clock_page(uint64_t addr) { clock_page_ = addr; }
  int64_t realtime_base_ns() const { return realtime_base_ns_; }

  // Next bytes of the seeded random stream.
  void RandomBytes(char* out, size_t len);

  void Stop(Outcome outcome, std::string detail, Violation violation = {});
  const std::optional<StopReason>& stop() const { return stop_; }

  // The run's budget (null in unit tests: never exhausted).
  void set_budget(const RunBudget* budget) { budget_ = budget; }
  const RunBudget* budget() const { return budget_; }
  // For handlers doing long work, between pieces: true when the run must end now, with the
  // guest stopped (timeout, CPU limit) or the run cancelled; the handler then returns at once.
  bool Exhausted();
  // Stops the guest for `verdict` (kTimeout, kCpuLimit), or marks the run cancelled.
  void EndFor(RunBudget::Verdict verdict);
  bool cancelled() const { return cancelled_; }

  std::vector<ChannelResult> TakeChannelResults();
  // The scratch's sizes and quota flags, whenever the manifest declares one (zeros when the file
  // system was made without it).
  std::optional<ScratchResult> ScratchResults() const;

  // The /dev/memory etag (hex SHA-256), taken at exit_group when the manifest asks for it.
  const std::string& memory_etag() const { return memory_etag_; }
  void set_memory_etag(std::string etag) { memory_etag_ = std::move(etag); }

 private:
  const Manifest& manifest_;
  std::vector<std::unique_ptr<GuestProcess>> processes_;
  GuestProcess* current_;
  int64_t peak_processes_ = 1;
  int64_t released_peak_rss_ = 0;
  absl::Duration reaped_user_cpu_, reaped_system_cpu_;
  bool process_limit_hit_ = false;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::vector<std::unique_ptr<InputSource>> byte_inputs_;  // over the manifest's initial_bytes
  std::shared_ptr<const fs::GuestFs> fs_;
  FdInjector* injector_ = nullptr;
  std::shared_ptr<int> real_files_ = std::make_shared<int>(0);
  std::string memory_etag_;
  uint64_t output_bytes_ = 0;
  void LoadClock();
  void StoreClock();
  int64_t clock_ns_ = 0;
  uint64_t clock_page_ = 0;  // guest address of ClockPage; 0: none
  int64_t realtime_base_ns_ = 0;
  uint64_t random_counter_ = 0;
  std::string random_pool_;  // the current 4 KiB block of the stream, used from random_used_
  size_t random_used_ = 0;
  std::optional<StopReason> stop_;
  bool cancelled_ = false;
  const RunBudget* budget_ = nullptr;
  OutputObserver* observer_ = nullptr;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_GUEST_STATE_H_
