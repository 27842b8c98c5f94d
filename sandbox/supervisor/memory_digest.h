// The memory etag (ZeroVM's /dev/memory): a SHA-256 over the guest's address space at exit.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_DIGEST_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_DIGEST_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace zerocell::sandbox::supervisor {

// The definition (stable for a deterministic program on one host, warm or cold start alike):
// - the mappings are those of /proc/<pid>/maps at the guest's exit_group, in address order,
//   without the loader's own and the guest's vDSO and clock page below them (every mapping
//   inside [loader_low, loader_high): our code and the clock, not the guest's), the loader's exec
//   stack ("[stack]": only the loader ever ran on it) and the kernel's [vdso], [vvar],
//   [vvar_vclock] and [vsyscall] pages (time and host data the guest did not make);
// - each mapping adds 'M', its start and end (little-endian uint64) and one byte of protection
//   (4 read, 2 write, 1 execute), so the layout is part of the digest;
// - each page of a readable mapping whose 4096 bytes are not all zero then adds 'P', its address
//   (little-endian uint64) and its bytes. All-zero pages add nothing, whether the guest touched
//   them or not (the kernel decides which pages are resident, the guest only what they hold);
//   pages that cannot be read (a file mapping past the end of its file) count as zero;
// - unreadable mappings (PROT_NONE guards) add their header only; unmapped gaps add nothing.
// Lowercase hex. Cost: a read of every resident page; absent anonymous pages are skipped via
// /proc/<pid>/pagemap when it can be read. `exhausted` is asked between pieces of 1 MiB: when it
// says true the digest stops there (ABORTED), so that the run's limits and cancellation hold.
absl::StatusOr<std::string> GuestMemoryDigest(pid_t pid, uint64_t loader_low, uint64_t loader_high,
                                              const std::function<bool()>& exhausted = nullptr);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_MEMORY_DIGEST_H_
