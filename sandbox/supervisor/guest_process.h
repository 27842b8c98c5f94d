// What belongs to one process of a run: descriptors, working directory, memory and its
// accounting, the process's own pidfd. The run's state (channels, scratch, budget, clock, random
// stream, result) is GuestState's, shared by all of its processes.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_GUEST_PROCESS_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_GUEST_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "sandbox/fs/guest_fs.h"
#include "sandbox/supervisor/fd_table.h"
#include "sandbox/supervisor/guest_memory.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {

// [start, end), page aligned.
struct AddressRange {
  uint64_t start = 0, end = 0;
  bool Intersects(uint64_t lo, uint64_t hi) const { return lo < end && start < hi; }
};

// The memory limit counts the guest's address space and the page tables its mappings can need
// (memory_accounting.h). One per address space: a vfork child shares its parent's.
struct MemoryAccounting {
  int64_t limit_bytes = 0;
  uint64_t overhead_bytes = 0;  // loader mappings present before the guest ran
  // Page-table bytes the mappings present before the guest ran can need (not the guest's), the
  // mappings' need beyond that when the supervisor last read them from /proc/<pid>/maps, and
  // the most the calls admitted since can have added.
  uint64_t tables_baseline = 0;
  uint64_t tables_measured = 0;
  uint64_t tables_admitted = 0;
  // The image's executable segments and the loader's own mappings: never moved or grown.
  std::vector<AddressRange> code;
  uint64_t brk = 0;      // last program break the guest asked for
  sys::UniqueFd statm;   // /proc/<pid>/statm
  sys::UniqueFd status;  // /proc/<pid>/status, opened on first use
  pid_t pid = 0;
  int64_t peak_rss_bytes = 0;
  uint64_t stack_bytes = 0;  // the fixed guest stack mapping
  uint64_t loader_end = 0;   // end of the loader's own mappings (its bss; the heap follows)
  // What this address space held when last measured (its accounted bytes, page tables
  // included): what the other processes' admissions count it as (memory_accounting.h).
  uint64_t last_accounted = 0;

  // The accounting of a forked copy of this address space, in process `child` (its /proc files
  // opened; -1 statm when it is already gone).
  std::shared_ptr<MemoryAccounting> CopyFor(pid_t child) const;
};

// A fork the kernel is doing (or did) for a process whose child has not been seen yet: the
// parent's per-process state as it was at the fork, which the child starts with.
struct PendingFork {
  explicit PendingFork(FdTable parent_fds) : fds(std::move(parent_fds)) {}
  FdTable fds;
  fs::Location cwd;
  std::shared_ptr<MemoryAccounting> mem;  // copied when the child is seen; shared for vfork
  bool vfork = false;
};

// One process of the run. The first is the sandbox process; the others are its descendants,
// known from their first notified call (or found at their parent's next fork).
struct GuestProcess {
  GuestProcess(pid_t host_pid, int pidfd, std::unique_ptr<GuestMemory> memory, FdTable fds)
      : pid(host_pid), pidfd(pidfd), memory(std::move(memory)), fds(std::move(fds)) {}

  pid_t pid;  // the host's (0 in unit tests)
  // Where its signals to itself go: the sandbox's pidfd for the first, own_pidfd for the others.
  int pidfd;
  sys::UniqueFd own_pidfd;
  std::unique_ptr<GuestMemory> memory;
  FdTable fds;
  fs::Location cwd;
  std::shared_ptr<MemoryAccounting> mem = std::make_shared<MemoryAccounting>();
  // The pid it sees for itself and its parent: the fixed identity for the first process; for a
  // child, the host pid its parent got from fork (which cannot be rewritten) and its parent's.
  int64_t own_pid = 0;
  int64_t parent_pid = 0;
  pid_t host_parent = 0;
  std::unique_ptr<PendingFork> pending;
  bool exited = false;  // its exit_group was seen, or its pidfd polled readable
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_GUEST_PROCESS_H_
