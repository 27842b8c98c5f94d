// The steps every execution RPC shares (Execute, ExecuteBatch): manifest, image, run, report.
#ifndef ZEROCELL_SERVER_EXECUTION_H_
#define ZEROCELL_SERVER_EXECUTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "image/image_cache.h"
#include "sandbox/engine.h"
#include "sandbox/manifest/manifest.h"
#include "server/sandbox_service.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server {

// NOT_FOUND for an image id this server does not have, saying what to do about it.
grpc::Status ImageNotFound(std::string_view id);

// The refusal of an image: INVALID_ARGUMENT carries `report` as rich status details.
// tree_path: a refused tree's file the report is about (empty for an ELF image).
grpc::Status RejectedImage(const absl::Status& status, const image::ValidationReport& report,
                           const std::string& tree_path = "");

// The engine manifest of a request manifest, with the server's cap defaults applied (the request's
// manifest, inline data included, is copied only when one applies). INVALID_ARGUMENT names the
// "manifest.*" field.
absl::StatusOr<sandbox::Manifest> ManifestForRun(const RequestCaps& caps,
                                                 const zerocell::v1::Manifest& manifest);

// The cached image a request names: by id (NOT_FOUND with what to do about it), or inline bytes
// validated and cached as RegisterImage would (INVALID_ARGUMENT with the rejection report as rich
// details). Pins the image while the result is held. Runs on a worker (validation is heavy).
// With image namespaces, `ns` is the caller's: an id outside it is NOT_FOUND, and an inline image
// joins it.
grpc::Status AcquireImage(const ServiceDeps& deps, const std::string& ns, bool by_id,
                          const std::string& id_or_bytes,
                          std::shared_ptr<const image::CachedImage>* out);

// Adds the registered `*image` to namespace `ns` (a store failure is logged, not fatal);
// whether it was new there. False when namespaces are off. Images the namespace's bound evicts
// and no other namespace holds are dropped from the cache. When the bound refuses the image
// (RESOURCE_EXHAUSTED, ImageNamespaces::Add), *image is released and dropped from the cache too
// unless another namespace holds it.
absl::StatusOr<bool> AddToNamespace(const ServiceDeps& deps, const std::string& ns,
                                    std::shared_ptr<const image::CachedImage>* image,
                                    const std::string& name);

// Runs `manifest` on `cached` (warm pool when the server has one) and fills *response as Execute
// answers it; records the execution's metrics and its metadata-only log line ("execute", with
// `method` and `batch_index` when >= 0). A non-OK status: the run could not happen.
grpc::Status RunAndReport(const ServiceDeps& deps, const std::string& ns,
                          const image::CachedImage& cached, const sandbox::Manifest& manifest,
                          const sandbox::RunOptions& options, absl::Duration queue_wait,
                          absl::Time start, const std::string& request_id, int64_t request_bytes,
                          int batch_index, zerocell::v1::ExecuteResponse* response);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_EXECUTION_H_
