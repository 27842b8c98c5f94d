// Waiting on a loader process: one wait for every step of prestart and release.
#ifndef ZEROCELL_SANDBOX_LOADER_WAIT_H_
#define ZEROCELL_SANDBOX_LOADER_WAIT_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sandbox/sys/process.h"

namespace zerocell::sandbox {

// Waits until `fd` (the loader's control socket or seccomp listener) is readable. Otherwise:
// DEADLINE_EXCEEDED once `deadline` passes, CANCELLED when `cancel_fd` (-1: none) is readable,
// ABORTED when the process ends first. `what` ("parked", "took its release") completes the
// messages.
absl::Status AwaitLoader(int fd, const sys::Process& process, int cancel_fd, absl::Time deadline,
                         const char* what);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_LOADER_WAIT_H_
