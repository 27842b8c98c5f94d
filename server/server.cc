// zerocelld assembled: metrics, image cache, engine, warm pool, worker pool and the gRPC server.
#include "server/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "server/server_info.h"

namespace zerocell::server {
namespace {

constexpr char kServiceName[] = "zerocell.v1.Sandbox";

// One line with every finding, then a warning per guarantee this host does not give, so that an
// operator reading the start-up log learns at once what is weaker here.
void LogHostReport(JsonLog& log, const v1::HostReport& report) {
  LogLine line(log, "info", "host_probe");
  for (const v1::HostCapability& c : report.capabilities()) line.Str(c.name(), c.value());
  line.Emit();
  for (const v1::HostCapability& c : report.capabilities()) {
    if (c.ok()) continue;
    LogLine(log, "warning", "host_capability_missing")
        .Str("capability", c.name())
        .Str("value", c.value())
        .Str("meaning", c.meaning())
        .Emit();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZerocellServer>> ZerocellServer::Start(ServerOptions options,
                                                                      JsonLog* log) {
  std::unique_ptr<ZerocellServer> server(new ZerocellServer());
  ASSIGN_OR_RETURN(server->metrics_, Metrics::Create(options.metrics_listen));
  options.cache.observer = server->metrics_->CacheObserver();
  // A failed write to --image_dir (a full disk, a read-only mount) is logged with its path and
  // errno besides the metric, and fails the registration (ImageCache::Register); only whole
  // files are ever renamed into place, so the directory never holds a partial image.
  const std::string image_dir = options.cache.persist_dir;
  options.cache.observer.on_store_error =
      [log, count = std::move(options.cache.observer.on_store_error)](const absl::Status& error) {
        if (count) count(error);
        LogLine(*log, "error", "image_store_failed")
            .Str("message", std::string(error.message()))
            .Emit();
      };
  ASSIGN_OR_RETURN(server->cache_, image::ImageCache::Create(std::move(options.cache)));
  for (const std::string& warning : server->cache_->preload_warnings()) {
    LogLine(*log, "warning", "image_preload_skipped").Str("reason", warning).Emit();
  }
  ASSIGN_OR_RETURN(server->engine_, sandbox::Engine::Create(options.engine));
  Metrics* metrics = server->metrics_.get();
  v1::ServerInfo info = MakeServerInfo(options, server->engine_->host());
  LogHostReport(*log, info.host());
  metrics->SetServerInfo(info);
  server->trimmer_ = std::make_unique<MemoryTrimmer>();
  if (options.warm_pool_enabled) {
    ASSIGN_OR_RETURN(server->warm_pool_,
                     sandbox::pool::WarmPool::Create(server->engine_.get(), options.warm_pool,
                                                     metrics->PoolObserver()));
  }
  options.pool.on_change = [metrics](int64_t queued, int64_t running) {
    metrics->SetQueueDepth(queued);
    metrics->SetInFlight(running);
  };
  if (options.image_namespace.enabled()) {
    std::vector<std::string> warnings;
    image::ImageCache* cache = server->cache_.get();
    const ChargeOf charge_of = [cache](absl::string_view id) -> uint64_t {
      absl::StatusOr<image::ImageInfo> info = cache->Get(std::string_view(id.data(), id.size()));
      return info.ok() ? image::ImageCache::ChargeFor(info->image->image->size_bytes()) : 0;
    };
    ASSIGN_OR_RETURN(server->namespaces_,
                     ImageNamespaces::Create(image_dir, options.image_namespace_max_bytes,
                                             charge_of, &warnings));
    for (const std::string& warning : warnings) {
      LogLine(*log, "warning", "image_namespace_skipped").Str("reason", warning).Emit();
    }
  }
  if (options.call_memory_bytes > 0) {
    server->budget_ = std::make_unique<RequestBudget>(options.call_memory_bytes);
  }
  server->pool_ = std::make_unique<WorkerPool>(options.pool);
  ServiceDeps deps;
  deps.engine = server->engine_.get();
  deps.warm_pool = server->warm_pool_.get();
  deps.cache = server->cache_.get();
  deps.pool = server->pool_.get();
  deps.metrics = metrics;
  deps.log = log;
  deps.caps = options.caps;
  deps.trimmer = server->trimmer_.get();
  deps.info = std::move(info);
  deps.budget = server->budget_.get();
  deps.namespace_mode = options.image_namespace;
  deps.namespaces = server->namespaces_.get();
  deps.max_message_bytes = options.max_message_bytes;
  server->service_ = std::make_unique<SandboxService>(std::move(deps));

  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   ServerCredentialsFrom(options.tls));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &server->grpc_port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Why: without these, hostile clients make the transport buffer any number of large messages
  // before a handler sees one (finding 3). The quota makes gRPC shrink its flow-control windows,
  // and at last reset streams (RESOURCE_EXHAUSTED at the client), when the bytes it holds for
  // arriving messages reach the quota.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  // A fixed HTTP/2 stream window instead of the one gRPC's bandwidth probe grows: the grown one
  // (many MiB per stream) made a 256 MiB stream hold 95 MiB of arriving data, and freeing it
  // gave fresh pages to fault in for every read. Loopback and LAN throughput stay above 1 GB/s.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2StreamWindowBytes);
  grpc::ResourceQuota quota("zerocelld");
  if (options.transport_memory_bytes > 0) {
    quota.Resize(static_cast<size_t>(options.transport_memory_bytes));
    builder.SetResourceQuota(quota);
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->grpc_port_ == 0) {
    server->pool_->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("--listen: cannot listen on ", options.listen,
                     " (address in use, malformed, or not local to this host)"));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(kServiceName, true);
  health->SetServingStatus("", true);
  return server;
}

ZerocellServer::~ZerocellServer() { Shutdown(absl::ZeroDuration()); }

void ZerocellServer::Shutdown(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  if (server_ != nullptr) {
    // The order matters (no accepted call may be lost): health turns NOT_SERVING and calls that
    // still reach the service are answered UNAVAILABLE (clients retry it elsewhere); gRPC's
    // shutdown then sends GOAWAY at once, so clients stop picking this server, lets accepted calls
    // run until the grace period ends and cancels what is left (OnCancel kills their sandboxes).
    // Why GOAWAY at once rather than listening until idle: under load a server never is, and
    // clients kept choosing one that only answered UNAVAILABLE until their retries ran out.
    service_->calls().draining.store(true);
    server_->GetHealthCheckService()->Shutdown();  // every service reports NOT_SERVING
    const absl::Time deadline = absl::Now() + grace;
    absl::Notification shut_down;
    std::thread shutdown([&] {
      server_->Shutdown(absl::ToChronoTime(deadline));
      shut_down.Notify();
    });
    // gRPC also waits out the grace period for idle client connections. Once every accepted call
    // has been answered there is nothing left worth waiting for. Idle is required twice in a
    // row, so that a call accepted just before the drain has time to be counted.
    int idle_checks = 0;
    while (!shut_down.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
      idle_checks = service_->calls().live.load() == 0 ? idle_checks + 1 : 0;
      if (idle_checks == 2) {
        grpc_server_cancel_all_calls(server_->c_server());
        break;
      }
    }
    shutdown.join();
  }
  if (pool_ != nullptr) pool_->Shutdown();
  if (server_ != nullptr) server_->Wait();
  warm_pool_.reset();  // every worker has returned: no run uses a parked sandbox any more
}

}  // namespace zerocell::server
