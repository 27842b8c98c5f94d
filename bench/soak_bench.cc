// zerocell-soak: a bounded soak of zerocelld (issue 14, "Proof of robustness"). Mixed Execute
// calls over gRPC (ok, timeouts, policy violations, memory limits, cancellations, inline images
// that evict others from a small cache) from several clients, then the server must hold nothing
// of them: no sandbox, no zombie, no fd and no temp file more than after the warm-up, and its RSS
// back near idle. Prints the figures; exits 1 when anything leaked or a run ended unexpectedly.
//
//   build/bin/zerocell-soak                    # 20,000 runs, 4 clients
//   build/bin/zerocell-soak --runs=300         # the ctest (soak_short)
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"
#include "bench/proc_memory.h"
#include "bench/rpc_bench.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"

ABSL_FLAG(int, runs, 20000, "Execute calls in all");
ABSL_FLAG(int, clients, 4, "client threads, each with its own connection");
ABSL_FLAG(std::string, zerocelld, "", "zerocelld to start (default: beside this binary)");
ABSL_FLAG(
    std::string, guest_dir, "",
    "the test guests (spin, alloc, pol_socket; default $ZEROCELL_GUEST_DIR or <build>/guests)");
ABSL_FLAG(double, rss_slack, 1.5, "RSS after may be at most this times idle, plus 16 MiB");

namespace zerocell::bench {
namespace {

constexpr int kImageVariants = 6;  // inline images cycled through a cache of 3

enum Kind { kOk, kTimeout, kViolation, kMemory, kCancel, kEvict, kKinds };
constexpr const char* kKindNames[kKinds] = {"ok",           "timeout",      "violation",
                                            "memory_limit", "cancellation", "inline_evicting"};

int CountDir(const std::string& dir, absl::string_view prefix = "") {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), prefix)) ++n;
  }
  return n;
}

// Children of `pid` by state: running or sleeping, and zombies.
std::pair<int, int> Children(pid_t pid) {
  int live = 0, zombies = 0;
  for (pid_t child : testing::ChildPids(pid)) {
    absl::StatusOr<std::string> stat = testing::ReadFile(absl::StrCat("/proc/", child, "/stat"));
    if (!stat.ok()) continue;
    const size_t paren = stat->rfind(')');
    const bool zombie =
        paren != std::string::npos && stat->size() > paren + 2 && (*stat)[paren + 2] == 'Z';
    ++(zombie ? zombies : live);
  }
  return {live, zombies};
}

int OpenFds(pid_t pid) { return CountDir(absl::StrCat("/proc/", pid, "/fd")); }

// What the entries of `dir` are (names, or fd link targets), for the report of a leak.
std::string Listing(const std::string& dir, bool links) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    out.push_back(links ? std::filesystem::read_symlink(entry.path(), link_ec).string()
                        : entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return absl::StrJoin(out, " ");
}

absl::Status SoakMain() {
  const int runs = absl::GetFlag(FLAGS_runs);
  const int clients = std::max(1, absl::GetFlag(FLAGS_clients));
  std::string zerocelld = absl::GetFlag(FLAGS_zerocelld);
  if (zerocelld.empty()) zerocelld = BuildDir() + "/bin/zerocelld";
  std::string guest_dir = absl::GetFlag(FLAGS_guest_dir);
  if (guest_dir.empty() && getenv("ZEROCELL_GUEST_DIR") != nullptr) {
    guest_dir = getenv("ZEROCELL_GUEST_DIR");
  }
  if (guest_dir.empty()) guest_dir = BuildDir() + "/guests";

  // The server's TMPDIR and --image_dir are ours to inspect at the end.
  std::string dir = (std::filesystem::temp_directory_path() / "zerocell-soak-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  const std::string tmp = dir + "/tmp", images = dir + "/images";
  std::filesystem::create_directory(tmp);
  std::filesystem::create_directory(images);
  setenv("TMPDIR", tmp.c_str(), 1);
  absl::StatusOr<std::unique_ptr<testing::ZerocelldProcess>> started = StartZerocelld(
      zerocelld,
      {"--max_concurrency=2", "--max_queue=64", "--max_queue_wait_ms=30000", "--cache_max_images=3",
       "--pool_idle_ms=300", "--max_memory_bytes=268435456", absl::StrCat("--image_dir=", images)});
  unsetenv("TMPDIR");
  if (!started.ok()) {
    std::filesystem::remove_all(dir);
    return started.status();
  }
  std::unique_ptr<testing::ZerocelldProcess> server = *std::move(started);
  const pid_t pid = server->pid();

  BenchContext ctx;
  ctx.address = server->grpc_address();
  ctx.max_message_bytes = 64 << 20;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::Sandbox::Stub>> stubs;
  for (int i = 0; i < clients; ++i) {
    channels.push_back(OpenChannel(ctx));
    stubs.push_back(v1::Sandbox::NewStub(channels.back()));
  }
  ctx.stub = stubs[0].get();
  ASSIGN_OR_RETURN(const std::string hello_path, absl::StatusOr<std::string>(DefaultHelloGuest()));
  ASSIGN_OR_RETURN(const std::string hello_elf, testing::ReadFile(hello_path));
  std::vector<std::string> variants;  // distinct ids: trailing bytes past the ELF's contents
  for (int v = 0; v < kImageVariants; ++v) variants.push_back(hello_elf + std::string(v + 1, '\0'));
  // Registered per call below: the ids may be evicted by the inline variants at any time.
  const std::vector<std::string> paths = {hello_path, guest_dir + "/spin",
                                          guest_dir + "/pol_socket", guest_dir + "/alloc"};
  std::vector<std::string> elves;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::string elf, testing::ReadFile(path));
    elves.push_back(std::move(elf));
  }

  std::atomic<int> next{0};
  absl::Mutex mu;
  std::map<std::string, int> by_kind_result;  // "<kind> <result>" -> runs
  std::vector<std::string> unexpected;
  const auto run_one = [&](int client, int i) {
    const Kind kind = static_cast<Kind>(i % kKinds);
    v1::ExecuteRequest req;
    std::vector<std::string> argv;
    int64_t timeout_ms = 10000;
    absl::Duration deadline = absl::Seconds(60);
    v1::Outcome expected = v1::OUTCOME_EXITED;
    switch (kind) {
      case kOk:
        argv = {"hello"};
        break;
      case kTimeout:
        argv = {"spin"};
        timeout_ms = 20;
        expected = v1::OUTCOME_TIMEOUT;
        break;
      case kViolation:
        argv = {"pol_socket"};
        expected = v1::OUTCOME_POLICY_VIOLATION;
        break;
      case kMemory:
        argv = {"alloc", "64"};
        expected = v1::OUTCOME_MEMORY_LIMIT;
        break;
      case kCancel:
        argv = {"spin"};
        timeout_ms = 30000;
        deadline = absl::Milliseconds(10 + i % 40);
        break;
      default:
        argv = {"hello"};
        break;
    }
    req = MakeExecuteRequest("", argv, "", 4096);
    req.mutable_manifest()->set_timeout_ms(timeout_ms);
    if (kind == kMemory) req.mutable_manifest()->set_memory_bytes(32 << 20);
    // Every image inline: the cache (3 images) keeps registering and evicting.
    const int image = kind == kEvict ? -1
                                     : (kind == kOk          ? 0
                                        : kind == kMemory    ? 3
                                        : kind == kViolation ? 2
                                                             : 1);
    req.set_image(image < 0 ? variants[(i / kKinds) % kImageVariants] : elves[image]);
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline));
    v1::ExecuteResponse resp;
    const grpc::Status s = stubs[client]->Execute(&call, req, &resp);
    std::string result;
    bool ok;
    if (kind == kCancel) {
      ok = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
           (s.ok() && resp.outcome() == v1::OUTCOME_TIMEOUT);
      result = s.ok() ? "answered" : "deadline_exceeded";
    } else {
      ok = s.ok() && resp.outcome() == expected;
      result = s.ok() ? v1::Outcome_Name(resp.outcome()) : absl::StrCat("rpc_", s.error_code());
    }
    absl::MutexLock lock(&mu);
    ++by_kind_result[absl::StrCat(kKindNames[kind], " ", result)];
    if (!ok && unexpected.size() < 10) {
      unexpected.push_back(
          absl::StrCat(kKindNames[kind], ": ", result, " ", s.error_message(), " ", resp.detail()));
    }
  };

  // Warm-up: one run of each kind, over every connection; then the baseline of fds and RSS.
  for (int c = 0; c < clients; ++c) {
    for (int i = 0; i < kKinds; ++i) run_one(c, i);
  }
  absl::SleepFor(absl::Seconds(1));
  const int idle_fds = OpenFds(pid);
  const std::string idle_fd_listing = Listing(absl::StrCat("/proc/", pid, "/fd"), true);
  ASSIGN_OR_RETURN(const int64_t idle_kib, ProcStatusKib(pid, "VmRSS"));
  by_kind_result.clear();

  const int64_t start = NowNs();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = next.fetch_add(1); i < runs; i = next.fetch_add(1)) run_one(c, i);
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = static_cast<double>(NowNs() - start) / 1e9;
  ASSIGN_OR_RETURN(const int64_t peak_kib, ProcStatusKib(pid, "VmHWM"));

  // Parked sandboxes retire 300 ms after their image's last call; the trimmer returns memory.
  int live = 0, zombies = 0, fds = 0;
  const absl::Time until = absl::Now() + absl::Seconds(10);
  do {
    absl::SleepFor(absl::Milliseconds(100));
    std::tie(live, zombies) = Children(pid);
    fds = OpenFds(pid);
  } while ((live > 0 || zombies > 0 || fds > idle_fds) && absl::Now() < until);
  absl::SleepFor(absl::Seconds(3));
  ASSIGN_OR_RETURN(const int64_t after_kib, ProcStatusKib(pid, "VmRSS"));
  // (ZerocelldProcess keeps its ready file and log in a zerocelld-* directory of TMPDIR.)
  const int temp_files = CountDir(tmp) - CountDir(tmp, "zerocelld-") + CountDir(images, ".");
  const int image_files = CountDir(images) - CountDir(images, ".");

  std::printf("soak: %d runs, %d clients, %.1f s (%.0f runs/s), zerocelld %s\n", runs, clients,
              seconds, runs / std::max(seconds, 1e-9), zerocelld.c_str());
  for (const auto& [key, n] : by_kind_result) std::printf("  %-40s %7d\n", key.c_str(), n);
  std::printf("  sandboxes left      %d (zombies %d)\n", live, zombies);
  std::printf("  open fds            %d after, %d idle\n", fds, idle_fds);
  std::printf("  temp files          %d; image files %d (cache of 3)\n", temp_files, image_files);
  std::printf("  RSS                 %.1f MiB idle, %.1f MiB peak, %.1f MiB after (%.2fx idle)\n",
              idle_kib / 1024.0, peak_kib / 1024.0, after_kib / 1024.0,
              static_cast<double>(after_kib) / std::max<int64_t>(1, idle_kib));
  for (const std::string& u : unexpected) std::printf("  unexpected: %s\n", u.c_str());
  if (fds > idle_fds) {
    std::printf("  fds idle:  %s\n  fds after: %s\n", idle_fd_listing.c_str(),
                Listing(absl::StrCat("/proc/", pid, "/fd"), true).c_str());
  }
  if (temp_files > 0) {
    std::printf("  TMPDIR: %s\n  image dir: %s\n", Listing(tmp, false).c_str(),
                Listing(images, false).c_str());
  }

  std::vector<std::string> leaks;
  if (live > 0 || zombies > 0)
    leaks.push_back(absl::StrCat(live, " sandboxes, ", zombies, " zombies"));
  if (fds > idle_fds) leaks.push_back(absl::StrCat(fds - idle_fds, " fds"));
  if (temp_files > 0) leaks.push_back(absl::StrCat(temp_files, " temp files"));
  if (image_files > 3) leaks.push_back(absl::StrCat(image_files, " image files for 3 images"));
  if (after_kib > absl::GetFlag(FLAGS_rss_slack) * idle_kib + 16 * 1024) {
    leaks.push_back(
        absl::StrCat("RSS ", after_kib / 1024, " MiB after vs ", idle_kib / 1024, " MiB idle"));
  }
  server.reset();
  std::filesystem::remove_all(dir);
  if (!unexpected.empty()) {
    leaks.push_back(absl::StrCat("runs ended unexpectedly (first: ", unexpected[0], ")"));
  }
  if (!leaks.empty()) return absl::InternalError(absl::StrJoin(leaks, "; "));
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(
      argc, argv, "zerocell-soak",
      "zerocell-soak [--runs=20000] [--clients=4]: mixed runs against a zerocelld, then nothing "
      "of them may be left",
      zerocell::bench::SoakMain);
}
