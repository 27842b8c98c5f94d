// zerocell-bench: Execute over loopback gRPC against a real zerocelld, next to the same guests run
// natively, all measured in one run. Scenarios (each in its own file):
//   hello, grpc_floor, sha256  latency_scenarios.cc  per call, at each --clients level, against
//                              bare posix_spawn + waitpid (and bwrap), alternating rounds
//   cat256                     stream_scenario.cc    throughput of a 256 MiB stream vs /bin/cat
//   batch100                   batch_scenario.cc     one ExecuteBatch of 100 hello vs bare spawns
//   burst500                   burst_scenario.cc     500 calls at once: completed / refused /
//   failed memory                     memory_report.cc      zerocelld RSS and parked-sandbox memory
// The table or --json output carries every figure; the exit status is 1 when any call failed in
// a way the benchmark does not expect (wrong output, an error other than an announced refusal).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "bench/bench_parts.h"
#include "bench/bench_support.h"
#include "bench/proc_memory.h"
#include "bench/rpc_bench.h"
#include "tests/testing/files.h"
#include "tests/testing/zerocelld_process.h"

ABSL_FLAG(std::string, server, "", "address of a running plaintext zerocelld (default: start one)");
ABSL_FLAG(std::string, zerocelld, "", "zerocelld to start (default: beside this binary)");
ABSL_FLAG(std::string, server_flags, "",
          "extra flags for the started zerocelld the scenarios run on (not the parked-sandbox "
          "one), space-separated, e.g. --server_flags=--pool=false; last, so they win");
ABSL_FLAG(std::string, guest, "",
          "hello guest (default: $ZEROCELL_GUEST_DIR/hello, else build/examples/hello beside "
          "this binary's bin/)");
ABSL_FLAG(std::string, guest_dir, "",
          "directory of the bench guests sha256, cat, compute (default: build/bench/guests)");
ABSL_FLAG(std::string, bwrap, "/usr/bin/bwrap", "bubblewrap for the bwrap rows (empty: none)");
ABSL_FLAG(std::vector<std::string>, scenarios,
          std::vector<std::string>({"hello", "grpc_floor", "sha256", "cat256", "batch100",
                                    "burst500", "memory"}),
          "scenarios to run: hello, grpc_floor, sha256, cat256, batch100, burst500, memory");
ABSL_FLAG(std::vector<std::string>, clients, std::vector<std::string>({"1", "2"}),
          "concurrency levels of hello, grpc_floor and sha256");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(4),
          "measured time per side and level of hello, grpc_floor and sha256");
ABSL_FLAG(int, rounds, 2, "each side's time is split into this many alternating rounds");
ABSL_FLAG(int, warmup, 20, "unmeasured runs per client of each side first");
ABSL_FLAG(int, max_concurrency, 0,
          "the started zerocelld's --max_concurrency (0: the number of cores, its default)");
ABSL_FLAG(int, max_queue, 64, "the started zerocelld's --max_queue (its default: 64)");
ABSL_FLAG(int64_t, max_queue_wait_ms, 1000,
          "the started zerocelld's --max_queue_wait_ms (its default: 1000)");
ABSL_FLAG(int, cat_mib, 256, "cat256: MiB streamed");
ABSL_FLAG(int, cat_runs, 3, "cat256: measured runs per side");
ABSL_FLAG(bool, cat_execute, true,
          "cat256: also measure unary Execute (false: ExecuteStream against native only)");
ABSL_FLAG(int, burst_calls, 500, "burst500: calls issued at once");
ABSL_FLAG(int64_t, compute_iterations, 9000000,
          "burst500: the compute guest's loop count (about 20 ms on the development VM)");
ABSL_FLAG(int, parked, 32, "memory: pool size of the parked-sandbox measurement");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the tables");

constexpr char kUsage[] =
    "Benchmarks zerocelld Execute over loopback gRPC against the same guests run natively.\n"
    "Usage: zerocell-bench [--scenarios=hello,grpc_floor,sha256,cat256,batch100,burst500,memory]\n"
    "       [--clients=1,2] [--duration=4s] [--rounds=2] [--warmup=20] [--server_flags=...]\n"
    "       [--max_concurrency=0] [--max_queue=64] [--max_queue_wait_ms=1000] [--cat_mib=256]\n"
    "       [--burst_calls=500] [--compute_iterations=N] [--server=ADDR | --zerocelld=PATH]\n"
    "       [--json]";

namespace zerocell::bench {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// The caps the started zerocelld gets so that a cat256 stream fits: inline input and output of
// the stream (at least the server defaults), and messages that carry them plus an image (the
// server refuses a message cap below output + inline, what a read-write channel returns).
struct StreamCaps {
  int64_t inline_bytes, output_bytes, message_bytes;
};
StreamCaps CapsFor(int64_t stream_bytes) {
  const int64_t payload = std::max(64 * kMiB, stream_bytes + kMiB);
  return {payload, payload, std::max(160 * kMiB, 2 * payload + 64 * kMiB + 2 * kMiB)};
}

std::string Loadavg() {
  std::string s = testing::ReadFile("/proc/loadavg").value_or("?");
  std::vector<std::string> f = absl::StrSplit(s, ' ');
  return f.size() >= 3 ? absl::StrCat(f[0], " ", f[1], " ", f[2]) : s;
}

// bwrap when it is installed and runs hello here; otherwise empty and a note saying why.
void ProbeBwrap(BenchContext* ctx) {
  const std::string bwrap = absl::GetFlag(FLAGS_bwrap);
  if (bwrap.empty()) {
    ctx->bwrap_note = "bwrap: disabled (--bwrap=); bwrap rows skipped";
    return;
  }
  if (access(bwrap.c_str(), X_OK) != 0) {
    ctx->bwrap_note = absl::StrCat("bwrap: ", bwrap, " not installed; bwrap rows skipped");
    return;
  }
  absl::StatusOr<std::string> out = RunPiped(bwrap,
                                             {"bwrap", "--ro-bind", "/", "/", "--unshare-all",
                                              "--die-with-parent", ctx->guests.hello, "hello"},
                                             "");
  if (!out.ok()) {
    ctx->bwrap_note = absl::StrCat("bwrap: ", bwrap, " does not work here (",
                                   out.status().ToString(), "); bwrap rows skipped");
    return;
  }
  ctx->bwrap = bwrap;
}

absl::Status Main() {
  signal(SIGPIPE, SIG_IGN);  // a child that dies early must not kill the bench through a pipe
  BenchContext ctx;
  for (const std::string& c : absl::GetFlag(FLAGS_clients)) {
    int n = 0;
    if (!absl::SimpleAtoi(c, &n) || n < 1 || n > 256) {
      return absl::InvalidArgumentError(absl::StrCat("--clients: \"", c, "\" is not 1..256"));
    }
    ctx.levels.push_back(n);
  }
  if (ctx.levels.empty()) return absl::InvalidArgumentError("--clients: empty");
  ctx.duration = absl::GetFlag(FLAGS_duration);
  ctx.rounds = absl::GetFlag(FLAGS_rounds);
  ctx.warmup = absl::GetFlag(FLAGS_warmup);
  if (ctx.duration <= absl::ZeroDuration() || ctx.rounds < 1 || ctx.warmup < 0) {
    return absl::InvalidArgumentError("--duration must be > 0, --rounds >= 1, --warmup >= 0");
  }
  const int cat_mib = absl::GetFlag(FLAGS_cat_mib);
  const int cat_runs = absl::GetFlag(FLAGS_cat_runs);
  const int burst_calls = absl::GetFlag(FLAGS_burst_calls);
  const int64_t iterations = absl::GetFlag(FLAGS_compute_iterations);
  const int parked = absl::GetFlag(FLAGS_parked);
  if (cat_mib < 1 || cat_mib > 1024 || cat_runs < 1 || burst_calls < 1 || burst_calls > 10000 ||
      iterations < 0 || parked < 1) {
    return absl::InvalidArgumentError(
        "--cat_mib must be 1..1024, --cat_runs >= 1, --burst_calls 1..10000, "
        "--compute_iterations >= 0, --parked >= 1");
  }
  const std::vector<std::string> known = {"hello",    "grpc_floor", "sha256", "cat256",
                                          "batch100", "burst500",   "memory"};
  std::vector<std::string> chosen;
  for (const std::string& name : absl::GetFlag(FLAGS_scenarios)) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--scenarios: unknown \"", name, "\"; known: ", absl::StrJoin(known, ", ")));
    }
    chosen.push_back(name);
  }
  auto wants = [&](const char* name) {
    return std::find(chosen.begin(), chosen.end(), name) != chosen.end();
  };

  ctx.guests.hello = absl::GetFlag(FLAGS_guest);
  if (ctx.guests.hello.empty()) ctx.guests.hello = DefaultHelloGuest();
  std::string guest_dir = absl::GetFlag(FLAGS_guest_dir);
  if (guest_dir.empty()) guest_dir = BuildDir() + "/bench/guests";
  ctx.guests.sha256 = guest_dir + "/sha256";
  ctx.guests.cat = guest_dir + "/cat";
  ctx.guests.compute = guest_dir + "/compute";
  for (const std::string* g :
       {&ctx.guests.hello, &ctx.guests.sha256, &ctx.guests.cat, &ctx.guests.compute}) {
    if (access(g->c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("guest ", *g, " is not an executable"));
    }
  }
  if (wants("hello") || wants("sha256")) ProbeBwrap(&ctx);

  const StreamCaps caps = CapsFor(int64_t{cat_mib} * kMiB);
  ctx.max_message_bytes = caps.message_bytes;
  const int max_concurrency = absl::GetFlag(FLAGS_max_concurrency);
  const int max_queue = absl::GetFlag(FLAGS_max_queue);
  const int64_t max_queue_wait_ms = absl::GetFlag(FLAGS_max_queue_wait_ms);
  std::vector<std::string> server_flags = {
      absl::StrCat("--max_concurrency=", max_concurrency),
      absl::StrCat("--max_queue=", max_queue),
      absl::StrCat("--max_queue_wait_ms=", max_queue_wait_ms),
      absl::StrCat("--max_inline_bytes=", caps.inline_bytes),
      absl::StrCat("--max_output_bytes=", caps.output_bytes),
      absl::StrCat("--max_message_bytes=", caps.message_bytes)};
  for (absl::string_view f :
       absl::StrSplit(absl::GetFlag(FLAGS_server_flags), ' ', absl::SkipWhitespace())) {
    server_flags.emplace_back(f);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string load_at_start = Loadavg();

  std::unique_ptr<testing::ZerocelldProcess> child;
  std::string zerocelld = absl::GetFlag(FLAGS_zerocelld);
  if (zerocelld.empty()) zerocelld = BuildDir() + "/bin/zerocelld";
  MemoryOptions memory;
  ctx.address = absl::GetFlag(FLAGS_server);
  if (ctx.address.empty()) {
    ASSIGN_OR_RETURN(child, StartZerocelld(zerocelld, server_flags));
    ctx.address = child->grpc_address();
    absl::SleepFor(absl::Milliseconds(200));  // idle right after ready: startup threads settle
    ASSIGN_OR_RETURN(memory.rss_after_start_kib, ProcStatusKib(child->pid(), "VmRSS"));
    memory.server_pid = child->pid();
  }
  std::unique_ptr<v1::Sandbox::Stub> stub = v1::Sandbox::NewStub(OpenChannel(ctx));
  ctx.stub = stub.get();

  std::vector<Report> reports;
  // A part that cannot run (e.g. cat256 against an external server with smaller caps) is reported
  // as a failure; the others still run.
  const auto add = [&](absl::StatusOr<Report> report, const std::string& key) {
    if (report.ok()) {
      reports.push_back(*std::move(report));
      return;
    }
    reports.push_back(
        {key, absl::StrCat("{\"error\":", JsonQuote(report.status().ToString()), "}"),
         absl::StrCat("!!! FAILURES: ", key, " could not run: ", report.status().ToString(), "\n"),
         1});
  };
  if (wants("memory")) {  // first: see MeasureParkedSandboxes
    memory.parked = MeasureParkedSandboxes(ctx, zerocelld, parked);
  }
  // The started server's idle VmRSS after each part, for the memory report.
  const auto note_rss = [&](const std::string& part) -> absl::Status {
    if (!child) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(300));
    ASSIGN_OR_RETURN(const int64_t kib, ProcStatusKib(child->pid(), "VmRSS"));
    memory.rss_after_part_kib.emplace_back(part, kib);
    return absl::OkStatus();
  };
  if (wants("hello") || wants("grpc_floor") || wants("sha256")) {
    add(RunLatencyScenarios(ctx, {wants("hello"), wants("grpc_floor"), wants("sha256")}),
        "latency");
    RETURN_IF_ERROR(note_rss("latency"));
  }
  if (wants("cat256")) {
    add(RunStreamScenario(ctx, int64_t{cat_mib} * kMiB, cat_runs, absl::GetFlag(FLAGS_cat_execute),
                          memory.server_pid),
        "cat256");
    RETURN_IF_ERROR(note_rss("cat256"));
  }
  if (wants("batch100")) {
    const int workers = max_concurrency > 0 ? max_concurrency : static_cast<int>(cores);
    add(RunBatchScenario(ctx, 100, std::max(1, workers / 2)), "batch100");
    RETURN_IF_ERROR(note_rss("batch100"));
  }
  if (wants("burst500")) {
    BurstOptions burst;
    burst.calls = burst_calls;
    burst.iterations = iterations;
    const int effective = max_concurrency > 0 ? max_concurrency : static_cast<int>(cores);
    if (child) {
      burst.admission_json =
          absl::StrFormat("{\"max_concurrency\":%d,\"max_queue\":%d,\"max_queue_wait_ms\":%d}",
                          effective, max_queue, max_queue_wait_ms);
      burst.admission_text =
          absl::StrFormat("--max_concurrency=%d%s --max_queue=%d --max_queue_wait_ms=%d", effective,
                          max_concurrency > 0 ? "" : " (cores)", max_queue, max_queue_wait_ms);
    } else {
      burst.admission_json = "\"external server\"";
      burst.admission_text = "external server (its own flags)";
    }
    add(RunBurstScenario(ctx, burst), "burst500");
    RETURN_IF_ERROR(note_rss("burst500"));
  }
  if (wants("memory")) {
    add(RunMemoryReport(memory), "memory");
  }

  int64_t failures = 0;
  for (const Report& r : reports) failures += r.failures;
  std::vector<std::string> quoted_flags;
  for (const std::string& f : server_flags) quoted_flags.push_back(JsonQuote(f));
  if (absl::GetFlag(FLAGS_json)) {
    std::vector<std::string> members;
    for (const Report& r : reports)
      members.push_back(absl::StrCat("\"", r.json_key, "\":", r.json));
    std::printf(
        "{\"bench\":\"zerocell-bench\",\"server\":%s,\"server_flags\":[%s],\"cores\":%u,"
        "\"loadavg_at_start\":\"%s\",\"duration_s\":%.3f,\"rounds\":%d,\"warmup\":%d,"
        "\"guests\":{\"hello\":%s,\"sha256\":%s,\"cat\":%s,\"compute\":%s},"
        "\"unexpected_failures\":%lld,%s}\n",
        child ? "\"started\"" : JsonQuote(ctx.address).c_str(),
        child ? absl::StrJoin(quoted_flags, ",").c_str() : "", cores, load_at_start.c_str(),
        absl::ToDoubleSeconds(ctx.duration), ctx.rounds, ctx.warmup,
        JsonQuote(ctx.guests.hello).c_str(), JsonQuote(ctx.guests.sha256).c_str(),
        JsonQuote(ctx.guests.cat).c_str(), JsonQuote(ctx.guests.compute).c_str(),
        static_cast<long long>(failures), absl::StrJoin(members, ",").c_str());
  } else {
    std::printf("zerocell-bench: zerocelld %s (%s), %u cores, load average at start %s\n",
                ctx.address.c_str(),
                child ? absl::StrCat("started here: ", absl::StrJoin(server_flags, " ")).c_str()
                      : "external",
                cores, load_at_start.c_str());
    std::printf("guests: %s, %s, %s, %s\n", ctx.guests.hello.c_str(), ctx.guests.sha256.c_str(),
                ctx.guests.cat.c_str(), ctx.guests.compute.c_str());
    for (const Report& r : reports) std::printf("\n%s", r.text.c_str());
  }
  std::fflush(stdout);
  if (failures > 0) {
    return absl::InternalError(absl::StrCat(failures, " unexpected failures (see above)"));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-bench", kUsage, zerocell::bench::Main);
}
