// Shared pieces of the benchmarks: clock, latency summary, bare-spawn baseline, paths, main().
#include "bench/bench_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/zerocelld_process.h"

namespace zerocell::bench {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

LatencyStats Summarize(std::vector<int64_t> ns) {
  LatencyStats out;
  if (ns.empty()) return out;
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    const size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(ns.size() - 1) + 0.5);
    return static_cast<double>(ns[std::min(i, ns.size() - 1)]) / 1e3;
  };
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  out.count = static_cast<int64_t>(ns.size());
  out.p50_us = pct(50);
  out.p90_us = pct(90);
  out.p99_us = pct(99);
  out.mean_us = sum / static_cast<double>(ns.size()) / 1e3;
  out.min_us = static_cast<double>(ns.front()) / 1e3;
  out.max_us = static_cast<double>(ns.back()) / 1e3;
  return out;
}

std::array<bool, 2> AlternatingTurns(int round) {
  const bool even = round % 2 == 0;
  return {even, !even};
}

std::string BuildDir() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "build";
  std::string path(self, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/'));  // <build>/bin
  return path.substr(0, path.rfind('/'));  // <build>
}

std::string DefaultHelloGuest() {
  if (const char* dir = std::getenv("ZEROCELL_GUEST_DIR"); dir != nullptr && *dir != '\0') {
    return absl::StrCat(dir, "/hello");
  }
  return absl::StrCat(BuildDir(), "/examples/hello");
}

absl::StatusOr<std::unique_ptr<testing::ZerocelldProcess>> StartZerocelld(
    const std::string& binary, std::vector<std::string> flags) {
  return testing::ZerocelldProcess::Start(
      std::move(flags), {.binary = binary, .metrics = false, .stop_grace = absl::Seconds(15)});
}

absl::StatusOr<std::unique_ptr<BareSpawn>> BareSpawn::Create(std::string path,
                                                             std::vector<std::string> argv) {
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return absl::InternalError(absl::StrCat("open /dev/null: errno ", errno));
  return std::unique_ptr<BareSpawn>(new BareSpawn(std::move(path), std::move(argv), devnull));
}

BareSpawn::BareSpawn(std::string path, std::vector<std::string> argv, int devnull)
    : path_(std::move(path)), args_(std::move(argv)), devnull_(devnull) {
  for (std::string& a : args_) argv_.push_back(a.data());
  argv_.push_back(nullptr);
  posix_spawn_file_actions_init(&actions_);
  posix_spawn_file_actions_adddup2(&actions_, devnull_, 0);
  posix_spawn_file_actions_adddup2(&actions_, devnull_, 1);
}

BareSpawn::~BareSpawn() {
  posix_spawn_file_actions_destroy(&actions_);
  close(devnull_);
}

absl::Status BareSpawn::Run() const {
  absl::StatusOr<pid_t> pid = Spawn();
  if (!pid.ok()) return pid.status();
  return Reap(*pid);
}

absl::StatusOr<pid_t> BareSpawn::Spawn() const {
  char* envp[] = {nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, path_.c_str(), &actions_, nullptr, argv_.data(), envp);
  if (err != 0) return absl::InternalError(absl::StrCat("posix_spawn ", path_, ": errno ", err));
  return pid;
}

absl::Status BareSpawn::Reap(pid_t pid) const {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: errno ", errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("bare run of ", path_, " failed: wait status ", status));
  }
  return absl::OkStatus();
}

int RunBenchMain(int argc, char** argv, const char* name, const char* usage,
                 absl::FunctionRef<absl::Status()> bench_main) {
  absl::SetProgramUsageMessage(usage);
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "%s: unexpected argument \"%s\"\n", name, rest[1]);
    return 2;
  }
  const absl::Status status = bench_main();
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace zerocell::bench
