// Shared pieces of the benchmarks: clock, latency summary, bare-spawn baseline, paths, main().
#ifndef ZEROCELL_BENCH_BENCH_SUPPORT_H_
#define ZEROCELL_BENCH_BENCH_SUPPORT_H_

#include <spawn.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/zerocelld_process.h"

namespace zerocell::bench {

// CLOCK_MONOTONIC in nanoseconds.
int64_t NowNs();

// A latency sample summarised in microseconds; all zero for an empty sample.
struct LatencyStats {
  int64_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, mean_us = 0, min_us = 0, max_us = 0;
};

// Percentiles are nearest-rank on the sorted sample (index round(p/100 * (n-1))).
LatencyStats Summarize(std::vector<int64_t> ns);

// For round `round`, in order, whether each of the two slots is side A's turn: {A, B} in even
// rounds, {B, A} in odd ones, so that neither side always runs on caches (or load) the other left.
std::array<bool, 2> AlternatingTurns(int round);

// <build> for a benchmark installed as <build>/bin/NAME (from /proc/self/exe; "build" if unknown).
std::string BuildDir();

// The hello-world guest: $ZEROCELL_GUEST_DIR/hello, else <build>/examples/hello.
std::string DefaultHelloGuest();

// `binary` (a zerocelld) started with `flags` as tests start it, but without a metrics listener;
// on destruction SIGTERM, and SIGKILL 15 s later.
absl::StatusOr<std::unique_ptr<testing::ZerocelldProcess>> StartZerocelld(
    const std::string& binary, std::vector<std::string> flags);

// The baseline every sandbox figure is compared to: posix_spawn + waitpid of `path` with `argv`,
// an empty environment and stdin and stdout on /dev/null (stderr inherited). Run() may be called
// from several threads at once.
class BareSpawn {
 public:
  static absl::StatusOr<std::unique_ptr<BareSpawn>> Create(std::string path,
                                                           std::vector<std::string> argv);
  ~BareSpawn();
  BareSpawn(const BareSpawn&) = delete;
  BareSpawn& operator=(const BareSpawn&) = delete;

  // One spawn and reap; an error unless the child exited 0.
  absl::Status Run() const;
  // Run() in two steps, for many children at once: Spawn() starts one, Reap(pid) waits for it.
  absl::StatusOr<pid_t> Spawn() const;
  absl::Status Reap(pid_t pid) const;

 private:
  BareSpawn(std::string path, std::vector<std::string> argv, int devnull);

  const std::string path_;
  std::vector<std::string> args_;
  std::vector<char*> argv_;  // into args_, built once so that Run() only spawns and waits
  const int devnull_;        // duplicated onto the child's 0 and 1
  posix_spawn_file_actions_t actions_;
};

// The whole of a benchmark's main(): sets `usage`, parses the flags, rejects positional
// arguments (exit 2), runs `bench_main` and reports its error as "`name`: status" (exit 1).
int RunBenchMain(int argc, char** argv, const char* name, const char* usage,
                 absl::FunctionRef<absl::Status()> bench_main);

}  // namespace zerocell::bench

#endif  // ZEROCELL_BENCH_BENCH_SUPPORT_H_
