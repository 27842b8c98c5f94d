// Starts zerocell-loader in a fresh process and owns that process until it is reaped.
#ifndef ZEROCELL_SANDBOX_LAUNCH_SPAWNER_H_
#define ZEROCELL_SANDBOX_LAUNCH_SPAWNER_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "sandbox/sys/process.h"

namespace zerocell::sandbox::launch {

struct SpawnFds {
  int control = -1;  // becomes launch::kControlFd in the child
  int image = -1;    // becomes launch::kImageFd
  int spec = -1;     // becomes launch::kSpecFd
  int interp = -1;   // becomes launch::kInterpFd (dynamically linked programs only)
};

// Clones, places the three fds at their fixed numbers, closes every other fd, disables address
// randomization when `fix_addresses` (the host probe found personality(ADDR_NO_RANDOMIZE)
// allowed; container runtimes' default seccomp profiles refuse it), and execs the loader.
// Async-signal-safe in the child.
absl::StatusOr<sys::Process> SpawnLoader(const std::string& loader_path, const SpawnFds& fds,
                                         bool fix_addresses);

}  // namespace zerocell::sandbox::launch

#endif  // ZEROCELL_SANDBOX_LAUNCH_SPAWNER_H_
