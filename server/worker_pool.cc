// Admission: a fixed set of long-lived worker threads behind a bounded queue with a wait deadline.
#include "server/worker_pool.h"

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace zerocell::server {

WorkerPool::WorkerPool(PoolOptions options) : options_(std::move(options)) {
  threads_.reserve(options_.workers + 1);
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  threads_.emplace_back([this] { ExpiryLoop(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

absl::Status WorkerPool::Submit(std::shared_ptr<Job> job) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("server is shutting down");
    // Free workers take jobs at once, so the queue only holds what no worker can start now.
    const int64_t idle = options_.workers - running_;
    if (static_cast<int64_t>(queue_.size()) - idle >= options_.max_queue) {
      return absl::ResourceExhaustedError(absl::StrCat("queue full: ", options_.workers,
                                                       " runs in progress and ", options_.max_queue,
                                                       " waiting (--max_queue)"));
    }
    queue_.push_back(Queued{std::move(job), absl::Now()});
  }
  Notify();
  return absl::OkStatus();
}

bool WorkerPool::Withdraw(const Job* job) {
  bool removed = false;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->job.get() == job) {
        queue_.erase(it);
        removed = true;
        break;
      }
    }
  }
  if (removed) Notify();
  return removed;
}

void WorkerPool::WorkerLoop() {
  pthread_setname_np(pthread_self(), "zc-worker");
  for (;;) {
    Queued next;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left to run
      next = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    Notify();
    next.job->Run(absl::Now() - next.enqueued);
    next.job.reset();
    {
      absl::MutexLock lock(&mu_);
      --running_;
    }
    Notify();
  }
}

// Rejects jobs whose queue wait deadline passed while every worker was busy (with a worker idle,
// the head is about to start: refusing it would be wrong). The queue is FIFO, so only its head
// can be the oldest; the loop sleeps until the head's deadline or a change.
void WorkerPool::ExpiryLoop() {
  pthread_setname_np(pthread_self(), "zc-expiry");
  for (;;) {
    std::vector<std::shared_ptr<Job>> expired;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      const absl::Time now = absl::Now();
      while (!queue_.empty() && running_ >= options_.workers &&
             queue_.front().enqueued + options_.max_queue_wait <= now) {
        expired.push_back(std::move(queue_.front().job));
        queue_.pop_front();
      }
      if (expired.empty()) {
        // Sleeps until the head's deadline, or until there may be something new to expire: a
        // different head, or every worker busy where some were not. Why so narrow: this thread
        // must not wake on every submit and every finished run (two context switches a call).
        const bool all_busy = running_ >= options_.workers;
        const absl::Time wake = queue_.empty() || !all_busy
                                    ? absl::InfiniteFuture()
                                    : queue_.front().enqueued + options_.max_queue_wait;
        struct Snapshot {
          WorkerPool* pool;
          absl::Time head;
          bool all_busy;
        } snap{this, queue_.empty() ? absl::InfinitePast() : queue_.front().enqueued, all_busy};
        mu_.AwaitWithDeadline(absl::Condition(
                                  +[](Snapshot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    WorkerPool* p = s->pool;
                                    if (p->stopping_) return true;
                                    if (p->queue_.empty() || p->running_ < p->options_.workers) {
                                      return false;  // nothing can expire now
                                    }
                                    return !s->all_busy || p->queue_.front().enqueued != s->head;
                                  },
                                  &snap),
                              wake);
        continue;
      }
    }
    Notify();
    for (std::shared_ptr<Job>& job : expired) {
      job->Reject(absl::ResourceExhaustedError(
          absl::StrCat("waited ", absl::FormatDuration(options_.max_queue_wait),
                       " in the queue without a free worker (--max_queue_wait_ms)")));
    }
  }
}

void WorkerPool::Shutdown() {
  std::deque<Queued> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  for (Queued& q : dropped) q.job->Reject(absl::UnavailableError("server is shutting down"));
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  Notify();
}

int64_t WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

int64_t WorkerPool::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void WorkerPool::Notify() {
  if (!options_.on_change) return;
  // Read and report under the lock: reported outside it, two threads' snapshots could land in
  // the wrong order and leave a stale gauge. on_change only sets gauges, so holding mu_ is cheap.
  absl::MutexLock lock(&mu_);
  options_.on_change(static_cast<int64_t>(queue_.size()), running_);
}

}  // namespace zerocell::server
