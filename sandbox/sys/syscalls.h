// The raw-syscall seam: thin wrappers over the kernel calls the engine needs, nothing more.
#ifndef ZEROCELL_SANDBOX_SYS_SYSCALLS_H_
#define ZEROCELL_SANDBOX_SYS_SYSCALLS_H_

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::sys {

// A memfd holding `data`, sealed against any change (write, grow, shrink, further seals).
absl::StatusOr<UniqueFd> SealedMemfd(const char* name, std::string_view data);

// Runs `fn(arg)` in a child that shares our memory until it execs or exits (CLONE_VM|CLONE_VFORK),
// like posix_spawn, with every signal blocked. `fn` must be async-signal-safe and end in execve or
// _exit, or return (the child exits with its value); mark it (and anything it calls that is
// compiled here) ZEROCELL_CLONE_CHILD. Returns the child's pid and stores a pidfd in *pidfd.
absl::StatusOr<pid_t> CloneVfork(int (*fn)(void*), void* arg, UniqueFd* pidfd);

// For code that runs in a CloneVfork child. Why: the child runs on this thread's memory and TLS
// while the thread is suspended, so under TSan its instrumentation would update that thread's
// state (shadow call stack, clock) and a child that execs or is killed never pops its frames.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZEROCELL_CLONE_CHILD __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#if !defined(ZEROCELL_CLONE_CHILD) && defined(__SANITIZE_THREAD__)
#define ZEROCELL_CLONE_CHILD __attribute__((no_sanitize_thread))  // gcc
#endif
#ifndef ZEROCELL_CLONE_CHILD
#define ZEROCELL_CLONE_CHILD
#endif

int PidfdSendSignal(int pidfd, int sig);

// Cross-process memory access; return bytes moved or -1 with errno (EFAULT on a bad range).
ssize_t ReadProcessMemory(pid_t pid, uint64_t addr, void* buf, size_t len);
ssize_t WriteProcessMemory(pid_t pid, uint64_t addr, const void* buf, size_t len);

}  // namespace zerocell::sandbox::sys

#endif  // ZEROCELL_SANDBOX_SYS_SYSCALLS_H_
