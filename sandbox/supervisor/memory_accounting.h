// Address-space accounting of the guest against the manifest's memory limit.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_

#include <cstdint>

#include "sandbox/supervisor/guest_state.h"

namespace zerocell::sandbox::supervisor {

// Current address-space size of the sandbox process in bytes (from /proc/<pid>/statm), or -1.
// Also folds the current resident size into mem.peak_rss_bytes (a lower bound of the peak).
int64_t VmBytes(MemoryAccounting& mem);
// Resident high-water mark (VmHWM from /proc/<pid>/status), or -1; folded into
// mem.peak_rss_bytes. Costly: taken once, when the guest exits.
int64_t SamplePeakRss(MemoryAccounting& mem);
// Whether growing the guest by `bytes` stays within the limit; stops the guest with
// MEMORY_LIMIT (naming `call`) when it does not.
bool AdmitGrowth(GuestState& g, uint64_t bytes, const char* call);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_
