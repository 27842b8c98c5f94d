// Test helpers that look at this process's children through /proc without reaping any of them:
// which exist (zombies included), their state, and bounded polling for asynchronous behaviour.
#ifndef ZEROCELL_TESTS_SANDBOX_ENGINE_CHILD_PROCESSES_H_
#define ZEROCELL_TESTS_SANDBOX_ENGINE_CHILD_PROCESSES_H_

#include <sys/types.h>

#include <functional>
#include <vector>

#include "absl/time/time.h"

namespace zerocell::sandbox::testing {

// Processes whose parent is this process (any of its threads), zombies included, ascending.
// Found by scanning /proc/<pid>/stat (this kernel may lack /proc/<pid>/task/<tid>/children).
std::vector<pid_t> ChildPids();

// The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...); '\0' when there is no such process.
char ProcessState(pid_t pid);

// True once `pid` no longer exists at all, as a zombie neither (it was reaped).
bool ProcessGone(pid_t pid);

// True when a child of this process has ended and is not reaped yet (waitid with WNOWAIT: this
// reaps nothing, unlike testing::HasChildProcess).
bool HasZombieChild();

// Polls `done` every 5 ms until it holds or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5));

}  // namespace zerocell::sandbox::testing

#endif  // ZEROCELL_TESTS_SANDBOX_ENGINE_CHILD_PROCESSES_H_
