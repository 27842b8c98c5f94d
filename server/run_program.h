// The program a run executes and the file trees it mounts, acquired from the image cache.
#ifndef ZEROCELL_SERVER_RUN_PROGRAM_H_
#define ZEROCELL_SERVER_RUN_PROGRAM_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "image/image_cache.h"
#include "image/tree_program.h"
#include "sandbox/engine.h"
#include "sandbox/manifest/manifest.h"
#include "server/sandbox_service.h"

namespace zerocell::server {

// How a request names its program.
enum class ProgramSource {
  kTreePath,  // neither image_id nor image: Manifest::program_path in the mounted trees
  kImageId,
  kInline,
};

// What a run needs from the cache, held for the run's duration (nothing it uses is evicted).
struct RunProgram {
  // What RunAndReport runs. For a program from a tree: its image, under the id of the tree that
  // holds it (metrics, logs and ExecuteResponse.image_id name that tree).
  std::shared_ptr<const image::CachedImage> program;
  std::vector<std::shared_ptr<const image::CachedImage>> trees;  // Manifest::mounts() order
  image::TreeRun tree_run;

  // Adds the mounted trees and their admitted code to `options`.
  void AddTo(sandbox::RunOptions* options) const;
};

// Acquires every tree `manifest` mounts (each id in the caller's namespace, a tree image:
// NOT_FOUND / INVALID_ARGUMENT naming "manifest.mounts[i].tree_id") and the program: the
// request's image (AcquireImage) or Manifest::program_path resolved in the trees
// (image::PrepareTreeRun; INVALID_ARGUMENT naming "manifest.program_path"). Runs on a worker.
grpc::Status AcquireProgram(const ServiceDeps& deps, const std::string& ns, ProgramSource source,
                            const std::string& id_or_bytes, const sandbox::Manifest& manifest,
                            RunProgram* out);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_RUN_PROGRAM_H_
