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

// What a run needs from the cache, held for the run's duration (nothing it uses is evicted),
// with every mounted tree counted as executing in the caller's namespace meanwhile.
class RunProgram {
 public:
  RunProgram() = default;
  RunProgram(const RunProgram&) = delete;
  RunProgram& operator=(const RunProgram&) = delete;
  ~RunProgram();

  // What RunAndReport runs. For a program from a tree: its image, under the id of the tree that
  // holds it (metrics, logs and ExecuteResponse.image_id name that tree).
  std::shared_ptr<const image::CachedImage> program;
  std::vector<std::shared_ptr<const image::CachedImage>> trees;  // Manifest::mounts() order
  image::TreeRun tree_run;

  // Adds the mounted trees to `options`, and their admitted code when the program comes from
  // them. Why not for a program given as an image: its admission report is the run's instruction
  // use (nondeterminism, CPUID faulting); code of data trees would fall outside it.
  void AddTo(sandbox::RunOptions* options) const;

 private:
  friend grpc::Status AcquireTrees(const ServiceDeps&, const std::string&, const sandbox::Manifest&,
                                   bool, RunProgram*);
  ImageNamespaces* namespaces_ = nullptr;
  std::string ns_;
  bool program_from_trees_ = false;
};

// The trees part of AcquireProgram: acquires what `manifest` mounts and, when
// `program_from_trees`, resolves Manifest::program_path in them into out->program.
grpc::Status AcquireTrees(const ServiceDeps& deps, const std::string& ns,
                          const sandbox::Manifest& manifest, bool program_from_trees,
                          RunProgram* out);

// Acquires every tree `manifest` mounts (each id in the caller's namespace, a tree image:
// NOT_FOUND / INVALID_ARGUMENT naming "manifest.mounts[i].tree_id") and the program: the
// request's image (AcquireImage) or Manifest::program_path resolved in the trees
// (image::PrepareTreeRun; INVALID_ARGUMENT naming "manifest.program_path"). Runs on a worker.
grpc::Status AcquireProgram(const ServiceDeps& deps, const std::string& ns, ProgramSource source,
                            const std::string& id_or_bytes, const sandbox::Manifest& manifest,
                            RunProgram* out);

// AcquireProgram for a request whose `program` oneof is image_id / image (ExecuteRequest,
// StreamStart): neither set means Manifest::program_path.
template <typename Request>
grpc::Status AcquireProgramOf(const ServiceDeps& deps, const std::string& ns,
                              const Request& request, const sandbox::Manifest& manifest,
                              RunProgram* out) {
  const ProgramSource source = request.program_case() == Request::kImageId ? ProgramSource::kImageId
                               : request.program_case() == Request::kImage
                                   ? ProgramSource::kInline
                                   : ProgramSource::kTreePath;
  return AcquireProgram(deps, ns, source,
                        source == ProgramSource::kImageId ? request.image_id() : request.image(),
                        manifest, out);
}

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_RUN_PROGRAM_H_
