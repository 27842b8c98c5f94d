// zerocell-bench burst500: many Execute calls of a ~20 ms compute guest issued at once, and as
// many bare spawns of it started at once. Each Execute ends completed (exit 0, the expected
// output), refused with RESOURCE_EXHAUSTED (queue full or queue wait passed), or failed in any
// other way, which is a bug the report shouts about.
//
// The calls go out on one channel through the callback stub, from one thread, so that the client
// itself adds no threads to the two cores; each latency runs from its own issue to its
// completion callback. The bare side spawns from one thread while another reaps through pidfds.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "bench/bench_parts.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::bench {
namespace {

using sandbox::sys::UniqueFd;

struct Call {
  grpc::ClientContext ctx;
  v1::ExecuteResponse resp;
  grpc::Status status;
  int64_t start = 0, end = 0;
};

struct BurstResult {
  int64_t completed = 0, refused = 0, failed = 0;
  int64_t makespan_ns = 0;
  std::vector<int64_t> completed_ns, refused_ns;
  std::map<std::string, int> failures;  // message -> count
  double mean_user_cpu_ms = 0;          // completed Execute calls, server-measured
  double max_queue_wait_ms = 0;
};

absl::StatusOr<BurstResult> ExecuteBurst(const BenchContext& ctx, const v1::ExecuteRequest& request,
                                         int n, const std::string& expected) {
  std::unique_ptr<v1::Sandbox::Stub> stub = v1::Sandbox::NewStub(OpenChannel(ctx));
  {  // Connects the channel, and checks the request once, before the clock starts.
    grpc::ClientContext warm;
    v1::ExecuteResponse resp;
    grpc::Status s = stub->Execute(&warm, request, &resp);
    if (!s.ok()) return absl::InternalError(absl::StrCat("Execute: ", s.error_message()));
  }
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < n; ++i) calls.push_back(std::make_unique<Call>());
  absl::Mutex mu;
  int done = 0;
  const int64_t first = NowNs();
  for (const std::unique_ptr<Call>& owned : calls) {
    Call* c = owned.get();
    c->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    c->start = NowNs();
    stub->async()->Execute(&c->ctx, &request, &c->resp, [c, &mu, &done](grpc::Status s) {
      c->end = NowNs();
      c->status = std::move(s);
      absl::MutexLock lock(&mu);
      ++done;
    });
  }
  {
    absl::MutexLock lock(&mu);
    const auto all_done = [&done, n] { return done == n; };
    mu.Await(absl::Condition(&all_done));
  }
  BurstResult r;
  int64_t cpu_ns = 0;
  for (const std::unique_ptr<Call>& c : calls) {
    r.makespan_ns = std::max(r.makespan_ns, c->end - first);
    std::string problem;
    if (c->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++r.refused;
      r.refused_ns.push_back(c->end - c->start);
      continue;
    }
    if (!c->status.ok()) {
      problem = absl::StrCat("status ", c->status.error_code(), ": ", c->status.error_message());
    } else if (c->resp.outcome() != v1::OUTCOME_EXITED || c->resp.exit_code() != 0) {
      problem =
          absl::StrCat("outcome ", v1::Outcome_Name(c->resp.outcome()), " ", c->resp.detail());
    } else {
      absl::string_view out;
      for (const v1::ChannelResult& ch : c->resp.channels()) {
        if (ch.alias() == "/dev/stdout") out = ch.output();
      }
      if (out != expected) problem = absl::StrCat("wrong output \"", out.substr(0, 40), "\"");
    }
    if (!problem.empty()) {
      ++r.failed;
      ++r.failures[problem];
      continue;
    }
    ++r.completed;
    r.completed_ns.push_back(c->end - c->start);
    cpu_ns += c->resp.usage().user_cpu_ns() + c->resp.usage().system_cpu_ns();
    r.max_queue_wait_ms =
        std::max(r.max_queue_wait_ms, static_cast<double>(c->resp.usage().queue_wait_ns()) / 1e6);
  }
  if (r.completed > 0) r.mean_user_cpu_ms = static_cast<double>(cpu_ns) / 1e6 / r.completed;
  return r;
}

// Lifts the soft descriptor limit to the hard one: one pidfd per child is open at once.
void RaiseFdLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

absl::StatusOr<BurstResult> BareBurst(const std::string& path, const std::vector<std::string>& argv,
                                      int n) {
  RaiseFdLimit();
  ASSIGN_OR_RETURN(std::unique_ptr<BareSpawn> spawn, BareSpawn::Create(path, argv));
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return ErrnoStatus(errno, "epoll_create1");
  std::vector<int64_t> starts(static_cast<size_t>(n), 0), ends(static_cast<size_t>(n), 0);
  std::vector<UniqueFd> pidfds(static_cast<size_t>(n));
  std::vector<absl::Status> reaped(static_cast<size_t>(n), absl::UnknownError("not reaped"));
  std::atomic<int> spawned{0};
  std::atomic<bool> spawning{true};
  // The reaper notes each child's end as its pidfd turns readable, while the spawner goes on.
  std::thread reaper([&] {
    int count = 0;
    epoll_event events[64];
    while (spawning.load() || count < spawned.load()) {
      const int k = epoll_wait(epoll.get(), events, 64, 20);
      const int64_t now = NowNs();
      for (int e = 0; e < k; ++e) {
        const uint64_t data = events[e].data.u64;
        const size_t i = static_cast<size_t>(data >> 32);
        ends[i] = now;
        reaped[i] = spawn->Reap(static_cast<pid_t>(data & 0xffffffff));
        ++count;
      }
    }
  });
  const int64_t first = NowNs();
  absl::Status spawn_error;
  for (int i = 0; i < n && spawn_error.ok(); ++i) {
    const size_t at = static_cast<size_t>(i);
    starts[at] = NowNs();
    absl::StatusOr<pid_t> pid = spawn->Spawn();
    if (!pid.ok()) {
      spawn_error = pid.status();
      break;
    }
    pidfds[at].reset(static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)));
    if (!pidfds[at].valid()) {
      spawn_error = ErrnoStatus(errno, "pidfd_open");
      (void)spawn->Reap(*pid);
      break;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;  // a reaped child's pidfd stays readable
    ev.data.u64 = (uint64_t{static_cast<uint32_t>(i)} << 32) | static_cast<uint32_t>(*pid);
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, pidfds[at].get(), &ev) != 0) {
      spawn_error = ErrnoStatus(errno, "epoll_ctl");
      (void)spawn->Reap(*pid);
      break;
    }
    spawned.fetch_add(1);
  }
  spawning.store(false);
  reaper.join();
  BurstResult r;
  for (int i = 0; i < spawned.load(); ++i) {
    const size_t at = static_cast<size_t>(i);
    r.makespan_ns = std::max(r.makespan_ns, ends[at] - first);
    if (reaped[at].ok()) {
      ++r.completed;
      r.completed_ns.push_back(ends[at] - starts[at]);
    } else {
      ++r.failed;
      ++r.failures[reaped[at].ToString()];
    }
  }
  if (!spawn_error.ok()) {
    r.failed += n - spawned.load();
    r.failures[spawn_error.ToString()] += n - spawned.load();
  }
  return r;
}

std::string FailuresText(const BurstResult& r) {
  std::vector<std::string> parts;
  for (const auto& [message, count] : r.failures)
    parts.push_back(absl::StrCat(count, "x ", message));
  return absl::StrJoin(parts, "; ");
}

std::string FailuresJson(const BurstResult& r) {
  std::vector<std::string> parts;
  for (const auto& [message, count] : r.failures) {
    parts.push_back(absl::StrCat(JsonQuote(message), ":", count));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

std::string LatencyJson(const std::vector<int64_t>& ns) {
  const LatencyStats s = Summarize(ns);
  return absl::StrFormat(
      "{\"count\":%d,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"max_ms\":%.2f}",
      s.count, s.p50_us / 1e3, s.p90_us / 1e3, s.p99_us / 1e3, s.max_us / 1e3);
}

std::string LatencyText(const std::vector<int64_t>& ns) {
  const LatencyStats s = Summarize(ns);
  if (s.count == 0) return "none";
  return absl::StrFormat("p50 %.1f ms, p90 %.1f, p99 %.1f, max %.1f", s.p50_us / 1e3,
                         s.p90_us / 1e3, s.p99_us / 1e3, s.max_us / 1e3);
}

}  // namespace

absl::StatusOr<Report> RunBurstScenario(const BenchContext& ctx, const BurstOptions& options) {
  const std::vector<std::string> argv = {"compute", absl::StrCat(options.iterations)};
  // The guest alone, bare: its expected output and how long it computes.
  std::string expected;
  std::vector<int64_t> solo;
  for (int i = 0; i < 5; ++i) {
    const int64_t start = NowNs();
    ASSIGN_OR_RETURN(std::string out, RunPiped(ctx.guests.compute, argv, ""));
    solo.push_back(NowNs() - start);
    if (i > 0 && out != expected) return absl::InternalError("compute guest is not deterministic");
    expected = std::move(out);
  }
  const double solo_ms = Summarize(solo).p50_us / 1e3;
  ASSIGN_OR_RETURN(std::string id, Register(ctx, ctx.guests.compute));
  const v1::ExecuteRequest request = MakeExecuteRequest(id, argv, "", 4096);
  ASSIGN_OR_RETURN(const BurstResult e, ExecuteBurst(ctx, request, options.calls, expected));
  ASSIGN_OR_RETURN(const BurstResult b, BareBurst(ctx.guests.compute, argv, options.calls));

  Report report;
  report.json_key = "burst500";
  report.failures = e.failed + b.failed;
  report.json = absl::StrFormat(
      "{\"calls\":%d,\"iterations\":%d,\"guest_bare_ms_p50_of_5\":%.2f,\"server\":%s,"
      "\"execute\":{\"completed\":%d,\"refused_resource_exhausted\":%d,\"failed_other\":%d,"
      "\"failures\":%s,\"makespan_ms\":%.1f,\"completed_latency\":%s,\"refused_latency\":%s,"
      "\"mean_guest_cpu_ms\":%.2f,\"max_queue_wait_ms\":%.1f},"
      "\"bare\":{\"completed\":%d,\"failed\":%d,\"failures\":%s,\"makespan_ms\":%.1f,"
      "\"latency\":%s}}",
      options.calls, options.iterations, solo_ms, options.admission_json, e.completed, e.refused,
      e.failed, FailuresJson(e), e.makespan_ns / 1e6, LatencyJson(e.completed_ns),
      LatencyJson(e.refused_ns), e.mean_user_cpu_ms, e.max_queue_wait_ms, b.completed, b.failed,
      FailuresJson(b), b.makespan_ns / 1e6, LatencyJson(b.completed_ns));
  report.text = absl::StrFormat(
      "burst500: %d calls at once of compute %d (guest alone: %.1f ms bare spawn-to-reap, p50 "
      "of 5)\n"
      "  server admission: %s\n"
      "  execute: completed %d, refused RESOURCE_EXHAUSTED %d, failed otherwise %d; makespan "
      "%.1f ms\n"
      "           completed: %s (guest CPU in the sandbox %.1f ms mean, max queue wait %.1f ms)\n"
      "           refused: %s\n"
      "  bare:    completed %d, failed %d; makespan %.1f ms; %s\n",
      options.calls, options.iterations, solo_ms, options.admission_text, e.completed, e.refused,
      e.failed, e.makespan_ns / 1e6, LatencyText(e.completed_ns), e.mean_user_cpu_ms,
      e.max_queue_wait_ms, LatencyText(e.refused_ns), b.completed, b.failed, b.makespan_ns / 1e6,
      LatencyText(b.completed_ns));
  if (e.failed > 0) {
    absl::StrAppend(&report.text, "!!! FAILURES: ", e.failed,
                    " Execute calls failed other than RESOURCE_EXHAUSTED: ", FailuresText(e), "\n");
  }
  if (b.failed > 0) {
    absl::StrAppend(&report.text, "!!! FAILURES: ", b.failed,
                    " bare runs failed: ", FailuresText(b), "\n");
  }
  return report;
}

}  // namespace zerocell::bench
