// A byte budget for the memory that requests in flight hold (issue 14, finding 3): a call is
// charged what it holds (its request) and may come to hold (its response) before it is queued,
// and refused at once when the budget cannot take it.
#ifndef ZEROCELL_SERVER_REQUEST_BUDGET_H_
#define ZEROCELL_SERVER_REQUEST_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace zerocell::server {

// Thread-safe. Charges never exceed the limit: a charge that would is refused, never partly given.
class RequestBudget {
 public:
  // Gives its bytes back when destroyed.
  class Charge {
   public:
    ~Charge();
    Charge(const Charge&) = delete;
    Charge& operator=(const Charge&) = delete;
    int64_t bytes() const { return bytes_; }

   private:
    friend class RequestBudget;
    Charge(RequestBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    RequestBudget* const budget_;
    const int64_t bytes_;
  };

  // `limit_bytes` > 0.
  explicit RequestBudget(int64_t limit_bytes) : limit_(limit_bytes) {}

  // A charge of `bytes`; RESOURCE_EXHAUSTED naming the limit and `flag` when the calls in flight
  // already hold too much for it (a retry later or elsewhere can succeed). A charge above the
  // whole limit is refused the same way, though it can never succeed: the start-up check makes
  // the limit hold the largest valid request, so only a request over a cap could ask for it.
  absl::StatusOr<std::shared_ptr<Charge>> TryCharge(int64_t bytes, absl::string_view flag);

  int64_t limit() const { return limit_; }
  int64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  void Release(int64_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_acq_rel); }
  const int64_t limit_;
  std::atomic<int64_t> in_use_{0};
};

// How --max_request_memory_bytes is shared: gRPC's resource quota bounds the bytes its transport
// holds for messages still arriving (a quarter, but at least one largest request, which must be
// receivable); the RequestBudget gets the rest, for calls from receipt to their answer. Both
// together stay within the total, so that it bounds the server's memory for requests.
struct RequestMemorySplit {
  int64_t transport_bytes = 0;
  int64_t call_bytes = 0;
};
RequestMemorySplit SplitRequestMemory(int64_t total_bytes, int64_t largest_request_bytes);

// The memory this process may use: the smallest of MemTotal and the memory.max of its cgroup
// (v2) and of every ancestor cgroup; 0 when none of them can be read.
int64_t MemoryAvailableToProcess();

// The default of --max_request_memory_bytes: a quarter of MemoryAvailableToProcess(), but at
// least `minimum` (what the largest single call needs), and `minimum` when memory is unknown.
int64_t DefaultRequestMemoryBytes(int64_t minimum);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_REQUEST_BUDGET_H_
