// zerocell-bench: Execute over loopback gRPC against a real zerocelld, at 1..N concurrent
// clients, next to bare posix_spawn + waitpid of the same guest at the same concurrency, all
// measured in one run (alternating rounds, after a warm-up).
//
// Per call, the Execute side is timed from "stub call starts" to "response decoded": gRPC over
// loopback TCP, admission, sandbox spawn (loader, mapping, seccomp), the supervised run, and the
// result assembly. The bare side is the kernel's spawn + exec + exit of the static binary with
// stdout on /dev/null. Scenarios (a table below) name what is run; each supplies both sides.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "sandbox/status_macros.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

extern char** environ;

ABSL_FLAG(std::string, server, "", "address of a running plaintext zerocelld (default: start one)");
ABSL_FLAG(std::string, zerocelld, "", "zerocelld to start (default: beside this binary)");
ABSL_FLAG(std::string, guest, "",
          "guest binary (default: $ZEROCELL_GUEST_DIR/hello, else build/examples/hello beside "
          "this binary's bin/)");
ABSL_FLAG(std::vector<std::string>, clients, std::vector<std::string>({"1", "2"}),
          "comma-separated concurrency levels");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measured time per side and level");
ABSL_FLAG(int, rounds, 2, "each side's time is split into this many alternating rounds");
ABSL_FLAG(int, warmup, 20, "unmeasured runs per client of each side first");
ABSL_FLAG(std::vector<std::string>, scenarios, std::vector<std::string>({"hello"}),
          "scenarios to run (see --helpfull for the list)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the table");

constexpr char kUsage[] =
    "Benchmarks zerocelld Execute over loopback gRPC against bare posix_spawn+waitpid.\n"
    "Usage: zerocell-bench [--clients=1,2] [--duration=5s] [--rounds=2] [--warmup=20]\n"
    "       [--scenarios=hello] [--guest=PATH] [--server=ADDR | --zerocelld=PATH] [--json]";

namespace zerocell::bench {
namespace {

namespace v1 = ::zerocell::v1;

// A zerocelld started for the benchmark: SIGTERM (then SIGKILL) and reaped on destruction.
class ServerChild {
 public:
  static absl::StatusOr<std::unique_ptr<ServerChild>> Start(const std::string& binary,
                                                            int max_concurrency) {
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "zerocell-bench-XXXXXX").string();
    if (mkdtemp(dir_template.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    auto child = std::unique_ptr<ServerChild>(new ServerChild(dir_template));
    const std::string ready = child->dir_ + "/ready.json";
    std::vector<std::string> args = {binary, "--listen=127.0.0.1:0",
                                     "--metrics_listen=", absl::StrCat("--ready_file=", ready),
                                     absl::StrCat("--max_concurrency=", max_concurrency)};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    const std::string log = child->dir_ + "/server.log";
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err =
        posix_spawn(&child->pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) {
      child->pid_ = -1;
      return absl::InternalError(absl::StrCat("cannot start ", binary, ": errno ", err));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(child->pid_, &status, WNOHANG) == child->pid_) {
        child->pid_ = -1;
        return absl::InternalError(
            absl::StrCat("zerocelld exited before it was ready:\n", ReadFile(log).value_or("")));
      }
      if (absl::StatusOr<std::string> json = ReadFile(ready); json.ok()) {
        const size_t at = json->find("\"grpc_port\":");
        int port = 0;
        if (at != std::string::npos) {
          const size_t begin = at + 12;
          const size_t end = json->find_first_not_of("0123456789", begin);
          (void)absl::SimpleAtoi(absl::string_view(*json).substr(begin, end - begin), &port);
        }
        if (port <= 0) return absl::InternalError(absl::StrCat("bad ready file: ", *json));
        child->address_ = absl::StrCat("127.0.0.1:", port);
        return child;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::DeadlineExceededError("zerocelld not ready after 30 s");
  }

  ~ServerChild() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      const absl::Time deadline = absl::Now() + absl::Seconds(15);
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (absl::Now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::string& address() const { return address_; }

 private:
  explicit ServerChild(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  pid_t pid_ = -1;
  std::string address_;
};

// One side of a comparison: RunOnce is called repeatedly by each client thread.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual absl::Status RunOnce(int client) = 0;
  // Mean server-reported parts of a run since the last Reset(), microseconds, by name.
  virtual std::vector<std::pair<std::string, double>> Breakdown() const { return {}; }
  virtual void Reset() {}
};

// Execute by image id; one channel (own TCP connection) per client.
class ExecuteWorkload : public Workload {
 public:
  ExecuteWorkload(const std::string& address, int clients, v1::ExecuteRequest request)
      : request_(std::move(request)) {
    for (int i = 0; i < clients; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      stubs_.push_back(v1::Sandbox::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
    }
  }

  absl::Status RunOnce(int client) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ExecuteResponse resp;
    grpc::Status s = stubs_[static_cast<size_t>(client)]->Execute(&ctx, request_, &resp);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("Execute: ", s.error_code(), " ", s.error_message()));
    }
    if (resp.outcome() != v1::OUTCOME_EXITED || resp.exit_code() != 0) {
      return absl::InternalError(absl::StrCat("Execute ended with ", resp.ShortDebugString()));
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
  std::vector<std::unique_ptr<v1::Sandbox::Stub>> stubs_;
};

// The bare baseline (BareSpawn) as a workload; its clients share one BareSpawn.
class BareSpawnWorkload : public Workload {
 public:
  explicit BareSpawnWorkload(std::unique_ptr<BareSpawn> spawn) : spawn_(std::move(spawn)) {}
  absl::Status RunOnce(int) override { return spawn_->Run(); }

 private:
  const std::unique_ptr<BareSpawn> spawn_;
};

struct BenchContext {
  std::string address;  // zerocelld
  std::string guest;    // path of the default guest
  v1::Sandbox::Stub* stub = nullptr;
};

// A named comparison. Scenarios added later (other guests, inline images, channel data...) supply
// their own pair of workloads.
struct Scenario {
  std::string name;
  std::string description;
  std::function<absl::StatusOr<std::unique_ptr<Workload>>(const BenchContext&, int clients)>
      execute;
  std::function<absl::StatusOr<std::unique_ptr<Workload>>(const BenchContext&, int clients)>
      baseline;
};

absl::StatusOr<std::string> Register(const BenchContext& ctx, const std::string& path) {
  ASSIGN_OR_RETURN(std::string elf, ReadFile(path));
  v1::RegisterImageRequest req;
  req.set_elf(std::move(elf));
  req.set_name(std::filesystem::path(path).filename().string());
  v1::RegisterImageResponse resp;
  grpc::ClientContext call;
  grpc::Status s = ctx.stub->RegisterImage(&call, req, &resp);
  if (!s.ok()) return absl::InternalError(absl::StrCat("RegisterImage: ", s.error_message()));
  return resp.image().image_id();
}

std::vector<Scenario> Scenarios() {
  return {{
      "hello",
      "registered guest, Execute by id, argv {hello}, stdout captured (bare: stdout /dev/null)",
      [](const BenchContext& ctx, int clients) -> absl::StatusOr<std::unique_ptr<Workload>> {
        ASSIGN_OR_RETURN(std::string id, Register(ctx, ctx.guest));
        v1::ExecuteRequest req;
        req.set_image_id(id);
        v1::Manifest* m = req.mutable_manifest();
        m->set_timeout_ms(10000);
        m->add_argv("hello");
        v1::Channel* in = m->add_channels();
        in->set_alias("/dev/stdin");
        in->set_gets(1);
        in->set_get_size(1);
        for (const char* alias : {"/dev/stdout", "/dev/stderr"}) {
          v1::Channel* out = m->add_channels();
          out->set_alias(alias);
          out->set_puts(1 << 20);
          out->set_put_size(1 << 20);
        }
        return std::make_unique<ExecuteWorkload>(ctx.address, clients, std::move(req));
      },
      [](const BenchContext& ctx, int) -> absl::StatusOr<std::unique_ptr<Workload>> {
        ASSIGN_OR_RETURN(std::unique_ptr<BareSpawn> spawn, BareSpawn::Create(ctx.guest, {"hello"}));
        return std::make_unique<BareSpawnWorkload>(std::move(spawn));
      },
  }};
}

struct Sample {
  std::vector<int64_t> latencies_ns;
  int64_t elapsed_ns = 0;  // summed over rounds
};

// `clients` threads call RunOnce until `duration` passed (or `runs_per_client` runs each when
// > 0); latencies are appended to *out.
absl::Status Drive(Workload& w, int clients, absl::Duration duration, int runs_per_client,
                   Sample* out) {
  std::vector<std::vector<int64_t>> per_client(static_cast<size_t>(clients));
  std::vector<absl::Status> errors(static_cast<size_t>(clients));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  int64_t deadline_ns = 0;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int i = 0; runs_per_client > 0 ? i < runs_per_client : NowNs() < deadline_ns; ++i) {
        const int64_t start = NowNs();
        absl::Status s = w.RunOnce(c);
        const int64_t end = NowNs();
        if (!s.ok()) {
          errors[static_cast<size_t>(c)] = s;
          return;
        }
        per_client[static_cast<size_t>(c)].push_back(end - start);
      }
    });
  }
  while (ready.load() < clients) std::this_thread::yield();
  const int64_t start = NowNs();
  deadline_ns = start + absl::ToInt64Nanoseconds(duration);
  go.store(true, std::memory_order_release);
  for (std::thread& t : threads) t.join();
  const int64_t elapsed = NowNs() - start;
  for (const absl::Status& s : errors) RETURN_IF_ERROR(s);
  if (out != nullptr) {
    out->elapsed_ns += elapsed;
    for (const auto& v : per_client) {
      out->latencies_ns.insert(out->latencies_ns.end(), v.begin(), v.end());
    }
  }
  return absl::OkStatus();
}

struct Stats : LatencyStats {
  double per_second = 0;
};

Stats SummarizeSample(Sample s) {
  const double seconds = static_cast<double>(s.elapsed_ns) / 1e9;
  Stats out{Summarize(std::move(s.latencies_ns)), 0};
  if (out.count > 0) out.per_second = static_cast<double>(out.count) / seconds;
  return out;
}

struct Result {
  std::string scenario;
  int clients = 0;
  Stats execute, bare;
  std::vector<std::pair<std::string, double>> breakdown;  // of the execute side
};

std::string StatsJson(const Stats& s) {
  return absl::StrFormat(
      "{\"runs\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,\"runs_per_s\":%.1f}", s.count,
      s.p50_us, s.p99_us, s.mean_us, s.per_second);
}

absl::Status Main() {
  std::vector<int> levels;
  for (const std::string& c : absl::GetFlag(FLAGS_clients)) {
    int n = 0;
    if (!absl::SimpleAtoi(c, &n) || n < 1 || n > 256) {
      return absl::InvalidArgumentError(absl::StrCat("--clients: \"", c, "\" is not 1..256"));
    }
    levels.push_back(n);
  }
  if (levels.empty()) return absl::InvalidArgumentError("--clients: empty");
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const int warmup = absl::GetFlag(FLAGS_warmup);
  if (duration <= absl::ZeroDuration() || rounds < 1 || warmup < 0) {
    return absl::InvalidArgumentError("--duration must be > 0, --rounds >= 1, --warmup >= 0");
  }
  std::vector<Scenario> chosen;
  const std::vector<Scenario> all = Scenarios();
  for (const std::string& name : absl::GetFlag(FLAGS_scenarios)) {
    auto it =
        std::find_if(all.begin(), all.end(), [&](const Scenario& s) { return s.name == name; });
    if (it == all.end()) {
      std::vector<std::string> names;
      for (const Scenario& s : all) names.push_back(s.name);
      return absl::InvalidArgumentError(
          absl::StrCat("--scenarios: unknown \"", name, "\"; known: ", absl::StrJoin(names, ", ")));
    }
    chosen.push_back(*it);
  }

  BenchContext ctx;
  ctx.guest = absl::GetFlag(FLAGS_guest);
  if (ctx.guest.empty()) ctx.guest = DefaultHelloGuest();
  if (access(ctx.guest.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("--guest: ", ctx.guest, " is not an executable"));
  }
  std::unique_ptr<ServerChild> child;
  ctx.address = absl::GetFlag(FLAGS_server);
  if (ctx.address.empty()) {
    std::string binary = absl::GetFlag(FLAGS_zerocelld);
    if (binary.empty()) binary = BuildDir() + "/bin/zerocelld";
    ASSIGN_OR_RETURN(child,
                     ServerChild::Start(binary, *std::max_element(levels.begin(), levels.end())));
    ctx.address = child->address();
  }
  std::unique_ptr<v1::Sandbox::Stub> stub =
      v1::Sandbox::NewStub(grpc::CreateChannel(ctx.address, grpc::InsecureChannelCredentials()));
  ctx.stub = stub.get();

  std::vector<Result> results;
  for (const Scenario& scenario : chosen) {
    for (int clients : levels) {
      ASSIGN_OR_RETURN(std::unique_ptr<Workload> execute, scenario.execute(ctx, clients));
      ASSIGN_OR_RETURN(std::unique_ptr<Workload> bare, scenario.baseline(ctx, clients));
      RETURN_IF_ERROR(Drive(*execute, clients, absl::ZeroDuration(), warmup, nullptr));
      RETURN_IF_ERROR(Drive(*bare, clients, absl::ZeroDuration(), warmup, nullptr));
      execute->Reset();
      Sample e, b;
      for (int r = 0; r < rounds; ++r) {
        for (const bool exec_turn : AlternatingTurns(r)) {
          RETURN_IF_ERROR(Drive(exec_turn ? *execute : *bare, clients, duration / rounds, 0,
                                exec_turn ? &e : &b));
        }
      }
      results.push_back({scenario.name, clients, SummarizeSample(std::move(e)),
                         SummarizeSample(std::move(b)), execute->Breakdown()});
    }
  }

  const unsigned cores = std::thread::hardware_concurrency();
  if (absl::GetFlag(FLAGS_json)) {
    std::vector<std::string> items;
    for (const Result& r : results) {
      std::vector<std::string> parts;
      for (const auto& [name, us] : r.breakdown) {
        parts.push_back(absl::StrFormat("\"%s\":%.1f", name, us));
      }
      items.push_back(absl::StrFormat(
          "{\"scenario\":\"%s\",\"clients\":%d,\"execute\":%s,"
          "\"execute_server_mean\":{%s},\"bare\":%s,"
          "\"ratio\":{\"p50\":%.3f,\"p99\":%.3f,\"throughput\":%.4f}}",
          r.scenario, r.clients, StatsJson(r.execute), absl::StrJoin(parts, ","), StatsJson(r.bare),
          r.execute.p50_us / r.bare.p50_us, r.execute.p99_us / r.bare.p99_us,
          r.execute.per_second / r.bare.per_second));
    }
    std::printf(
        "{\"bench\":\"zerocell-bench\",\"server\":\"%s\",\"guest\":\"%s\",\"cores\":%u,"
        "\"duration_s\":%.3f,\"rounds\":%d,\"warmup\":%d,\"results\":[%s]}\n",
        child ? "started" : ctx.address.c_str(), ctx.guest.c_str(), cores,
        absl::ToDoubleSeconds(duration), rounds, warmup, absl::StrJoin(items, ",").c_str());
    return absl::OkStatus();
  }
  std::printf("zerocell-bench: guest %s, zerocelld %s (%s), %u cores\n", ctx.guest.c_str(),
              ctx.address.c_str(), child ? "started here" : "external", cores);
  std::printf("%s per side and level in %d alternating rounds, after %d warm-up runs per client\n",
              absl::FormatDuration(duration).c_str(), rounds, warmup);
  for (const Scenario& s : chosen) {
    std::printf("  scenario %s: %s\n", s.name.c_str(), s.description.c_str());
  }
  std::printf("%-10s %7s %-13s %8s %10s %10s %10s %10s\n", "scenario", "clients", "side", "runs",
              "p50_us", "p99_us", "mean_us", "runs/s");
  for (const Result& r : results) {
    for (const auto& [side, s] : {std::pair{"execute", r.execute}, std::pair{"bare", r.bare}}) {
      std::printf("%-10s %7d %-13s %8lld %10.1f %10.1f %10.1f %10.1f\n", r.scenario.c_str(),
                  r.clients, side, static_cast<long long>(s.count), s.p50_us, s.p99_us, s.mean_us,
                  s.per_second);
    }
    std::printf("%-10s %7d %-13s %8s %10.2f %10.2f %10.2f %10.3f\n", r.scenario.c_str(), r.clients,
                "execute/bare", "", r.execute.p50_us / r.bare.p50_us,
                r.execute.p99_us / r.bare.p99_us, r.execute.mean_us / r.bare.mean_us,
                r.execute.per_second / r.bare.per_second);
  }
  for (const Result& r : results) {
    std::vector<std::string> parts;
    for (const auto& [name, us] : r.breakdown)
      parts.push_back(absl::StrFormat("%s %.1f", name, us));
    std::printf("%s, %d client(s), execute as the server measured it (mean): %s\n",
                r.scenario.c_str(), r.clients, absl::StrJoin(parts, ", ").c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-bench", kUsage, zerocell::bench::Main);
}
