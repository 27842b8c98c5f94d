// zerocell-engine-bench: latency of Engine::Run on a hello-world guest against bare posix_spawn +
// waitpid of the same binary, measured in one process, interleaved, after a warm-up.
//
// Both sides are timed from "about to start" to "child reaped": the engine side includes the
// loader exec, mapping, seccomp install, the supervisor's work and result assembly; the bare side
// is the kernel's spawn + exec + exit of the static binary with stdout on /dev/null.
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
#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/status_macros.h"

ABSL_FLAG(int, runs, 300, "measured runs of each kind");
ABSL_FLAG(int, warmup, 20, "unmeasured runs of each kind first");
ABSL_FLAG(std::string, guest, "",
          "hello-world guest (default: $ZEROCELL_GUEST_DIR/hello, else build/examples/hello "
          "beside this binary's bin/)");
ABSL_FLAG(std::string, loader, "", "zerocell-loader (default: beside this binary)");

constexpr char kUsage[] =
    "Benchmarks Engine::Run of a hello-world guest against bare posix_spawn+waitpid.\n"
    "Usage: zerocell-engine-bench [--runs=300] [--warmup=20] [--guest=PATH] [--loader=PATH]";

namespace zerocell::bench {
namespace {

absl::StatusOr<int64_t> EngineRun(const sandbox::Engine& engine, const sandbox::Image& image,
                                  const sandbox::Manifest& manifest) {
  const int64_t start = NowNs();
  ASSIGN_OR_RETURN(sandbox::Result result, engine.Run(image, manifest));
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

  std::vector<int64_t> engine_ns, bare_ns;
  engine_ns.reserve(runs);
  bare_ns.reserve(runs);
  for (int i = -warmup; i < runs; ++i) {
    for (const bool engine_turn : AlternatingTurns(i)) {
      int64_t ns = 0;
      if (engine_turn) {
        ASSIGN_OR_RETURN(ns, EngineRun(*engine, *image, manifest));
      } else {
        const int64_t start = NowNs();
        RETURN_IF_ERROR(bare->Run());
        ns = NowNs() - start;
      }
      if (i >= 0) (engine_turn ? engine_ns : bare_ns).push_back(ns);
    }
  }

  const LatencyStats e = Summarize(std::move(engine_ns));
  const LatencyStats b = Summarize(std::move(bare_ns));
  std::printf("zerocell-engine-bench: %d runs each after %d warm-up, guest %s\n", runs, warmup,
              guest.c_str());
  std::printf("%-8s %10s %10s %10s %10s %10s %10s  (microseconds)\n", "", "p50", "p90", "p99",
              "mean", "min", "max");
  for (const auto& [name, s] : {std::pair{"engine", e}, std::pair{"bare", b}}) {
    std::printf("%-8s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", name, s.p50_us, s.p90_us,
                s.p99_us, s.mean_us, s.min_us, s.max_us);
  }
  std::printf("%-8s %10.2f %10.2f %10.2f %10.2f\n", "ratio", e.p50_us / b.p50_us,
              e.p90_us / b.p90_us, e.p99_us / b.p99_us, e.mean_us / b.mean_us);
  std::printf(
      "{\"bench\":\"engine_vs_bare_spawn\",\"runs\":%d,\"warmup\":%d,"
      "\"engine_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"mean\":%.1f},"
      "\"bare_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"mean\":%.1f},"
      "\"ratio\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"mean\":%.3f}}\n",
      runs, warmup, e.p50_us, e.p90_us, e.p99_us, e.mean_us, b.p50_us, b.p90_us, b.p99_us,
      b.mean_us, e.p50_us / b.p50_us, e.p90_us / b.p90_us, e.p99_us / b.p99_us,
      e.mean_us / b.mean_us);
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-engine-bench", kUsage,
                                       zerocell::bench::Main);
}
