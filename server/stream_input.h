// A readable channel's input arriving over a client stream: a thread-safe queue of chunks that
// the supervisor pulls without blocking, with an eventfd it polls while the queue is empty.
#ifndef ZEROCELL_SERVER_STREAM_INPUT_H_
#define ZEROCELL_SERVER_STREAM_INPUT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sandbox/input_source.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::server {

class StreamInput final : public sandbox::InputSource {
 public:
  // `consumed(n)`: n queued bytes were handed to the guest (called on the supervisor's thread,
  // without this source's lock held), for the stream's window.
  explicit StreamInput(std::function<void(int64_t)> consumed);
  // True when the eventfd could be made.
  bool ok() const { return ready_.valid(); }

  // Bytes served before any chunk (a manifest's initial_data); must outlive the source. Set before
  // the run starts.
  void set_prefix(std::string_view prefix) { prefix_ = prefix; }

  // Producer side (the gRPC reactor). Append after End is ignored (the caller refuses it).
  void Append(std::string bytes);
  void End();
  bool ended() const;

  std::optional<uint64_t> size() const override { return std::nullopt; }
  int ready_fd() const override { return ready_.get(); }
  absl::StatusOr<Next> Pull(size_t max, std::string* out) override;

 private:
  void Signal();

  const std::function<void(int64_t)> consumed_;
  sandbox::sys::UniqueFd ready_;  // eventfd: readable while Pull has something to say
  std::string_view prefix_;       // supervisor thread only
  mutable absl::Mutex mu_;
  std::deque<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  size_t front_offset_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_STREAM_INPUT_H_
