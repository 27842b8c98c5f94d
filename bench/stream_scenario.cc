// zerocell-bench cat256: a large stream through the cat guest by one Execute (the whole input
// inline in the request, the whole output in the response) against native /bin/cat through pipes
// (a writer thread feeding its stdin, a reader thread draining its stdout), as throughput.
//
// Both sides are timed until every output byte is in this process's memory; the bytes are then
// checked (length and a 64-bit checksum) outside the timed part.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "bench/bench_parts.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::bench {
namespace {

using sandbox::sys::UniqueFd;

constexpr char kNativeCat[] = "/bin/cat";

struct Run {
  int64_t elapsed_ns = 0;
  int64_t server_wall_ns = 0;  // Execute: the sandbox's spawn-to-reap as the server measured it
};

absl::Status CheckBytes(absl::string_view got, size_t want_size, uint64_t want_sum) {
  if (got.size() != want_size) {
    return absl::DataLossError(absl::StrCat("got ", got.size(), " bytes, expected ", want_size));
  }
  if (Checksum64(got) != want_sum) return absl::DataLossError("output checksum differs");
  return absl::OkStatus();
}

absl::StatusOr<Run> ExecuteOnce(v1::Sandbox::Stub& stub, const v1::ExecuteRequest& request,
                                size_t want_size, uint64_t want_sum) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::ExecuteResponse resp;
  const int64_t start = NowNs();
  grpc::Status s = stub.Execute(&ctx, request, &resp);
  Run run{NowNs() - start, resp.usage().wall_ns()};
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("Execute: ", s.error_message()));
  }
  if (resp.outcome() != v1::OUTCOME_EXITED || resp.exit_code() != 0) {
    return absl::InternalError(absl::StrCat("Execute: outcome ", v1::Outcome_Name(resp.outcome()),
                                            " exit ", resp.exit_code(), " ", resp.detail()));
  }
  absl::string_view out;
  for (const v1::ChannelResult& c : resp.channels()) {
    if (c.alias() == "/dev/stdout") out = c.output();
  }
  RETURN_IF_ERROR(CheckBytes(out, want_size, want_sum));
  return run;
}

// /bin/cat with `input` fed by a writer thread and its stdout drained into *out by a reader
// thread (out is reused across runs; its capacity is kept).
absl::StatusOr<Run> NativeOnce(const std::string& input, std::string* out, uint64_t want_sum) {
  int in[2], outp[2];
  if (pipe2(in, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd in_read(in[0]), in_write(in[1]);
  if (pipe2(outp, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd out_read(outp[0]), out_write(outp[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  char arg0[] = "cat";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  out->resize(input.size() + (64 << 10));  // room to notice a longer output
  const int64_t start = NowNs();
  const int err = posix_spawn(&pid, kNativeCat, &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return ErrnoStatus(err, "posix_spawn /bin/cat");
  in_read.reset();
  out_write.reset();
  int write_errno = 0;
  std::thread writer([&] {
    for (size_t done = 0; done < input.size();) {
      const ssize_t w = write(in_write.get(), input.data() + done, input.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        write_errno = w < 0 ? errno : EIO;
        break;
      }
      done += static_cast<size_t>(w);
    }
    in_write.reset();
  });
  size_t got = 0;
  int read_errno = 0;
  std::thread reader([&] {
    char scratch[64 << 10];
    for (;;) {
      char* dst = got < out->size() ? out->data() + got : scratch;
      const size_t room = got < out->size() ? out->size() - got : sizeof(scratch);
      const ssize_t r = read(out_read.get(), dst, room);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        read_errno = r < 0 ? errno : 0;
        break;
      }
      got += static_cast<size_t>(r);
    }
  });
  writer.join();
  reader.join();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const Run run{NowNs() - start, 0};
  if (write_errno != 0) return ErrnoStatus(write_errno, "writing to cat");
  if (read_errno != 0) return ErrnoStatus(read_errno, "reading from cat");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("/bin/cat failed: wait status ", status));
  }
  RETURN_IF_ERROR(CheckBytes(absl::string_view(*out).substr(0, std::min(got, out->size())),
                             input.size(), want_sum));
  if (got != input.size()) return absl::DataLossError(absl::StrCat("cat wrote ", got, " bytes"));
  return run;
}

double MBps(int64_t bytes, int64_t ns) {
  return ns > 0 ? static_cast<double>(bytes) * 1e3 / ns : 0;
}

struct SideFigures {
  std::vector<double> mbps;
  double median = 0, best = 0;
  double median_server_wall_ms = 0;
};

SideFigures Summ(const std::vector<Run>& runs, int64_t bytes) {
  SideFigures f;
  std::vector<double> walls;
  for (const Run& r : runs) {
    f.mbps.push_back(MBps(bytes, r.elapsed_ns));
    walls.push_back(static_cast<double>(r.server_wall_ns) / 1e6);
  }
  std::vector<double> sorted = f.mbps;
  std::sort(sorted.begin(), sorted.end());
  std::sort(walls.begin(), walls.end());
  if (!sorted.empty()) {
    f.median = sorted[sorted.size() / 2];
    f.best = sorted.back();
    f.median_server_wall_ms = walls[walls.size() / 2];
  }
  return f;
}

std::string JoinMBps(const std::vector<double>& v, const char* sep) {
  std::vector<std::string> parts;
  for (double x : v) parts.push_back(absl::StrFormat("%.1f", x));
  return absl::StrJoin(parts, sep);
}

}  // namespace

absl::StatusOr<Report> RunStreamScenario(const BenchContext& ctx, int64_t bytes, int runs) {
  const std::string input = PseudoRandomBytes(static_cast<size_t>(bytes), 0xca7);
  const uint64_t sum = Checksum64(input);
  ASSIGN_OR_RETURN(std::string id, Register(ctx, ctx.guests.cat));
  const v1::ExecuteRequest request = MakeExecuteRequest(id, {"cat"}, input, bytes);
  std::unique_ptr<v1::Sandbox::Stub> stub = v1::Sandbox::NewStub(OpenChannel(ctx));
  std::string native_out;
  std::vector<Run> exec_runs, native_runs;
  // One warm-up run per side, then `runs` alternating pairs; any error is fatal here (a stream
  // that fails says more than a throughput would).
  for (int r = -1; r < runs; ++r) {
    for (const bool exec_turn : AlternatingTurns(r < 0 ? 0 : r)) {
      Run run;
      if (exec_turn) {
        ASSIGN_OR_RETURN(run, ExecuteOnce(*stub, request, input.size(), sum));
      } else {
        ASSIGN_OR_RETURN(run, NativeOnce(input, &native_out, sum));
      }
      if (r >= 0) (exec_turn ? exec_runs : native_runs).push_back(run);
    }
  }
  const SideFigures e = Summ(exec_runs, bytes);
  const SideFigures n = Summ(native_runs, bytes);
  const double ratio = n.median > 0 ? e.median / n.median : 0;
  const double sandbox_mbps =
      e.median_server_wall_ms > 0 ? static_cast<double>(bytes) / 1e3 / e.median_server_wall_ms : 0;
  Report report;
  report.json_key = "cat256";
  report.json = absl::StrFormat(
      "{\"bytes\":%d,\"runs\":%d,\"guest_buffer_bytes\":%d,\"native\":\"%s\","
      "\"execute\":{\"mb_per_s\":[%s],\"median_mb_per_s\":%.1f,\"best_mb_per_s\":%.1f,"
      "\"median_server_sandbox_wall_ms\":%.1f,\"sandbox_only_mb_per_s\":%.1f},"
      "\"native_cat\":{\"mb_per_s\":[%s],\"median_mb_per_s\":%.1f,\"best_mb_per_s\":%.1f},"
      "\"ratio_median\":%.3f}",
      bytes, runs, 128 << 10, kNativeCat, JoinMBps(e.mbps, ","), e.median, e.best,
      e.median_server_wall_ms, sandbox_mbps, JoinMBps(n.mbps, ","), n.median, n.best, ratio);
  report.text = absl::StrFormat(
      "cat256: %d MiB stdin -> stdout, %d runs per side after 1 warm-up, alternating; MB = 10^6 "
      "bytes, output verified (length + checksum)\n"
      "  execute   (cat guest, 128 KiB buffer, inline stdin, stdout in the response): median "
      "%.1f MB/s, best %.1f (runs: %s)\n"
      "            of which the sandbox (server-measured spawn to reap): median %.1f ms = %.1f "
      "MB/s\n"
      "  native    (%s through pipes, writer + reader threads): median %.1f MB/s, best %.1f "
      "(runs: %s)\n"
      "  execute/native median throughput: %.3f\n",
      bytes >> 20, runs, e.median, e.best, JoinMBps(e.mbps, " "), e.median_server_wall_ms,
      sandbox_mbps, kNativeCat, n.median, n.best, JoinMBps(n.mbps, " "), ratio);
  return report;
}

}  // namespace zerocell::bench
