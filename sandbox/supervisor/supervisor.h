// The supervisor: one loop per run over the seccomp listener, the process and the deadlines.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_SUPERVISOR_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_SUPERVISOR_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sandbox/fs/guest_fs.h"
#include "sandbox/input_source.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/output_observer.h"
#include "sandbox/result.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/sys/process.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {

struct SuperviseParams {
  const Manifest* manifest = nullptr;
  sys::Process* process = nullptr;
  sys::UniqueFd listener;  // seccomp user-notification fd from the loader
  // /proc/<pid>/statm and /proc/<pid>/status of the sandbox when already open (a parked sandbox
  // opens them ahead, off the request's path); otherwise opened here.
  sys::UniqueFd proc_statm, proc_status;
  int cancel_fd = -1;        // eventfd; readable = cancel now
  absl::Time wall_deadline;  // spawn time + timeout
  uint64_t initial_brk = 0;  // program break when the guest starts
  uint64_t guest_bytes = 0;  // image + stack mapped by the loader for the guest
  uint64_t stack_bytes = 0;
  // The image's PT_LOAD segments as mapped (page ranges, address order) and which of them are
  // executable: code is never moved or grown, and they are part of the page tables every guest
  // starts with.
  std::vector<AddressRange> image_segments;
  std::vector<AddressRange> image_code;
  OutputObserver* observer = nullptr;  // optional; sees channel writes as they happen
  // Per channel (manifest order) the source a readable one reads from; empty or null entries:
  // the channel's initial_bytes. They must outlive the run.
  std::vector<InputSource*> inputs;
  // The guest's file system; null: an empty read-only root.
  std::shared_ptr<const fs::GuestFs> fs;
  // Releases the parked loader into the guest; called once the loader's own mappings are
  // measured, before the loop. `release_unmap_bytes`: parked stack the loader drops on release.
  std::function<absl::Status()> release;
  uint64_t release_unmap_bytes = 0;
  // The host supports SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (host probe): switch the listener to it.
  bool sync_wake_up = false;
};

struct SuperviseResult {
  Result result;  // outcome, exit/signal, violation, channels, usage (wall filled by the caller)
  bool cancelled = false;
};

// Releases the parked loader, then services the guest's notified syscalls until it ends,
// enforcing the wall, CPU, memory and output limits; reaps the process. Never leaves it running,
// whatever it returns; a failed release is returned as is (the guest never ran).
absl::StatusOr<SuperviseResult> Supervise(SuperviseParams params);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_SUPERVISOR_H_
