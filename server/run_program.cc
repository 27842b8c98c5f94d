// Acquiring a run's program and mounted trees: image by id or inline, or a path in the trees.
#include "server/run_program.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/rpc_status.h"
#include "image/image_id.h"
#include "server/execution.h"

namespace zerocell::server {
namespace {

grpc::Status AcquireTree(const ServiceDeps& deps, const std::string& ns, const std::string& field,
                         const std::string& id, std::shared_ptr<const image::CachedImage>* out) {
  if (absl::Status valid = image::CheckImageId(id, field); !valid.ok()) {
    return api::ToGrpcStatus(valid);
  }
  auto not_found = [&] {
    return api::ToGrpcStatus(absl::NotFoundError(
        absl::StrCat(field, ": ", id,
                     " is not cached on this server; register the tree (RegisterImage with "
                     "tree_tar) first")));
  };
  // Why: another client's tree is as unknown as one never registered (no existence oracle).
  if (deps.namespaces != nullptr && !deps.namespaces->Contains(ns, id)) return not_found();
  absl::StatusOr<std::shared_ptr<const image::CachedImage>> found = deps.cache->Acquire(id, field);
  if (found.status().code() == absl::StatusCode::kNotFound) return not_found();
  if (!found.ok()) return api::ToGrpcStatus(found.status());
  if ((*found)->kind != image::ImageKind::kTree) {
    return api::ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat(field, ": ", id, " is a program image, not a file tree")));
  }
  *out = *std::move(found);
  return grpc::Status::OK;
}

}  // namespace

void RunProgram::AddTo(sandbox::RunOptions* options) const {
  options->trees = tree_run.trees;
  options->executable = tree_run.executable;
}

grpc::Status AcquireProgram(const ServiceDeps& deps, const std::string& ns, ProgramSource source,
                            const std::string& id_or_bytes, const sandbox::Manifest& manifest,
                            RunProgram* out) {
  std::vector<image::MountedTree> mounted;
  for (size_t i = 0; i < manifest.mounts().size(); ++i) {
    const sandbox::MountSpec& mount = manifest.mounts()[i];
    std::shared_ptr<const image::CachedImage> tree;
    if (grpc::Status s = AcquireTree(deps, ns, absl::StrCat("manifest.mounts[", i, "].tree_id"),
                                     mount.tree, &tree);
        !s.ok()) {
      return s;
    }
    mounted.push_back({mount.mountpoint, tree->tree});
    out->trees.push_back(std::move(tree));
  }
  absl::StatusOr<image::TreeRun> run = image::PrepareTreeRun(
      mounted, source == ProgramSource::kTreePath ? std::string_view(manifest.program_path())
                                                  : std::string_view());
  if (!run.ok()) return api::ToGrpcStatus(run.status());
  out->tree_run = *std::move(run);
  if (source != ProgramSource::kTreePath) {
    return AcquireImage(deps, ns, source == ProgramSource::kImageId, id_or_bytes, &out->program);
  }
  auto program = std::make_shared<image::CachedImage>();
  program->id = out->trees[static_cast<size_t>(out->tree_run.program_mount)]->id;
  program->kind = image::ImageKind::kElf;
  program->image = out->tree_run.image;
  out->program = std::move(program);
  return grpc::Status::OK;
}

}  // namespace zerocell::server
