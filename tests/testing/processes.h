// Test and benchmark helpers that look at processes through /proc without reaping any of them
// (children, descendants, state, open fds), and bounded polling for asynchronous behaviour.
#ifndef ZEROCELL_TESTS_TESTING_PROCESSES_H_
#define ZEROCELL_TESTS_TESTING_PROCESSES_H_

#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace zerocell::testing {

// Processes whose parent is `parent` (any of its threads), zombies included, ascending. Found by
// scanning /proc/<pid>/stat (a kernel may lack /proc/<pid>/task/<tid>/children).
std::vector<pid_t> ChildPids(pid_t parent = getpid());
// The children of `server` that are sandboxes: those that have become zerocell-loader (their
// comm; a guest cannot rename itself, the supervisor answers PR_SET_NAME), ascending. Not any
// child: under a sanitizer the runtime forks its symbolizer, and between that fork and its exec
// the helper looks like any child of the server. A sandbox between clone and exec is not counted
// either; the spawning thread waits for that exec, so that lasts microseconds.
std::vector<pid_t> SandboxPids(pid_t server);
// True when no sandbox is under `server` for 100 ms in a row within `timeout` (a sandbox spawned
// just after one sample is seen by a later one).
bool WaitForNoSandboxes(pid_t server, absl::Duration timeout = absl::Seconds(5));
// "pid(comm state)" for each of `pids`, for failure messages.
std::string DescribeProcesses(const std::vector<pid_t>& pids);
// Every descendant of `pid` (children, their children, ...), breadth first.
std::vector<pid_t> DescendantPids(pid_t pid);

// The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...); '\0' when there is no such process.
char ProcessState(pid_t pid);
// True once `pid` no longer exists at all, as a zombie neither (it was reaped).
bool ProcessGone(pid_t pid);
// True when a child of this process has ended and is not reaped yet (waitid with WNOWAIT: this
// reaps nothing).
bool HasZombieChild();
// Entries in /proc/<pid>/fd; -1 when unreadable.
int OpenFdCount(pid_t pid);
// The names (comm) of the threads of `pid` other than its main thread whose signal mask lets
// `sig` through (SigBlk of /proc/<pid>/task/<tid>/status), one "name(tid)" each.
std::vector<std::string> ThreadsNotBlocking(pid_t pid, int sig);

// True when this build is instrumented by AddressSanitizer (and so is every process it starts).
// Its quarantine keeps up to 256 MiB of freed memory resident and its shadow grows with what is
// touched, so RSS says nothing about what a process holds; and it reserves terabytes of shadow
// address space at start, so nothing starts under a small RLIMIT_AS. Tests bound RSS or address
// space only without it (the code under test still runs under it).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
inline constexpr bool kAddressSanitizer = __has_feature(address_sanitizer);
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// True when this build is instrumented by ThreadSanitizer (and so is every process it starts).
// Its shadow memory (several times what the program touches) stays resident and it reserves
// terabytes of address space too, so RSS and address-space bounds are off under it as well.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
inline constexpr bool kThreadSanitizer = __has_feature(thread_sanitizer);
#else
inline constexpr bool kThreadSanitizer = false;
#endif
// Either of them: memory and address-space bounds say nothing about the code under test, and
// every step is several times slower.
inline constexpr bool kShadowMemorySanitizer = kAddressSanitizer || kThreadSanitizer;

// Polls `predicate` every 5 ms until it holds or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& predicate, absl::Duration timeout = absl::Seconds(5));

}  // namespace zerocell::testing

#endif  // ZEROCELL_TESTS_TESTING_PROCESSES_H_
