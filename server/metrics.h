// Prometheus metrics of zerocelld: executions, latencies, admission, quotas, image cache, RPCs.
#ifndef ZEROCELL_SERVER_METRICS_H_
#define ZEROCELL_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "image/image_cache.h"
#include "sandbox/pool/warm_pool.h"
#include "zerocell/v1/sandbox.pb.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace zerocell::server {

// Phases of one Execute, as the server measured them.
struct ExecutionTimings {
  absl::Duration queue_wait = absl::ZeroDuration();  // request accepted -> worker slot
  absl::Duration startup = absl::ZeroDuration();     // spawn -> guest's first instruction
  absl::Duration run = absl::ZeroDuration();         // spawn -> reap (Usage.wall_ns)
  absl::Duration total = absl::ZeroDuration();       // request received -> response ready
};

// Families exported (every label value comes from a fixed, small set):
//   zerocell_executions_total{outcome}            outcome: exited, signaled, timeout, cpu_limit,
//                                                 memory_limit, output_limit, policy_violation
//   zerocell_execute_queue_wait_seconds           histogram
//   zerocell_execute_startup_seconds              histogram (spawn -> first guest instruction)
//   zerocell_execute_run_seconds                  histogram (spawn -> reap)
//   zerocell_execute_duration_seconds             histogram (request -> response)
//   zerocell_guest_cpu_seconds_total              user + system CPU of all sandboxes
//   zerocell_executions_in_flight, zerocell_queue_depth                                 gauges
//   zerocell_quota_exceeded_total{kind}           kind: get, put, output, memory, cpu, timeout;
//                                                 executions that hit it (once per run and kind)
//   zerocell_policy_violations_total{syscall}     syscall name; "other" beyond the bound below
//   zerocell_image_cache_hits_total, _misses_total, _evictions_total, _evicted_bytes_total
//   zerocell_image_cache_bytes, zerocell_image_cache_images                             gauges
//   zerocell_image_store_errors_total             failed writes/removals in the persist dir
//   zerocell_image_validations_total{result}      result: accepted, rejected
//   zerocell_image_validation_seconds             histogram
//   zerocell_pool_starts_total{kind}              kind: warm (a parked sandbox), cold
//   zerocell_pool_parked                          gauge: sandboxes parked now
//   zerocell_pool_prestart_seconds                histogram: spawn + park of one sandbox
//   zerocell_pool_retired_total{reason}           idle, surplus, cap, died, image_gone, other
//   zerocell_pool_prestart_errors_total
//   zerocell_requests_total{method,code}          every finished RPC
//   zerocell_rejected_requests_total{method,code} RPCs that ended with a non-OK status
//   zerocell_host_capability{capability}          gauge: 1/0 per host probe finding (their fixed
//                                                 names, see zerocell.v1.HostCapability)
//   zerocell_build_info{version,commit}           gauge: always 1
// method: RegisterImage, Execute, GetImage, ListImages, GetServerInfo, or "other"; code: the gRPC
// status code
// name ("OK", "INVALID_ARGUMENT", ...).
//
// Thread-safe. Recording never fails and never blocks on a scrape for long.
class Metrics {
 public:
  // Distinct syscall label values kept; later new names are counted as "other". Why: a label
  // set must stay bounded however many different violations hostile guests produce.
  static constexpr int kMaxSyscallLabels = 128;

  // listen_address empty: no HTTP endpoint (metrics are still recorded and Serialize() works).
  // Otherwise "host:port" (IPv4 address or name; Debian's civetweb refuses IPv6 literals); port
  // 0 picks a free port, see port(). The endpoint serves GET /metrics in the Prometheus text
  // format. INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be bound.
  // Destruction stops the endpoint promptly (no wait for the HTTP library's 2 s poll).
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(const std::string& listen_address);
  ~Metrics();

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The bound TCP port; 0 without an endpoint.
  int port() const { return port_; }

  // One finished execution (any outcome).
  void ExecutionDone(const zerocell::v1::ExecuteResponse& r, const ExecutionTimings& t);

  // Every finished RPC; a non-OK grpc_code (grpc::StatusCode value) also counts as rejected.
  // `method` is the bare name ("Execute") or the full path ("/zerocell.v1.Sandbox/Execute").
  void RequestFinished(std::string_view method, int grpc_code);

  // The host probe's findings and the build, once at start.
  void SetServerInfo(const zerocell::v1::ServerInfo& info);

  // A sandbox start outside the warm pool (it is off: every start is cold).
  void ColdStart();
  void SetInFlight(int64_t n);
  void SetQueueDepth(int64_t n);

  // Callbacks feeding the image cache families. They keep the recording state alive on their
  // own, so the cache may outlive this object.
  image::CacheObserver CacheObserver();
  // Callbacks feeding the zerocell_pool_* families; same lifetime rule.
  sandbox::pool::WarmPoolObserver PoolObserver();

  // Everything, in the Prometheus text exposition format (as served at /metrics).
  std::string Serialize() const;

  // Internal recording state; public only so that observers can share it.
  struct State;

 private:
  Metrics(std::shared_ptr<State> state, std::unique_ptr<prometheus::Exposer> exposer,
          std::string host, int port);

  std::shared_ptr<State> state_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // stopped first in the destructor
  std::string host_;                              // as bound, without IPv6 brackets
  int port_ = 0;
};

// Label helpers, exposed for tests.
// "exited", "policy_violation", ... ("unknown" for values outside the enum).
std::string OutcomeLabel(zerocell::v1::Outcome outcome);
// "OK", "INVALID_ARGUMENT", ... ("UNKNOWN" outside 0..16).
std::string_view GrpcCodeLabel(int grpc_code);
// Sandbox method name, or "other".
std::string_view MethodLabel(std::string_view method);
// The syscall name when it looks like one the engine reports ("socket", "i386:write",
// "x32:read"); "other" for anything else (unknown numbers, odd characters, over 40 bytes).
std::string SyscallLabel(std::string_view syscall);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_METRICS_H_
