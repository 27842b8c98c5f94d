// zerocell-engine-bench: latency of the engine on a hello-world guest, cold (Engine::Run) and warm
// (Engine::RunParked of a sandbox prestarted beforehand, as the warm pool does), against bare
// posix_spawn + waitpid of the same binary, measured in one process, interleaved, after a warm-up.
//
// Every side is timed from "about to start" to "child reaped": cold includes the loader exec,
// mapping, seccomp install (the prestart), the release, the supervisor's work and result
// assembly; warm is the release onwards (its prestart happens before the clock starts, like the
// pool's refill); bare is the kernel's spawn + exec + exit of the static binary with stdout on
// /dev/null.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"

ABSL_FLAG(int, runs, 300, "measured runs of each kind");
ABSL_FLAG(int, warmup, 20, "unmeasured runs of each kind first");
ABSL_FLAG(std::string, guest, "",
          "hello-world guest (default: $ZEROCELL_GUEST_DIR/hello, else build/examples/hello "
          "beside this binary's bin/)");
ABSL_FLAG(std::string, loader, "", "zerocell-loader (default: beside this binary)");

constexpr char kUsage[] =
    "Benchmarks the engine (cold and warm) on a hello-world guest against bare "
    "posix_spawn+waitpid.\n"
    "Usage: zerocell-engine-bench [--runs=300] [--warmup=20] [--guest=PATH] [--loader=PATH]";

namespace zerocell::bench {
namespace {

absl::StatusOr<int64_t> EngineRun(const sandbox::Engine& engine, const sandbox::Image& image,
                                  const sandbox::Manifest& manifest, bool warm) {
  std::unique_ptr<sandbox::ParkedSandbox> parked;
  if (warm) {
    ASSIGN_OR_RETURN(parked, engine.Prestart(image, absl::Now() + absl::Seconds(10)));
  }
  const int64_t start = NowNs();
  ASSIGN_OR_RETURN(sandbox::Result result,
                   warm ? engine.RunParked(std::move(parked), image, manifest, {})
                        : engine.Run(image, manifest));
  const int64_t elapsed = NowNs() - start;
  if (result.outcome != sandbox::Outcome::kExited || result.exit_code != 0) {
    return absl::InternalError(absl::StrCat("engine run ended with ",
                                            std::string(sandbox::OutcomeName(result.outcome)), " ",
                                            result.exit_code, ": ", result.detail));
  }
  return elapsed;
}

absl::Status Main() {
  const int runs = absl::GetFlag(FLAGS_runs);
  const int warmup = absl::GetFlag(FLAGS_warmup);
  if (runs < 1 || warmup < 0)
    return absl::InvalidArgumentError("--runs must be >= 1, --warmup >= 0");
  std::string guest = absl::GetFlag(FLAGS_guest);
  if (guest.empty()) guest = DefaultHelloGuest();

  ASSIGN_OR_RETURN(std::shared_ptr<const sandbox::Image> image, sandbox::Image::FromFile(guest));
  ASSIGN_OR_RETURN(std::unique_ptr<sandbox::Engine> engine,
                   sandbox::Engine::Create({.loader_path = absl::GetFlag(FLAGS_loader)}));
  sandbox::ManifestBuilder builder;
  builder.set_timeout(absl::Seconds(10))
      .set_argv({"hello"})
      .add_channel(sandbox::StdinChannel(""))
      .add_channel(sandbox::StdoutChannel(int64_t{1} << 20))
      .add_channel(sandbox::StderrChannel(int64_t{1} << 20));
  ASSIGN_OR_RETURN(sandbox::Manifest manifest, builder.Build());

  ASSIGN_OR_RETURN(std::unique_ptr<BareSpawn> bare, BareSpawn::Create(guest, {"hello"}));

  // Sides in a rotating order per round, so that none always runs on caches another left.
  constexpr int kSides = 3;  // cold, warm, bare
  const char* const names[kSides] = {"cold", "warm", "bare"};
  std::vector<int64_t> ns[kSides];
  for (auto& v : ns) v.reserve(runs);
  for (int i = -warmup; i < runs; ++i) {
    for (int k = 0; k < kSides; ++k) {
      const int side = (i + warmup + k) % kSides;
      int64_t elapsed = 0;
      if (side == 2) {
        const int64_t start = NowNs();
        RETURN_IF_ERROR(bare->Run());
        elapsed = NowNs() - start;
      } else {
        ASSIGN_OR_RETURN(elapsed, EngineRun(*engine, *image, manifest, side == 1));
      }
      if (i >= 0) ns[side].push_back(elapsed);
    }
  }

  LatencyStats st[kSides];
  for (int k = 0; k < kSides; ++k) st[k] = Summarize(std::move(ns[k]));
  const LatencyStats& b = st[2];
  std::printf("zerocell-engine-bench: %d runs each after %d warm-up, guest %s\n", runs, warmup,
              guest.c_str());
  std::printf("%-10s %10s %10s %10s %10s %10s %10s  (microseconds)\n", "", "p50", "p90", "p99",
              "mean", "min", "max");
  for (int k = 0; k < kSides; ++k) {
    std::printf("%-10s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", names[k], st[k].p50_us,
                st[k].p90_us, st[k].p99_us, st[k].mean_us, st[k].min_us, st[k].max_us);
  }
  for (int k = 0; k < 2; ++k) {
    std::printf("%-10s %10.2f %10.2f %10.2f %10.2f\n", absl::StrCat(names[k], "/bare").c_str(),
                st[k].p50_us / b.p50_us, st[k].p90_us / b.p90_us, st[k].p99_us / b.p99_us,
                st[k].mean_us / b.mean_us);
  }
  std::string json = absl::StrFormat(
      "{\"bench\":\"engine_vs_bare_spawn\",\"runs\":%d,\"warmup\":%d", runs, warmup);
  for (int k = 0; k < kSides; ++k) {
    absl::StrAppendFormat(&json,
                          ",\"%s_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"mean\":%.1f}",
                          names[k], st[k].p50_us, st[k].p90_us, st[k].p99_us, st[k].mean_us);
  }
  for (int k = 0; k < 2; ++k) {
    absl::StrAppendFormat(&json,
                          ",\"%s_ratio\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"mean\":%.3f}",
                          names[k], st[k].p50_us / b.p50_us, st[k].p90_us / b.p90_us,
                          st[k].p99_us / b.p99_us, st[k].mean_us / b.mean_us);
  }
  std::printf("%s}\n", json.c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-engine-bench", kUsage,
                                       zerocell::bench::Main);
}
