// zerocell-attack-bench: the hostile-client memory attack of issue 14, finding 3. Many Execute
// calls with a large inline input are sent at once to a zerocelld with one worker; the server's
// peak resident memory is measured against its idle RSS and the bytes the clients sent, and every
// call must end OK or RESOURCE_EXHAUSTED (a refusal the server announces).
//
//   build/bin/zerocell-attack-bench                        # 40 x 60 MiB, one connection
//   build/bin/zerocell-attack-bench --connections=40       # one connection per call
//   build/bin/zerocell-attack-bench --server_flags="--max_request_memory_bytes=512M"
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"
#include "bench/proc_memory.h"
#include "bench/rpc_bench.h"
#include "tests/testing/zerocelld_process.h"

ABSL_FLAG(int, calls, 40, "Execute calls sent at once");
ABSL_FLAG(int, inline_mib, 60, "MiB of inline stdin in each call");
ABSL_FLAG(int, connections, 1, "TCP connections the calls are spread over (round robin)");
ABSL_FLAG(int, rounds, 1, "times the whole burst is sent, one after the other");
ABSL_FLAG(std::string, zerocelld, "", "zerocelld to start (default: beside this binary)");
ABSL_FLAG(std::string, server_flags, "--max_concurrency=1",
          "flags of the started zerocelld, space-separated");
ABSL_FLAG(std::string, guest, "", "guest executed (default: the hello guest)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(120), "deadline of each call");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the table");

namespace zerocell::bench {
namespace {

struct Call {
  grpc::ClientContext ctx;
  v1::ExecuteResponse resp;
  grpc::Status status;
};

// Samples the server's VmRSS every 5 ms until stopped; VmHWM gives the true peak at the end.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int64_t max_kib() const { return max_kib_.load(); }

 private:
  void Loop() {
    while (!stop_.load()) {
      if (absl::StatusOr<int64_t> rss = ProcStatusKib(pid_, "VmRSS"); rss.ok()) {
        max_kib_.store(std::max(max_kib_.load(), *rss));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_kib_{0};
  std::thread thread_;
};

// Resets VmHWM to the current RSS (clear_refs 5), so that it covers only what follows.
void ResetPeak(pid_t pid) {
  const int fd = open(absl::StrCat("/proc/", pid, "/clear_refs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!write(fd, "5", 1);
  close(fd);
}

absl::Status AttackMain() {
  const int calls = absl::GetFlag(FLAGS_calls);
  const int connections = std::max(1, absl::GetFlag(FLAGS_connections));
  const int64_t inline_bytes = int64_t{absl::GetFlag(FLAGS_inline_mib)} << 20;
  std::string zerocelld = absl::GetFlag(FLAGS_zerocelld);
  if (zerocelld.empty()) zerocelld = BuildDir() + "/bin/zerocelld";
  std::string guest = absl::GetFlag(FLAGS_guest);
  if (guest.empty()) guest = DefaultHelloGuest();

  std::vector<std::string> flags =
      absl::StrSplit(absl::GetFlag(FLAGS_server_flags), ' ', absl::SkipEmpty());
  ASSIGN_OR_RETURN(std::unique_ptr<testing::ZerocelldProcess> server,
                   StartZerocelld(zerocelld, flags));
  BenchContext ctx;
  ctx.address = server->grpc_address();
  ctx.max_message_bytes = int64_t{1} << 30;
  std::vector<std::unique_ptr<v1::Sandbox::Stub>> stubs;
  for (int i = 0; i < connections; ++i) stubs.push_back(v1::Sandbox::NewStub(OpenChannel(ctx)));
  ctx.stub = stubs[0].get();
  ASSIGN_OR_RETURN(const std::string image_id, Register(ctx, guest));
  {  // One small call first: connects every channel and checks the request shape.
    for (auto& stub : stubs) {
      grpc::ClientContext c;
      v1::ExecuteResponse r;
      grpc::Status s = stub->Execute(&c, MakeExecuteRequest(image_id, {"hello"}, "", 4096), &r);
      if (!s.ok()) return absl::InternalError(absl::StrCat("warm-up Execute: ", s.error_message()));
    }
  }
  const v1::ExecuteRequest request =
      MakeExecuteRequest(image_id, {"hello"}, std::string(inline_bytes, 'x'), 4096);
  absl::SleepFor(absl::Milliseconds(300));
  ASSIGN_OR_RETURN(const int64_t idle_kib, ProcStatusKib(server->pid(), "VmRSS"));

  std::map<std::string, int> codes;
  std::map<std::string, std::string> first_message;
  std::map<std::string, int> messages;  // error message start -> calls
  int64_t peak_kib = 0;
  int64_t sampled_kib = 0;
  const int64_t start = NowNs();
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    ResetPeak(server->pid());
    RssSampler sampler(server->pid());
    std::vector<std::unique_ptr<Call>> pending;
    absl::Mutex mu;
    int done = 0;
    for (int i = 0; i < calls; ++i) {
      pending.push_back(std::make_unique<Call>());
      Call* c = pending.back().get();
      c->ctx.set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_deadline)));
      stubs[i % connections]->async()->Execute(&c->ctx, &request, &c->resp,
                                               [c, &mu, &done](grpc::Status s) {
                                                 c->status = std::move(s);
                                                 absl::MutexLock lock(&mu);
                                                 ++done;
                                               });
    }
    {
      absl::MutexLock lock(&mu);
      const auto all_done = [&done, calls] { return done == calls; };
      mu.Await(absl::Condition(&all_done));
    }
    sampler.Stop();
    sampled_kib = std::max(sampled_kib, sampler.max_kib());
    ASSIGN_OR_RETURN(const int64_t hwm, ProcStatusKib(server->pid(), "VmHWM"));
    peak_kib = std::max(peak_kib, hwm);
    for (const std::unique_ptr<Call>& c : pending) {
      const std::string code = c->status.ok() ? "OK" : absl::StrCat(c->status.error_code());
      ++codes[code];
      first_message.emplace(code, c->status.error_message());
      if (!c->status.ok()) ++messages[c->status.error_message().substr(0, 60)];
    }
  }
  const double seconds = static_cast<double>(NowNs() - start) / 1e9;

  // The server must still serve, and give the memory back.
  {
    grpc::ClientContext c;
    v1::ExecuteResponse r;
    grpc::Status s = stubs[0]->Execute(&c, MakeExecuteRequest(image_id, {"hello"}, "", 4096), &r);
    if (!s.ok()) return absl::InternalError(absl::StrCat("Execute after: ", s.error_message()));
  }
  absl::SleepFor(absl::Seconds(3));  // the memory trimmer's three passes
  ASSIGN_OR_RETURN(const int64_t after_kib, ProcStatusKib(server->pid(), "VmRSS"));

  int failed = 0;
  for (const auto& [code, n] : codes) {
    if (code != "OK" && code != "8") failed += n;  // 8: RESOURCE_EXHAUSTED
  }
  const double sent_mib =
      static_cast<double>(inline_bytes) * calls * absl::GetFlag(FLAGS_rounds) / (1 << 20);
  const double peak_mib = static_cast<double>(peak_kib) / 1024;
  if (absl::GetFlag(FLAGS_json)) {
    std::vector<std::string> code_json;
    for (const auto& [code, n] : codes) {
      code_json.push_back(absl::StrCat("\"", code, "\":{\"calls\":", n,
                                       ",\"first_message\":", JsonQuote(first_message[code]), "}"));
    }
    std::printf(
        "{\"calls\":%d,\"inline_mib\":%d,\"connections\":%d,\"rounds\":%d,\"server_flags\":%s,"
        "\"idle_rss_mib\":%.1f,\"peak_rss_mib\":%.1f,\"sampled_peak_rss_mib\":%.1f,"
        "\"rss_after_mib\":%.1f,\"sent_mib\":%.0f,\"peak_over_idle\":%.2f,"
        "\"peak_over_sent\":%.3f,\"seconds\":%.2f,\"codes\":{%s},\"failed\":%d}\n",
        calls, absl::GetFlag(FLAGS_inline_mib), connections, absl::GetFlag(FLAGS_rounds),
        JsonQuote(absl::GetFlag(FLAGS_server_flags)).c_str(), idle_kib / 1024.0, peak_mib,
        sampled_kib / 1024.0, after_kib / 1024.0, sent_mib,
        peak_kib / std::max<double>(1, idle_kib), peak_mib / std::max(1.0, sent_mib), seconds,
        absl::StrJoin(code_json, ",").c_str(), failed);
  } else {
    std::printf("attack: %d x %d MiB inline, %d connection(s), %d round(s), zerocelld %s\n", calls,
                absl::GetFlag(FLAGS_inline_mib), connections, absl::GetFlag(FLAGS_rounds),
                absl::GetFlag(FLAGS_server_flags).c_str());
    std::printf("  idle RSS            %8.1f MiB\n", idle_kib / 1024.0);
    std::printf("  peak RSS (VmHWM)    %8.1f MiB  (%.2fx idle, %.3fx the %.0f MiB sent)\n",
                peak_mib, peak_kib / std::max<double>(1, idle_kib),
                peak_mib / std::max(1.0, sent_mib), sent_mib);
    std::printf("  sampled peak RSS    %8.1f MiB\n", sampled_kib / 1024.0);
    std::printf("  RSS 3 s after       %8.1f MiB\n", after_kib / 1024.0);
    std::printf("  time                %8.2f s\n", seconds);
    for (const auto& [code, n] : codes) std::printf("  status %-3s %5d calls\n", code.c_str(), n);
    for (const auto& [message, n] : messages) {
      std::printf("    %5d x %s...\n", n, message.c_str());
    }
  }
  if (failed > 0) {
    return absl::InternalError(
        absl::StrCat(failed, " calls ended neither OK nor RESOURCE_EXHAUSTED"));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(
      argc, argv, "zerocell-attack-bench",
      "zerocell-attack-bench [--calls=40] [--inline_mib=60] [--connections=1] "
      "[--server_flags=\"--max_concurrency=1\"] [--json]: hostile clients against a zerocelld's "
      "memory",
      zerocell::bench::AttackMain);
}
