// Address-space accounting of the guest against the manifest's memory limit.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_

#include <cstdint>

#include "sandbox/supervisor/guest_state.h"

namespace zerocell::sandbox::supervisor {

// Current address-space size of the sandbox process in bytes (from /proc/<pid>/statm), or -1.
int64_t VmBytes(MemoryAccounting& mem);
// Resident high-water mark (VmHWM), or -1; also folds it into mem.peak_rss_bytes.
int64_t SamplePeakRss(MemoryAccounting& mem);
// Whether growing the guest by `bytes` stays within the limit; stops the guest with
// MEMORY_LIMIT (naming `call`) when it does not.
bool AdmitGrowth(GuestState& g, uint64_t bytes, const char* call);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_ACCOUNTING_H_
