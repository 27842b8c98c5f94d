// zerocell-engine-bench: latency of Engine::Run on a hello-world guest against bare posix_spawn +
// waitpid of the same binary, measured in one process, interleaved, after a warm-up.
//
// Both sides are timed from "about to start" to "child reaped": the engine side includes the
// loader exec, mapping, seccomp install, the supervisor's work and result assembly; the bare side
// is the kernel's spawn + exec + exit of the static binary with stdout on /dev/null.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/status_macros.h"
#include "sandbox/sys/unique_fd.h"

ABSL_FLAG(int, runs, 300, "measured runs of each kind");
ABSL_FLAG(int, warmup, 20, "unmeasured runs of each kind first");
ABSL_FLAG(std::string, guest, "",
          "hello-world guest (default: $ZEROCELL_GUEST_DIR/hello, else build/examples/hello "
          "beside this binary's bin/)");
ABSL_FLAG(std::string, loader, "", "zerocell-loader (default: beside this binary)");

namespace zerocell::bench {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string DefaultGuest() {
  if (const char* dir = std::getenv("ZEROCELL_GUEST_DIR"); dir != nullptr && *dir != '\0') {
    return absl::StrCat(dir, "/hello");
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "build/examples/hello";
  std::string path(self, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/'));  // build/bin
  path = path.substr(0, path.rfind('/'));  // build
  return absl::StrCat(path, "/examples/hello");
}

// One bare spawn of `path` (argv {"hello"}, empty environment, stdin and stdout on /dev/null).
absl::StatusOr<int64_t> BareRun(const std::string& path,
                                const posix_spawn_file_actions_t* actions) {
  char arg0[] = "hello";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  const int64_t start = NowNs();
  pid_t pid = 0;
  int err = posix_spawn(&pid, path.c_str(), actions, nullptr, argv, envp);
  if (err != 0) return absl::InternalError(absl::StrCat("posix_spawn ", path, ": errno ", err));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("waitpid failed");
  }
  const int64_t elapsed = NowNs() - start;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("bare run of ", path, " failed: status ", status));
  }
  return elapsed;
}

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

struct Stats {
  double p50, p90, p99, mean, min, max;  // microseconds
};

Stats Summarize(std::vector<int64_t> ns) {
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(ns.size() - 1) + 0.5);
    return static_cast<double>(ns[std::min(i, ns.size() - 1)]) / 1e3;
  };
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  return Stats{pct(50),
               pct(90),
               pct(99),
               sum / static_cast<double>(ns.size()) / 1e3,
               static_cast<double>(ns.front()) / 1e3,
               static_cast<double>(ns.back()) / 1e3};
}

absl::Status Main() {
  const int runs = absl::GetFlag(FLAGS_runs);
  const int warmup = absl::GetFlag(FLAGS_warmup);
  if (runs < 1 || warmup < 0)
    return absl::InvalidArgumentError("--runs must be >= 1, --warmup >= 0");
  std::string guest = absl::GetFlag(FLAGS_guest);
  if (guest.empty()) guest = DefaultGuest();

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

  sandbox::sys::UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return absl::InternalError("open /dev/null failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, devnull.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, devnull.get(), 1);

  std::vector<int64_t> engine_ns, bare_ns;
  engine_ns.reserve(runs);
  bare_ns.reserve(runs);
  absl::Status status;
  for (int i = -warmup; i < runs && status.ok(); ++i) {
    // Alternate which side goes first so that neither always runs on a cache the other warmed.
    for (int side = 0; side < 2 && status.ok(); ++side) {
      const bool engine_turn = (side == 0) == (i % 2 == 0);
      absl::StatusOr<int64_t> ns =
          engine_turn ? EngineRun(*engine, *image, manifest) : BareRun(guest, &actions);
      if (!ns.ok()) {
        status = ns.status();
      } else if (i >= 0) {
        (engine_turn ? engine_ns : bare_ns).push_back(*ns);
      }
    }
  }
  posix_spawn_file_actions_destroy(&actions);
  RETURN_IF_ERROR(status);

  const Stats e = Summarize(engine_ns);
  const Stats b = Summarize(bare_ns);
  std::printf("zerocell-engine-bench: %d runs each after %d warm-up, guest %s\n", runs, warmup,
              guest.c_str());
  std::printf("%-8s %10s %10s %10s %10s %10s %10s  (microseconds)\n", "", "p50", "p90", "p99",
              "mean", "min", "max");
  for (const auto& [name, s] : {std::pair{"engine", e}, std::pair{"bare", b}}) {
    std::printf("%-8s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", name, s.p50, s.p90, s.p99,
                s.mean, s.min, s.max);
  }
  std::printf("%-8s %10.2f %10.2f %10.2f %10.2f\n", "ratio", e.p50 / b.p50, e.p90 / b.p90,
              e.p99 / b.p99, e.mean / b.mean);
  std::printf(
      "{\"bench\":\"engine_vs_bare_spawn\",\"runs\":%d,\"warmup\":%d,"
      "\"engine_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"mean\":%.1f},"
      "\"bare_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"mean\":%.1f},"
      "\"ratio\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"mean\":%.3f}}\n",
      runs, warmup, e.p50, e.p90, e.p99, e.mean, b.p50, b.p90, b.p99, b.mean, e.p50 / b.p50,
      e.p90 / b.p90, e.p99 / b.p99, e.mean / b.mean);
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Benchmarks Engine::Run of a hello-world guest against bare posix_spawn+waitpid.\n"
      "Usage: zerocell-engine-bench [--runs=300] [--warmup=20] [--guest=PATH] [--loader=PATH]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "zerocell-engine-bench: unexpected argument \"%s\"\n", rest[1]);
    return 2;
  }
  absl::Status status = zerocell::bench::Main();
  if (!status.ok()) {
    std::fprintf(stderr, "zerocell-engine-bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
