// StreamInput: client-streamed channel input; see stream_input.h.
#include "server/stream_input.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace zerocell::server {

StreamInput::StreamInput(std::function<void(int64_t)> consumed)
    : consumed_(std::move(consumed)), ready_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void StreamInput::Signal() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(ready_.get(), &one, sizeof one);
}

void StreamInput::Append(std::string bytes) {
  if (bytes.empty()) return;
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  chunks_.push_back(std::move(bytes));
  Signal();
}

void StreamInput::End() {
  absl::MutexLock lock(&mu_);
  ended_ = true;
  Signal();
}

bool StreamInput::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

absl::StatusOr<sandbox::InputSource::Next> StreamInput::Pull(size_t max, std::string* out) {
  out->clear();
  if (!prefix_.empty()) {
    const size_t n = std::min(max, prefix_.size());
    out->assign(prefix_.data(), n);
    prefix_.remove_prefix(n);
    return Next::kData;
  }
  int64_t taken = 0;
  {
    absl::MutexLock lock(&mu_);
    if (chunks_.empty()) {
      if (ended_) return Next::kEnd;
      // Reset the eventfd under the lock: an Append after this check signals it again, so the
      // supervisor's poll never misses data.
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(ready_.get(), &count, sizeof count);
      return Next::kWouldBlock;
    }
    std::string& front = chunks_.front();
    const size_t n = std::min(max, front.size() - front_offset_);
    if (front_offset_ == 0 && n == front.size()) {
      out->swap(front);  // the whole chunk: no copy
    } else {
      out->assign(front, front_offset_, n);
    }
    front_offset_ += n;
    if (front_offset_ >= front.size()) {  // after a swap front is empty
      chunks_.pop_front();
      front_offset_ = 0;
    }
    taken = static_cast<int64_t>(n);
  }
  consumed_(taken);
  return Next::kData;
}

}  // namespace zerocell::server
