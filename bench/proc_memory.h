// A zerocelld started by zerocell-bench, and the /proc readers its memory figures use.
#ifndef ZEROCELL_BENCH_ZEROCELLD_PROCESS_H_
#define ZEROCELL_BENCH_ZEROCELLD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zerocell::bench {

// zerocelld on 127.0.0.1 port 0 without a metrics listener, stderr to a log file in a temp dir.
// SIGTERM (SIGKILL after 15 s) and reaped on destruction.
class ZerocelldProcess {
 public:
  // Starts `binary` with `flags` appended and waits (30 s at most) for its ready file. If it exits
  // first: INVALID_ARGUMENT when its log says a flag is unknown, else INTERNAL; both carry the log.
  static absl::StatusOr<std::unique_ptr<ZerocelldProcess>> Start(
      const std::string& binary, const std::vector<std::string>& flags);
  ~ZerocelldProcess();
  ZerocelldProcess(const ZerocelldProcess&) = delete;
  ZerocelldProcess& operator=(const ZerocelldProcess&) = delete;

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

 private:
  explicit ZerocelldProcess(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  pid_t pid_ = -1;
  std::string address_;
};

// A field of /proc/<pid>/status given in kB ("VmRSS", "VmPTE"), in KiB.
absl::StatusOr<int64_t> ProcStatusKib(pid_t pid, absl::string_view field);
// A field of /proc/meminfo ("MemAvailable", "KernelStack"), KiB.
absl::StatusOr<int64_t> MemInfoKib(absl::string_view field);
// The pids whose parent is `parent` (from /proc/*/stat), ascending.
std::vector<pid_t> ChildPids(pid_t parent);

// Resident figures of a set of mappings, KiB.
struct MemoryFigures {
  int64_t rss_kib = 0;
  int64_t pss_kib = 0;
  int64_t private_kib = 0;  // Private_Clean + Private_Dirty
};

// A process's memory: the totals of /proc/<pid>/smaps_rollup, VmPTE, and /proc/<pid>/smaps
// summed per mapping name ("[anon]" for unnamed ones; "(deleted)" dropped), largest Rss first.
struct ProcessMemory {
  MemoryFigures total;
  int64_t pte_kib = 0;
  std::vector<std::pair<std::string, MemoryFigures>> by_name;
};
absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid);

}  // namespace zerocell::bench

#endif  // ZEROCELL_BENCH_ZEROCELLD_PROCESS_H_
