// Reading a channel's input in bounded pieces; see channel_input.h.
#include "sandbox/supervisor/channel_input.h"

#include <algorithm>

#include "absl/status/status.h"

namespace zerocell::sandbox::supervisor {

ChannelInput::ChannelInput(InputSource* source, bool random, uint64_t quota)
    : source_(source),
      sized_(source->size().has_value()),
      random_(random),
      spool_limit_(std::min(quota, kMaxSpoolBytes)) {}

uint64_t ChannelInput::size() const {
  if (sized_) return *source_->size();
  return buffer_start_ + buffer_.size();
}

absl::StatusOr<ChannelInput::Avail> ChannelInput::At(uint64_t pos, uint64_t max,
                                                     std::string_view* out) {
  max = std::min(max, kInputChunk);
  if (sized_) {
    absl::StatusOr<std::string_view> bytes = source_->ReadAt(pos, max, &scratch_);
    if (!bytes.ok()) return bytes.status();
    if (bytes->empty()) return Avail::kEnd;
    *out = *bytes;
    return Avail::kData;
  }
  if (random_) {
    // The spool grows as far as reads reach, never past its limit.
    while (pos >= buffer_.size()) {
      if (ended_ || buffer_.size() >= spool_limit_) return Avail::kEnd;
      const uint64_t want = std::min(kInputChunk, spool_limit_ - buffer_.size());
      absl::StatusOr<InputSource::Next> next = source_->Pull(want, &pulled_);
      if (!next.ok()) return next.status();
      if (*next == InputSource::Next::kWouldBlock) return Avail::kWait;
      if (*next == InputSource::Next::kEnd) ended_ = true;
      buffer_.append(pulled_);
    }
    *out = std::string_view(buffer_).substr(pos, max);
    return Avail::kData;
  }
  if (pos < buffer_start_) {
    return absl::InternalError("a sequential channel read before its position");
  }
  if (pos >= buffer_start_ + buffer_.size()) {
    // The chunk is used up: only then is the next one pulled, so one chunk is all it holds.
    if (ended_) return Avail::kEnd;
    absl::StatusOr<InputSource::Next> next = source_->Pull(kInputChunk, &pulled_);
    if (!next.ok()) return next.status();
    if (*next == InputSource::Next::kWouldBlock) return Avail::kWait;
    if (*next == InputSource::Next::kEnd) {
      ended_ = true;
      return Avail::kEnd;
    }
    buffer_start_ += buffer_.size();
    buffer_.swap(pulled_);
  }
  *out = std::string_view(buffer_).substr(pos - buffer_start_, max);
  return Avail::kData;
}

}  // namespace zerocell::sandbox::supervisor
