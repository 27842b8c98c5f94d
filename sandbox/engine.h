// The engine: runs one image under one manifest in a fresh sandbox process and returns a Result.
#ifndef ZEROCELL_SANDBOX_ENGINE_H_
#define ZEROCELL_SANDBOX_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sandbox/fs/executable_files.h"
#include "sandbox/fs/file_tree.h"
#include "sandbox/host/host_capabilities.h"
#include "sandbox/image.h"
#include "sandbox/input_source.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/output_observer.h"
#include "sandbox/parked_sandbox.h"
#include "sandbox/result.h"

namespace zerocell::sandbox {

class CompiledPolicy;
namespace fs {
class GuestFs;
}
namespace launch {
struct GoPlan;
}

struct EngineOptions {
  // Path of zerocell-loader. Empty: "zerocell-loader" beside the running executable.
  std::string loader_path;
  // What this host enforces. Null: Create probes the host (host::ProbeHost, a few ms). Tests
  // inject findings here; a process with several engines may share one probe.
  std::shared_ptr<const host::HostCapabilities> host = nullptr;
};

// Cancels a run from another thread; the sandbox is killed at once. Thread-safe.
class CancelToken {
 public:
  CancelToken();
  ~CancelToken();
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;
  void Cancel();
  int fd() const { return fd_; }  // eventfd, readable once cancelled
  // OK, or why the token has no eventfd (e.g. RESOURCE_EXHAUSTED when out of descriptors). A
  // token that could not be cancelled must not look like one that was not: the engine refuses a
  // run or prestart given such a token with this status, before anything is spawned.
  const absl::Status& status() const { return status_; }

 private:
  int fd_;
  absl::Status status_;
};

struct RunOptions {
  const CancelToken* cancel = nullptr;
  OutputObserver* observer = nullptr;
  // Per channel (manifest order), where a readable one reads from instead of its initial_bytes
  // (a null entry: the initial_bytes); empty: every channel reads its initial_bytes. Sources are
  // read only as the guest reads, within its quotas; they must outlive the run. A channel both
  // readable and writable needs a sized source (bytes or a regular file): INVALID_ARGUMENT.
  std::vector<InputSource*> inputs = {};
  // One tree per Manifest::mounts() entry, in its order: what the entry's `tree` names, resolved
  // by the caller (a tree image's FileTree). INVALID_ARGUMENT naming the field when the count
  // differs or a mountpoint is no directory in the trees mounted before it.
  std::vector<std::shared_ptr<const fs::FileTree>> trees = {};
  // Per mount (same order; empty: none), the tree's admitted code pages: what a dynamically
  // linked guest's ld.so may map executable. Null or absent: nothing of that tree.
  std::vector<std::shared_ptr<const fs::ExecutableFiles>> executable = {};
};

// A request checked against its image, with what releases a sandbox into it (its stack and
// limits) built once. Made by Engine::Prepare; refers to the image and manifest, which must
// outlive it.
class PreparedRun {
 public:
  PreparedRun(PreparedRun&&) noexcept;
  ~PreparedRun();
  const Image& image() const { return *image_; }
  const Manifest& manifest() const { return *manifest_; }

 private:
  friend class Engine;
  PreparedRun(const Image& image, const Manifest& manifest, std::unique_ptr<launch::GoPlan> plan);
  const Image* image_;
  const Manifest* manifest_;
  std::unique_ptr<launch::GoPlan> plan_;
};

// Thread-safe: one Engine serves concurrent calls, each on its caller's thread. A sandbox dies
// with the thread that spawned it (its parent-death reference): the thread calling Run or
// Prestart must outlive the sandbox.
//
// A run is always prestart (spawn the loader, map the image, install the filter, park) then
// release (write the request's stack, set its limits, answer the park read) then supervise.
// Run does both at once (a cold start); a pool prestarts ahead and calls RunParked (a warm
// start). The guest cannot tell them apart.
class Engine {
 public:
  // FAILED_PRECONDITION when the loader is missing or the host cannot run sandboxes (the message
  // names what is missing, from the host probe).
  static absl::StatusOr<std::unique_ptr<Engine>> Create(EngineOptions options = {});
  ~Engine();

  // What the host probe found; every run's decisions and nondeterminism report follow from it.
  const host::HostCapabilities& host() const { return *host_; }
  const std::shared_ptr<const host::HostCapabilities>& shared_host() const { return host_; }

  // Runs to completion. A guest's outcome (exit, signal, limits, violation) is an OK Result;
  // a non-OK status means the run could not happen (bad manifest for this image, loader missing,
  // host out of resources) or was cancelled (CANCELLED) — in every case no process is left.
  absl::StatusOr<Result> Run(const Image& image, const Manifest& manifest,
                             const CancelToken* cancel = nullptr) const {
    return Run(image, manifest, RunOptions{cancel, nullptr});
  }
  absl::StatusOr<Result> Run(const Image& image, const Manifest& manifest,
                             const RunOptions& options) const;

  // Checks a request against its image before anything runs: INVALID_ARGUMENT when the image
  // and stack exceed the memory limit or argv/env do not fit the stack, FAILED_PRECONDITION when
  // a backstop limit is above this process's hard limit. Run and RunParked of (image, manifest)
  // do this themselves; a pool prepares once, then claims a sandbox only for a request that can
  // run.
  absl::StatusOr<PreparedRun> Prepare(const Image& image, const Manifest& manifest) const;
  absl::StatusOr<Result> Run(const PreparedRun& run, const RunOptions& options) const;

  // Spawns a loader for `image` and waits until it is parked. DEADLINE_EXCEEDED past `deadline`,
  // CANCELLED when `cancel` fires, INTERNAL naming the loader step that failed.
  absl::StatusOr<std::unique_ptr<ParkedSandbox>> Prestart(
      const Image& image, absl::Time deadline, const CancelToken* cancel = nullptr) const;

  // Releases a parked sandbox of `image` into `manifest` and runs it, as Run. ABORTED (and the
  // guest never ran) when the sandbox died while parked: the caller may run cold instead.
  // FAILED_PRECONDITION when it was parked for another image.
  absl::StatusOr<Result> RunParked(std::unique_ptr<ParkedSandbox> sandbox, const Image& image,
                                   const Manifest& manifest, const RunOptions& options) const;
  absl::StatusOr<Result> RunParked(std::unique_ptr<ParkedSandbox> sandbox, const PreparedRun& run,
                                   const RunOptions& options) const;

 private:
  Engine(std::string loader_path, std::unique_ptr<CompiledPolicy> policy,
         std::shared_ptr<const host::HostCapabilities> host);
  absl::StatusOr<Result> Release(ParkedSandbox& sandbox, const PreparedRun& run,
                                 const RunOptions& options, std::shared_ptr<const fs::GuestFs> fs,
                                 absl::Time start) const;
  std::string loader_path_;
  std::unique_ptr<CompiledPolicy> policy_;
  std::shared_ptr<const host::HostCapabilities> host_;
  // vDSO/vvar ranges reported by the first loader; later loaders unmap them without scanning
  // /proc/self/maps (they verify the placement first).
  mutable absl::Mutex special_mu_;
  mutable launch::SpecialRanges special_ ABSL_GUARDED_BY(special_mu_) = {};
};

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_ENGINE_H_
