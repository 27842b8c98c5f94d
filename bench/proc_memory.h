// The /proc readers zerocell-bench's memory figures use.
#ifndef ZEROCELL_BENCH_PROC_MEMORY_H_
#define ZEROCELL_BENCH_PROC_MEMORY_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zerocell::bench {

// A field of /proc/<pid>/status given in kB ("VmRSS", "VmPTE"), in KiB.
absl::StatusOr<int64_t> ProcStatusKib(pid_t pid, absl::string_view field);
// A field of /proc/meminfo ("MemAvailable", "KernelStack"), KiB.
absl::StatusOr<int64_t> MemInfoKib(absl::string_view field);

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

#endif  // ZEROCELL_BENCH_PROC_MEMORY_H_
