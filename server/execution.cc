// The steps every execution RPC shares: manifest, image, run, report; see execution.h.
#include "server/execution.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/manifest_proto.h"
#include "api/report_proto.h"
#include "api/result_proto.h"
#include "api/rpc_status.h"
#include "image/image_id.h"
#include "server/json_log.h"
#include "server/request_caps.h"

namespace zerocell::server {

grpc::Status ImageNotFound(std::string_view id) {
  return api::ToGrpcStatus(absl::NotFoundError(
      absl::StrCat("image_id: ", absl::string_view(id.data(), id.size()),
                   " is not cached on this server; send the image inline or call RegisterImage "
                   "first")));
}

grpc::Status RejectedImage(const absl::Status& status, const image::ValidationReport& report,
                           const std::string& tree_path) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return api::ToGrpcStatus(status);
  v1::ValidationReport details = api::ReportToProto(report);
  details.set_tree_path(tree_path);
  return api::ToGrpcStatus(status, details);
}

// A tree is mounted, never run: its programs are named by path (manifest.program_path).
grpc::Status TreeNotAProgram(const std::string& id) {
  return api::ToGrpcStatus(absl::InvalidArgumentError(
      absl::StrCat("image_id: ", id,
                   " is a file tree image, not a program: mount it (manifest.mounts) and name the "
                   "program by its path there (manifest.program_path)")));
}

absl::StatusOr<sandbox::Manifest> ManifestForRun(const RequestCaps& caps,
                                                 const v1::Manifest& manifest) {
  if (NeedsCapDefaults(caps, manifest)) {
    v1::Manifest capped = manifest;
    ApplyCapDefaults(caps, &capped);
    return api::ManifestFromProto(capped);
  }
  return api::ManifestFromProto(manifest);
}

absl::StatusOr<bool> AddToNamespace(const ServiceDeps& deps, const std::string& ns,
                                    std::shared_ptr<const image::CachedImage>* image,
                                    const std::string& name) {
  if (deps.namespaces == nullptr) return false;
  const std::string id = (*image)->id;
  absl::Status stored;
  std::vector<std::string> orphans;
  absl::StatusOr<bool> added =
      deps.namespaces->Add(ns, id, name,
                           (*image)->kind == image::ImageKind::kTree
                               ? image::ImageCache::ChargeForTree(*(*image)->tree)
                               : image::ImageCache::ChargeFor((*image)->image->size_bytes()),
                           absl::ToUnixNanos(absl::Now()), &orphans, &stored);
  if (!stored.ok()) {
    LogLine(*deps.log, "warning", "image_namespace_store_failed")
        .Str("message", std::string(stored.message()))
        .Emit();
  }
  // Why: an image no client can see only takes room that other clients' images need; left in
  // the shared LRU, it would push theirs out before it goes.
  for (const std::string& orphan : orphans) deps.cache->Remove(orphan);
  if (!added.ok()) {
    image->reset();
    if (!deps.namespaces->HeldByAny(id)) deps.cache->Remove(id);
  }
  return added;
}

grpc::Status AcquireImage(const ServiceDeps& deps, const std::string& ns, bool by_id,
                          const std::string& id_or_bytes,
                          std::shared_ptr<const image::CachedImage>* out) {
  if (by_id) {
    // Why: another client's image is as unknown as one never registered (no existence oracle).
    if (deps.namespaces != nullptr && !deps.namespaces->Contains(ns, id_or_bytes)) {
      if (absl::Status id = image::CheckImageId(id_or_bytes, "image_id"); !id.ok()) {
        return api::ToGrpcStatus(id);
      }
      return ImageNotFound(id_or_bytes);
    }
    absl::StatusOr<std::shared_ptr<const image::CachedImage>> found =
        deps.cache->Acquire(id_or_bytes, "image_id");
    if (found.status().code() == absl::StatusCode::kNotFound) return ImageNotFound(id_or_bytes);
    if (!found.ok()) return api::ToGrpcStatus(found.status());
    if ((*found)->kind != image::ImageKind::kElf) return TreeNotAProgram(id_or_bytes);
    *out = *std::move(found);
    return grpc::Status::OK;
  }
  image::ValidationReport rejected;
  absl::StatusOr<image::RegisterResult> registered =
      deps.cache->Register(id_or_bytes, "", &rejected);
  if (!registered.ok()) return RejectedImage(registered.status(), rejected);
  if (registered->image->kind != image::ImageKind::kElf) {
    return TreeNotAProgram(registered->image->id);
  }
  if (absl::StatusOr<bool> added = AddToNamespace(deps, ns, &registered->image, ""); !added.ok()) {
    return api::ToGrpcStatus(added.status());
  }
  // Counts the use (LRU position, executions) like an Execute by id.
  absl::StatusOr<std::shared_ptr<const image::CachedImage>> acquired =
      deps.cache->Acquire(registered->image->id);
  *out = acquired.ok() ? *std::move(acquired) : registered->image;
  return grpc::Status::OK;
}

grpc::Status RunAndReport(const ServiceDeps& deps, const std::string& ns,
                          const image::CachedImage& cached, const sandbox::Manifest& manifest,
                          const sandbox::RunOptions& options, absl::Duration queue_wait,
                          absl::Time start, const std::string& request_id, int64_t request_bytes,
                          int batch_index, v1::ExecuteResponse* response) {
  if (deps.warm_pool == nullptr) deps.metrics->ColdStart();
  if (deps.namespaces != nullptr) {
    deps.namespaces->ExecutionStarted(ns, cached.id, absl::ToUnixNanos(absl::Now()));
  }
  absl::StatusOr<sandbox::Result> result =
      deps.warm_pool != nullptr ? deps.warm_pool->Run(cached.image, manifest, options)
                                : deps.engine->Run(*cached.image, manifest, options);
  if (deps.namespaces != nullptr) deps.namespaces->ExecutionEnded(ns, cached.id);
  if (!result.ok()) return api::ToGrpcStatus(result.status());

  ExecutionTimings timings;
  timings.queue_wait = queue_wait;
  timings.startup = result->usage.startup;
  timings.run = result->usage.wall;
  *response = api::ResultToProto(*std::move(result), cached.id);
  response->mutable_usage()->set_queue_wait_ns(absl::ToInt64Nanoseconds(queue_wait));
  timings.total = absl::Now() - start;
  deps.metrics->ExecutionDone(*response, timings);
  if (deps.trimmer != nullptr) deps.trimmer->CallEnded(request_bytes + response->ByteSizeLong());
  // Metadata only: never outputs, argv, env or channel data.
  LogLine line(*deps.log, "info", "execute");
  line.Str("request_id", request_id);
  if (batch_index >= 0) line.Int("batch_index", batch_index);
  line.Str("image_id", cached.id)
      .Str("outcome", std::string(api::OutcomeProtoName(response->outcome())))
      .Int("exit_code", response->exit_code())
      .Int("signal", response->signal())
      .Str("violation", response->violation().syscall())
      .Double("queue_wait_ms", absl::ToDoubleMilliseconds(queue_wait))
      .Double("wall_ms", absl::ToDoubleMilliseconds(timings.run))
      .Double("total_ms", absl::ToDoubleMilliseconds(timings.total))
      .Int("peak_memory_bytes", response->usage().peak_memory_bytes())
      .Emit();
  return grpc::Status::OK;
}

}  // namespace zerocell::server
