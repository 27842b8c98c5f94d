// zerocelld assembled: metrics, image cache, engine, warm pool, worker pool and the gRPC server.
#ifndef ZEROCELL_SERVER_SERVER_H_
#define ZEROCELL_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "image/image_cache.h"
#include "sandbox/engine.h"
#include "sandbox/pool/warm_pool.h"
#include "server/client_identity.h"
#include "server/image_namespaces.h"
#include "server/json_log.h"
#include "server/memory_trimmer.h"
#include "server/metrics.h"
#include "server/request_budget.h"
#include "server/request_caps.h"
#include "server/sandbox_service.h"
#include "server/tls.h"
#include "server/worker_pool.h"

namespace zerocell::server {

// The HTTP/2 flow-control window of each call (gRPC's bandwidth probe is off): what the transport
// buffers for a stream before its handler reads, on top of the handler's own window.
inline constexpr int kHttp2StreamWindowBytes = 1 << 20;

// One field per component; each component validates its own part.
struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0: a free port
  std::string metrics_listen;              // empty: no /metrics endpoint
  int max_message_bytes = 160 << 20;       // both directions
  TlsFiles tls;
  PoolOptions pool;  // on_change is set by the server
  RequestCaps caps;
  image::CacheOptions cache;  // observer is set by the server
  sandbox::EngineOptions engine;
  bool warm_pool_enabled = true;
  sandbox::pool::WarmPoolOptions warm_pool;
  // Memory for requests in flight (issue 14, finding 3; SplitRequestMemory of
  // --max_request_memory_bytes): the size of gRPC's resource quota, which bounds the bytes its
  // transport holds for messages still arriving, and the RequestBudget charged by calls from
  // receipt to their answer. 0: unbounded (tests of other things).
  int64_t transport_memory_bytes = 0;
  int64_t call_memory_bytes = 0;
  // HTTP/2 streams one connection may have open at once (gRPC's MAX_CONCURRENT_STREAMS).
  int max_concurrent_streams = 256;
  NamespaceMode image_namespace;  // per-client image namespaces (finding 7); off by default
  // With namespaces: the cache bytes each namespace's images may be charged (ImageNamespaces).
  uint64_t image_namespace_max_bytes = uint64_t{1} << 28;
};

class ZerocellServer {
 public:
  // Binds both listeners and starts serving. `log` outlives the server.
  static absl::StatusOr<std::unique_ptr<ZerocellServer>> Start(ServerOptions options, JsonLog* log);
  // Shutdown(absl::ZeroDuration()) if not done yet.
  ~ZerocellServer();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_->port(); }
  const image::ImageCache& cache() const { return *cache_; }

  // Stops accepting calls (health turns NOT_SERVING, new calls fail UNAVAILABLE), lets running
  // and queued calls finish until `grace` has passed, then cancels the rest (their sandboxes are
  // killed and reaped), joins every worker, and kills and reaps every parked sandbox.
  // Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  ZerocellServer() = default;

  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<MemoryTrimmer> trimmer_;
  std::unique_ptr<image::ImageCache> cache_;
  std::unique_ptr<sandbox::Engine> engine_;
  // Parked sandboxes are children of its thread: it goes after the workers have stopped.
  std::unique_ptr<sandbox::pool::WarmPool> warm_pool_;
  std::unique_ptr<RequestBudget> budget_;
  std::unique_ptr<ImageNamespaces> namespaces_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<SandboxService> service_;
  std::unique_ptr<grpc::Server> server_;
  int grpc_port_ = 0;
  bool stopped_ = false;
};

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_SERVER_H_
