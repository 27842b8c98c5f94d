// What the parts of zerocell-bench share: the context, workloads, the round driver and reports.
#include "bench/rpc_bench.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "sandbox/sys/unique_fd.h"
#include "tests/testing/files.h"

extern char** environ;

namespace zerocell::bench {
namespace {

using sandbox::sys::UniqueFd;

std::vector<std::unique_ptr<v1::Sandbox::Stub>> StubsFor(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  std::vector<std::unique_ptr<v1::Sandbox::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::Sandbox::NewStub(channel));
  return stubs;
}

absl::Status FromGrpc(const char* call, const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(call, ": ", s.error_message()));
}

class ExecuteWorkload : public Workload {
 public:
  ExecuteWorkload(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                  v1::ExecuteRequest request, OutputCheck check)
      : request_(std::move(request)), check_(std::move(check)), stubs_(StubsFor(channels)) {}

  absl::Status RunOnce(int client) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::ExecuteResponse resp;
    grpc::Status s = stubs_[static_cast<size_t>(client)]->Execute(&ctx, request_, &resp);
    if (!s.ok()) return FromGrpc("Execute", s);
    if (resp.outcome() != v1::OUTCOME_EXITED || resp.exit_code() != 0) {
      return absl::InternalError(absl::StrCat("Execute: outcome ", v1::Outcome_Name(resp.outcome()),
                                              " exit ", resp.exit_code(), " ", resp.detail()));
    }
    if (check_) {
      absl::string_view out;
      for (const v1::ChannelResult& c : resp.channels()) {
        if (c.alias() == "/dev/stdout") out = c.output();
      }
      RETURN_IF_ERROR(check_(out));
    }
    runs_.fetch_add(1, std::memory_order_relaxed);
    wall_ns_.fetch_add(resp.usage().wall_ns(), std::memory_order_relaxed);
    startup_ns_.fetch_add(resp.usage().startup_ns(), std::memory_order_relaxed);
    queue_ns_.fetch_add(resp.usage().queue_wait_ns(), std::memory_order_relaxed);
    return absl::OkStatus();
  }

  std::vector<std::pair<std::string, double>> Breakdown() const override {
    const double n = static_cast<double>(std::max<int64_t>(runs_.load(), 1)) * 1e3;
    return {{"queue_wait_us", static_cast<double>(queue_ns_.load()) / n},
            {"sandbox_startup_us", static_cast<double>(startup_ns_.load()) / n},
            {"sandbox_wall_us", static_cast<double>(wall_ns_.load()) / n}};
  }
  void Reset() override {
    runs_ = 0;
    wall_ns_ = 0;
    startup_ns_ = 0;
    queue_ns_ = 0;
  }

 private:
  std::atomic<int64_t> runs_{0}, wall_ns_{0}, startup_ns_{0}, queue_ns_{0};
  const v1::ExecuteRequest request_;
  const OutputCheck check_;
  std::vector<std::unique_ptr<v1::Sandbox::Stub>> stubs_;
};

class GetImageWorkload : public Workload {
 public:
  GetImageWorkload(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   std::string image_id)
      : stubs_(StubsFor(channels)) {
    request_.set_image_id(std::move(image_id));
  }

  absl::Status RunOnce(int client) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::Image resp;
    grpc::Status s = stubs_[static_cast<size_t>(client)]->GetImage(&ctx, request_, &resp);
    if (!s.ok()) return FromGrpc("GetImage", s);
    if (resp.image_id() != request_.image_id()) {
      return absl::InternalError(absl::StrCat("GetImage answered ", resp.image_id()));
    }
    return absl::OkStatus();
  }

 private:
  v1::GetImageRequest request_;
  std::vector<std::unique_ptr<v1::Sandbox::Stub>> stubs_;
};

class SpawnWorkload : public Workload {
 public:
  explicit SpawnWorkload(std::unique_ptr<BareSpawn> spawn) : spawn_(std::move(spawn)) {}
  absl::Status RunOnce(int) override { return spawn_->Run(); }

 private:
  const std::unique_ptr<BareSpawn> spawn_;
};

class PipedSpawnWorkload : public Workload {
 public:
  PipedSpawnWorkload(std::string path, std::vector<std::string> argv, std::string input,
                     OutputCheck check)
      : path_(std::move(path)),
        argv_(std::move(argv)),
        input_(std::move(input)),
        check_(std::move(check)) {}
  absl::Status RunOnce(int) override {
    ASSIGN_OR_RETURN(std::string out, RunPiped(path_, argv_, input_));
    return check_ ? check_(out) : absl::OkStatus();
  }

 private:
  const std::string path_;
  const std::vector<std::string> argv_;
  const std::string input_;
  const OutputCheck check_;
};

struct Sample {
  std::vector<int64_t> latencies_ns;
  int64_t elapsed_ns = 0;  // summed over rounds
  int64_t failures = 0;
  std::string first_error;
};

// `clients` threads call RunOnce until `duration` passed (or `runs_per_client` runs each when
// > 0). Successful runs' latencies are appended to *out, failures counted there.
void Drive(Workload& w, int clients, absl::Duration duration, int runs_per_client, Sample* out) {
  std::vector<std::vector<int64_t>> per_client(static_cast<size_t>(clients));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  int64_t deadline_ns = 0;
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int i = 0; runs_per_client > 0 ? i < runs_per_client : NowNs() < deadline_ns; ++i) {
        const int64_t start = NowNs();
        absl::Status s = w.RunOnce(c);
        const int64_t end = NowNs();
        if (s.ok()) {
          per_client[static_cast<size_t>(c)].push_back(end - start);
          continue;
        }
        absl::MutexLock lock(&mu);
        if (out->failures++ == 0) out->first_error = s.ToString();
      }
    });
  }
  while (ready.load() < clients) std::this_thread::yield();
  const int64_t start = NowNs();
  deadline_ns = start + absl::ToInt64Nanoseconds(duration);
  go.store(true, std::memory_order_release);
  for (std::thread& t : threads) t.join();
  out->elapsed_ns += NowNs() - start;
  for (const auto& v : per_client) {
    out->latencies_ns.insert(out->latencies_ns.end(), v.begin(), v.end());
  }
}

absl::Status SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoStatus(errno, "fcntl O_NONBLOCK");
  }
  return absl::OkStatus();
}

// Feeds `input` to `in` (then closes it) while draining `out` into *output, until `out` ends.
absl::Status PumpPipes(UniqueFd in, const UniqueFd& out, absl::string_view input,
                       std::string* output) {
  RETURN_IF_ERROR(SetNonBlocking(in.get()));
  if (input.empty()) in.reset();
  size_t written = 0;
  char buf[64 << 10];
  for (;;) {
    pollfd fds[2] = {{out.get(), POLLIN, 0}, {in.get(), POLLOUT, 0}};
    const nfds_t n = in.valid() ? 2 : 1;
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "poll");
    }
    if (n == 2 && fds[1].revents != 0) {
      const ssize_t w = write(in.get(), input.data() + written,
                              std::min<size_t>(input.size() - written, sizeof(buf)));
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        return ErrnoStatus(errno, "write to the child's stdin");
      }
      if (w > 0) written += static_cast<size_t>(w);
      if (written == input.size()) in.reset();
    }
    if (fds[0].revents != 0) {
      const ssize_t r = read(out.get(), buf, sizeof(buf));
      if (r == 0) return absl::OkStatus();
      if (r < 0 && errno != EAGAIN && errno != EINTR) {
        return ErrnoStatus(errno, "read from the child's stdout");
      }
      if (r > 0) output->append(buf, static_cast<size_t>(r));
    }
  }
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::shared_ptr<grpc::Channel> OpenChannel(const BenchContext& ctx) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  // As RemoteClient: a fixed HTTP/2 window (gRPC's bandwidth probe grows one that makes every
  // large read land in fresh pages).
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);
  args.SetMaxSendMessageSize(static_cast<int>(ctx.max_message_bytes));
  args.SetMaxReceiveMessageSize(static_cast<int>(ctx.max_message_bytes));
  return grpc::CreateCustomChannel(ctx.address, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<std::string> Register(const BenchContext& ctx, const std::string& path) {
  ASSIGN_OR_RETURN(std::string elf, testing::ReadFile(path));
  v1::RegisterImageRequest req;
  req.set_elf(std::move(elf));
  req.set_name(std::filesystem::path(path).filename().string());
  v1::RegisterImageResponse resp;
  grpc::ClientContext call;
  grpc::Status s = ctx.stub->RegisterImage(&call, req, &resp);
  if (!s.ok()) return FromGrpc("RegisterImage", s);
  return resp.image().image_id();
}

v1::ExecuteRequest MakeExecuteRequest(const std::string& image_id, std::vector<std::string> argv,
                                      std::string input, int64_t stdout_bytes) {
  constexpr int64_t kStderrBytes = 64 << 10;
  v1::ExecuteRequest req;
  req.set_image_id(image_id);
  v1::Manifest* m = req.mutable_manifest();
  m->set_timeout_ms(60000);
  m->set_output_limit_bytes(stdout_bytes + kStderrBytes);
  for (std::string& a : argv) m->add_argv(std::move(a));
  v1::Channel* in = m->add_channels();
  in->set_alias("/dev/stdin");
  // A readable channel needs both limits; an empty stdin still reads as end of data.
  in->set_gets(int64_t{1} << 40);
  in->set_get_size(std::max<int64_t>(1, static_cast<int64_t>(input.size())));
  in->set_initial_data(std::move(input));
  for (const auto& [alias, bytes] :
       {std::pair{"/dev/stdout", stdout_bytes}, std::pair{"/dev/stderr", kStderrBytes}}) {
    v1::Channel* out = m->add_channels();
    out->set_alias(alias);
    out->set_puts(int64_t{1} << 40);
    out->set_put_size(bytes);
  }
  return req;
}

OutputCheck ExpectOutput(std::string expected) {
  return [expected = std::move(expected)](absl::string_view got) -> absl::Status {
    if (got == expected) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("wrong output: ", got.size(), " bytes \"",
                                            got.substr(0, 80), "\", expected \"",
                                            absl::string_view(expected).substr(0, 80), "\""));
  };
}

std::unique_ptr<Workload> MakeExecuteWorkload(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, v1::ExecuteRequest request,
    OutputCheck check) {
  return std::make_unique<ExecuteWorkload>(channels, std::move(request), std::move(check));
}

std::unique_ptr<Workload> MakeGetImageWorkload(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, std::string image_id) {
  return std::make_unique<GetImageWorkload>(channels, std::move(image_id));
}

absl::StatusOr<std::unique_ptr<Workload>> MakeSpawnWorkload(std::string path,
                                                            std::vector<std::string> argv) {
  ASSIGN_OR_RETURN(std::unique_ptr<BareSpawn> spawn,
                   BareSpawn::Create(std::move(path), std::move(argv)));
  return std::make_unique<SpawnWorkload>(std::move(spawn));
}

std::unique_ptr<Workload> MakePipedSpawnWorkload(std::string path, std::vector<std::string> argv,
                                                 std::string input, OutputCheck check) {
  return std::make_unique<PipedSpawnWorkload>(std::move(path), std::move(argv), std::move(input),
                                              std::move(check));
}

absl::StatusOr<std::string> RunPiped(const std::string& path, const std::vector<std::string>& argv,
                                     absl::string_view input) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd in_read(in[0]), in_write(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd out_read(out[0]), out_write(out[1]);
  // dup2 clears FD_CLOEXEC on 0 and 1 only; the pipes' other ends (and those of concurrent
  // clients) stay out of the child.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, path.c_str(), &actions, nullptr, args.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return ErrnoStatus(err, absl::StrCat("posix_spawn ", path));
  in_read.reset();
  out_write.reset();
  std::string output;
  const absl::Status pumped = PumpPipes(std::move(in_write), out_read, input, &output);
  out_read.reset();  // a child still writing gets EPIPE instead of blocking the wait below
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "waitpid");
  }
  RETURN_IF_ERROR(pumped);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(path, " failed: wait status ", status));
  }
  return output;
}

absl::StatusOr<std::vector<Stats>> CompareSides(const BenchContext& ctx, std::vector<Side>& sides,
                                                int clients) {
  std::vector<Sample> samples(sides.size());
  for (size_t i = 0; i < sides.size(); ++i) {
    Sample warm;
    Drive(*sides[i].workload, clients, absl::ZeroDuration(), ctx.warmup, &warm);
    if (ctx.warmup > 0 && warm.latencies_ns.empty()) {
      return absl::InternalError(
          absl::StrCat(sides[i].name, ": every warm-up run failed: ", warm.first_error));
    }
    samples[i].failures = warm.failures;
    samples[i].first_error = warm.first_error;
    sides[i].workload->Reset();
  }
  for (int r = 0; r < ctx.rounds; ++r) {
    for (size_t k = 0; k < sides.size(); ++k) {
      const size_t i = r % 2 == 0 ? k : sides.size() - 1 - k;
      Drive(*sides[i].workload, clients, ctx.duration / ctx.rounds, 0, &samples[i]);
    }
  }
  std::vector<Stats> out;
  for (Sample& s : samples) {
    Stats st;
    static_cast<LatencyStats&>(st) = Summarize(std::move(s.latencies_ns));
    if (st.count > 0) st.per_second = static_cast<double>(st.count) * 1e9 / s.elapsed_ns;
    st.failures = s.failures;
    st.first_error = std::move(s.first_error);
    out.push_back(std::move(st));
  }
  return out;
}

std::string StatsJson(const Stats& s) {
  std::string out = absl::StrFormat(
      "{\"runs\":%d,\"failures\":%d,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
      "\"mean_us\":%.1f,\"runs_per_s\":%.1f",
      s.count, s.failures, s.p50_us, s.p90_us, s.p99_us, s.mean_us, s.per_second);
  if (!s.first_error.empty()) absl::StrAppend(&out, ",\"first_error\":", JsonQuote(s.first_error));
  return out + "}";
}

std::string PseudoRandomBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed | 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<size_t>(8, n - i));
  }
  return out;
}

uint64_t Checksum64(absl::string_view bytes) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  for (; i < bytes.size(); ++i) h = (h ^ static_cast<unsigned char>(bytes[i])) * 0x100000001b3ull;
  return h;
}

}  // namespace zerocell::bench
