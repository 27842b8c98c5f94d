// The parts of zerocell-bench, one per scenario family; each measures and returns its Report.
#ifndef ZEROCELL_BENCH_BENCH_PARTS_H_
#define ZEROCELL_BENCH_BENCH_PARTS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/rpc_bench.h"

namespace zerocell::bench {

// Which latency scenarios run; each at every ctx.levels concurrency, sides in alternating rounds.
struct LatencySelection {
  bool hello = false;       // Execute of hello by id vs bare spawn (and bwrap)
  bool grpc_floor = false;  // GetImage by id on the same channels, beside hello
  bool sha256 = false;      // 1 MiB stdin -> SHA-256 hex vs spawn through pipes (and bwrap)
};
absl::StatusOr<Report> RunLatencyScenarios(const BenchContext& ctx, const LatencySelection& which);

// cat256: `bytes` through the cat guest by one Execute (inline stdin, stdout returned) and by
// one ExecuteStream against /bin/cat through pipes, `runs` measured runs per side after one
// warm-up each, alternating (`with_execute` false: the streamed runs only). `server_pid` (-1:
// external) is sampled for its VmRSS growth during the streamed runs.
absl::StatusOr<Report> RunStreamScenario(const BenchContext& ctx, int64_t bytes, int runs,
                                         bool with_execute, pid_t server_pid);

// batch100: one ExecuteBatch of `runs` hello runs (the server's batch share at once) against
// `runs` bare posix_spawn+wait of the same guest at the same concurrency, and single Execute
// calls of hello at that concurrency, as runs per second.
absl::StatusOr<Report> RunBatchScenario(const BenchContext& ctx, int runs, int concurrency);

struct BurstOptions {
  int calls = 500;
  int64_t iterations = 0;  // of the compute guest
  // The admission settings of the server, for the report: a JSON object and a line of text.
  std::string admission_json;
  std::string admission_text;
};
// burst500: `calls` Execute calls of the compute guest issued at once on one channel (callback
// stub), against as many bare spawns started at once and then reaped.
absl::StatusOr<Report> RunBurstScenario(const BenchContext& ctx, const BurstOptions& options);

// The parked-sandbox figures: a separate zerocelld started with a pool of `parked` sandboxes,
// hello executed once, the parked children's memory read. Run before the other parts: its
// /proc/meminfo figures are system-wide, and the other parts leave memory being freed behind
// them. Never an error: a zerocelld without the pool flags gives a note, any other problem a
// failure in the report.
Report MeasureParkedSandboxes(const BenchContext& ctx, const std::string& zerocelld, int parked);

struct MemoryOptions {
  pid_t server_pid = -1;             // the zerocelld the scenarios ran on; -1 when external
  int64_t rss_after_start_kib = -1;  // its VmRSS right after it was ready
  // Its VmRSS after each part that ran before this one (idle, 300 ms after it), by part name.
  std::vector<std::pair<std::string, int64_t>> rss_after_part_kib;
  std::optional<Report> parked;  // from MeasureParkedSandboxes
};
// Server memory: VmRSS after start, after each part and now (idle), and the parked figures.
absl::StatusOr<Report> RunMemoryReport(const MemoryOptions& options);

}  // namespace zerocell::bench

#endif  // ZEROCELL_BENCH_BENCH_PARTS_H_
