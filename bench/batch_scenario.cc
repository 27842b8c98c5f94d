// zerocell-bench batch100: one ExecuteBatch of N hello runs against N bare posix_spawn+wait of
// the same guest at the same concurrency (the server's batch share), and N single Execute calls
// of hello at that concurrency, as runs per second; three alternating rounds, medians.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "bench/bench_parts.h"

namespace zerocell::bench {
namespace {

constexpr int kRounds = 3;

// `count` calls of `once` spread over `threads` threads; runs per second, or the first error.
absl::StatusOr<double> Throughput(int count, int threads,
                                  const std::function<absl::Status(int thread)>& once) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  absl::Status first_error;
  std::mutex error_mu;
  const int64_t start = NowNs();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (next.fetch_add(1) < count && !failed.load()) {
        if (absl::Status s = once(t); !s.ok()) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (!failed.exchange(true)) first_error = s;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  const int64_t elapsed = NowNs() - start;
  if (failed.load()) return first_error;
  return count * 1e9 / static_cast<double>(elapsed);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

absl::StatusOr<Report> RunBatchScenario(const BenchContext& ctx, int runs, int concurrency) {
  ASSIGN_OR_RETURN(std::string id, Register(ctx, ctx.guests.hello));
  std::shared_ptr<grpc::Channel> channel = OpenChannel(ctx);
  std::unique_ptr<v1::Sandbox::Stub> stub = v1::Sandbox::NewStub(channel);
  ASSIGN_OR_RETURN(std::unique_ptr<Workload> bare, MakeSpawnWorkload(ctx.guests.hello, {"hello"}));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < concurrency; ++i) channels.push_back(OpenChannel(ctx));
  std::unique_ptr<Workload> single = MakeExecuteWorkload(
      channels, MakeExecuteRequest(id, {"hello"}, "", 1 << 10), [](absl::string_view out) {
        return out.empty() ? absl::InternalError("hello printed nothing") : absl::OkStatus();
      });

  v1::ExecuteBatchRequest batch_request;
  batch_request.set_image_id(id);
  for (int i = 0; i < runs; ++i) batch_request.add_runs()->add_argv("hello");
  const auto run_batch = [&]() -> absl::StatusOr<double> {
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    const int64_t start = NowNs();
    std::unique_ptr<grpc::ClientReader<v1::ExecuteBatchResult>> reader =
        stub->ExecuteBatch(&call, batch_request);
    v1::ExecuteBatchResult result;
    int ok = 0;
    while (reader->Read(&result)) {
      const v1::ExecuteResponse& r = result.response();
      if (result.error_code() != 0 || r.outcome() != v1::OUTCOME_EXITED || r.exit_code() != 0 ||
          r.channels_size() < 2 || r.channels(1).output().empty()) {
        return absl::InternalError(
            absl::StrCat("batch run ", result.index(), ": ", result.error_message(), r.detail()));
      }
      ++ok;
    }
    grpc::Status s = reader->Finish();
    const int64_t elapsed = NowNs() - start;
    if (!s.ok()) return absl::InternalError(absl::StrCat("ExecuteBatch: ", s.error_message()));
    if (ok != runs) return absl::InternalError(absl::StrCat("batch: ", ok, " results"));
    return runs * 1e9 / static_cast<double>(elapsed);
  };

  std::vector<double> batch_rps, bare_rps, single_rps;
  for (int round = -1; round < kRounds; ++round) {  // round -1: warm-up
    ASSIGN_OR_RETURN(double b, run_batch());
    ASSIGN_OR_RETURN(double s,
                     Throughput(runs, concurrency, [&](int t) { return bare->RunOnce(t); }));
    ASSIGN_OR_RETURN(double e,
                     Throughput(runs, concurrency, [&](int t) { return single->RunOnce(t); }));
    if (round < 0) continue;
    batch_rps.push_back(b);
    bare_rps.push_back(s);
    single_rps.push_back(e);
  }
  const double batch = Median(batch_rps), spawn = Median(bare_rps), single_m = Median(single_rps);
  const double ratio = spawn > 0 ? batch / spawn : 0;
  Report report;
  report.json_key = "batch100";
  report.json = absl::StrFormat(
      "{\"runs\":%d,\"concurrency\":%d,\"rounds\":%d,\"batch_runs_per_s\":%.1f,"
      "\"bare_spawn_runs_per_s\":%.1f,\"single_execute_runs_per_s\":%.1f,"
      "\"batch_over_bare\":%.3f,\"single_over_bare\":%.3f}",
      runs, concurrency, kRounds, batch, spawn, single_m, ratio, spawn > 0 ? single_m / spawn : 0);
  report.text = absl::StrFormat(
      "batch100: %d hello runs at concurrency %d (the server's batch share), %d rounds after a "
      "warm-up, medians\n"
      "  ExecuteBatch (one call, results streamed): %.1f runs/s\n"
      "  bare posix_spawn+wait of the guest, %d threads: %.1f runs/s\n"
      "  single Execute calls, %d clients: %.1f runs/s\n"
      "  batch/bare: %.3f   single/bare: %.3f\n",
      runs, concurrency, kRounds, batch, concurrency, spawn, concurrency, single_m, ratio,
      spawn > 0 ? single_m / spawn : 0);
  return report;
}

}  // namespace zerocell::bench
