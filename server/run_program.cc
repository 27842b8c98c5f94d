// Acquiring a run's program and mounted trees: image by id or inline, or a path in the trees.
#include "server/run_program.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/rpc_status.h"
#include "image/image_id.h"
#include "server/execution.h"
#include "server/image_namespaces.h"

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

RunProgram::~RunProgram() {
  if (namespaces_ == nullptr) return;
  for (const auto& tree : trees) namespaces_->ExecutionEnded(ns_, tree->id);
}

void RunProgram::AddTo(sandbox::RunOptions* options) const {
  options->trees = tree_run.trees;
  if (program_from_trees_) options->executable = tree_run.executable;
}

grpc::Status AcquireTrees(const ServiceDeps& deps, const std::string& ns,
                          const sandbox::Manifest& manifest, bool program_from_trees,
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
  // Why: a tree a run mounts is in use; the namespace's bound must not evict it as idle.
  if (deps.namespaces != nullptr) {
    out->namespaces_ = deps.namespaces;
    out->ns_ = ns;
    const int64_t now = absl::ToUnixNanos(absl::Now());
    for (const auto& tree : out->trees) deps.namespaces->ExecutionStarted(ns, tree->id, now);
  }
  out->program_from_trees_ = program_from_trees;
  absl::StatusOr<image::TreeRun> run = image::PrepareTreeRun(
      mounted, program_from_trees ? std::string_view(manifest.program_path()) : std::string_view());
  if (!run.ok()) return api::ToGrpcStatus(run.status());
  out->tree_run = *std::move(run);
  if (!program_from_trees) return grpc::Status::OK;
  auto program = std::make_shared<image::CachedImage>();
  program->id = out->trees[static_cast<size_t>(out->tree_run.program_mount)]->id;
  program->kind = image::ImageKind::kElf;
  program->image = out->tree_run.image;
  out->program = std::move(program);
  return grpc::Status::OK;
}

grpc::Status AcquireProgram(const ServiceDeps& deps, const std::string& ns, ProgramSource source,
                            const std::string& id_or_bytes, const sandbox::Manifest& manifest,
                            RunProgram* out) {
  const bool from_trees = source == ProgramSource::kTreePath;
  if (grpc::Status s = AcquireTrees(deps, ns, manifest, from_trees, out); !s.ok()) return s;
  if (from_trees) return grpc::Status::OK;
  return AcquireImage(deps, ns, source == ProgramSource::kImageId, id_or_bytes, &out->program);
}

}  // namespace zerocell::server
