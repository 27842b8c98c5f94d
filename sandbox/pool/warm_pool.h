// The warm pool: sandboxes pre-started and parked in the loader for the images in use.
#ifndef ZEROCELL_SANDBOX_POOL_WARM_POOL_H_
#define ZEROCELL_SANDBOX_POOL_WARM_POOL_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/parked_sandbox.h"
#include "sandbox/pool/demand.h"
#include "sandbox/result.h"

namespace zerocell::sandbox::pool {

struct WarmPoolOptions {
  SizingLimits sizing;
  int max_total = 64;  // parked (and being prestarted) for all images together
  absl::Duration prestart_timeout = absl::Seconds(5);
  // Maintenance period: liveness of parked sandboxes, idle retirement, resizing.
  absl::Duration tick = absl::Milliseconds(50);
};

// Optional callbacks (metrics), called from the pool's thread or a caller's, never under a lock.
struct WarmPoolObserver {
  std::function<void(bool warm)> on_run;  // each run, once it ended: a parked sandbox, or cold
  std::function<void(int64_t parked)> on_parked;      // parked for all images, after a change
  std::function<void(absl::Duration)> on_prestart;    // each sandbox parked by the pool
  std::function<void(const char* reason)> on_retire;  // "idle", "surplus", "cap", "died",
                                                      // "image_gone"
  std::function<void(const absl::Status&)> on_prestart_error;
};

struct WarmPoolStats {
  int64_t parked = 0;
  int64_t prestarting = 0;
  int64_t warm_runs = 0;
  int64_t cold_runs = 0;
  int64_t prestarted = 0;
  int64_t retired = 0;  // every reason, "died" included
  int64_t died = 0;     // found dead while parked (never handed out)
  int64_t prestart_errors = 0;
};

// Thread-safe. One thread of its own prestarts and retires; requests only claim. A parked
// sandbox is the pool thread's child and dies with it (its parent-death signal): destroy the
// pool only after every Run has returned. Destruction kills and reaps every parked sandbox.
class WarmPool {
 public:
  static absl::StatusOr<std::unique_ptr<WarmPool>> Create(const Engine* engine,
                                                          WarmPoolOptions options,
                                                          WarmPoolObserver observer = {});
  ~WarmPool();
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  // As Engine::Run, in a parked sandbox of `image` when one is ready (a warm start), else cold
  // on the calling thread; either way this image's demand is counted and its refill scheduled.
  // The pool keeps only a weak reference to `image`: once no one else holds it, its parked
  // sandboxes are retired.
  absl::StatusOr<Result> Run(const std::shared_ptr<const Image>& image, const Manifest& manifest,
                             const RunOptions& options = {});

  WarmPoolStats Stats() const;
  int Parked(const std::string& image_sha256) const;

 private:
  struct Entry {
    explicit Entry(std::weak_ptr<const Image> i, absl::Time now)
        : image(std::move(i)), demand(now) {}
    std::weak_ptr<const Image> image;
    std::deque<std::unique_ptr<ParkedSandbox>> parked;  // oldest first
    int prestarting = 0;
    int target = 0;
    absl::Time retry_after = absl::InfinitePast();  // after a failed prestart
    Demand demand;
  };
  using Retired = std::vector<std::pair<std::unique_ptr<ParkedSandbox>, const char*>>;

  WarmPool(const Engine* engine, WarmPoolOptions options, WarmPoolObserver observer);
  std::unique_ptr<ParkedSandbox> Claim(const std::shared_ptr<const Image>& image);
  void RunEnded(const std::string& sha);
  void Loop();
  // One maintenance pass: targets, surplus, the dead, the gone. Returns the image to prestart
  // next (and counts it as prestarting), or empty.
  std::shared_ptr<const Image> Plan(absl::Time now, Retired* retired)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Retire(Retired retired);
  int64_t TotalLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WakeOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stop_; }

  const Engine* engine_;
  const WarmPoolOptions options_;
  const WarmPoolObserver observer_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);  // by image SHA-256
  WarmPoolStats stats_ ABSL_GUARDED_BY(mu_);
  absl::Duration prestart_time_ ABSL_GUARDED_BY(mu_) = absl::Milliseconds(1);  // moving average
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace zerocell::sandbox::pool

#endif  // ZEROCELL_SANDBOX_POOL_WARM_POOL_H_
