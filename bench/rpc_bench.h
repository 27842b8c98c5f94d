// What the parts of zerocell-bench share: the context, workloads, the round driver and reports.
#ifndef ZEROCELL_BENCH_RPC_BENCH_H_
#define ZEROCELL_BENCH_RPC_BENCH_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::bench {

namespace v1 = ::zerocell::v1;

// The guests zerocell-bench runs (static musl binaries).
struct Guests {
  std::string hello;    // examples/hello
  std::string sha256;   // bench/guests/sha256.c: SHA-256 of stdin as hex
  std::string cat;      // bench/guests/cat.c: stdin -> stdout, 128 KiB buffer
  std::string compute;  // bench/guests/compute.c: argv[1] xorshift steps
};

// What every part reads: where the server is, the guests, and the run lengths.
struct BenchContext {
  std::string address;            // zerocelld, host:port
  int64_t max_message_bytes = 0;  // the client channels' send and receive bound
  Guests guests;
  std::string bwrap;        // path of bwrap; empty when it is not installed or does not work
  std::string bwrap_note;   // why, when empty
  std::vector<int> levels;  // concurrency levels of the latency scenarios
  absl::Duration duration;  // measured time per side and level
  int rounds = 2;           // alternating rounds the duration is split into
  int warmup = 20;          // unmeasured runs per client and side first
  v1::Sandbox::Stub* stub = nullptr;  // control calls (RegisterImage)
};

// One part's output: lines for the table mode and one member of the --json object.
struct Report {
  std::string json_key;
  std::string json;  // a JSON value
  std::string text;  // printed in the table mode
  // Calls that failed in a way the benchmark does not expect (wrong output, an error status other
  // than an announced refusal). Non-zero makes zerocell-bench exit 1 after printing everything.
  int64_t failures = 0;
};

// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
std::string JsonQuote(absl::string_view s);

// A channel with its own TCP connection to ctx.address and the message bounds raised to
// ctx.max_message_bytes.
std::shared_ptr<grpc::Channel> OpenChannel(const BenchContext& ctx);

// RegisterImage of the file at `path`; the image id.
absl::StatusOr<std::string> Register(const BenchContext& ctx, const std::string& path);

// An Execute request for `image_id` with the three standard channels: stdin holding `input`,
// stdout writable up to `stdout_bytes`, stderr up to 64 KiB, and the output limit covering both.
// Timeout 60 s; every other manifest field at its default.
v1::ExecuteRequest MakeExecuteRequest(const std::string& image_id, std::vector<std::string> argv,
                                      std::string input, int64_t stdout_bytes);

// Checks a run's stdout; an error describes the mismatch.
using OutputCheck = std::function<absl::Status(absl::string_view stdout_bytes)>;
OutputCheck ExpectOutput(std::string expected);

// One side of a comparison: RunOnce is called repeatedly by each client thread.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual absl::Status RunOnce(int client) = 0;
  // Mean server-reported parts of a run since the last Reset(), microseconds, by name.
  virtual std::vector<std::pair<std::string, double>> Breakdown() const { return {}; }
  virtual void Reset() {}
};

// Execute of `request` over channels[client] (one per client); the run must exit 0 and its
// stdout pass `check`.
std::unique_ptr<Workload> MakeExecuteWorkload(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, v1::ExecuteRequest request,
    OutputCheck check);
// GetImage of `image_id` over channels[client]: the floor of a unary call, no sandbox.
std::unique_ptr<Workload> MakeGetImageWorkload(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, std::string image_id);
// BareSpawn of `path` (stdin and stdout on /dev/null).
absl::StatusOr<std::unique_ptr<Workload>> MakeSpawnWorkload(std::string path,
                                                            std::vector<std::string> argv);
// RunPiped of `path` with `input`; stdout must pass `check`.
std::unique_ptr<Workload> MakePipedSpawnWorkload(std::string path, std::vector<std::string> argv,
                                                 std::string input, OutputCheck check);

// posix_spawn of `path` with an empty environment, `input` written to its stdin through a pipe
// and its stdout read from another (one thread, poll); stderr inherited. The stdout bytes; an
// error unless the child exited 0.
absl::StatusOr<std::string> RunPiped(const std::string& path, const std::vector<std::string>& argv,
                                     absl::string_view input);

struct Stats : LatencyStats {
  double per_second = 0;  // successful runs per second of measured time
  int64_t failures = 0;   // runs that returned an error (not in the latencies)
  std::string first_error;
};

struct Side {
  std::string name;
  std::unique_ptr<Workload> workload;
};

// Runs every side with `clients` threads: ctx.warmup runs per client each, then ctx.rounds rounds
// of ctx.duration / ctx.rounds per side, in order in even rounds and reversed in odd ones. One
// Stats per side, in order. An error only when every warm-up run of a side failed.
absl::StatusOr<std::vector<Stats>> CompareSides(const BenchContext& ctx, std::vector<Side>& sides,
                                                int clients);

// {"runs":..,"failures":..,"p50_us":..,"p90_us":..,"p99_us":..,"mean_us":..,"runs_per_s":..}
std::string StatsJson(const Stats& s);

// `n` deterministic pseudo-random bytes.
std::string PseudoRandomBytes(size_t n, uint64_t seed);
// A cheap 64-bit checksum of `bytes` (order-sensitive, not cryptographic).
uint64_t Checksum64(absl::string_view bytes);

}  // namespace zerocell::bench

#endif  // ZEROCELL_BENCH_RPC_BENCH_H_
