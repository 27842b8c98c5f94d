// Admission: a fixed set of long-lived worker threads behind a bounded queue with a wait deadline.
#ifndef ZEROCELL_SERVER_WORKER_POOL_H_
#define ZEROCELL_SERVER_WORKER_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace zerocell::server {

// A unit of work that Submit accepted. Exactly one of Run and Reject is called, once, on a pool
// thread or in Shutdown, unless Withdraw removed it first (then neither is).
class Job {
 public:
  virtual ~Job() = default;
  // On a worker thread; `queue_wait` is how long the job was queued.
  virtual void Run(absl::Duration queue_wait) = 0;
  // The job will never run: its queue wait deadline passed (RESOURCE_EXHAUSTED) or the pool shut
  // down (UNAVAILABLE). Must not block.
  virtual void Reject(absl::Status status) = 0;
};

struct PoolOptions {
  int workers = 2;                                   // concurrent runs
  int max_queue = 64;                                // jobs waiting beyond the running ones
  absl::Duration max_queue_wait = absl::Seconds(1);  // a job queued longer is rejected
  // Observes queue depth and running jobs after every change (metrics gauges). Optional; called
  // with the pool's lock held, in order: it must be quick and must not call the pool.
  std::function<void(int64_t queued, int64_t running)> on_change;
};

// Thread-safe. Workers are long-lived because a sandbox's parent-death signal is tied to the
// thread that spawned it: a worker outlives every run it starts.
class WorkerPool {
 public:
  explicit WorkerPool(PoolOptions options);
  // Shutdown() if not done yet.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` (FIFO). RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE after Shutdown;
  // the job is then neither run nor rejected.
  absl::Status Submit(std::shared_ptr<Job> job);

  // Removes a job that has not started (its caller went away). True when it was removed: it will
  // never run or be rejected. False when it already started or finished.
  bool Withdraw(const Job* job);

  // Rejects queued jobs with UNAVAILABLE, waits for running ones, joins the threads. Idempotent.
  void Shutdown();

  int workers() const { return options_.workers; }
  int64_t queued() const;
  int64_t running() const;

 private:
  struct Queued {
    std::shared_ptr<Job> job;
    absl::Time enqueued;
  };
  void WorkerLoop();
  void ExpiryLoop();
  void Notify();

  const PoolOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  int64_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_WORKER_POOL_H_
