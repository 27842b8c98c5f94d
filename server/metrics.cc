// Prometheus metrics of zerocelld: families, bounded labels, the HTTP endpoint.
#include "server/metrics.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cctype>
#include <exception>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace zerocell::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr std::array<std::string_view, 7> kMethods = {"RegisterImage", "Execute",  "ExecuteBatch",
                                                      "ExecuteStream", "GetImage", "ListImages",
                                                      "GetServerInfo"};
constexpr std::array<std::string_view, 17> kGrpcCodes = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};
// WarmPoolObserver::on_retire's reasons; anything else is counted as "other".
constexpr std::array<const char*, 6> kRetireReasons = {"idle", "surplus",    "cap",
                                                       "died", "image_gone", "other"};

constexpr std::array<std::string_view, 6> kQuotaKinds = {"get",    "put", "output",
                                                         "memory", "cpu", "timeout"};

// 100 us .. 60 s, roughly 1-2.5-5 per decade: spawn latencies sit at the low end, guest runs
// and queue waits anywhere up to the 60 s a typical timeout allows.
Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

// One TCP connect to host:port, closed at once. Wildcard hosts are reached over loopback.
void PokeListener(const std::string& host, int port) {
  std::string target = host;
  if (target.empty() || target == "0.0.0.0") target = "127.0.0.1";
  if (target == "::") target = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(target.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(found);
}

double Seconds(absl::Duration d) {
  return absl::ToDoubleSeconds(std::max(d, absl::ZeroDuration()));
}

}  // namespace

struct Metrics::State {
  State()
      : registry(std::make_shared<prometheus::Registry>()),
        executions(BuildCounter()
                       .Name("zerocell_executions_total")
                       .Help("Finished executions by outcome.")
                       .Register(*registry)),
        queue_wait(BuildHistogram()
                       .Name("zerocell_execute_queue_wait_seconds")
                       .Help("Time an Execute waited in the admission queue.")
                       .Register(*registry)
                       .Add({}, LatencyBuckets())),
        startup(BuildHistogram()
                    .Name("zerocell_execute_startup_seconds")
                    .Help("Sandbox start: spawn to the guest's first instruction.")
                    .Register(*registry)
                    .Add({}, LatencyBuckets())),
        run(BuildHistogram()
                .Name("zerocell_execute_run_seconds")
                .Help("Sandbox run: spawn to reap.")
                .Register(*registry)
                .Add({}, LatencyBuckets())),
        total(BuildHistogram()
                  .Name("zerocell_execute_duration_seconds")
                  .Help("Whole Execute: request received to response ready.")
                  .Register(*registry)
                  .Add({}, LatencyBuckets())),
        guest_cpu(BuildCounter()
                      .Name("zerocell_guest_cpu_seconds_total")
                      .Help("User plus system CPU time used by sandboxed guests.")
                      .Register(*registry)
                      .Add({})),
        in_flight(BuildGauge()
                      .Name("zerocell_executions_in_flight")
                      .Help("Execute and RegisterImage calls a worker is running now.")
                      .Register(*registry)
                      .Add({})),
        queue_depth(BuildGauge()
                        .Name("zerocell_queue_depth")
                        .Help("Execute and RegisterImage calls waiting for a worker now.")
                        .Register(*registry)
                        .Add({})),
        quota(BuildCounter()
                  .Name("zerocell_quota_exceeded_total")
                  .Help("Executions that hit a quota, by kind (once per execution and kind).")
                  .Register(*registry)),
        violations(BuildCounter()
                       .Name("zerocell_policy_violations_total")
                       .Help("Executions ended by a policy violation, by syscall.")
                       .Register(*registry)),
        cache_hits(BuildCounter()
                       .Name("zerocell_image_cache_hits_total")
                       .Help("Image lookups and registrations served from the cache.")
                       .Register(*registry)
                       .Add({})),
        cache_misses(BuildCounter()
                         .Name("zerocell_image_cache_misses_total")
                         .Help("Image lookups and registrations not in the cache.")
                         .Register(*registry)
                         .Add({})),
        cache_evictions(BuildCounter()
                            .Name("zerocell_image_cache_evictions_total")
                            .Help("Images evicted from the cache.")
                            .Register(*registry)
                            .Add({})),
        cache_evicted_bytes(BuildCounter()
                                .Name("zerocell_image_cache_evicted_bytes_total")
                                .Help("Bytes of images evicted from the cache.")
                                .Register(*registry)
                                .Add({})),
        store_errors(BuildCounter()
                         .Name("zerocell_image_store_errors_total")
                         .Help("Failed writes or removals of persisted images (--image_dir).")
                         .Register(*registry)
                         .Add({})),
        cache_bytes(BuildGauge()
                        .Name("zerocell_image_cache_bytes")
                        .Help("Bytes of images in the cache.")
                        .Register(*registry)
                        .Add({})),
        cache_images(BuildGauge()
                         .Name("zerocell_image_cache_images")
                         .Help("Images in the cache.")
                         .Register(*registry)
                         .Add({})),
        validations(BuildCounter()
                        .Name("zerocell_image_validations_total")
                        .Help("Image validations run, by result.")
                        .Register(*registry)),
        validation_time(BuildHistogram()
                            .Name("zerocell_image_validation_seconds")
                            .Help("Time one image validation took.")
                            .Register(*registry)
                            .Add({}, LatencyBuckets())),
        requests(BuildCounter()
                     .Name("zerocell_requests_total")
                     .Help("Finished RPCs by method and gRPC status code.")
                     .Register(*registry)),
        rejected(BuildCounter()
                     .Name("zerocell_rejected_requests_total")
                     .Help("RPCs that ended with a non-OK status, by method and code.")
                     .Register(*registry)),
        pool_starts(BuildCounter()
                        .Name("zerocell_pool_starts_total")
                        .Help("Sandbox starts by kind: warm (a parked sandbox) or cold.")
                        .Register(*registry)),
        pool_parked(BuildGauge()
                        .Name("zerocell_pool_parked")
                        .Help("Sandboxes parked in the loader, ready for a request.")
                        .Register(*registry)
                        .Add({})),
        pool_prestart_time(BuildHistogram()
                               .Name("zerocell_pool_prestart_seconds")
                               .Help("Time to spawn and park one sandbox of the warm pool.")
                               .Register(*registry)
                               .Add({}, LatencyBuckets())),
        pool_retired(BuildCounter()
                         .Name("zerocell_pool_retired_total")
                         .Help("Parked sandboxes retired, by reason.")
                         .Register(*registry)),
        pool_prestart_errors(BuildCounter()
                                 .Name("zerocell_pool_prestart_errors_total")
                                 .Help("Failed prestarts (the request runs cold instead).")
                                 .Register(*registry)
                                 .Add({})),
        host_capability(BuildGauge()
                            .Name("zerocell_host_capability")
                            .Help("1 when the host probe found this capability or guarantee, "
                                  "else 0 (GetServerInfo and zerocell doctor say what it means).")
                            .Register(*registry)),
        build_info(BuildGauge()
                       .Name("zerocell_build_info")
                       .Help("Always 1; the labels name the version and commit serving.")
                       .Register(*registry)) {
    // Pre-create the fixed series so that they read 0 before the first event (rate() and
    // alerts then see a series from the start).
    for (int o = v1::Outcome_MIN + 1; o <= v1::Outcome_MAX; ++o) {
      executions.Add({{"outcome", OutcomeLabel(static_cast<v1::Outcome>(o))}});
    }
    for (std::string_view kind : kQuotaKinds) quota.Add({{"kind", std::string(kind)}});
    validations.Add({{"result", "accepted"}});
    validations.Add({{"result", "rejected"}});
    pool_starts.Add({{"kind", "warm"}});
    pool_starts.Add({{"kind", "cold"}});
    for (const char* reason : kRetireReasons) pool_retired.Add({{"reason", reason}});
  }

  Counter& Violation(std::string_view syscall) {
    std::string label = SyscallLabel(syscall);
    if (label != "other") {
      absl::MutexLock lock(&mu);
      if (!syscall_labels.contains(label)) {
        if (syscall_labels.size() >= static_cast<size_t>(kMaxSyscallLabels)) {
          label = "other";
        } else {
          syscall_labels.insert(label);
        }
      }
    }
    return violations.Add({{"syscall", label}});
  }

  std::shared_ptr<prometheus::Registry> registry;
  Family<Counter>& executions;
  Histogram& queue_wait;
  Histogram& startup;
  Histogram& run;
  Histogram& total;
  Counter& guest_cpu;
  Gauge& in_flight;
  Gauge& queue_depth;
  Family<Counter>& quota;
  Family<Counter>& violations;
  Counter& cache_hits;
  Counter& cache_misses;
  Counter& cache_evictions;
  Counter& cache_evicted_bytes;
  Counter& store_errors;
  Gauge& cache_bytes;
  Gauge& cache_images;
  Family<Counter>& validations;
  Histogram& validation_time;
  Family<Counter>& requests;
  Family<Counter>& rejected;
  Family<Counter>& pool_starts;
  Gauge& pool_parked;
  Histogram& pool_prestart_time;
  Family<Counter>& pool_retired;
  Counter& pool_prestart_errors;
  Family<Gauge>& host_capability;
  Family<Gauge>& build_info;

  absl::Mutex mu;
  absl::flat_hash_set<std::string> syscall_labels ABSL_GUARDED_BY(mu);
};

std::string OutcomeLabel(v1::Outcome outcome) {
  const std::string& name = v1::Outcome_Name(outcome);
  if (!v1::Outcome_IsValid(outcome) || !std::string_view(name).starts_with("OUTCOME_"))
    return "unknown";
  return absl::AsciiStrToLower(name.substr(8));
}

std::string_view GrpcCodeLabel(int grpc_code) {
  if (grpc_code < 0 || grpc_code >= static_cast<int>(kGrpcCodes.size())) return "UNKNOWN";
  return kGrpcCodes[static_cast<size_t>(grpc_code)];
}

std::string_view MethodLabel(std::string_view method) {
  if (size_t slash = method.rfind('/'); slash != std::string_view::npos) {
    // Only this service's methods: "/grpc.health.v1.Health/Check" is not "Check" of ours.
    if (method.substr(0, slash) != "/zerocell.v1.Sandbox") return "other";
    method = method.substr(slash + 1);
  }
  for (std::string_view known : kMethods) {
    if (method == known) return known;
  }
  return "other";
}

std::string SyscallLabel(std::string_view syscall) {
  std::string_view name = syscall;
  for (std::string_view prefix : {"i386:", "x32:"}) {
    if (name.starts_with(prefix)) {
      name = name.substr(prefix.size());
      break;
    }
  }
  // "syscall_<nr>" is how the engine names numbers it cannot resolve: unbounded, so "other".
  if (name.empty() || syscall.size() > 40 || name.starts_with("syscall_") ||
      !absl::ascii_islower(static_cast<unsigned char>(name[0]))) {
    return "other";
  }
  for (char c : name) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return "other";
    }
  }
  return std::string(syscall);
}

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(const std::string& listen_address) {
  auto state = std::make_shared<State>();
  if (listen_address.empty()) {
    return std::unique_ptr<Metrics>(new Metrics(std::move(state), nullptr, "", 0));
  }
  const size_t colon = listen_address.rfind(':');
  int requested_port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(listen_address).substr(colon + 1), &requested_port) ||
      requested_port < 0 || requested_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics listen address \"", listen_address,
                                                   "\": expected host:port (port 0..65535)"));
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // Two threads: a scrape never waits for another, and the endpoint stays cheap.
    exposer = std::make_unique<prometheus::Exposer>(listen_address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint ", listen_address, " cannot be bound: ", e.what()));
  }
  exposer->RegisterCollectable(state->registry);
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint ", listen_address, ": no listening port"));
  }
  const int port = ports.front();
  std::string host = listen_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::unique_ptr<Metrics>(
      new Metrics(std::move(state), std::move(exposer), std::move(host), port));
}

Metrics::Metrics(std::shared_ptr<State> state, std::unique_ptr<prometheus::Exposer> exposer,
                 std::string host, int port)
    : state_(std::move(state)), exposer_(std::move(exposer)), host_(std::move(host)), port_(port) {}

Metrics::~Metrics() {
  if (exposer_ == nullptr) return;
  // Why: civetweb's listener thread notices the stop request only when its poll() returns,
  // which without traffic takes up to 2 s; a connection attempt wakes it, so shutdown does not
  // stall on the metrics endpoint.
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    while (!stopped.load()) {
      PokeListener(host_, port_);
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  exposer_.reset();
  stopped.store(true);
  waker.join();
}

void Metrics::ExecutionDone(const v1::ExecuteResponse& r, const ExecutionTimings& t) {
  State& s = *state_;
  s.executions.Add({{"outcome", OutcomeLabel(r.outcome())}}).Increment();
  s.queue_wait.Observe(Seconds(t.queue_wait));
  s.startup.Observe(Seconds(t.startup));
  s.run.Observe(Seconds(t.run));
  s.total.Observe(Seconds(t.total));
  const int64_t cpu_ns = r.usage().user_cpu_ns() + r.usage().system_cpu_ns();
  if (cpu_ns > 0) s.guest_cpu.Increment(static_cast<double>(cpu_ns) / 1e9);

  bool get = false, put = false;
  for (const v1::ChannelResult& c : r.channels()) {
    get |= c.get_quota_exceeded();
    put |= c.put_quota_exceeded();
  }
  const char* limit = nullptr;
  switch (r.outcome()) {
    case v1::OUTCOME_TIMEOUT:
      limit = "timeout";
      break;
    case v1::OUTCOME_CPU_LIMIT:
      limit = "cpu";
      break;
    case v1::OUTCOME_MEMORY_LIMIT:
      limit = "memory";
      break;
    case v1::OUTCOME_OUTPUT_LIMIT:
      limit = "output";
      break;
    case v1::OUTCOME_POLICY_VIOLATION:
      s.Violation(r.violation().syscall()).Increment();
      break;
    default:
      break;
  }
  if (limit != nullptr) s.quota.Add({{"kind", limit}}).Increment();
  if (get) s.quota.Add({{"kind", "get"}}).Increment();
  if (put) s.quota.Add({{"kind", "put"}}).Increment();
}

void Metrics::SetServerInfo(const v1::ServerInfo& info) {
  // Label values come from the probe's fixed list of finding names and from the build.
  for (const v1::HostCapability& c : info.host().capabilities()) {
    state_->host_capability.Add({{"capability", c.name()}}).Set(c.ok() ? 1 : 0);
  }
  state_->build_info.Add({{"version", info.version()}, {"commit", info.commit()}}).Set(1);
}

void Metrics::RequestFinished(std::string_view method, int grpc_code) {
  const prometheus::Labels labels = {{"method", std::string(MethodLabel(method))},
                                     {"code", std::string(GrpcCodeLabel(grpc_code))}};
  state_->requests.Add(labels).Increment();
  if (grpc_code != 0) state_->rejected.Add(labels).Increment();
}

void Metrics::SetInFlight(int64_t n) { state_->in_flight.Set(static_cast<double>(n)); }

void Metrics::SetQueueDepth(int64_t n) { state_->queue_depth.Set(static_cast<double>(n)); }

image::CacheObserver Metrics::CacheObserver() {
  std::shared_ptr<State> s = state_;
  image::CacheObserver o;
  o.on_hit = [s] { s->cache_hits.Increment(); };
  o.on_miss = [s] { s->cache_misses.Increment(); };
  o.on_evict = [s](uint64_t bytes) {
    s->cache_evictions.Increment();
    s->cache_evicted_bytes.Increment(static_cast<double>(bytes));
  };
  o.on_size = [s](uint64_t bytes, int64_t images) {
    s->cache_bytes.Set(static_cast<double>(bytes));
    s->cache_images.Set(static_cast<double>(images));
  };
  o.on_store_error = [s](const absl::Status&) { s->store_errors.Increment(); };
  o.on_validated = [s](const image::Validation& v) {
    s->validations.Add({{"result", v.status.ok() ? "accepted" : "rejected"}}).Increment();
    s->validation_time.Observe(static_cast<double>(std::max<int64_t>(v.report.validation_ns, 0)) /
                               1e9);
  };
  return o;
}

void Metrics::ColdStart() { state_->pool_starts.Add({{"kind", "cold"}}).Increment(); }

sandbox::pool::WarmPoolObserver Metrics::PoolObserver() {
  std::shared_ptr<State> s = state_;
  sandbox::pool::WarmPoolObserver o;
  o.on_run = [s](bool warm) { s->pool_starts.Add({{"kind", warm ? "warm" : "cold"}}).Increment(); };
  o.on_parked = [s](int64_t parked) { s->pool_parked.Set(static_cast<double>(parked)); };
  o.on_prestart = [s](absl::Duration d) {
    s->pool_prestart_time.Observe(absl::ToDoubleSeconds(d));
  };
  o.on_retire = [s](const char* reason) {
    const char* label = "other";
    for (const char* known : kRetireReasons) {
      if (std::string_view(known) == reason) label = known;
    }
    s->pool_retired.Add({{"reason", label}}).Increment();
  };
  o.on_prestart_error = [s](const absl::Status&) { s->pool_prestart_errors.Increment(); };
  return o;
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(state_->registry->Collect());
}

}  // namespace zerocell::server
