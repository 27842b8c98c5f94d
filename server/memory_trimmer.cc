// MemoryTrimmer's thread; see memory_trimmer.h.
#include "server/memory_trimmer.h"

#include <malloc.h>
#include <pthread.h>

namespace zerocell::server {

MemoryTrimmer::MemoryTrimmer(uint64_t large_call_bytes, absl::Duration period)
    : large_call_bytes_(large_call_bytes), period_(period), thread_([this] { Loop(); }) {}

MemoryTrimmer::~MemoryTrimmer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void MemoryTrimmer::Loop() {
  pthread_setname_np(pthread_self(), "zc-trim");
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), period_)) {
    int due = pending_.load(std::memory_order_relaxed);
    if (due <= 0 || !pending_.compare_exchange_strong(due, due - 1)) continue;
    mu_.Unlock();
    malloc_trim(0);
    trims_.fetch_add(1);
    mu_.Lock();
  }
}

}  // namespace zerocell::server
