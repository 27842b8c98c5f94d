// Loader spawning with clone(CLONE_VM|CLONE_VFORK); see spawner.h.
#include "sandbox/launch/spawner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox::launch {
namespace {

// Everything the child needs, prepared by the parent: the child must not allocate.
struct ChildArgs {
  const char* loader_path;
  SpawnFds fds;
  bool fix_addresses;
  volatile int exec_errno;  // written by the child (shared memory) when exec fails
};

// Runs in the child between clone and exec: async-signal-safe raw syscalls only, in order.
ZEROCELL_CLONE_CHILD int ChildMain(void* raw) {
  auto* args = static_cast<ChildArgs*>(raw);
  // kControlFd, kImageFd, kSpecFd, kInterpFd in order; the interpreter only for dynamic programs.
  const int sources[4] = {args->fds.control, args->fds.image, args->fds.spec, args->fds.interp};
  const int count = args->fds.interp >= 0 ? 4 : 3;
  int moved[4];
  // Step 0: a process group of its own, which the guest's processes can never leave (setpgid
  // and setsid are EPERM): the run's end kills the group.
  if (syscall(SYS_setpgid, 0, 0) < 0) goto fail;
  // Step 1: move the fds out of the way (above 9) so placing them cannot clobber another.
  for (int i = 0; i < count; ++i) {
    moved[i] = static_cast<int>(syscall(SYS_fcntl, sources[i], F_DUPFD, 10));
    if (moved[i] < 0) goto fail;
  }
  // Step 2: place them at their fixed numbers (dup2 clears close-on-exec).
  for (int i = 0; i < count; ++i) {
    if (syscall(SYS_dup2, moved[i], kControlFd + i) < 0) goto fail;
  }
  // Step 3: nothing else crosses exec, whatever the server had open.
  if (syscall(SYS_close_range, kControlFd + count, ~0u, 0) < 0) goto fail;
  // Step 4: the same addresses on every run: the guest layout is part of determinism. Where the
  // host refuses it, runs report randomized addresses as nondeterminism.
  if (args->fix_addresses && syscall(SYS_personality, ADDR_NO_RANDOMIZE) < 0) goto fail;
  // Step 5: become the loader, with an empty environment.
  {
    char* const argv[] = {const_cast<char*>("zerocell-loader"), nullptr};
    char* const envp[] = {nullptr};
    syscall(SYS_execve, args->loader_path, argv, envp);
  }
fail:
  args->exec_errno = errno;
  syscall(SYS_exit_group, 127);
  return 127;
}

}  // namespace

absl::StatusOr<sys::Process> SpawnLoader(const std::string& loader_path, const SpawnFds& fds,
                                         bool fix_addresses) {
  ChildArgs args = {loader_path.c_str(), fds, fix_addresses, 0};
  sys::UniqueFd pidfd;
  absl::StatusOr<pid_t> pid = sys::CloneVfork(ChildMain, &args, &pidfd);
  if (!pid.ok()) return pid.status();
  sys::Process process(*pid, std::move(pidfd));
  if (args.exec_errno != 0) {
    int status;
    rusage usage;
    (void)process.Reap(&status, &usage);
    return ErrnoStatus(args.exec_errno, absl::StrCat("exec loader ", loader_path));
  }
  return process;
}

}  // namespace zerocell::sandbox::launch
