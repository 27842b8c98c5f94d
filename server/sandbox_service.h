// zerocell.v1.Sandbox on the gRPC callback API: admission, image cache, engine runs.
#ifndef ZEROCELL_SERVER_SANDBOX_SERVICE_H_
#define ZEROCELL_SERVER_SANDBOX_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>

#include "image/image_cache.h"
#include "sandbox/engine.h"
#include "sandbox/pool/warm_pool.h"
#include "server/client_identity.h"
#include "server/image_namespaces.h"
#include "server/json_log.h"
#include "server/memory_trimmer.h"
#include "server/metrics.h"
#include "server/pooled_call.h"
#include "server/request_budget.h"
#include "server/request_caps.h"
#include "server/worker_pool.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server {

// What the service uses; all outlive it.
struct ServiceDeps {
  const sandbox::Engine* engine = nullptr;
  sandbox::pool::WarmPool* warm_pool = nullptr;  // null: every run is a cold start
  image::ImageCache* cache = nullptr;
  WorkerPool* pool = nullptr;
  Metrics* metrics = nullptr;
  JsonLog* log = nullptr;
  RequestCaps caps;
  MemoryTrimmer* trimmer = nullptr;  // optional
  zerocell::v1::ServerInfo info;     // what GetServerInfo answers
  // Memory for requests in flight (charged before a call is queued); null: unbounded.
  RequestBudget* budget = nullptr;
  // Per-client image namespaces; `namespaces` is set exactly when the mode is enabled.
  NamespaceMode namespace_mode;
  ImageNamespaces* namespaces = nullptr;
  // The gRPC message limit: ListImages ends a page early rather than exceed it.
  int64_t max_message_bytes = int64_t{160} << 20;
};

// Execute and RegisterImage run on the worker pool (never on a gRPC thread); GetImage and
// ListImages answer from the cache index directly. Each call carries a request id: the client's
// "x-request-id" metadata when it is sane, else a fresh one; it is echoed in the initial metadata
// and on every log line about the call.
class SandboxService final : public zerocell::v1::Sandbox::CallbackService {
 public:
  explicit SandboxService(ServiceDeps deps) : deps_(std::move(deps)) {}

  // Execute and RegisterImage calls that gRPC has not finished with yet (queued, running, or
  // still sending their answer), and the draining flag.
  CallCounters& calls() { return calls_; }

  grpc::ServerUnaryReactor* RegisterImage(grpc::CallbackServerContext* context,
                                          const zerocell::v1::RegisterImageRequest* request,
                                          zerocell::v1::RegisterImageResponse* response) override;
  grpc::ServerUnaryReactor* Execute(grpc::CallbackServerContext* context,
                                    const zerocell::v1::ExecuteRequest* request,
                                    zerocell::v1::ExecuteResponse* response) override;
  // See execute_batch.h.
  grpc::ServerWriteReactor<zerocell::v1::ExecuteBatchResult>* ExecuteBatch(
      grpc::CallbackServerContext* context,
      const zerocell::v1::ExecuteBatchRequest* request) override;
  // See execute_stream.h.
  grpc::ServerBidiReactor<zerocell::v1::StreamRequest, zerocell::v1::StreamResponse>* ExecuteStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetImage(grpc::CallbackServerContext* context,
                                     const zerocell::v1::GetImageRequest* request,
                                     zerocell::v1::Image* response) override;
  grpc::ServerUnaryReactor* ListImages(grpc::CallbackServerContext* context,
                                       const zerocell::v1::ListImagesRequest* request,
                                       zerocell::v1::ListImagesResponse* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const zerocell::v1::GetServerInfoRequest* request,
                                          zerocell::v1::ServerInfo* response) override;

 private:
  // Request id for `context` (see the class comment), added to its initial metadata.
  std::string RequestIdFor(grpc::CallbackServerContext* context) const;
  // Metrics and the request's final log line.
  void Finished(std::string_view method, const std::string& request_id, absl::Time start,
                const grpc::Status& status) const;
  // A reactor that finishes at once with `status`.
  grpc::ServerUnaryReactor* FinishNow(std::string_view method, const std::string& request_id,
                                      absl::Time start, const grpc::Status& status);

  // `ns`: the caller's image namespace ("" when namespaces are off).
  grpc::Status RunExecute(const zerocell::v1::ExecuteRequest& request,
                          zerocell::v1::ExecuteResponse* response, const std::string& request_id,
                          const std::string& ns, const sandbox::CancelToken& cancel,
                          absl::Duration queue_wait, absl::Time start) const;
  grpc::Status RunRegister(const zerocell::v1::RegisterImageRequest& request,
                           zerocell::v1::RegisterImageResponse* response,
                           const std::string& ns) const;
  // The cached image `id` as `ns` sees it; NOT_FOUND (never revealing other namespaces' images)
  // when it is not visible there.
  // with_tree_elves: a tree's admitted ELFs with their reports (not in ListImages pages).
  absl::StatusOr<zerocell::v1::Image> DescribeImage(const std::string& ns, const std::string& id,
                                                    bool with_tree_elves = true) const;

  // UNAVAILABLE for Execute/RegisterImage calls that arrive once draining is set.
  static absl::Status DrainingStatus();
  static grpc::Status Draining();

  const ServiceDeps deps_;
  CallCounters calls_;
};

// The proto form of a cached image.
// with_tree_elves: a tree's every admitted ELF with its report (GetImage, RegisterImage).
zerocell::v1::Image ImageInfoToProto(const image::ImageInfo& info, bool with_tree_elves = false);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_SANDBOX_SERVICE_H_
