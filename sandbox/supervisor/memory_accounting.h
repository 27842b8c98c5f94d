// Accounting of the guest's memory against the manifest's limit: its address space, and the page
// tables its mappings can make the kernel allocate.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "sandbox/supervisor/guest_state.h"

namespace zerocell::sandbox::supervisor {

// Page tables are kernel memory the address space does not show: a 4 KiB mapping alone in its
// 2 MiB and 1 GiB blocks needs a page-table page and a page-directory page once touched, and the
// touch is no system call. So the limit counts, besides the address space, the page tables the
// mappings *can* need: one 4 KiB table per 2 MiB, 1 GiB, 512 GiB and 256 TiB block any mapping
// reaches (page table, directory, PUD, P4D), as if every page were touched. Only mmap, mremap and
// brk (notified) place mappings anywhere new; munmap (in the kernel) only removes, so the need
// found at one notified call bounds it until the next.
inline constexpr uint64_t kPageTableBytes = 4096;

// Page-table bytes mappings covering `ranges` (sorted, not overlapping) can need.
uint64_t PageTablesFor(const std::vector<AddressRange>& ranges);
// The most a new mapping of `bytes` anywhere can add to that need (it may straddle blocks).
uint64_t PageTableGrowth(uint64_t bytes);
// The guest's mappings now, from /proc/<pid>/maps, sorted (the kernel's vsyscall page excluded).
absl::StatusOr<std::vector<AddressRange>> ReadMappings(pid_t pid);

// Current address-space size of the sandbox process in bytes (from /proc/<pid>/statm), or -1.
// Also folds the current resident size into mem.peak_rss_bytes (a lower bound of the peak).
int64_t VmBytes(MemoryAccounting& mem);
// Resident high-water mark (VmHWM from /proc/<pid>/status), or -1; folded into
// mem.peak_rss_bytes. Costly: taken once, when the guest exits.
int64_t SamplePeakRss(MemoryAccounting& mem);
// Whether a call adding `bytes` of address space and at most `tables` bytes of page-table need
// stays within the limit; stops the guest with MEMORY_LIMIT (naming `call`) when it does not.
// Usually arithmetic on what earlier calls were admitted with; when that bound would not fit, the
// mappings are read (/proc/<pid>/maps) for the real need before deciding, so a guest that maps
// and unmaps at the same places never runs out of a budget it does not use.
// The run's memory limit counts all of its address spaces together: a call is admitted when the
// caller's need fits beside the others' as each was last measured (at its own last admission or
// at the fork that made it), so a process that unmapped since is counted high until it maps again.
bool AdmitGrowth(GuestState& g, uint64_t bytes, uint64_t tables, const char* call);
// What `mem`'s address space accounts for now (its space and page tables); kept as
// last_accounted.
uint64_t AccountedBytes(MemoryAccounting& mem);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_
