// zerocell-bench cat256: a large stream through the cat guest by one Execute (the whole input
// inline in the request, the whole output in the response) and by one ExecuteStream (input sent
// in chunks as the window admits, output received as written) against native /bin/cat through
// pipes (a writer thread feeding its stdin, a reader thread draining its stdout), as throughput;
// with the started zerocelld's resident-memory growth during the streamed runs.
//
// Both sides are timed until every output byte is in this process's memory; the bytes are then
// checked (length and a 64-bit checksum) outside the timed part.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
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

// One ExecuteStream: a writer thread sends `input` in 256 KiB chunks (each Write waits for the
// server's window), this thread collects the output chunks into *out.
absl::StatusOr<Run> StreamOnce(v1::Sandbox::Stub& stub, const std::string& image_id,
                               const std::string& input, std::string* out, uint64_t want_sum) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::StreamRequest start;
  start.mutable_start()->set_image_id(image_id);
  v1::Manifest* m = start.mutable_start()->mutable_manifest();
  m->add_argv("cat");
  m->set_timeout_ms(60000);
  m->set_output_limit_bytes(static_cast<int64_t>(input.size()));  // default channels
  out->clear();
  out->reserve(input.size());
  const int64_t begin = NowNs();
  std::unique_ptr<grpc::ClientReaderWriter<v1::StreamRequest, v1::StreamResponse>> stream =
      stub.ExecuteStream(&ctx);
  std::thread writer([&] {
    if (!stream->Write(start)) return;
    constexpr size_t kChunk = 256 << 10;
    v1::StreamRequest chunk;
    for (size_t done = 0; done < input.size(); done += kChunk) {
      chunk.mutable_input()->set_data(input.data() + done, std::min(kChunk, input.size() - done));
      chunk.mutable_input()->set_end(done + kChunk >= input.size());
      if (!stream->Write(chunk)) return;
    }
    stream->WritesDone();
  });
  v1::StreamResponse response;
  v1::ExecuteResponse result;
  while (stream->Read(&response)) {
    if (response.has_output()) out->append(response.output().data());
    if (response.has_result()) result = response.result();
  }
  writer.join();
  grpc::Status s = stream->Finish();
  Run run{NowNs() - begin, result.usage().wall_ns()};
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("ExecuteStream: ", s.error_message()));
  }
  if (result.outcome() != v1::OUTCOME_EXITED || result.exit_code() != 0) {
    return absl::InternalError(absl::StrCat(
        "ExecuteStream: outcome ", v1::Outcome_Name(result.outcome()), " ", result.detail()));
  }
  RETURN_IF_ERROR(CheckBytes(*out, input.size(), want_sum));
  return run;
}

// VmRSS of `pid` in bytes, or -1.
int64_t RssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

// Samples a process's VmRSS every 2 ms until destroyed; the highest value seen.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid) {
    if (pid_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~RssSampler() { Stop(); }
  int64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_;
  }

 private:
  void Loop() {
    while (!stop_) {
      peak_ = std::max(peak_, RssBytes(pid_));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  int64_t peak_ = -1;
  std::thread thread_;
};

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

absl::StatusOr<Report> RunStreamScenario(const BenchContext& ctx, int64_t bytes, int runs,
                                         bool with_execute, pid_t server_pid) {
  const std::string input = PseudoRandomBytes(static_cast<size_t>(bytes), 0xca7);
  const uint64_t sum = Checksum64(input);
  ASSIGN_OR_RETURN(std::string id, Register(ctx, ctx.guests.cat));
  const v1::ExecuteRequest request = MakeExecuteRequest(id, {"cat"}, input, bytes);
  std::unique_ptr<v1::Sandbox::Stub> stub = v1::Sandbox::NewStub(OpenChannel(ctx));
  std::string native_out, stream_out;
  std::vector<Run> exec_runs, native_runs, stream_runs;
  // One warm-up run per side, then `runs` alternating pairs; any error is fatal here (a stream
  // that fails says more than a throughput would).
  for (int r = -1; with_execute && r < runs; ++r) {
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
  // The streamed runs after the Execute ones, with the server idle first: its resident memory is
  // sampled from there on, so the growth is what streams cost, not what Execute left behind.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t rss_before = server_pid > 0 ? RssBytes(server_pid) : -1;
  int64_t rss_peak = -1;
  {
    RssSampler sampler(server_pid);
    for (int r = -1; r < runs; ++r) {
      for (const bool stream_turn : AlternatingTurns(r < 0 ? 0 : r)) {
        Run run;
        if (stream_turn) {
          ASSIGN_OR_RETURN(run, StreamOnce(*stub, id, input, &stream_out, sum));
        } else {
          ASSIGN_OR_RETURN(run, NativeOnce(input, &native_out, sum));
        }
        if (r >= 0 && stream_turn) stream_runs.push_back(run);
        if (r >= 0 && !stream_turn) native_runs.push_back(run);
      }
    }
    rss_peak = sampler.Stop();
  }
  const SideFigures e = Summ(exec_runs, bytes);
  const SideFigures n = Summ(native_runs, bytes);
  const SideFigures st = Summ(stream_runs, bytes);
  const double ratio = n.median > 0 ? e.median / n.median : 0;
  const double stream_ratio = n.median > 0 ? st.median / n.median : 0;
  const double rss_growth_mib =
      rss_before > 0 && rss_peak > 0 ? static_cast<double>(rss_peak - rss_before) / (1 << 20) : -1;
  const double sandbox_mbps =
      e.median_server_wall_ms > 0 ? static_cast<double>(bytes) / 1e3 / e.median_server_wall_ms : 0;
  Report report;
  report.json_key = "cat256";
  report.json = absl::StrFormat(
      "{\"bytes\":%d,\"runs\":%d,\"guest_buffer_bytes\":%d,\"native\":\"%s\","
      "\"execute\":{\"mb_per_s\":[%s],\"median_mb_per_s\":%.1f,\"best_mb_per_s\":%.1f,"
      "\"median_server_sandbox_wall_ms\":%.1f,\"sandbox_only_mb_per_s\":%.1f},"
      "\"native_cat\":{\"mb_per_s\":[%s],\"median_mb_per_s\":%.1f,\"best_mb_per_s\":%.1f},"
      "\"ratio_median\":%.3f,"
      "\"stream\":{\"mb_per_s\":[%s],\"median_mb_per_s\":%.1f,\"best_mb_per_s\":%.1f,"
      "\"median_server_sandbox_wall_ms\":%.1f,\"server_rss_before_mib\":%.1f,"
      "\"server_rss_peak_growth_mib\":%.1f},\"stream_ratio_median\":%.3f}",
      bytes, runs, 128 << 10, kNativeCat, JoinMBps(e.mbps, ","), e.median, e.best,
      e.median_server_wall_ms, sandbox_mbps, JoinMBps(n.mbps, ","), n.median, n.best, ratio,
      JoinMBps(st.mbps, ","), st.median, st.best, st.median_server_wall_ms,
      static_cast<double>(rss_before) / (1 << 20), rss_growth_mib, stream_ratio);
  report.text = absl::StrFormat(
      "cat256: %d MiB stdin -> stdout, %d runs per side after 1 warm-up, alternating; MB = 10^6 "
      "bytes, output verified (length + checksum)\n"
      "  execute   (cat guest, 128 KiB buffer, inline stdin, stdout in the response): median "
      "%.1f MB/s, best %.1f (runs: %s)\n"
      "            of which the sandbox (server-measured spawn to reap): median %.1f ms = %.1f "
      "MB/s\n"
      "  native    (%s through pipes, writer + reader threads): median %.1f MB/s, best %.1f "
      "(runs: %s)\n"
      "  execute/native median throughput: %.3f\n"
      "  stream    (ExecuteStream: 256 KiB input chunks, output chunks as written): median %.1f "
      "MB/s, best %.1f (runs: %s); sandbox median %.1f ms\n"
      "            zerocelld VmRSS %.1f MiB before, peak growth during the streams %.1f MiB\n"
      "  stream/native median throughput: %.3f (native: both rounds' runs)\n",
      bytes >> 20, runs, e.median, e.best, JoinMBps(e.mbps, " "), e.median_server_wall_ms,
      sandbox_mbps, kNativeCat, n.median, n.best, JoinMBps(n.mbps, " "), ratio, st.median, st.best,
      JoinMBps(st.mbps, " "), st.median_server_wall_ms, static_cast<double>(rss_before) / (1 << 20),
      rss_growth_mib, stream_ratio);
  return report;
}

}  // namespace zerocell::bench
