// The outcome of one execution: what the guest did, what it wrote, and what it cost.
#ifndef ZEROCELL_SANDBOX_RESULT_H_
#define ZEROCELL_SANDBOX_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace zerocell::sandbox {

enum class Outcome {
  kExited,           // exit_code is valid
  kSignaled,         // term_signal is valid
  kTimeout,          // wall clock limit
  kCpuLimit,         // CPU time limit
  kMemoryLimit,      // address-space limit (refused at a mapping call, or at load)
  kOutputLimit,      // total output bytes above the manifest's output limit
  kPolicyViolation,  // a syscall outside the policy; `violation` names it
};

// Stable upper-case name: "EXITED", "SIGNALED", ... (also the proto enum suffix).
std::string_view OutcomeName(Outcome outcome);

struct Violation {
  std::string syscall;  // e.g. "socket", "i386:write" for a foreign ABI, "mprotect(PROT_EXEC)"
  int64_t number = -1;  // syscall number as the guest issued it
  std::string detail;   // human-readable reason
};

struct ChannelResult {
  std::string alias;
  int64_t reads = 0;  // read calls that moved data (reads at EOF are free)
  int64_t read_bytes = 0;
  int64_t writes = 0;
  int64_t write_bytes = 0;
  bool get_quota_exceeded = false;  // a read was cut short or refused by gets/get_size
  bool put_quota_exceeded = false;  // a write was cut short or refused by puts/put_size
  std::string etag;                 // lowercase hex SHA-256 of every byte moved, empty if not asked
  bool writable = false;
  std::string output;  // final contents of a writable channel
};

// A run's use of its scratch directory (Manifest::scratch), reported like channel quotas.
struct ScratchResult {
  std::string path;
  int64_t bytes = 0, peak_bytes = 0;  // bytes its files held at the end / at most
  int64_t files = 0, peak_files = 0;  // files, directories and symlinks at the end / at most
  bool bytes_quota_exceeded = false;  // a write or truncate was cut short or refused (EDQUOT)
  bool files_quota_exceeded = false;  // a creation was refused (EDQUOT)
};

struct Usage {
  absl::Duration wall;  // spawn to reap
  absl::Duration
      startup;  // engine start to the guest's first instruction (a warm start: release only)
  absl::Duration user_cpu;    // the guest's
  absl::Duration system_cpu;  // the guest's, in the kernel
  // CPU the supervisor spent on the guest's behalf (emulated calls, copies, hashing, the memory
  // etag); it counts against the CPU limit together with the guest's.
  absl::Duration supervisor_cpu;
  int64_t peak_memory_bytes = 0;  // resident high-water mark: its processes' largest
  int64_t notified_syscalls = 0;  // syscalls serviced by the supervisor
  int64_t peak_processes = 1;     // most processes the run had at once
};

struct Result {
  Outcome outcome = Outcome::kExited;
  int exit_code = 0;    // kExited
  int term_signal = 0;  // kSignaled
  Violation violation;  // kPolicyViolation
  std::string detail;   // one line for humans, e.g. "memory limit 16777216 bytes exceeded by mmap"
  std::vector<ChannelResult> channels;  // in manifest order
  // With Manifest::memory_etag(): lowercase hex SHA-256 of the guest's memory at exit_group
  // (sandbox/supervisor/memory_digest.h has the definition); empty when the guest did not end
  // by exit_group (a signal, a limit) or was not asked for it.
  std::string memory_etag;
  // Set when the run had a scratch directory.
  std::optional<ScratchResult> scratch;
  // A fork was refused (EAGAIN) at Manifest::max_processes, reported like a quota.
  bool process_limit_exceeded = false;
  Usage usage;
  // Sources of nondeterminism this host could not close, e.g. "cpuid: host CPU features are
  // visible to the guest". Empty means the run is fully reproducible here.
  std::vector<std::string> nondeterminism;
};

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_RESULT_H_
