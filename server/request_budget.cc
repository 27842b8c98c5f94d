// A byte budget for the memory that requests in flight hold.
#include "server/request_budget.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace zerocell::server {

RequestBudget::Charge::~Charge() { budget_->Release(bytes_); }

absl::StatusOr<std::shared_ptr<RequestBudget::Charge>> RequestBudget::TryCharge(
    int64_t bytes, absl::string_view flag) {
  int64_t used = in_use_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ - used) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "this call needs %d bytes of the server's memory for requests in flight, and %d of "
          "its %d (--%s) are in use; retry later or on another server",
          bytes, used, limit_, std::string(flag)));
    }
  } while (!in_use_.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel));
  return std::shared_ptr<Charge>(new Charge(this, bytes));
}

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

int64_t MemoryAvailableToProcess() {
  int64_t best = std::numeric_limits<int64_t>::max();
  for (absl::string_view line : absl::StrSplit(Slurp("/proc/meminfo"), '\n')) {
    if (!absl::ConsumePrefix(&line, "MemTotal:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib) && kib > 0) best = kib * 1024;
  }
  // cgroup v2: "0::/path"; a limit anywhere up the tree bounds this process.
  for (absl::string_view line : absl::StrSplit(Slurp("/proc/self/cgroup"), '\n')) {
    if (!absl::ConsumePrefix(&line, "0::")) continue;
    std::string path(absl::StripSuffix(line, "/"));
    while (true) {
      const std::string value(
          absl::StripAsciiWhitespace(Slurp(absl::StrCat("/sys/fs/cgroup", path, "/memory.max"))));
      int64_t limit = 0;
      if (absl::SimpleAtoi(value, &limit) && limit > 0) best = std::min(best, limit);
      const size_t slash = path.rfind('/');
      if (path.empty() || slash == std::string::npos) break;
      path.resize(slash);
    }
  }
  return best == std::numeric_limits<int64_t>::max() ? 0 : best;
}

RequestMemorySplit SplitRequestMemory(int64_t total_bytes, int64_t largest_request_bytes) {
  RequestMemorySplit split;
  split.transport_bytes = std::min(total_bytes, std::max(total_bytes / 4, largest_request_bytes));
  split.call_bytes = total_bytes - split.transport_bytes;
  return split;
}

int64_t DefaultRequestMemoryBytes(int64_t minimum) {
  const int64_t available = MemoryAvailableToProcess();
  return std::max(minimum, available / 4);
}

}  // namespace zerocell::server
